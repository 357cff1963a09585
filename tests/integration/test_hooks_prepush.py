"""pre-push through a real ``git push`` to a bare repository: what reaches the gitml remote, and when
the push is stopped."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.artifact_helpers import cache_path
from tests.conftest import git
from tests.integration.conftest import RemoteStore
from tests.integration.hooks_helpers import (
    add_bare_remote,
    commit_run,
    gm,
    ref_of,
    run_git,
    setup_repo,
    store_oids,
)


@pytest.fixture
def pushing(repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(repo with hooks installed and a folder remote, that folder, the bare git remote)."""
    store = tmp_path / "store"
    setup_repo(repo, store)
    return repo, store, add_bare_remote(repo, tmp_path / "remote.git")


def test_push_uploads_what_the_pushed_commits_reference_and_only_that(
    repo: Path, remote: RemoteStore, tmp_path: Path
) -> None:
    gm(repo, "init")
    remote.add(repo)
    git(repo, "add", ".gitml")
    git(repo, "commit", "-q", "-m", "gitml init")
    gm(repo, "hooks", "install")
    bare = add_bare_remote(repo, tmp_path / "remote.git")
    _, first = commit_run(repo, {"a.bin": os.urandom(3000)})
    proc = run_git(repo, "push", "-q", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert "gitml: pushed 1 artifact object(s)" in proc.stderr
    assert remote.oids() == first
    git(repo, "checkout", "-q", "-b", "feature")
    _, feature = commit_run(repo, {"b.bin": os.urandom(2000), "c.txt": b"c\n"})
    git(repo, "checkout", "-q", "main")
    _, unpushed = commit_run(repo, {"d.bin": os.urandom(1000)})
    proc = run_git(repo, "push", "-q", "origin", "feature")  # a new branch: main's history is known
    assert proc.returncode == 0, proc.stderr
    assert "gitml: pushed 2 artifact object(s)" in proc.stderr
    assert remote.oids() == first | feature
    assert not unpushed & remote.oids()
    assert ref_of(bare, "refs/heads/feature") == git(repo, "rev-parse", "feature").strip()
    remote.assert_intact()


def test_a_second_push_uploads_nothing(pushing: tuple[Path, Path, Path]) -> None:
    repo, store, _bare = pushing
    commit_run(repo, {"a.bin": os.urandom(500)})
    assert run_git(repo, "push", "-q", "origin", "main").returncode == 0
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    (repo / "notes.txt").write_text("no run here\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-q", "-m", "notes")
    proc = run_git(repo, "push", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert "gitml:" not in proc.stderr
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()} == before


def test_an_object_missing_from_the_cache_stops_the_push(pushing: tuple[Path, Path, Path]) -> None:
    repo, store, bare = pushing
    assert run_git(repo, "push", "-q", "origin", "main").returncode == 0
    pushed_before = ref_of(bare, "refs/heads/main")
    _, oids = commit_run(repo, {"a.bin": os.urandom(500)})
    path = cache_path(repo, next(iter(oids)))
    os.chmod(path, 0o644)
    path.unlink()
    proc = run_git(repo, "push", "origin", "main")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "are in neither the cache nor" in errors[0], proc.stderr
    assert any(line.startswith("Hint:") and "GITML_HOOKS_SKIP=1" in line for line in proc.stderr.splitlines())
    assert "Traceback" not in proc.stderr
    assert ref_of(bare, "refs/heads/main") == pushed_before
    assert store_oids(store) == set()


def test_a_failing_upload_stops_the_push(pushing: tuple[Path, Path, Path]) -> None:
    repo, store, bare = pushing
    commit_run(repo, {"a.bin": os.urandom(500)})
    store.mkdir()
    (store / "tmp").write_text("a file where the remote keeps its temporary files\n")
    proc = run_git(repo, "push", "origin", "main")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "cannot upload the artifacts of the pushed commits" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert ref_of(bare, "refs/heads/main") is None
    (store / "tmp").unlink()
    proc = run_git(repo, "push", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert ref_of(bare, "refs/heads/main") is not None


def test_deleting_a_branch_pushes_nothing(pushing: tuple[Path, Path, Path]) -> None:
    repo, _store, bare = pushing
    git(repo, "checkout", "-q", "-b", "gone")
    commit_run(repo, {"a.bin": os.urandom(500)})
    assert run_git(repo, "push", "-q", "origin", "gone").returncode == 0
    shutil.rmtree(repo / ".gitml" / "cache")  # nothing may be read or uploaded for a deletion
    proc = run_git(repo, "push", "origin", "--delete", "gone")
    assert proc.returncode == 0, proc.stderr
    assert ref_of(bare, "refs/heads/gone") is None


def test_pushing_a_registry_tag_uploads_the_tagged_run(pushing: tuple[Path, Path, Path]) -> None:
    repo, store, bare = pushing
    assert run_git(repo, "push", "-q", "origin", "main").returncode == 0
    git(repo, "checkout", "-q", "-b", "local-only")
    _, oids = commit_run(repo, {"model.bin": os.urandom(800)})
    git(repo, "tag", "-a", "churn@v3", "-m", "churn v3")
    proc = run_git(repo, "push", "origin", "churn@v3")
    assert proc.returncode == 0, proc.stderr
    assert store_oids(store) == oids
    assert ref_of(bare, "refs/tags/churn@v3") is not None
    assert ref_of(bare, "refs/heads/local-only") is None


def test_no_default_remote(repo: Path, tmp_path: Path) -> None:
    setup_repo(repo, None)
    bare = add_bare_remote(repo, tmp_path / "remote.git")
    (repo / "code.py").write_text("x = 1\n")
    git(repo, "add", "code.py")
    git(repo, "commit", "-q", "-m", "code")
    assert run_git(repo, "push", "-q", "origin", "main").returncode == 0  # nothing to upload: fine
    commit_run(repo, {"a.bin": os.urandom(100)})
    proc = run_git(repo, "push", "origin", "main")
    assert proc.returncode != 0
    assert "Error: the pushed commits reference 1 artifact(s), and no remote is configured" in proc.stderr
    assert "gitml remote add storage URL --default" in proc.stderr
    assert ref_of(bare, "refs/heads/main") != git(repo, "rev-parse", "HEAD").strip()
    proc = run_git(repo, "push", "-q", "origin", "main", env={"GITML_HOOKS_SKIP": "1"})
    assert proc.returncode == 0, proc.stderr
    assert ref_of(bare, "refs/heads/main") == git(repo, "rev-parse", "HEAD").strip()


def test_an_existing_pre_push_hook_still_runs_with_the_same_arguments_and_stdin(
    repo: Path, tmp_path: Path
) -> None:
    seen = tmp_path / "seen"
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.write_text(f'#!/bin/sh\necho "$@" > "{seen}.args"\ncat > "{seen}.stdin"\nexit "${{REFUSE:-0}}"\n')
    hook.chmod(0o755)
    store = tmp_path / "store"
    setup_repo(repo, store)
    bare = add_bare_remote(repo, tmp_path / "remote.git")
    _, oids = commit_run(repo, {"a.bin": os.urandom(100)})
    head = git(repo, "rev-parse", "HEAD").strip()
    proc = run_git(repo, "push", "-q", "origin", "main", env={"REFUSE": "3"})
    assert proc.returncode != 0
    assert store_oids(store) == set()  # the user's hook refused: gitml's part did not run
    proc = run_git(repo, "push", "-q", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert Path(f"{seen}.args").read_text() == f"origin {bare}\n"
    assert Path(f"{seen}.stdin").read_text() == f"refs/heads/main {head} refs/heads/main {'0' * 40}\n"
    assert store_oids(store) == oids
