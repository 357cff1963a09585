"""A real S3 endpoint for tests: moto's standalone server in a subprocess on 127.0.0.1.

Nothing here patches boto: every request crosses a real socket, so boto3, botocore, aiobotocore
and s3fs behave exactly as they do against AWS (retries, error translation, connection pools).

Fixtures (registered in ``tests/conftest.py``):

* ``aws_credentials`` (session): fake credentials in ``os.environ``, every other ``AWS_*`` removed.
* ``s3_server`` (session): an :class:`S3Server` that accepts any credentials.
* ``s3_auth_server`` (session): an :class:`S3Server` started with ``INITIAL_NO_AUTH_ACTION_COUNT=0``,
  so moto checks credentials from the first request: unknown keys get 403 ``InvalidAccessKeyId``.
* ``s3_client`` (session): one boto3 client for ``s3_server``, closed at session end.
* ``s3_bucket`` (function): an :class:`S3Bucket`, a fresh, uniquely named bucket on ``s3_server``.
* ``make_s3_bucket`` (function): a factory for tests that need more than one fresh bucket.

``closed_port_url()`` gives an endpoint where nothing listens (connection refused).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from botocore.client import BaseClient

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Never ask an instance-metadata service for anything.
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Environment variables moto reads that must not leak in from the developer's shell.
MOTO_ENV_OVERRIDES = ("INITIAL_NO_AUTH_ACTION_COUNT",)


@dataclass(frozen=True)
class S3Server:
    """A running moto server."""

    endpoint_url: str
    port: int
    log_path: Path
    startup_seconds: float
    process: subprocess.Popen[bytes] = field(repr=False)

    def client(self, **kwargs: Any) -> BaseClient:
        """A new boto3 S3 client for this server; the caller closes it (``client.close()``)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, **kwargs)

    @property
    def storage_options(self) -> dict[str, Any]:
        """Keyword arguments for ``s3fs.S3FileSystem`` / fsspec to talk to this server."""
        return {"client_kwargs": {"endpoint_url": self.endpoint_url}}

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@dataclass(frozen=True)
class S3Bucket:
    """A bucket that exists on ``s3_server`` and that no other test uses."""

    name: str
    url: str  # s3://<name>/store
    endpoint_url: str
    client: BaseClient = field(repr=False)

    @property
    def storage_options(self) -> dict[str, Any]:
        return {"client_kwargs": {"endpoint_url": self.endpoint_url}}

    def keys(self, prefix: str = "") -> list[str]:
        """Every key in the bucket under ``prefix``, sorted."""
        paginator = self.client.get_paginator("list_objects_v2")
        return sorted(
            obj["Key"]
            for page in paginator.paginate(Bucket=self.name, Prefix=prefix)
            for obj in page.get("Contents", [])
        )


def free_port() -> int:
    """A port nothing listens on right now (the OS may hand it out again later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def closed_port_url() -> str:
    """An http endpoint on 127.0.0.1 where nothing listens: connecting is refused at once."""
    return f"http://{HOST}:{free_port()}"


def _answers_http(url: str) -> bool:
    # No proxy: an HTTP(S)_PROXY in the environment must not swallow requests to 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=1.0) as response:
            response.read()
    except urllib.error.HTTPError as exc:  # any HTTP status means the server is serving
        exc.close()
    except OSError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_moto_server(
    log_dir: Path, *, extra_env: dict[str, str] | None = None, attempts: int = 3
) -> S3Server:
    """Start ``python -m moto.server`` on a free port and wait (polling) until it answers HTTP.

    Retries on a new port if the process dies first (another process took the port in between).
    """
    env = {k: v for k, v in os.environ.items() if k not in MOTO_ENV_OVERRIDES}
    env.update(extra_env or {})
    failures: list[str] = []
    for attempt in range(1, attempts + 1):
        port = free_port()
        log_path = log_dir / f"moto-{port}.log"
        started = time.monotonic()
        with log_path.open("wb") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        endpoint_url = f"http://{HOST}:{port}"
        deadline = started + STARTUP_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            # /moto-api/ is moto's own dashboard: never authenticated, never counted as an S3 action.
            if _answers_http(f"{endpoint_url}/moto-api/"):
                return S3Server(endpoint_url, port, log_path, time.monotonic() - started, process)
            time.sleep(0.02)
        _stop(process)
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
        reason = f"exited with {process.returncode}" if time.monotonic() < deadline else "timed out"
        failures.append(f"attempt {attempt} on port {port}: {reason}\n{log_text[-2000:]}")
    raise RuntimeError("moto server did not start:\n" + "\n".join(failures))


@pytest.fixture(scope="session")
def aws_credentials(isolate: None) -> Iterator[dict[str, str]]:
    """Fake credentials for the session; no AWS_PROFILE, session token, endpoint or CA bundle leaks in."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(FAKE_CREDENTIALS)
    yield dict(FAKE_CREDENTIALS)
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(saved)


@pytest.fixture(scope="session")
def s3_server(
    aws_credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3Server]:
    """A moto S3 server that accepts any credentials, for the whole session."""
    server = start_moto_server(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        _stop(server.process)


@pytest.fixture(scope="session")
def s3_auth_server(
    aws_credentials: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3Server]:
    """A moto S3 server that checks credentials: the fake ones get 403 InvalidAccessKeyId on every call."""
    server = start_moto_server(
        tmp_path_factory.mktemp("moto-auth"), extra_env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    )
    try:
        yield server
    finally:
        _stop(server.process)


@pytest.fixture(scope="session")
def s3_client(s3_server: S3Server) -> Iterator[BaseClient]:
    """One boto3 client for ``s3_server``, shared by the session (creating one costs tens of ms)."""
    client = s3_server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def make_s3_bucket(s3_server: S3Server, s3_client: BaseClient) -> Callable[[], S3Bucket]:
    """Create fresh, uniquely named buckets; they are left in place (moto keeps them in memory)."""

    def make() -> S3Bucket:
        name = f"gitml-test-{uuid.uuid4().hex}"
        s3_client.create_bucket(Bucket=name)
        return S3Bucket(
            name=name, url=f"s3://{name}/store", endpoint_url=s3_server.endpoint_url, client=s3_client
        )

    return make


@pytest.fixture
def s3_bucket(make_s3_bucket: Callable[[], S3Bucket]) -> S3Bucket:
    """A fresh bucket no other test uses, on ``s3_server``."""
    return make_s3_bucket()
