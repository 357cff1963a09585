"""post-checkout and post-merge through real ``git checkout`` / ``git pull`` in a fresh clone."""

from __future__ import annotations

import os
from pathlib import Path

from tests.artifact_helpers import cache_oids
from tests.conftest import git
from tests.integration.hooks_helpers import add_bare_remote, commit_run, gm, run_git, setup_repo


def _published(repo: Path, tmp_path: Path) -> tuple[Path, Path, set[str]]:
    """A repo whose `feature` branch holds a run with pushed artifacts; a clone of it with hooks."""
    store = tmp_path / "store"
    setup_repo(repo, store)
    bare = add_bare_remote(repo, tmp_path / "remote.git")
    assert run_git(repo, "push", "-q", "origin", "main").returncode == 0
    git(repo, "checkout", "-q", "-b", "feature")
    _, oids = commit_run(repo, {"model.bin": os.urandom(1000), "notes.txt": b"n\n"})
    assert run_git(repo, "push", "-q", "origin", "feature").returncode == 0
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    gm(clone, "hooks", "install")
    return clone, store, oids


def test_checkout_reports_missing_artifacts_and_does_not_fail(repo: Path, tmp_path: Path) -> None:
    clone, _store, _oids = _published(repo, tmp_path)
    proc = run_git(clone, "checkout", "feature")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("gitml:")]
    assert lines == ["gitml: 1 run(s) here lack 2 artifact object(s) in the cache; get them with: gitml pull"]
    assert cache_oids(clone) == set()
    proc = run_git(clone, "checkout", "main")  # nothing missing on main: nothing said
    assert proc.returncode == 0 and "gitml" not in proc.stderr, proc.stderr
    proc = run_git(clone, "checkout", "feature", "--", "model.bin.missing")  # not a branch checkout
    assert "gitml" not in proc.stderr


def test_checkout_pulls_when_the_config_says_so(repo: Path, tmp_path: Path) -> None:
    clone, _store, oids = _published(repo, tmp_path)
    (clone / ".gitml" / "config.local.yaml").write_text("hooks:\n  pull: true\n")
    proc = run_git(clone, "checkout", "feature")
    assert proc.returncode == 0, proc.stderr
    assert "gitml: pulled 2 object(s)" in proc.stderr
    assert cache_oids(clone) == oids


def test_a_failing_pull_says_so_and_lets_the_checkout_finish(repo: Path, tmp_path: Path) -> None:
    clone, store, _oids = _published(repo, tmp_path)
    (clone / ".gitml" / "config.local.yaml").write_text("hooks:\n  pull: true\n")
    store.rename(tmp_path / "store-gone")
    proc = run_git(clone, "checkout", "feature")
    assert proc.returncode == 0, proc.stderr
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD").strip() == "feature"
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("gitml: warning:")]
    assert len(warnings) == 1, proc.stderr
    assert "gitml pull" in warnings[0]
    assert "Traceback" not in proc.stderr


def test_git_pull_reports_what_the_merge_brought(repo: Path, tmp_path: Path) -> None:
    clone, _store, _oids = _published(repo, tmp_path)
    git(repo, "checkout", "-q", "main")
    commit_run(repo, {"more.bin": os.urandom(300)})
    assert run_git(repo, "push", "-q", "origin", "main").returncode == 0
    proc = run_git(clone, "pull", "-q", "--no-rebase", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert "gitml: 1 run(s) here lack 1 artifact object(s) in the cache; get them with: gitml pull" in (
        proc.stderr
    )
    (clone / ".gitml" / "config.local.yaml").write_text("hooks:\n  pull: true\n")
    git(repo, "checkout", "-q", "main")
    _, oids = commit_run(repo, {"last.bin": os.urandom(300)})
    assert run_git(repo, "push", "-q", "origin", "main").returncode == 0
    proc = run_git(clone, "pull", "-q", "--no-rebase", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert oids <= cache_oids(clone)
