"""The ``remote`` fixture: the same artifact tests against a local-folder remote and a real S3 remote.

``remote`` is parametrized ``local`` / ``s3``. It yields a :class:`RemoteStore` that can add
itself to a repository the way a user does (``gitml remote add storage URL --default``) and
read, damage or delete stored objects behind gitml's back: files under ``<root>/sha256/..``
for a folder, ``store/sha256/ab/cdef...`` keys written with boto3 for S3 (moto's server, one
fresh bucket per test). Tests outside this folder import the fixture from here.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from tests.conftest import run_gitml
from tests.s3server import S3Bucket


def key_of(oid: str) -> str:
    """The relative key of an object, as every store lays it out."""
    return f"sha256/{oid[:2]}/{oid[2:]}"


@dataclass
class RemoteStore:
    kind: Literal["local", "s3"]
    url: str
    endpoint_url: str | None = None
    root: Path | None = None  # the folder (local)
    bucket: S3Bucket | None = None  # the bucket (s3)

    def __repr__(self) -> str:
        return f"<RemoteStore {self.kind} {self.url}>"

    # -- configuring ---------------------------------------------------------------------------

    def add_args(self, name: str = "storage") -> list[str]:
        args = ["remote", "add", name, self.url, "--default"]
        if self.endpoint_url:
            args += ["--endpoint-url", self.endpoint_url]
        return args

    def add(self, repo_root: Path, name: str = "storage") -> subprocess.CompletedProcess[str]:
        """``gitml remote add NAME URL --default [--endpoint-url ...]`` in ``repo_root``."""
        proc = run_gitml(*self.add_args(name), cwd=repo_root)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"Added remote {name}: {self.url} (default)"
        return proc

    # -- looking behind gitml's back -----------------------------------------------------------

    def _s3(self) -> S3Bucket:
        assert self.bucket is not None
        return self.bucket

    def _path(self, oid: str) -> Path:
        assert self.root is not None
        return self.root / key_of(oid)

    def _key(self, oid: str) -> str:
        return f"store/{key_of(oid)}"

    def oids(self) -> set[str]:
        """Every object stored (by hash); temp files and anything else are not objects."""
        if self.kind == "local":
            assert self.root is not None
            base = self.root / "sha256"
            if not base.is_dir():
                return set()
            return {f"{d.name}{f.name}" for d in base.iterdir() for f in d.iterdir() if f.is_file()}
        return {key.split("/")[-2] + key.split("/")[-1] for key in self._s3().keys("store/sha256/")}

    def has(self, oid: str) -> bool:
        return oid in self.oids()

    def read(self, oid: str) -> bytes:
        if self.kind == "local":
            return self._path(oid).read_bytes()
        bucket = self._s3()
        body = bucket.client.get_object(Bucket=bucket.name, Key=self._key(oid))["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data

    def write(self, oid: str, data: bytes) -> None:
        """Replace the stored bytes of ``oid`` (a damaged object, as disks and buggy tools make them)."""
        if self.kind == "local":
            path = self._path(oid)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                os.chmod(path, 0o644)  # objects are stored read-only
            path.write_bytes(data)
            return
        bucket = self._s3()
        bucket.client.put_object(Bucket=bucket.name, Key=self._key(oid), Body=data)

    def flip_bit(self, oid: str) -> bytes:
        """Corrupt ``oid`` in place without changing its size; returns the original bytes."""
        original = self.read(oid)
        damaged = bytearray(original)
        damaged[len(damaged) // 2] ^= 0x01
        self.write(oid, bytes(damaged))
        return original

    def truncate(self, oid: str, size: int) -> bytes:
        original = self.read(oid)
        assert size < len(original)
        self.write(oid, original[:size])
        return original

    def delete(self, oid: str) -> None:
        if self.kind == "local":
            self._path(oid).unlink()
            return
        bucket = self._s3()
        bucket.client.delete_object(Bucket=bucket.name, Key=self._key(oid))


@pytest.fixture(params=["local", "s3"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> RemoteStore:
    """An empty remote: a folder, or a fresh bucket on the session's S3 server (started only when asked)."""
    if request.param == "local":
        root = tmp_path / "remote-store"
        return RemoteStore("local", str(root), root=root)
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    return RemoteStore("s3", bucket.url, endpoint_url=bucket.endpoint_url, bucket=bucket)
