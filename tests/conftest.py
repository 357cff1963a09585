"""Shared fixtures: an isolated HOME and git config for the whole session, real git repos per test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
GITML = str(Path(sys.executable).with_name("gitml"))


@pytest.fixture(scope="session", autouse=True)
def isolate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test sees the developer's HOME, git config or GITML_* variables."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
        "[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n"
    )
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(("GITML_", "GIT_")):
            del os.environ[key]
    os.environ.update(
        {
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "XDG_CONFIG_HOME": str(home / ".config"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def fresh_tracking_state() -> Iterator[None]:
    """Each test starts with no active run, no chosen experiment or repository."""
    from gitml.tracking import fluent

    yield
    for run in list(fluent._stack):
        run.end()
    fluent._stack.clear()
    fluent._experiment = None
    fluent._tracking_root = None
    for ws in fluent._workspaces.values():
        ws.close()  # its git repository may hold pack files open
    fluent._workspaces.clear()
    fluent.clock = fluent._now_ms


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run the real git CLI and return its stdout."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def init_repo(root: Path) -> Path:
    """A real git repository at ``root`` (created) with one commit holding train.py."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    (root / "train.py").write_text("print('training')\n")
    git(root, "add", "train.py")
    git(root, "commit", "-q", "-m", "initial")
    return root


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN/Infinity tokens (which are not JSON)."""

    def refuse(token: str) -> Any:
        raise ValueError(f"invalid JSON constant {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real git repository with one commit (train.py), as the current directory."""
    root = init_repo(tmp_path / "repo")
    monkeypatch.chdir(root)
    return root


def run_gitml(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The installed `gitml` console script in a subprocess, as a user runs it."""
    return subprocess.run(
        [GITML, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def run_python(
    code: str, *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate`` until it holds (never a fixed sleep); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# A real S3 endpoint (moto's standalone server in a subprocess): s3_server, s3_auth_server, s3_bucket,
# make_s3_bucket, s3_client, aws_credentials. See tests/s3server.py.
pytest_plugins = ["tests.s3server", "tests.gitserver"]
