"""Download an object (a file, or a directory through its manifest) straight from storage to a folder.

For ``gitml get --repo URL``, where there is no clone and so no cache: each
file streams from the store to a temp name beside its destination, is checked
against its hash while it is written, and is renamed into place only then. On
any failure the temp files go and nothing partial is left behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from gitml.artifacts.hashing import hash_bytes
from gitml.artifacts.manifest import parse_manifest
from gitml.exceptions import IntegrityError, ObjectMissingError
from gitml.paths import contained_path
from gitml.store.base import RemoteSpec, Transfer, open_store

__all__ = ["DirectResult", "download_object"]


@dataclass(frozen=True)
class DirectResult:
    path: Path
    files: int
    bytes: int


def _tmp_beside(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.{secrets.token_hex(4)}.gitml-tmp"


def download_object(
    spec: RemoteSpec,
    *,
    oid: str,
    size: int,
    is_dir: bool,
    dest: Path,
    jobs: int | None = None,
) -> DirectResult:
    """Place object ``oid`` at ``dest`` (a file, or a folder holding the manifest's files), verified."""
    store = open_store(spec)
    placed: list[tuple[Path, Path]] = []
    try:
        if not is_dir:
            items = [Transfer(oid, size, dest)]
        else:
            data = store.read(oid)
            if hash_bytes(data) != oid:
                raise IntegrityError(f"{store.url}: the manifest {oid[:12]} does not match its hash")
            manifest = parse_manifest(data, where=f"manifest {oid[:12]}")
            dest.mkdir(parents=True, exist_ok=True)
            items = [
                Transfer(f.oid, f.size, contained_path(dest, f.path, what="manifest path"))
                for f in manifest.files
            ]
        staged = []
        for item in items:
            item.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = _tmp_beside(item.path)
            placed.append((tmp, item.path))
            staged.append(Transfer(item.oid, item.size, tmp))
        n_jobs = jobs or (8 if spec.is_local else 32)
        failures = store.download(staged, jobs=n_jobs)
        if failures:
            raise failures[0].error
        for tmp, final in placed:
            os.replace(tmp, final)
        placed.clear()
        return DirectResult(dest, len(items), sum(i.size for i in items))
    except ObjectMissingError as exc:
        raise ObjectMissingError(
            f"{exc.message} (in {store.url})", hint="push it from the clone that logged the run: gitml push"
        ) from exc
    finally:
        for tmp, _final in placed:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        store.close()
