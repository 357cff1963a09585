"""gitml.repo.objects hashes folders exactly as git does (checked against the git CLI)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gitml.repo.objects import EMPTY_TREE, dir_signature, tree_entries, tree_sha, tree_sha_of_dir
from tests.conftest import git


def test_folder_sha_matches_git(repo: Path) -> None:
    folder = repo / "runs" / "r1"
    (folder / "sub").mkdir(parents=True)
    (folder / "empty").mkdir()
    (folder / "run.yaml").write_text("name: x\n")
    (folder / "a-b").write_bytes(b"\0binary")
    (folder / "a").write_text("sorted before a-b and a.txt, as a folder would not be\n")
    (folder / "sub" / "f").write_text("nested\n")
    script = folder / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    os.symlink("run.yaml", folder / "link")
    git(repo, "add", "runs")
    git(repo, "commit", "-q", "-m", "folder")
    assert tree_sha_of_dir(folder) == git(repo, "rev-parse", "HEAD:runs/r1").strip()
    assert tree_sha_of_dir(repo / "runs") == git(repo, "rev-parse", "HEAD:runs").strip()


def test_tree_entries_reads_what_git_wrote(repo: Path) -> None:
    (repo / "d").mkdir()
    (repo / "d" / "x").write_text("1\n")
    git(repo, "add", "d")
    git(repo, "commit", "-q", "-m", "d")
    sha = git(repo, "rev-parse", "HEAD:").strip()
    body = subprocess.run(["git", "cat-file", "tree", sha], cwd=repo, capture_output=True, check=True).stdout
    entries = list(tree_entries(body))
    assert [(oct(m), n) for m, n, _ in entries] == [("0o40000", b"d"), ("0o100644", b"train.py")]
    assert tree_sha([(n, m, s) for m, n, s in entries]) == sha


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    assert tree_sha_of_dir(tmp_path) == EMPTY_TREE
    assert tree_sha_of_dir(tmp_path / "missing") is None
    assert dir_signature(tmp_path / "missing") is None


def test_signature_changes_with_the_files(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("1")
    first = dir_signature(tmp_path)
    (tmp_path / "f").write_text("22")
    assert dir_signature(tmp_path) != first
    (tmp_path / "sub").mkdir()
    assert dir_signature(tmp_path) is None  # folders with sub-folders are hashed every time
