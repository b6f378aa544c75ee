"""Child processes that never outlive the build, share its cores, and SIGTERM handled
like Ctrl+C.

Torch-free and Sphinx-free: clip workers, training and notebook pools all use it.

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
import itertools
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

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


def run_longest_first(tasks: list[Task], jobs: int | None = None) -> None:
    """Run the tasks, the most work first (so no core idles at the end), up to ``jobs``
    (default: the cores) at once, in a ``spawned_pool``; here, one by one, with one job."""
    tasks = sorted(tasks, key=lambda task: -task.work)
    jobs = min(jobs or os.cpu_count() or 1, len(tasks))
    if jobs <= 1:
        for task in tasks:
            task.function(*task.args)
        return
    with spawned_pool(jobs) as pool:
        for future in [pool.submit(task.function, *task.args) for task in tasks]:
            future.result()


def spawned_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` spawned processes (no forked copy of a threaded torch), each of
    which dies with this one."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        jobs, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
    )
