"""Tests for gitml.artifacts.record: artifacts.yaml parse/dump (hand-edited files are hostile) and updates."""

from __future__ import annotations

import hashlib
import multiprocessing
import threading
from pathlib import Path

import pytest

from gitml.artifacts.record import (
    FILE_NAME,
    ArtifactEntry,
    dump_entries,
    merge_entries,
    parse_entries,
    update_entries,
)
from gitml.exceptions import CorruptRunError, InvalidValueError


def oid(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


A, B = oid("a"), oid("b")
WHERE = ".gitml/runs/r1/artifacts.yaml"


def entry_yaml(path: str, body: str) -> bytes:
    return f"{path}: {{{body}}}\n".encode()


# -- round trip -------------------------------------------------------------------------------------------


def test_dump_writes_the_documented_format() -> None:
    entries = {
        "model.pkl": ArtifactEntry("model.pkl", A, 1234),
        "images": ArtifactEntry("images", B, 99123, is_dir=True, files=120),
        "data/out.csv": ArtifactEntry("data/out.csv", A, 10, output=True),
    }
    text = dump_entries(entries).decode()
    lines = text.splitlines()
    assert lines[0].startswith("# Written by gitml")
    assert lines[1:] == [
        f'"data/out.csv": {{hash: "sha256:{A}", size: 10, output: true}}',
        f'"images": {{hash: "sha256:{B}", size: 99123, files: 120, type: dir}}',
        f'"model.pkl": {{hash: "sha256:{A}", size: 1234}}',
    ]


@pytest.mark.parametrize(
    "path",
    [
        "model.pkl",
        "dir with spaces/file name.bin",
        "it's quoted",
        "yes",
        "true",
        "null",
        "1",
        "1.5",
        "0x10",
        "~",
        "-",
        "#comment",
        "& anchor",
        "@at sign",
        "!tag",
        "{flow}",
        "[seq]",
        "a, b",
        "a # b",
        "'single'",
        "données/été.csv",
        "日本語/ファイル.txt",
        "emoji 😀.png",
        "nbsp\xa0name",
        "tab-free name=1",
    ],
)
def test_round_trip_paths(path: str) -> None:
    entries = {path: ArtifactEntry(path, A, 7)}
    assert parse_entries(dump_entries(entries), where=WHERE) == entries


def test_round_trip_all_kinds() -> None:
    entries = {
        "a file": ArtifactEntry("a file", A, 0),
        "dir": ArtifactEntry("dir", B, 10_000_000_000, is_dir=True, files=3),
        "empty dir": ArtifactEntry("empty dir", B, 0, is_dir=True, files=0),
        "out/x.csv": ArtifactEntry("out/x.csv", A, 5, output=True),
        "out/d": ArtifactEntry("out/d", B, 5, is_dir=True, files=1, output=True),
    }
    data = dump_entries(entries)
    parsed = parse_entries(data, where=WHERE)
    assert parsed == entries
    assert dump_entries(parsed) == data, "dumping is deterministic"


def test_dump_sorts_paths() -> None:
    entries = {p: ArtifactEntry(p, A, 1) for p in ["z", "a", "m/n"]}
    lines = dump_entries(entries).decode().splitlines()[1:]
    assert [line.split('"')[1] for line in lines] == ["a", "m/n", "z"]


def test_empty_and_comment_only_files_have_no_entries() -> None:
    assert parse_entries(b"", where=WHERE) == {}
    assert parse_entries(dump_entries({}), where=WHERE) == {}
    assert parse_entries(b"# nothing\n", where=WHERE) == {}


def test_hand_written_plain_yaml_is_read() -> None:
    data = (
        f"model.pkl: {{hash: sha256:{A}, size: 3}}\n"
        f"imgs:\n  hash: sha256:{B}\n  size: 4\n  files: 2\n  type: dir\n"
    )
    parsed = parse_entries(data.encode(), where=WHERE)
    assert parsed == {
        "model.pkl": ArtifactEntry("model.pkl", A, 3),
        "imgs": ArtifactEntry("imgs", B, 4, is_dir=True, files=2),
    }


def test_output_must_be_exactly_true() -> None:
    parsed = parse_entries(entry_yaml("a", f"hash: sha256:{A}, size: 1, output: yes please"), where=WHERE)
    assert parsed["a"].output is False


def test_files_is_ignored_for_a_file_entry() -> None:
    parsed = parse_entries(entry_yaml("a", f"hash: sha256:{A}, size: 1, files: 9"), where=WHERE)
    assert parsed["a"] == ArtifactEntry("a", A, 1)


# -- hand-edited, hostile files ---------------------------------------------------------------------------


def _assert_corrupt(data: bytes, *fragments: str) -> CorruptRunError:
    with pytest.raises(CorruptRunError) as info:
        parse_entries(data, where=WHERE)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert info.value.exit_code == 6
    return info.value


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "..",
        "/etc/passwd",
        "a/../../x",
        "a/./b",
        "a\\b",
        "..\\..\\x",
        "a\x00b",
        "%2e%2e/x",
        "C:\\x",
        "c:/windows",
        "a.",
        "a ",
        "a//b",
        "a/",
        "a\nb",
        "a\x85b",
        "a\u2028b",
    ],
)
def test_traversal_and_bad_paths_are_refused(path: str) -> None:
    import json

    data = f"{json.dumps(path)}: {{hash: sha256:{A}, size: 1}}\n".encode()
    error = _assert_corrupt(data, repr(path), WHERE)
    assert error.hint is not None and WHERE in error.hint, "the hint says how to restore the file"


