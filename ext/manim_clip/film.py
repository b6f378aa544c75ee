"""The film: every clip of the book in reading order, each after a title card, in one MP4.

``FILM`` is a producer (ext/producers.py) of one entry, ``film-<digest>`` in the clips'
store: the render step makes it when a page has ``manim-film`` (right after the clips
are rendered), and ``python -m ext.manim_clip film`` (``book_film``) when none does, to
copy it out. Its digest hashes the clips' own keys in order, the text of every title
card, the build's quality and the code that joins it (this file and media.py, so the
cards' duration and layout): editing a clip, a caption or a page title joins it again;
a rebuild with nothing changed reuses it. Like a clip, it is joined into a temp folder
that is renamed into the cache only when complete.

The join decodes no clip: the title cards are encoded the way the clips are, so the
clips' packets are copied into the film as they are (``film_mp4``); only a clip encoded
otherwise (another :quality:) is re-encoded first.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont
from sphinx.util import logging

from buildlib import keys, store

from .. import producers
from .._core import Problem
from . import media, render, vtt
from .directive import FILM_SUBTYPE, ClipSpec, FilmSpec

logger = logging.getLogger(__name__)

SUBTYPE = FILM_SUBTYPE  # suppress_warnings = ["nanobook.manim-film"]
CARD_SECONDS = 1.5
BACKGROUND = "#0f0f23"  # the book's clip background
TEXT, TEXT_SECONDARY = "#ffffff", "#888888"


def document_order(env) -> list[str]:
    """Pages in reading order: depth-first through the toctrees, then the rest by name."""
    order: list[str] = []

    def visit(docname: str) -> None:
        if docname in order or docname not in env.all_docs:
            return
        order.append(docname)
        for child in env.toctree_includes.get(docname, []):
            visit(child)

    visit(env.config.root_doc)
    return order + sorted(set(env.all_docs) - set(order))


def film_clips(env) -> list[tuple[str, ClipSpec]]:
    """Every clip of the project in reading order, with the title of its page."""
    return [
        (env.titles[docname].astext() if docname in env.titles else docname, spec)
        for docname in document_order(env)
        for spec in env.manim_clip_specs.get(docname, [])
    ]


class Film(producers.Producer):
    """The one film every ``manim-film`` directive shows, kept in the clips' store."""

    name, subtype, thing = "manim-film", SUBTYPE, "the film"

    def ident(self, spec: FilmSpec | None) -> str:
        return "film"  # one film per build, whichever page shows it

    def asked(self, env) -> list[producers.Asked]:
        return [
            producers.Asked(spec.docname, spec.lineno, spec)
            for docname in sorted(env.manim_film_specs)
            for spec in env.manim_film_specs[docname]
        ]

    def entries(self, app) -> store.Store:
        return render.clip_store(render.app_settings(app))

    def key(self, app, spec: FilmSpec | None) -> str:
        """``film-<digest>``; a Problem when there is no clip, or one failed to render."""
        clips = film_clips(app.env)
        if not clips:
            raise Problem(
                "the project has no manim-clip directives, so there is no film",
                "add clips to the pages, or remove the manim-film directive",
            )
        results = [render.clip_result(app.env, spec) for _, spec in clips]
        failed = [spec for (_, spec), made in zip(clips, results, strict=True) if not made.ok]
        if failed:
            where = ", ".join(f"{spec.docname}:{spec.lineno} ({spec.scene})" for spec in failed)
            raise Problem(
                f"{len(failed)} of {len(clips)} clips failed to render: {where}",
                "fix the clips named above (each has its own warning);"
                " the film is joined once every clip renders",
            )
        size, opening, cards = _layout(app)
        return "film-" + keys.digest(
            # this file and media.py: the cards' duration and layout, the encoder
            *keys.producer_code(__file__),
            "{}x{}@{}".format(*size),
            *opening,
            *(
                f"{page}\n{caption}\n{made.key}"
                for (page, caption), made in zip(cards, results, strict=True)
            ),
        )

    def make_into(self, app, key: str, spec: FilmSpec | None, folder: Path) -> None:
        size, opening, cards = _layout(app)
        logger.info(f"joining the film of {len(cards)} clips...")
        parts = [
            (page, caption, render.clip_result(app.env, clip).value.path("mp4"))
            for (page, caption), (_, clip) in zip(cards, film_clips(app.env), strict=True)
        ]
        try:
            _join(parts, folder, key, size, opening)
        except Exception as error:  # e.g. a clip's file went missing, the disk is full
            raise Problem(
                f"could not join the film: {error!r}",
                "nothing was cached, so the next build tries again",
            ) from error

    def read(self, entry: Path, meta: dict) -> render.Entry:
        return render.Entry(str(entry), meta)

    def heading(self, asked: producers.Asked) -> str:
        return f"{SUBTYPE}: the film was not made"


FILM = Film()


def _layout(app) -> tuple[tuple[int, int, int], tuple[str, str], list[tuple[str, str]]]:
    """The film's (width, height, fps), its opening card and a card per clip."""
    clips = film_clips(app.env)
    size = render.QUALITY[render.build_quality(render.app_settings(app))]
    opening = (app.config.project, f"{len(clips)} clips")
    return size, opening, [(page, spec.caption or spec.scene) for page, spec in clips]


