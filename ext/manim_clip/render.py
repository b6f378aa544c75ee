"""The render step: cache keys, the content-addressed cache, and the pool of workers.

Runs once per build after all pages are read. Each clip's key hashes everything that
changes its video; a key already in the cache is reused, every other one is rendered
in a process of its own (worker.py), at most ``manim_clip_jobs`` at a time, killed
after ``manim_clip_timeout`` seconds. A worker writes into a temp folder inside the
cache, which is renamed to ``<cache>/<key>/`` only when complete: readers never see a
half clip, and when two builds race for one key the first rename wins.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from sphinx.util import logging
from sphinx.util.display import status_iterator

from .. import _core, store
from .directive import SUBTYPE, ClipSpec

logger = logging.getLogger(__name__)

# (width, height, fps) per quality
QUALITY = {"draft": (854, 480, 15), "publish": (1280, 720, 30), "high": (1920, 1080, 60)}
QUALITY_ENV = "NANOBOOK_CLIP_QUALITY"  # overrides conf and :quality: (tests, livedocs)
STALE_TEMP_SECONDS = 3600  # a temp folder this old belongs to no running build

WORKER_MODULE = f"{__package__}.worker"
# The folder that holds the top-level package, so ``python -m`` finds the worker.
PACKAGE_PARENT = Path(__file__).resolve().parents[len(__package__.split("."))]


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


@dataclass
class ClipResult:
    """What the render step did for one clip; the visitors read ``directory`` and ``meta``."""

    uid: str
    docname: str
    lineno: int
    scene: str
    status: str  # rendered | reused | failed
    key: str = ""
    seconds: float = 0.0
    directory: str = ""
    meta: dict = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def path(self, kind: str) -> Path | None:
        name = self.meta.get("files", {}).get(kind)
        return Path(self.directory, name) if name else None


def effective_quality(spec: ClipSpec, settings: Settings) -> str:
    return os.environ.get(QUALITY_ENV) or spec.quality or settings.quality


def build_quality(settings: Settings) -> str:
    """The quality of the build as a whole (the film's): without any clip's :quality:."""
    return os.environ.get(QUALITY_ENV) or settings.quality


@functools.cache
def producer_code() -> list[str]:
    """The worker's code and all it imports (media.py with its GIF, WebM and H.264
    settings; manim, av and pillow by version): the producer's part of every clip key."""
    return store.code_inputs(Path(__file__).with_name("worker.py"), search=[PACKAGE_PARENT])


def clip_key(spec: ClipSpec, settings: Settings) -> str:
    """Hash of everything that changes the clip's files (not caption, alt or autoplay).

    Python is keyed on its code (a comment edit re-renders nothing), data files on bytes.
    """
    root = settings.project_root

    def name(path: str) -> Path:
        return Path(path).relative_to(root) if Path(path).is_relative_to(root) else Path(path)

    width, height, fps = QUALITY[effective_quality(spec, settings)]
    return _core.content_hash(
        *producer_code(),
        spec.scene,
        spec.code if spec.code is not None else store.code_digest(Path(spec.file)),
        *sorted(f"{name(path)}={store.code_digest(Path(path))}" for path in spec.imports),
        *[f"{name(path)}={_core.file_digest(Path(path))}" for path in spec.data],
        f"{width}x{height}@{fps}",
        f"poster={spec.poster}",
        "formats=" + ",".join(sorted(settings.formats)),
        f"inputs={settings.inputs_digest}",
    )


