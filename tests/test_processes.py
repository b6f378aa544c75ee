"""buildlib/processes.py: the build's cores shared by its pools, tasks run longest first, and
functions of author code called apart, whatever they do."""

from __future__ import annotations

import contextlib
import operator
import os
import signal
import threading
import time
from pathlib import Path

import procfs
import pytest

from buildlib.processes import Cores, Task, call_apart, run_longest_first


def test_no_more_holders_than_cores_and_a_freed_core_goes_to_the_lowest_priority():
    cores = Cores(2)
    holding, most, order = [], [0], []
    lock = threading.Lock()
    all_asked, at_once = threading.Event(), threading.Event()
    at_once.set()

    def work(name: str, priority: int, hold_until: threading.Event) -> None:
        cores.acquire(priority)
        with lock:
            holding.append(name)
            most[0] = max(most[0], len(holding))
            order.append(name)
        hold_until.wait()
        with lock:
            holding.remove(name)
        cores.release()

    first = [threading.Thread(target=work, args=(f"first {i}", 0, all_asked)) for i in range(2)]
    for thread in first:
        thread.start()
    while len(holding) < 2:  # both cores taken before the others ask
        time.sleep(0.005)
    later = [("render a", 1), ("render b", 1), ("notebook", 0)]
    threads = []
    for name, priority in later:  # asked in this order; the notebook outranks the renders
        threads.append(threading.Thread(target=work, args=(name, priority, at_once)))
        threads[-1].start()
        while cores.waiting < len(threads):  # in line before the next one asks
            time.sleep(0.001)
    all_asked.set()
    for thread in first + threads:
        thread.join()
    assert most[0] == 2
    assert order[2:] == ["notebook", "render a", "render b"]


def test_a_waiter_that_gives_up_takes_no_core_and_blocks_no_one():
    cores = Cores(1)
    cores.acquire()
    stop = threading.Event()
    gave_up = []
    waiter = threading.Thread(target=lambda: gave_up.append(cores.acquire(0, stop.is_set)))
    waiter.start()
    time.sleep(0.05)
    stop.set()
    waiter.join(timeout=5)
    assert gave_up == [False]
    cores.release()
    assert cores.acquire(1, give_up=lambda: True)  # a free core is granted at once
    cores.release()


def _append(path: str, text: str) -> None:
    with open(path, "a") as file:
        file.write(text + "\n")


def test_tasks_run_longest_first_and_all_run_in_processes(tmp_path: Path):
    log = tmp_path / "log"
    tasks = [Task(_append, (str(log), name), work) for name, work in (("s", 1), ("l", 3), ("m", 2))]
    run_longest_first(tasks, jobs=1)
    assert log.read_text().split() == ["l", "m", "s"]

    spawned = tmp_path / "spawned"
    run_longest_first([Task(_append, (str(spawned), name), 1) for name in "abcd"], jobs=2)
    assert sorted(spawned.read_text().split()) == list("abcd")


# --- call_apart: the child's functions (imported by name in the worker) -------------------


def answers(number: int) -> dict:
    return {"twice": 2 * number, "pid": os.getpid()}


def ends_at_once() -> None:
    os._exit(0)


def crashes() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def takes_too_much_memory() -> None:
    bytearray(6 * 10**9)  # 6 GB under a 1 GB limit: MemoryError, an error like any other


def forks(marker: str) -> int:
    """Forks in a loop, as a bug might: a copy that went on would fork again, and again."""
    copies = []
    for _ in range(20):
        copy = os.fork()
        if copy == 0:
            Path(marker).with_suffix(".ran").write_text("a copy ran the code")
            time.sleep(600)  # would outlive the build
        copies.append(copy)
    Path(marker).write_text(" ".join(map(str, copies)))
    return 1


def never_returns() -> None:
    while True:
        with contextlib.suppress(BaseException):  # even KeyboardInterrupt
            time.sleep(1)


def _apart(name: str, timeout: float = 60, memory: int | None = 10**9, **kwargs):
    return call_apart(f"{__name__}:{name}", kwargs, timeout=timeout, memory=memory)


def test_a_failed_task_stops_the_pool_without_waiting_for_the_others():
    """A stopped or failed training run must not keep the build waiting (an interrupt
    reaches the loop as an exception, like this failure): the queued tasks are cancelled
    and the running ones are not waited for."""
    tasks = [
        Task(operator.truediv, (1, 0), 3),
        Task(time.sleep, (10,), 2),
        Task(time.sleep, (10,), 1),
    ]
    started = time.monotonic()
    with pytest.raises(ZeroDivisionError):
        run_longest_first(tasks, jobs=2)
    assert time.monotonic() - started < 5


def test_a_function_called_apart_answers_from_a_process_of_its_own():
    apart = _apart("answers", number=21)
    assert apart.ok and apart.value["twice"] == 42
    assert apart.value["pid"] != os.getpid()


def test_an_exit_a_signal_or_running_out_of_memory_apart_is_a_failure_said_in_words():
    exited, crashed, hungry = (
        _apart("ends_at_once"),
        _apart("crashes"),
        _apart("takes_too_much_memory"),
    )
    assert "exited with code 0 (sys.exit or os._exit)" in exited.failure
    assert "killed by signal SIGSEGV" in crashed.failure
    assert "exited with code 1" in hungry.failure and "MemoryError" in hungry.failure
    assert not (exited.ok or crashed.ok or hungry.ok)


def test_a_fork_apart_is_a_failure_and_its_copies_end_at_once(tmp_path):
    marker = tmp_path / "fork.pid"
    apart = _apart("forks", marker=str(marker))
    assert "fork()" in apart.failure
    assert not marker.with_suffix(".ran").exists()  # a copy ends before any of the code
    copies = [int(pid) for pid in marker.read_text().split()]
    procfs.assert_gone(copies, within=10, what="a fork outlived its worker")


def test_code_apart_that_never_returns_is_stopped_at_its_time_limit():
    apart = _apart("never_returns", timeout=1)
    assert apart.timed_out and not apart.ok