def made_film(env) -> producers.Made | None:
    """What became of the film this build (None: no page shows it)."""
    return producers.made(env, FILM, None)


def book_film(app) -> producers.Made:
    """The film, as the build makes it, for ``python -m ext.manim_clip film``: from the
    store, or joined now; its problems are the caller's to say."""
    try:
        key = FILM.key(app, None)
    except Problem as problem:
        return producers.Made("", problems=(problem,))
    return FILM.make_all(app, {key: None})[key]


def _join(
    parts: list[tuple[str, str, Path]],
    out: Path,
    stem: str,
    size: tuple[int, int, int],
    opening: tuple[str, str],
) -> None:
    """Write the film, its poster (the opening card) and, last, meta.json into ``out``."""
    width, height, fps = size
    files = {
        "mp4": f"{stem}.mp4",
        "poster": f"{stem}.webp",
        "poster_png": f"{stem}.png",
        "chapters": f"{stem}.vtt",
    }
    duration, starts = film_mp4(
        parts, out / files["mp4"], width=width, height=height, fps=fps, opening=opening
    )
    media.save_poster(title_card(width, height, *opening), out, stem)
    # one chapter per clip, from its title card on; the opening belongs to the first
    chapters = [
        (start if i else 0.0, title)
        for i, ((title, _, _), start) in enumerate(zip(parts, starts, strict=True))
    ]
    timed = vtt.cues(chapters, duration)
    (out / files["chapters"]).write_text(vtt.webvtt(timed), encoding="utf-8")
    meta = {
        "width": width,
        "height": height,
        "fps": fps,
        "duration": round(duration, 3),
        "clips": len(parts),
        "chapters": [[round(start, 3), title] for start, _, title in timed],
        "files": files,
    }
    store.write_meta(out, meta)  # last: complete


# --- the film's video: media.py is in every clip's key, this file only in the film's ---


def title_card(width: int, height: int, title: str, subtitle: str = "") -> Image.Image:
    """A plain card in the book's colours: a title and an optional smaller line, wrapped."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    title_font = ImageFont.load_default(size=max(12, height // 14))
    sub_font = ImageFont.load_default(size=max(10, height // 24))
    lines = [(line, title_font, TEXT) for line in _wrap(draw, title, title_font, width * 0.85)]
    lines += [
        (line, sub_font, TEXT_SECONDARY) for line in _wrap(draw, subtitle, sub_font, width * 0.85)
    ]
    gap = height // 40
    boxes = [draw.textbbox((0, 0), text, font=font) for text, font, _ in lines]
    y = (height - sum(box[3] - box[1] + gap for box in boxes) + gap) / 2
    for (text, font, colour), box in zip(lines, boxes, strict=True):
        draw.text(((width - (box[2] - box[0])) / 2, y - box[1]), text, font=font, fill=colour)
        y += box[3] - box[1] + gap
    return image


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, max_width: float) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= max_width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def film_mp4(
    parts: list[tuple[str, str, Path]],
    target: Path,
    *,
    width: int,
    height: int,
    fps: int,
    opening: tuple[str, str],
) -> tuple[float, list[float]]:
    """Join clips into one MP4, each after a title card; ``parts`` are (title, subtitle, mp4).

    Only the title cards are encoded, the way the clips were (``media.encode`` at the
    film's size and rate), and the clips' packets are copied as they are. A clip encoded
    otherwise (another quality, another encoder) is first re-encoded alone, scaled and
    retimed (frames repeated or dropped) to the film's. Returns the film's duration and
    the second at which each part's title card starts (its chapter).
    """
    with tempfile.TemporaryDirectory(prefix=".segments-", dir=target.parent) as scratch:

        def encoded(name: str, frames: Iterable[av.VideoFrame]) -> Path:
            path = Path(scratch) / f"{name}.mp4"
            media.encode(frames, path, width=width, height=height, fps=fps, codec="libx264")
            return path

        def card(name: str, title: str, subtitle: str) -> Path:
            # converted once: the conversion cost as much as the encoding, frame by frame
            image = av.VideoFrame.from_image(title_card(width, height, title, subtitle))
            frame = image.reformat(format="yuv420p")
            return encoded(name, itertools.repeat(frame, round(CARD_SECONDS * fps)))

        def retimed(path: Path) -> Iterator[av.VideoFrame]:
            shown = 0
            for at, frame in media.frames_of(path):
                while shown / fps <= at + 1e-9:
                    yield frame
                    shown += 1

        segments = [card("opening", *opening)]
        chapters = []  # where each part's title card is in segments
        for index, (title, subtitle, path) in enumerate(parts):
            chapters.append(len(segments))
            segments.append(card(f"card-{index}", title, subtitle))
            if media.encoding(path) != media.encoding(segments[-1]):
                path = encoded(f"clip-{index}", retimed(path))
            segments.append(path)
        starts, duration = media.concatenate(segments, target)
    return duration, [starts[index] for index in chapters]


def summary_line(made: producers.Made, clips: int) -> str:
    """``manim-film: joined|reused|failed``, then the clip count and the join's time."""
    if not made.ok:
        return "manim-film: failed (see the warning)"
    if made.fresh:
        return f"manim-film: joined ({clips} clips, {made.seconds:.1f} s)"
    return f"manim-film: reused ({clips} clips)"
