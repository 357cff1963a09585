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

from tests.artifact_helpers import key_of, sha
from tests.conftest import run_gitml
from tests.s3server import S3Bucket


@dataclass
class RemoteStore:
    """A remote under test: a local folder or an S3 prefix, with raw access to what it holds.

    Keys are relative to the remote's root (``sha256/ab/cdef...``); on S3 they live under ``store/``.
    """

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

    def add(
        self, repo_root: Path, name: str = "storage", *, force: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``gitml remote add NAME URL --default [--endpoint-url ...] [--force]`` in ``repo_root``."""
        proc = run_gitml(*self.add_args(name), *(["--force"] if force else []), cwd=repo_root)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"Added remote {name}: {self.url} (default)"
        return proc

    # -- looking behind gitml's back: by key ---------------------------------------------------

    def _s3(self) -> S3Bucket:
        assert self.bucket is not None
        return self.bucket

    def object_keys(self) -> list[str]:
        """Keys under ``sha256/``; temp files and anything else are not objects."""
        if self.root is not None:
            base = self.root / "sha256"
            return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if not p.is_dir())
        return [k.removeprefix("store/") for k in self._s3().keys("store/sha256/")]

    def other_keys(self) -> list[str]:
        """Everything that is neither an object nor (local) a temp file under ``tmp/``."""
        if self.root is not None:
            return sorted(
                str(p.relative_to(self.root))
                for p in self.root.rglob("*")
                if not p.is_dir() and p.relative_to(self.root).parts[0] not in ("sha256", "tmp")
            )
        return [k for k in self._s3().keys() if not k.startswith("store/sha256/")]

    def read_key(self, key: str) -> bytes:
        if self.root is not None:
            return (self.root / key).read_bytes()
        bucket = self._s3()
        body = bucket.client.get_object(Bucket=bucket.name, Key=f"store/{key}")["Body"]
        with body:
            data: bytes = body.read()
        return data

    def put(self, key: str, data: bytes) -> None:
        """Write raw bytes under ``<remote>/<key>``, bypassing gitml (a buggy tool, an attacker)."""
        if self.root is not None:
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                os.chmod(path, 0o644)  # objects are stored read-only
            path.write_bytes(data)
            return
        bucket = self._s3()
        bucket.client.put_object(Bucket=bucket.name, Key=f"store/{key}", Body=data)

    def open_uploads(self) -> list[str]:
        """S3 multipart uploads started and neither completed nor aborted."""
        if self.bucket is None:
            return []
        found = self.bucket.client.list_multipart_uploads(Bucket=self.bucket.name)
        return [u["Key"] for u in found.get("Uploads", [])]

    def assert_intact(self) -> int:
        """Every object under its final key holds exactly the bytes its name is the hash of."""
        keys = self.object_keys()
        for key in keys:
            parts = key.split("/")
            assert len(parts) == 3 and parts[0] == "sha256", key
            assert sha(self.read_key(key)) == parts[1] + parts[2], f"{key} holds other bytes than its name"
        assert self.other_keys() == [], self.other_keys()
        return len(keys)

    # -- looking behind gitml's back: by object ------------------------------------------------

    def oids(self) -> set[str]:
        """Every object stored (by hash)."""
        return {"".join(key.split("/")[1:]) for key in self.object_keys()}

    def has(self, oid: str) -> bool:
        return oid in self.oids()

    def read(self, oid: str) -> bytes:
        return self.read_key(key_of(oid))

    def write(self, oid: str, data: bytes) -> None:
        """Replace the stored bytes of ``oid`` (a damaged object, as disks and buggy tools make them)."""
        self.put(key_of(oid), data)

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
        if self.root is not None:
            (self.root / key_of(oid)).unlink()
            return
        bucket = self._s3()
        bucket.client.delete_object(Bucket=bucket.name, Key=f"store/{key_of(oid)}")


@pytest.fixture(params=["local", "s3"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> RemoteStore:
    """An empty remote: a folder, or a fresh bucket on the session's S3 server (started only when asked)."""
    if request.param == "local":
        root = tmp_path / "remote-store"
        return RemoteStore("local", str(root), root=root)
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    return RemoteStore("s3", bucket.url, endpoint_url=bucket.endpoint_url, bucket=bucket)