def render_clips(specs: list[ClipSpec], settings: Settings) -> dict[str, ClipResult]:
    """Find or render every clip; returns a result per spec uid. Warns for each failure."""
    results: dict[str, ClipResult] = {}
    missing: dict[str, list[ClipSpec]] = {}  # key -> the specs that need it
    for spec in specs:
        result = ClipResult(spec.uid, spec.docname, spec.lineno, spec.scene, "failed")
        results[spec.uid] = result
        if spec.error:
            result.error = spec.error  # warned while reading
            continue
        try:
            result.key = clip_key(spec, settings)
        except OSError as error:
            result.error = f"cannot read an input of the scene: {error}"
            _core.warn(
                logger,
                f"manim-clip {spec.scene}: {result.error}",
                location=spec.location,
                subtype=SUBTYPE,
                hint="rebuild so the page is read again",
            )
            continue
        entry = settings.cache_dir / result.key
        if is_complete(entry):
            use_entry(result, entry, "reused")
        elif result.key in missing:
            missing[result.key].append(spec)
        else:
            missing[result.key] = [spec]
    if missing:
        settings.cache_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(settings.cache_dir)
        for key, outcome in _run_pool(missing, settings):
            first = missing[key][0]
            for spec in missing[key]:
                result = results[spec.uid]
                if outcome.ok:
                    use_entry(
                        result, settings.cache_dir / key, "rendered" if spec is first else "reused"
                    )
                    result.seconds = outcome.seconds if spec is first else 0.0
                else:
                    result.seconds, result.error = outcome.seconds, outcome.message
                    _core.warn(
                        logger,
                        f"manim-clip {spec.scene}: {outcome.message}",
                        location=spec.location,
                        subtype=SUBTYPE,
                        hint=outcome.hint,
                    )
    for result in results.values():  # every build, so -W fails alike on a warm cache
        for note in result.meta.get("notes", []):
            _core.warn(
                logger,
                f"manim-clip {result.scene}: {note}",
                location=(result.docname, result.lineno),
                subtype=SUBTYPE,
                hint="choose a time within the clip for :poster:",
            )
    return results


def is_complete(entry: Path) -> bool:
    """A cache entry (a clip's or the film's folder) is complete once it has meta.json,
    and usable once every file it names is inside it (a restored cache is input too)."""
    try:
        store.validate(entry)
    except store.InvalidEntry:
        return False
    return True


def use_entry(result, entry: Path, status: str) -> None:
    """Point a ClipResult or FilmResult at a complete, validated cache entry."""
    result.status, result.directory = status, str(entry)
    result.meta = store.validate(entry)


def remove_stale_temps(cache_dir: Path) -> None:
    """Temp folders left by killed builds: those whose name (``.tmp-[work-]KEY-PID-…``)
    holds the PID of a build that is gone, and any older than STALE_TEMP_SECONDS; a
    build running now keeps its own."""
    for temp in cache_dir.glob(".tmp-*"):
        parts = temp.name.removeprefix(".tmp-").removeprefix("work-").split("-")
        dead = len(parts) > 2 and parts[1].isdigit() and not store.alive(int(parts[1]))
        with contextlib.suppress(OSError):  # removed meanwhile by another build
            if dead or time.time() - temp.stat().st_mtime > STALE_TEMP_SECONDS:
                shutil.rmtree(temp, ignore_errors=True)


# --- the pool ---------------------------------------------------------------------------


@dataclass
class Outcome:
    ok: bool
    seconds: float
    message: str = ""
    hint: str = ""


def _run_pool(missing: dict[str, list[ClipSpec]], settings: Settings):
    """Render each key in its own process; yields (key, Outcome) as they finish."""
    live: set[subprocess.Popen] = set()
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=settings.jobs) as pool:
        futures: dict[Future, str] = {
            pool.submit(_render_one, specs[0], key, settings, live, lock): key
            for key, specs in missing.items()
        }
        try:
            for future in status_iterator(
                as_completed(futures),
                "rendering manim clips... ",
                "darkgreen",
                len(futures),
                stringify_func=lambda f: missing[futures[f]][0].scene,
            ):
                try:
                    outcome = future.result()
                except Exception as error:  # e.g. the cache's disk is full
                    outcome = Outcome(False, 0.0, f"could not render: {error!r}", HINTS["internal"])
                yield futures[future], outcome
        finally:  # interrupted (Ctrl+C, an error): stop the workers too
            for future in futures:
                future.cancel()
            with lock:
                for process in live:
                    _kill(process)


