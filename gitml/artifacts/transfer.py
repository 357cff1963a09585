"""Moving objects between the cache and a remote: push, fetch (pull) and status.

What a remote lacks is decided without a request per object when that is
cheaper: objects this clone has already seen there are skipped outright (the
remote's local record), and the rest are checked either one by one (few) or by
listing the remote (many, when a listing takes fewer requests). A directory's
manifest is uploaded only after every file it lists is there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitml.artifacts.cache import Cache
from gitml.artifacts.context import Remote, open_cache, open_remote
from gitml.artifacts.manifest import Manifest
from gitml.artifacts.progress import ProgressBar
from gitml.artifacts.record import ArtifactEntry
from gitml.artifacts.refs import Objects, RunArtifacts, expand, history_entries, worktree_runs
from gitml.exceptions import GitMLError, IntegrityError, ObjectMissingError
from gitml.paths import contained_path
from gitml.store.base import ObjectStore, Transfer, TransferFailure
from gitml.workspace import Workspace

__all__ = [
    "StatusResult",
    "TransferResult",
    "fetch",
    "fetch_entries",
    "fetch_manifests",
    "push",
    "remote_lacks",
    "restore_outputs",
    "status",
]

#: Up to this many unknown objects are checked one request each; more may be answered by a listing.
STAT_LIMIT = 64
#: Threads placing workspace files, each working through whole folders (see Cache.checkout_many).
_CHECKOUT_JOBS = 2


@dataclass
class TransferResult:
    remote: str
    referenced: int = 0
    transferred: int = 0
    transferred_bytes: int = 0
    up_to_date: int = 0
    failures: list[TransferFailure] = field(default_factory=list)
    #: Objects this clone does not have (push) or nobody has (fetch).
    missing: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.missing


def _jobs(ws: Workspace, store_default: int, jobs: int | None) -> int:
    return jobs or ws.config.artifacts.jobs or store_default


def _entries_for(ws: Workspace, run_ids: Sequence[str] | None, *, all_commits: bool) -> list[ArtifactEntry]:
    entries = [e for run in worktree_runs(ws, run_ids) for e in run.entries.values()]
    if all_commits:
        entries.extend(history_entries(ws, all_commits=True))
    return entries


def _cached_manifest(cache: Cache) -> Callable[[str, int], Manifest | None]:
    """A manifest reader for ``expand``: None when the cache lacks it (or it was corrupt and removed).

    A manifest whose bytes match its hash but do not validate (a crafted object) is an error, not
    "missing": it is raised.
    """

    def read(oid: str, size: int) -> Manifest | None:
        try:
            return cache.read_manifest(oid)
        except ObjectMissingError:
            return None
        except IntegrityError:
            if cache.has(oid):
                raise
            return None

    return read


def remote_lacks(remote: Remote, wanted: dict[str, int], *, jobs: int, rescan: bool = False) -> set[str]:
    """The objects of ``wanted`` that the remote does not hold intact (as far as can be told cheaply)."""
    present = set() if rescan else remote.index.present()
    bad = remote.index.bad()
    unknown = {o: s for o, s in wanted.items() if o not in present or o in bad}
    if not unknown:
        return set()
    found = _query(remote.store, unknown, jobs=jobs)
    good = {o for o, size in found.items() if size == unknown[o] and o not in bad}
    remote.index.add_present(good)
    return set(unknown) - good


def _not_on_remote(remote: Remote, manifests: dict[str, int], *, jobs: int) -> set[str]:
    """Of directory manifests this cache cannot read, those the remote lacks too.

    A manifest on the remote implies its files are there (it is uploaded last), so a directory
    logged in another clone and pushed from there is not "missing" here.
    """
    unknown = sorted(set(manifests) - remote.index.present())
    if not unknown:
        return set()
    found = {o for o, size in remote.store.stat(unknown, jobs=jobs).items() if size is not None}
    remote.index.add_present(found)
    return set(unknown) - found


def _query(store: ObjectStore, wanted: dict[str, int], *, jobs: int) -> dict[str, int | None]:
    if len(wanted) <= STAT_LIMIT:
        return store.stat(sorted(wanted), jobs=jobs)
    pages = store.estimate_count() / 1000 + 1
    if pages * 4 > len(wanted) / jobs + 1:
        return store.stat(sorted(wanted), jobs=jobs)
    listing = {obj.oid: obj.size for obj in store.listing()}
    return {oid: listing.get(oid) for oid in wanted}


def _upload(
    remote: Remote, cache: Cache, oids: dict[str, int], *, jobs: int, label: str, result: TransferResult
) -> set[str]:
    items = [Transfer(oid, size, cache.path(oid)) for oid, size in sorted(oids.items())]
    if not items:
        return set()
    bar = ProgressBar(label, total_objects=len(items), total_bytes=sum(i.size for i in items))
    try:
        failures = remote.store.upload(items, jobs=jobs, progress=bar)
    finally:
        bar.close()
    failed = {f.oid for f in failures}
    done = [i for i in items if i.oid not in failed]
    remote.index.add_present(i.oid for i in done)
    result.failures.extend(failures)
    result.transferred += len(done)
    result.transferred_bytes += sum(i.size for i in done)
    return failed


def push(
    ws: Workspace,
    *,
    remote: str | None = None,
    run_ids: Sequence[str] | None = None,
    all_commits: bool = False,
    jobs: int | None = None,
    rescan: bool = False,
    entries: Sequence[ArtifactEntry] | None = None,
) -> TransferResult:
    """Upload every object that these runs (or these ``entries``) reference and the remote lacks."""
    target = open_remote(ws, remote)
    cache = open_cache(ws)
    result = TransferResult(target.url)
    try:
        if entries is None:
            entries = _entries_for(ws, run_ids, all_commits=all_commits)
        objs = expand(entries, _cached_manifest(cache))
        total = objs.total
        result.referenced = len(total) + len(objs.unreadable)
        n_jobs = _jobs(ws, 8 if target.spec.is_local else 32, jobs)
        # What the remote lacks first (from this clone's record: no request, no stat); then only
        # those objects are looked for in the cache -- a no-op push of 100k files stats nothing.
        lacking = remote_lacks(target, total, jobs=n_jobs, rescan=rescan)
        missing_local = {o for o in lacking if not cache.has(o)}
        missing_local |= _not_on_remote(target, objs.unreadable, jobs=n_jobs)
        result.missing = sorted(missing_local)
        available = {o: s for o, s in total.items() if o not in missing_local}
        lacking -= missing_local
        result.up_to_date = result.referenced - len(lacking) - len(missing_local)
        files = {o: available[o] for o in lacking if o in objs.files}
        failed = _upload(target, cache, files, jobs=n_jobs, label="push", result=result)
        blocked = failed | missing_local
        manifests = {
            o: available[o]
            for o in lacking
            if o in objs.manifests and not blocked.intersection(objs.children.get(o, ()))
        }
        _upload(target, cache, manifests, jobs=n_jobs, label="push", result=result)
    finally:
        target.close()
    return result


def fetch_entries(
    ws: Workspace,
    entries: Sequence[ArtifactEntry],
    *,
    remote: str | None = None,
    jobs: int | None = None,
    result: TransferResult | None = None,
) -> TransferResult:
    """Bring the objects of ``entries`` into the cache (manifests first); opens the remote only if needed."""
    cache = open_cache(ws)
    target: Remote | None = None
    result = result or TransferResult("")

    def get_remote() -> Remote:
        nonlocal target
        if target is None:
            target = open_remote(ws, remote)
            result.remote = target.url
        return target

    try:
        manifests = {e.oid: e.size for e in entries if e.is_dir and not _manifest_ok(cache, e.oid)}
        if manifests:
            _download(get_remote(), cache, {o: None for o in manifests}, jobs=jobs, ws=ws, result=result)
        objs: Objects = expand(entries, _cached_manifest(cache))
        result.referenced = len(objs.total) + len(objs.unreadable)
        result.missing.extend(sorted(o for o in objs.unreadable if o not in result.missing))
        wanted = {o: s for o, s in objs.files.items() if not cache.has(o)}
        result.up_to_date = len(objs.files) - len(wanted)
        if wanted:
            _download(get_remote(), cache, dict(wanted.items()), jobs=jobs, ws=ws, result=result)
    finally:
        if target is not None:
            target.close()
    return result


def fetch_manifests(
    ws: Workspace, oids: Sequence[str], *, remote: str | None = None, jobs: int | None = None
) -> TransferResult:
    """Bring directory manifests (only them, not the files they list) into the cache."""
    cache = open_cache(ws)
    result = TransferResult("")
    wanted: dict[str, int | None] = {o: None for o in oids if not _manifest_ok(cache, o)}
    if not wanted:
        return result
    target = open_remote(ws, remote)
    result.remote = target.url
    try:
        _download(target, cache, wanted, jobs=jobs, ws=ws, result=result)
    finally:
        target.close()
    return result


def _manifest_ok(cache: Cache, oid: str) -> bool:
    try:
        cache.read_manifest(oid)
    except (ObjectMissingError, IntegrityError):
        return False
    return True


def _download(
    remote: Remote,
    cache: Cache,
    wanted: dict[str, int | None],
    *,
    jobs: int | None,
    ws: Workspace,
    result: TransferResult,
) -> None:
    """Download ``wanted`` (oid -> size, None if unknown) into the cache, each object installed as soon
    as it is verified."""
    unknown_size = [o for o, s in wanted.items() if s is None]
    sizes: dict[str, int | None] = dict(wanted)
    if unknown_size:
        sizes.update(remote.store.stat(unknown_size, jobs=16))
    items = []
    # Largest first: a big object started last would finish last, alone.
    for oid, size in sorted(sizes.items(), key=lambda kv: (-(kv[1] or 0), kv[0])):
        if size is None:
            result.missing.append(oid)
            continue
        items.append(Transfer(oid, size, cache.tmp_path(oid)))
    if not items:
        return
    n_jobs = _jobs(ws, 8 if remote.spec.is_local else 32, jobs)

    def landed(item: Transfer) -> None:
        # On the store's worker thread, as soon as the object is verified: into the cache at once,
        # so renaming overlaps the downloads still running.
        cache.install(item.path, item.oid, just_verified=True)

    bar = ProgressBar("fetch", total_objects=len(items), total_bytes=sum(i.size for i in items))
    try:
        failures = remote.store.download(items, jobs=n_jobs, progress=bar, on_done=landed)
    finally:
        bar.close()
    failed = {f.oid: f.error for f in failures}
    for item in items:
        error = failed.get(item.oid)
        if error is None:
            result.transferred += 1
            result.transferred_bytes += item.size
            continue
        item.path.unlink(missing_ok=True)
        if isinstance(error, ObjectMissingError):
            result.missing.append(item.oid)
        else:
            if isinstance(error, IntegrityError):
                remote.index.mark_bad([item.oid])
            result.failures.append(TransferFailure(item.oid, error))
    remote.index.add_present(i.oid for i in items if i.oid not in failed)


def fetch(
    ws: Workspace,
    *,
    remote: str | None = None,
    run_ids: Sequence[str] | None = None,
    all_commits: bool = False,
    jobs: int | None = None,
) -> TransferResult:
    return fetch_entries(ws, _entries_for(ws, run_ids, all_commits=all_commits), remote=remote, jobs=jobs)


def restore_outputs(
    ws: Workspace, runs: Sequence[RunArtifacts], *, force: bool = False, result: TransferResult
) -> None:
    """Place workspace outputs (``gitml run --artifact``) of the newest run recording each path.

    The files of every output are placed together, a few folders at a time, biggest first (the cost
    is creating files and copying, both in the kernel); an output fails as a whole if one of its
    files cannot be placed, and the others are still restored.
    """
    cache = open_cache(ws)
    newest: dict[str, ArtifactEntry] = {}
    for run in runs:
        for entry in run.entries.values():
            if entry.output:
                newest[entry.path] = entry
    chosen: list[str] = []
    failed: dict[str, TransferFailure] = {}
    placements: list[tuple[str, int, Path, str, bool]] = []  # oid, size, target, output, in a tree
    for path, entry in sorted(newest.items()):
        target = contained_path(ws.root, path, what="output path")
        if target.exists() and not force:
            result.kept.append(path)
            continue
        chosen.append(path)
        if not entry.is_dir:
            placements.append((entry.oid, entry.size, target, path, False))
            continue
        try:
            manifest = cache.read_manifest(entry.oid)
        except (ObjectMissingError, IntegrityError) as exc:
            failed[path] = TransferFailure(entry.oid, exc)
            continue
        for f in manifest.files:
            dst = contained_path(target, f.path, what="artifact path")
            placements.append((f.oid, f.size, dst, path, True))
    # A tree's folders are swept of all stale temp files; a single file's folder (often the work tree
    # itself) only of that file's own.
    tree_folders = {p[2].parent for p in placements if p[4]}
    errors = cache.checkout_many([p[:3] for p in placements], jobs=_CHECKOUT_JOBS, sweep=tree_folders)
    for (oid, _, _, owner, _), error in zip(placements, errors, strict=True):
        if error is None or owner in failed:
            continue
        if not isinstance(error, (ObjectMissingError, IntegrityError)):
            raise error
        failed[owner] = TransferFailure(oid, error)
    for path in chosen:
        failure = failed.get(path)
        if failure is None:
            result.restored.append(path)
        else:
            result.failures.append(failure)


@dataclass(frozen=True)
class RunStatus:
    run_id: str
    objects: int
    missing_local: int
    not_pushed: int


@dataclass
class StatusResult:
    remote: str | None
    objects: int = 0
    bytes: int = 0
    missing_local: list[str] = field(default_factory=list)
    not_pushed: list[str] = field(default_factory=list)
    runs: list[RunStatus] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.missing_local and not self.not_pushed


def status(
    ws: Workspace,
    *,
    remote: str | None = None,
    run_ids: Sequence[str] | None = None,
    jobs: int | None = None,
    rescan: bool = False,
    local_only: bool = False,
) -> StatusResult:
    """What these runs' artifacts lack: objects not in the cache, and objects not on the remote."""
    cache = open_cache(ws)
    target: Remote | None = None
    if not local_only and (remote is not None or ws.config.artifacts.remotes):
        target = open_remote(ws, remote)
    result = StatusResult(target.url if target else None)
    runs = worktree_runs(ws, run_ids)
    read = _cached_manifest(cache)
    per_run = [(run, expand(run.entries.values(), read)) for run in runs]
    everything: dict[str, int] = {}
    unreadable: set[str] = set()
    for _, objs in per_run:
        everything.update(objs.total)
        unreadable.update(objs.unreadable)
    in_cache = cache.oids() if len(everything) > 2000 else None
    missing_local = {
        o for o in everything if not (o in in_cache if in_cache is not None else cache.has(o))
    } | unreadable
    lacking: set[str] = set()
    try:
        if target is not None:
            wanted = {o: s for o, s in everything.items()}
            lacking = remote_lacks(target, wanted, jobs=_jobs(ws, 32, jobs), rescan=rescan)
    except GitMLError:
        raise
    finally:
        if target is not None:
            target.close()
    result.objects = len(everything) + len(unreadable)
    result.bytes = sum(everything.values())
    result.missing_local = sorted(missing_local)
    result.not_pushed = sorted(lacking)
    for run, objs in per_run:
        oids = set(objs.total) | set(objs.unreadable)
        result.runs.append(RunStatus(run.run_id, len(oids), len(oids & missing_local), len(oids & lacking)))
    return result
