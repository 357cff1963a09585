"""The storage seam: what every object store can do, the key layout, retries and error mapping.

Objects live at ``<root>/sha256/<hh>/<rest-of-hash>`` in the cache and in every
store alike. A store never exposes a partial object under its final key: local
folders write a temp file and rename it, S3 only shows an object when its PUT
or multipart upload completes. Every transfer checks the bytes against the hash
they are stored under, on the way in and on the way out.

Foreign exceptions are mapped here, at the seam: credentials refused become
:class:`StoreAuthError` at once (no retry storm), transient faults are retried
with jittered backoff a bounded number of times and then become
:class:`StoreError`. Messages never carry secrets.
"""

from __future__ import annotations

import os
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from gitml.artifacts.hashing import ALGORITHM, is_oid
from gitml.exceptions import ConfigError, GitMLError, StoreAuthError, StoreError

__all__ = [
    "ObjectStore",
    "OnDone",
    "Progress",
    "RemoteSpec",
    "StoredObject",
    "Transfer",
    "TransferFailure",
    "object_key",
    "oid_from_key",
    "open_store",
    "redact",
    "retrying",
]

T = TypeVar("T")

#: Called with (bytes, objects) done since the previous call; thread-safe implementations only.
Progress = Callable[[int, int], None]
#: Called with each downloaded object once its file is complete and verified, on the thread that finished
#: it (never on a store's event loop), so work on the file overlaps the rest of the transfer. A GitMLError
#: it raises makes that object a failure.
OnDone = Callable[["Transfer"], None]


def object_key(oid: str) -> str:
    """The relative key of an object: ``sha256/ab/cdef...``."""
    return f"{ALGORITHM}/{oid[:2]}/{oid[2:]}"


def oid_from_key(key: str) -> str | None:
    """The oid of a key ending in ``sha256/ab/cdef...``, or None for anything else (temp files...)."""
    parts = key.rstrip("/").rsplit("/", 3)
    if len(parts) < 3 or parts[-3] != ALGORITHM:
        return None
    oid = parts[-2] + parts[-1]
    return oid if len(parts[-2]) == 2 and is_oid(oid) else None


@dataclass(frozen=True)
class StoredObject:
    oid: str
    size: int
    mtime: float | None = None


@dataclass(frozen=True)
class Transfer:
    """One object to move: its oid and size, and the local file it comes from or goes to."""

    oid: str
    size: int
    path: Path


@dataclass(frozen=True)
class TransferFailure:
    oid: str
    error: GitMLError


@dataclass(frozen=True)
class RemoteSpec:
    """A configured remote: its name, URL (never with credentials) and options (endpoint, profile...)."""

    name: str
    url: str
    endpoint_url: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return local_root(self.url) is not None


class ObjectStore(ABC):
    """A flat namespace of immutable objects named by hash."""

    #: Where the store is, for messages (no credentials).
    url: str
    #: Default parallelism for transfers.
    default_jobs: int = 8

    @abstractmethod
    def listing(self, *, prefix: str = "") -> Iterator[StoredObject]:
        """Every object (optionally only oids starting with ``prefix``, 0-2 hex chars), with sizes."""

    @abstractmethod
    def stat(self, oids: Sequence[str], *, jobs: int) -> dict[str, int | None]:
        """Size of each object, or None when it is absent (one request per object)."""

    @abstractmethod
    def upload(
        self, items: Sequence[Transfer], *, jobs: int, progress: Progress | None = None
    ) -> list[TransferFailure]:
        """Copy local files up, checking each against its hash as it is read; returns the failures."""

    @abstractmethod
    def download(
        self,
        items: Sequence[Transfer],
        *,
        jobs: int,
        progress: Progress | None = None,
        on_done: OnDone | None = None,
    ) -> list[TransferFailure]:
        """Fetch objects to the given local paths, each checked against its hash and size.

        ``on_done`` is called with each object as soon as its file is complete and verified.
        """

    @abstractmethod
    def read(self, oid: str) -> bytes:
        """A small object's bytes (manifests)."""

    @abstractmethod
    def open(self, oid: str) -> BinaryIO:
        """A streaming reader for one object."""

    @abstractmethod
    def delete(self, oids: Iterable[str]) -> None:
        """Remove objects (gc); absent ones are ignored."""

    def estimate_count(self) -> int:
        """Roughly how many objects there are, from listing 1/256th of the key space."""
        return sum(1 for _ in self.listing(prefix="00")) * 256

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


# --- URLs --------------------------------------------------------------------------------------------

