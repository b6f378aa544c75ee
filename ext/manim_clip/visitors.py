"""How each builder shows a clip, and the film (shown like a clip).

HTML (html, dirhtml, singlehtml): a <figure> with a <video>; the files are copied into
``_clips/`` as the page is written, with captions, a transcript and, unless
``manim_clip_embed`` is False, an Embed box. EPUB: the poster image (readers rarely play
video, and EPUB has no place for MP4 in its manifest) and the transcript. LaTeX: the
poster as a figure, the transcript beneath.
Every other builder (text, man, texinfo, ...): the paragraph ``[animation: caption]``
(``[film: caption]``) and the transcript (the film's chapters). A clip that failed to
render, or a film that could not be made, shows a visible placeholder with its caption.
"""

from __future__ import annotations

import posixpath
import re
from html import escape
from pathlib import Path
from urllib.parse import quote

from docutils import nodes
from sphinx.locale import _

from .. import _core, producers, published
from . import vtt
from .directive import clip_title, manim_clip, manim_film
from .film import made_film
from .render import CLIPS, Entry

CLIPS_DIR = "_clips"


def _result(env, node: manim_clip) -> Entry | None:
    """The node's clip (or film), if it rendered."""
    made = (
        made_film(env)
        if isinstance(node, manim_film)
        else producers.made_of(env, CLIPS, node["uid"])
    )
    return made.value if made and made.ok else None


def _caption(node: manim_clip) -> nodes.caption | None:
    return next((child for child in node.children if isinstance(child, nodes.caption)), None)


def _alt(node: manim_clip) -> str:
    return node["alt"] or clip_title(node)


# --- HTML -------------------------------------------------------------------------------


def visit_html(self, node: manim_clip) -> None:
    result = _result(self.builder.env, node)
    epub = self.builder.name.startswith("epub")
    classes = "" if result else "manim-clip-failed"
    self.body.append(self.starttag(node, "figure", "", CLASS=classes))
    video = None
    if result is None:
        _html_placeholder(self, node)
    elif epub:
        _html_poster(self, node, result)
    else:
        video = _html_video(self, node, result)
    caption = _caption(node)
    downloads = result is not None and not epub
    if caption or downloads:
        self.body.append("<figcaption>")
    if caption:
        self.add_fignumber(node)
        self.body.append('<span class="caption-text">')
        for child in caption.children:
            child.walkabout(self)
        self.body.append("</span>")
        film = isinstance(node, manim_film)
        self.add_permalink_ref(node, _("Link to this film") if film else _("Link to this clip"))
    if downloads:
        _html_downloads(self, node, result)
    if caption or downloads:
        self.body.append("</figcaption>")
    if result is not None:
        _html_transcript(self, result, video)
        if not epub and self.config.manim_clip_embed:
            _html_embed(self, node, result)
    self.body.append("</figure>\n")
    raise nodes.SkipNode


def alias_of(node: manim_clip) -> str | None:
    """The stable file name of a clip's files: its :name:, made safe for a URL."""
    names = node.get("names") or []
    return stable_name(names[0]) if names else None


def stable_name(name: str) -> str | None:
    """A :name: as the stable file name of its clip's files (None: nothing of it is safe)."""
    normal = nodes.fully_normalize_name(name)  # as docutils keeps it in the node's names
    return re.sub(r"[^A-Za-z0-9._-]+", "-", normal).strip(".-") or None


def stable_poster(name: str) -> str | None:
    """Where, from the site root, the poster of the clip named ``name`` is published
    under its stable name (the worker writes posters as WebP)."""
    alias = stable_name(name)
    return f"{CLIPS_DIR}/{alias}.webp" if alias else None


def first_poster(env, doctree: nodes.Node) -> tuple[str, str] | None:
    """(URL from the site root, alt text) of the poster of the page's first clip or film
    that rendered: what its <video> shows before it plays."""
    for node in doctree.findall(lambda n: isinstance(n, (manim_clip, manim_film))):
        result = _result(env, node)
        poster = result.path("poster") if result else None
        if poster is not None:
            return f"{CLIPS_DIR}/{poster.name}", _alt(node)
    return None


def _publish(self, result: Entry, kind: str, folder: str, alias: str | None = None) -> str | None:
    """Copy one of the clip's files into the output; its URL from the current page.

    With an alias, a copy named after it too (``_clips/<name>.mp4``): a stable URL for
    READMEs, next to the content-hashed one the book uses (which caches forever)."""
    source = result.path(kind)
    if source is None:
        return None
    names = [source.name] + ([f"{alias}{source.suffix}"] if alias else [])
    for name in names:
        published.copy(self.builder, source, folder, name)
    # imgpath is "<relative way up>/_images" for the page being written
    return posixpath.join(posixpath.dirname(self.builder.imgpath), folder, source.name)


