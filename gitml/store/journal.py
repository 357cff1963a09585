"""The journal of multipart uploads in progress, so an upload whose push was killed gets aborted.

A push records each multipart upload it starts (bucket, key, upload id, its pid
and start time) and removes it when the upload completes or is aborted. The
next push aborts the uploads whose process is gone, so SIGKILL never leaves
incomplete uploads piling up in a bucket.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitml._fs import atomic_write, locked
from gitml.tracking.liveness import pid_alive, pid_start_time

__all__ = ["UploadJournal"]

Entry = dict[str, Any]


class UploadJournal:
    _lock = threading.Lock()  # this process's tasks; a file lock covers other gitml processes

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[Entry]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def _update(self, change: Callable[[list[Entry]], list[Entry]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, locked(self.path.parent):
            entries = change(self.entries())
            atomic_write(self.path, "".join(json.dumps(e) + "\n" for e in entries).encode(), fsync=False)

    def add(self, bucket: str, key: str, upload_id: str) -> None:
        pid = os.getpid()
        entry = {"bucket": bucket, "key": key, "id": upload_id, "pid": pid, "start": pid_start_time(pid)}
        self._update(lambda entries: [*entries, entry])

    def remove(self, upload_ids: set[str]) -> None:
        self._update(lambda entries: [e for e in entries if e.get("id") not in upload_ids])

    def stale(self) -> list[Entry]:
        """Uploads whose gitml process no longer runs."""
        return [e for e in self.entries() if not pid_alive(int(e.get("pid") or 0), e.get("start"))]
