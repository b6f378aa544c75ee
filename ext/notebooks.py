"""Execute the pages' notebooks on every core before Sphinx reads them.

MyST-NB executes a page's cells while it reads the page, one page after another, so
notebook execution (a kernel start and the cells, several seconds a page) uses one core.
Called once the build knows which pages it will read, ``execute_missing`` runs those
whose store entry does not hold them, up to one per core (shared with the clip renders,
which wait for the notebooks), each in a spawned process (no fork of a process that holds
torch's threads). Each page's executed notebook is an entry of buildlib's store, like
every other artifact: a jupyter-cache folder made once (however many builds share the
cache), published whole, and checked by digest before MyST-NB reads it (a changed output
or an unreadable database is a warning, and the notebook runs again). MyST-NB then finds
the match and merges the outputs, exactly as on a warm build.

A notebook that fails here is left alone: MyST-NB executes it again while reading (into
a folder outside the store) and ext/claims.py reports the failure at its line.

``with_outputs`` gives a page's notebook executed, for ext/reader_notebooks.py to make the
reader's download of it: in cache mode MyST-NB saves the cells without the outputs it
merged from the cache, so they are merged again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sphinx.util import logging

from buildlib.processes import CORES, spawned_pool
from buildlib.store import InvalidEntry, Store, mark_used, remove_entry, validate, write_meta

from . import _core, claims, myst_pages

logger = logging.getLogger(__name__)


def _execute(notebook, cwd: str, timeout: int | None):
    """In a worker: run the notebook; returns (it with its outputs, seconds, what stopped
    it on one line or None)."""
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
            return notebook, 0.0, claims.error_line(error)
        finally:
            # nbclient leaves a kernel it was handed running: stop it and wait for it, or
            # each worker keeps one idle kernel per notebook, uncounted in the build's CPU
            if run_sync(manager.is_alive)():
                run_sync(manager.shutdown_kernel)()
    return notebook, result.time, result.err and claims.error_line(result.err)


def execute_missing(app, docnames: set[str], entry_of: Callable[[str], Path]) -> list[str]:
    """Execute, in parallel, the notebooks among ``docnames`` whose store entry
    (``entry_of(docname)``, a folder of a buildlib Store) is missing, damaged or holds
    another version of the cells; returns the pages executed."""
    env, nb_config = app.env, app.env.mystnb_config
    if nb_config.execution_mode != "cache":
        return []
    pending = []
    for docname in sorted(docnames):
        path = Path(env.doc2path(docname))
        read = path.suffix == ".md" and myst_pages.notebook(path, env.myst_config, nb_config)
        if not read:
            continue
        (reader, notebook), entry = read, Path(entry_of(docname))
        if not stored(entry, notebook, docname):
            pending.append((docname, path, reader, notebook, entry))
    if not pending:
        return []
    jobs = min(len(pending), os.cpu_count() or 1)
    logger.info(f"executing {len(pending)} notebooks, {jobs} at a time")
    started = time.perf_counter()
    stopping = threading.Event()  # the build stops: a notebook still waiting for a core won't
    timeout = nb_config.execution_timeout
    with spawned_pool(jobs) as pool, ThreadPoolExecutor(jobs) as waiting:
        futures = [
            waiting.submit(_execute_into_store, pool, stopping, timeout, *item) for item in pending
        ]
        try:
            executed = [
                item[0] for item, future in zip(pending, futures, strict=True) if future.result()
            ]
        finally:
            stopping.set()
    logger.info(f"executed {len(executed)} notebooks in {time.perf_counter() - started:.1f} s")
    return executed


def _execute_into_store(pool, stopping, timeout, docname, path, reader, notebook, entry) -> bool:
    """Execute a page's notebook in ``pool`` into its store entry; True if this build
    executed it (False: it did not end, or another build sharing the cache made it)."""
    ran = []

    def make(tmp: Path) -> None:
        ran.append(docname)
        # first in line for a core: no page can be read before its notebook has run,
        # while the clip renders beside them are awaited only later
        if not CORES.acquire(priority=0, give_up=stopping.is_set):
            raise NotExecuted("the build stopped")
        try:
            run = pool.submit(_execute, notebook, str(path.parent), timeout).result()
        finally:
            CORES.release()
        # each page as it ends: a cold build's longest wait, and where its time goes
        logger.info(f"executed {docname} in {run[1]:.1f} s{' (failed)' if run[2] else ''}")
        _fill_entry(tmp, path, reader, *run)

    return _made(docname, entry, make) and bool(ran)


class NotExecuted(Exception):
    """A notebook that did not run to its end here (MyST-NB runs it again while reading)."""


# jupyter-cache's database notes every read: it is checked by opening it, not by digest
DATABASE = "global.db"


def _fill_entry(tmp: Path, page: Path, reader, notebook, seconds: float, error: str | None):
    """The store entry of an executed notebook: a jupyter-cache holding it, and the
    record of every file but the database."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    if error:
        raise NotExecuted(error)
    cache = get_cache(str(tmp))
    stage = cache.add_nb_to_project(str(page), read_data=reader.read_fmt)
    cache.cache_notebook_bundle(
        CacheBundleIn(notebook, stage.uri, data={"execution_seconds": seconds}),
        check_validity=False,
        overwrite=True,
    )
    write_meta(tmp, {"files": {}}, unrecorded=(DATABASE,))


