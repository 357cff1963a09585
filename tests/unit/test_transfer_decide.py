"""Deciding what a remote lacks: few unknown objects are checked one by one, many by one listing."""

from __future__ import annotations

from pathlib import Path

from gitml.artifacts.context import Remote
from gitml.artifacts.hashing import hash_bytes
from gitml.artifacts.transfer import STAT_LIMIT, remote_lacks
from gitml.store.base import RemoteSpec
from gitml.store.memory import MemoryStore


def make_remote(tmp_path: Path, store: MemoryStore) -> Remote:
    remote = Remote(RemoteSpec("mem", "memory://test"), tmp_path / "state")
    remote._store = store
    return remote


def objects(n: int, tag: str = "") -> dict[str, bytes]:
    out = {}
    for i in range(n):
        data = f"{tag}object {i}".encode()
        out[hash_bytes(data)] = data
    return out


def test_many_unknown_objects_are_answered_by_one_listing(tmp_path: Path) -> None:
    store = MemoryStore()
    present = objects(1000)
    store.objects.update(present)
    wanted = {oid: len(data) for oid, data in present.items()}
    missing = objects(10, tag="new ")
    wanted.update({oid: len(data) for oid, data in missing.items()})

    lacks = remote_lacks(make_remote(tmp_path, store), wanted, jobs=8)

    assert lacks == set(missing)
    # One listing of 1/256th of the key space to estimate the size, then one full listing.
    assert store.requests == 2


def test_few_unknown_objects_are_checked_one_by_one(tmp_path: Path) -> None:
    store = MemoryStore()
    store.objects.update(objects(5000))
    wanted = {oid: len(data) for oid, data in objects(3, tag="x").items()}

    lacks = remote_lacks(make_remote(tmp_path, store), wanted, jobs=8)

    assert lacks == set(wanted)
    assert store.requests == len(wanted) <= STAT_LIMIT


def test_objects_seen_before_need_no_request_at_all(tmp_path: Path) -> None:
    store = MemoryStore()
    present = objects(200)
    store.objects.update(present)
    wanted = {oid: len(data) for oid, data in present.items()}
    remote = make_remote(tmp_path, store)
    assert remote_lacks(remote, wanted, jobs=8) == set()
    before = store.requests

    assert remote_lacks(remote, wanted, jobs=8) == set()
    assert store.requests == before

    # --rescan asks again; an object deleted behind our back is found missing.
    gone = next(iter(present))
    del store.objects[gone]
    assert remote_lacks(remote, wanted, jobs=8, rescan=True) == {gone}


def test_a_wrong_size_or_known_bad_object_counts_as_lacking(tmp_path: Path) -> None:
    store = MemoryStore()
    present = objects(3)
    store.objects.update(present)
    oids = sorted(present)
    store.objects[oids[0]] = b"truncated"
    wanted = {oid: len(data) for oid, data in present.items()}
    remote = make_remote(tmp_path, store)
    remote.index.mark_bad([oids[1]])

    assert remote_lacks(remote, wanted, jobs=8) == {oids[0], oids[1]}
    # Once re-uploaded, the object stops being bad.
    remote.index.add_present([oids[1]])
    assert oids[1] not in remote.index.bad()