# Userinfo may itself hold '/' (AWS secret keys do), so any '@' after the scheme counts: bucket names
# and hosts never contain one.
_USERINFO_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s@]*@)")


#: ``secret=...``, ``X-Amz-Security-Token=...``, ``"password": "..."``: values that must never be shown.
_SECRET_PARAM_RE = re.compile(
    r"""(?i)([a-z0-9_-]*(?:secret|password|token|signature)[a-z0-9_-]*(?:\s*=\s*|["']\s*:\s*)["']?)[^&\s'"]+"""
)


def redact(text: str) -> str:
    """Strip ``user:password@`` from URLs inside ``text``, and the values of ``secret=``-like parameters."""
    text = re.sub(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^@\s]*@", r"\1", text)
    return _SECRET_PARAM_RE.sub(r"\1***", text)


def local_root(url: str) -> Path | None:
    """The folder of a local remote URL (``/path``, ``file:///path``), else None."""
    if url.startswith("file://"):
        rest = url[len("file://") :]
        if not rest.startswith("/"):
            raise ConfigError(f"file URL must be absolute (file:///path): {url!r}")
        return Path(rest)
    if "://" not in url:
        if not os.path.isabs(url):
            raise ConfigError(
                f"a local remote must be an absolute path: {url!r}",
                hint="use /abs/path or file:///abs/path",
            )
        return Path(url)
    return None


def check_remote_url(url: str) -> str:
    """Refuse URLs that gitml must never store (credentials) or cannot use."""
    if not url or url != url.strip() or "\n" in url or "\x00" in url:
        raise ConfigError(f"invalid remote URL {url!r}")
    if _USERINFO_RE.match(url):
        raise ConfigError(
            "a remote URL must not contain credentials (user:password@)",
            hint="put credentials in the environment, ~/.aws/credentials or .gitml/config.local.yaml",
        )
    if url.startswith("-"):
        raise ConfigError(f"invalid remote URL {url!r}")
    local_root(url)
    return url


# --- retries and error mapping ---------------------------------------------------------------------

_AUTH_WORDS = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "ExpiredToken",
    "InvalidToken",
    "Forbidden",
    "403",
    "NoCredentials",
    "Unable to locate credentials",
)


def is_auth_error(exc: BaseException) -> bool:
    if isinstance(exc, PermissionError):
        return True
    name = type(exc).__name__
    text = str(exc)
    return name in ("NoCredentialsError", "PartialCredentialsError") or any(w in text for w in _AUTH_WORDS)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0]) if text else type(exc).__name__


def map_error(exc: BaseException, *, url: str, action: str) -> GitMLError:
    """Translate a storage library's exception into gitml's tree, without secrets."""
    if isinstance(exc, GitMLError):
        return exc
    url = redact(url)
    if is_auth_error(exc):
        return StoreAuthError(
            f"{url}: {action} refused: credentials rejected or missing ({type(exc).__name__})",
            hint="check AWS_ACCESS_KEY_ID/AWS_PROFILE or the remote's profile in .gitml/config.local.yaml",
        )
    return StoreError(
        f"{url}: {action} failed: {_first_line(exc)}",
        hint="check the remote's URL and --endpoint-url, and that the server is up; rerun to resume",
    )


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (GitMLError, FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return False
    if is_auth_error(exc):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    text = str(exc)
    return any(
        w in text
        for w in (
            "SlowDown",
            "503",
            "500",
            "502",
            "504",
            "429",
            "Throttl",
            "timed out",
            "Connection",
            "reset",
        )
    ) or type(exc).__name__ in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError")


def retrying(
    func: Callable[[], T],
    *,
    url: str,
    action: str,
    attempts: int = 4,
    base: float = 0.2,
    cap: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``func``; retry transient failures with full-jitter backoff; map the final error."""
    for attempt in range(attempts):
        try:
            return func()
        except Exception as exc:
            if attempt + 1 >= attempts or not is_transient(exc):
                raise map_error(exc, url=url, action=action) from exc
            sleep(random.uniform(0, min(cap, base * 2**attempt)))
    raise AssertionError("unreachable")  # pragma: no cover


# --- opening ------------------------------------------------------------------------------------------


def open_store(spec: RemoteSpec, *, state_dir: Path | None = None) -> ObjectStore:
    """The store for a configured remote; ``state_dir`` keeps its local journal (multipart uploads)."""
    root = local_root(spec.url)
    if root is not None:
        from gitml.store.local import LocalStore

        return LocalStore(root)
    from gitml.store.remote import open_fsspec_store

    return open_fsspec_store(spec, state_dir=state_dir)