def _render_one(spec: ClipSpec, key: str, settings: Settings, live: set, lock) -> Outcome:
    started = time.perf_counter()
    pid = os.getpid()  # in the names: the next build clears them if this one dies
    out = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-{pid}-", dir=settings.cache_dir))
    out.chmod(0o755)  # mkdtemp's folder is private; a shared cache must be readable
    try:
        # scratch space in the cache's own temporary area: remove_stale_temps clears
        # what a killed build leaves, and nothing lands in the system's /tmp
        scratch = {"prefix": f".tmp-work-{key}-{pid}-", "dir": settings.cache_dir}
        with tempfile.TemporaryDirectory(**scratch) as work:
            returncode, output = _run_worker(
                _job(spec, key, out, work, settings), settings.timeout, live, lock
            )
        seconds = round(time.perf_counter() - started, 2)
        if returncode is None:
            return Outcome(
                False,
                seconds,
                f"did not finish within {settings.timeout:g} s and was stopped",
                "make the scene shorter, write it with :quality: "
                "draft, or raise manim_clip_timeout",
            )
        if returncode == 0 and is_complete(out):
            move_into_cache(out, settings.cache_dir / key)
            return Outcome(True, seconds)
        return _failure(out, returncode, output, seconds)
    finally:
        shutil.rmtree(out, ignore_errors=True)  # gone after a successful rename


def _job(spec: ClipSpec, key: str, out: Path, work: str, settings: Settings) -> dict:
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
        "stem": f"{spec.scene}-{key}",
        "out_dir": str(out),
        "work_dir": work,
        "parent_pid": os.getpid(),
    }


def _run_worker(job: dict, timeout: float, live: set, lock) -> tuple[int | None, str]:
    """Run the worker; (returncode, output), returncode None after a timeout kill.

    Its output goes to a file, not a pipe, and the wait is for the worker itself: a
    child the scene started that keeps running (and would keep a pipe open) cannot make
    a finished render look like a timeout; it is killed with the worker's group."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(PACKAGE_PARENT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    log = Path(job["work_dir"], "worker.log")
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=job["work_dir"],
            env=env,
            start_new_session=True,  # its own process group: a kill takes LaTeX & co. too
        )
    with lock:
        live.add(process)
    try:
        with contextlib.suppress(BrokenPipeError):  # a worker that died at once
            process.stdin.write(json.dumps(job).encode())
            process.stdin.close()
        returncode = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        returncode = None
    finally:
        _kill(process)  # the worker if it ran too long; what it left running in any case
        process.wait()
        with lock:
            live.discard(process)
    return returncode, log.read_bytes().decode(errors="replace")


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)


def move_into_cache(out: Path, entry: Path) -> None:
    """Rename the finished folder into place; if another build got there first, keep theirs."""
    if entry.exists() and not is_complete(entry):
        # A broken entry (not made by this code: renames are whole) is set aside first.
        logger.info(f"manim-clip: the cache entry {entry.name} was invalid; replaced")
        broken = entry.with_name(f".tmp-broken-{entry.name}-{os.getpid()}")
        entry.rename(broken)
        shutil.rmtree(broken, ignore_errors=True)
    try:
        out.rename(entry)
    except OSError:
        if not is_complete(entry):
            raise


HINTS = {
    "unknown-scene": "use one of the classes the file defines, or fix the directive's argument",
    "syntax": "fix the syntax error in the scene",
    "import": "the error happens while the scene module runs, before construct()",
    "construct": "fix the scene; nothing was cached for it, so the next build tries again",
    "internal": "this is a bug in ext/manim_clip: please report it with the traceback",
}


def _failure(out: Path, returncode: int, output: str, seconds: float) -> Outcome:
    error_file = out / "error.json"
    if error_file.is_file():
        error = json.loads(error_file.read_text(encoding="utf-8"))
        trace = _indent(error.get("trace", ""))
        message = error["message"] + (f"\n{trace}" if trace else "")
        return Outcome(False, seconds, message, HINTS.get(error["kind"], HINTS["internal"]))
    tail = _indent("\n".join(output.strip().splitlines()[-8:]))
    how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
    return Outcome(
        False,
        seconds,
        f"the worker rendering it died ({how})" + (f":\n{tail}" if tail else ""),
        "a crash in native code (or os._exit) in the scene; run it alone with manim to see more",
    )


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


# --- the summary ------------------------------------------------------------------------


def summary_line(results: Iterable[ClipResult]) -> str:
    """The line benchmarks parse: ``manim-clip: N rendered, M reused, K failed``."""
    statuses = [result.status for result in results]
    counts = {status: statuses.count(status) for status in ("rendered", "reused", "failed")}
    return "manim-clip: " + ", ".join(f"{n} {status}" for status, n in counts.items())


def summary_table(results: Iterable[ClipResult]) -> list[str]:
    rows = [(f"{r.docname}:{r.lineno}", r.scene, r.status, f"{r.seconds:.1f}") for r in results]
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