def _html_video(self, node: manim_clip, result: Entry) -> str:
    """The <video>; returns its MP4's URL."""
    alias = alias_of(node)
    mp4 = _publish(self, result, "mp4", CLIPS_DIR, alias)
    webm = _publish(self, result, "webm", CLIPS_DIR, alias)
    poster = _publish(self, result, "poster", CLIPS_DIR, alias)
    alt = escape(_alt(node))
    attributes = [
        'class="manim-clip-video"',
        f'width="{result.meta["width"]}" height="{result.meta["height"]}"',
        f'poster="{poster}"',
        # none: nothing loads with the page; manim_clip.js asks for the metadata (the
        # length the player shows) as the clip comes into view
        'controls playsinline preload="none"',
        f'aria-label="{alt}"',
    ]
    if node["autoplay"]:
        # No autoplay attribute: manim_clip.js plays it while visible, never under
        # prefers-reduced-motion.
        attributes.append("muted loop data-manim-autoplay")
    self.body.append(f"<video {' '.join(attributes)}>")
    if webm:
        self.body.append(f'<source src="{webm}" type="video/webm">')
    self.body.append(f'<source src="{mp4}" type="video/mp4">')
    language = escape(self.config.language or "en")
    for kind, label, default in (
        ("captions", _("Captions"), " default"),
        ("chapters", _("Chapters"), ""),
    ):
        if _publish(self, result, kind, CLIPS_DIR, alias):  # the file, for reuse
            # In the page as a data: URL: Chromium loads no track file from file://
            text = result.path(kind).read_text(encoding="utf-8")
            track = "data:text/vtt;charset=utf-8," + quote(text)
            self.body.append(
                f'<track kind="{kind}" src="{track}" srclang="{language}" '
                f'label="{escape(label)}"{default}>'
            )
    film = isinstance(node, manim_film)
    download = _("Download the film (MP4)") if film else _("Download the clip (MP4)")
    self.body.append(f'<p>{alt} <a href="{mp4}">{download}</a></p></video>\n')
    return mp4


def timed_transcript(result: Entry) -> tuple[str, list[tuple[float, str]]]:
    """Its heading and (seconds, text) for each caption beat of a clip, or each chapter
    of the film."""
    timed = result.meta.get("beats") or result.meta.get("chapters") or []
    heading = _("Chapters") if "chapters" in result.meta else _("Transcript")
    return heading, [(float(at), text) for at, text in timed]


def transcript(result: Entry) -> tuple[str, list[tuple[str, str]]]:
    """Its heading and (m:ss, text) for each line of timed_transcript."""
    heading, timed = timed_transcript(result)
    return heading, [(vtt.clock(at), text) for at, text in timed]


def run_on(lines: list[tuple[str, str]]) -> str:
    """A transcript's lines as one paragraph, for print and plain text."""
    return " ".join(f"({at}) {' '.join(text.split())}" for at, text in lines)


def _html_transcript(self, result: Entry, video: str | None) -> None:
    """The beats as text: collapsed under a video, open beside an EPUB's poster (no
    ``video``). Under a video each time is a link to that moment of it: manim_clip.js
    plays the clip on the page from there; without the script the link opens the video
    file at that time (a media fragment, ``#t=``)."""
    heading, lines = timed_transcript(result)
    if not lines:
        return
    items = ""
    for at, text in lines:  # a caption of two lines keeps them
        shown = "<br>".join(escape(line) for line in text.splitlines())
        clock = vtt.clock(at)
        if video:
            clock = (
                f'<a href="{video}#t={at:g}" data-seek="{at:g}" '
                f'aria-label="{escape(_("Play from") + " " + clock)}">{clock}</a>'
            )
        items += f'<li><span class="manim-clip-time">{clock}</span> {shown}</li>'
    if not video:
        self.body.append(
            f'<div class="manim-clip-transcript"><p>{heading}</p><ol>{items}</ol></div>'
        )
    else:
        self.body.append(
            f'<details class="manim-clip-transcript"><summary>{heading}</summary>'
            f"<ol>{items}</ol></details>"
        )


def _html_embed(self, node: manim_clip, result: Entry) -> None:
    """Markdown that shows the clip (its GIF, else its poster) linking to its place in
    the book, by the stable aliases: select it, or copy it with the button (the script
    shows the button; without the script the text is still there to select)."""
    alias = alias_of(node)
    if not alias or not node["ids"]:
        return
    picture = result.path("gif") or result.path("poster")
    # absolute with html_baseurl (what a README needs), else from the site's root
    root = self.config.html_baseurl.rstrip("/") + "/" if self.config.html_baseurl else ""
    image = f"{root}{CLIPS_DIR}/{alias}{picture.suffix}"
    page = self.builder.get_target_uri(self.builder.current_docname)
    link = f"{root}{page}#{node['ids'][0]}"
    text = clip_title(node).replace("[", "(").replace("]", ")")
    markdown = f"[![{text}]({image})]({link})"
    field = f"{node['ids'][0]}-embed"
    self.body.append(
        f'<details class="manim-clip-embed"><summary>{_("Embed")}</summary>'
        f'<label for="{field}">{_("Markdown for a README: the clip, linking here")}</label>'
        f'<textarea id="{field}" readonly rows="3" spellcheck="false">{escape(markdown)}</textarea>'
        f'<button type="button" class="manim-clip-copy" data-target="{field}" hidden>'
        f"{_('Copy')}</button>"
        f'<span class="manim-clip-copy-status" role="status"></span></details>'
    )


