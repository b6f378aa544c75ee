"""The book's equations typeset in one LaTeX run, not one run each.

``sphinx.ext.imgmath`` runs ``latex`` and ``dvisvgm`` once per formula while it writes
the pages: about 150 formulas, 0.17 s of start-up each, 25 s on one core at the end of
every cold build. Each page's formulas are noted while it is read; after reading, the
``FORMULAS`` producer (ext/producers.py: one lifecycle with the diagrams and clips) puts
the ones not typeset yet into one document, one ``preview`` page each (its ``make_all``),
and converts all pages in one ``dvisvgm`` run. Each SVG goes where imgmath looks
for it (named by imgmath's own hash of the LaTeX), with imgmath's depth comment, so
imgmath finds it and runs nothing. Each SVG is also an entry of the book's store
(``<cache>/math``, keyed by the math, imgmath's template and settings, the tools'
versions and arguments): a new
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

imgmath gives each image the formula's LaTeX as its alt text, which a screen reader reads
aloud, colour commands and spacing included. The pages use imgmath's own visitors with
that alt text made ``spoken`` (math_speech.py): the formula in words and symbols, what
says how it looks (colours, spacing, sizes) left out.
"""

from __future__ import annotations

import dataclasses
import functools
import html
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
from buildlib.keys import digest, producer_code

from . import _core, producers
from ._core import Problem
from .math_speech import spoken

logger = logging.getLogger(__name__)

PREVIEW = re.compile(r"\\begin\{preview\}.*?\\end\{preview\}\n?", re.S)
PAGE_ID = re.compile(r"id='page\d+'")
# What a formula's LaTeX says about its looks, not its content: left out of its alt text,
# which a screen reader reads aloud ("{\color{q} Q}\,K" is read as "Q K")
ALT = re.compile(r' alt="([^"]*)"')
SPOKEN_RENDERER = "imgmath_spoken"  # imgmath's visitors, with spoken alt texts
GLYPHS_AS_PATHS = {"--no-fonts=1", "-n1"}


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
        # HTML builders only, writing imgmath's images (with or without spoken alt texts)
        getattr(builder, "math_renderer_name", None) in ("imgmath", SPOKEN_RENDERER)
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


@dataclasses.dataclass(frozen=True)
class Formula:
    """A formula a page asks for: the math imgmath puts in its LaTeX document, and the
    text the page wrote (what a warning quotes)."""

    math: str
    text: str


class Formulas(producers.Producer):
    """The book's formulas as SVGs where imgmath looks for them: a producer whose
    ``make_all`` typesets every missing one in one LaTeX run (one run each if that fails).
    A Made's value is the image's file name (None: none, the page shows the text)."""

    name = "math"
    subtype = "math"
    thing = "the equation images"

    def ident(self, spec: Formula) -> str:
        return spec.math

    def asked(self, env) -> list[producers.Asked]:
        return [
            producers.Asked(docname, line, Formula(math, text))
            for docname in sorted(env.math_formulas)
            for math, line, text in env.math_formulas[docname]
        ]

    def key(self, app, spec: Formula) -> str:
        # the math and the shared key say what its document is: no document is made here
        return digest(spec.math, shared_key(app))

    def read(self, entry: Path, meta: dict) -> Path:
        return entry / meta["files"]["svg"]

    def make_all(self, app, wanted: dict[str, Formula]) -> dict[str, producers.Made]:
        """Those whose image is current, as the record beside the images says, without a
        document; the rest from the store or typeset now."""
        folder = Path(app.builder.outdir, app.builder.imagedir, "math")
        shared = shared_key(app)
        recorded = _made_with(folder)  # imgmath names a file by its LaTeX alone
        made = {
            key: producers.Made(key, recorded[spec.math][0])
            for key, spec in wanted.items()
            if _still_made(recorded.get(spec.math), shared, folder)
        }
        missing = {key: spec for key, spec in wanted.items() if key not in made}
        if not missing:
            return made
        made |= _images(app, missing, folder)
        record = {spec.math: [made[k].value, shared] for k, spec in wanted.items() if made[k].value}
        atomic_write(folder / MADE_WITH, json.dumps(record, sort_keys=True).encode())
        return made


FORMULAS = Formulas()
LATEX_HINT = "fix the formula; until then the page shows its LaTeX as text"


def _images(app, missing: dict[str, Formula], folder: Path) -> dict[str, producers.Made]:
    """The missing formulas' images from the store, or typeset and stored (under one lock:
    two builds typeset a formula once); typeset and kept nowhere when the store cannot be
    written."""
    config, confdir = app.config, app.confdir
    documents = {key: _latex_document(f.math, config, confdir) for key, f in missing.items()}
    targets = {key: folder / svg_name(document) for key, document in documents.items()}
    for target in targets.values():
        target.unlink(missing_ok=True)  # made with other settings: no stale image stays
    entries = FORMULAS.entries(app)
    made: dict[str, producers.Made] = {}
    kept: tuple[Problem, ...] = ()
    try:
        with entries.lock("typesetting"):  # one lock file; the runs are seconds
            made = from_store(entries, missing, targets)
            made |= _typeset_now(app, missing, documents, targets, made, entries)
    except OSError as error:  # a cache that cannot be written: typeset, keep nothing
        kept = (producers.unstored(FORMULAS, error),)
        made = {k: m for k, m in made.items() if targets[k].is_file()}
        made |= _typeset_now(app, missing, documents, targets, made, None)
    return {key: dataclasses.replace(m, problems=m.problems + kept) for key, m in made.items()}


def from_store(entries: store.Store, missing: dict, targets: dict) -> dict[str, producers.Made]:
    """Copy each stored formula to where imgmath looks: the Made of those found."""
    made = {}
    for key in missing:
        svg = entries.get(key, parse=FORMULAS.read)
        if svg is not None:
            atomic_write(targets[key], svg.read_bytes())
            made[key] = producers.Made(key, targets[key].name)
    return made


