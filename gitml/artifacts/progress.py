"""A one-line progress bar on stderr, shown only on a terminal and never in CI."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

__all__ = ["ProgressBar", "progress_wanted"]


def progress_wanted(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class ProgressBar:
    """Thread-safe counter of objects and bytes; redraws at most ten times a second."""

    def __init__(
        self, label: str, *, total_objects: int, total_bytes: int, enabled: bool | None = None
    ) -> None:
        self.label = label
        self.total_objects = total_objects
        self.total_bytes = total_bytes
        self.objects = 0
        self.bytes = 0
        self.enabled = progress_wanted() if enabled is None else enabled
        self._lock = threading.Lock()
        self._last = 0.0
        self._start = time.monotonic()

    def __call__(self, nbytes: int, nobjects: int) -> None:
        with self._lock:
            self.bytes += nbytes
            self.objects += nobjects
            if not self.enabled:
                return
            now = time.monotonic()
            if now - self._last < 0.1 and self.objects < self.total_objects:
                return
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        width = 24
        frac = self.bytes / self.total_bytes if self.total_bytes else 1.0
        filled = int(width * min(1.0, frac))
        rate = self.bytes / max(now - self._start, 1e-3)
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.objects}/{self.total_objects} "
            f"objects, {_mb(self.bytes)}/{_mb(self.total_bytes)} ({_mb(int(rate))}/s) "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self._last:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
