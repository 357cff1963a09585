"""Shared by the hook tests: a repository with gitml's hooks installed, a bare git remote, runs.

Everything here goes through the real ``git`` command line (which runs the installed hooks with
their real arguments and stdin) and the installed ``gitml`` console script.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import gitml
from tests.artifact_helpers import make_tree, sha
from tests.conftest import git, run_gitml


def gm(cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = run_gitml(*args, cwd=cwd)
    assert proc.returncode == code, f"gitml {args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def run_git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real git CLI, not checked: hooks decide the exit code."""
    full = None if env is None else {**os.environ, **env}
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=full, check=False)


def setup_repo(repo: Path, store: Path | None, *, install: bool = True) -> Path:
    """``gitml init`` (+ a default folder remote), committed; then ``gitml hooks install``."""
    gm(repo, "init")
    if store is not None:
        gm(repo, "remote", "add", "storage", str(store), "--default")
    git(repo, "add", ".gitml")
    git(repo, "commit", "-q", "-m", "gitml init")
    if install:
        gm(repo, "hooks", "install")
    return repo


def add_bare_remote(repo: Path, bare: Path) -> Path:
    git(bare.parent, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    return bare


def commit_run(repo: Path, files: dict[str, bytes]) -> tuple[str, set[str]]:
    """A finished run logging ``files``, committed (gitml runs commit); its id and object hashes."""
    cwd = Path.cwd()
    os.chdir(repo)
    try:
        src = make_tree(repo / f"src-{len(os.listdir(repo))}", files)
        with gitml.start_run() as run:
            for rel in files:
                gitml.log_artifact(src / rel)
    finally:
        os.chdir(cwd)
    gm(repo, "runs", "commit", run.run_id)
    return run.run_id, {sha(data) for data in files.values()}


def store_oids(store: Path) -> set[str]:
    base = store / "sha256"
    if not base.is_dir():
        return set()
    return {d.name + f.name for d in base.iterdir() for f in d.iterdir()}


def ref_of(bare: Path, ref: str) -> str | None:
    proc = run_git(bare, "rev-parse", "--verify", "-q", ref)
    return proc.stdout.strip() or None
