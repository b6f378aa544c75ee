"""Child processes that never outlive the build, share its cores, and SIGTERM handled
like Ctrl+C.

Torch-free and Sphinx-free: clip workers, training and notebook pools all use it.
``run_worker`` starts a worker module in a process group of its own, with a time
limit, and kills the group once it is done; ``call_apart`` uses it to run one function
of author code (a diagram's trace, a shape capture) in such a worker, under a memory
limit too: ``python -m buildlib.processes`` is that worker. Whatever the code does there
(exit, crash, fork, run out of memory, hang) the build goes on and says what happened.

A build killed with SIGKILL runs no clean-up code, so its children must notice by
themselves: ``die_with_parent`` asks Linux to kill the calling process when its parent
dies (PR_SET_PDEATHSIG). A build stopped with SIGTERM (a CI timeout, ``kill``) should
clean up exactly as after Ctrl+C: ``sigterm_as_interrupt`` turns SIGTERM into
KeyboardInterrupt, so every ``finally`` that stops workers and removes temporary
folders runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import itertools
import json
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int | None = None, *, group: bool = False) -> None:
    """Be killed when the parent process dies; if ``parent`` (its pid) is already gone,
    exit now. With ``group``, take this process's whole process group along (what it
    started: a scene's LaTeX, ffmpeg or its own children), by turning the parent's death
    into SIGTERM and SIGTERM into SIGKILL for the group. No-op where Linux's prctl is not
    available."""
    if not sys.platform.startswith("linux"):
        return
    if group:
        signal.signal(signal.SIGTERM, _kill_own_group)
    death = signal.SIGTERM if group else signal.SIGKILL
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, death)
    if parent is not None and os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def _kill_own_group(signum, frame):
    os.killpg(0, signal.SIGKILL)  # this process too


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def interrupt_on_sigterm():
    """From now on SIGTERM raises KeyboardInterrupt in the main thread; returns the
    handler it replaced (None when not called from the main thread: nothing changed)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


def restore_sigterm(previous) -> None:
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)


# --- sharing the cores ------------------------------------------------------------------


class Cores:
    """At most ``count`` of this build's CPU-bound child processes at once, whichever pool
    starts them: clip renders and notebook executions run side by side, and more busy
    processes than cores would only slow each other (cache and context switches) for no
    gain. A freed core goes to the lowest ``priority`` waiting, the earliest among equals.
    """

    def __init__(self, count: int):
        self.count = count
        self._free = count
        self._waiting: list[tuple[int, int]] = []  # (priority, ticket) of each waiter
        self._tickets = itertools.count()
        self._changed = threading.Condition()

    def acquire(self, priority: int = 0, give_up: Callable[[], bool] = lambda: False) -> bool:
        """Wait for a core; False (holding none) once ``give_up()`` is true."""
        with self._changed:
            turn = (priority, next(self._tickets))
            self._waiting.append(turn)
            try:
                while not (self._free and min(self._waiting) == turn):
                    if give_up():
                        return False
                    self._changed.wait(timeout=0.2)  # give_up is polled, never notified
                self._free -= 1
                return True
            finally:
                self._waiting.remove(turn)
                self._changed.notify_all()  # the next in line may find a core free too

    @property
    def waiting(self) -> int:
        """How many callers are in line for a core now."""
        with self._changed:
            return len(self._waiting)

    def release(self) -> None:
        with self._changed:
            self._free += 1
            self._changed.notify_all()


CORES = Cores(os.cpu_count() or 1)  # the one budget of this process


@dataclass(frozen=True)
class Task:
    """One job for ``run_longest_first``: ``function(*args)``, of size ``work``."""

    function: Callable
    args: tuple
    work: float


def run_longest_first(
    tasks: list[Task], jobs: int | None = None, *, keep_going: bool = False
) -> list[BaseException | None]:
    """Run the tasks, the most work first (so no core idles at the end), up to ``jobs``
    (default: the cores) at once, in a ``spawned_pool``; here, one by one, with one job.
    A failed task stops the rest and raises, unless ``keep_going``: then each task's
    error (an Exception or SystemExit it raised; None if it ran) is returned, in the
    order of ``tasks``, and the others run on."""
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i].work)
    failures: list[BaseException | None] = [None] * len(tasks)
    jobs = min(jobs or os.cpu_count() or 1, len(tasks))
    if jobs <= 1:
        for i in order:
            failures[i] = _failure(lambda i=i: tasks[i].function(*tasks[i].args), keep_going)
        return failures
    pool = spawned_pool(jobs)
    try:
        futures = {i: pool.submit(tasks[i].function, *tasks[i].args) for i in order}
        for i, future in futures.items():
            failures[i] = _failure(future.result, keep_going)
    except BaseException:  # Ctrl+C, SIGTERM, a failed task: start nothing more, wait for none
        pool.shutdown(wait=False, cancel_futures=True)  # the workers die with this process
        raise
    pool.shutdown()
    return failures


def _failure(call: Callable[[], object], keep_going: bool) -> BaseException | None:
    """What ``call()`` raised, if ``keep_going`` lets it be an answer (None if it ran)."""
    try:
        call()
    except (Exception, SystemExit) as error:
        if not keep_going:
            raise
        return error
    return None


