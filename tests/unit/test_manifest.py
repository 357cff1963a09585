"""Tests for gitml.artifacts.manifest: building, writing and (hostile) parsing of directory manifests."""

from __future__ import annotations

import hashlib
import re

import pytest

from gitml.artifacts.manifest import HEADER, FileEntry, Manifest, parse_manifest
from gitml.exceptions import IntegrityError


def oid(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


A, B, C = oid("a"), oid("b"), oid("c")


def raw(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode("utf-8")


# -- build / dumps / parse round trip -------------------------------------------------------------------


def test_header_names_version_and_algorithm() -> None:
    assert HEADER == "gitml-manifest 1 sha256"


def test_build_sorts_by_path_and_dumps_the_documented_format() -> None:
    manifest = Manifest.build([FileEntry("b.txt", B, 2), FileEntry("a/x.bin", A, 10)])
    assert [f.path for f in manifest.files] == ["a/x.bin", "b.txt"]
    assert manifest.dumps() == f"gitml-manifest 1 sha256\n{A} 10 a/x.bin\n{B} 2 b.txt\n".encode()


@pytest.mark.parametrize(
    "paths",
    [
        ["a.txt"],
        ["with space.txt", "dir with spaces/inner file.bin"],
        ["données/été.csv", "日本語/ファイル.txt", "emoji/😀.png"],
        ["a", "a.txt", "a/b", "a b/c", "a-b", "A"],
        ["it's/quoted name", "semi;colon", "plus+sign=eq", "[brackets]", "#hash", "~tilde", "a  two  spaces"],
        [".hidden/.file", "x..y"],
    ],
    ids=["one", "spaces", "unicode", "prefixes", "punctuation", "dots"],
)
def test_round_trip(paths: list[str]) -> None:
    entries = [FileEntry(p, oid(p), i * 1000) for i, p in enumerate(paths)]
    manifest = Manifest.build(entries)
    data = manifest.dumps()
    parsed = parse_manifest(data)
    assert parsed == manifest
    assert parsed.dumps() == data
    assert {f.path for f in parsed.files} == set(paths)


def test_empty_manifest_round_trips() -> None:
    manifest = Manifest.build([])
    assert manifest.dumps() == b"gitml-manifest 1 sha256\n"
    assert parse_manifest(manifest.dumps()) == manifest
    assert manifest.size == 0


def test_oid_is_sha256_of_dumps() -> None:
    manifest = Manifest.build([FileEntry("x y/z.bin", A, 3), FileEntry("é", B, 0)])
    assert manifest.oid == hashlib.sha256(manifest.dumps()).hexdigest()


def test_oid_does_not_depend_on_input_order() -> None:
    one = Manifest.build([FileEntry("a", A, 1), FileEntry("b", B, 2)])
    two = Manifest.build([FileEntry("b", B, 2), FileEntry("a", A, 1)])
    assert one.oid == two.oid


def test_oid_changes_with_any_field() -> None:
    base = Manifest.build([FileEntry("a", A, 1)]).oid
    assert Manifest.build([FileEntry("a", B, 1)]).oid != base
    assert Manifest.build([FileEntry("a", A, 2)]).oid != base
    assert Manifest.build([FileEntry("b", A, 1)]).oid != base


def test_size_is_the_sum_of_file_sizes() -> None:
    assert Manifest.build([FileEntry("a", A, 5), FileEntry("b", B, 7)]).size == 12


def test_build_refuses_duplicates() -> None:
    with pytest.raises(IntegrityError, match="'a/b' twice"):
        Manifest.build([FileEntry("a/b", A, 1), FileEntry("a/b", B, 2)])


def test_large_sizes_round_trip() -> None:
    manifest = Manifest.build([FileEntry("big", A, 2**40 + 3)])
    assert parse_manifest(manifest.dumps()).files[0].size == 2**40 + 3


# -- parse refuses malformed bytes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "is not a gitml manifest"),
        (b"\n", "is not a gitml manifest"),
        (raw(f"{A} 1 a", header="gitml-manifest 2 sha256"), "is not a gitml manifest"),
        (raw(f"{A} 1 a", header="gitml-manifest 1 md5"), "is not a gitml manifest"),
        (raw(f"{A} 1 a", header="gitml-manifest 1 sha256 "), "is not a gitml manifest"),
        (raw(f"{A} 1 a", header="GITML-MANIFEST 1 SHA256"), "is not a gitml manifest"),
        (b"\xef\xbb\xbf" + raw(f"{A} 1 a"), "is not a gitml manifest"),
        (b"not a manifest at all", "is not a gitml manifest"),
        (raw(f"{A} 1 a")[:-1], "truncated (no final newline)"),
        (HEADER.encode(), "truncated (no final newline)"),
        (raw(f"{A} 1 a").replace(b"\n", b"\r\n"), "is not a gitml manifest"),
        (raw(f"{A} 1 a", ""), "line 3 is malformed"),
        (raw(f"{A} 1"), "line 2 is malformed"),
        (raw(f"{A} 1 "), "line 2 is malformed"),
        (raw(f"{A}"), "line 2 is malformed"),
        (raw(f"{A[:63]} 1 a"), "line 2 is malformed"),
        (raw(f"{A.upper()} 1 a"), "line 2 is malformed"),
        (raw(f"{A[:-1]}z 1 a"), "line 2 is malformed"),
        (raw(f"sha256:{A} 1 a"), "line 2 is malformed"),
        (raw(f"{A}  1 a"), "line 2 is malformed"),
        (raw(f"{A} -1 a"), "line 2 is malformed"),
        (raw(f"{A} +1 a"), "line 2 is malformed"),
        (raw(f"{A} 1.5 a"), "line 2 is malformed"),
        (raw(f"{A} 1e3 a"), "line 2 is malformed"),
        (raw(f"{A} x a"), "line 2 is malformed"),
        (raw(f"{A} ² a"), "line 2 is malformed"),
        (raw(f"{A} ١٢ a"), "line 2 is malformed"),
        (raw(f"{A} 0x10 a"), "line 2 is malformed"),
        (raw(f"{B} 1 b", f"{A} 1 a"), "line 3: paths are not sorted and unique ('a')"),
        (raw(f"{A} 1 a", f"{A} 1 a"), "line 3: paths are not sorted and unique ('a')"),
        (raw(f"{A} 1 a", f"{B} 2 a"), "line 3: paths are not sorted and unique ('a')"),
    ],
)
def test_parse_refuses_malformed(data: bytes, fragment: str) -> None:
    with pytest.raises(IntegrityError) as info:
        parse_manifest(data, where="manifest 0123abcd")
    assert fragment in str(info.value)
    assert str(info.value).startswith("manifest 0123abcd"), "the message says which manifest"
    assert info.value.exit_code == 10


