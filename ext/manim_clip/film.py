"""The film: every clip of the book in reading order, each after a title card, in one MP4.

One function, ``book_film``, makes it for both callers: the render step, when a page
has ``manim-film`` (right after the clips are rendered), and ``python -m ext.manim_clip
film``, which copies the result out. Its cache key hashes the clips' own keys in order,
the text of every title card, the build's quality and the code that joins it (this file
and media.py, so the cards' duration and layout): editing a clip, a caption or a
page title joins it again; a rebuild with nothing changed reuses it. Like a clip, it is
joined into a temp folder that is renamed into the cache only when complete.

The join decodes no clip: the title cards are encoded the way the clips are, so the
clips' packets are copied into the film as they are (``film_mp4``); only a clip encoded
otherwise (another :quality:) is re-encoded first.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont
from sphinx.util import logging

from buildlib import store

from .. import _core
from . import media, render, vtt
from .directive import FILM_SUBTYPE, ClipSpec

logger = logging.getLogger(__name__)

SUBTYPE = FILM_SUBTYPE  # suppress_warnings = ["nanobook.manim-film"]
CARD_SECONDS = 1.5
BACKGROUND = "#0f0f23"  # the book's clip background
TEXT, TEXT_SECONDARY = "#ffffff", "#888888"


@dataclass
class FilmResult:
    """What the render step did for the film; the visitors read it like a ClipResult."""

    status: str  # joined | reused | failed
    key: str = ""
    clips: int = 0
    seconds: float = 0.0
    directory: str = ""
    meta: dict = field(default_factory=dict)
    error: str = ""
    hint: str = ""  # what to do about the error

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    path = render.ClipResult.path  # a film's cache entry is laid out like a clip's


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


def book_film(env, settings: render.Settings, title: str) -> FilmResult:
    """Find the film of the project's rendered clips in the cache, or join it.

    ``env.manim_clip_results`` must hold this build's clips. A failed result carries
    the reason in ``error`` and ``hint``; the caller says it where it belongs.
    """
    clips = film_clips(env)
    result = FilmResult("failed", clips=len(clips))
    if not clips:
        result.error = "the project has no manim-clip directives, so there is no film"
        result.hint = "add clips to the pages, or remove the manim-film directive"
        return result
    failed = [spec for _, spec in clips if not env.manim_clip_results[spec.uid].ok]
    if failed:
        where = ", ".join(f"{spec.docname}:{spec.lineno} ({spec.scene})" for spec in failed)
        result.error = f"{len(failed)} of {len(clips)} clips failed to render: {where}"
        result.hint = (
            "fix the clips named above (each has its own warning);"
            " the film is joined once every clip renders"
        )
        return result

    width, height, fps = render.QUALITY[render.build_quality(settings)]
    opening = (title, f"{len(clips)} clips")
    cards = [(page, spec.caption or spec.scene) for page, spec in clips]
    result.key = store.digest(
        # this file and media.py: the cards' duration and layout, the encoder
        *_core.producer_code(__file__),
        f"{width}x{height}@{fps}",
        *opening,
        *(
            f"{page}\n{caption}\n{env.manim_clip_results[spec.uid].key}"
            for (page, caption), (_, spec) in zip(cards, clips, strict=True)
        ),
    )
    films = render.clip_store(settings)
    name = f"film-{result.key}"
    if (meta := films.get(name)) is not None:
        render.use_entry(result, films.path(name), meta, "reused")
        return result

    logger.info(f"joining the film of {len(clips)} clips...")
    started = time.perf_counter()
    parts = [
        (page, caption, env.manim_clip_results[spec.uid].path("mp4"))
        for (page, caption), (_, spec) in zip(cards, clips, strict=True)
    ]
    try:  # joined into a temp folder, renamed into place once complete
        meta = films.get_or_make(
            name, lambda out: _join(parts, out, name, (width, height, fps), opening)
        )
    except Exception as error:  # e.g. a clip's file went missing, the disk is full
        result.error = f"could not join the film: {error!r}"
        result.hint = "nothing was cached, so the next build tries again"
        return result
    render.use_entry(result, films.path(name), meta, "joined")
    result.seconds = round(time.perf_counter() - started, 2)
    return result


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


def summary_line(result: FilmResult) -> str:
    """``manim-film: joined|reused|failed``, then the clip count and the join's time."""
    if result.status == "joined":
        return f"manim-film: joined ({result.clips} clips, {result.seconds:.1f} s)"
    if result.status == "reused":
        return f"manim-film: reused ({result.clips} clips)"
    return "manim-film: failed (see the warning)"
