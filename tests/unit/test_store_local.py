"""The ObjectStore contract, run against LocalStore and MemoryStore, then LocalStore's own guarantees.

The contract tests are parametrized over both stores (``store`` fixture), so a behaviour the in-memory
fake gets wrong fails here beside the real folder store. MemoryStore-only behaviour (fault injection) is
in test_store_memory.py.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitml.artifacts.cache import Cache
from gitml.exceptions import IntegrityError, ObjectMissingError, StoreError
from gitml.store.base import ObjectStore, RemoteSpec, StoredObject, Transfer, open_store
from gitml.store.local import LocalStore
from gitml.store.memory import MemoryStore


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    s: ObjectStore = LocalStore(tmp_path / "remote") if request.param == "local" else MemoryStore()
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


BLOBS = [b"", b"a", b"hello world\n", bytes(range(256)) * 100, os.urandom(3 * 1024 * 1024 + 5)]


@pytest.fixture
def items(cache: Cache) -> list[Transfer]:
    out = []
    for blob in BLOBS:
        oid, size = cache.add_bytes(blob)
        out.append(Transfer(oid, size, cache.path(oid)))
    return out


def corrupt(path: Path, data: bytes = b"tampered") -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


def corrupt_stored(store: ObjectStore, oid: str, data: bytes = b"tampered") -> None:
    if isinstance(store, LocalStore):
        corrupt(store.path(oid), data)
    else:
        assert isinstance(store, MemoryStore)
        store.objects[oid] = data


# -- the contract ------------------------------------------------------------------------------------------


def test_empty_store(store: ObjectStore) -> None:
    assert list(store.listing()) == []
    assert store.stat(["ab" * 32], jobs=2) == {"ab" * 32: None}
    assert store.estimate_count() == 0


@pytest.mark.parametrize("jobs", [1, 4])
def test_upload_then_listing_and_stat(store: ObjectStore, items: list[Transfer], jobs: int) -> None:
    progress: list[tuple[int, int]] = []
    lock = threading.Lock()

    def report(nbytes: int, nobjects: int) -> None:
        with lock:
            progress.append((nbytes, nobjects))

    assert store.upload(items, jobs=jobs, progress=report) == []
    listed = {o.oid: o.size for o in store.listing()}
    assert listed == {i.oid: i.size for i in items}
    assert all(isinstance(o, StoredObject) for o in store.listing())
    assert sorted(o.oid for o in store.listing()) == [o.oid for o in store.listing()], "sorted by oid"
    missing = "0" * 64
    assert store.stat([*(i.oid for i in items), missing], jobs=jobs) == {
        **{i.oid: i.size for i in items},
        missing: None,
    }
    assert sum(b for b, _ in progress) == sum(i.size for i in items)
    assert sum(n for _, n in progress) == len(items)


def test_listing_prefix_filter(store: ObjectStore, items: list[Transfer]) -> None:
    assert store.upload(items, jobs=2) == []
    for item in items:
        for prefix in (item.oid[:1], item.oid[:2], item.oid[:3], item.oid):
            got = [o.oid for o in store.listing(prefix=prefix)]
            assert item.oid in got
            assert all(o.startswith(prefix) for o in got)
    assert list(store.listing(prefix="g")) == []


def test_estimate_count(store: ObjectStore, cache: Cache) -> None:
    # Find blobs whose oid starts with "00" (about 1 in 256) so the estimate is non-zero.
    under_00 = []
    n = 0
    while len(under_00) < 2:
        data = f"blob {n}".encode()
        n += 1
        if sha(data).startswith("00"):
            oid, size = cache.add_bytes(data)
            under_00.append(Transfer(oid, size, cache.path(oid)))
    other_oid, other_size = cache.add_bytes(b"not under 00")
    assert store.upload([*under_00, Transfer(other_oid, other_size, cache.path(other_oid))], jobs=1) == []
    assert store.estimate_count() == 2 * 256


@pytest.mark.parametrize("jobs", [1, 4])
def test_download_round_trip(store: ObjectStore, items: list[Transfer], tmp_path: Path, jobs: int) -> None:
    assert store.upload(items, jobs=jobs) == []
    out = tmp_path / "down"
    out.mkdir()
    back = [Transfer(i.oid, i.size, out / i.oid) for i in items]
    assert store.download(back, jobs=jobs) == []
    for item, blob in zip(items, BLOBS, strict=True):
        assert (out / item.oid).read_bytes() == blob


@pytest.mark.parametrize("jobs", [1, 4])
def test_download_hands_each_verified_file_to_on_done(
    store: ObjectStore, items: list[Transfer], tmp_path: Path, jobs: int
) -> None:
    assert store.upload(items, jobs=2) == []
    victim = items[3]
    corrupt_stored(store, victim.oid)
    out = tmp_path / "down"
    out.mkdir()
    seen: dict[str, bytes] = {}
    lock = threading.Lock()

    def on_done(item: Transfer) -> None:
        data = item.path.read_bytes()  # complete when handed over
        with lock:
            assert item.oid not in seen, "once per object"
            seen[item.oid] = data

    back = [Transfer(i.oid, i.size, out / i.oid) for i in items]
    failures = store.download(back, jobs=jobs, on_done=on_done)
    assert [f.oid for f in failures] == [victim.oid]
    assert seen == {i.oid: blob for i, blob in zip(items, BLOBS, strict=True) if i is not victim}


def test_an_on_done_failure_fails_that_object_only(
    store: ObjectStore, items: list[Transfer], tmp_path: Path
) -> None:
    assert store.upload(items, jobs=2) == []
    unlucky = items[1]

    def on_done(item: Transfer) -> None:
        if item.oid == unlucky.oid:
            raise StoreError("no space left on device")

    failures = store.download(
        [Transfer(i.oid, i.size, tmp_path / i.oid) for i in items], jobs=2, on_done=on_done
    )
    assert [f.oid for f in failures] == [unlucky.oid]
    assert isinstance(failures[0].error, StoreError)


def test_download_of_a_corrupt_object_fails_with_integrity_error(
    store: ObjectStore, items: list[Transfer], tmp_path: Path
) -> None:
    assert store.upload(items, jobs=2) == []
    victim = items[2]
    corrupt_stored(store, victim.oid)
    out = tmp_path / "down"
    out.mkdir()
    failures = store.download([Transfer(i.oid, i.size, out / i.oid) for i in items], jobs=2)
    assert [f.oid for f in failures] == [victim.oid]
    error = failures[0].error
    assert isinstance(error, IntegrityError)
    assert victim.oid[:12] in str(error)
    assert error.exit_code == 10
    assert not (out / victim.oid).exists(), "no corrupt file is left where the object was asked for"
    assert sorted(p.name for p in out.iterdir()) == sorted(i.oid for i in items if i is not victim)


def test_download_of_a_same_size_corruption_is_caught(
    store: ObjectStore, items: list[Transfer], tmp_path: Path
) -> None:
    assert store.upload(items, jobs=1) == []
    victim = items[2]
    corrupt_stored(store, victim.oid, b"HELLO WORLD\n")  # same length as b"hello world\n"
    failures = store.download([Transfer(victim.oid, victim.size, tmp_path / "x")], jobs=1)
    assert len(failures) == 1 and isinstance(failures[0].error, IntegrityError)
    assert not (tmp_path / "x").exists()


def test_download_of_a_missing_object(store: ObjectStore, tmp_path: Path) -> None:
    oid = sha(b"never uploaded")
    failures = store.download([Transfer(oid, 14, tmp_path / "x")], jobs=1)
    assert len(failures) == 1
    assert failures[0].oid == oid
    assert isinstance(failures[0].error, ObjectMissingError)
    assert oid[:12] in str(failures[0].error)
    assert failures[0].error.exit_code == 4
    assert not (tmp_path / "x").exists()


def test_download_with_the_wrong_expected_size_fails(
    store: ObjectStore, items: list[Transfer], tmp_path: Path
) -> None:
    assert store.upload(items, jobs=1) == []
    item = items[2]
    failures = store.download([Transfer(item.oid, item.size + 1, tmp_path / "x")], jobs=1)
    assert len(failures) == 1 and isinstance(failures[0].error, IntegrityError)


def test_download_does_not_overwrite_an_existing_file(
    store: ObjectStore, items: list[Transfer], tmp_path: Path
) -> None:
    assert store.upload(items[2:3], jobs=1) == []
    dst = tmp_path / "exists"
    dst.write_bytes(b"mine")
    # A failure like any other (not an exception out of download), and the file is left alone.
    failures = store.download([Transfer(items[2].oid, items[2].size, dst)], jobs=1)
    assert len(failures) == 1 and isinstance(failures[0].error, StoreError)
    assert dst.read_bytes() == b"mine"


def test_read_open_delete(store: ObjectStore, items: list[Transfer]) -> None:
    assert store.upload(items, jobs=2) == []
    small = items[2]
    assert store.read(small.oid) == b"hello world\n"
    with store.open(small.oid) as fh:
        assert fh.read() == b"hello world\n"
    big = items[-1]
    with store.open(big.oid) as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == big.oid
    store.delete([small.oid, "f" * 64])  # absent ones are ignored
    assert store.stat([small.oid], jobs=1) == {small.oid: None}
    assert small.oid not in {o.oid for o in store.listing()}
    with pytest.raises(ObjectMissingError):
        store.read(small.oid)
    with pytest.raises(ObjectMissingError):
        store.open(small.oid)
    store.delete([small.oid])


def test_upload_of_a_corrupt_cache_object_fails_and_stores_nothing(
    store: ObjectStore, items: list[Transfer]
) -> None:
    victim = items[3]
    corrupt(victim.path)
    failures = store.upload(items, jobs=2)
    assert [f.oid for f in failures] == [victim.oid]
    error = failures[0].error
    assert isinstance(error, IntegrityError)
    assert victim.oid[:12] in str(error)
    assert store.stat([victim.oid], jobs=1) == {victim.oid: None}
    assert victim.oid not in {o.oid for o in store.listing()}
    assert {o.oid for o in store.listing()} == {i.oid for i in items if i is not victim}


def test_upload_of_a_same_size_corruption_is_caught(store: ObjectStore, items: list[Transfer]) -> None:
    victim = items[2]
    corrupt(victim.path, b"HELLO WORLD\n")
    failures = store.upload([victim], jobs=1)
    assert len(failures) == 1 and isinstance(failures[0].error, IntegrityError)
    assert store.stat([victim.oid], jobs=1) == {victim.oid: None}


def test_upload_of_a_missing_cache_object(store: ObjectStore, tmp_path: Path) -> None:
    oid = sha(b"gone")
    failures = store.upload([Transfer(oid, 4, tmp_path / "gone")], jobs=1)
    assert len(failures) == 1 and isinstance(failures[0].error, ObjectMissingError)
    assert store.stat([oid], jobs=1) == {oid: None}


def test_uploading_again_is_harmless(store: ObjectStore, items: list[Transfer]) -> None:
    assert store.upload(items, jobs=2) == []
    assert store.upload(items, jobs=2) == []
    assert {o.oid: o.size for o in store.listing()} == {i.oid: i.size for i in items}


def test_concurrent_uploads_of_the_same_objects_both_succeed(
    store: ObjectStore, items: list[Transfer]
) -> None:
    results: list[list[object]] = []
    barrier = threading.Barrier(4)

    def push() -> None:
        barrier.wait()
        results.append(list(store.upload(items, jobs=4)))

    threads = [threading.Thread(target=push) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [[], [], [], []]
    for item, blob in zip(items, BLOBS, strict=True):
        assert store.read(item.oid) == blob
    assert {o.oid for o in store.listing()} == {i.oid for i in items}


# -- LocalStore's own guarantees ----------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "remote")


def _stray(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / "tmp").rglob("*"))


def test_local_layout_is_the_cache_layout(local: LocalStore, items: list[Transfer]) -> None:
    assert local.upload(items, jobs=2) == []
    for item in items:
        path = local.root / "sha256" / item.oid[:2] / item.oid[2:]
        assert local.path(item.oid) == path
        assert path.stat().st_size == item.size
        assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_local_upload_leaves_nothing_in_tmp(local: LocalStore, items: list[Transfer]) -> None:
    assert local.upload(items, jobs=4) == []
    assert _stray(local.root) == []


def test_local_failed_upload_leaves_nothing_in_tmp(local: LocalStore, items: list[Transfer]) -> None:
    corrupt(items[-1].path)
    failures = local.upload(items, jobs=4)
    assert len(failures) == 1
    assert _stray(local.root) == []
    assert not local.path(items[-1].oid).exists()


def test_local_concurrent_uploads_leave_nothing_in_tmp(local: LocalStore, items: list[Transfer]) -> None:
    threads = [threading.Thread(target=local.upload, args=(items,), kwargs={"jobs": 4}) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _stray(local.root) == []
    for item in items:
        assert hashlib.sha256(local.path(item.oid).read_bytes()).hexdigest() == item.oid


def test_local_listing_ignores_strays(local: LocalStore, items: list[Transfer]) -> None:
    assert local.upload(items[:2], jobs=1) == []
    (local.root / "tmp" / "half-written").write_bytes(b"x")
    (local.root / "sha256" / "README").write_text("x")
    (local.root / "sha256" / "zz").mkdir()
    (local.root / "sha256" / "zz" / ("0" * 62)).write_text("x")
    (local.root / "sha256" / "abc").mkdir()
    sub = local.root / "sha256" / items[0].oid[:2] / "dir"
    sub.mkdir()
    assert {o.oid for o in local.listing()} == {items[0].oid, items[1].oid}


def test_local_upload_to_an_unwritable_place_is_a_store_error(tmp_path: Path, items: list[Transfer]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = LocalStore(blocker / "remote")
    with pytest.raises(StoreError) as info:
        store.upload(items, jobs=1)
    assert str(blocker / "remote") in str(info.value)
    assert info.value.exit_code == 9


def test_local_clean_tmp_removes_only_old_files(local: LocalStore, items: list[Transfer]) -> None:
    assert local.upload(items[:1], jobs=1) == []
    old = local.tmp / "old.123.abcd"
    new = local.tmp / "new.123.abcd"
    old.write_bytes(b"o")
    new.write_bytes(b"n")
    past = time.time() - 3600
    os.utime(old, (past, past))
    local.clean_tmp(older_than=600)
    assert not old.exists()
    assert new.exists()
    assert local.path(items[0].oid).exists()


def test_open_store_gives_a_local_store_for_paths(tmp_path: Path) -> None:
    for url in (str(tmp_path / "r"), f"file://{tmp_path / 'r'}"):
        store = open_store(RemoteSpec("origin", url))
        assert isinstance(store, LocalStore)
        assert store.root == tmp_path / "r"
