"""The book's equations typeset in one LaTeX run, not one run each.

``sphinx.ext.imgmath`` runs ``latex`` and ``dvisvgm`` once per formula while it writes
the pages: about 150 formulas, 0.17 s of start-up each, 25 s on one core at the end of
every cold build. Each page's formulas are noted while it is read; before the pages are
written, this extension puts the ones not typeset yet into one document, one ``preview``
page each, and converts all pages in one ``dvisvgm`` run. Each SVG goes where imgmath looks
for it (named by imgmath's own hash of the LaTeX), with imgmath's depth comment, so
imgmath finds it and runs nothing. Each SVG is also an entry of the book's store
(``<cache>/math``, keyed by the LaTeX document, the tools' versions and arguments): a new
output folder copies it from there, and two builds sharing the cache typeset it once. A
record beside the images says what each formula's image was made with, so a build whose
formulas all have current images makes no LaTeX document at all.

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
import json
import re
import shutil
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

from buildlib import processes, store
from buildlib.files import atomic_write
from buildlib.keys import digest

from . import _core
from ._core import warn

logger = logging.getLogger(__name__)

PREVIEW = re.compile(r"\\begin\{preview\}.*?\\end\{preview\}\n?", re.S)
PAGE_ID = re.compile(r"id='page\d+'")
GLYPHS_AS_PATHS = {"--no-fonts=1", "-n1"}


def formulas(doctree: nodes.Node, app) -> Iterator[tuple[nodes.Element, str]]:
    """Each formula node of the doctree with the LaTeX document imgmath makes of it."""
    for node, math in math_texts(doctree):
        yield node, _latex_document(math, app.config, app.confdir)


def math_texts(doctree: nodes.Node) -> Iterator[tuple[nodes.Element, str]]:
    """Each formula node with the math imgmath puts in its LaTeX document."""
    for node in list(doctree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block)))):
        if isinstance(node, nodes.math):
            yield node, f"${node.astext()}$"
        elif node.get("no-wrap", node.get("nowrap", False)):
            yield node, node.astext()
        else:
            yield node, wrap_displaymath(node.astext(), None, False)


def note_formulas(app, doctree: nodes.document) -> None:
    """While a page is read: its formulas and their lines, so that the step before writing
    finds every formula without loading every page's doctree again."""
    app.env.math_formulas[app.env.docname] = [
        (math, _line(node), node.astext()) for node, math in math_texts(doctree)
    ]


def _line(node: nodes.Node) -> int | None:
    """The formula's line (inline math has none of its own: its paragraph's)."""
    while node is not None and node.line is None:
        node = node.parent
    return node.line if node is not None else None


# imgmath builds a template environment for every formula (3 ms): a document is made only
# for a formula with no current image, once per build (a Config is hashed by identity)
@functools.lru_cache(maxsize=2048)
def _latex_document(math: str, config, confdir) -> str:
    return imgmath.generate_latex_macro("svg", math, config, confdir)


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


def usable(app, builder) -> bool:
    """Whether imgmath would make the SVGs this extension makes (else it does its work)."""
    config = app.config
    return (
        getattr(builder, "math_renderer_name", None) == "imgmath"  # HTML builders only
        and config.imgmath_image_format == "svg"
        and config.imgmath_use_preview
        and not config.imgmath_embed
        and bool(GLYPHS_AS_PATHS & set(config.imgmath_dvisvgm_args))
        and Path(config.imgmath_latex).name == "latex"  # xelatex, tectonic: not a DVI
    )


@functools.cache
def _tool_version(tool: str) -> str:
    """The tool's first line of ``--version`` (its SVGs change with it), or "" if absent."""
    try:
        run = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (run.stdout or run.stderr).partition("\n")[0]


def store_formula(math: store.Store, key: str, svg: Path) -> None:
    def make(folder: Path) -> None:
        shutil.copyfile(svg, folder / "formula.svg")
        store.write_meta(folder, {"files": {"svg": "formula.svg"}})

    math.get_or_make(key, make)


def from_store(math: store.Store, keys: dict[str, str], documents: dict[Path, str]) -> dict:
    """Copy each stored formula to where imgmath looks; the documents still missing."""
    missing = {}
    for target, latex in documents.items():
        svg = math.get(keys[latex], parse=lambda entry, meta: entry / meta["files"]["svg"])
        if svg is None:
            missing[target] = latex
        else:
            atomic_write(target, svg.read_bytes())
    return missing


# beside the images: {formula's math: [its image file, the shared key it was made with]}
MADE_WITH = ".keys.json"


def _made_with(folder: Path) -> dict[str, str]:
    try:
        return json.loads((folder / MADE_WITH).read_text())
    except (OSError, ValueError):
        return {}  # a folder made before this record, or damaged: every image is checked


