"""The render step: the clips' producer, their cache keys, and the pool of workers.

``CLIPS`` is a producer (ext/producers.py): after reading, the one lifecycle keys
every clip, says its problems at its directive and keeps its Made; only the making is
the clips' own (``Clips.make_all``). Each clip's key hashes everything that changes its
video; a key already in the cache is reused, every other one is rendered in a process
of its own (worker.py), at most ``manim_clip_jobs`` at a time, the longest first,
killed after ``manim_clip_timeout`` seconds. The pool works in the background for the
whole build: renders start before pages are read, as soon as their inputs exist
(early.py), and ``make_all`` waits for those (a failed one is not rendered again),
starts what is still missing and drops what no page needs. Every clip is an entry of
the artifact store (buildlib/store.py): a worker writes into the store's temp folder,
published whole as ``<cache>/<key>/``, under the key's lock, so builds that share the
cache render each clip once.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import itertools
import json
import math
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from sphinx.util import logging
from sphinx.util.display import status_iterator

from buildlib import book_build, keys, processes, store
from buildlib.processes import CORES

from .. import _core, producers
from .._core import Problem
from .directive import SUBTYPE, ClipSpec

logger = logging.getLogger(__name__)

# Renders take a free core after notebook executions (priority 0): pages are read only
# once their notebooks have run, while clips are awaited only after the reading.
RENDER_PRIORITY = 1
# (width, height, fps) per quality
QUALITY = {"draft": (854, 480, 15), "publish": (1280, 720, 30), "high": (1920, 1080, 60)}
QUALITY_ENV = book_build.CLIP_QUALITY_ENV  # overrides conf and :quality: (tests, livedocs)
STALE_TEMP_SECONDS = 3600  # a temp folder this old belongs to no running build

WORKER_MODULE = f"{__package__}.worker"
PACKAGE_PARENT = processes.PACKAGE_PARENT


@dataclass(frozen=True)
class Settings:
    cache_dir: Path
    project_root: Path
    quality: str  # conf manim_clip_quality
    formats: tuple[str, ...]
    jobs: int
    timeout: float
    # nanobook_inputs_digest: what scenes read without importing it (weights, model configs)
    inputs_digest: str = ""


@dataclass(frozen=True)
class Entry:
    """A clip's (or the film's) store entry, read with its metadata: what pages show."""

    directory: str
    meta: dict

    def path(self, kind: str) -> Path | None:
        name = self.meta.get("files", {}).get(kind)
        return Path(self.directory, name) if name else None


@dataclass(frozen=True)
class ClipResult:
    """A clip's row in the build's summary (``clip_results``): what became of it."""

    spec: ClipSpec
    made: producers.Made | None  # None: the directive refused it (warned while reading)
    status: str  # rendered | reused | failed
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    @property
    def key(self) -> str:
        return self.made.key if self.made else ""

    @property
    def meta(self) -> dict:
        return self.made.value.meta if self.ok else {}

    def path(self, kind: str) -> Path | None:
        return self.made.value.path(kind) if self.ok else None


def page_clips(env) -> list[ClipSpec]:
    """Every clip the pages read record, in page order."""
    specs = getattr(env, "manim_clip_specs", {})
    return [spec for docname in sorted(specs) for spec in specs[docname]]


def clip_result(env, spec: ClipSpec) -> producers.Made:
    """What became of the clip of ``spec`` this build."""
    refused = producers.Made("", problems=(Problem(spec.error or "not rendered"),))
    return producers.made(env, CLIPS, spec) or refused


def clip_results(env) -> dict[str, ClipResult]:
    """Each clip's row of the summary, by uid: rendered by this build (the first clip of
    its key), reused, or failed (with the seconds its render took)."""
    results: dict[str, ClipResult] = {}
    rendered: set[str] = set()
    for spec in page_clips(env):
        made = producers.made(env, CLIPS, spec)
        if made is None or not made.ok:
            result = ClipResult(spec, made, "failed", made.seconds if made else 0.0)
        elif made.fresh and made.key not in rendered:
            rendered.add(made.key)
            result = ClipResult(spec, made, "rendered", made.seconds)
        else:
            result = ClipResult(spec, made, "reused")
        results[spec.uid] = result
    return results


def app_settings(app) -> Settings:
    from . import settings  # the package's conf reader, which imports this module

    return settings(app)


def render_pool(app) -> RenderPool:
    """This build's pool of renders, made when first asked for; build-finished stops it."""
    if getattr(app, "manim_clip_pool", None) is None:
        history = {
            (result.spec.docname, result.spec.scene): result.meta["cpu_seconds"]
            for result in clip_results(app.env).values()
            if "cpu_seconds" in result.meta
        }
        app.manim_clip_pool = RenderPool(app_settings(app), history)
    return app.manim_clip_pool


