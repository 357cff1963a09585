"""GitRepo against real repositories, checked with the git CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitml.exceptions import GitError, RepoNotFoundError, RevisionNotFoundError
from gitml.repo import GitRepo
from tests.conftest import git


def test_head_on_branch_detached_and_empty(repo: Path, tmp_path: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD").strip()
    assert GitRepo(repo).head() == (sha, "main")
    git(repo, "checkout", "-q", "--detach")
    assert GitRepo(repo).head() == (sha, None)
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    assert GitRepo(empty).head() == (None, "main")


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(RepoNotFoundError) as info:
        GitRepo.discover(tmp_path)
    assert "git init" in (info.value.hint or "")


def test_discover_from_subdirectory_and_worktree(repo: Path, tmp_path: Path) -> None:
    (repo / "src" / "deep").mkdir(parents=True)
    assert GitRepo.discover(repo / "src" / "deep").root == repo.resolve()
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt))
    opened = GitRepo.discover(wt)
    assert opened.root == wt.resolve()
    assert opened.head()[0] == git(repo, "rev-parse", "HEAD").strip()


def test_resolve_revisions(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "tag", "v1")
    r = GitRepo(repo)
    assert r.resolve("HEAD") == sha
    assert r.resolve("main") == sha
    assert r.resolve("v1") == sha
    assert r.resolve(sha[:8]) == sha
    for bad in ("nosuchbranch", "--output=x", "", "-x"):
        with pytest.raises(RevisionNotFoundError):
            r.resolve(bad)


def test_clean_tree_ignores_gitml_folder(repo: Path) -> None:
    (repo / ".gitml" / "runs" / "x").mkdir(parents=True)
    (repo / ".gitml" / "runs" / "x" / "run.yaml").write_text("id: x\n")
    state = GitRepo(repo).source_state()
    assert state.commit == git(repo, "rev-parse", "HEAD").strip()
    assert state.branch == "main"
    assert not state.dirty and state.diff == b""


def test_dirty_diff_rebuilds_the_exact_code(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('training v2')\nlr = 0.1\n")
    (repo / "new_module.py").write_text("X = 1\n")
    (repo / "staged.py").write_text("Y = 2\n")
    git(repo, "add", "staged.py")
    (repo / "data.bin").write_bytes(b"\x00\x01" * 10)
    (repo / ".gitignore").write_text("ignored.txt\n")
    (repo / "ignored.txt").write_text("secret\n")
    state = GitRepo(repo).source_state()
    assert state.dirty
    assert "data.bin" in state.untracked_skipped
    assert b"ignored.txt" not in state.diff.replace(b"+ignored.txt", b"")
    # Apply the diff to a clean checkout of the commit: the code comes back byte for byte.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    patch = tmp_path / "p.diff"
    patch.write_bytes(state.diff)
    git(clone, "apply", str(patch))
    for name in ("train.py", "new_module.py", "staged.py", ".gitignore"):
        assert (clone / name).read_bytes() == (repo / name).read_bytes(), name


def test_source_state_cache_sees_changes(repo: Path) -> None:
    r = GitRepo(repo)
    assert not r.source_state().dirty
    assert r.source_state() is r.source_state()  # cached while nothing changes
    (repo / "train.py").write_text("print('changed')\n")
    assert r.source_state().dirty
    (repo / "train.py").write_text("print('training')\n")
    assert not r.source_state().dirty
    (repo / "sub").mkdir()
    (repo / "sub" / "new.py").write_text("n = 1\n")
    assert r.source_state().dirty  # a new untracked file in a new directory
    (repo / "sub" / "new.py").unlink()
    assert not r.source_state().dirty
    git(repo, "commit", "-q", "--allow-empty", "-m", "next")
    assert r.source_state().commit == git(repo, "rev-parse", "HEAD").strip()


def test_empty_repo_is_dirty_with_files(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("a = 1\n")
    state = GitRepo(tmp_path).source_state()
    assert state.commit is None and state.dirty
    assert b"+a = 1" in state.diff


def _write_run(repo: Path, name: str = "r1") -> str:
    folder = repo / ".gitml" / "runs" / name
    folder.mkdir(parents=True)
    (folder / "run.yaml").write_text("id: r1\n")
    (folder / "metrics.csv").write_text("key,value,step,timestamp\nloss,1.0,0,1\n")
    return f".gitml/runs/{name}"


def test_commit_paths_commits_only_those_paths(repo: Path) -> None:
    (repo / "train.py").write_text("print('unstaged change')\n")
    (repo / "other.py").write_text("staged = True\n")
    git(repo, "add", "other.py")
    before = git(repo, "status", "--porcelain")
    parent = git(repo, "rev-parse", "HEAD").strip()
    path = _write_run(repo)
    sha = GitRepo(repo).commit_paths([path], message="gitml: record run r1\n")
    assert sha == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "rev-parse", "HEAD~1").strip() == parent
    files = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert files == [f"{path}/metrics.csv", f"{path}/run.yaml"]
    assert (
        git(repo, "log", "-1", "--format=%s|%an|%ae").strip()
        == "gitml: record run r1|Test User|test@example.com"
    )
    # Everything else is exactly as it was: the unstaged edit, the staged file.
    assert git(repo, "status", "--porcelain") == before
    git(repo, "fsck", "--strict")
    assert "commit: gitml: record run r1" in git(repo, "reflog", "-1")
    # Committing the same content again is a no-op.
    assert GitRepo(repo).commit_paths([path], message="again") is None


def test_commit_paths_in_empty_repo(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    path = _write_run(tmp_path)
    sha = GitRepo(tmp_path).commit_paths([path], message="first")
    assert git(tmp_path, "rev-parse", "main").strip() == sha
    git(tmp_path, "fsck", "--strict")


def test_commit_waits_for_index_lock_then_fails_clearly(repo: Path) -> None:
    path = _write_run(repo)
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    with pytest.raises(GitError) as info:
        GitRepo(repo).commit_paths([path], message="m", lock_timeout=0.2)
    assert "index.lock" in info.value.message + (info.value.hint or "")
    assert (repo / path / "run.yaml").exists()  # nothing lost
    lock.unlink()
    assert GitRepo(repo).commit_paths([path], message="m") is not None


def test_commit_without_identity_is_a_clear_error(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "nohome"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    path = _write_run(repo)
    with pytest.raises(GitError) as info:
        GitRepo(repo).commit_paths([path], message="m")
    assert "user.email" in info.value.message
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "1"


def test_list_tree_and_read_blob(repo: Path) -> None:
    path = _write_run(repo)
    r = GitRepo(repo)
    sha = r.commit_paths([path], message="m")
    assert sha is not None
    entries = r.list_tree(sha, ".gitml/runs/r1")
    assert set(entries) == {"run.yaml", "metrics.csv"}
    assert r.read_blob(entries["run.yaml"][1]) == b"id: r1\n"
    assert r.list_tree(sha, ".gitml/runs/nope") == {}
    assert r.list_tree(sha, "train.py") == {}


def test_parallel_commits_all_land(repo: Path) -> None:
    """Eight processes committing their own run folders at once: every commit lands, none lost."""
    paths = [_write_run(repo, f"run{i}") for i in range(8)]
    code = (
        "import sys; from gitml.repo import GitRepo; "
        "GitRepo('.').commit_paths([sys.argv[1]], message='run ' + sys.argv[1])"
    )
    procs = [
        subprocess.Popen([os.sys.executable, "-c", code, p], cwd=repo, stderr=subprocess.PIPE) for p in paths
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    tree = git(repo, "ls-tree", "-r", "--name-only", "HEAD", ".gitml/runs").split()
    assert {t.split("/")[2] for t in tree} == {f"run{i}" for i in range(8)}
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "9"
    git(repo, "fsck", "--strict")


def test_untracked_files_in_the_diff_are_bounded(repo: Path) -> None:
    from gitml.repo.worktree import UNTRACKED_DIFF_BUDGET, UNTRACKED_NAMED_MAX

    data = repo / "data"
    data.mkdir()
    chunk = "x" * 1023 + "\n"
    for i in range(300):  # 300 KiB of text each 1 KiB... plus 1.5 MiB in larger files
        (data / f"small{i:03d}.csv").write_text(chunk)
    for i in range(6):
        (data / f"big{i}.csv").write_text(chunk * 250)
    state = GitRepo(repo).source_state()
    assert state.dirty
    assert len(state.diff) < UNTRACKED_DIFF_BUDGET * 1.2  # headers aside, the budget holds
    assert len(state.untracked_skipped) <= UNTRACKED_NAMED_MAX + 1
    assert b"data/small000.csv" in state.diff
