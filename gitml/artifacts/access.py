"""Reading artifacts by URI: ``ls runs:/<run>[/<path>]`` and ``get runs:/<run>/<path>``.

A URI names an entry of the run's artifacts.yaml, a file inside a logged
directory (found through its manifest), or a folder made of entries below a
path. Objects missing from the cache are fetched from the remote first; every
file is placed through a temp name and verified, so a destination never holds
a partial file.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gitml._types import StrPath
from gitml.artifacts.context import open_cache
from gitml.artifacts.manifest import Manifest
from gitml.artifacts.record import FILE_NAME, ArtifactEntry, parse_entries
from gitml.artifacts.transfer import TransferResult, fetch_entries, fetch_manifests
from gitml.exceptions import ArtifactNotFoundError, IntegrityError, ObjectMissingError
from gitml.paths import contained_path
from gitml.tracking.store import RunStore
from gitml.uri import RunsURI, parse_uri
from gitml.workspace import Workspace

__all__ = ["ArtifactInfo", "GetResult", "download", "get", "list", "ls", "resolve"]


@dataclass(frozen=True)
class ArtifactInfo:
    """One listed artifact: its path in the run, whether it is a directory, its size and hash (files)."""

    path: str
    is_dir: bool
    size: int | None
    hash: str | None = None


@dataclass(frozen=True)
class Resolved:
    run_id: str
    uri: RunsURI
    entries: dict[str, ArtifactEntry]
    commit: str | None


def resolve(ws: Workspace, uri: str | RunsURI, *, rev: str | None = None) -> Resolved:
    parsed = parse_uri(uri) if isinstance(uri, str) else uri
    store = RunStore(ws, rev=rev)
    run_id = store.resolve(parsed.run)
    data, where = store.read_file(run_id, FILE_NAME)
    entries = {} if data is None else parse_entries(data, where=where)
    return Resolved(run_id, RunsURI(run_id, parsed.path), entries, store.commit)


def _manifest(ws: Workspace, entry: ArtifactEntry, remote: str | None) -> Manifest:
    cache = open_cache(ws)
    try:
        return cache.read_manifest(entry.oid)
    except (ObjectMissingError, IntegrityError):
        # Only the manifest: listing a directory must not download its files.
        fetched = fetch_manifests(ws, [entry.oid], remote=remote)
        if fetched.failures:
            raise fetched.failures[0].error from None
        if fetched.missing:
            raise ObjectMissingError(
                f"the manifest of {entry.path!r} ({entry.oid[:12]}) is in neither the cache nor "
                f"{fetched.remote or 'the remote'}",
                hint="push it from the clone that logged the run: gitml push",
            ) from None
        return cache.read_manifest(entry.oid)


def _owner(entries: dict[str, ArtifactEntry], path: str) -> ArtifactEntry | None:
    """The entry at ``path`` or the directory entry that contains it."""
    if path in entries:
        return entries[path]
    for parent in PurePosixPath(path).parents:
        entry = entries.get(str(parent))
        if entry is not None and entry.is_dir:
            return entry
    return None


def ls(
    ws: Workspace,
    uri: str | RunsURI,
    *,
    rev: str | None = None,
    recursive: bool = False,
    remote: str | None = None,
) -> builtins.list[ArtifactInfo]:
    """The artifacts directly under the URI's path (or all of them, ``recursive``)."""
    res = resolve(ws, uri, rev=rev)
    path = res.uri.path
    owner = _owner(res.entries, path) if path else None
    found: dict[str, ArtifactInfo] = {}

    def add(full: str, size: int, oid: str | None, is_dir: bool) -> None:
        rel = full[len(path) + 1 :] if path else full
        if not recursive and "/" in rel:
            top = rel.split("/", 1)[0]
            key = f"{path}/{top}" if path else top
            prev = found.get(key)
            found[key] = ArtifactInfo(key, True, (prev.size or 0) + size if prev else size)
            return
        found[full] = ArtifactInfo(full, is_dir, size, None if oid is None else f"sha256:{oid}")

    if owner is not None and (owner.is_dir or owner.path != path):
        manifest = _manifest(ws, owner, remote)
        sub = path[len(owner.path) + 1 :] if path != owner.path else ""
        for f in manifest.under(sub):
            add(f"{owner.path}/{f.path}", f.size, f.oid, False)
        if not found and sub:
            raise ArtifactNotFoundError(f"no artifact {path!r} in run {res.run_id}")
    elif owner is not None:
        return [ArtifactInfo(owner.path, False, owner.size, f"sha256:{owner.oid}")]
    else:
        for entry in res.entries.values():
            if path and not entry.path.startswith(path + "/"):
                continue
            if entry.is_dir and recursive:
                for f in _manifest(ws, entry, remote).files:
                    add(f"{entry.path}/{f.path}", f.size, f.oid, False)
            else:
                add(entry.path, entry.size, None if entry.is_dir else entry.oid, entry.is_dir)
        if path and not found:
            raise ArtifactNotFoundError(
                f"no artifact {path!r} in run {res.run_id}", hint=f"gitml ls runs:/{res.run_id}"
            )
    return sorted(found.values(), key=lambda a: a.path)