def effective_quality(spec: ClipSpec, settings: Settings) -> str:
    return os.environ.get(QUALITY_ENV) or spec.quality or settings.quality


def build_quality(settings: Settings) -> str:
    """The quality of the build as a whole (the film's): without any clip's :quality:."""
    return os.environ.get(QUALITY_ENV) or settings.quality


def producer_code() -> list[str]:
    """The worker's code and all it imports (media.py with its GIF, WebM and H.264
    settings; manim, av and pillow by version): the producer's part of every clip key."""
    return keys.producer_code(Path(__file__).with_name("worker.py"))


def clip_key(spec: ClipSpec, settings: Settings) -> str:
    """Hash of everything that changes the clip's files (not caption, alt or autoplay).

    Python is keyed on its code (a comment edit re-renders nothing), data files on bytes.
    """
    root = settings.project_root

    def name(path: str) -> Path:
        return Path(path).relative_to(root) if Path(path).is_relative_to(root) else Path(path)

    width, height, fps = QUALITY[effective_quality(spec, settings)]
    return keys.digest(
        *producer_code(),
        spec.scene,
        spec.code if spec.code is not None else keys.code_digest(Path(spec.file)),
        *sorted(f"{name(path)}={keys.code_digest(Path(path))}" for path in spec.imports),
        *[f"{name(path)}={keys.file_digest(Path(path))}" for path in spec.data],
        f"{width}x{height}@{fps}",
        f"poster={spec.poster}",
        "formats=" + ",".join(sorted(settings.formats)),
        f"inputs={settings.inputs_digest}",
    )


class Clips(producers.Producer):
    """Every clip the pages show: from the store, or rendered in the build's RenderPool,
    which started what it could before reading."""

    name, subtype, thing = "manim-clip", SUBTYPE, "the clip"

    def ident(self, spec: ClipSpec) -> str:
        return spec.uid

    def asked(self, env) -> list[producers.Asked]:
        """The pages' clips but those the directive refused (it said why, while reading)."""
        return [
            producers.Asked(spec.docname, spec.lineno, spec)
            for spec in page_clips(env)
            if not spec.error
        ]

    def key(self, app, spec: ClipSpec) -> str:
        try:
            return clip_key(spec, app_settings(app))
        except OSError as error:
            raise Problem(
                f"cannot read an input of the scene: {error}", "rebuild so the page is read again"
            ) from error

    def make_all(self, app, wanted: dict[str, ClipSpec]) -> dict[str, producers.Made]:
        """Each key from the store, or rendered in the pool: a render it started early is
        waited for, not started again; one no page wants is stopped."""
        settings, pool = app_settings(app), render_pool(app)
        entries = clip_store(settings)
        made: dict[str, producers.Made] = {}
        needed: dict[str, ClipSpec] = {}  # key -> the spec it is rendered for
        for key, spec in wanted.items():
            meta = None if key in pool.renders else entries.get(key)
            if meta is None:
                needed[key] = spec
            else:
                made[key] = producers.Made(key, Entry(str(entries.path(key)), meta))
        return made | _render_needed(needed, settings, pool)

    def heading(self, asked: producers.Asked) -> str:
        return f"{SUBTYPE} {asked.spec.scene}"

    note_heading = heading

    def notes(self, asked: producers.Asked, entry: Entry) -> list[Problem]:
        hint = "choose a time within the clip for :poster:"
        return [Problem(note, hint) for note in entry.meta.get("notes", [])]


CLIPS = Clips()


