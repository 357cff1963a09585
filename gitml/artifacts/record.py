"""``artifacts.yaml``: what a run's artifacts are, by path (pure parse/dump, plus one locked update).

Each entry maps a relative artifact path to its content::

    model.pkl: {hash: sha256:<hex>, size: 1234}
    images: {hash: sha256:<hex>, size: 99123, files: 120, type: dir}
    data/out.csv: {hash: sha256:<hex>, size: 10, output: true}

A ``dir`` entry's hash names a manifest object (:mod:`gitml.artifacts.manifest`).
``output: true`` marks a workspace path recorded by ``gitml run --artifact``,
which ``gitml pull`` restores into the work tree. Entries never nest: a path
is not inside another entry's path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gitml import _yaml
from gitml._fs import atomic_write, locked
from gitml.artifacts.hashing import format_hash, parse_hash
from gitml.exceptions import CorruptRunError, GitMLError, InvalidValueError
from gitml.paths import check_relpath

__all__ = ["FILE_NAME", "ArtifactEntry", "dump_entries", "merge_entries", "parse_entries", "update_entries"]

FILE_NAME = "artifacts.yaml"

_HEADER = "# Written by gitml: artifact path -> content hash and size. The bytes live in the cache/remote.\n"


@dataclass(frozen=True)
class ArtifactEntry:
    path: str
    oid: str
    size: int
    is_dir: bool = False
    files: int | None = None
    output: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hash": format_hash(self.oid), "size": self.size}
        if self.is_dir:
            out["files"] = self.files or 0
            out["type"] = "dir"
        if self.output:
            out["output"] = True
        return out


def parse_entries(data: bytes, *, where: str) -> dict[str, ArtifactEntry]:
    """Read artifacts.yaml bytes; every path and hash is validated (the file may be hand-edited)."""
    try:
        raw = _yaml.load(data)
    except _yaml.YAMLError as exc:
        raise CorruptRunError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise CorruptRunError(f"{where} must map artifact paths to {{hash, size}}")
    out: dict[str, ArtifactEntry] = {}
    for path, value in raw.items():
        try:
            check_relpath(path, what=f"artifact path in {where}")
            if not isinstance(value, Mapping):
                raise InvalidValueError(f"{where}: entry {path!r} must be a mapping")
            oid = parse_hash(value.get("hash"), where=f"{where}: {path}")
            size = value.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise InvalidValueError(f"{where}: entry {path!r} has a bad size {size!r}")
            kind = value.get("type", "file")
            if kind not in ("file", "dir"):
                raise InvalidValueError(f"{where}: entry {path!r} has an unknown type {kind!r}")
            files = value.get("files")
            if kind == "dir" and (not isinstance(files, int) or isinstance(files, bool) or files < 0):
                raise InvalidValueError(f"{where}: directory {path!r} has a bad file count {files!r}")
        except GitMLError as exc:
            raise CorruptRunError(
                exc.message, hint="fix or restore the file: git checkout -- " + where
            ) from exc
        out[path] = ArtifactEntry(
            path, oid, size, kind == "dir", files if kind == "dir" else None, value.get("output") is True
        )
    _check_no_nesting(out.keys(), where=where)
    return out


def _check_no_nesting(paths: Iterable[str], *, where: str) -> None:
    # Not a pairwise check of sorted paths: "a.txt" sorts between "a" and "a/b".
    known = set(paths)
    for path in sorted(known):
        parts = path.split("/")
        for i in range(1, len(parts)):
            outer = "/".join(parts[:i])
            if outer in known:
                raise CorruptRunError(f"{where}: artifact {path!r} is inside artifact {outer!r}")


def dump_entries(entries: Mapping[str, ArtifactEntry]) -> bytes:
    lines = [_HEADER]
    for path in sorted(entries):
        body = ", ".join(f"{k}: {_yaml.format_scalar(v)}" for k, v in entries[path].to_dict().items())
        lines.append(f"{json.dumps(path, ensure_ascii=False)}: {{{body}}}\n")
    return "".join(lines).encode("utf-8")


def merge_entries(
    current: Mapping[str, ArtifactEntry], new: Iterable[ArtifactEntry]
) -> dict[str, ArtifactEntry]:
    """Lay ``new`` over ``current``: the same path is replaced; a path inside another entry is refused."""
    out = dict(current)
    for entry in new:
        for path in list(out):
            if path == entry.path:
                continue
            if path.startswith(entry.path + "/") or entry.path.startswith(path + "/"):
                inner, outer = (path, entry.path) if path.startswith(entry.path + "/") else (entry.path, path)
                raise InvalidValueError(
                    f"artifact {inner!r} would be inside artifact {outer!r}",
                    hint="log the whole directory again, or choose another artifact_path",
                )
        out[entry.path] = replace(entry)
    return out


def update_entries(
    run_dir: Path, new: Iterable[ArtifactEntry], *, fsync: bool = False
) -> dict[str, ArtifactEntry]:
    """Add entries to a run's artifacts.yaml under a lock (other processes may log to the same run)."""
    path = run_dir / FILE_NAME
    with locked(run_dir):
        try:
            current = parse_entries(path.read_bytes(), where=str(path))
        except FileNotFoundError:
            current = {}
        merged = merge_entries(current, new)
        atomic_write(path, dump_entries(merged), fsync=fsync)
    return merged
