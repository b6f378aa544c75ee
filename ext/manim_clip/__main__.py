"""Render a Sphinx project's clips outside a full build, or join them into one film.

    python -m ext.manim_clip clips [SOURCEDIR] [--quality Q] [--jobs N]
    python -m ext.manim_clip film [SOURCEDIR] --out film.mp4 [--quality Q] [--jobs N]
    python -m ext.manim_clip sheets [SOURCEDIR] --out docs/screenshots/clips [--quality Q]

Both run Sphinx with the ``manim-clips`` builder: it reads the pages (executing no
notebooks) and renders every missing clip into the same cache as a normal build, so
the next ``sphinx-build`` reuses them all. ``film`` then copies out the film of the
clips in document order (the toctree's, then any page outside it), each after a short
title card: the same film a ``manim-film`` directive shows, from the same cache.
``sheets`` writes a frame sheet per clip (six frames, first to last, as WebP) into
``--out``: a whole clip at a glance, to review or to commit.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util.docutils import docutils_namespace, patch_docutils

from buildlib.files import atomic_write

from . import CLIPS_BUILDER, film, render, settings, sheets


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.quality:
        os.environ[render.QUALITY_ENV] = args.quality
    source = Path(args.sourcedir).resolve()
    if not (source / "conf.py").is_file():
        print(f"error: no conf.py in {source}", file=sys.stderr)
        return 2
    config = Config.read(source)
    if __package__ not in config.extensions:
        print(
            f"error: add {__package__!r} to the extensions in {source / 'conf.py'}", file=sys.stderr
        )
        return 2
    app = _build(source, config, args)
    results = render.clip_results(app.env)
    print(f"clips cache: {settings(app).cache_dir}")
    failed = sum(not result.ok for result in results.values())
    if args.command == "film":
        if failed:
            print(f"error: {failed} clip(s) failed to render; no film", file=sys.stderr)
            return 1
        print(f"film: {write_film(app, Path(args.out or 'film.mp4'))}")
    if args.command == "sheets":
        for path in write_sheets(app, Path(args.out or "docs/screenshots/clips")):
            print(f"sheet: {path}")
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ext.manim_clip",
        description="Render every manim-clip of a Sphinx project into the build's cache "
        "(clips), or join the clips in reading order into one MP4 (film).",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=("clips", "film", "sheets"),
        default="clips",
        help="clips (default): render what is missing; film: also join them; "
        "sheets: also write a frame sheet per clip",
    )
    parser.add_argument(
        "sourcedir",
        nargs="?",
        default="docs",
        help="the Sphinx source folder with conf.py (default: docs)",
    )
    parser.add_argument(
        "--quality",
        choices=tuple(render.QUALITY),
        help=f"override every clip's quality (sets {render.QUALITY_ENV})",
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        help="renders at once (default: manim_clip_jobs, else the CPU count)",
    )
    parser.add_argument(
        "--doctrees", help="Sphinx's environment folder (default: SOURCEDIR/_build/doctrees-clips)"
    )
    parser.add_argument(
        "--out",
        help="film: the MP4 to write (film.mp4); sheets: the folder (docs/screenshots/clips)",
    )
    return parser


def _build(source: Path, config: Config, args: argparse.Namespace) -> Sphinx:
    overrides: dict[str, object] = {}
    if args.jobs:
        overrides["manim_clip_jobs"] = args.jobs
    if "myst_nb" in config.extensions:
        # Clips need the pages, not their outputs: run no notebook, and say nothing of
        # the {glue} values that only executed notebooks provide.
        overrides["nb_execution_mode"] = "off"
        overrides["suppress_warnings"] = [*config.suppress_warnings, "mystnb.glue"]
    doctrees = Path(args.doctrees or source / "_build" / "doctrees-clips")
    # The builder writes nothing there; but the default cache sits beside the output
    # folder, so this shares it with ``sphinx-build SOURCEDIR SOURCEDIR/_build/html``.
    outdir = source / "_build" / CLIPS_BUILDER
    with patch_docutils(source), docutils_namespace():
        app = Sphinx(
            source, source, outdir, doctrees, CLIPS_BUILDER, overrides, parallel=args.jobs or 1
        )
        app.build()
    return app


def write_film(app: Sphinx, target: Path) -> Path:
    """Copy the book's film to ``target``.

    It is the build's own film if a page shows one; else it is joined (or found in the
    cache) now, by the same code.
    """
    made = film.made_film(app.env) or film.book_film(app)
    if not made.ok:
        raise SystemExit(f"error: {made.problems[0].message}")
    target = target.resolve()
    atomic_write(target, made.value.path("mp4").read_bytes())
    return target


def write_sheets(app: Sphinx, folder: Path) -> list[Path]:
    """A frame sheet per rendered clip, named after its page and scene."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for result in render.clip_results(app.env).values():
        if result.ok:
            target = folder / f"{Path(result.spec.docname).name}-{result.spec.scene}.webp"
            sheets.frame_sheet(result.path("mp4"), target)
            written.append(target)
    return written


if __name__ == "__main__":
    sys.exit(main())
