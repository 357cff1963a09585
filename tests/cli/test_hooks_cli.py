"""``gitml hooks install / uninstall / status`` through the console script, checked by real git runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.artifact_helpers import clear_error
from tests.conftest import git, run_gitml
from tests.integration.hooks_helpers import gm, run_git, setup_repo

NAMES = ("pre-commit", "pre-push", "post-checkout", "post-merge")


def snapshot(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    """name -> (bytes, mode, mtime) of every file in a hooks folder."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns)
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def big_binary_commit(repo: Path, name: str = "big.bin") -> subprocess.CompletedProcess[str]:
    (repo / ".gitml" / "config.local.yaml").write_text("hooks:\n  max_file_size: 1KB\n")
    (repo / name).write_bytes(b"\0" * 5000)
    git(repo, "add", name)
    return run_git(repo, "commit", "-m", "big")


def test_install_keeps_and_chains_an_existing_hook_and_uninstall_restores_it(
    repo: Path, tmp_path: Path
) -> None:
    hooks = repo / ".git" / "hooks"
    marker = tmp_path / "user-hook-ran"
    user = hooks / "pre-commit"
    user.write_text(f'#!/bin/sh\necho ran >> "{marker}"\n')
    user.chmod(0o750)
    before = snapshot(hooks)
    setup_repo(repo, None, install=False)
    proc = gm(repo, "hooks", "install")
    assert f"installed  {hooks / 'pre-commit'} (runs pre-commit.pre-gitml first)" in proc.stdout.splitlines()
    assert (hooks / "pre-commit.pre-gitml").read_bytes() == before["pre-commit"][0]
    marker.unlink(missing_ok=True)
    proc = big_binary_commit(repo)
    assert proc.returncode != 0 and "binary file(s) over hooks.max_file_size" in proc.stderr
    assert marker.read_text() == "ran\n", "the user's hook ran too"
    status = gm(repo, "hooks", "status").stdout
    assert "pre-commit     installed; runs pre-commit.pre-gitml first" in status
    proc = gm(repo, "hooks", "uninstall")
    assert f"restored   {hooks / 'pre-commit'} (was pre-commit.pre-gitml)" in proc.stdout.splitlines()
    assert snapshot(hooks) == before
    assert run_git(repo, "commit", "-q", "-m", "big").returncode == 0  # gitml's check is gone
    assert "not installed" in gm(repo, "hooks", "uninstall").stdout


def test_install_twice_changes_nothing(repo: Path) -> None:
    setup_repo(repo, None, install=False)
    first = gm(repo, "hooks", "install").stdout.splitlines()
    assert [line.split()[0] for line in first] == ["installed"] * 4
    hooks = repo / ".git" / "hooks"
    installed = snapshot(hooks)
    second = gm(repo, "hooks", "install").stdout.splitlines()
    assert [line.split()[0] for line in second] == ["unchanged"] * 4
    assert snapshot(hooks) == installed
    for name in NAMES:
        assert os.access(hooks / name, os.X_OK)
        assert not (hooks / f"{name}.pre-gitml").exists()


def test_core_hooks_path_is_where_hooks_go(repo: Path) -> None:
    setup_repo(repo, None, install=False)
    git(repo, "config", "core.hooksPath", ".githooks")
    gm(repo, "hooks", "install", "--hook", "pre-commit")
    assert (repo / ".githooks" / "pre-commit").is_file()
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    proc = big_binary_commit(repo)
    assert proc.returncode != 0 and "binary file(s) over hooks.max_file_size" in proc.stderr


def test_a_linked_worktree_uses_the_common_hooks(repo: Path, tmp_path: Path) -> None:
    setup_repo(repo, None, install=False)
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    gm(linked, "hooks", "install")
    assert (repo / ".git" / "hooks" / "pre-commit").is_file()
    proc = big_binary_commit(linked)
    assert proc.returncode != 0 and "binary file(s) over hooks.max_file_size" in proc.stderr
    proc = big_binary_commit(repo, "main.bin")
    assert proc.returncode != 0


def test_not_a_git_repository(tmp_path: Path) -> None:
    proc = run_gitml("hooks", "install", cwd=tmp_path)
    assert "not inside a git repository" in clear_error(proc, 4)


def test_a_foreign_hook_with_a_kept_hook_beside_it_is_refused(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    for name in ("pre-push", "pre-push.pre-gitml"):
        (hooks / name).write_text("#!/bin/sh\nexit 0\n")
    before = snapshot(hooks)
    proc = run_gitml("hooks", "install", cwd=repo)
    assert "cannot install the pre-push hook" in clear_error(proc, 7)
    assert snapshot(hooks) == before  # nothing was changed, not even the other hooks


def test_unknown_hook_names_are_usage_errors(repo: Path) -> None:
    proc = run_gitml("hooks", "install", "--hook", "post-commit", cwd=repo)
    assert proc.returncode == 2 and "post-commit" in proc.stderr
    proc = run_gitml("hooks", "run", "update", cwd=repo)
    assert proc.returncode == 2


def test_status_json(repo: Path) -> None:
    import json

    gm(repo, "hooks", "install", "--hook", "pre-push")
    rows = json.loads(gm(repo, "hooks", "status", "--json").stdout)
    assert {r["hook"]: r["state"] for r in rows} == {
        "pre-commit": "absent",
        "pre-push": "gitml",
        "post-checkout": "absent",
        "post-merge": "absent",
    }
