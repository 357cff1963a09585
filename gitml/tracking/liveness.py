"""Is a RUNNING run still running? Process identity on this host, heartbeats across hosts.

A run records the host, pid and the pid's start time (to survive pid reuse).
On the same host the process is checked directly. A run from another host is
alive only while its heartbeat file (``.gitml/tmp/heartbeat/<run-id>``, touched
every ``HEARTBEAT_SECONDS`` by the owning process; seen only on a shared
filesystem) is fresh. Anything else is STALE: its process is gone, or it is a
RUNNING record that arrived through git and has no writer here.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

__all__ = ["HEARTBEAT_SECONDS", "Heartbeat", "is_alive", "pid_alive", "pid_start_time"]

HEARTBEAT_SECONDS = 30.0
_HOST = socket.gethostname()


def this_host() -> str:
    return _HOST


def pid_start_time(pid: int) -> int | None:
    """The process start time in clock ticks since boot (Linux /proc), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # Field 22, counted after the ")" that closes the command name (which may hold spaces).
    fields = data[data.rindex(b")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: int, start: int | None) -> bool:
    """Whether process ``pid`` still runs and is the same process (same start time, when known)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if start is not None:
        now = pid_start_time(pid)
        if now is not None and now != start:
            return False  # the pid was reused by another process
    return True


def is_alive(
    *,
    host: str | None,
    pid: int | None,
    pid_start: int | None,
    heartbeat: Path | None,
    started_ms: int | None = None,
    now: float | None = None,
) -> bool:
    if host == _HOST and pid is not None:
        return pid_alive(pid, pid_start)
    if heartbeat is None:
        return False
    clock = time.time() if now is None else now
    try:
        last = heartbeat.stat().st_mtime
    except OSError:
        # No beat yet (the first comes after one interval): a young run gets the benefit of the
        # doubt, but only on a shared filesystem, where the heartbeat folder exists at all.
        if started_ms is None or not heartbeat.parent.is_dir():
            return False
        last = started_ms / 1000
    return clock - last < 3 * HEARTBEAT_SECONDS


class Heartbeat:
    """One daemon thread per process that touches the heartbeat files of the runs it owns."""

    def __init__(self, interval: float = HEARTBEAT_SECONDS) -> None:
        self._interval = interval
        self._files: set[Path] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, path: Path) -> None:
        """Beat for ``path`` from now on. The file is first written at the first beat, so a run
        shorter than one interval never creates (and deletes) a heartbeat file."""
        with self._lock:
            self._files.add(path)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="gitml-heartbeat", daemon=True)
                self._thread.start()

    def remove(self, path: Path) -> None:
        with self._lock:
            self._files.discard(path)
        try:
            path.unlink()
        except OSError:
            pass

    def _loop(self) -> None:
        while True:
            time.sleep(self._interval)
            with self._lock:
                files = list(self._files)
            for path in files:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch()
                except OSError:
                    pass
