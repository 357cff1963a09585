"""MemoryStore, the in-memory fake beside the storage seam: its fault injection and bookkeeping.

The ObjectStore contract it shares with LocalStore is tested in test_store_local.py (parametrized
over both stores).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitml.artifacts.cache import Cache
from gitml.exceptions import IntegrityError, StoreError
from gitml.store.base import ObjectStore, Transfer
from gitml.store.memory import MemoryStore


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def put(cache: Cache, *blobs: bytes) -> list[Transfer]:
    out = []
    for blob in blobs:
        oid, size = cache.add_bytes(blob)
        out.append(Transfer(oid, size, cache.path(oid)))
    return out


def test_is_an_object_store() -> None:
    store = MemoryStore()
    assert isinstance(store, ObjectStore)
    assert store.url == "memory://test"
    assert MemoryStore("memory://other").url == "memory://other"


def test_upload_keeps_bytes_and_mtimes(cache: Cache) -> None:
    store = MemoryStore()
    items = put(cache, b"a", b"bb")
    assert store.upload(items, jobs=2) == []
    assert store.objects == {items[0].oid: b"a", items[1].oid: b"bb"}
    assert set(store.mtimes) == {i.oid for i in items}
    assert all(o.mtime == store.mtimes[o.oid] for o in store.listing())


def test_requests_are_counted(cache: Cache, tmp_path: Path) -> None:
    store = MemoryStore()
    items = put(cache, b"a", b"b", b"c")
    store.upload(items, jobs=1)
    assert store.requests == 3
    store.stat([i.oid for i in items], jobs=1)
    assert store.requests == 6, "stat makes one request per object"
    list(store.listing())
    assert store.requests == 7
    store.read(items[0].oid)
    assert store.requests == 8


def test_fail_next_makes_uploads_fail_then_recover(cache: Cache) -> None:
    store = MemoryStore()
    items = put(cache, b"a", b"b", b"c")
    store.fail_next = 2
    failures = store.upload(items, jobs=1)
    assert len(failures) == 2
    assert all(isinstance(f.error, StoreError) for f in failures)
    assert "injected failure" in str(failures[0].error)
    assert failures[0].error.exit_code == 9
    assert store.fail_next == 0
    assert len(store.objects) == 1
    assert store.upload([i for i in items if i.oid not in store.objects], jobs=1) == []
    assert set(store.objects) == {i.oid for i in items}


def test_fail_next_makes_downloads_fail(cache: Cache, tmp_path: Path) -> None:
    store = MemoryStore()
    items = put(cache, b"a")
    store.upload(items, jobs=1)
    store.fail_next = 1
    failures = store.download([Transfer(items[0].oid, 1, tmp_path / "x")], jobs=1)
    assert len(failures) == 1 and isinstance(failures[0].error, StoreError)
    assert not (tmp_path / "x").exists()
    assert store.download([Transfer(items[0].oid, 1, tmp_path / "x")], jobs=1) == []
    assert (tmp_path / "x").read_bytes() == b"a"


def test_fail_next_makes_listing_read_and_stat_raise() -> None:
    store = MemoryStore()
    store.objects["a" * 64] = b"x"
    store.fail_next = 3
    with pytest.raises(StoreError):
        list(store.listing())
    with pytest.raises(StoreError):
        store.read("a" * 64)
    with pytest.raises(StoreError):
        store.stat(["a" * 64], jobs=1)
    assert store.read("a" * 64) == b"x"


def test_fail_next_is_thread_safe(cache: Cache) -> None:
    store = MemoryStore()
    items = put(cache, *(f"blob {i}".encode() for i in range(200)))
    store.fail_next = 50
    failures = store.upload(items, jobs=8)
    assert len(failures) == 50, "exactly the injected number of failures, under concurrency"
    assert len(store.objects) == 150
    assert store.requests == 200


def test_upload_checks_size_as_well_as_hash(cache: Cache) -> None:
    store = MemoryStore()
    (item,) = put(cache, b"abc")
    failures = store.upload([Transfer(item.oid, 4, item.path)], jobs=1)
    assert len(failures) == 1 and isinstance(failures[0].error, IntegrityError)
    assert store.objects == {}


def test_delete_removes_from_listing() -> None:
    store = MemoryStore()
    store.objects.update({"a" * 64: b"1", "b" * 64: b"2"})
    store.delete(["a" * 64, "c" * 64])
    assert [o.oid for o in store.listing()] == ["b" * 64]


def test_estimate_count_scales_the_00_prefix() -> None:
    store = MemoryStore()
    store.objects.update({"00" + "a" * 62: b"", "00" + "b" * 62: b"", "01" + "a" * 62: b""})
    assert store.estimate_count() == 512
