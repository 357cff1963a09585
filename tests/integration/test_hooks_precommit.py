"""pre-commit through a real ``git commit``: large binaries and unparsable .gitml/ files are refused,
judged by what is staged (the index git names), never by the work tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import git
from tests.integration.hooks_helpers import commit_run, run_git, setup_repo


@pytest.fixture
def guarded(repo: Path) -> Path:
    setup_repo(repo, None)
    (repo / ".gitml" / "config.local.yaml").write_text("hooks:\n  max_file_size: 10KB\n")
    return repo


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def test_a_large_binary_is_refused_with_the_gitml_command(guarded: Path) -> None:
    repo = guarded
    before = head(repo)
    (repo / "model weights.bin").write_bytes(b"\0" + os.urandom(20_000))
    git(repo, "add", "model weights.bin")
    proc = run_git(repo, "commit", "-m", "add model")
    assert proc.returncode != 0
    assert head(repo) == before
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: 1 binary file(s) over hooks.max_file_size (10.0 kB) staged into git"], (
        proc.stderr
    )
    hint = next(line for line in proc.stderr.splitlines() if line.startswith("Hint:"))
    assert "git rm --cached -- 'model weights.bin'" in hint
    assert "gitml run --artifact 'model weights.bin' -- " in hint
    assert "Traceback" not in proc.stderr


def test_a_small_binary_and_a_large_text_file_pass(guarded: Path) -> None:
    repo = guarded
    (repo / "icon.png").write_bytes(b"\x89PNG\0" + os.urandom(1000))
    (repo / "data.csv").write_text("x,y\n" + "1,2\n" * 10_000)
    git(repo, "add", "icon.png", "data.csv")
    proc = run_git(repo, "commit", "-q", "-m", "small binary, large text")
    assert proc.returncode == 0, proc.stderr
    # Already committed, so not staged by the next commit: only what a commit adds is judged.
    (repo / "data.csv").write_bytes(b"\0" * 20_000)
    (repo / "other.txt").write_text("x\n")
    git(repo, "add", "other.txt")
    assert run_git(repo, "commit", "-q", "-m", "other").returncode == 0


def test_a_broken_run_file_is_refused_even_when_fixed_only_in_the_work_tree(guarded: Path) -> None:
    repo = guarded
    run_id, _ = commit_run(repo, {"a.txt": b"a\n"})
    run_yaml = repo / ".gitml" / "runs" / run_id / "run.yaml"
    good = run_yaml.read_bytes()
    run_yaml.write_text("id: [unclosed\n")
    git(repo, "add", str(run_yaml))
    proc = run_git(repo, "commit", "-m", "broken")
    assert proc.returncode != 0
    assert f".gitml/runs/{run_id}/run.yaml" in proc.stderr
    assert "Error: 1 staged .gitml/ file(s) do not parse" in proc.stderr
    run_yaml.write_bytes(good)  # fixed in the work tree, not staged
    proc = run_git(repo, "commit", "-m", "broken")
    assert proc.returncode != 0, "the index still holds the broken file"
    (repo / "x.txt").write_text("x\n")
    git(repo, "add", str(run_yaml), "x.txt")
    proc = run_git(repo, "commit", "-q", "-m", "fixed")
    assert proc.returncode == 0, proc.stderr


def test_commit_all_is_judged_by_the_index_git_builds_for_it(guarded: Path) -> None:
    repo = guarded
    run_id, _ = commit_run(repo, {"a.txt": b"a\n"})
    artifacts = repo / ".gitml" / "runs" / run_id / "artifacts.yaml"
    artifacts.write_text("a.txt: {hash: sha256:nothex, size: 2}\n")
    proc = run_git(repo, "commit", "-a", "-m", "all")  # git passes its temporary index in GIT_INDEX_FILE
    assert proc.returncode != 0
    assert "artifacts.yaml" in proc.stderr


def test_a_staged_config_local_or_broken_config_is_refused(guarded: Path) -> None:
    repo = guarded
    (repo / ".gitml" / "config.yaml").write_text("format: 1\nhooks:\n  max_file_size: lots\n")
    git(repo, "add", ".gitml/config.yaml")
    proc = run_git(repo, "commit", "-m", "bad config")
    assert proc.returncode != 0
    assert "hooks.max_file_size must be a size" in proc.stderr
    git(repo, "checkout", "HEAD", "--", ".gitml/config.yaml")
    git(repo, "add", "-f", ".gitml/config.local.yaml")
    proc = run_git(repo, "commit", "-m", "local config")
    assert proc.returncode != 0
    assert "config.local.yaml holds this machine's settings" in proc.stderr


def test_skip_variable_lets_the_commit_through(guarded: Path) -> None:
    repo = guarded
    (repo / "big.bin").write_bytes(b"\0" * 20_000)
    git(repo, "add", "big.bin")
    proc = run_git(repo, "commit", "-q", "-m", "anyway", env={"GITML_HOOKS_SKIP": "1"})
    assert proc.returncode == 0, proc.stderr