@pytest.mark.parametrize("key", ["1", "true", "null", "2024-01-01", "1.5"])
def test_non_string_keys_are_refused(key: str) -> None:
    _assert_corrupt(f"{key}: {{hash: sha256:{A}, size: 1}}\n".encode(), "artifact path", WHERE)


@pytest.mark.parametrize("key", ["[a, b]", "{a: 1}"])
def test_unhashable_keys_are_refused(key: str) -> None:
    _assert_corrupt(f"? {key}\n: {{hash: sha256:{A}, size: 1}}\n".encode(), WHERE)


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (f"hash: {A}, size: 1", ["unsupported hash"]),
        (f"hash: md5:{A[:32]}, size: 1", ["unsupported hash", "md5"]),
        (f"hash: sha256:{A[:60]}, size: 1", ["malformed sha256 hash"]),
        (f"hash: sha256:{A.upper()}, size: 1", ["malformed sha256 hash"]),
        (f"hash: sha256:../../{A[6:]}, size: 1", ["malformed sha256 hash"]),
        ("size: 1", ["a hash must be a string", "None"]),
        ("hash: 12, size: 1", ["a hash must be a string", "12"]),
        (f"hash: sha256:{A}", ["bad size None"]),
        (f"hash: sha256:{A}, size: -1", ["bad size -1"]),
        (f"hash: sha256:{A}, size: '12'", ["bad size '12'"]),
        (f"hash: sha256:{A}, size: 1.5", ["bad size 1.5"]),
        (f"hash: sha256:{A}, size: true", ["bad size True"]),
        (f"hash: sha256:{A}, size: .inf", ["bad size inf"]),
        (f"hash: sha256:{A}, size: 1, type: link", ["unknown type 'link'"]),
        (f"hash: sha256:{A}, size: 1, type: Dir", ["unknown type 'Dir'"]),
        (f"hash: sha256:{A}, size: 1, type: dir", ["bad file count None"]),
        (f"hash: sha256:{A}, size: 1, type: dir, files: -2", ["bad file count -2"]),
        (f"hash: sha256:{A}, size: 1, type: dir, files: false", ["bad file count False"]),
        (f"hash: sha256:{A}, size: 1, type: dir, files: '3'", ["bad file count '3'"]),
    ],
)
def test_bad_entries_are_refused(body: str, fragments: list[str]) -> None:
    _assert_corrupt(entry_yaml("model.pkl", body), WHERE, *fragments)


