"""ext/processes.py: the build's cores shared by its pools, and tasks run longest first."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ext.processes import Cores, Task, run_longest_first


def test_no_more_holders_than_cores_and_a_freed_core_goes_to_the_lowest_priority():
    cores = Cores(2)
    holding, most, order = [], [0], []
    lock = threading.Lock()

    def work(name: str, priority: int) -> None:
        cores.acquire(priority)
        with lock:
            holding.append(name)
            most[0] = max(most[0], len(holding))
            order.append(name)
        time.sleep(0.05)
        with lock:
            holding.remove(name)
        cores.release()

    first = [threading.Thread(target=work, args=(f"first {i}", 0)) for i in range(2)]
    for thread in first:
        thread.start()
    while len(holding) < 2:  # both cores taken before the others ask
        time.sleep(0.005)
    later = [("render a", 1), ("render b", 1), ("notebook", 0)]
    threads = []
    for name, priority in later:  # asked in this order; the notebook outranks the renders
        threads.append(threading.Thread(target=work, args=(name, priority)))
        threads[-1].start()
        time.sleep(0.01)
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
