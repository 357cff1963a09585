"""An in-memory object store: the fake beside the storage seam, for fast unit tests and fault injection."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

from gitml.artifacts.hashing import hash_bytes
from gitml.exceptions import IntegrityError, ObjectMissingError, StoreError
from gitml.store.base import ObjectStore, OnDone, Progress, StoredObject, Transfer, TransferFailure
from gitml.store.local import run_parallel

__all__ = ["MemoryStore"]


class MemoryStore(ObjectStore):
    """Objects in a dict. ``fail_next`` makes the next N operations raise StoreError (a flaky remote)."""

    def __init__(self, url: str = "memory://test") -> None:
        self.url = url
        self.objects: dict[str, bytes] = {}
        self.mtimes: dict[str, float] = {}
        self.requests = 0
        self.fail_next = 0
        self._lock = threading.Lock()

    def _request(self) -> None:
        with self._lock:
            self.requests += 1
            if self.fail_next > 0:
                self.fail_next -= 1
                raise StoreError(f"{self.url}: injected failure")

    def listing(self, *, prefix: str = "") -> Iterator[StoredObject]:
        self._request()
        for oid, data in sorted(self.objects.items()):
            if oid.startswith(prefix):
                yield StoredObject(oid, len(data), self.mtimes.get(oid))

    def stat(self, oids: Sequence[str], *, jobs: int) -> dict[str, int | None]:
        out: dict[str, int | None] = {}
        for oid in oids:
            self._request()
            data = self.objects.get(oid)
            out[oid] = None if data is None else len(data)
        return out

    def _put(self, item: Transfer) -> None:
        self._request()
        try:
            data = item.path.read_bytes()
        except FileNotFoundError as exc:
            raise ObjectMissingError(f"cache: object {item.oid[:12]} is missing") from exc
        if hash_bytes(data) != item.oid or len(data) != item.size:
            raise IntegrityError(f"cache: object {item.oid[:12]} is corrupt")
        with self._lock:
            self.objects[item.oid] = data
            self.mtimes[item.oid] = time.time()

    def upload(
        self, items: Sequence[Transfer], *, jobs: int, progress: Progress | None = None
    ) -> list[TransferFailure]:
        return run_parallel(items, self._put, jobs=jobs, progress=progress)

    def _get(self, item: Transfer) -> None:
        self._request()
        data = self.objects.get(item.oid)
        if data is None:
            raise ObjectMissingError(f"{self.url}: object {item.oid[:12]} is missing")
        if hash_bytes(data) != item.oid or len(data) != item.size:
            raise IntegrityError(f"{self.url}: object {item.oid[:12]} is corrupt")
        try:
            with open(item.path, "xb") as fh:
                fh.write(data)
        except OSError as exc:
            raise StoreError(f"cannot write {item.path}: {exc.strerror or exc}") from exc

    def download(
        self,
        items: Sequence[Transfer],
        *,
        jobs: int,
        progress: Progress | None = None,
        on_done: OnDone | None = None,
    ) -> list[TransferFailure]:
        return run_parallel(items, self._get, jobs=jobs, progress=progress, on_done=on_done)

    def read(self, oid: str) -> bytes:
        self._request()
        try:
            return self.objects[oid]
        except KeyError as exc:
            raise ObjectMissingError(f"{self.url}: object {oid[:12]} is missing") from exc

    def open(self, oid: str) -> BinaryIO:
        return io.BytesIO(self.read(oid))

    def delete(self, oids: Iterable[str]) -> None:
        for oid in oids:
            self.objects.pop(oid, None)