def _typeset_now(app, missing, documents, targets, made, entries) -> dict[str, producers.Made]:
    """The Made of each formula not ``made`` yet: typeset now and stored in ``entries``
    (None: nowhere); LaTeX's error for one it cannot typeset."""
    rest = {targets[key]: documents[key] for key in missing if key not in made}
    if not rest:
        return {}
    failures = typeset_all(rest, app.config)
    outcomes = {}
    for key in (key for key in missing if key not in made):
        error = failures.get(documents[key])
        if error is not None:
            problem = Problem(f"LaTeX cannot typeset `{missing[key].text}`: {error}", LATEX_HINT)
            outcomes[key] = producers.Made(key, problems=(problem,))
        elif not targets[key].is_file():  # no tool: imgmath says what is missing
            outcomes[key] = producers.Made(key)
        else:
            if entries is not None:
                store_formula(entries, key, targets[key])
            outcomes[key] = producers.Made(key, targets[key].name, fresh=True)
    return outcomes


def store_formula(entries: store.Store, key: str, svg: Path) -> None:
    def make(folder: Path) -> None:
        shutil.copyfile(svg, folder / "formula.svg")
        store.write_meta(folder, {"files": {"svg": "formula.svg"}})

    entries.get_or_make(key, make)


# beside the images: {formula's math: [its image file, the shared key it was made with]}
MADE_WITH = ".keys.json"


def _made_with(folder: Path) -> dict[str, str]:
    try:
        return json.loads((folder / MADE_WITH).read_text())
    except (OSError, ValueError):
        return {}  # a folder made before this record, or damaged: every image is checked


def made_before_writing(app, env) -> list[str]:
    """After reading: every formula's image, where the builder writes imgmath's (an
    env-updated handler: the pages whose formulas' images changed)."""
    if not usable(app, app.builder):
        producers.forget(env, FORMULAS)  # imgmath does its own work
        return []
    return producers.produce(FORMULAS, app, env)


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
        *producer_code(__file__),
    )


def _still_made(record, shared: str, folder: Path) -> bool:
    """Whether a formula's record ([image file, shared key]) names an image made as now."""
    return (
        isinstance(record, list)
        and len(record) == 2
        and record[1] == shared
        and (folder / str(record[0])).is_file()
    )


def svg_name(latex: str) -> str:
    """The file imgmath looks for: named by its LaTeX document's SHA-1."""
    return f"{sha1(latex.encode(), usedforsecurity=False).hexdigest()}.svg"


def typeset_all(documents: dict[Path, str], config) -> dict[str, str]:
    """Typeset the documents in one run (a core), one by one if that fails; {LaTeX
    document: LaTeX's error} of those that fail. A missing tool leaves them to imgmath."""
    started = time.perf_counter()
    next(iter(documents)).parent.mkdir(parents=True, exist_ok=True)
    try:
        processes.CORES.acquire()  # one run, one core of the build's budget
        try:
            typeset(documents, config)
        finally:
            processes.CORES.release()
        logger.info(
            f"math: {len(documents)} formulas typeset in one LaTeX run "
            f"({time.perf_counter() - started:.1f} s)"
        )
        return {}
    except OSError as error:
        logger.info(f"math: {error}; imgmath typesets the formulas")
        return {}
    except (ValueError, subprocess.CalledProcessError) as error:
        try:
            failures = typeset_one_by_one(documents, config)
        except OSError:
            return {}
        logger.info(
            f"math: one run for {len(documents)} formulas failed ({latex_error(error)}); "
            f"typeset one by one, {len(failures)} failed"
        )
        return failures


def show_failed_as_text(app, doctree, docname: str) -> None:
    """A formula with no image and a problem (said after reading) is shown as its text."""
    for node, math in math_texts(doctree):
        made = producers.made_of(app.env, FORMULAS, math)
        if made is not None and made.value is None and made.problems:
            text = node.astext()
            block = isinstance(node, nodes.math_block)
            node.replace_self(
                nodes.literal_block(text, text) if block else nodes.literal(text, text)
            )


def with_spoken_alt(visit):
    """imgmath's HTML visitor, the alt text of the image it writes made ``spoken``."""

    def visit_formula(self, node):
        start = len(self.body)
        try:
            visit(self, node)
        finally:  # imgmath's visitors end by raising SkipNode
            for index in range(start, len(self.body)):
                self.body[index] = ALT.sub(_spoken_alt, self.body[index])

    return visit_formula


def _spoken_alt(match: re.Match) -> str:
    return f' alt="{html.escape(spoken(html.unescape(match[1])))}"'


def choose_renderer(app, config) -> None:
    """imgmath's images with spoken alt texts, unless conf.py chose another renderer."""
    if config.html_math_renderer in (None, "imgmath"):
        config.html_math_renderer = SPOKEN_RENDERER


def setup(app):
    _core.setup_core(app)
    app.setup_extension("sphinx.ext.imgmath")
    app.add_html_math_renderer(
        SPOKEN_RENDERER,
        (with_spoken_alt(imgmath.html_visit_math), None),
        (with_spoken_alt(imgmath.html_visit_displaymath), None),
    )
    app.connect("config-inited", choose_renderer)
    _core.per_page_state(app, "math_formulas")  # docname -> [(math, line, source text)]
    app.connect("doctree-read", note_formulas)
    app.connect("env-updated", made_before_writing)
    app.connect("doctree-resolved", show_failed_as_text)
    # env_version 1: pages read before formulas were noted are read again
    return {"env_version": 1, "parallel_read_safe": True, "parallel_write_safe": True}