def _render_needed(
    needed: dict[str, ClipSpec], settings: Settings, pool: RenderPool
) -> dict[str, producers.Made]:
    """Render each needed key (or wait for its early render); its Made."""
    pool.discard_all_but(needed)  # started early for a spec that reading did not confirm
    for key, spec in needed.items():
        pool.submit(key, spec)
    made = dict(
        status_iterator(
            pool.finished(needed),
            "rendering manim clips... ",
            "darkgreen",
            len(needed),
            stringify_func=lambda finished: needed[finished[0]].scene,
        )
        if needed
        else ()
    )
    # A failure's message names lines of the spec it was rendered for: one started
    # early for a spec that differs from the page's (a scan that drifted) is redone.
    again = [
        key
        for key, outcome in made.items()
        if not outcome.ok
        and scene_job(pool.renders[key].spec, settings) != scene_job(needed[key], settings)
    ]
    for key in again:
        pool.submit(key, needed[key], again=True)
    made.update(pool.finished(again))
    return made


def start_missing(specs: Iterable[ClipSpec], settings: Settings, pool: RenderPool) -> int:
    """Start rendering the clips of ``specs`` the cache lacks; returns how many started.

    For the early start: a spec whose inputs cannot be read is left to the render step,
    which says so at its page."""
    started = 0
    for spec in specs:
        try:
            key = clip_key(spec, settings)
        except OSError:
            continue
        if key not in pool.renders and clip_store(settings).get(key) is None:
            pool.submit(key, spec, early=True)
            started += 1
    return started


def clip_store(settings: Settings) -> store.Store:
    """The clips' (and the film's) entries: ``<cache>/<key>/``."""
    return store.Store(settings.cache_dir, log=logger.info)


# --- the pool ---------------------------------------------------------------------------


@dataclass
class Render:
    """One render the pool was asked for: the spec it renders, its Made to come."""

    spec: ClipSpec
    early: bool  # started before the pages were read
    future: Future = field(default_factory=Future)
    process: subprocess.Popen | None = None  # the worker, while it runs
    unwanted: bool = False  # no page needs it, or the build stops: kill its worker


class RenderPool:
    """Renders in the background, at most ``settings.jobs`` at once, the longest expected
    first; each key once per build, for whoever asks first (the early start or the
    render step). ``history`` holds the CPU seconds of earlier renders by (docname,
    scene). Its threads are daemons: a build that ends, however it ends, calls ``stop``
    (build-finished, or at exit after Ctrl+C while pages are read), which kills what
    still runs, so no build waits for renders it will not use."""

    def __init__(self, settings: Settings, history: dict[tuple[str, str], float]):
        self.settings, self.history = settings, history
        self.renders: dict[str, Render] = {}
        self.span: tuple[float, float] | None = None  # first start, last end (perf_counter)
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()  # ties in time: first asked, first started
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopped = False

    def submit(self, key: str, spec: ClipSpec, *, early: bool = False, again: bool = False):
        """Render ``key`` for ``spec`` unless it was asked for already (``again``: anyway)."""
        with self._lock:
            if key in self.renders and not again:
                return
            if not self._threads:  # the first render of this build
                with contextlib.suppress(OSError):  # each render says it cannot store
                    self.settings.cache_dir.mkdir(parents=True, exist_ok=True)
                    clip_store(self.settings).sweep(older_than=STALE_TEMP_SECONDS)
                atexit.register(self.stop)
            render = self.renders[key] = Render(spec, early)
            self._queue.put((-expected_seconds(spec, self.history), next(self._order), key, render))
            if len(self._threads) < self.settings.jobs:
                thread = threading.Thread(target=self._work, daemon=True, name="manim-clip")
                self._threads.append(thread)
                thread.start()

    def finished(self, keys: Iterable[str]) -> Iterator[tuple[str, producers.Made]]:
        """(key, Made) for each of ``keys``, as their renders finish."""
        futures = {self.renders[key].future: key for key in keys}
        for future in as_completed(futures):
            yield futures[future], future.result()

    def discard_all_but(self, keys: Iterable[str]) -> None:
        """Cancel or stop the renders of keys not in ``keys``."""
        with self._lock:
            for key, render in self.renders.items():
                if key not in keys:
                    self._unwant(render)

    def stop(self) -> None:
        """Cancel what has not started, kill what runs, wait while the threads clean up."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            for render in self.renders.values():
                self._unwant(render)
        for _ in self._threads:
            self._queue.put((math.inf, next(self._order), None, None))
        for thread in self._threads:
            thread.join(timeout=60)
        atexit.unregister(self.stop)

    def started(self, render: Render, process: subprocess.Popen) -> None:
        """The worker of ``render`` runs: kill it at once if it became unwanted meanwhile."""
        with self._lock:
            render.process = process
            if render.unwanted:
                processes.kill_group(process)

    def _unwant(self, render: Render) -> None:  # with the lock held
        render.unwanted = True
        if not render.future.cancel() and render.process:
            processes.kill_group(render.process)

    def _work(self) -> None:
        while True:
            _, _, key, render = self._queue.get()
            if render is None:  # stop
                return
            # one of the build's cores, once the notebooks waiting for one have theirs
            if not CORES.acquire(RENDER_PRIORITY, give_up=lambda r=render: r.unwanted):
                render.future.set_running_or_notify_cancel()  # cancelled: tell its waiters
                continue
            try:
                self._run(key, render)
            finally:
                CORES.release()

    def _run(self, key: str, render: Render) -> None:
        if not render.future.set_running_or_notify_cancel():
            return
        began = time.perf_counter()
        try:
            made = _render_one(render, key, self)
        except OSError as error:  # the cache's disk is full, or the folder read-only
            problem = Problem(f"could not be stored: {error}", _core.STORAGE_HINT)
            made = producers.Made(key, problems=(problem,))
        except Exception as error:
            problem = Problem(f"could not render: {error!r}", HINTS["internal"])
            made = producers.Made(key, problems=(problem,))
        with self._lock:
            render.process = None
            first = self.span[0] if self.span else began
            self.span = (min(first, began), time.perf_counter())
        render.future.set_result(made)


def expected_seconds(spec: ClipSpec, history: dict[tuple[str, str], float]) -> float:
    """How long a render should take, to start the longest first: the CPU seconds of the
    clip's last render, else about a second per kB of scene code (draft quality)."""
    if (spec.docname, spec.scene) in history:
        return history[spec.docname, spec.scene]
    try:
        size = len(spec.code) if spec.code is not None else Path(spec.file).stat().st_size
    except OSError:
        return 0.0
    return size / 1000


