"""Child processes that never outlive the build, and SIGTERM handled like Ctrl+C.

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
import os
import signal
import sys
import threading

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