def test_parse_refuses_non_utf8() -> None:
    with pytest.raises(IntegrityError, match="not UTF-8"):
        parse_manifest(raw(f"{A} 1 a").replace(b" a\n", b" \xff\xfe\n"))


def test_malformed_line_is_quoted_and_shortened() -> None:
    line = f"{A} x " + "p" * 500
    with pytest.raises(IntegrityError) as info:
        parse_manifest(raw(line))
    message = str(info.value)
    assert repr(line[:80]) in message
    assert len(message) < 200


# -- parse refuses hostile paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "..",
        ".",
        "./x",
        "a/./b",
        "/etc/passwd",
        "a/../../x",
        "a/..",
        "a\\b",
        "..\\x",
        "a\x00b",
        "%2e%2e/x",
        "a/%2E%2E/x",
        "C:\\x",
        "C:x",
        "c:/x",
        "a.",
        "a/b.",
        "a./b",
        "a ",
        "a /b",
        "a//b",
        "a/",
        "a\tb",
        "a\rb",
        "a\x1bb",
        "a\x7fb",
        "a\x85b",
        "a\u2028b",
        "a*b",
        "a?b",
        'a"b',
        "a<b>",
        "a|b",
    ],
)
def test_parse_refuses_hostile_paths(path: str) -> None:
    with pytest.raises(IntegrityError) as info:
        parse_manifest(raw(f"{A} 1 {path}"), where="manifest 0123abcd")
    message = str(info.value)
    assert repr(path) in message or "malformed" in message, message
    assert info.value.exit_code == 10


def test_hostile_path_message_is_clear() -> None:
    with pytest.raises(IntegrityError) as info:
        parse_manifest(raw(f"{A} 1 ../x"), where="manifest 0123abcd")
    assert str(info.value) == "manifest 0123abcd path may not hold empty, '.' or '..' components: '../x'"
    with pytest.raises(IntegrityError, match=r"must be relative: '/etc/passwd'"):
        parse_manifest(raw(f"{A} 1 /etc/passwd"))


def test_a_hostile_path_after_good_ones_is_still_refused() -> None:
    with pytest.raises(IntegrityError, match=re.escape("'z/../../x'")):
        parse_manifest(raw(f"{A} 1 a", f"{B} 2 b", f"{C} 3 z/../../x"))


def test_a_newline_in_a_path_cannot_smuggle_a_line() -> None:
    """dumps() of a path with a newline gives bytes that parse refuses, never a different listing."""
    manifest = Manifest((FileEntry(f"a\n{B} 1 ../x", A, 1),))
    with pytest.raises(IntegrityError):
        parse_manifest(manifest.dumps())


# -- under() --------------------------------------------------------------------------------------------


@pytest.fixture
def tree() -> Manifest:
    return Manifest.build(
        FileEntry(p, oid(p), 1) for p in ["a", "a.txt", "a/b", "a/c/d", "ab/x", "b/a/x", "z"]
    )


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", ["a", "a.txt", "a/b", "a/c/d", "ab/x", "b/a/x", "z"]),
        ("a", ["a", "a/b", "a/c/d"]),
        ("a/c", ["a/c/d"]),
        ("a/c/d", ["a/c/d"]),
        ("ab", ["ab/x"]),
        ("b", ["b/a/x"]),
        ("b/a", ["b/a/x"]),
        ("z", ["z"]),
        ("missing", []),
        ("a/b/c", []),
        ("a/", []),
    ],
)
def test_under(tree: Manifest, prefix: str, expected: list[str]) -> None:
    assert [f.path for f in tree.under(prefix)] == expected
