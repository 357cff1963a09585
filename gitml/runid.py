"""Run ids: unique without coordination, sortable by creation time, safe as a path and ref component.

A run id is 26 characters of lowercase Crockford base32: 10 for the creation
time in milliseconds since the epoch, 16 for 80 random bits (a ULID written in
lowercase). Ids made in one process within the same millisecond increase
monotonically, so sorting ids sorts runs by creation.
"""

from __future__ import annotations

import os
import re
import threading
import time

from gitml.exceptions import InvalidNameError

__all__ = ["RUN_ID_LENGTH", "check_run_id", "is_run_id", "new_run_id", "run_id_time_ms"]

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DECODE = {c: i for i, c in enumerate(_ALPHABET)}
RUN_ID_LENGTH = 26
_RUN_ID_RE = re.compile(r"[0-9a-hjkmnp-tv-z]{26}")
_RANDOM_MAX = (1 << 80) - 1

_lock = threading.Lock()
_last: tuple[int, int] = (-1, 0)


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_run_id(*, now_ms: int | None = None) -> str:
    """Return a fresh run id for ``now_ms`` (default: the current time)."""
    global _last
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    with _lock:
        last_ms, last_rand = _last
        if ms <= last_ms and last_rand < _RANDOM_MAX:
            ms, rand = last_ms, last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last = (ms, rand)
    return _encode(ms, 10) + _encode(rand, 16)


def is_run_id(value: str) -> bool:
    return _RUN_ID_RE.fullmatch(value) is not None


def check_run_id(value: object) -> str:
    """Return ``value`` if it is a well-formed run id, else raise InvalidNameError."""
    if not isinstance(value, str) or _RUN_ID_RE.fullmatch(value) is None:
        raise InvalidNameError(
            f"not a run id: {value!r}", hint="run ids are 26 characters of lowercase letters and digits"
        )
    return value


def run_id_time_ms(run_id: str) -> int:
    """The creation time (epoch milliseconds) encoded in a run id."""
    value = 0
    for char in check_run_id(run_id)[:10]:
        value = value * 32 + _DECODE[char]
    return value
