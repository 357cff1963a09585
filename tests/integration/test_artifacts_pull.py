"""``gitml pull`` (``api.pull``: fetch, then restore the outputs) as its speed-ups must leave it:
each object is installed in the cache as soon as it is verified, on the download's worker thread;
outputs are placed on a few threads, from the just-verified cache objects by an in-kernel copy.
Every work-tree file is complete and verified and goes through a temp name; a corrupt download
places nothing; a failure mid-pull leaves no partial file and a rerun completes.

Also the download side it builds on: ``ObjectStore.download(on_done=...)`` on a real S3 server.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gitml import api
from gitml.artifacts import transfer
from gitml.artifacts.cache import Cache
from gitml.exceptions import IntegrityError, ObjectMissingError, StoreError
from gitml.store.base import RemoteSpec, Transfer
from gitml.store.remote import open_fsspec_store
from gitml.workspace import Workspace
from tests.artifact_helpers import cache_oids, cache_path, drop_cache, sha
from tests.conftest import run_gitml
from tests.integration.conftest import RemoteStore
from tests.s3server import S3Bucket

PY = sys.executable
MiB = 1024 * 1024


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def temp_files(root: Path) -> list[str]:
    """Checkout temp files anywhere in the work tree (outside .gitml/)."""
    found = (p.relative_to(root) for p in root.rglob("*.gitml-tmp-*"))
    return [str(rel) for rel in found if ".gitml" not in rel.parts]


def outputs_run(repo: Path, remote: RemoteStore) -> dict[str, bytes]:
    """A run with outputs model.bin (above S3's single-request size) and data/ (small files, two of
    them with the same bytes), pushed; then the cache and the outputs are removed. Returns what
    the work tree should hold afterwards (path -> bytes)."""
    files = {
        "model.bin": os.urandom(3 * MiB + 17),
        "data/a.txt": b"alpha\n",
        "data/b.txt": b"same bytes\n",
        "data/sub/c.txt": b"same bytes\n",
        "data/sub/empty": b"",
    }
    for i in range(40):
        files[f"data/many/f{i:03d}.bin"] = os.urandom(1000 + i)
    for rel, data in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    ok(run_gitml("run", "--artifact", "model.bin", "--artifact", "data", "--", PY, "-c", "pass", cwd=repo))
    remote.add(repo)
    ok(run_gitml("push", cwd=repo))
    drop_cache(repo)
    (repo / "model.bin").unlink()
    shutil.rmtree(repo / "data")
    return files


def assert_work_tree(repo: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = repo / rel
        assert path.read_bytes() == data, rel
        assert not path.is_symlink()
        assert stat.S_IMODE(path.stat().st_mode) & stat.S_IWUSR, f"{rel} is an editable copy"
    assert temp_files(repo) == []


def test_pull_places_every_output_verified_and_fills_the_cache(repo: Path, remote: RemoteStore) -> None:
    files = outputs_run(repo, remote)

    result = api.pull(repo=repo)

    assert result.ok, (result.failures, result.missing)
    assert result.restored == ["data", "model.bin"]
    assert result.kept == []
    assert_work_tree(repo, files)
    distinct = {sha(d) for d in files.values()}
    assert result.transferred == len(distinct) + 1  # the files and data/'s manifest
    assert distinct <= cache_oids(repo)
    for oid in distinct:
        obj = cache_path(repo, oid)
        assert stat.S_IMODE(obj.stat().st_mode) & 0o222 == 0, "cache objects stay read-only"
        assert (repo / "model.bin").stat().st_ino != obj.stat().st_ino
    # Editing the work tree never touches the cache.
    (repo / "data" / "b.txt").write_bytes(b"edited")
    assert cache_path(repo, sha(b"same bytes\n")).read_bytes() == b"same bytes\n"
    assert (repo / "data" / "sub" / "c.txt").read_bytes() == b"same bytes\n"
    ok(run_gitml("verify", cwd=repo))


def test_pull_keeps_existing_outputs_unless_forced(repo: Path, remote: RemoteStore) -> None:
    files = outputs_run(repo, remote)
    (repo / "model.bin").write_bytes(b"my local edit")

    result = api.pull(repo=repo)
    assert result.ok
    assert (result.restored, result.kept) == (["data"], ["model.bin"])
    assert (repo / "model.bin").read_bytes() == b"my local edit"
    assert sha(files["model.bin"]) in cache_oids(repo), "a kept output is still fetched"

    result = api.pull(repo=repo, force=True)
    assert result.ok
    assert result.restored == ["data", "model.bin"]
    assert result.transferred == 0, "everything was in the cache already"
    assert_work_tree(repo, files)


def test_pull_from_a_warm_cache_places_without_downloading(repo: Path, remote: RemoteStore) -> None:
    files = outputs_run(repo, remote)
    ws = Workspace.find(repo)
    transfer.fetch(ws)
    result = api.pull(repo=repo)
    assert result.ok
    assert (result.transferred, result.restored) == (0, ["data", "model.bin"])
    assert_work_tree(repo, files)


def test_a_corrupt_download_leaves_no_work_tree_file(repo: Path, remote: RemoteStore) -> None:
    files = outputs_run(repo, remote)
    bad_file = sha(files["model.bin"])
    bad_in_dir = sha(files["data/a.txt"])
    remote.flip_bit(bad_file)
    remote.truncate(bad_in_dir, 3)

    result = api.pull(repo=repo)

    assert not result.ok
    refused = {f.oid for f in result.failures if isinstance(f.error, IntegrityError)}
    assert refused == {bad_file, bad_in_dir}
    assert result.restored == [], "an output with a bad file is not reported restored"
    assert not (repo / "model.bin").exists(), "no unverified bytes in the work tree"
    assert not (repo / "data" / "a.txt").exists()
    assert {bad_file, bad_in_dir}.isdisjoint(cache_oids(repo))
    assert temp_files(repo) == []
    # The good files of data/ are there, complete.
    assert (repo / "data" / "b.txt").read_bytes() == files["data/b.txt"]
    # Once the remote is repaired, a rerun completes.
    remote.write(bad_file, files["model.bin"])
    remote.write(bad_in_dir, files["data/a.txt"])
    result = api.pull(repo=repo, force=True)
    assert result.ok, result.failures
    assert_work_tree(repo, files)


def test_an_object_missing_from_the_remote_fails_its_output_only(repo: Path, remote: RemoteStore) -> None:
    files = outputs_run(repo, remote)
    gone = sha(files["model.bin"])
    remote.delete(gone)
    result = api.pull(repo=repo)
    assert result.missing == [gone]
    assert [f.oid for f in result.failures] == [gone]
    assert isinstance(result.failures[0].error, ObjectMissingError)
    assert result.restored == ["data"]
    assert not (repo / "model.bin").exists()
    assert_work_tree(repo, {k: v for k, v in files.items() if k != "model.bin"})


def test_a_failure_mid_pull_leaves_only_complete_files_and_a_rerun_completes(
    repo: Path, remote: RemoteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash while objects are landing: whatever is in the work tree is whole, nothing is partial."""
    files = outputs_run(repo, remote)
    real_install = Cache.install
    calls = {"n": 0}
    lock = threading.Lock()

    def install(self: Cache, tmp: Path, oid: str, *, just_verified: bool = False) -> None:
        with lock:
            calls["n"] += 1
            crash = calls["n"] == 12
        if crash:
            raise RuntimeError("simulated crash")
        real_install(self, tmp, oid, just_verified=just_verified)

    monkeypatch.setattr(Cache, "install", install)
    try:
        result = api.pull(repo=repo, jobs=4)
    except RuntimeError:  # a folder remote's threads pass it on; the S3 loop stops the transfer
        pass
    else:
        assert not result.ok
    monkeypatch.setattr(Cache, "install", real_install)

    for rel, data in files.items():
        if (repo / rel).exists():
            assert (repo / rel).read_bytes() == data, f"{rel} is partial"
    assert temp_files(repo) == []
    ok(run_gitml("verify", cwd=repo))
    result = api.pull(repo=repo, force=True)  # data/ may be there in part: --force completes it
    assert result.ok, result.failures
    assert_work_tree(repo, files)