def _made(docname: str, entry: Path, make: Callable[[Path], None]) -> bool:
    """Make the page's entry (once, however many builds share the cache); False, with a
    line in the log or a warning, when it could not be."""
    try:
        Store(entry.parent, log=logger.info).get_or_make(entry.name, make)
        return True
    except NotExecuted as reason:  # MyST-NB executes it again while reading, and says why
        logger.info(f"{docname}: {reason}; executed again while reading")
    except OSError as error:
        _core.warn(
            logger,
            f"the executed notebook could not be stored: {error}",
            location=docname,
            subtype="notebook",
            hint=_core.STORAGE_HINT,
        )
    return False


def stored(entry: Path, notebook, docname: str) -> bool:
    """Whether the page's entry holds this notebook executed, every file as it was made.
    A damaged entry (a changed output, an unreadable database) is a warning and removed,
    a stale one (the cells changed in a comment) removed: both are executed afresh."""
    from jupyter_cache import get_cache

    if not entry.exists():
        return False
    if not (entry / "meta.json").exists():  # made before entries were, or left half-made
        with contextlib.suppress(OSError):
            remove_entry(entry)
        return False
    try:
        validate(entry)
        get_cache(str(entry)).match_cache_notebook(notebook)
        mark_used(entry)
        return True
    except KeyError:  # another version of the cells: not damage
        pass
    except Exception as error:  # whatever a damaged file makes the reader raise
        reason = (
            error.reason if isinstance(error, InvalidEntry) else f"{type(error).__name__}: {error}"
        )
        _core.warn(
            logger,
            f"the cached execution of this page was damaged ({reason}); executed afresh",
            location=docname,
            subtype="notebook",
            hint="nothing to do: the damaged entry was removed and the notebook run again",
        )
    with contextlib.suppress(OSError):  # a read-only cache keeps it: executed unstored
        remove_entry(entry)
    return False


def cache_for_reading(app, docname: str, entry: Path) -> Path:
    """Point MyST-NB at the page's store entry, made before reading; a page whose entry
    could not be made (its cells failed, the cache is not writable) executes into a
    folder of the build's own instead, outside the store. Returns the folder."""
    if not (entry / "meta.json").is_file():
        entry = Path(app.outdir).parent / "unstored-notebooks" / docname.replace("/", "-")
        shutil.rmtree(entry, ignore_errors=True)
    app.env.mystnb_config = app.env.mystnb_config.copy(execution_cache_path=str(entry))
    return entry


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