def spawned_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` spawned processes (no forked copy of a threaded torch), each of
    which dies with this one."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        jobs, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
    )


# --- running code apart -------------------------------------------------------------------

# The folder that holds the ``ext`` and ``buildlib`` packages: ``python -m`` finds workers.
PACKAGE_PARENT = Path(__file__).resolve().parents[1]
# How long a worker may take to start (Python, torch) before its own time limit counts.
STARTUP_SECONDS = 120


def run_worker(
    module: str,
    job: dict,
    *,
    cwd: Path | str,
    log: Path,
    timeout: float,
    on_start: Callable[[subprocess.Popen], None] = lambda process: None,
    began: Path | None = None,
) -> int | None:
    """Run ``python -m module`` with ``job`` as JSON on stdin, its output into ``log``;
    its return code, or None when it ran longer than ``timeout`` seconds (0: no limit),
    counted from when the file ``began`` appears if given (its imports are not its time).

    The worker gets a process group of its own, killed whole once the worker ends: what
    it started (LaTeX, a fork of model code) never outlives it. Output goes to a file,
    not a pipe, and the wait is for the worker itself, so a child that keeps running
    (and would keep a pipe open) cannot make a finished worker look like a timeout."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(PACKAGE_PARENT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    on_start(process)
    try:
        with contextlib.suppress(BrokenPipeError):  # a worker that died at once
            process.stdin.write(json.dumps(job).encode())
            process.stdin.close()
        return _wait(process, timeout, began)
    finally:
        kill_group(process)  # the worker if it ran too long; what it left running in any case
        process.wait()


def _wait(process: subprocess.Popen, timeout: float, began: Path | None) -> int | None:
    if not timeout:
        return process.wait()
    if began is None:
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
    deadline = time.monotonic() + STARTUP_SECONDS + timeout
    started = False
    while True:
        try:
            return process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            if not started and began.exists():
                started, deadline = True, time.monotonic() + timeout
            if time.monotonic() >= deadline:
                return None


def kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Apart:
    """How a ``call_apart`` went: the function's JSON result, or why there is none."""

    value: object = None
    failure: str = ""  # how the process ended without a result, with its output's tail
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.failure and not self.timed_out


def call_apart(
    function: str,
    kwargs: dict,
    *,
    timeout: float,
    memory: int | None,
    imports: tuple[str, ...] = (),
) -> Apart:
    """``module:function(**kwargs)`` in a worker of its own (``run_worker``), with this
    process's sys.path and folder, at most ``memory`` bytes of address space and
    ``timeout`` seconds, counted once the function's module and ``imports`` (torch) are
    imported; the function returns JSON-able data. Its own errors are the
    function's to turn into data: a failure here is the process ending without a result
    (an exit, os._exit, a signal, the kernel's OOM killer) or the code forking."""
    with tempfile.TemporaryDirectory(prefix="nanobook-apart-") as work:
        work = Path(work)
        job = {
            "function": function,
            "kwargs": kwargs,
            "sys_path": sys.path,
            "memory": memory,
            "imports": imports,
            "parent_pid": os.getpid(),
            "work": str(work),
        }
        log = work / "output.log"
        returncode = run_worker(
            "buildlib.processes",
            job,
            cwd=os.getcwd(),
            log=log,
            timeout=timeout,
            began=work / "began",
        )
        output = log.read_bytes().decode(errors="replace")
        if returncode is None:
            return Apart(timed_out=True)
        try:
            answer = json.loads((work / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return Apart(failure=_ended(returncode, output))
    if answer["forked"]:
        return Apart(failure="the code called fork(): its copies were stopped")
    return Apart(value=answer["value"])


def _ended(returncode: int, output: str) -> str:
    if returncode < 0:
        how = f"was killed by signal {signal.Signals(-returncode).name}"
        if returncode == -signal.SIGKILL:
            how += " (the kernel's out-of-memory killer, or a kill)"
    else:
        how = f"exited with code {returncode} (sys.exit or os._exit)"
    tail = "\n".join(output.strip().splitlines()[-6:])
    return f"the process running it {how} before it returned" + (f":\n{tail}" if tail else "")


def _stop_copy() -> None:
    os._exit(0)


def _apart_worker() -> int:
    """``python -m buildlib.processes``: run the job ``call_apart`` sent, write result.json."""
    die_with_parent(group=True)  # a killed build takes the worker and its forks along
    job = json.loads(sys.stdin.read())
    if os.getppid() != job["parent_pid"]:  # the build died before prctl took effect
        return 1
    sys.path[:] = job["sys_path"]
    if job["memory"]:
        resource.setrlimit(resource.RLIMIT_AS, (job["memory"], job["memory"]))
    module, _, name = job["function"].partition(":")
    for other in job["imports"]:
        importlib.import_module(other)
    function = getattr(importlib.import_module(module), name)
    work, forks = Path(job["work"]), []
    # A copy of the code ends the moment it is made: one that went on could fork again
    # (a fork in a loop fills memory in seconds), and only the worker answers.
    os.register_at_fork(after_in_parent=lambda: forks.append(1), after_in_child=_stop_copy)
    (work / "began").touch()  # the time limit counts from here
    value = function(**job["kwargs"])
    result = work / "result.tmp"
    result.write_text(json.dumps({"value": value, "forked": len(forks)}), encoding="utf-8")
    result.replace(work / "result.json")
    return 0


if __name__ == "__main__":
    sys.exit(_apart_worker())