def _html_poster(self, node: manim_clip, result: Entry) -> None:
    poster = _publish(self, result, "poster_png", self.builder.imagedir)
    self.body.append(
        f'<img class="manim-clip-poster" src="{poster}" alt="{escape(_alt(node))}" '
        f'width="{result.meta["width"]}" height="{result.meta["height"]}" />\n'
    )


def _html_placeholder(self, node: manim_clip) -> None:
    if isinstance(node, manim_film):
        self.body.append(
            f'<div class="manim-clip-placeholder" role="img" '
            f'aria-label="{escape(_("Film that could not be made"))}: {escape(_alt(node))}">'
            f"<strong>{_('The film could not be made.')}</strong> "
            f"<span>{_('The build log has the warning with the reason.')}</span></div>\n"
        )
        return
    self.body.append(
        f'<div class="manim-clip-placeholder" role="img" '
        f'aria-label="{escape(_("Animation that failed to render"))}: {escape(_alt(node))}">'
        f"<strong>{_('This clip failed to render.')}</strong> "
        f"<span>{_('Scene')} <code>{escape(node['scene'])}</code>: "
        f"{_('the build log has the warning with the reason.')}</span></div>\n"
    )


def _html_downloads(self, node: manim_clip, result: Entry) -> None:
    alias = alias_of(node)
    links = [
        f'<a href="{url}" download>{label}</a>'
        for kind, label in (("mp4", "MP4"), ("gif", "GIF"))
        if (url := _publish(self, result, kind, CLIPS_DIR, alias))
    ]
    duration = vtt.clock(max(1, round(result.meta["duration"])))  # as the player shows it
    links_html = " · ".join(links)
    self.body.append(
        f'<span class="manim-clip-downloads">{duration} · {_("Download")}: {links_html}</span>'
    )


# --- LaTeX ------------------------------------------------------------------------------


def visit_latex(self, node: manim_clip) -> None:
    result = _result(self.builder.env, node)
    caption = _caption(node)
    caption_tex = ""
    if caption:
        body, self.body = self.body, []
        for child in caption.children:
            child.walkabout(self)
        caption_tex, self.body = "".join(self.body), body
    if result is None:
        failed = (
            _("film that could not be made")
            if isinstance(node, manim_film)
            else _("animation that failed to render")
        )
        text = self.encode(f"[{failed}: {clip_title(node)}]")
        self.body.append(f"\n\n\\fbox{{{text}}}\n\n")
        raise nodes.SkipNode
    poster = result.path("poster_png")
    _core.atomic_copy(poster, Path(self.builder.outdir, poster.name))
    self.body.append("\n\\begin{figure}[htbp]\n\\centering\n")
    self.body.append(f"\\sphinxincludegraphics[width=\\linewidth]{{{{{poster.stem}}}.png}}\n")
    if caption_tex:
        self.body.append(f"\\caption{{{caption_tex}}}")
    self.body.append(self.hypertarget_to(node) + "\n\\end{figure}\n")
    heading, lines = transcript(result)
    if lines:  # what the clip says, in print
        heading, text = self.encode(heading), self.encode(run_on(lines))
        self.body.append(f"\n\\begin{{quote}}\\small\\textbf{{{heading}:}} {text}\\end{{quote}}\n")
    raise nodes.SkipNode


# --- everything else --------------------------------------------------------------------


def text_fallback(app, doctree: nodes.document, docname: str) -> None:
    """For builders without a visitor: ``[animation: caption]`` as a plain paragraph,
    then the clip's transcript, when it was rendered (text, man, texinfo).

    The film is ``[film: caption]`` and its chapters.
    """
    if app.builder.format in ("html", "latex"):
        return
    for node in list(doctree.findall(manim_clip)):  # films too: manim_film is a manim_clip
        caption = _caption(node)
        label = caption.children if caption else [nodes.Text(clip_title(node))]
        kind = _("film") if isinstance(node, manim_film) else _("animation")
        paragraph = nodes.paragraph(
            "",
            "",
            nodes.Text(f"[{kind}: "),
            *[child.deepcopy() for child in label],
            nodes.Text("]"),
        )
        paragraph["ids"] = node["ids"]
        replacement = [paragraph]
        result = _result(app.env, node)
        heading, lines = transcript(result) if result is not None else ("", [])
        if lines:
            replacement.append(nodes.paragraph("", f"{heading}: {run_on(lines)}"))
        node.replace_self(replacement)
