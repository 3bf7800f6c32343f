"""Ending the process groups a killed runner left behind.

Each component runs in its own session (``start_new_session=True``), so its session id and
process group id are the pid of the process the runner started. The runner records that
pid and its start time in the spool; a runner restarted on the same spool ends every
process still in one of those sessions before it starts anything, so that a new instance
never fights an old one for its ports. Linux only (reads ``/proc``); elsewhere it does
nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

__all__ = ["process_start_ticks", "reap_sessions", "session_members"]

_PROC = Path("/proc")


def process_start_ticks(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot, or None if unknown."""
    stat = _stat_fields(pid)
    return int(stat[19]) if stat else None


def session_members(session: int, started_since: int) -> list[int]:
    """Pids of live processes in ``session`` that started at or after ``started_since``."""
    members = []
    if not _PROC.is_dir():
        return members
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat_fields(int(entry.name))
        if stat and int(stat[3]) == session and int(stat[19]) >= started_since:
            if stat[0] == "Z":
                continue
            members.append(int(entry.name))
    return members


def reap_sessions(recorded: list[tuple[str, int, int]], grace: float = 3.0) -> list[str]:
    """End what is left of each recorded ``(instance, pid, start_ticks)`` session.

    SIGTERM first, SIGKILL after ``grace`` seconds. Returns the instances that had
    processes left.
    """
    found: dict[str, list[int]] = {}
    for instance, pid, ticks in recorded:
        members = session_members(pid, ticks)
        if members:
            found[instance] = members
    if not found:
        return []
    _signal_all(found, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not any(_alive(pid) for pids in found.values() for pid in pids):
            break
        time.sleep(0.05)
    else:
        _signal_all(found, signal.SIGKILL)
    return sorted(found)


def _signal_all(found: dict[str, list[int]], signum: int) -> None:
    for pids in found.values():
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)


def _alive(pid: int) -> bool:
    stat = _stat_fields(pid)
    return stat is not None and stat[0] != "Z"


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    return raw[raw.rindex(b")") + 2 :].decode("ascii", "replace").split()
