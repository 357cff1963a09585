"""Small helpers shared by the artifact tests (tests/cli, tests/integration): hashes and object keys,
the repository's cache and artifacts.yaml, folders of files, and what a clean CLI failure looks like.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_of(oid: str) -> str:
    """The relative key of an object, as every store lays it out."""
    return f"sha256/{oid[:2]}/{oid[2:]}"


def artifacts_yaml_path(repo: Path, run_id: str) -> Path:
    return repo / ".gitml" / "runs" / run_id / "artifacts.yaml"


def artifacts_yaml(repo: Path, run_id: str) -> dict[str, Any]:
    data = yaml.safe_load(artifacts_yaml_path(repo, run_id).read_text())
    assert isinstance(data, dict)
    return data


def cache_dir(repo: Path) -> Path:
    return repo / ".gitml" / "cache"


def cache_path(repo: Path, oid: str) -> Path:
    return cache_dir(repo) / key_of(oid)


def cache_oids(repo: Path) -> set[str]:
    base = cache_dir(repo) / "sha256"
    if not base.is_dir():
        return set()
    return {d.name + f.name for d in base.iterdir() for f in d.iterdir()}


def drop_cache(repo: Path) -> None:
    """Remove the repository's cache (read-only objects included), if there is one."""
    if cache_dir(repo).exists():
        shutil.rmtree(cache_dir(repo))


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def clear_error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    """Assert a clean CLI failure (exit ``code``, one ``Error:`` line, no traceback); return that line."""
    both = proc.stdout + proc.stderr
    assert proc.returncode == code, f"exit {proc.returncode}, wanted {code}:\n{both}"
    assert "Traceback" not in both, both
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, proc.stderr
    assert "unexpected" not in errors[0], errors[0]
    for line in proc.stderr.splitlines():
        assert line.startswith(("Error:", "Hint:", "  failed ")), f"stray stderr line {line!r}"
    return errors[0]
