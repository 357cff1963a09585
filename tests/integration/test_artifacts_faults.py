"""Artifacts when things go wrong: a remote that is down or refuses the credentials, processes
killed with SIGKILL in the middle of a transfer, two pushes at once, a corrupt cache object -- and
a directory of many files.

Every command is the installed ``gitml`` in a subprocess. The S3 remote is a real moto server on
127.0.0.1; tests that apply to both kinds of remote run against a local folder and against S3.
Measured times are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import gitml
from tests.artifact_helpers import cache_dir, clear_error, drop_cache, sha
from tests.conftest import GITML, run_gitml, wait_for
from tests.integration.conftest import RemoteStore
from tests.s3server import S3Server, closed_port_url

PY = sys.executable
MiB = 1024 * 1024
SECRET = "gItMlWrOnGsEcReT0123456789abcdefXYZ"
KEY_ID = "AKIAGITMLWRONGKEY77"


# -- helpers ------------------------------------------------------------------------------------------


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def timed(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    proc = run_gitml(*args, cwd=cwd, env=env, timeout=timeout)
    return proc, time.monotonic() - started


def cache_state(repo: Path) -> dict[str, str]:
    """Cache object name -> hash of its bytes."""
    base = cache_dir(repo) / "sha256"
    return {str(p.relative_to(base)): sha(p.read_bytes()) for p in base.rglob("*") if p.is_file()}


def run_files(repo: Path) -> dict[str, bytes]:
    base = repo / ".gitml" / "runs"
    return {str(p.relative_to(base)): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def small_files(folder: Path, n: int, *, tag: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"f{i:05d}.txt").write_text(f"{tag}file {i}\n")


def log_sample(repo: Path, *, files: int = 20) -> str:
    """A run with one file and a directory of ``files`` small files."""
    (repo / "model.bin").write_bytes(b"weights " * 100)
    small_files(repo / "data", files)
    with gitml.start_run() as run:
        gitml.log_artifact(repo / "model.bin")
        gitml.log_artifacts(repo / "data", "data")
    return run.info.run_id


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    for args in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    ok(run_gitml("init", cwd=path))
    return path


def report(what: str, seconds: float) -> None:
    print(f"\n[measured] {what}: {seconds:.2f} s")


def kill(proc: subprocess.Popen[bytes]) -> bool:
    """SIGKILL ``proc`` (if it still runs) and reap it; True if it was killed, False if it had ended."""
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return alive and proc.returncode == -signal.SIGKILL


def spawn(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [GITML, *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def spin_until(predicate: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    """Poll tightly until ``predicate`` holds (True) or ``proc`` ends first (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc.poll() is not None:
            return predicate()
        time.sleep(0.001)
    raise AssertionError("timed out waiting for the transfer to start")


# -- a remote that is down ----------------------------------------------------------------------------


def test_push_to_a_remote_that_is_down_fails_fast_and_loses_nothing(
    repo: Path, remote: RemoteStore, tmp_path: Path
) -> None:
    run_id = log_sample(repo)
    if remote.kind == "s3":
        down = ["remote", "add", "origin", remote.url, "--default", "--endpoint-url", closed_port_url()]
    else:
        (tmp_path / "blocker").write_text("a file where the remote's parent folder should be\n")
        down = ["remote", "add", "origin", str(tmp_path / "blocker" / "remote"), "--default"]
    ok(run_gitml(*down, cwd=repo))
    before_runs, before_cache = run_files(repo), cache_state(repo)
    assert len(before_cache) == 22
    proc, seconds = timed("push", cwd=repo)
    report(f"push to a {remote.kind} remote that is down", seconds)
    clear_error(proc, 9)
    assert seconds < 60
    proc, seconds = timed("status", cwd=repo)
    report(f"status with the {remote.kind} remote down", seconds)
    clear_error(proc, 9)
    assert seconds < 60
    assert run_files(repo) == before_runs
    assert cache_state(repo) == before_cache
    cache_dir(repo).rename(tmp_path / "cache-aside")
    proc, seconds = timed("get", f"runs:/{run_id}/data", "-o", str(tmp_path / "out"), cwd=repo)
    report(f"get with the {remote.kind} remote down", seconds)
    clear_error(proc, 9)
    assert seconds < 60
    assert not (tmp_path / "out").exists()
    drop_cache(repo)
    (tmp_path / "cache-aside").rename(cache_dir(repo))
    assert cache_state(repo) == before_cache
    ok(run_gitml("verify", cwd=repo))
    # The remote comes back: the same push completes.
    if remote.kind == "s3":
        remote.add(repo, "origin", force=True)
    else:
        (tmp_path / "blocker").unlink()
        ok(run_gitml("remote", "add", "origin", str(tmp_path / "blocker" / "remote"), "--force", cwd=repo))
        remote.root = tmp_path / "blocker" / "remote"
    assert "Pushed 22 object(s)" in ok(run_gitml("push", cwd=repo)).stdout
    assert remote.assert_intact() == 22
    ok(run_gitml("verify", "--cloud", cwd=repo))
    drop_cache(repo)
    ok(run_gitml("get", f"runs:/{run_id}/data", "-o", str(tmp_path / "out"), cwd=repo))
    assert (tmp_path / "out" / "f00007.txt").read_text() == "file 7\n"


def add_missing_bucket(repo: Path, server: S3Server) -> None:
    url = f"s3://gitml-no-such-bucket-{uuid.uuid4().hex[:12]}/store"
    ok(
        run_gitml(
            "remote", "add", "origin", url, "--default", "--endpoint-url", server.endpoint_url, cwd=repo
        )
    )


def test_an_s3_bucket_that_does_not_exist_is_a_clear_error(repo: Path, s3_server: S3Server) -> None:
    log_sample(repo, files=3)
    add_missing_bucket(repo, s3_server)
    proc, seconds = timed("push", cwd=repo)
    report("push to a bucket that does not exist", seconds)
    line = clear_error(proc, 9)
    assert "bucket" in line.lower()
    assert seconds < 60


def test_a_failed_push_does_not_claim_to_be_up_to_date(repo: Path, s3_server: S3Server) -> None:
    log_sample(repo, files=3)
    add_missing_bucket(repo, s3_server)
    proc = run_gitml("push", cwd=repo)
    assert proc.returncode == 9
    assert "up to date" not in proc.stdout


class DroppingServer:
    """An endpoint that accepts every connection, reads the request and closes without answering."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.connections += 1
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=10)


@pytest.fixture
def dropping_server() -> Iterator[DroppingServer]:
    server = DroppingServer()
    yield server
    server.close()


def test_a_server_that_drops_every_connection_fails_fast_without_a_retry_storm(
    repo: Path, dropping_server: DroppingServer, aws_credentials: dict[str, str]
) -> None:
    log_sample(repo, files=5)
    args = ["remote", "add", "origin", "s3://gitml-drop/store", "--default"]
    ok(run_gitml(*args, "--endpoint-url", dropping_server.url, cwd=repo))
    proc, seconds = timed("push", "--jobs", "1", cwd=repo)
    report(f"push to a server that drops connections ({dropping_server.connections} connections)", seconds)
    clear_error(proc, 9)
    # botocore's 3 attempts, not botocore x s3fs x gitml (72 connections and 35 s per object before).
    assert dropping_server.connections <= 12
    assert seconds < 15


# -- credentials refused ------------------------------------------------------------------------------


def _requests_logged(server: S3Server) -> int:
    return sum(1 for line in server.log_text().splitlines() if '" 403 ' in line or '" 200 ' in line)


def test_refused_credentials_fail_fast_without_a_retry_storm(
    repo: Path, s3_auth_server: S3Server, tmp_path: Path
) -> None:
    log_sample(repo, files=40)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    args = ["remote", "add", "origin", "s3://gitml-auth/store", "--default"]
    ok(run_gitml(*args, "--endpoint-url", s3_auth_server.endpoint_url, cwd=repo, env=env))
    before = _requests_logged(s3_auth_server)
    proc, seconds = timed("push", cwd=repo, env=env)
    wait_for(lambda: _requests_logged(s3_auth_server) > before, timeout=5, what="the server's log")
    requests = _requests_logged(s3_auth_server) - before
    report(f"push with refused credentials ({requests} requests for 42 objects)", seconds)
    line = clear_error(proc, 9)
    assert "credentials" in line
    assert seconds < 10
    assert requests < 42, f"{requests} requests: one (or more) per object"
    for secret in (SECRET, KEY_ID):
        assert secret not in proc.stdout + proc.stderr
    # Reading is refused just as fast.
    drop_cache(repo)
    for args in (["fetch"], ["pull"], ["status"]):
        proc, seconds = timed(*args, cwd=repo, env=env)
        report(f"{args[0]} with refused credentials", seconds)
        if args == ["status"]:
            assert proc.returncode == 9, proc.stderr
        assert proc.returncode != 0
        assert seconds < 10
        for secret in (SECRET, KEY_ID):
            assert secret not in proc.stdout + proc.stderr


# -- SIGKILL in the middle of a transfer --------------------------------------------------------------


def test_push_killed_with_sigkill_leaves_no_partial_object_and_resumes(
    repo: Path, remote: RemoteStore, tmp_path: Path
) -> None:
    big = os.urandom(64 * MiB)
    (repo / "big.bin").write_bytes(big)
    n_small = 300 if remote.kind == "s3" else 3000
    small_files(repo / "many", n_small)
    with gitml.start_run():
        gitml.log_artifact(repo / "big.bin")
        gitml.log_artifacts(repo / "many", "many")
    total = n_small + 2
    remote.add(repo)
    proc = spawn("push", "--jobs", "2", cwd=repo)
    if remote.kind == "s3":
        started = spin_until(lambda: bool(remote.open_uploads()) and bool(remote.object_keys()), proc)
    else:
        assert remote.root is not None
        started = spin_until(lambda: len(remote.object_keys()) >= 50, proc)
    assert started, "the push ended before it could be killed"
    assert kill(proc), "the push ended before it could be killed"
    assert proc.stderr is not None
    proc.stderr.close()
    present = remote.assert_intact()
    assert 0 < present < total
    if remote.root is not None:
        leftovers = list((remote.root / "tmp").iterdir())
        print(f"\n[observed] {len(leftovers)} temp file(s) left under <remote>/tmp by the killed push")
    else:
        assert remote.open_uploads(), "the killed push left no multipart upload to clean up"
        assert not remote.has(sha(big))
    # The next push completes what is missing and aborts the upload the killed one left open.
    out = ok(run_gitml("push", cwd=repo)).stdout
    assert "Pushed" in out
    assert remote.assert_intact() == total
    assert remote.open_uploads() == []
    ok(run_gitml("verify", "--cloud", cwd=repo))
    assert "not pushed" not in ok(run_gitml("status", "--rescan", cwd=repo)).stdout
    if remote.root is not None:
        # What killed pushes leave in <remote>/tmp is removed by gc --cloud once it is a day old.
        tmp = remote.root / "tmp"
        (tmp / "stale.12345.dead").write_bytes(b"partial")
        (tmp / "fresh.12345.live").write_bytes(b"partial")
        old = time.time() - 2 * 86400
        for path in tmp.iterdir():
            if path.name != "fresh.12345.live":
                os.utime(path, (old, old))
        ok(run_gitml("gc", "--cloud", cwd=repo))
        assert [p.name for p in tmp.iterdir()] == ["fresh.12345.live"]
        assert remote.assert_intact() == total


@pytest.mark.parametrize("command", ["get", "pull"])
def test_download_killed_with_sigkill_leaves_no_partial_file(
    repo: Path, remote: RemoteStore, tmp_path: Path, command: str
) -> None:
    big = os.urandom(64 * MiB)
    (repo / "big.bin").write_bytes(big)
    ok(run_gitml("run", "--artifact", "big.bin", "--", PY, "-c", "pass", cwd=repo))
    run_id = next(p.name for p in (repo / ".gitml" / "runs").iterdir())
    remote.add(repo)
    ok(run_gitml("push", cwd=repo))
    drop_cache(repo)
    (repo / "big.bin").unlink()
    if command == "get":
        dest = tmp_path / "out" / "big.bin"
        dest.parent.mkdir()
        args = ["get", f"runs:/{run_id}/big.bin", "-o", str(dest)]
    else:
        dest = repo / "big.bin"
        args = ["pull"]
    cache_tmp = cache_dir(repo) / "tmp"

    def transferring() -> bool:
        try:
            with os.scandir(cache_tmp) as entries:
                if any(e.stat().st_size > 0 for e in entries):
                    return True
        except OSError:
            pass
        return any(dest.parent.glob(f".{dest.name}.gitml-tmp-*"))

    proc = spawn(*args, cwd=repo)
    caught = spin_until(transferring, proc)
    was_running = kill(proc)
    assert proc.stderr is not None
    proc.stderr.close()
    print(f"\n[observed] {command} from {remote.kind}: killed mid-transfer={caught and was_running}")
    if dest.exists():  # only if the kill came after the final rename
        assert sha(dest.read_bytes()) == sha(big)
    leftovers = [p.name for p in dest.parent.iterdir() if p.name.startswith(f".{dest.name}.")]
    assert all(".gitml-tmp-" in name for name in leftovers), leftovers
    ok(run_gitml("verify", cwd=repo))  # nothing partial under the cache's final names
    # A rerun completes, with the right bytes, and clears the killed run's temp file.
    ok(run_gitml(*args, cwd=repo))
    assert sha(dest.read_bytes()) == sha(big)
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(f".{dest.name}.")]


# -- two pushes at once -------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["same-repo", "two-clones"])
def test_two_pushes_of_the_same_objects_at_once_both_succeed(
    repo: Path, remote: RemoteStore, tmp_path: Path, layout: str
) -> None:
    big = os.urandom(20 * MiB)  # above the single-request limit: S3 multipart on both sides
    repos = [repo] if layout == "same-repo" else [repo, new_repo(tmp_path / "clone")]
    for where in repos:
        (where / "big.bin").write_bytes(big)
        small_files(where / "data", 200, tag="same ")
        code = (
            "import gitml\n"
            "with gitml.start_run():\n"
            "    gitml.log_artifact('big.bin')\n"
            "    gitml.log_artifacts('data', 'data')\n"
        )
        ok(subprocess.run([PY, "-c", code], cwd=where, capture_output=True, text=True, check=False))
        remote.add(where)
    pushes = [
        subprocess.Popen(
            [GITML, "push", "-j", "4"], cwd=where, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for where in (repos * 2)[:2]
    ]
    results = [p.communicate(timeout=300) for p in pushes]
    for p, (out, err) in zip(pushes, results, strict=True):
        assert p.returncode == 0, (out + err).decode()
    assert remote.assert_intact() == 202
    assert remote.open_uploads() == []
    for where in repos:
        ok(run_gitml("verify", "--cloud", cwd=where))
        assert (
            "Everything is in the cache and on the remote"
            in ok(run_gitml("status", "--rescan", cwd=where)).stdout
        )


# -- a corrupt cache object ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["small", "large"])
def test_a_corrupt_cache_object_is_not_uploaded_and_the_rest_is(
    repo: Path, remote: RemoteStore, tmp_path: Path, size: str
) -> None:
    data = os.urandom(20 * MiB if size == "large" else 4096)
    (repo / "bad.bin").write_bytes(data)
    (repo / "good.bin").write_bytes(b"good " * 1000)
    small_files(repo / "folder", 5)
    (repo / "folder" / "bad-inside.bin").write_bytes(data[::-1])
    with gitml.start_run():
        gitml.log_artifact(repo / "bad.bin")
        gitml.log_artifact(repo / "good.bin")
        gitml.log_artifacts(repo / "folder", "folder")
    bad_oids = [sha(data), sha(data[::-1])]
    for oid in bad_oids:
        path = cache_dir(repo) / "sha256" / oid[:2] / oid[2:]
        path.chmod(0o644)
        with open(path, "r+b") as fh:
            fh.seek(len(data) // 2)
            byte = fh.read(1)
            fh.seek(len(data) // 2)
            fh.write(bytes([byte[0] ^ 0xFF]))
    remote.add(repo)
    proc = run_gitml("push", cwd=repo)
    line = clear_error(proc, 10)
    assert "2 object(s) failed" in line
    for oid in bad_oids:
        assert oid[:12] in proc.stderr
        assert not remote.has(oid)
    assert remote.has(sha(b"good " * 1000))
    assert remote.has(sha(b"file 3\n"))
    # The folder's manifest lists a file that could not be uploaded: it is held back too.
    assert remote.assert_intact() == 1 + 5
    assert remote.open_uploads() == []


# -- many files ---------------------------------------------------------------------------------------

SCALE_FILES = int(os.environ.get("GITML_TEST_SCALE_FILES", "100000"))


def test_a_directory_of_many_small_files(repo: Path, tmp_path: Path) -> None:
    timings: dict[str, float] = {}
    folder = repo / "many"
    folder.mkdir()
    started = time.monotonic()
    for i in range(SCALE_FILES):
        sub = folder / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir()
        (sub / f"{i:06d}").write_bytes(b"%d\n" % i)
    timings["create files"] = time.monotonic() - started
    ok(run_gitml("remote", "add", "origin", str(tmp_path / "remote"), "--default", cwd=repo))

    started = time.monotonic()
    with gitml.start_run():
        gitml.log_artifacts(folder, "many")
    timings["log_artifacts"] = time.monotonic() - started

    proc, timings["push"] = timed("push", cwd=repo, timeout=600)
    assert f"Pushed {SCALE_FILES + 1} object(s)" in ok(proc).stdout
    proc, timings["no-op push"] = timed("push", cwd=repo, timeout=600)
    assert "Everything is up to date" in ok(proc).stdout
    proc, timings["status"] = timed("status", cwd=repo, timeout=600)
    assert "Everything is in the cache and on the remote" in ok(proc).stdout

    (folder / "d000" / "000007").write_bytes(b"changed\n")
    started = time.monotonic()
    with gitml.start_run():
        gitml.log_artifacts(folder, "many")
    timings["log again (1 file changed)"] = time.monotonic() - started
    proc, timings["push after the change"] = timed("push", cwd=repo, timeout=600)
    assert "Pushed 2 object(s)" in ok(proc).stdout

    objects = sum(len(files) for _, _, files in os.walk(tmp_path / "remote" / "sha256"))
    assert objects == SCALE_FILES + 3
    print(f"\n[measured] {SCALE_FILES} files: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