@dataclass(frozen=True)
class GetResult:
    path: Path
    files: int
    bytes: int
    fetched: TransferResult


def get(
    ws: Workspace,
    uri: str | RunsURI,
    *,
    out: StrPath | None = None,
    rev: str | None = None,
    remote: str | None = None,
    jobs: int | None = None,
) -> GetResult:
    """Download a file or directory artifact, verified, to ``out`` (default: its name in the current dir)."""
    res = resolve(ws, uri, rev=rev)
    path = res.uri.path
    owner = _owner(res.entries, path) if path else None
    cache = open_cache(ws)
    name = PurePosixPath(path).name if path else res.run_id
    # What to place, as (relative destination, oid, size); None means "a single file at out".
    if owner is not None and not owner.is_dir:
        dest = _file_destination(out, name)
        fetched = fetch_entries(ws, [owner], remote=remote, jobs=jobs)
        _raise_if_failed(fetched, res)
        cache.checkout_file(owner.oid, owner.size, dest)
        return GetResult(dest, 1, owner.size, fetched)
    if owner is not None:
        manifest = _manifest(ws, owner, remote)
        sub = path[len(owner.path) + 1 :] if path != owner.path else ""
        files = builtins.list(manifest.under(sub))
        if sub and len(files) == 1 and files[0].path == sub:
            dest = _file_destination(out, name)
            fetched = fetch_entries(
                ws, [ArtifactEntry(path, files[0].oid, files[0].size)], remote=remote, jobs=jobs
            )
            _raise_if_failed(fetched, res)
            cache.checkout_file(files[0].oid, files[0].size, dest)
            return GetResult(dest, 1, files[0].size, fetched)
        if not files:
            raise ArtifactNotFoundError(f"no artifact {path!r} in run {res.run_id}")
        fetched = fetch_entries(ws, [owner], remote=remote, jobs=jobs)
        _raise_if_failed(fetched, res)
        dest_dir = _dir_destination(out, name)
        count = cache.checkout_tree(Manifest(tuple(files)), dest_dir, prefix=sub)
        return GetResult(dest_dir, count, sum(f.size for f in files), fetched)
    chosen = [e for e in res.entries.values() if not path or e.path.startswith(path + "/")]
    if not chosen:
        raise ArtifactNotFoundError(
            f"no artifact {path!r} in run {res.run_id}" if path else f"run {res.run_id} has no artifacts",
            hint=f"gitml ls runs:/{res.run_id}",
        )
    fetched = fetch_entries(ws, chosen, remote=remote, jobs=jobs)
    _raise_if_failed(fetched, res)
    dest_dir = _dir_destination(out, name)
    count = 0
    total = 0
    for entry in chosen:
        rel = entry.path[len(path) + 1 :] if path else entry.path
        target = contained_path(dest_dir, rel, what="artifact path")
        if entry.is_dir:
            count += cache.checkout_tree(cache.read_manifest(entry.oid), target)
        else:
            cache.checkout_file(entry.oid, entry.size, target)
            count += 1
        total += entry.size
    return GetResult(dest_dir, count, total, fetched)


def _raise_if_failed(fetched: TransferResult, res: Resolved) -> None:
    if fetched.failures:
        raise fetched.failures[0].error
    if fetched.missing:
        raise ObjectMissingError(
            f"{len(fetched.missing)} object(s) of run {res.run_id} are in neither the cache nor "
            f"{fetched.remote or 'the remote'} (first: {fetched.missing[0][:12]})",
            hint="push them from the clone that logged the run: gitml push",
        )


def _file_destination(out: StrPath | None, name: str) -> Path:
    if out is None:
        return Path.cwd() / name
    dest = Path(out)
    return dest / name if dest.is_dir() else dest


def _dir_destination(out: StrPath | None, name: str) -> Path:
    dest = Path(out) if out is not None else Path.cwd() / name
    if dest.exists() and not dest.is_dir():
        raise ArtifactNotFoundError(f"{dest} exists and is not a directory")
    dest.mkdir(parents=True, exist_ok=True)
    return dest


# -- the Python API (gitml.artifacts.download / gitml.artifacts.list) --------------------------------


def download(uri: str, dst: StrPath | None = None, *, rev: str | None = None) -> Path:
    """Download ``runs:/<run>/<path>`` (a file or a directory) to ``dst``; returns the local path."""
    from gitml.tracking.fluent import workspace

    return get(workspace(), uri, out=dst, rev=rev).path


def list(uri: str, *, recursive: bool = False, rev: str | None = None) -> builtins.list[ArtifactInfo]:
    """The artifacts under ``runs:/<run>[/<path>]``."""
    from gitml.tracking.fluent import workspace

    return ls(workspace(), uri, recursive=recursive, rev=rev)
