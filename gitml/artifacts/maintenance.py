"""Keeping the cache and remotes healthy: ``gc`` (remove what nothing references) and ``verify`` (re-hash)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gitml._fs import remove_older_than
from gitml.artifacts.context import open_cache, open_remote
from gitml.artifacts.hashing import CHUNK, hash_file
from gitml.artifacts.manifest import Manifest, parse_manifest
from gitml.artifacts.record import ArtifactEntry
from gitml.artifacts.refs import expand, history_entries, worktree_runs
from gitml.exceptions import GitMLError, IntegrityError, ObjectMissingError, UsageError
from gitml.store.base import StoredObject
from gitml.store.local import LocalStore
from gitml.workspace import Workspace

__all__ = ["GCResult", "VerifyResult", "gc", "verify"]


@dataclass
class GCResult:
    where: str
    kept: int = 0
    kept_recent: int = 0
    removed: list[str] = field(default_factory=list)
    removed_bytes: int = 0
    dry_run: bool = False


def _referenced_entries(ws: Workspace, *, all_commits: bool) -> list[ArtifactEntry]:
    entries = [e for run in worktree_runs(ws) for e in run.entries.values()]
    entries.extend(history_entries(ws, all_commits=all_commits))
    return entries


def gc(
    ws: Workspace,
    *,
    remote: str | None = None,
    cloud: bool = False,
    grace_days: float | None = None,
    all_commits: bool = False,
    dry_run: bool = False,
    now: float | None = None,
) -> GCResult:
    """Remove objects nothing references (work tree, branches, tags) that are older than the grace period.

    ``cloud`` collects on the remote instead of the cache. A directory whose
    manifest cannot be read anywhere stops the collection (its files are
    unknown, so nothing could be removed safely).
    """
    cache = open_cache(ws)
    grace = (ws.config.artifacts.gc_grace_days if grace_days is None else grace_days) * 86400
    now = time.time() if now is None else now
    target = open_remote(ws, remote) if cloud else None
    fallback = None
    if target is None and ws.config.artifacts.remotes:
        with contextlib.suppress(GitMLError):
            fallback = open_remote(ws, remote)

    def read_manifest(oid: str, size: int) -> Manifest | None:
        try:
            return cache.read_manifest(oid)
        except (ObjectMissingError, IntegrityError):
            pass
        source = target or fallback
        if source is None:
            return None
        try:
            data = source.store.read(oid)
        except GitMLError:
            return None
        if hashlib.sha256(data).hexdigest() != oid:
            return None
        return parse_manifest(data, where=f"manifest {oid[:12]}")

    try:
        objs = expand(_referenced_entries(ws, all_commits=all_commits), read_manifest)
        if objs.unreadable:
            first = next(iter(objs.unreadable))
            raise UsageError(
                f"cannot read the manifest of a referenced directory ({first[:12]}); nothing was removed",
                hint="gitml fetch (so the cache has it), then run gc again",
            )
        keep = set(objs.total)
        result = GCResult(target.url if target else str(cache.root), dry_run=dry_run)
        stored: list[StoredObject] = list(target.store.listing() if target else cache.objects())
        doomed: list[StoredObject] = []
        for obj in stored:
            if obj.oid in keep:
                result.kept += 1
            elif obj.mtime is None or now - obj.mtime < grace:
                result.kept_recent += 1
            else:
                doomed.append(obj)
        result.removed = sorted(o.oid for o in doomed)
        result.removed_bytes = sum(o.size for o in doomed)
        if not dry_run and doomed:
            if target is not None:
                target.store.delete(result.removed)
                target.index.forget(result.removed)
            else:
                for oid in result.removed:
                    cache.discard(oid)
        if target is None and not dry_run:
            remove_older_than(cache.tmp, 86400, now=now)
        elif target is not None and not dry_run and isinstance(target.store, LocalStore):
            # Temp files of pushes killed mid-copy (<remote>/tmp/): nothing else ever removes them.
            target.store.clean_tmp(older_than=86400)
    finally:
        for r in (target, fallback):
            if r is not None:
                r.close()
    return result


@dataclass
class VerifyResult:
    where: str
    checked: int = 0
    checked_bytes: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.bad


def verify(
    ws: Workspace, *, remote: str | None = None, cloud: bool = False, jobs: int | None = None
) -> VerifyResult:
    """Re-hash every object in the cache (or, with ``cloud``, on the remote) and name the bad ones.

    Corrupt cache objects are removed (``gitml fetch`` restores them); corrupt
    remote objects are recorded so the next ``gitml push`` uploads them again.
    """
    n_jobs = jobs or ws.config.artifacts.jobs or 4
    lock = threading.Lock()
    if not cloud:
        cache = open_cache(ws)
        result = VerifyResult(str(cache.root))

        def check(obj: StoredObject) -> None:
            got, size = hash_file(cache.path(obj.oid))
            with lock:
                result.checked += 1
                result.checked_bytes += size
                if got != obj.oid:
                    result.bad.append((obj.oid, f"content hashes to {got[:12]} ({size} bytes)"))

        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            list(pool.map(check, list(cache.objects())))
        for oid, _ in result.bad:
            cache.discard(oid)
        result.bad.sort()
        return result

    target = open_remote(ws, remote)
    result = VerifyResult(target.url)
    try:
        store = target.store

        def check_remote(obj: StoredObject) -> None:
            digest = hashlib.sha256()
            size = 0
            try:
                with store.open(obj.oid) as fh:
                    while chunk := fh.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                reason = (
                    None if digest.hexdigest() == obj.oid else f"content hashes to {digest.hexdigest()[:12]}"
                )
            except GitMLError as exc:
                reason = exc.message
            with lock:
                result.checked += 1
                result.checked_bytes += size
                if reason:
                    result.bad.append((obj.oid, f"{reason} ({size} bytes)"))

        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            list(pool.map(check_remote, list(store.listing())))
        target.index.mark_bad(oid for oid, _ in result.bad)
        target.index.add_present([])
    finally:
        target.close()
    result.bad.sort()
    return result
