"""Render a Sphinx project's clips outside a full build, or join them into one film.

    python -m ext.manim_clip clips [SOURCEDIR] [--quality Q] [--jobs N]
    python -m ext.manim_clip film [SOURCEDIR] --out film.mp4 [--quality Q] [--jobs N]

Both run Sphinx with the ``manim-clips`` builder: it reads the pages (executing no
notebooks) and renders every missing clip into the same cache as a normal build, so
the next ``sphinx-build`` reuses them all. ``film`` then joins the clips in document
order (the toctree's, then any page outside it), each after a short title card.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util.docutils import docutils_namespace, patch_docutils

from . import CLIPS_BUILDER, media, render, settings


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
    results = app.env.manim_clip_results
    print(f"clips cache: {settings(app).cache_dir}")
    failed = sum(not result.ok for result in results.values())
    if args.command == "film":
        if failed:
            print(f"error: {failed} clip(s) failed to render; no film", file=sys.stderr)
            return 1
        print(f"film: {write_film(app, Path(args.out))}")
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
        choices=("clips", "film"),
        default="clips",
        help="clips (default): render what is missing; film: also join them",
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
    parser.add_argument("--out", default="film.mp4", help="film: the MP4 to write (film.mp4)")
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
    with tempfile.TemporaryDirectory() as outdir, patch_docutils(source), docutils_namespace():
        app = Sphinx(
            source, source, outdir, doctrees, CLIPS_BUILDER, overrides, parallel=args.jobs or 1
        )
        app.build()
    return app


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


def write_film(app: Sphinx, target: Path) -> Path:
    """One MP4: a title card, then each clip after a card with its page and caption."""
    env = app.env
    parts = []
    for docname in document_order(env):
        for spec in env.manim_clip_specs.get(docname, []):
            result = env.manim_clip_results[spec.uid]
            page = env.titles[docname].astext() if docname in env.titles else docname
            parts.append((page, spec.caption or spec.scene, result.path("mp4")))
    if not parts:
        raise SystemExit("error: the project has no manim-clip directives")
    quality = os.environ.get(render.QUALITY_ENV) or app.config.manim_clip_quality
    width, height, fps = render.QUALITY[quality]
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial.mp4")
    media.film(
        parts,
        partial,
        width=width,
        height=height,
        fps=fps,
        opening=(app.config.project, f"{len(parts)} clips"),
    )
    partial.replace(target)
    return target


if __name__ == "__main__":
    sys.exit(main())