def typeset_missing(failures: dict[str, str], app, builder) -> None:
    """Before pages are written: every formula not in the output yet, from the store or
    typeset now (one run for all, under one lock: two builds typeset a formula once)."""
    if not usable(app, builder):
        return
    failures.clear()  # a formula fixed since the last build is typeset again below
    folder = Path(builder.outdir, builder.imagedir, "math")
    found = {
        math: (docname, line, text)
        for docname in sorted(app.env.math_formulas)
        for math, line, text in app.env.math_formulas[docname]
    }
    shared = shared_key(app)
    # imgmath names a file by its LaTeX alone: the key it was made with says if it is stale
    recorded = _made_with(folder)
    current = {m: recorded[m] for m in found if _still_made(recorded.get(m), shared, folder)}
    latex = {m: _latex_document(m, app.config, app.confdir) for m in found if m not in current}
    documents = {folder / svg_name(doc): doc for doc in latex.values()}
    if not documents:
        return
    keys = {doc: digest(doc, shared) for doc in documents.values()}
    for target in documents:
        target.unlink(missing_ok=True)  # made with other settings: no stale image stays
    _make(documents, keys, failures, app, location=found[next(iter(latex))][:2])
    made = {m: [svg_name(d), shared] for m, d in latex.items() if (folder / svg_name(d)).is_file()}
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / MADE_WITH, json.dumps({**current, **made}, sort_keys=True).encode())
    for math, doc in latex.items():  # said on every build until fixed: no image to reuse
        if doc in failures:
            docname, line, text = found[math]
            warn(
                logger,
                f"math: LaTeX cannot typeset `{text}`: {failures[doc]}",
                location=(docname, line),
                subtype="math",
                hint="fix the formula; until then the page shows its LaTeX as text",
            )


def shared_key(app) -> str:
    """What every formula's image depends on besides its math: imgmath's template and
    settings (as the document it makes of a fixed formula shows them), the tools, their
    arguments and this module's code."""
    config = app.config
    return digest(
        _latex_document("$x$", config, app.confdir),
        *map(_tool_version, [config.imgmath_latex, config.imgmath_dvisvgm]),
        *config.imgmath_latex_args,
        "--",
        *config.imgmath_dvisvgm_args,
        *_core.producer_code(__file__),
    )


def _still_made(record, shared: str, folder: Path) -> bool:
    """Whether a formula's record ([image file, shared key]) names an image made as now."""
    return (
        isinstance(record, list)
        and len(record) == 2
        and record[1] == shared
        and (folder / str(record[0])).is_file()
    )


def _make(documents: dict[Path, str], keys, failures, app, location) -> None:
    """The documents' images from the store, or typeset and stored; typeset and kept
    nowhere when the store cannot be written (said at ``location``, the first one's)."""
    math = store.Store(_core.cache_root(app) / "math", log=logger.info)
    try:
        with math.lock("typesetting"):  # one lock file; the runs are seconds
            missing_now = from_store(math, keys, documents)
            if missing_now:
                typeset_and_store(missing_now, keys, math, failures, app.config)
    except OSError as error:  # a cache that cannot be written: typeset, keep nothing
        warn(
            logger,
            f"math: the equation images could not be stored: {error}",
            location=location,
            subtype="math",
            hint=_core.STORAGE_HINT,
        )
        unmade = {target: latex for target, latex in documents.items() if not target.is_file()}
        if unmade:
            typeset_and_store(unmade, keys, None, failures, app.config)


def svg_name(latex: str) -> str:
    """The file imgmath looks for: named by its LaTeX document's SHA-1."""
    return f"{sha1(latex.encode(), usedforsecurity=False).hexdigest()}.svg"


def typeset_and_store(documents, keys, math, failures: dict[str, str], config) -> None:
    """Typeset the documents in one run, one by one if that fails (``failures`` gets
    LaTeX's errors), and store what was made (``math``: None, nowhere). A missing tool
    leaves them to imgmath."""
    started = time.perf_counter()
    next(iter(documents)).parent.mkdir(parents=True, exist_ok=True)
    try:
        typeset(documents, config)
        logger.info(
            f"math: {len(documents)} formulas typeset in one LaTeX run "
            f"({time.perf_counter() - started:.1f} s)"
        )
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
    for target, latex in documents.items():
        if latex not in failures and math is not None:
            store_formula(math, keys[latex], target)


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
    _core.setup_core(app)
    app.setup_extension("sphinx.ext.imgmath")
    _core.per_page_state(app, "math_formulas")  # docname -> [(math, line, source text)]
    app.connect("doctree-read", note_formulas)
    failures: dict[str, str] = {}  # LaTeX document -> LaTeX's error, for this build
    app.connect("write-started", functools.partial(typeset_missing, failures))
    app.connect("doctree-resolved", functools.partial(show_failed_as_text, failures))
    # env_version 1: pages read before formulas were noted are read again
    return {"env_version": 1, "parallel_read_safe": True, "parallel_write_safe": True}
