"""Processes as /proc shows them: what a command left running after it ended."""

from __future__ import annotations

import os
from pathlib import Path

Proc = tuple[int, int]
"""A process as (pid, start time in clock ticks): unique even when a pid is reused."""


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, start time, state) of ``pid``, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[19]), fields[0]


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def descendants(root: int) -> set[Proc]:
    """Every live process below ``root``."""
    children: dict[int, list[Proc]] = {}
    for pid in _pids():
        st = _stat(pid)
        if st is not None:
            children.setdefault(st[0], []).append((pid, st[1]))
    found: set[Proc] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child[0])
    return found


def alive(procs: set[Proc]) -> set[Proc]:
    """Those of ``procs`` still running (a zombie waiting for its reaper is not running)."""
    left = set()
    for pid, started in procs:
        st = _stat(pid)
        if st is not None and st[1] == started and st[2] != "Z":
            left.add((pid, started))
    return left


def with_home(prefect_home: Path) -> set[int]:
    """Live processes whose environment has ``PREFECT_HOME=prefect_home``."""
    needle = f"PREFECT_HOME={prefect_home}".encode()
    found = set()
    for pid in _pids():
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        st = _stat(pid)
        if needle in env and st is not None and st[2] != "Z":
            found.add(pid)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
