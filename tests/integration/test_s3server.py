"""The S3 test endpoint itself: a real moto server that boto3 and s3fs reach over a socket."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import boto3
import pytest
import s3fs
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.s3server import S3Bucket, S3Server, closed_port_url

SEEN_BUCKETS: set[str] = set()


@pytest.fixture
def open_s3fs() -> Iterator[Callable[[str], s3fs.S3FileSystem]]:
    """Uncached S3FileSystem instances for an endpoint; their aiohttp sessions are closed afterwards."""
    made: list[s3fs.S3FileSystem] = []

    def make(endpoint_url: str) -> s3fs.S3FileSystem:
        fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint_url}, skip_instance_cache=True)
        made.append(fs)
        return fs

    yield make
    for fs in made:
        if fs._s3 is not None:
            s3fs.S3FileSystem.close_session(fs.loop, fs._s3)


def test_s3fs_puts_and_gets_through_the_server(
    s3_bucket: S3Bucket, open_s3fs: Callable[[str], s3fs.S3FileSystem]
) -> None:
    fs = open_s3fs(s3_bucket.endpoint_url)
    path = f"{s3_bucket.url}/runs/abc/run.yaml".removeprefix("s3://")
    fs.pipe_file(path, b"status: FINISHED\n")
    assert fs.cat_file(path) == b"status: FINISHED\n"
    assert s3_bucket.keys() == ["store/runs/abc/run.yaml"]
    body = s3_bucket.client.get_object(Bucket=s3_bucket.name, Key="store/runs/abc/run.yaml")["Body"]
    with body:
        assert body.read() == b"status: FINISHED\n"


@pytest.mark.parametrize("which", ["first", "second"])
def test_each_test_gets_its_own_empty_bucket(
    which: str, s3_bucket: S3Bucket, open_s3fs: Callable[[str], s3fs.S3FileSystem]
) -> None:
    # Order-independent: whichever test runs second would see the other's name or object.
    assert s3_bucket.name not in SEEN_BUCKETS
    SEEN_BUCKETS.add(s3_bucket.name)
    assert s3_bucket.url == f"s3://{s3_bucket.name}/store"
    assert s3_bucket.keys() == []
    fs = open_s3fs(s3_bucket.endpoint_url)
    fs.pipe_file(f"{s3_bucket.name}/store/{which}", which.encode())
    assert fs.ls(f"{s3_bucket.name}/store", detail=False) == [f"{s3_bucket.name}/store/{which}"]


def test_make_s3_bucket_gives_distinct_buckets(make_s3_bucket: Callable[[], S3Bucket]) -> None:
    a, b = make_s3_bucket(), make_s3_bucket()
    assert a.name != b.name
    a.client.put_object(Bucket=a.name, Key="store/x", Body=b"x")
    assert (a.keys(), b.keys()) == (["store/x"], [])


def test_auth_server_rejects_unknown_credentials_with_403(s3_auth_server: S3Server) -> None:
    client = s3_auth_server.client()
    try:
        with pytest.raises(ClientError) as info:
            client.list_buckets()
    finally:
        client.close()
    assert info.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_auth_server_gives_permission_error_through_s3fs(
    s3_auth_server: S3Server, open_s3fs: Callable[[str], s3fs.S3FileSystem]
) -> None:
    fs = open_s3fs(s3_auth_server.endpoint_url)
    # s3fs keeps only the message; the S3 error code stays on the botocore ClientError it chains.
    with pytest.raises(PermissionError, match="does not exist in our records") as info:
        fs.pipe_file("some-bucket/store/x", b"x")
    assert isinstance(info.value.__cause__, ClientError)
    assert info.value.__cause__.response["Error"]["Code"] == "InvalidAccessKeyId"
    # A HEAD response has no body, so reads that start with HeadObject only say "Forbidden".
    with pytest.raises(PermissionError, match="Forbidden"):
        fs.cat_file("some-bucket/store/x")


def test_closed_port_refuses_connections(s3_server: S3Server) -> None:
    url = closed_port_url()
    assert url.startswith("http://127.0.0.1:") and url != s3_server.endpoint_url
    client = boto3.client("s3", endpoint_url=url, config=Config(retries={"max_attempts": 1}))
    started = time.monotonic()
    try:
        with pytest.raises(EndpointConnectionError):
            client.list_buckets()
    finally:
        client.close()
    assert time.monotonic() - started < 5


def test_server_reports_its_startup(s3_server: S3Server) -> None:
    assert s3_server.endpoint_url == f"http://127.0.0.1:{s3_server.port}"
    assert s3_server.process.poll() is None
    assert s3_server.startup_seconds < 30
    assert s3_server.log_path.exists()
