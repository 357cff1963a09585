"""Tests for gitml.artifacts.hashing: object ids, ``sha256:<hex>`` parsing, hashing while copying."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from gitml.artifacts import hashing
from gitml.artifacts.hashing import (
    ALGORITHM,
    CHUNK,
    copy_hashing,
    format_hash,
    hash_bytes,
    hash_file,
    is_oid,
    parse_hash,
)
from gitml.exceptions import InvalidValueError, UsageError

SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12345]
SIZE_IDS = ["empty", "1-byte", "chunk-1", "chunk", "chunk+1", "multi-MB"]


def _data(size: int) -> bytes:
    """Deterministic, non-repeating-per-chunk content (a chunk-sized bug would change the hash)."""
    block = hashlib.sha256(str(size).encode()).digest()
    return (block * (size // len(block) + 1))[:size] if size else b""


@pytest.fixture(params=SIZES, ids=SIZE_IDS)
def sized_file(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(request.param) if request.param > 64 else _data(request.param)
    path = tmp_path / "src.bin"
    path.write_bytes(data)
    return path, data


def test_algorithm_is_sha256() -> None:
    assert ALGORITHM == "sha256"


# -- hash_bytes / hash_file / copy_hashing agree with hashlib ------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_hash_bytes_matches_hashlib(size: int) -> None:
    data = _data(size)
    assert hash_bytes(data) == hashlib.sha256(data).hexdigest()


def test_hash_of_empty_is_the_well_known_digest() -> None:
    assert hash_bytes(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_hash_file_matches_hashlib(sized_file: tuple[Path, bytes]) -> None:
    path, data = sized_file
    assert hash_file(path) == (hashlib.sha256(data).hexdigest(), len(data))


def test_hash_file_accepts_str_paths(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    assert hash_file(str(path)) == (hashlib.sha256(b"abc").hexdigest(), 3)


def test_hash_file_missing_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_file(tmp_path / "nope")


def _copy(src: Path, dst: Path) -> tuple[str, int]:
    src_fd = os.open(src, os.O_RDONLY)
    dst_fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        return copy_hashing(src_fd, dst_fd)
    finally:
        os.close(src_fd)
        os.close(dst_fd)


def test_copy_hashing_copies_exactly_and_hashes(sized_file: tuple[Path, bytes], tmp_path: Path) -> None:
    src, data = sized_file
    dst = tmp_path / "dst.bin"
    assert _copy(src, dst) == (hashlib.sha256(data).hexdigest(), len(data))
    assert dst.read_bytes() == data


def test_copy_hashing_reads_each_byte_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(2 * CHUNK + 777)
    src = tmp_path / "src"
    src.write_bytes(data)
    read_total = 0
    real_readv = os.readv

    def counting_readv(fd: int, buffers: list[bytearray]) -> int:
        nonlocal read_total
        n = real_readv(fd, buffers)
        read_total += n
        return n

    monkeypatch.setattr(hashing.os, "readv", counting_readv)
    oid, size = _copy(src, tmp_path / "dst")
    assert read_total == len(data) == size
    assert oid == hashlib.sha256(data).hexdigest()


def test_copy_hashing_survives_short_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.write may write less than asked (pipes, signals): every byte must still land, once, in order."""
    data = os.urandom(CHUNK + 4321)
    src = tmp_path / "src"
    src.write_bytes(data)
    real_write = os.write
    calls = 0

    def short_write(fd: int, buf: bytes | memoryview) -> int:
        nonlocal calls
        calls += 1
        return real_write(fd, bytes(buf[:1000]))

    monkeypatch.setattr(hashing.os, "write", short_write)
    dst = tmp_path / "dst"
    assert _copy(src, dst) == (hashlib.sha256(data).hexdigest(), len(data))
    assert dst.read_bytes() == data
    assert calls >= len(data) // 1000


def test_copy_hashing_from_a_pipe(tmp_path: Path) -> None:
    """A non-seekable source: the copy reads it once, to the end."""
    data = os.urandom(50_000)
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, data)
        os.close(write_fd)
        write_fd = -1
        dst = tmp_path / "dst"
        dst_fd = os.open(dst, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            assert copy_hashing(read_fd, dst_fd) == (hashlib.sha256(data).hexdigest(), len(data))
        finally:
            os.close(dst_fd)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    assert dst.read_bytes() == data


# -- parse_hash / format_hash / is_oid -----------------------------------------------------------------

OID = hashlib.sha256(b"x").hexdigest()


def test_format_and_parse_round_trip() -> None:
    assert format_hash(OID) == f"sha256:{OID}"
    assert parse_hash(format_hash(OID)) == OID


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (f"md5:{OID[:32]}", "unsupported hash"),
        (f"sha1:{OID[:40]}", "unsupported hash"),
        (f"sha512:{OID}{OID}", "unsupported hash"),
        (f"SHA256:{OID}", "unsupported hash"),
        (OID, "unsupported hash"),
        ("", "unsupported hash"),
        (f" sha256:{OID}", "unsupported hash"),
        (f"sha256:{OID.upper()}", "malformed sha256 hash"),
        (f"sha256:{OID[:63]}", "malformed sha256 hash"),
        (f"sha256:{OID}0", "malformed sha256 hash"),
        (f"sha256:{OID} ", "malformed sha256 hash"),
        (f"sha256:{OID}\n", "malformed sha256 hash"),
        (f"sha256:{OID[:-1]}g", "malformed sha256 hash"),
        ("sha256:", "malformed sha256 hash"),
        (f"sha256:../{OID[3:]}", "malformed sha256 hash"),
        (f"sha256:sha256:{OID}", "malformed sha256 hash"),
    ],
)
def test_parse_hash_refuses(text: str, fragment: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        parse_hash(text, where="artifacts.yaml: model.pkl")
    message = str(info.value)
    assert fragment in message
    assert repr(text) in message, "the offending value is quoted"
    assert message.startswith("artifacts.yaml: model.pkl:"), "the message says where the hash came from"
    assert info.value.exit_code == UsageError.exit_code == 2


@pytest.mark.parametrize("value", [None, 1, 1.5, b"sha256:" + OID.encode(), ["sha256", OID], {"a": 1}])
def test_parse_hash_refuses_non_strings(value: object) -> None:
    with pytest.raises(InvalidValueError, match="must be a string"):
        parse_hash(value)


def test_parse_hash_names_the_unsupported_algorithm_and_what_is_read() -> None:
    with pytest.raises(InvalidValueError) as info:
        parse_hash(f"blake3:{OID}")
    assert "blake3" in str(info.value)
    assert "sha256:<hex>" in str(info.value)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        (OID, True),
        ("0" * 64, True),
        (OID.upper(), False),
        (OID[:63], False),
        (OID + "0", False),
        ("", False),
        (OID[:-1] + "\n", False),
        ("g" * 64, False),
    ],
)
def test_is_oid(text: str, ok: bool) -> None:
    assert is_oid(text) is ok
