"""Content hashes: one algorithm (SHA-256), object ids, and hashing while copying.

An object id (``oid``) is the lowercase hex digest; where it is written down for
people or in files it carries the algorithm, ``sha256:<hex>``, so a later format
can change algorithms without ambiguity. Every function here reads each byte
once: :func:`copy_hashing` hashes while it copies, which is how files enter the
cache. ``hashlib`` releases the GIL on large buffers, so hashing in threads
runs on several cores.
"""

from __future__ import annotations

import hashlib
import io
import os
import re

from gitml._types import StrPath
from gitml.exceptions import InvalidValueError

__all__ = [
    "ALGORITHM",
    "CHUNK",
    "copy_hashing",
    "format_hash",
    "hash_bytes",
    "hash_file",
    "is_oid",
    "parse_hash",
]

ALGORITHM = "sha256"
#: Read size for streaming: large enough for hashlib to run at full speed, small enough to never matter.
CHUNK = 1024 * 1024

_OID_RE = re.compile(r"[0-9a-f]{64}")


def is_oid(text: str) -> bool:
    return _OID_RE.fullmatch(text) is not None


def format_hash(oid: str) -> str:
    return f"{ALGORITHM}:{oid}"


def parse_hash(text: object, *, where: str = "hash") -> str:
    """``sha256:<64 hex>`` -> the hex oid; anything else is refused (it becomes a path)."""
    if not isinstance(text, str):
        raise InvalidValueError(f"{where}: a hash must be a string like 'sha256:<hex>', not {text!r}")
    algorithm, sep, oid = text.partition(":")
    if not sep or algorithm != ALGORITHM:
        raise InvalidValueError(f"{where}: unsupported hash {text!r} (this gitml reads {ALGORITHM}:<hex>)")
    if not is_oid(oid):
        raise InvalidValueError(f"{where}: malformed {ALGORITHM} hash {text!r}")
    return oid


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_into_hash(fileobj: io.RawIOBase | io.BufferedIOBase, digest: hashlib._Hash) -> int:
    size = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = fileobj.readinto(view)
        if not n:
            return size
        digest.update(view[:n])
        size += n


def hash_file(path: StrPath) -> tuple[str, int]:
    """(hex digest, size) of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        size = _read_into_hash(fh, digest)
    return digest.hexdigest(), size


def copy_hashing(src_fd: int, dst_fd: int) -> tuple[str, int]:
    """Copy ``src_fd`` to ``dst_fd`` to the end and hash what passed: each byte read once."""
    digest = hashlib.sha256()
    size = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = os.readv(src_fd, [buf])
        if not n:
            return digest.hexdigest(), size
        chunk = view[:n]
        digest.update(chunk)
        written = 0
        while written < n:
            written += os.write(dst_fd, chunk[written:])
        size += n
