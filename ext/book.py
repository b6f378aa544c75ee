"""The book's own build steps around the extensions (docs/conf.py keeps only settings).

Before any page is read: the book's models are trained, on every core, the longest
first (``train_models``), then each page's notebook is keyed by what its cells read and
executed if that changed (``execute_notebooks``). While a page is read it executes with
the jupyter-cache its key names (``use_page_cache``); while it is written its executed
notebook is offered to readers (``offer_notebook``). The log's last line says what ran
(``summary``). Between the models and the notebooks, at the default priority,
ext.manim_clip starts the clip renders that need only the models, so they run beside
the notebooks.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from sphinx.util import logging

from buildlib import keys, store

from . import _core, myst_pages, notebooks, producers, reader_notebooks, trained_runs

logger = logging.getLogger(__name__)

# A page whose cells read the book's own pages says so (`% cells read: chapters/*.md`):
# their text is then an input too, so an edit there re-executes it.
CELLS_READ = "cells read:"
CELL_INPUTS = "nanobook_cell_inputs"  # env.metadata[docname]: the key the page ran with
CELL_CACHE = "nanobook_cell_cache"  # env.metadata[docname]: the jupyter-cache it ran with
_STARTED, _STARTED_EPOCH = time.perf_counter(), time.time()


def jupyter_cache(app) -> Path:
    """Where the executed notebooks are kept: a jupyter-cache per set of cell inputs."""
    return _core.cache_root(app) / "jupyter"


def cell_search(app) -> list[Path]:
    """Where the cells' imports are found: the project, and the scenes beside the pages
    (the palette)."""
    return [_core.project_root(app), Path(app.srcdir) / "scenes"]


def train_models(app, env, added, changed, removed) -> list[str]:
    """Train what the pages' cells ask for before any page is read (ext/trained_runs.py's
    TRAININGS: the presets, the scaling sweep and each chapter's experiments), so no page
    trains while the clips render beside it. Sets ``nanobook_inputs_digest``: the preset
    weights and model configs, which cells and scenes read without importing them.
    Re-reads nothing."""
    from model_src import trained

    app.nanobook_pages = book_pages(env)
    runs = trained_runs.TrainedRuns(app.nanobook_pages, cell_search(app))
    started, cpu = time.perf_counter(), _cpu_seconds()
    producers.produce(runs, app, env)  # nothing else runs yet: its CPU is the training's
    app.nanobook_trained = runs.trained
    app.nanobook_training = (time.perf_counter() - started, _cpu_seconds() - cpu)
    requests = trained_runs.preset_requests()
    # a training that failed was said at its pages: the digest says "missing" in its place
    weights = [trained.stored_weights(name, **over) or "missing" for name, over in requests]
    configs = sorted((_core.project_root(app) / "model_src" / "config").glob("*.py"))
    parts = [f"{path.name}={keys.code_digest(path)}" for path in configs]
    # clips key on it too: a retrain that reproduces the weights re-renders nothing
    app.config.nanobook_inputs_digest = keys.digest(*weights, *parts)
    return []


def book_pages(env) -> dict[str, myst_pages.Page]:
    """The MyST pages of the book as they are now: read once a build, by train_models,
    for the trainings they ask for and their notebooks' keys (app.nanobook_pages)."""
    return {
        docname: myst_pages.read(Path(env.doc2path(docname)), env.myst_config)
        for docname in sorted(env.found_docs)
        if Path(env.doc2path(docname)).suffix == ".md"
    }


def page_inputs(
    docname: str, page: myst_pages.Page, source: Path, inputs_digest: str, search: list[Path]
) -> str | None:
    """The key of a page's notebook: the page, the code of what its cells import (not
    comments), the models' digest, and the pages its cells read; None for a page without
    cells. The page is in it so that each has an entry of its own: two pages importing
    the same modules would share one, and the second's early execution, finding it made,
    would be left to the serial reading step."""
    cells = page.cells
    if not cells:
        return None
    read = [
        path.read_bytes()
        for comment in page.comments
        if comment.text.strip().startswith(CELLS_READ)
        for pattern in comment.text.strip().removeprefix(CELLS_READ).split()
        for path in sorted(source.parent.glob(pattern))
    ]
    code = "\n".join(cell.python for cell in cells)
    return keys.digest(docname, inputs_digest, *keys.code_inputs_of_source(code, search), *read)


