"""Real git remotes for tests: bare repositories, and the real ``git daemon`` serving them over git://.

Fixtures (registered in ``tests/conftest.py``):

* ``bare_repo_factory`` (function): ``make(name="remote.git", *, under=None) -> Path`` runs
  ``git init --bare -b main`` in ``under`` (default: the test's ``tmp_path``).
* ``git_daemon`` (function): a :class:`GitDaemon` whose ``base`` is a fresh folder for this test,
  served read-write (``--enable=receive-pack``) by one ``git daemon`` started for the session on a
  free 127.0.0.1 port; ``url(name)`` is ``git://127.0.0.1:PORT/<folder>/<name>``. Skipped with a
  reason when ``git daemon`` is not installed.

``closed_git_url()`` is a git:// URL on 127.0.0.1 where nothing listens (connection refused).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A port nothing listens on right now (the OS may hand it out again later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def closed_git_url(name: str = "x.git") -> str:
    """A git:// URL where nothing listens: connecting is refused at once."""
    return f"git://{HOST}:{free_port()}/{name}"


def git_daemon_command() -> list[str] | None:
    """How to run git daemon here (``git-daemon`` from git's exec path, or ``git daemon``); None if absent."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        exec_path = subprocess.run(
            [git, "--exec-path"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError):
        exec_path = ""
    for candidate in (
        Path(exec_path) / "git-daemon" if exec_path else None,
        Path("/usr/lib/git-core/git-daemon"),
    ):
        if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    return None


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class GitDaemonServer:
    """The session's git daemon: serves everything under ``root``."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    startup_seconds: float

    def url(self, relpath: str) -> str:
        return f"git://{HOST}:{self.port}/{relpath.lstrip('/')}"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@dataclass(frozen=True)
class GitDaemon:
    """One test's corner of the daemon: repositories under ``base`` are served at ``url(name)``."""

    server: GitDaemonServer
    base: Path

    @property
    def port(self) -> int:
        return self.server.port

    def url(self, name: str) -> str:
        """``git://127.0.0.1:PORT/<this test's folder>/<name>``."""
        return self.server.url(f"{self.base.relative_to(self.server.root).as_posix()}/{name.lstrip('/')}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the daemon and the children it forked per connection (its own process group)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    try:  # connection handlers still running after the daemon itself exited
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def start_git_daemon(root: Path, *, attempts: int = 3) -> GitDaemonServer:
    """Start ``git daemon`` serving ``root`` on a free port; poll until it accepts connections."""
    command = git_daemon_command()
    if command is None:
        raise FileNotFoundError("git daemon")
    failures: list[str] = []
    for attempt in range(1, attempts + 1):
        port = free_port()
        log_path = root.parent / f"git-daemon-{port}.log"
        started = time.monotonic()
        with log_path.open("wb") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [
                    *command,
                    "--reuseaddr",
                    "--export-all",
                    "--enable=receive-pack",
                    f"--base-path={root}",
                    f"--listen={HOST}",
                    f"--port={port}",
                    str(root),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so teardown reaches its children
            )
        deadline = started + STARTUP_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            if _accepts_connections(port):
                return GitDaemonServer(root, port, process, log_path, time.monotonic() - started)
            time.sleep(0.02)
        _stop(process)
        reason = f"exited with {process.returncode}" if time.monotonic() < deadline else "timed out"
        failures.append(f"attempt {attempt} on port {port}: {reason}\n{log_path.read_text(errors='replace')}")
    raise RuntimeError("git daemon did not start:\n" + "\n".join(failures))


@pytest.fixture(scope="session")
def git_daemon_server(isolate: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitDaemonServer]:
    """One git daemon for the session (started only when a test asks for ``git_daemon``)."""
    if git_daemon_command() is None:
        pytest.skip("git daemon is not installed (Debian/Ubuntu: it comes with the git package)")
    root = tmp_path_factory.mktemp("git-daemon") / "srv"
    root.mkdir()
    server = start_git_daemon(root)
    try:
        yield server
    finally:
        _stop(server.process)


@pytest.fixture
def git_daemon(git_daemon_server: GitDaemonServer) -> GitDaemon:
    """A fresh folder served by the session's git daemon (git://, push enabled)."""
    base = git_daemon_server.root / uuid.uuid4().hex[:12]
    base.mkdir()
    return GitDaemon(git_daemon_server, base)


def init_bare(path: Path) -> Path:
    proc = subprocess.run(
        ["git", "init", "-q", "--bare", "-b", "main", str(path)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"git init --bare failed: {proc.stderr}")
    return path


@pytest.fixture
def bare_repo_factory(tmp_path: Path) -> Callable[..., Path]:
    """``make(name="remote.git", *, under=None)``: a new empty bare repository (branch main)."""

    def make(name: str = "remote.git", *, under: Path | None = None) -> Path:
        path = (under if under is not None else tmp_path) / name
        if path.exists():
            raise AssertionError(f"{path} exists already")
        return init_bare(path)

    return make
