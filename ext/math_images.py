"""The book's equations typeset in one LaTeX run, not one run each.

``sphinx.ext.imgmath`` runs ``latex`` and ``dvisvgm`` once per formula while it writes
the pages: about 150 formulas, 0.17 s of start-up each, 25 s on one core at the end of
every cold build. Before the pages are written, this extension collects every formula
of the doctrees, puts the ones not typeset yet into one document, one ``preview`` page
each, and converts all pages in one ``dvisvgm`` run. Each SVG goes where imgmath looks
for it (named by imgmath's own hash of the LaTeX), with imgmath's depth comment, so
imgmath finds it and runs nothing.

A formula's SVG must not depend on the others in its batch: with ``--no-fonts=1``
dvisvgm draws every glyph as a path of its own (with the default, glyph definitions are
shared and numbered across the run), so apart from the page's id, which is set to
``page1``, each page is the bytes imgmath makes for the formula alone. Without that
option in ``imgmath_dvisvgm_args`` this extension leaves imgmath to do its own work.

When the batch fails, the formulas are typeset one by one (a core each). One that
LaTeX cannot typeset is reported at its page and line, with LaTeX's own error, on every
build until it is fixed, and shown as its source text; imgmath, which would report it
without a location, never sees it. A missing tool leaves everything to imgmath, which
says what is missing.
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from hashlib import sha1
from pathlib import Path

from docutils import nodes
from sphinx.ext import imgmath
from sphinx.util import logging
from sphinx.util.math import wrap_displaymath

from buildlib import processes

from ._core import atomic_write, warn

logger = logging.getLogger(__name__)

PREVIEW = re.compile(r"\\begin\{preview\}.*?\\end\{preview\}\n?", re.S)
PAGE_ID = re.compile(r"id='page\d+'")
GLYPHS_AS_PATHS = {"--no-fonts=1", "-n1"}


def formulas(doctree: nodes.Node, app) -> Iterator[tuple[nodes.Element, str]]:
    """Each formula node of the doctree with the LaTeX document imgmath makes of it."""
    for node in list(doctree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block)))):
        if isinstance(node, nodes.math):
            math = f"${node.astext()}$"
        elif node.get("no-wrap", node.get("nowrap", False)):
            math = node.astext()
        else:
            math = wrap_displaymath(node.astext(), None, False)
        yield node, imgmath.generate_latex_macro("svg", math, app.config, app.confdir)


def typeset(documents: dict[Path, str], config) -> None:
    """Typeset ``{target SVG: imgmath's LaTeX document}`` in one run; raises
    CalledProcessError/OSError/ValueError when the batch cannot be used."""
    heads = {PREVIEW.split(doc)[0] for doc in documents.values()}
    bodies = [PREVIEW.findall(doc) for doc in documents.values()]
    if len(heads) != 1 or any(len(body) != 1 for body in bodies):
        raise ValueError("not imgmath's preview template")
    tail = PREVIEW.split(next(iter(documents.values())))[1]
    with tempfile.TemporaryDirectory(prefix="nanobook-math-") as scratch:
        Path(scratch, "math.tex").write_text(
            heads.pop() + "".join(body[0] for body in bodies) + tail, encoding="utf-8"
        )
        subprocess.run(
            [
                config.imgmath_latex,
                "--interaction=nonstopmode",
                *config.imgmath_latex_args,
                "math.tex",
            ],
            cwd=scratch,
            capture_output=True,
            check=True,
            encoding="utf-8",
            errors="replace",
        )
        converted = subprocess.run(
            [
                config.imgmath_dvisvgm,
                "--page=1-",
                "-o",
                "page-%p.svg",
                *config.imgmath_dvisvgm_args,
                "math.dvi",
            ],
            cwd=scratch,
            capture_output=True,
            check=True,
            encoding="utf-8",
            errors="replace",
        )
        depths = [m[1] for m in map(imgmath.depthsvg_re.match, converted.stderr.splitlines()) if m]
        pages = sorted(Path(scratch).glob("page-*.svg"), key=lambda p: int(p.stem[5:]))
        if len(pages) != len(documents) or len(depths) != len(documents):
            raise ValueError(f"{len(pages)} pages for {len(documents)} formulas")
        for target, page, depth in zip(documents, pages, depths, strict=True):
            svg = PAGE_ID.sub("id='page1'", page.read_text(encoding="utf-8"))
            page.write_text(svg, encoding="utf-8")
            imgmath.write_svg_depth(page, round(float(depth) * 100 / 72.27))  # as imgmath
            atomic_write(target, page.read_bytes())


def latex_error(error: Exception) -> str:
    """LaTeX's first error line ("! Undefined control sequence."), else the error."""
    output = getattr(error, "stdout", None) or ""
    return next((line for line in output.splitlines() if line.startswith("! ")), str(error))


def typeset_one_by_one(documents: dict[Path, str], config) -> dict[str, str]:
    """Each formula in a run of its own, a core each; {LaTeX document: error} of those
    that fail. A missing tool (OSError) is raised: imgmath says what is missing."""

    def alone(item: tuple[Path, str]) -> tuple[str, str | None]:
        processes.CORES.acquire()  # the build's one budget, shared with clips and notebooks
        try:
            typeset(dict([item]), config)
        except (ValueError, subprocess.CalledProcessError) as error:
            return item[1], latex_error(error)
        finally:
            processes.CORES.release()
        return item[1], None

    with ThreadPoolExecutor(processes.CORES.count) as pool:
        return {latex: error for latex, error in pool.map(alone, documents.items()) if error}


def typeset_missing(failures: dict[str, str], app, builder) -> None:
    config = app.config
    renderer = getattr(builder, "math_renderer_name", None)  # HTML builders only
    if renderer != "imgmath" or config.imgmath_image_format != "svg":
        return
    if not config.imgmath_use_preview or config.imgmath_embed:
        return
    if not GLYPHS_AS_PATHS & set(config.imgmath_dvisvgm_args):
        return
    if Path(config.imgmath_latex).name != "latex":  # xelatex, tectonic: not a DVI
        return
    failures.clear()  # a formula fixed since the last build is typeset again below
    folder = Path(builder.outdir, builder.imagedir, "math")
    documents: dict[Path, str] = {}
    missing: list[tuple[nodes.Element, str]] = []
    for docname in sorted(app.env.all_docs):
        for node, latex in formulas(app.env.get_doctree(docname), app):
            target = folder / f"{sha1(latex.encode(), usedforsecurity=False).hexdigest()}.svg"
            if not target.is_file():
                documents.setdefault(target, latex)
                missing.append((node, latex))
    if not documents:
        return
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        typeset(documents, config)
    except OSError as error:
        logger.info(f"math: {error}; imgmath typesets the formulas")
        return
    except (ValueError, subprocess.CalledProcessError) as error:
        try:
            failures.update(typeset_one_by_one(documents, config))
        except OSError:
            return
        logger.info(
            f"math: one run for {len(documents)} formulas failed ({latex_error(error)}); "
            f"typeset one by one, {len(failures)} failed"
        )
        # said on every build until fixed: a failed formula never has an image to reuse
        for node, latex in missing:
            if latex in failures:
                warn(
                    logger,
                    f"math: LaTeX cannot typeset `{node.astext()}`: {failures[latex]}",
                    location=node,
                    subtype="math",
                    hint="fix the formula; until then the page shows its LaTeX as text",
                )
        return
    logger.info(
        f"math: {len(documents)} formulas typeset in one LaTeX run "
        f"({time.perf_counter() - started:.1f} s)"
    )


def show_failed_as_text(failures: dict[str, str], app, doctree, docname: str) -> None:
    """A formula LaTeX could not typeset (reported above) is shown as its source text."""
    if not failures:
        return
    for node, latex in formulas(doctree, app):
        if latex in failures:
            text = node.astext()
            block = isinstance(node, nodes.math_block)
            node.replace_self(
                nodes.literal_block(text, text) if block else nodes.literal(text, text)
            )


def setup(app):
    app.setup_extension("sphinx.ext.imgmath")
    failures: dict[str, str] = {}  # LaTeX document -> LaTeX's error, for this build
    app.connect("write-started", functools.partial(typeset_missing, failures))
    app.connect("doctree-resolved", functools.partial(show_failed_as_text, failures))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