def _render_one(render: Render, key: str, pool: RenderPool) -> producers.Made:
    """Render ``key`` into the store, unless another build holding its lock did."""
    started = time.perf_counter()
    made: list[bool] = []  # whether this build rendered it
    entries = clip_store(pool.settings)

    def make(out: Path) -> None:
        _render_into(out, render, key, pool)
        made.append(True)

    try:
        meta = entries.get_or_make(key, make)
    except Problem as problem:
        return producers.Made(key, problems=(problem,), seconds=_since(started))
    entry = Entry(str(entries.path(key)), meta)
    return producers.Made(key, entry, fresh=bool(made), seconds=_since(started))


def _since(began: float) -> float:
    return round(time.perf_counter() - began, 2)


def _render_into(out: Path, render: Render, key: str, pool: RenderPool) -> None:
    """Run the worker writing the clip into ``out``; a Problem when it stored nothing."""
    spec, settings = render.spec, pool.settings
    # scratch space in the store's own temporary area: its sweeper clears what a
    # killed build leaves, and nothing lands in the system's /tmp
    work = clip_store(settings).temp(f"{key}-work")
    try:
        returncode, output = _run_worker(
            _job(spec, key, out, str(work), settings),
            settings.timeout,
            lambda process: pool.started(render, process),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if returncode is None:
        raise Problem(
            f"did not finish within {settings.timeout:g} s and was stopped",
            "make the scene shorter, write it with :quality: draft, or raise manim_clip_timeout",
        )
    if returncode == 0:
        with contextlib.suppress(store.InvalidEntry):  # else: what the worker said, below
            store.validate(out)
            return
    raise _failure(out, returncode, output)


def scene_job(spec: ClipSpec, settings: Settings) -> dict:
    """What a worker is told about the scene: everything but where to write."""
    width, height, fps = QUALITY[effective_quality(spec, settings)]
    return {
        "scene": spec.scene,
        "file": spec.file,
        "code": spec.code,
        "code_first_line": spec.code_first_line,
        "page": spec.page,
        "source_label": spec.file or f"the inline code of {spec.docname}",
        "scene_dir": str(spec.scene_source.parent),
        "project_root": str(settings.project_root),
        "data": spec.data,
        "width": width,
        "height": height,
        "fps": fps,
        "poster": spec.poster,
        "formats": sorted(settings.formats),
    }


def _job(spec: ClipSpec, key: str, out: Path, work: str, settings: Settings) -> dict:
    return {
        **scene_job(spec, settings),
        "stem": f"{spec.scene}-{key}",
        "out_dir": str(out),
        "work_dir": work,
        "began": str(Path(work, "began")),  # written once manim is imported
        "parent_pid": os.getpid(),
    }


def _run_worker(job: dict, timeout: float, on_start) -> tuple[int | None, str]:
    """Run the worker; (returncode, output), returncode None after a timeout kill."""
    log = Path(job["work_dir"], "worker.log")
    returncode = processes.run_worker(
        WORKER_MODULE,
        job,
        cwd=job["work_dir"],
        log=log,
        timeout=timeout,
        on_start=on_start,
        began=Path(job["began"]),
    )
    return returncode, log.read_bytes().decode(errors="replace")


STORAGE_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT)

