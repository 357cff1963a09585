"""The pure parts of project sources: URI#subdir splitting, cache paths, recorded URLs, tree-entry checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitml.exceptions import InvalidNameError, RepoNotFoundError
from gitml.projects.source import ProjectSource, checkout_dir, fetch_project, split_project_uri

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GITML_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# -- split_project_uri ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://host/org/repo.git", ("https://host/org/repo.git", "")),
        ("https://host/org/repo.git#train", ("https://host/org/repo.git", "train")),
        ("https://host/org/repo.git#a/b/c/", ("https://host/org/repo.git", "a/b/c")),
        ("git@github.com:org/repo.git#examples/sk", ("git@github.com:org/repo.git", "examples/sk")),
        ("/srv/repo.git#p", ("/srv/repo.git", "p")),
        ("../repo#p-1.2", ("../repo", "p-1.2")),
        ("file:///srv/repo.git", ("file:///srv/repo.git", "")),
        ("https://u:t@host/x.git#d", ("https://u:t@host/x.git", "d")),  # stripping is fetch_project's job
    ],
)
def test_split(uri: str, expected: tuple[str, str]) -> None:
    assert split_project_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "#sub",
        "https://host/x.git#",
        "https://host/x.git#/",
        "https://host/x.git#a#b",
        "https://host/x.git#../up",
        "https://host/x.git#a/../../b",
        "https://host/x.git#/etc",
        "https://host/x.git#.",
        "https://host/x.git#a//b",
        "https://host/x.git#a\\b",
        "https://host/x.git#C:x",
        "https://host/x.git#%2e%2e",
        "https://host/x.git#a\x00b",
        "https://host/x.git#dir.",
    ],
)
def test_split_refuses(uri: str) -> None:
    with pytest.raises(InvalidNameError):
        split_project_uri(uri)


def test_split_error_hides_credentials() -> None:
    with pytest.raises(InvalidNameError) as info:
        split_project_uri("https://alice:s3cr3t@host/x.git#a#b")
    assert "s3cr3t" not in str(info.value)


# -- checkout_dir ---------------------------------------------------------------------------------


def test_checkout_dir(cache: Path) -> None:
    assert checkout_dir(SHA) == cache / "projects" / "checkouts" / SHA
    assert checkout_dir(SHA.upper()) == checkout_dir(SHA)
    assert not checkout_dir(SHA).exists()


@pytest.mark.parametrize("bad", ["", "0123456", SHA[:-1], SHA + "0", "../" + SHA[3:], "g" * 40, "-" * 40])
def test_checkout_dir_needs_a_full_sha(bad: str) -> None:
    with pytest.raises(InvalidNameError):
        checkout_dir(bad)


# -- the fast path and the recorded URL (no network: the checkout is already complete) ---------------


def fake_checkout(sha: str = SHA, *, subdir: str = "") -> Path:
    """A complete checkout, as fetch_project leaves it (folder, then marker)."""
    root = checkout_dir(sha)
    (root / subdir).mkdir(parents=True)
    (root.parent / f"{sha}.complete").write_text(f"gitml checkout 1\n{sha}\n")
    return root


@pytest.mark.parametrize(
    ("url", "recorded"),
    [
        ("https://user:token@example.com/org/x.git", "https://example.com/org/x.git"),
        ("https://ghp_abc@example.com/org/x.git", "https://example.com/org/x.git"),
        ("http://u:p@127.0.0.1:8080/x.git", "http://127.0.0.1:8080/x.git"),
        ("ssh://git:pw@example.com/x.git", "ssh://git@example.com/x.git"),
        ("git@example.com:org/x.git", "git@example.com:org/x.git"),
        ("git://127.0.0.1/x.git", "git://127.0.0.1/x.git"),
        ("file:///srv/x.git", "file:///srv/x.git"),
    ],
)
def test_recorded_url_has_no_credentials(url: str, recorded: str) -> None:
    root = fake_checkout(subdir="proj")
    src = fetch_project(url + "#proj", rev=SHA)
    assert src == ProjectSource(recorded, SHA, "proj", root, reused=True)
    assert src.project_dir == root / "proj"


def test_local_paths_are_recorded_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_checkout()
    monkeypatch.chdir(tmp_path)
    assert fetch_project("../elsewhere/repo.git", rev=SHA).url == str(
        tmp_path.parent / "elsewhere" / "repo.git"
    )
    assert fetch_project("repo", rev=SHA.upper()).url == str(tmp_path / "repo")


def test_a_marker_for_another_sha_is_not_trusted(cache: Path) -> None:
    root = fake_checkout()
    (root.parent / f"{SHA}.complete").write_text("gitml checkout 1\n" + "f" * 40 + "\n")
    with pytest.raises(RepoNotFoundError) as info:  # not reused: it goes to the (missing) repository
        fetch_project(str(cache / "no-such-repo.git"), rev=SHA)
    assert "no git repository" in str(info.value)


def test_refused_before_the_cache_is_touched(cache: Path) -> None:
    fake = "https://host/x.git"
    for uri, rev in (
        (fake, "--output=x"),
        ("--upload-pack=x", SHA),
        ("ext::sh -c x", None),
        (fake + "#..", SHA),
    ):
        with pytest.raises(InvalidNameError):
            fetch_project(uri, rev=rev)
    assert not cache.exists()


# -- tree entries and symlink targets (the checks write_tree applies) ----------------------------------


@pytest.mark.parametrize(
    "name",
    [
        b"..",
        b".",
        b"",
        b".git",
        b".Git",
        b"GIT~1",
        b".g\xe2\x80\x8ci\xe2\x80\x8dt",
        b"\xef\xbb\xbf.git",
        b"a/b",
        b"a\\b",
        b"c:",
        b"x%2e",
        b"ends.",
        b"ends ",
        b"\xff\xfe",
        b"tab\there",
        b"nl\n",
    ],
)
def test_entry_names_refused(name: bytes) -> None:
    from gitml.repo.clone import _entry_path

    with pytest.raises(InvalidNameError, match="refusing the project"):
        _entry_path("dir", name, "dir")


@pytest.mark.parametrize(
    "name", [b"train.py", b".github", b".gitmodules", b".gitattributes", b"git", b"\xc3\xa9t\xc3\xa9"]
)
def test_entry_names_accepted(name: bytes) -> None:
    from gitml.repo.clone import _entry_path

    assert _entry_path("dir", name, "dir") == "dir/" + name.decode()


@pytest.mark.parametrize(
    ("path", "target", "ok"),
    [
        ("a", b"b", True),
        ("a", b".", True),
        ("d/a", b"..", True),
        ("d/a", b"../x/y", True),
        ("d/a", b"../..", False),
        ("a", b"..", False),
        ("a", b"/etc/passwd", False),
        ("a", b"C:/x", False),
        ("a", b"", False),
        ("d/e/a", b"../../../x", False),
        ("a", b"x/../../y", False),
    ],
)
def test_link_targets(path: str, target: bytes, ok: bool, tmp_path: Path) -> None:
    from gitml.repo.clone import _check_link

    root = Path(os.path.realpath(tmp_path))
    if ok:
        _check_link(root, path, target)
    else:
        with pytest.raises(InvalidNameError, match="symlink"):
            _check_link(root, path, target)


def test_remote_listing_is_short() -> None:
    from gitml.repo.clone import RemoteRefs

    refs = RemoteRefs({f"b{i}": "0" * 40 for i in range(8)}, {"v1": "1" * 40})
    assert refs.listing() == "branches: b0, b1, b2, b3, b4, … (3 more); tags: v1"
    assert RemoteRefs().listing() == "branches: none; tags: none"