def test_outputs_are_copied_from_just_verified_objects_without_hashing_again(
    repo: Path, remote: RemoteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = outputs_run(repo, remote)

    def no_hashing(*args: object, **kwargs: object) -> None:
        raise AssertionError("a just-downloaded object was hashed again on checkout")

    monkeypatch.setattr("gitml.artifacts.cache.copy_verified", no_hashing)
    result = api.pull(repo=repo)
    assert result.ok, result.failures
    assert_work_tree(repo, files)


# -- the store side: download(on_done=...) against a real S3 server -----------------------------------


def s3_store(bucket: S3Bucket):  # type: ignore[no-untyped-def]
    return open_fsspec_store(RemoteSpec("s3", bucket.url, endpoint_url=bucket.endpoint_url))


def put_objects(bucket: S3Bucket, blobs: list[bytes]) -> list[Transfer]:
    items = []
    for data in blobs:
        oid = sha(data)
        bucket.client.put_object(Bucket=bucket.name, Key=f"store/sha256/{oid[:2]}/{oid[2:]}", Body=data)
        items.append(Transfer(oid, len(data), Path()))
    return items


def test_s3_download_hands_each_verified_file_to_on_done_off_the_event_loop(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    blobs = [b"", b"small", os.urandom(200_000), os.urandom(9 * MiB + 5)]
    items = [Transfer(i.oid, i.size, tmp_path / i.oid) for i in put_objects(s3_bucket, blobs)]
    store = s3_store(s3_bucket)
    seen: dict[str, tuple[bytes, str]] = {}
    lock = threading.Lock()

    def on_done(item: Transfer) -> None:
        with lock:
            seen[item.oid] = (item.path.read_bytes(), threading.current_thread().name)

    try:
        assert store.download(items, jobs=4, on_done=on_done) == []
    finally:
        store.close()
    assert {oid: data for oid, (data, _) in seen.items()} == {sha(d): d for d in blobs}
    assert all(name != "fsspecIO" for _, name in seen.values()), "on_done never runs on the event loop"


def test_s3_download_of_a_corrupt_or_oversized_object_calls_nothing_and_leaves_nothing(
    s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    good, flipped, longer = b"good bytes", os.urandom(50_000), os.urandom(3 * MiB)
    items = put_objects(s3_bucket, [good, flipped, longer])
    damaged = bytearray(flipped)
    damaged[7] ^= 1
    key = f"store/sha256/{items[1].oid[:2]}/{items[1].oid[2:]}"
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=key, Body=bytes(damaged))
    # The server holds more bytes than the object's size: refused without reading them all.
    key = f"store/sha256/{items[2].oid[:2]}/{items[2].oid[2:]}"
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=key, Body=longer + os.urandom(9 * MiB))
    wanted = [Transfer(i.oid, i.size, tmp_path / i.oid) for i in items]
    done: list[str] = []
    store = s3_store(s3_bucket)
    try:
        failures = store.download(wanted, jobs=4, on_done=lambda item: done.append(item.oid))
    finally:
        store.close()
    assert sorted(f.oid for f in failures) == sorted([items[1].oid, items[2].oid])
    assert all(isinstance(f.error, IntegrityError) for f in failures)
    assert done == [items[0].oid]
    assert sorted(p.name for p in tmp_path.iterdir()) == [items[0].oid]


def test_s3_download_on_done_failure_is_that_objects_failure(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    items = put_objects(s3_bucket, [b"one", b"two"])
    wanted = [Transfer(i.oid, i.size, tmp_path / i.oid) for i in items]

    def on_done(item: Transfer) -> None:
        if item.oid == items[0].oid:
            raise StoreError("no space left on device while writing the cache")

    store = s3_store(s3_bucket)
    try:
        failures = store.download(wanted, jobs=1, on_done=on_done)
    finally:
        store.close()
    assert [f.oid for f in failures][:1] == [items[0].oid]
    assert isinstance(failures[0].error, StoreError)


def test_s3_downloads_do_not_ask_botocore_for_a_second_checksum(s3_bucket: S3Bucket) -> None:
    """Every download is hashed (SHA-256) already; botocore's CRC32 of each body is switched off."""
    import botocore.config

    store = s3_store(s3_bucket)
    try:
        config = store.fs.config_kwargs
        if "response_checksum_validation" in botocore.config.Config.OPTION_DEFAULTS:
            assert config["response_checksum_validation"] == "when_required"
        assert "request_checksum_calculation" not in config, "uploads keep botocore's default"
    finally:
        store.close()
