"""Local S3 servers for the artifact benchmark: moto (Python) and ``rclone serve s3`` (Go).

    with S3Server.moto(python) as srv:        # python -m moto.server (needs moto[server])
        srv.create_bucket("bench-dvc")
        srv.endpoint                           # "http://127.0.0.1:PORT"
    with S3Server.rclone(rclone_bin, root_dir) as srv:
        ...

Both listen on 127.0.0.1 on a free port and accept the fake credentials in
``CREDENTIALS`` (put them in the environment of every S3 client, see
``client_env``).  The server's output goes to a log file next to its data
(``srv.log_path``), whose tail is included in start-up errors.

rclone quirks found while writing this (rclone v1.75):

* ``--auth-key kk,ss`` is rejected with InvalidAccessKeyId for every request
  (very short access keys do not work); ``benchkey,...`` works.
* Bucket names must be 3-63 characters (CreateBucket returns
  InvalidBucketName otherwise).  Buckets are the top-level directories of
  the served dir, so creating the directory also creates the bucket.
* The ETag of a multipart upload is the MD5 of the whole object, not
  AWS's ``<md5-of-part-md5s>-<parts>``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

# Long enough for rclone (it rejects very short access keys).
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "benchaccesskey",
    "AWS_SECRET_ACCESS_KEY": "benchsecretkey0123456789",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}

# Variables that could point the clients somewhere else or make them read
# real credentials.
_DROP = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def client_env(base: dict[str, str] | None = None, aws_dir: Path | None = None) -> dict[str, str]:
    """``base`` (default os.environ) with the fake credentials and no real AWS config.

    With ``aws_dir``, empty ``config`` and ``credentials`` files are created
    there and AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE point at them, so
    no ~/.aws file is read.  (They must exist: DVC's S3 plugin refuses a
    missing config file and also /dev/null.)
    """
    env = dict(os.environ if base is None else base)
    for k in _DROP:
        env.pop(k, None)
    env.update(CREDENTIALS)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    if aws_dir is not None:
        aws_dir.mkdir(parents=True, exist_ok=True)
        for name, var in (("config", "AWS_CONFIG_FILE"), ("credentials", "AWS_SHARED_CREDENTIALS_FILE")):
            f = aws_dir / name
            f.touch()
            env[var] = str(f)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerError(RuntimeError):
    pass


class S3Server:
    """A running S3 server process; use as a context manager (stops it on exit)."""

    def __init__(self, name: str, cmd: list[str], port: int, workdir: Path, data_dir: Path | None = None):
        self.name = name
        self.cmd = [str(c) for c in cmd]
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.workdir = workdir
        # rclone: the served directory (bucket = subdirectory); moto: its TMPDIR.
        self.data_dir = data_dir
        self.extra_env: dict[str, str] = {}
        self.log_path = workdir / f"{name}-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.version = "?"

    # -- constructors ------------------------------------------------------

    @classmethod
    def moto(cls, python: str, workdir: Path, port: int | None = None) -> S3Server:
        port = port or free_port()
        # moto keeps small objects in memory and spills the others
        # (> ~5 MB) to tempfiles: point TMPDIR at our own directory.
        tmp = workdir / "moto-tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        cmd = [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        srv = cls("moto", cmd, port, workdir, data_dir=tmp)
        srv.extra_env["TMPDIR"] = str(tmp)
        try:
            out = subprocess.run(
                [python, "-c", "import moto; print(moto.__version__)"], capture_output=True, text=True
            )
            srv.version = "moto " + out.stdout.strip()
        except OSError:
            pass
        return srv

    @classmethod
    def rclone(cls, rclone_bin: str, workdir: Path, port: int | None = None) -> S3Server:
        port = port or free_port()
        data = workdir / "rclone-root"
        data.mkdir(parents=True, exist_ok=True)
        key = CREDENTIALS["AWS_ACCESS_KEY_ID"] + "," + CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        cmd = [rclone_bin, "serve", "s3", "--addr", f"127.0.0.1:{port}", "--auth-key", key, str(data)]
        srv = cls("rclone", cmd, port, workdir, data_dir=data)
        try:
            out = subprocess.run([rclone_bin, "version"], capture_output=True, text=True)
            srv.version = (out.stdout.strip().splitlines() or ["rclone ?"])[0]
        except OSError:
            pass
        return srv

    # -- lifecycle -----------------------------------------------------------

    def start(self, timeout: float = 30.0) -> S3Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        env = client_env(aws_dir=self.workdir / "aws")
        env.setdefault("RCLONE_CONFIG", os.devnull)  # silences rclone's "config file not found"
        env.update(self.extra_env)
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(self.workdir),
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise ServerError(
            f"{self.name} did not answer on {self.endpoint} within {timeout:g} s:\n{self.log_tail()}"
        )

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint + "/", timeout=1).close()
        except urllib.error.HTTPError:
            return True  # 403 etc.: it is up, just wants a signature
        except (urllib.error.URLError, OSError):
            return False
        return True

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        # Only our own process group (start_new_session=True above).
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, n: int = 15) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    # -- buckets -------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        """CreateBucket via boto3 (imported lazily: only the driver needs it)."""
        import boto3

        c = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        )
        try:
            c.create_bucket(Bucket=bucket)
        except c.exceptions.BucketAlreadyOwnedByYou:
            pass

    def wipe(self) -> None:
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