@pytest.mark.parametrize(
    "data",
    [
        b"- a\n- b\n",
        b"just a string\n",
        b"42\n",
        b"model.pkl: sha256:abc\n",
        b"model.pkl: [1, 2]\n",
        b"model.pkl:\n",
    ],
)
def test_wrong_shapes_are_refused(data: bytes) -> None:
    _assert_corrupt(data, WHERE)


@pytest.mark.parametrize(
    "data",
    [
        b"a: {hash: [unclosed\n",
        b"a: b: c\n",
        b"\tbad: indent\n",
        b"a: {hash: x}\na: {hash: y\n",
        b"a: \xff not utf8\n",
    ],
)
def test_invalid_yaml_is_corrupt_not_a_crash(data: bytes) -> None:
    _assert_corrupt(data, WHERE, "not valid YAML")


def test_utf16_garbage_is_corrupt_not_a_crash() -> None:
    _assert_corrupt(b"\xff\xfe not utf8\n", WHERE)


@pytest.mark.parametrize(
    "payload",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:os.system ['touch {marker}']",
        "!!python/object:pathlib.Path {{}}",
        "!!python/name:os.system",
    ],
)
def test_python_tags_fail_safely(payload: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"model.pkl: {payload.format(marker=marker)}\n"
    _assert_corrupt(text.encode(), WHERE, "not valid YAML")
    assert not marker.exists(), "nothing was constructed or run"


def test_python_tag_inside_an_entry_fails_safely(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"model.pkl: {{hash: !!python/object/apply:os.system ['touch {marker}'], size: 1}}\n"
    _assert_corrupt(text.encode(), WHERE, "not valid YAML")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("paths", "inner", "outer"),
    [
        (["a", "a/b"], "a/b", "a"),
        (["a/b", "a/b/c/d"], "a/b/c/d", "a/b"),
        (["a", "a.txt", "a/b"], "a/b", "a"),
        (["a", "a b", "a-c", "a/x/y"], "a/x/y", "a"),
        (["models", "models.bak", "models/x"], "models/x", "models"),
    ],
)
def test_nested_entries_are_refused(paths: list[str], inner: str, outer: str) -> None:
    data = b"".join(entry_yaml(f'"{p}"', f"hash: sha256:{A}, size: 1") for p in paths)
    _assert_corrupt(data, f"artifact {inner!r} is inside artifact {outer!r}")


def test_siblings_with_a_common_prefix_are_not_nested() -> None:
    paths = ["a", "ab", "a.txt", "a b/c", "b/a"]
    data = b"".join(entry_yaml(f'"{p}"', f"hash: sha256:{A}, size: 1") for p in paths)
    assert set(parse_entries(data, where=WHERE)) == set(paths)


# -- merge_entries ----------------------------------------------------------------------------------------


def test_merge_adds_and_replaces_the_same_path() -> None:
    current = {"a": ArtifactEntry("a", A, 1), "b": ArtifactEntry("b", A, 1)}
    merged = merge_entries(current, [ArtifactEntry("a", B, 2), ArtifactEntry("c/d", B, 3)])
    assert merged == {
        "a": ArtifactEntry("a", B, 2),
        "b": ArtifactEntry("b", A, 1),
        "c/d": ArtifactEntry("c/d", B, 3),
    }
    assert current == {"a": ArtifactEntry("a", A, 1), "b": ArtifactEntry("b", A, 1)}, "input untouched"


def test_merge_replaces_a_file_by_a_dir_of_the_same_path() -> None:
    merged = merge_entries({"x": ArtifactEntry("x", A, 1)}, [ArtifactEntry("x", B, 9, is_dir=True, files=2)])
    assert merged == {"x": ArtifactEntry("x", B, 9, is_dir=True, files=2)}


@pytest.mark.parametrize(
    ("existing", "new", "inner", "outer"),
    [
        ("a", "a/b", "a/b", "a"),
        ("a/b", "a", "a/b", "a"),
        ("a/b/c", "a", "a/b/c", "a"),
    ],
)
def test_merge_refuses_nesting(existing: str, new: str, inner: str, outer: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        merge_entries({existing: ArtifactEntry(existing, A, 1)}, [ArtifactEntry(new, B, 1)])
    assert str(info.value) == f"artifact {inner!r} would be inside artifact {outer!r}"
    assert info.value.hint is not None
    assert info.value.exit_code == 2


def test_merge_refuses_nesting_within_one_batch() -> None:
    with pytest.raises(InvalidValueError, match="would be inside"):
        merge_entries({}, [ArtifactEntry("a", A, 1), ArtifactEntry("a/b", B, 1)])


def test_merge_allows_prefix_siblings() -> None:
    merged = merge_entries(
        {"a": ArtifactEntry("a", A, 1)}, [ArtifactEntry("ab", B, 1), ArtifactEntry("a.txt", B, 1)]
    )
    assert set(merged) == {"a", "ab", "a.txt"}


# -- update_entries ----------------------------------------------------------------------------------------


def test_update_creates_and_extends_the_file(tmp_path: Path) -> None:
    merged = update_entries(tmp_path, [ArtifactEntry("a", A, 1)])
    assert merged == {"a": ArtifactEntry("a", A, 1)}
    update_entries(tmp_path, [ArtifactEntry("b b", B, 2, output=True)], fsync=True)
    data = (tmp_path / FILE_NAME).read_bytes()
    assert parse_entries(data, where=WHERE) == {
        "a": ArtifactEntry("a", A, 1),
        "b b": ArtifactEntry("b b", B, 2, output=True),
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME], "no temp or lock file left"


def test_update_refuses_a_corrupt_file_and_leaves_it(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(b"../x: {hash: sha256:00, size: 1}\n")
    with pytest.raises(CorruptRunError):
        update_entries(tmp_path, [ArtifactEntry("a", A, 1)])
    assert path.read_bytes() == b"../x: {hash: sha256:00, size: 1}\n"


def test_update_refuses_nesting_and_leaves_the_file(tmp_path: Path) -> None:
    update_entries(tmp_path, [ArtifactEntry("a", A, 1)])
    before = (tmp_path / FILE_NAME).read_bytes()
    with pytest.raises(InvalidValueError):
        update_entries(tmp_path, [ArtifactEntry("a/b", B, 1)])
    assert (tmp_path / FILE_NAME).read_bytes() == before


def test_update_from_many_threads_keeps_every_entry(tmp_path: Path) -> None:
    n = 16
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            for j in range(5):
                update_entries(tmp_path, [ArtifactEntry(f"t{i}/f{j}", oid(f"{i}-{j}"), j)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    parsed = parse_entries((tmp_path / FILE_NAME).read_bytes(), where=WHERE)
    assert set(parsed) == {f"t{i}/f{j}" for i in range(n) for j in range(5)}
    assert parsed["t3/f4"] == ArtifactEntry("t3/f4", oid("3-4"), 4)


def _update_in_child(run_dir: str, i: int) -> None:
    for j in range(5):
        update_entries(Path(run_dir), [ArtifactEntry(f"p{i}/f{j}", oid(f"p{i}-{j}"), j)])


def test_update_from_two_processes_keeps_both_entries(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_update_in_child, args=(str(tmp_path), i)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0]
    parsed = parse_entries((tmp_path / FILE_NAME).read_bytes(), where=WHERE)
    assert set(parsed) == {f"p{i}/f{j}" for i in range(2) for j in range(5)}