def execute_notebooks(app, env, added, changed, removed) -> list[str]:
    """Execute (in parallel) the notebooks of the pages to be read; returns the pages
    whose cells read something that changed since they were last read."""
    app.nanobook_cell_inputs = {}
    for docname, page in app.nanobook_pages.items():
        source = Path(env.doc2path(docname))
        digest = page_inputs(
            docname, page, source, app.config.nanobook_inputs_digest, cell_search(app)
        )
        if digest:
            app.nanobook_cell_inputs[docname] = digest
            store.mark_used(jupyter_cache(app) / digest)  # kept by `nox -s prune`
    reread = [
        docname
        for docname, digest in app.nanobook_cell_inputs.items()
        if docname in env.all_docs and env.metadata.get(docname, {}).get(CELL_INPUTS) != digest
    ]
    to_read = (set(added) | set(changed) | set(reread)) & set(app.nanobook_cell_inputs)
    app.nanobook_executed_early = notebooks.execute_missing(
        app, to_read, lambda docname: jupyter_cache(app) / app.nanobook_cell_inputs[docname]
    )
    return reread


def use_page_cache(app, docname, source) -> None:
    """Execute the page's cells with the jupyter-cache its inputs name, the store entry
    made before reading; a page whose entry could not be made (its cells failed, the
    cache is read-only) executes into a folder of the build's own, outside the store."""
    digest = getattr(app, "nanobook_cell_inputs", {}).get(docname)
    if digest:
        app.env.metadata[docname][CELL_INPUTS] = digest
        cache = notebooks.cache_for_reading(app, docname, jupyter_cache(app) / digest)
        app.env.metadata[docname][CELL_CACHE] = str(cache)


def offer_notebook(app, pagename, templatename, context, doctree) -> None:
    """The page's executed notebook, made a reader's (ext/reader_notebooks.py), beside
    its MyST source: the download button's and the run box's."""
    cache = app.env.metadata.get(pagename, {}).get(CELL_CACHE)
    saved = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if doctree is None or not cache or not saved.is_file():
        return
    executed = notebooks.with_outputs(saved, cache)
    if executed:
        reader_notebooks.offer(app, pagename, executed, context)


def summary(app, exception) -> None:
    """The log's last line: what ran, how long, and how busy the cores were."""
    if exception:
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    executed = [  # execution data of a cached notebook carries the time it was cached
        docname
        for docname in app.env.found_docs
        if (NbMetadataCollector.get_exec_data(app.env, docname) or {}).get("mtime", 0)
        >= _STARTED_EPOCH
    ]
    trained = getattr(app, "nanobook_trained", 0)
    training = getattr(app, "nanobook_training", (0, 0))  # wall and CPU seconds
    wall, cpu = time.perf_counter() - _STARTED, _cpu_seconds()
    logger.info(summary_line(trained, *training, len(executed), wall, cpu, os.cpu_count() or 1))


def _cpu_seconds() -> float:
    """CPU-seconds of this process and of every child process it has waited for."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def summary_line(
    trained: int,
    training_seconds: float,
    training_cpu: float,
    executed: int,
    wall: float,
    cpu: float,
    cores: int,
) -> str:
    """The line the bench reads: ``book build: 2 models trained (9.0 s, 17.5 CPU-s), 3
    notebooks executed; 60.0 s wall, 114.0 CPU-s on 2 cores (95% busy)``."""
    return (
        f"book build: {trained} models trained ({training_seconds:.1f} s, "
        f"{training_cpu:.1f} CPU-s), {executed} notebooks executed; "
        f"{wall:.1f} s wall, {cpu:.1f} CPU-s on {cores} cores ({cpu / wall / cores:.0%} busy)"
    )


def search_snippets(app, pagename, templatename, context, doctree) -> None:
    """The search page shows a glossary entry found by a search as that entry alone
    (_static/nanobook_search.js); no other page loads it."""
    if pagename == "search":
        app.add_js_file("nanobook_search.js", loading_method="defer")


def setup(app):
    _core.setup_core(app)
    app.setup_extension("ext.claims")  # a page whose cells fail is published without the rest
    app.connect("build-finished", summary)
    # Models first, notebooks last: in between (at the default priority) ext.manim_clip
    # starts the clip renders that need only the models, so they run beside the notebooks.
    app.connect("env-get-outdated", train_models, priority=400)
    app.connect("env-get-outdated", execute_notebooks, priority=600)
    app.connect("source-read", use_page_cache)
    # after the theme's launch buttons (501), which copy MyST-NB's notebook to _sources
    app.connect("html-page-context", offer_notebook, priority=reader_notebooks.PRIORITY)
    app.connect("html-page-context", search_snippets)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
