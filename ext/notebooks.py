"""Execute the pages' notebooks on every core before Sphinx reads them.

MyST-NB executes a page's cells while it reads the page, one page after another, so
notebook execution (a kernel start and the cells, several seconds a page) uses one core.
Called once the build knows which pages it will read, ``execute_missing`` runs those
whose jupyter-cache has no match, up to one per core (shared with the clip renders, which
wait for the notebooks), each in a spawned process (no fork of a process that holds
torch's threads), and stores what they produce in the same cache. MyST-NB then finds
the match and merges the outputs, exactly as on a warm build.

A notebook that fails here is left alone: MyST-NB executes it again while reading and
reports the failure at the page, as it would without this step.

``with_outputs`` gives a page's notebook executed, for ext/reader_notebooks.py to make the
reader's download of it: in cache mode MyST-NB saves the cells without the outputs it
merged from the cache, so they are merged again.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sphinx.util import logging

from buildlib.processes import CORES, spawned_pool

logger = logging.getLogger(__name__)


def _execute(notebook, cwd: str, timeout: int | None):
    """In a worker: run the notebook; returns (it with its outputs, seconds, error)."""
    from jupyter_cache.executors.utils import single_nb_execution
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    kernel_name = notebook.metadata.get("kernelspec", {}).get("name", "python3")
    # Unix sockets in a folder of its own: kernels started side by side never race for
    # one free TCP port, and none warns that it listens unencrypted on TCP.
    with tempfile.TemporaryDirectory(prefix="nanobook-kernel-") as sockets:
        manager = AsyncKernelManager(
            kernel_name=kernel_name, transport="ipc", ip=os.path.join(sockets, "kernel")
        )
        try:
            result = single_nb_execution(
                notebook, cwd=cwd, timeout=timeout, allow_errors=False, km=manager
            )
        except Exception as error:  # a kernel that died: MyST-NB runs the page again
            return notebook, 0.0, f"{type(error).__name__}: {error}"
        finally:
            # nbclient leaves a kernel it was handed running: stop it and wait for it, or
            # each worker keeps one idle kernel per notebook, uncounted in the build's CPU
            if run_sync(manager.is_alive)():
                run_sync(manager.shutdown_kernel)()
    return notebook, result.time, result.exc_string


def execute_missing(app, docnames: set[str], cache_path: Callable[[str], str]) -> list[str]:
    """Execute, in parallel, the notebooks among ``docnames`` that their cache
    (``cache_path(docname)``) does not hold yet; returns the pages executed."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from myst_nb.core.read import create_nb_reader

    env, nb_config = app.env, app.env.mystnb_config
    if nb_config.execution_mode != "cache":
        return []
    pending = []
    for docname in sorted(docnames):
        path = Path(env.doc2path(docname))
        text = path.read_text(encoding="utf-8")
        reader = create_nb_reader(str(path), env.myst_config, nb_config, text)
        if reader is None or path.suffix != ".md":
            continue
        notebook = reader.read(text)
        cache = get_cache(cache_path(docname))
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            pending.append((docname, path, cache, reader, notebook))
    if len(pending) < 2:  # nothing to share between cores: MyST-NB does it while reading
        return []
    jobs = min(len(pending), os.cpu_count() or 1)
    logger.info(f"executing {len(pending)} notebooks, {jobs} at a time")
    started = time.perf_counter()
    executed = []
    stopping = threading.Event()  # the build stops: a notebook still waiting for a core won't

    def execute(notebook, folder: Path):
        # first in line for a core: no page can be read before its notebook has run,
        # while the clip renders beside them are awaited only later
        if not CORES.acquire(priority=0, give_up=stopping.is_set):
            return notebook, 0.0, "the build stopped"
        try:
            timeout = nb_config.execution_timeout
            return pool.submit(_execute, notebook, str(folder), timeout).result()
        finally:
            CORES.release()

    with spawned_pool(jobs) as pool, ThreadPoolExecutor(jobs) as waiting:
        futures = [(item, waiting.submit(execute, item[4], item[1].parent)) for item in pending]
        try:
            for (docname, path, cache, reader, _), future in futures:
                notebook, seconds, error = future.result()
                if error:  # executed again while reading, where MyST-NB reports it at the page
                    error = error.strip().splitlines()[-1]
                    logger.info(f"{docname}: {error}; executed again while reading")
                    continue
                stage = cache.add_nb_to_project(str(path), read_data=reader.read_fmt)
                cache.cache_notebook_bundle(
                    CacheBundleIn(notebook, stage.uri, data={"execution_seconds": seconds}),
                    check_validity=False,
                    overwrite=True,
                )
                executed.append(docname)
        finally:
            stopping.set()
    logger.info(f"executed {len(executed)} notebooks in {time.perf_counter() - started:.1f} s")
    return executed


def with_outputs(saved: Path, cache_path: str):
    """The notebook MyST-NB saved at ``saved``, with the outputs its jupyter-cache holds;
    None when the cache has no match."""
    import nbformat
    from jupyter_cache import get_cache

    if not Path(cache_path).is_dir():
        return None
    notebook = nbformat.read(saved, as_version=4)
    try:
        _, merged = get_cache(cache_path).merge_match_into_notebook(notebook)
    except KeyError:
        return None
    return merged
