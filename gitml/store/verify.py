"""Checking bytes against their object's name: the download sink and the cache-side checks.

Shared by the stores: a mismatch is one :func:`corrupt` error wherever it is found.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from gitml._fs import write_all
from gitml.exceptions import IntegrityError, ObjectMissingError
from gitml.store.base import OnDone, Transfer

__all__ = ["Sink", "check_bytes", "check_file", "check_file_at", "corrupt", "read_checked"]


class Sink:
    """Where one download lands: a new file, created on the first write, hashed as it is written.

    ``write`` and ``finish`` run on worker threads. ``finish`` checks hash and size, then hands the
    complete file to ``on_done``; a mismatch or any failure removes the file (only if this sink
    created it). A lock keeps ``abort`` (from the event loop, say on cancellation) from closing the
    descriptor under a write still running.
    """

    def __init__(self, item: Transfer, where: str) -> None:
        self.item = item
        self.where = where
        self.digest = hashlib.sha256()
        self.size = 0
        self.fd: int | None = None
        self.created = False
        self.lock = threading.Lock()

    def write(self, blocks: Sequence[bytes]) -> None:
        with self.lock:
            self._write(blocks)

    def _write(self, blocks: Sequence[bytes]) -> None:
        if self.fd is None:
            self.fd = os.open(self.item.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            self.created = True
        for block in blocks:  # no join: each byte is copied once, into the file
            self.digest.update(block)
            write_all(self.fd, block)
            self.size += len(block)

    def finish(self, blocks: Sequence[bytes], on_done: OnDone | None) -> None:
        with self.lock:
            try:
                self._write(blocks)
                fd, self.fd = self.fd, None
                if fd is not None:
                    os.close(fd)
                got = self.digest.hexdigest()
                if got != self.item.oid or self.size != self.item.size:
                    raise _mismatch(self.item, got, self.size, self.where)
            except BaseException:
                self._abort()
                raise
            self.created = False  # complete and verified: from here on the file is the caller's
        if on_done is not None:
            on_done(self.item)

    def abort(self) -> None:
        with self.lock:
            self._abort()

    def _abort(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.created:
            self.created = False
            with contextlib.suppress(OSError):
                os.unlink(self.item.path)


def corrupt(
    where: str, oid: str, expected: int, got: str, size: int, *, hint: str | None = None
) -> IntegrityError:
    """The error for bytes that do not match their object's name: ``size`` bytes hashing to ``got``."""
    return IntegrityError(
        f"{where}: object {oid[:12]} is corrupt ({size} bytes hashing to {got[:12]}, "
        f"expected {expected} bytes)",
        hint=hint,
    )


_REPAIR_HINT = "gitml verify names every bad object; gitml push from a good cache repairs the remote"


def _mismatch(item: Transfer, got: str, size: int, where: str) -> IntegrityError:
    return corrupt(where, item.oid, item.size, got, size, hint=_REPAIR_HINT)


def check_bytes(data: bytes, item: Transfer, *, where: str) -> None:
    got = hashlib.sha256(data).hexdigest()
    if got != item.oid or len(data) != item.size:
        raise _mismatch(item, got, len(data), where)


def read_checked(item: Transfer) -> bytes:
    """A cache object's bytes, refused if they no longer match their name."""
    try:
        with open(item.path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError as exc:
        raise ObjectMissingError(f"cache: object {item.oid[:12]} is missing") from exc
    check_bytes(data, item, where="cache")
    return data


def check_file(item: Transfer) -> None:
    check_file_at(item.path, item, "cache")


def check_file_at(path: Path, item: Transfer, where: str) -> None:
    from gitml.artifacts.hashing import hash_file

    got, size = hash_file(path)
    if got != item.oid or size != item.size:
        with contextlib.suppress(OSError):
            if where != "cache":
                os.unlink(path)
        raise _mismatch(item, got, size, where)
