"""Helpers shared by the model-registry tests (tests/integration/test_registry_*.py, tests/cli).

Repositories are real: ``git init``, ``gitml init`` and a folder storage remote; runs are logged
with the Python API (the quick part); what the tests check is read back with the real ``git`` CLI
(``git for-each-ref``, ``git cat-file``) wherever git can answer.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

import gitml
from gitml import api
from tests.artifact_helpers import make_tree
from tests.conftest import git, run_gitml

__all__ = [
    "ADA",
    "Lab",
    "clone",
    "gm",
    "log_run",
    "make_lab",
    "tag_fields",
    "tag_object",
    "tag_refs",
    "tagger",
]

ADA = "Ada Lovelace <ada@example.com>"


def gm(
    cwd: Path, *args: str, code: int = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``gitml ARGS`` (the console script) in ``cwd``; it must exit ``code``, never with a traceback."""
    proc = run_gitml(*args, cwd=cwd, env=env)
    assert proc.returncode == code, (
        f"gitml {' '.join(args)} exited {proc.returncode}, expected {code}\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


@dataclass
class Lab:
    """A developer's clone: a git work tree with gitml initialised and a folder storage remote."""

    root: Path
    storage: Path
    origin: str | None = None

    def commit_all(self, message: str = "work") -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message)
        return git(self.root, "rev-parse", "HEAD").strip()

    def push_git(self) -> None:
        """``git push origin main --tags`` (the real git CLI)."""
        git(self.root, "push", "-q", "origin", "main", "--tags")


def _configure_identity(root: Path) -> None:
    git(root, "config", "user.name", ADA.split(" <")[0])
    git(root, "config", "user.email", ADA.split("<")[1].rstrip(">"))


def make_lab(root: Path, *, storage: Path, origin: str | None = None) -> Lab:
    """``git init`` + one commit + ``gitml init`` + ``gitml remote add storage STORAGE --default``,
    committed; with ``origin``, ``git remote add origin ORIGIN`` and the branch pushed there."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    _configure_identity(root)
    (root / "train.py").write_text("print('training')\n")
    api.init(root)
    api.remote_add("storage", str(storage), repo=root, default=True)
    lab = Lab(root, storage, origin)
    lab.commit_all("initial")
    if origin is not None:
        git(root, "remote", "add", "origin", origin)
        git(root, "push", "-q", "origin", "main")
    return lab


def log_run(
    lab: Lab,
    artifacts: dict[str, bytes | dict[str, bytes]],
    *,
    name: str | None = None,
    metrics: dict[str, float] | None = None,
    params: dict[str, object] | None = None,
    commit: bool = True,
) -> str:
    """A finished run in ``lab`` that logged ``artifacts`` (path -> bytes for a file, or
    path -> {relpath: bytes} for a directory), committed with ``gitml runs commit`` unless told not."""
    gitml.set_tracking_uri(lab.root)
    scratch = lab.root.parent / f"{lab.root.name}-src-{len(os.listdir(lab.root.parent))}"
    with gitml.start_run(name=name) as run:
        for path, content in artifacts.items():
            src = scratch / path
            if isinstance(content, dict):
                make_tree(src, content)
                gitml.log_artifacts(src, artifact_path=path)
            else:
                src.parent.mkdir(parents=True, exist_ok=True)
                src.write_bytes(content)
                parent = str(Path(path).parent)
                gitml.log_artifact(src, None if parent == "." else parent)
        if params:
            gitml.log_params(params)
        for key, value in (metrics or {}).items():
            gitml.log_metric(key, value)
    if commit:
        api.commit([run.run_id], repo=lab.root)
    return run.run_id


def clone(url: str, dest: Path, *args: str) -> Path:
    """``git clone -q [ARGS] URL DEST`` with the identity the tests use."""
    git(dest.parent, "clone", "-q", *args, url, str(dest))
    _configure_identity(dest)
    return dest


def tag_refs(repo: Path) -> dict[str, str]:
    """Every tag of ``repo`` -> the object its ref names, as ``git for-each-ref`` sees them."""
    out = git(repo, "for-each-ref", "refs/tags", "--format=%(refname:strip=2) %(objectname)")
    return dict(line.rsplit(" ", 1) for line in out.splitlines())


def tag_object(repo: Path, tag: str) -> tuple[str, str]:
    """(the object type the tag ref names, the commit it peels to)."""
    kind = git(repo, "cat-file", "-t", f"refs/tags/{tag}").strip()
    commit = git(repo, "rev-parse", f"refs/tags/{tag}^{{commit}}").strip()
    return kind, commit


def tag_fields(repo: Path, tag: str) -> tuple[str, dict[str, object]]:
    """(subject, the YAML block) of an annotated tag's message, read with ``git for-each-ref``."""
    body = git(repo, "for-each-ref", f"refs/tags/{tag}", "--format=%(contents)")
    subject, _, rest = body.partition("\n\n")
    data = yaml.safe_load(rest)
    assert isinstance(data, dict), body
    return subject, data


def tagger(repo: Path, tag: str) -> tuple[str, int]:
    """(``Name <email>``, unix time) of an annotated tag, read with ``git for-each-ref``."""
    out = git(
        repo, "for-each-ref", f"refs/tags/{tag}", "--format=%(taggername) %(taggeremail)|%(taggerdate:unix)"
    ).strip()
    who, _, when = out.partition("|")
    return who, int(when)
