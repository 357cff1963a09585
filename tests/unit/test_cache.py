"""Tests for gitml.artifacts.cache: the local content-addressed cache (adding, walking, checking out)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import stat
from pathlib import Path

import pytest

from gitml.artifacts.cache import LINK_TYPES, Cache, walk_files
from gitml.artifacts.hashing import CHUNK
from gitml.artifacts.manifest import FileEntry, Manifest
from gitml.exceptions import ConfigError, IntegrityError, InvalidNameError, ObjectMissingError
from gitml.paths import check_source

LARGE = 4 * 1024 * 1024 + CHUNK // 2 + 17  # above the "read whole" limit, not a multiple of CHUNK


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A folder standing for a repository root (walk_files only needs the path and its .git/)."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    return root


def leftovers(root: Path) -> list[str]:
    """Files that are not objects: temp files under tmp/, anything else stray."""
    out = []
    for path in root.rglob("*"):
        if path.is_file() and not (
            path.relative_to(root).parts[0] == "sha256" and len(path.parent.name) == 2
        ):
            out.append(str(path.relative_to(root)))
    return out


def gitml_tmp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".*.gitml-tmp-*")]


def damage(cache: Cache, oid: str, data: bytes) -> Path:
    """Replace the bytes of the (read-only) cache object ``oid`` behind the cache's back; its path."""
    obj = cache.path(oid)
    obj.chmod(0o644)
    obj.write_bytes(data)
    return obj


def reflink_works(folder: Path) -> bool:
    src, dst = folder / ".probe-src", folder / ".probe-dst"
    src.write_bytes(b"probe")
    try:
        with open(src, "rb") as s, open(dst, "wb") as d:
            fcntl.ioctl(d.fileno(), 0x40049409, s.fileno())
        return True
    except OSError:
        return False
    finally:
        for p in (src, dst):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


