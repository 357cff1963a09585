"""From a workspace to its cache and remotes: paths, configuration and the local record of each remote."""

from __future__ import annotations

import hashlib
import os
import weakref
from collections.abc import Iterable
from pathlib import Path

from gitml._fs import atomic_write, locked
from gitml.artifacts.cache import Cache
from gitml.exceptions import RemoteNotFoundError
from gitml.store.base import ObjectStore, RemoteSpec, check_remote_url, open_store
from gitml.workspace import Workspace

__all__ = ["Remote", "RemoteIndex", "open_cache", "open_remote", "remote_spec"]


_caches: weakref.WeakKeyDictionary[Workspace, Cache] = weakref.WeakKeyDictionary()


def open_cache(ws: Workspace) -> Cache:
    """The workspace's cache (one object per workspace, so what it verified is remembered)."""
    cfg = ws.config.artifacts
    root = Path(os.path.expanduser(cfg.cache_dir))
    if not root.is_absolute():
        root = ws.root / root
    cache = _caches.get(ws)
    if cache is None or cache.root != root or cache.link != tuple(cfg.link) or cache.shared != cfg.shared:
        cache = _caches[ws] = Cache(root, link=cfg.link, shared=cfg.shared)
    return cache


def remote_spec(ws: Workspace, name: str | None = None) -> RemoteSpec:
    """The named remote, or the default one; RemoteNotFoundError says how to add one."""
    cfg = ws.config.artifacts
    if name is None:
        name = cfg.default_remote
        if name is None and len(cfg.remotes) == 1:
            name = next(iter(cfg.remotes))
        if name is None:
            raise RemoteNotFoundError(
                "no default remote is configured" if cfg.remotes else "no remote is configured",
                hint="gitml remote add storage /path/to/folder --default  (or s3://bucket/prefix)",
            )
    remote = cfg.remotes.get(name)
    if remote is None:
        known = ", ".join(sorted(cfg.remotes)) or "none"
        raise RemoteNotFoundError(f"no remote named {name!r} (configured: {known})")
    check_remote_url(remote.url)
    return remote


class Remote:
    """A configured remote: its local record at once, its store (and storage library) only when used."""

    def __init__(self, spec: RemoteSpec, state_dir: Path) -> None:
        self.spec = spec
        self.index = RemoteIndex(state_dir)
        self._store: ObjectStore | None = None

    @property
    def url(self) -> str:
        return self.spec.url

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            self._store = open_store(self.spec, state_dir=self.index.dir)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def open_remote(ws: Workspace, name: str | None = None) -> Remote:
    spec = remote_spec(ws, name)
    key = hashlib.sha256(f"{spec.url}\n{spec.endpoint_url or ''}".encode()).hexdigest()[:16]
    return Remote(spec, ws.tmp_dir / "remotes" / f"{spec.name}-{key}")


class RemoteIndex:
    """What this clone knows about one remote: objects seen there, and objects found corrupt there.

    ``present`` lets a push or status with nothing new answer without a request;
    ``bad`` makes the next push re-upload objects that verify or a download found
    corrupt (their size looks right in a listing). ``gitml push --rescan`` ignores
    ``present``.
    """

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self._present = state_dir / "present"
        self._bad = state_dir / "bad"

    def _read(self, path: Path) -> set[str]:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return set()
        return {line for line in data.decode("ascii", "replace").split("\n") if len(line) == 64}

    def present(self) -> set[str]:
        return self._read(self._present) - self._read(self._bad)

    def bad(self) -> set[str]:
        return self._read(self._bad)

    def _append(self, path: Path, oids: Iterable[str]) -> None:
        data = "".join(f"{o}\n" for o in oids).encode("ascii")
        if not data:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def add_present(self, oids: Iterable[str]) -> None:
        oids = set(oids)
        self._append(self._present, oids)
        if oids & self.bad():
            self._rewrite(self._bad, self.bad() - oids)

    def mark_bad(self, oids: Iterable[str]) -> None:
        self._append(self._bad, oids)

    def forget(self, oids: Iterable[str]) -> None:
        """Objects deleted from the remote (gc): no longer present, no longer bad."""
        gone = set(oids)
        self._rewrite(self._present, self._read(self._present) - gone)
        self._rewrite(self._bad, self.bad() - gone)

    def _rewrite(self, path: Path, oids: set[str]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        with locked(self.dir):
            atomic_write(path, "".join(f"{o}\n" for o in sorted(oids)).encode("ascii"), fsync=False)
