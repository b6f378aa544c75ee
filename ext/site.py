"""Publishing helpers: a page's first clip poster as its og:image; a 404 page that works anywhere.

sphinxext-opengraph writes the OpenGraph tags; it takes a page's image from the page's
``og:image`` field when there is one. This handler runs just before it and, for pages
that show a clip, sets that field to the clip's poster (an absolute URL, as link
previews need), so a shared chapter link previews with its own animation's frame.
Pages without a clip keep the ``ogp_image`` fallback; an author's own ``og:image``
field always wins.

Every image in a page body loads lazily (``loading="lazy"``): docutils' images, math
and cell outputs alike, so what lies below the fold costs nothing until the reader nears
it.

A name in a table's code (get_num_params) may break after an underscore: the written
page gets a ``<wbr>`` there, so on a phone the glossary's names leave its Meaning column
room (``breakable_table_names``).

Without JavaScript the page keeps the ``data-theme="auto"`` conf.py gives it (the theme's
script would have made it light or dark), and no stylesheet colours "auto": the header
turned see-through and code lost its ground. A page without scripts loads one more
stylesheet (``<noscript>``), written after the build from the light and the dark rules of
the stylesheets the pages link, re-aimed at "auto" under the reader's colour scheme, as
the theme's script would have chosen (``no_script_theme``).

The 404 page is served for any missing path, at any depth. sphinx-notfound-page makes
its theme links absolute (``notfound_urls_prefix``); the links in its body are made
absolute here the same way. Opened from disk, or served from a root other than the
published prefix, those links would lead nowhere: the page's head resources are written
by a script that first finds the site's root (``local_404_page``), and its links follow.
That work is this module's, so the page is read again when ext/'s code changes
(`_core.extension_outdated`, which setup connects for a project that loads this alone).

sphinx-sitemap lists the pages each build writes, so an incremental build (livedocs, a
second `nox -s docs`) would publish a sitemap of the changed pages only: the pages not
written this time are added back before it writes the file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from docutils import nodes
from sphinx_sitemap import is_excluded

from buildlib.files import atomic_write

from ._core import setup_core

# Before sphinxext-opengraph (500), after sphinx-notfound-page (400).
PRIORITY = 450


def set_og_image(app, pagename: str, templatename, context: dict[str, Any], doctree) -> None:
    meta = context.get("meta")
    if doctree is None or meta is None or "og:image" in meta:
        return
    if "ext.manim_clip" not in app.extensions or app.builder.name.startswith("epub"):
        return  # no clips, or none shown as a video (an EPUB shows posters as images)
    from .manim_clip.visitors import first_poster

    found = first_poster(app.env, doctree)
    if not found or not app.config.ogp_site_url:
        return
    from_root, alt = found
    image = {"og:image": urljoin(app.config.ogp_site_url, from_root)}
    if alt and "og:image:alt" not in meta:
        image["og:image:alt"] = alt
    # A copy: the environment's metadata must not change while pages are written.
    context["meta"] = {**meta, **image}


def absolute_404_links(app, doctree, docname: str) -> None:
    if docname != app.config.notfound_pagename or app.builder.format != "html":
        return
    prefix = app.config.notfound_urls_prefix or "/"
    for reference in doctree.findall(nodes.reference):
        uri = reference.get("refuri", "")
        if uri and not uri.startswith(("#", "/")) and "://" not in uri:
            reference["refuri"] = prefix + uri


# The 404 page's head resources (stylesheets, scripts, icons), written by a script that
# first finds the site's root: the published prefix when the page is served under it, the
# page's own folder from disk (404.html is at the root), else the folder above the
# missing path's "chapters/", else the shallowest folder that holds the book's
# stylesheet. Written, not listed, in the page: a browser fetches listed URLs before any
# script could correct them. Links in the body follow the same root once it is parsed.
_LOCAL_404_MARK = "<!-- nanobook: 404 resources from the site's root -->"
_LOCAL_404 = r"""<script>
(function () {
  var prefix = %(prefix)s, tags = %(tags)s, path = location.pathname, root = null;
  if (location.protocol === "file:") root = location.href.replace(/[^/]*([?#].*)?$/, "");
  else if (path.indexOf(prefix) === 0) root = prefix;
  else {
    var found = path.match(/^(.*\/)chapters\//), folders = found ? [found[1]] : [];
    path.split("/").slice(0, -1).reduce(function (above, name) {
      folders.push(above + name + "/");
      return above + name + "/";
    }, "");
    root = "/";
    for (var i = 0; i < folders.length; i += 1) {
      var probe = new XMLHttpRequest();
      probe.open("HEAD", folders[i] + "_static/nanobook.css", false);
      try { probe.send(); } catch (error) { continue; }
      if (probe.status === 200) { root = folders[i]; break; }
    }
  }
  document.write(tags.join("").split(%(placeholder)s).join(root));
  document.addEventListener("DOMContentLoaded", function () {
    var names = ["href", "src", "action"];
    var linking = names.map(function (name) { return "[" + name + "^='" + prefix + "']"; });
    document.querySelectorAll(linking.join(", ")).forEach(function (element) {
      names.forEach(function (name) {
        var url = element.getAttribute(name);
        if (url && url.indexOf(prefix) === 0) {
          element.setAttribute(name, root + url.slice(prefix.length));
        }
      });
    });
  });
})();
</script>"""
_RESOURCE = re.compile(r'<(?:link\b[^>]*\bhref|script\b[^>]*\bsrc)="/[^"]*"[^>]*>(?:</script>)?')


def local_404_page(app, exception) -> None:
    """The built 404 page, its stylesheets and scripts written from wherever it is served."""
    page = Path(app.outdir, f"{app.config.notfound_pagename}.html")
    if exception or app.builder.format != "html" or not page.is_file():
        return
    text = page.read_text(encoding="utf-8")
    if _LOCAL_404_MARK in text:
        return  # this build did not write it again
    prefix = app.config.notfound_urls_prefix or "/"
    placeholder = "{nanobook-root}"
    found = [tag for tag in _RESOURCE.findall(text) if f'="{prefix}' in tag]
    for tag in found:  # in the head, and the theme's deferred scripts at the body's end
        text = text.replace(tag, "", 1)
    tags = [tag.replace(f'="{prefix}', f'="{placeholder}', 1) for tag in found]
    head, body = text.split("</head>", 1)
    script = _LOCAL_404 % {
        "prefix": json.dumps(prefix),
        "tags": json.dumps(tags).replace("</", "<\\/"),
        "placeholder": json.dumps(placeholder),
    }
    charset = re.search(r"<meta charset=[^>]*>", head) or re.search(r"<head>", head)
    head = f"{head[: charset.end()]}\n{_LOCAL_404_MARK}\n{script}{head[charset.end() :]}"
    atomic_write(page, f"{head}</head>{body}")
    page.chmod(0o644)  # atomic_write's temp files are private; the web must read it


_EAGER_IMAGE = re.compile(r"<img\b(?![^>]*\bloading=)")


def lazy_images(app, pagename: str, templatename, context: dict[str, Any], doctree) -> None:
    if "body" in context:
        context["body"] = _EAGER_IMAGE.sub('<img loading="lazy"', context["body"])


_TABLE_CELL = re.compile(r"<td\b.*?</td>", re.S)
_CODE_WORD = re.compile(r'<span class="pre">([^<]*)</span>')
_AFTER_UNDERSCORE = re.compile(r"(?<=[^\W_]_)(?=[^\W_])")


def breakable_table_names(app, pagename: str, templatename, context: dict, doctree) -> None:
    """A long name in a table's code (get_num_params, vocab_size) may break after an
    underscore (a <wbr>), and nowhere else within a word: on a 390 px phone the glossary's
    names held their column wide and left the Meaning column about 70 px. Each piece is a
    word of Sphinx's own (span.pre), which never breaks. The written page only: the text,
    and the words the search index holds, are unchanged."""
    if "body" in context:
        context["body"] = _TABLE_CELL.sub(_breakable_cell, context["body"])


def _breakable_cell(cell: re.Match) -> str:
    def word(code: re.Match) -> str:
        pieces = _AFTER_UNDERSCORE.split(code[1])
        return "<wbr>".join(f'<span class="pre">{piece}</span>' for piece in pieces)

    return _CODE_WORD.sub(word, cell[0])


NO_SCRIPT_THEME = "_static/nanobook_no_script_theme.css"
_STYLESHEET = re.compile(r'<link\b(?=[^>]*\brel="stylesheet")[^>]*?\bhref="([^"?#]+)')
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_RULE = re.compile(r"([^{}]*)\{([^{}]*)\}")
MODES = ("light", "dark")


def themed_by_script(app) -> bool:
    """The HTML builders whose pages the theme's script colours (not an EPUB's)."""
    return app.builder.format == "html" and not app.builder.name.startswith("epub")


def link_no_script_theme(app, pagename: str, templatename, context: dict, doctree) -> None:
    # the 404 page's stylesheets are all written by a script (local_404_page)
    if pagename == app.config.notfound_pagename:
        return
    if themed_by_script(app) and "pathto" in context:
        href = context["pathto"](NO_SCRIPT_THEME, 1)
        tag = f'<noscript><link rel="stylesheet" href="{href}"></noscript>'
        context["metatags"] = f"{context.get('metatags', '')}\n{tag}"


def no_script_theme(app, exception) -> None:
    """The light rules and the dark rules of the stylesheets the front page links, in its
    order, their selectors re-aimed at "auto", each mode's under its colour scheme: a page
    without scripts wears the mode the theme's script would choose, taken from the
    stylesheets, not restated here."""
    if exception or not themed_by_script(app):
        return
    out = Path(app.outdir)
    front = Path(app.builder.get_outfilename(app.config.root_doc))
    if not front.is_file():
        return
    rules = {mode: [] for mode in MODES}
    for href in _STYLESHEET.findall(front.read_text(encoding="utf-8")):
        sheet = (front.parent / href).resolve()
        if sheet.is_file() and sheet.suffix == ".css" and sheet.name != Path(NO_SCRIPT_THEME).name:
            css = _COMMENT.sub("", sheet.read_text(encoding="utf-8"))
            for mode in MODES:
                rules[mode] += _mode_rules(css, mode)
    text = ""
    for mode, found in rules.items():
        body = "\n".join(found)
        text += f"@media (prefers-color-scheme: {mode}) {{\n{body}\n}}\n"
    atomic_write(out / NO_SCRIPT_THEME, text)
    (out / NO_SCRIPT_THEME).chmod(0o644)  # atomic_write's temp files are private


def _mode_rules(css: str, mode: str) -> list[str]:
    """Top-level rules whose selectors name the theme's ``mode``, re-aimed at "auto"."""
    named = re.compile(rf"""html\[data-theme=(["']?){mode}\1\]""")
    return [
        f"{named.sub('html[data-theme=auto]', rule[1]).strip()}{{{rule[2]}}}"
        for rule in _RULE.finditer(css)
        if named.search(rule[1])
        and css.count("{", 0, rule.start()) == css.count("}", 0, rule.start())
    ]


def complete_sitemap(app, exception) -> None:
    links = getattr(app, "sitemap_links", None)
    if exception or links is None or app.builder.format != "html":
        return
    queued = []
    while not links.empty():
        queued.append(links.get_nowait())
    listed = {link for link, _ in queued}
    for docname in app.env.all_docs:
        link = app.builder.get_target_uri(docname)
        if link not in listed and not is_excluded(link, app.config.sitemap_excludes):
            queued.append((link, None))
    for entry in sorted(queued, key=lambda entry: entry[0]):  # a stable order, too
        links.put(entry)


def setup(app):
    setup_core(app)  # re-reads the pages (the 404 page too) when ext/'s code changes
    app.setup_extension("sphinxext.opengraph")
    app.setup_extension("notfound.extension")
    app.setup_extension("sphinx_sitemap")
    app.connect("html-page-context", set_og_image, priority=PRIORITY)
    app.connect("doctree-resolved", absolute_404_links)
    app.connect("html-page-context", lazy_images)
    app.connect("html-page-context", breakable_table_names)
    app.connect("html-page-context", link_no_script_theme)
    app.connect("build-finished", complete_sitemap, priority=400)  # before sphinx-sitemap
    app.connect("build-finished", local_404_page)
    # after the theme's own build-finished step, which rewrites pygments.css for each mode
    app.connect("build-finished", no_script_theme, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