# -- layout and adding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, 1000, 4 * 1024 * 1024, LARGE], ids=["empty", "1", "1k", "4MiB", "large"]
)
def test_add_file_stores_a_read_only_object_at_its_hash(cache: Cache, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    oid, got_size = cache.add_file(src)
    assert (oid, got_size) == (sha(data), size)
    obj = cache.root / "sha256" / oid[:2] / oid[2:]
    assert cache.path(oid) == obj
    assert obj.read_bytes() == data
    assert stat.S_IMODE(obj.stat().st_mode) == 0o444
    assert cache.has(oid)
    assert cache.size_of(oid) == size
    assert src.read_bytes() == data, "the source is untouched"
    assert leftovers(cache.root) == []


@pytest.mark.parametrize("size", [10, LARGE], ids=["small", "large"])
def test_adding_the_same_content_twice_leaves_one_object(cache: Cache, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "one").write_bytes(data)
    (tmp_path / "two").write_bytes(data)
    first = cache.add_file(tmp_path / "one")
    before = cache.path(first[0]).stat()
    assert cache.add_file(tmp_path / "two") == first
    assert cache.add_file(tmp_path / "one") == first
    assert [o.oid for o in cache.objects()] == [first[0]]
    assert cache.path(first[0]).stat().st_ino == before.st_ino, "the existing object was kept"
    assert leftovers(cache.root) == []
    assert list(cache.tmp.iterdir()) == []


def test_add_bytes(cache: Cache) -> None:
    oid, size = cache.add_bytes(b"hello")
    assert (oid, size) == (sha(b"hello"), 5)
    assert cache.path(oid).read_bytes() == b"hello"
    assert stat.S_IMODE(cache.path(oid).stat().st_mode) == 0o444
    assert cache.add_bytes(b"hello") == (oid, size)
    assert cache.add_bytes(b"") == (sha(b""), 0)
    assert cache.path(sha(b"")).read_bytes() == b""
    assert leftovers(cache.root) == []


def test_add_file_refuses_a_directory_and_a_missing_file(cache: Cache, tmp_path: Path) -> None:
    with pytest.raises(InvalidNameError, match="is a directory"):
        cache.add_file(tmp_path)
    with pytest.raises(InvalidNameError, match="no such file"):
        cache.add_file(tmp_path / "missing")


def test_unknown_link_type_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Cache(tmp_path, link=("reflink", "junction"))
    assert "'junction'" in str(info.value)
    assert info.value.exit_code == 3
    assert LINK_TYPES == ("reflink", "hardlink", "symlink", "copy")


def test_empty_link_list_means_copy(tmp_path: Path) -> None:
    assert Cache(tmp_path, link=()).link == ("copy",)


# -- add_tree / walk_files ------------------------------------------------------------------------------


def _make_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.mark.parametrize("count", [3, 40], ids=["serial", "threaded"])
def test_add_tree_lists_every_file_and_stores_the_manifest(cache: Cache, repo: Path, count: int) -> None:
    files = {"top.txt": b"top", "a/b/c/deep.bin": os.urandom(3000), "a/empty": b"", "sp ace/é.txt": b"x"}
    files.update({f"many/f{i:03}.txt": f"file {i}".encode() for i in range(count)})
    src = repo / "data"
    _make_tree(src, files)
    (src / "emptydir").mkdir()
    manifest, moid = cache.add_tree(src, repo_root=repo)
    assert [f.path for f in manifest.files] == sorted(files)
    for entry in manifest.files:
        assert entry.size == len(files[entry.path])
        assert entry.oid == sha(files[entry.path])
        assert cache.path(entry.oid).read_bytes() == files[entry.path]
    assert moid == manifest.oid
    assert cache.read_manifest(moid) == manifest
    assert cache.path(moid).read_bytes() == manifest.dumps()
    assert leftovers(cache.root) == []


def test_add_tree_with_a_large_file(cache: Cache, repo: Path) -> None:
    big = os.urandom(LARGE)
    _make_tree(repo / "d", {"big.bin": big, "small.txt": b"s"})
    manifest, _ = cache.add_tree(repo / "d", repo_root=repo)
    assert [(f.path, f.size) for f in manifest.files] == [("big.bin", LARGE), ("small.txt", 1)]
    assert cache.verify(sha(big))


def test_walk_files_is_sorted_and_relative(repo: Path) -> None:
    _make_tree(repo / "d", {"b": b"", "a/z": b"", "a/b": b"", "a.txt": b""})
    assert [rel for rel, _ in walk_files(repo / "d", repo_root=repo)] == ["a.txt", "a/b", "a/z", "b"]
    assert all(p.is_absolute() for _, p in walk_files(repo / "d", repo_root=repo))


def test_walk_files_follows_a_symlink_to_a_file_inside_the_repo(repo: Path) -> None:
    (repo / "real.bin").write_bytes(b"real")
    _make_tree(repo / "d", {"plain": b"p"})
    (repo / "d" / "link.bin").symlink_to(repo / "real.bin")
    (repo / "d" / "rel-link").symlink_to("../real.bin")
    files = dict(walk_files(repo / "d", repo_root=repo))
    assert files["link.bin"] == (repo / "real.bin").resolve()
    assert files["rel-link"] == (repo / "real.bin").resolve()
    assert files["plain"] == repo / "d" / "plain"


def test_walk_files_refuses_a_symlink_leading_outside_the_repo(repo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("PRIVATE")
    _make_tree(repo / "d", {"ok": b""})
    (repo / "d" / "key").symlink_to(secret)
    with pytest.raises(InvalidNameError) as info:
        walk_files(repo / "d", repo_root=repo)
    assert "outside the repository" in str(info.value)
    assert str(secret) in str(info.value)


@pytest.mark.parametrize(
    ("name", "target", "message"),
    [
        ("passwd", "/etc/passwd", "outside the repository"),
        ("cfg", ".git/config", r"inside \.git/"),
        ("git", ".git", r"inside \.git/"),
    ],
    ids=["etc-passwd", "into-dot-git", "dot-git-itself"],
)
def test_walk_files_refuses_a_symlink_to_etc_passwd_or_into_dot_git(
    repo: Path, name: str, target: str, message: str
) -> None:
    _make_tree(repo / "d", {"ok": b""})
    (repo / "d" / name).symlink_to(repo / target)  # an absolute target stays absolute
    with pytest.raises(InvalidNameError, match=message):
        walk_files(repo / "d", repo_root=repo)


def test_walk_files_refuses_a_symlinked_directory_even_inside_the_repo(repo: Path) -> None:
    _make_tree(repo / "other", {"x": b"x"})
    _make_tree(repo / "d", {"ok": b""})
    (repo / "d" / "sub").symlink_to(repo / "other", target_is_directory=True)
    with pytest.raises(InvalidNameError, match="symlink to a directory") as info:
        walk_files(repo / "d", repo_root=repo)
    assert info.value.hint is not None


def test_walk_files_refuses_names_gitml_cannot_record(repo: Path) -> None:
    _make_tree(repo / "d", {"ok": b"", "bad\\name": b""})
    with pytest.raises(InvalidNameError, match=r"'bad\\\\name'"):
        walk_files(repo / "d", repo_root=repo)


def test_walk_files_refuses_a_non_utf8_file_name(repo: Path) -> None:
    """os.listdir decodes such a name with surrogates, which no manifest or artifacts.yaml can hold."""
    (repo / "d").mkdir()
    try:
        fd = os.open(os.path.join(os.fsencode(repo / "d"), b"bad-\xff.bin"), os.O_CREAT | os.O_WRONLY, 0o644)
    except OSError as exc:  # pragma: no cover - filesystems that insist on UTF-8
        pytest.skip(f"cannot create a non-UTF-8 name here: {exc}")
    os.close(fd)
    with pytest.raises(InvalidNameError, match="character gitml refuses"):
        walk_files(repo / "d", repo_root=repo)


def test_add_tree_refuses_a_tree_with_an_escaping_symlink_and_adds_no_manifest(
    cache: Cache, repo: Path, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_text("s")
    _make_tree(repo / "d", {"a": b"a"})
    (repo / "d" / "z").symlink_to(tmp_path / "secret")
    with pytest.raises(InvalidNameError):
        cache.add_tree(repo / "d", repo_root=repo)
    assert list(cache.objects()) == []


# -- check_source (the top-level path given to log_artifact) ---------------------------------------------


def test_check_source_accepts_plain_paths_anywhere(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "model.bin"
    outside.write_bytes(b"m")
    assert check_source(outside, repo_root=repo) == outside.resolve()
    (repo / "in.txt").write_text("i")
    assert check_source(repo / "in.txt", repo_root=repo) == (repo / "in.txt").resolve()


def test_check_source_resolves_relative_paths_from_cwd(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "in.txt").write_text("i")
    monkeypatch.chdir(repo)
    assert check_source("in.txt", repo_root=repo) == (repo / "in.txt").resolve()


def test_check_source_follows_symlinks_inside_the_repo(repo: Path) -> None:
    (repo / "real").write_text("r")
    (repo / "link").symlink_to(repo / "real")
    assert check_source(repo / "link", repo_root=repo) == (repo / "real").resolve()


@pytest.mark.parametrize("target", ["outside", "dotgit", "dotgit-dir"])
def test_check_source_refuses_symlinks_out_of_the_repo_or_into_git(
    repo: Path, tmp_path: Path, target: str
) -> None:
    (tmp_path / "outside").write_text("o")
    dest = {
        "outside": tmp_path / "outside",
        "dotgit": repo / ".git" / "config",
        "dotgit-dir": repo / ".git",
    }[target]
    link = repo / "link"
    link.symlink_to(dest)
    with pytest.raises(InvalidNameError) as info:
        check_source(link, repo_root=repo)
    assert repr(str(link)) in str(info.value)
    assert "outside the repository or inside .git/" in str(info.value)
    assert info.value.hint is not None


def test_check_source_refuses_a_path_through_a_symlinked_parent(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f").write_text("f")
    (repo / "via").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(InvalidNameError):
        check_source(repo / "via" / "f", repo_root=repo)


# -- checkout_file ------------------------------------------------------------------------------------------


@pytest.fixture
def stored(cache: Cache) -> tuple[str, bytes]:
    data = b"model weights " * 1000
    oid, _ = cache.add_bytes(data)
    return oid, data


def test_checkout_copy_gives_an_independent_writable_file(
    cache: Cache, stored: tuple[str, bytes], tmp_path: Path
) -> None:
    oid, data = stored
    dst = tmp_path / "work" / "sub" / "model.bin"
    assert cache.checkout_file(oid, len(data), dst, link=["copy"]) == "copy"
    assert dst.read_bytes() == data
    assert not dst.is_symlink()
    assert dst.stat().st_ino != cache.path(oid).stat().st_ino
    assert stat.S_IMODE(dst.stat().st_mode) & stat.S_IWUSR
    dst.write_bytes(b"edited in place")
    assert cache.path(oid).read_bytes() == data, "editing the copy never touches the cache"
    assert cache.verify(oid)
    assert gitml_tmp_files(tmp_path / "work") == []


def test_checkout_replaces_an_existing_file(cache: Cache, stored: tuple[str, bytes], tmp_path: Path) -> None:
    oid, data = stored
    dst = tmp_path / "model.bin"
    dst.write_bytes(b"old")
    cache.checkout_file(oid, len(data), dst, link=["copy"])
    assert dst.read_bytes() == data


def test_checkout_copy_of_a_corrupt_object_fails_and_discards_it(
    cache: Cache, stored: tuple[str, bytes], tmp_path: Path
) -> None:
    oid, data = stored
    obj = damage(cache, oid, b"X" + data[1:])  # same size, different hash
    dst = tmp_path / "work" / "model.bin"
    with pytest.raises(IntegrityError) as info:
        cache.checkout_file(oid, len(data), dst, link=["copy"])
    assert oid[:12] in str(info.value)
    assert "corrupt" in str(info.value)
    assert info.value.exit_code == 10
    assert not obj.exists(), "the corrupt object was removed so a fetch can replace it"
    assert not dst.exists()
    assert gitml_tmp_files(tmp_path / "work") == []


def test_checkout_copy_of_a_truncated_object_fails(
    cache: Cache, stored: tuple[str, bytes], tmp_path: Path
) -> None:
    oid, data = stored
    damage(cache, oid, data[:-1])
    with pytest.raises(IntegrityError, match=f"{len(data) - 1} bytes"):
        cache.checkout_file(oid, len(data), tmp_path / "out", link=["copy"])
    assert not cache.has(oid)


def test_failed_checkout_keeps_the_old_destination(
    cache: Cache, stored: tuple[str, bytes], tmp_path: Path
) -> None:
    oid, data = stored
    damage(cache, oid, b"corrupt")
    dst = tmp_path / "model.bin"
    dst.write_bytes(b"previous version")
    with pytest.raises(IntegrityError):
        cache.checkout_file(oid, len(data), dst, link=["copy"])
    assert dst.read_bytes() == b"previous version"
    assert gitml_tmp_files(tmp_path) == []


def checked_out(cache: Cache, stored: tuple[str, bytes], dst: Path, link: list[str]) -> str:
    """Check ``stored`` out to ``dst`` trying ``link`` in order: the bytes arrive and no temp file is
    left beside them. Returns the link type used."""
    oid, data = stored
    used = cache.checkout_file(oid, len(data), dst, link=link)
    assert dst.read_bytes() == data
    assert gitml_tmp_files(dst.parent) == []
    return used


def test_checkout_hardlink_shares_the_inode(cache: Cache, stored: tuple[str, bytes], tmp_path: Path) -> None:
    dst = tmp_path / "w" / "model.bin"
    assert checked_out(cache, stored, dst, ["hardlink"]) == "hardlink"
    assert dst.stat().st_ino == cache.path(stored[0]).stat().st_ino
    assert stat.S_IMODE(dst.stat().st_mode) == 0o444, "a hardlink shares the cache's read-only file"


def test_checkout_symlink_points_at_the_object(
    cache: Cache, stored: tuple[str, bytes], tmp_path: Path
) -> None:
    dst = tmp_path / "w" / "model.bin"
    assert checked_out(cache, stored, dst, ["symlink"]) == "symlink"
    assert dst.is_symlink()
    assert dst.resolve() == cache.path(stored[0]).resolve()


def test_checkout_reflink_falls_back_when_unsupported(
    cache: Cache, stored: tuple[str, bytes], tmp_path: Path
) -> None:
    dst = tmp_path / "w" / "model.bin"
    dst.parent.mkdir()
    expected = "reflink" if reflink_works(dst.parent) else "copy"
    assert checked_out(cache, stored, dst, ["reflink", "copy"]) == expected
    assert not dst.is_symlink()
    assert stat.S_IMODE(dst.stat().st_mode) & stat.S_IWUSR


def test_checkout_falls_back_through_the_configured_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Cache(tmp_path / "cache", link=("reflink", "hardlink", "copy"))
    oid, _ = cache.add_bytes(b"abc")

    def no_link(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    dst = tmp_path / "w" / "f"
    expected = "reflink" if reflink_works(cache.root) else "copy"
    assert cache.checkout_file(oid, 3, dst) == expected
    assert dst.read_bytes() == b"abc"
    assert gitml_tmp_files(tmp_path / "w") == []


def test_a_failed_reflink_is_not_tried_again_for_the_same_devices(
    cache: Cache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where reflink is unsupported (ext4), each later file is copied without a throw-away
    create-and-unlink of its temp file first."""
    calls = []

    def no_clone(fd: int, request: int, arg: int) -> None:
        calls.append(request)
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(fcntl, "ioctl", no_clone)
    opened: list[str] = []
    real_open = os.open

    def counting_open(path: object, flags: int, *args: int) -> int:
        if flags & os.O_CREAT:
            opened.append(os.fsdecode(path))  # type: ignore[arg-type]
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", counting_open)
    blobs = [f"file {i}\n".encode() for i in range(5)]
    oids = [cache.add_bytes(b)[0] for b in blobs]
    opened.clear()
    work = tmp_path / "w"
    for i, (oid, blob) in enumerate(zip(oids, blobs, strict=True)):
        assert cache.checkout_file(oid, len(blob), work / f"f{i}", link=["reflink", "copy"]) == "copy"
        assert (work / f"f{i}").read_bytes() == blob
    assert len(calls) == 1, "reflink was tried once, on the first file"
    assert len(opened) == len(blobs) + 1, "one file created per checkout, plus the one reflink probe"
    assert gitml_tmp_files(work) == []


def test_a_verified_object_is_copied_without_hashing_again(
    cache: Cache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * CHUNK + 5)
    oid = sha(data)
    tmp = cache.tmp_path("x")
    tmp.write_bytes(data)
    cache.install(tmp, oid, just_verified=True)

    def no_hashing(*args: object, **kwargs: object) -> None:
        raise AssertionError("hashed again")

    monkeypatch.setattr("gitml.artifacts.cache.copy_verified", no_hashing)
    dst = tmp_path / "out.bin"
    assert cache.checkout_file(oid, len(data), dst, link=["copy"]) == "copy"
    assert dst.read_bytes() == data
    assert stat.S_IMODE(dst.stat().st_mode) & stat.S_IWUSR
    assert dst.stat().st_ino != cache.path(oid).stat().st_ino


def test_copy_fd_falls_back_to_sendfile_and_refuses_a_short_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitml.store.local import copy_fd

    data = os.urandom(2 * CHUNK + 3)
    src = tmp_path / "src"
    src.write_bytes(data)

    def cross_device(*args: object) -> int:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", cross_device, raising=False)
    for name, size in (("whole", len(data)), ("short", len(data) + 1)):
        fd_in = os.open(src, os.O_RDONLY)
        fd_out = os.open(tmp_path / name, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            if size == len(data):
                copy_fd(fd_in, fd_out, size)
            else:
                with pytest.raises(OSError, match="short copy"):
                    copy_fd(fd_in, fd_out, size)
        finally:
            os.close(fd_in)
            os.close(fd_out)
    assert (tmp_path / "whole").read_bytes() == data


def test_checkout_many_places_everything_it_can_and_reports_each_failure(
    cache: Cache, tmp_path: Path
) -> None:
    blobs = {f"d{i % 3}/f{i:02d}": os.urandom(100 + i) for i in range(30)}
    oids = {rel: cache.add_bytes(data)[0] for rel, data in blobs.items()}
    damage(cache, oids["d1/f04"], b"not the bytes")
    missing = sha(b"never stored")
    work = tmp_path / "w"
    (work / "d2").mkdir(parents=True)
    (work / "d2" / ".f05.gitml-tmp-1-dead").write_bytes(b"a killed checkout's temp file")
    placements = [(oids[rel], len(data), work / rel) for rel, data in blobs.items()]
    placements.append((missing, 5, work / "d0" / "gone"))

    errors = cache.checkout_many(placements, jobs=4)

    assert len(errors) == len(placements)
    failed = {str(p[2].relative_to(work)): e for p, e in zip(placements, errors, strict=True) if e}
    assert sorted(failed) == ["d0/gone", "d1/f04"]
    assert isinstance(failed["d1/f04"], IntegrityError)
    assert isinstance(failed["d0/gone"], ObjectMissingError)
    for rel, data in blobs.items():
        if rel != "d1/f04":
            assert (work / rel).read_bytes() == data
    assert not (work / "d1" / "f04").exists()
    assert gitml_tmp_files(work) == [], "stale temp files were swept, none left behind"


def test_checkout_many_sweeps_only_the_folders_it_is_told_to(cache: Cache, tmp_path: Path) -> None:
    """A tree's folder is cleared of every stale temp file; a single file's folder (the work tree,
    say) only of that file's own, so another command's temp file there survives."""
    oid, _ = cache.add_bytes(b"abc")
    work = tmp_path / "w"
    (work / "tree").mkdir(parents=True)
    for folder in (work, work / "tree"):
        (folder / ".other.bin.gitml-tmp-1-live").write_bytes(b"another checkout's temp file")
        (folder / ".f.gitml-tmp-1-dead").write_bytes(b"a killed checkout's temp file")
    placements = [(oid, 3, work / "f"), (oid, 3, work / "tree" / "f"), (oid, 3, work / "tree" / "g")]

    assert cache.checkout_many(placements, sweep={work / "tree"}) == [None, None, None]

    assert sorted(p.name for p in work.iterdir()) == [".other.bin.gitml-tmp-1-live", "f", "tree"]
    assert sorted(p.name for p in (work / "tree").iterdir()) == ["f", "g"]


def test_checkout_of_a_missing_object(cache: Cache, tmp_path: Path) -> None:
    with pytest.raises(ObjectMissingError) as info:
        cache.checkout_file("ab" * 32, 1, tmp_path / "x")
    assert info.value.exit_code == 4
    assert "abababababab" in str(info.value)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("name", "stale", "others"),
    [
        ("model.bin", [".model.bin.gitml-tmp-1-dead"], [".other.bin.gitml-tmp-1-dead"]),
        # "a[1].txt" as a glob would match ".a1.txt.*": another checkout's temp file, to be left alone.
        ("a[1].txt", [], [".a1.txt.gitml-tmp-7-live"]),
    ],
    ids=["that-file-only", "glob-characters-literally"],
)
def test_checkout_removes_stale_temp_files_of_that_file_only(
    cache: Cache, stored: tuple[str, bytes], tmp_path: Path, name: str, stale: list[str], others: list[str]
) -> None:
    oid, data = stored
    work = tmp_path / "w"
    work.mkdir()
    for temp in stale + others:
        (work / temp).write_bytes(b"a temp file")
    cache.checkout_file(oid, len(data), work / name, link=["copy"])
    assert sorted(p.name for p in work.iterdir()) == sorted([*others, name])
    assert (work / name).read_bytes() == data


# -- checkout_tree --------------------------------------------------------------------------------------


@pytest.fixture
def tree(cache: Cache, repo: Path) -> tuple[Manifest, dict[str, bytes]]:
    files = {"a.txt": b"a", "sub/b.txt": b"bb", "sub/deeper/c.txt": b"ccc", "sp ace/d": b"d"}
    _make_tree(repo / "src", files)
    manifest, _ = cache.add_tree(repo / "src", repo_root=repo)
    return manifest, files


def test_checkout_tree_places_every_file(
    cache: Cache, tree: tuple[Manifest, dict[str, bytes]], tmp_path: Path
) -> None:
    manifest, files = tree
    dst = tmp_path / "out"
    assert cache.checkout_tree(manifest, dst) == len(files)
    for rel, data in files.items():
        assert (dst / rel).read_bytes() == data
    assert gitml_tmp_files(dst) == []


def test_checkout_tree_with_a_prefix(
    cache: Cache, tree: tuple[Manifest, dict[str, bytes]], tmp_path: Path
) -> None:
    manifest, _ = tree
    dst = tmp_path / "out"
    assert cache.checkout_tree(manifest, dst, prefix="sub") == 2
    assert sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file()) == ["b.txt", "deeper/c.txt"]
    one = tmp_path / "one"
    assert cache.checkout_tree(manifest, one, prefix="sub/b.txt") == 1
    assert (one / "b.txt").read_bytes() == b"bb"


def test_checkout_tree_refuses_to_write_through_a_planted_symlink(
    cache: Cache, tree: tuple[Manifest, dict[str, bytes]], tmp_path: Path
) -> None:
    manifest, _ = tree
    outside = tmp_path / "outside"
    outside.mkdir()
    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidNameError) as info:
        cache.checkout_tree(manifest, dst)
    assert "leads outside" in str(info.value)
    assert "'sub/b.txt'" in str(info.value) or "'sub/deeper/c.txt'" in str(info.value)
    assert list(outside.rglob("*")) == [], "nothing was written outside the destination"


def test_checkout_tree_refuses_a_file_symlink_leading_out(
    cache: Cache, tree: tuple[Manifest, dict[str, bytes]], tmp_path: Path
) -> None:
    manifest, _ = tree
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    dst = tmp_path / "out"
    dst.mkdir()
    (dst / "a.txt").symlink_to(victim)
    with pytest.raises(InvalidNameError, match="leads outside"):
        cache.checkout_tree(manifest, dst)
    assert victim.read_text() == "keep me"


def test_checkout_tree_refuses_an_escaping_path_in_a_hand_built_manifest(
    cache: Cache, tmp_path: Path
) -> None:
    """parse_manifest refuses '../x'; a Manifest built in code must still not escape."""
    oid, _ = cache.add_bytes(b"x")
    dst = tmp_path / "out"
    for bad in ("../x", "/etc/x", "a/../../x"):
        with pytest.raises(InvalidNameError):
            cache.checkout_tree(Manifest((FileEntry(bad, oid, 1),)), dst)
    assert not (tmp_path / "x").exists()


# -- reading, verifying, listing ---------------------------------------------------------------------------


def test_read_manifest_of_a_corrupt_manifest_removes_it(cache: Cache) -> None:
    manifest = Manifest.build([FileEntry("a", sha(b"a"), 1)])
    oid, _ = cache.add_bytes(manifest.dumps())
    obj = damage(cache, oid, manifest.dumps().replace(b" 1 a", b" 2 a"))
    with pytest.raises(IntegrityError) as info:
        cache.read_manifest(oid)
    assert "corrupt and was removed" in str(info.value)
    assert oid[:12] in str(info.value)
    assert info.value.hint is not None and "fetch" in info.value.hint
    assert not obj.exists()
    with pytest.raises(ObjectMissingError):
        cache.read_manifest(oid)


def test_read_manifest_of_an_object_that_is_not_a_manifest(cache: Cache) -> None:
    oid, _ = cache.add_bytes(b"just a file\n")
    with pytest.raises(IntegrityError, match="not a gitml manifest"):
        cache.read_manifest(oid)
    assert cache.has(oid), "a sound object that is not a manifest is kept"


def test_read_manifest_missing(cache: Cache) -> None:
    with pytest.raises(ObjectMissingError, match="not in the cache"):
        cache.read_manifest("cd" * 32)


def test_verify(cache: Cache) -> None:
    oid, _ = cache.add_bytes(b"good")
    assert cache.verify(oid) is True
    assert cache.verify("ef" * 32) is False
    damage(cache, oid, b"bad!")
    assert cache.verify(oid) is False


def test_discard(cache: Cache) -> None:
    oid, _ = cache.add_bytes(b"x")
    cache.discard(oid)
    assert not cache.has(oid)
    cache.discard(oid)  # absent: no error
    assert cache.size_of(oid) is None


def test_objects_lists_everything_and_ignores_strays(cache: Cache, tmp_path: Path) -> None:
    blobs = [b"", b"a", b"bb", os.urandom(100)]
    big = tmp_path / "big"
    big.write_bytes(os.urandom(LARGE))
    expected = {cache.add_bytes(b)[0]: len(b) for b in blobs}
    expected[cache.add_file(big)[0]] = LARGE
    # Things that are not objects: a temp file, a file in sha256/, a bad name, a 3-char folder.
    cache.tmp_path("x").write_bytes(b"tmp")
    (cache.root / "sha256" / "README").write_text("x")
    (cache.root / "sha256" / "ab").mkdir(exist_ok=True)
    (cache.root / "sha256" / "ab" / "not-hex").write_text("x")
    (cache.root / "sha256" / "abc").mkdir()
    listed = {o.oid: o.size for o in cache.objects()}
    assert listed == expected
    assert all(o.mtime is not None for o in cache.objects())


def test_objects_of_an_empty_cache(tmp_path: Path) -> None:
    assert list(Cache(tmp_path / "nowhere").objects()) == []
