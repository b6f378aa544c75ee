"""Processes as Linux's /proc shows them: what the kill tests check is left running."""

from __future__ import annotations

import time
from pathlib import Path


def running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has finished, only not been reaped)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def descendants(pid: int) -> set[int]:
    """Every running process below ``pid``."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue  # gone meanwhile
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        if not fields.get("State", "").startswith("Z"):
            children.setdefault(int(fields["PPid"]), []).append(int(status.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def all_pids() -> list[int]:
    return [int(path.name) for path in Path("/proc").glob("[0-9]*")]


def assert_gone(pids, within: float, what: str) -> None:
    """Wait up to ``within`` seconds for every one of ``pids`` to end."""
    deadline = time.monotonic() + within
    while left := [pid for pid in pids if running(pid)]:
        assert time.monotonic() < deadline, f"{what}: {left}"
        time.sleep(0.2)