HINTS = {
    "unknown-scene": "use one of the classes the file defines, or fix the directive's argument",
    "syntax": "fix the syntax error in the scene",
    "import": "the error happens while the scene module runs, before construct()",
    "construct": "fix the scene; nothing was cached for it, so the next build tries again",
    "internal": "this is a bug in ext/manim_clip: please report it with the traceback",
}


def _failure(out: Path, returncode: int, output: str) -> Problem:
    error_file = out / "error.json"
    error = None
    with contextlib.suppress(OSError, ValueError):  # a worker that could not write it
        error = json.loads(error_file.read_text(encoding="utf-8"))
    full = output if error is None else f"{error['message']}\n{error.get('trace', '')}"
    if any(f"[Errno {code}]" in full for code in STORAGE_ERRNOS):  # not the scene's fault
        lines = error["message"] if error else "\n".join(output.strip().splitlines()[-8:])
        return Problem(f"could not be stored:\n{_indent(lines)}", _core.STORAGE_HINT)
    if error is None and (problem := _unwritable(out)):  # it could not even write its log
        return Problem(f"could not be stored: {problem}", _core.STORAGE_HINT)
    if error is not None:
        trace = _indent(error.get("trace", ""))
        message = error["message"] + (f"\n{trace}" if trace else "")
        return Problem(message, HINTS.get(error["kind"], HINTS["internal"]))
    tail = _indent("\n".join(output.strip().splitlines()[-8:]))
    how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
    return Problem(
        f"the worker rendering it died ({how})" + (f":\n{tail}" if tail else ""),
        "a crash in native code (or os._exit) in the scene; run it alone with manim to see more",
    )


def _unwritable(folder: Path) -> str | None:
    """Why ``folder`` takes no more bytes (full, read-only), or None when it does."""
    try:
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(b"\0" * 65536)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        return str(error)
    return None


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


# --- the summary ------------------------------------------------------------------------


def summary_line(results: Iterable[ClipResult]) -> str:
    """The line benchmarks parse: ``manim-clip: N rendered, M reused, K failed``."""
    statuses = [result.status for result in results]
    counts = {status: statuses.count(status) for status in ("rendered", "reused", "failed")}
    return "manim-clip: " + ", ".join(f"{n} {status}" for status, n in counts.items())


def pool_line(pool: RenderPool) -> str | None:
    """How the renders ran: ``manim-clip: N renders in S s (C CPU-s, J at a time; E
    started before reading)``, S from the first start to the last end; None if none ran."""
    done = [r for r in pool.renders.values() if r.future.done() and not r.future.cancelled()]
    if not done or pool.span is None:
        return None
    made = [render.future.result() for render in done]  # the worker's and its LaTeX's
    cpu = sum(m.value.meta.get("cpu_seconds", 0.0) for m in made if m.fresh)
    early = sum(render.early for render in done)
    return (
        f"manim-clip: {len(done)} renders in {pool.span[1] - pool.span[0]:.1f} s "
        f"({cpu:.1f} CPU-s, {pool.settings.jobs} at a time; {early} started before reading)"
    )


def summary_table(results: Iterable[ClipResult]) -> list[str]:
    rows = [
        (f"{r.spec.docname}:{r.spec.lineno}", r.spec.scene, r.status, f"{r.seconds:.1f}")
        for r in results
    ]
    header = ("clip", "scene", "status", "seconds")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    return [
        "  ".join(
            [
                row[0].ljust(widths[0]),
                row[1].ljust(widths[1]),
                row[2].ljust(widths[2]),
                row[3].rjust(widths[3]),
            ]
        )
        for row in [header, *rows]
    ]
