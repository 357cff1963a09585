"""Tests for gitml.paths: the one validator for keys, relative paths and contained joins."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from gitml.exceptions import InvalidNameError
from gitml.paths import check_key, check_relpath, contained_path

# -- check_key ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["loss", "val/acc", "a.b", "train loss", "m:1", "a_b-c", "A1", "x" * 250, "a/b/c", "..a", "a.."]
)
def test_check_key_accepts(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "a,b",
        "a\nb",
        "a\rb",
        "a\tb",
        "..",
        ".",
        "a/../b",
        "a/./b",
        "./a",
        "../a",
        "/a",
        "a/",
        "a//b",
        " a",
        "a ",
        "a\x00",
        'a"b',
        "a'b",
        "a\\b",
        "a=b",
        "a;b",
        "a$b",
        "a`b",
        "x" * 251,
        "x" * 300,
    ],
)
def test_check_key_rejects(key: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        check_key(key)
    if len(key) < 100:
        assert repr(key) in str(info.value), "the offending key is quoted with repr"


@pytest.mark.parametrize("key", [None, 1, 1.5, b"loss", ["loss"], object()])
def test_check_key_rejects_non_strings(key: object) -> None:
    with pytest.raises(InvalidNameError):
        check_key(key)


def test_check_key_names_what_in_message() -> None:
    with pytest.raises(InvalidNameError, match="metric key"):
        check_key("a,b", what="metric key")


# -- check_relpath --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("model/weights.bin", ("model", "weights.bin")),
        ("weights.bin", ("weights.bin",)),
        ("a/b/c/d.txt", ("a", "b", "c", "d.txt")),
        (".hidden/x", (".hidden", "x")),
        ("a..b/c", ("a..b", "c")),
    ],
)
def test_check_relpath_accepts(path: str, parts: tuple[str, ...]) -> None:
    result = check_relpath(path)
    assert isinstance(result, PurePosixPath)
    assert result.parts == parts
    assert str(result) == path


@pytest.mark.parametrize(
    "path",
    [
        # RELIABILITY.md item 1
        "../x",
        "..",
        "a/../b",
        "/etc/passwd",
        "C:\\x",
        "C:x",
        "c:/x",
        "..\\x",
        "a\\..\\b",
        "%2e%2e/x",
        "%2E%2E/x",
        "%252e%252e/x",
        "a/%2e%2e/b",
        "a#/../b",
        "a?b=../x",
        "a;/../x",
        "a\x00b",
        "a/b\x00",
        "a./b",
        "a/b.",
        "a /b",
        "a/b ",
        "...",
        # empty and '.' components
        "",
        "a//b",
        "a/",
        "./a",
        "a/./b",
        ".",
        # control characters
        "a\nb",
        "a\rb",
        "a\x1fb",
        "a\x7fb",
        # Windows-reserved characters
        "a:b",
        "a*b",
        "a?b",
        'a"b',
        "a<b",
        "a>b",
        "a|b",
    ],
)
def test_check_relpath_rejects(path: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        check_relpath(path)
    assert repr(path) in str(info.value)


@pytest.mark.parametrize("path", [None, 1, b"model/weights.bin", PurePosixPath("model/weights.bin")])
def test_check_relpath_rejects_non_strings(path: object) -> None:
    with pytest.raises(InvalidNameError):
        check_relpath(path)


# -- contained_path -------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("secret")
    return root


def test_contained_path_accepts_nested_path(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    assert contained_path(root, "a/b/c.txt") == root.resolve() / "a" / "b" / "c.txt"


def test_contained_path_accepts_not_yet_existing_path(root: Path) -> None:
    assert contained_path(root, "new/dir/file.bin") == root.resolve() / "new" / "dir" / "file.bin"


def test_contained_path_accepts_symlink_staying_inside(root: Path) -> None:
    (root / "real").mkdir()
    os.symlink(root / "real", root / "alias")
    assert contained_path(root, "alias/x") == root.resolve() / "alias" / "x"


def test_contained_path_refuses_symlinked_dir_pointing_outside(root: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "outside", root / "link")
    with pytest.raises(InvalidNameError, match="outside"):
        contained_path(root, "link/secret")
    with pytest.raises(InvalidNameError):
        contained_path(root, "link/new-file")


def test_contained_path_refuses_relative_symlink_pointing_outside(root: Path) -> None:
    os.symlink("../outside", root / "link")
    with pytest.raises(InvalidNameError):
        contained_path(root, "link/secret")


def test_contained_path_refuses_symlinked_file_pointing_outside(root: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "outside" / "secret", root / "secret")
    with pytest.raises(InvalidNameError):
        contained_path(root, "secret")


def test_contained_path_refuses_dangling_symlink_pointing_outside(root: Path, tmp_path: Path) -> None:
    """A write through it would create a file outside the root."""
    os.symlink(tmp_path / "outside" / "not-yet", root / "dangling")
    with pytest.raises(InvalidNameError):
        contained_path(root, "dangling")
    assert not (tmp_path / "outside" / "not-yet").exists()


def test_contained_path_refuses_nested_symlink_pointing_outside(root: Path, tmp_path: Path) -> None:
    (root / "a").mkdir()
    os.symlink(tmp_path / "outside", root / "a" / "b")
    with pytest.raises(InvalidNameError):
        contained_path(root, "a/b/secret")


@pytest.mark.parametrize("path", ["../outside/secret", "/etc/passwd", "a/../../outside"])
def test_contained_path_validates_relpath(root: Path, path: str) -> None:
    with pytest.raises(InvalidNameError):
        contained_path(root, path)
