"""gitml.projects.source against real repositories: bare repos on disk (path, file://) and git daemon (git://).

Fixture repositories are made with the git CLI, and every checkout is checked against git itself: the
folder hashes (``tree_sha_of_dir``) to the commit's tree sha, so every byte, mode and symlink matches.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitml.exceptions import (
    GitError,
    InvalidNameError,
    NotFoundError,
    RepoNotFoundError,
    RevisionNotFoundError,
    UsageError,
)
from gitml.projects.source import ProjectSource, checkout_dir, fetch_project
from gitml.repo.objects import EMPTY_TREE, tree_sha_of_dir
from tests.gitserver import GitDaemon, closed_git_url

BareFactory = Callable[..., Path]
BINARY = bytes(range(256)) * 4 + b"\r\n\x00end"


def run_git(cwd: Path, *args: str, data: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=data,
        capture_output=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def git_text(cwd: Path, *args: str) -> str:
    return run_git(cwd, *args).decode().strip()


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A per-test projects cache (GITML_CACHE_DIR)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("GITML_CACHE_DIR", str(path))
    return path


@dataclass
class Origin:
    work: Path
    bare: Path

    def sha(self, rev: str) -> str:
        return git_text(self.work, "rev-parse", f"{rev}^{{commit}}")

    def push(self) -> None:
        run_git(self.work, "push", "-q", "--force", str(self.bare), "--all")
        run_git(self.work, "push", "-q", "--force", str(self.bare), "--tags")


def commit_all(work: Path, message: str) -> str:
    run_git(work, "add", "-A")
    run_git(work, "commit", "-q", "-m", message)
    return git_text(work, "rev-parse", "HEAD")


@pytest.fixture
def origin(tmp_path: Path, bare_repo_factory: BareFactory) -> Origin:
    """Three commits on main (annotated v1 on the first, lightweight `light` on the second), a branch
    `feature` with its own commit; a project folder with an executable, a binary file and a symlink."""
    work = tmp_path / "work"
    work.mkdir()
    run_git(work, "init", "-q", "-b", "main")
    proj = work / "proj"
    (proj / "pkg").mkdir(parents=True)
    (proj / "gitml.yaml").write_text("name: demo\n")
    (proj / "run.sh").write_text("#!/bin/sh\necho run\n")
    (proj / "run.sh").chmod(0o755)
    (proj / "pkg" / "weights.bin").write_bytes(BINARY)
    (proj / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")
    os.symlink("pkg/weights.bin", proj / "weights")
    commit_all(work, "first")
    run_git(work, "tag", "-a", "v1", "-m", "release 1")
    (proj / "gitml.yaml").write_text("name: demo\nversion: 2\n")
    commit_all(work, "second")
    run_git(work, "tag", "light")
    (work / "README.md").write_text("hello\n")
    commit_all(work, "third")
    run_git(work, "checkout", "-q", "-b", "feature")
    (proj / "feature.py").write_text("print('feature')\n")
    commit_all(work, "feature work")
    run_git(work, "checkout", "-q", "main")
    bare = bare_repo_factory("origin.git")
    origin = Origin(work, bare)
    origin.push()
    return origin


@pytest.fixture(params=["path", "file", "git"])
def served(request: pytest.FixtureRequest, origin: Origin) -> str:
    """The origin as a plain path, a file:// URL and a git:// URL (git daemon)."""
    if request.param == "path":
        return str(origin.bare)
    if request.param == "file":
        return origin.bare.as_uri()
    daemon: GitDaemon = request.getfixturevalue("git_daemon")
    run_git(daemon.base, "clone", "-q", "--bare", str(origin.bare), "origin.git")
    return daemon.url("origin.git")


def assert_checkout_of(src: ProjectSource, repo: Path) -> None:
    """The checkout is the commit's tree, byte for byte, mode for mode, link for link (as git hashes it)."""
    assert src.checkout == checkout_dir(src.commit)
    assert tree_sha_of_dir(src.checkout) == git_text(repo, "rev-parse", f"{src.commit}^{{tree}}")
    assert not (src.checkout / ".git").exists()


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


# -- fetching by every kind of revision -----------------------------------------------------------


def test_default_is_the_remote_head(served: str, origin: Origin) -> None:
    src = fetch_project(served)
    assert src.commit == origin.sha("main")
    assert src.reused is False and src.subdir == ""
    assert src.url == served
    assert_checkout_of(src, origin.work)
    proj = src.checkout / "proj"
    assert (proj / "pkg" / "weights.bin").read_bytes() == BINARY
    assert (proj / "crlf.txt").read_bytes() == b"one\r\ntwo\r\n"
    assert os.access(proj / "run.sh", os.X_OK) and not os.access(proj / "gitml.yaml", os.X_OK)
    assert os.readlink(proj / "weights") == "pkg/weights.bin"


NAMED_REVS = [
    ("main", "main"),
    ("feature", "feature"),
    ("heads/feature", "feature"),
    ("v1", "v1"),  # annotated: peeled to its commit
    ("refs/tags/v1", "v1"),
    ("light", "light"),
    ("HEAD", "main"),
    ("main~2", "main~2"),
    ("feature^", "feature^"),
    ("v1^0", "v1"),
]


def test_branches_tags_and_relative_revisions(served: str, origin: Origin) -> None:
    for rev, expected in NAMED_REVS:
        src = fetch_project(served, rev=rev)
        assert src.commit == origin.sha(expected), rev
        assert_checkout_of(src, origin.work)


def test_full_and_abbreviated_shas(served: str, origin: Origin) -> None:
    first = origin.sha("v1")
    assert fetch_project(served, rev=first).commit == first
    assert fetch_project(served, rev=first.upper()).commit == first
    feature = origin.sha("feature")
    for n in (7, 12, 39):
        assert fetch_project(served, rev=feature[:n]).commit == feature
    tag_object = git_text(origin.work, "rev-parse", "v1")  # the annotated tag's own sha: peeled
    assert tag_object != first
    assert fetch_project(served, rev=tag_object).commit == first
    assert fetch_project(served, rev=tag_object[:10]).commit == first


def test_subdirectory(served: str, origin: Origin) -> None:
    src = fetch_project(served + "#proj", rev="feature")
    assert src.subdir == "proj"
    assert src.project_dir == src.checkout / "proj"
    assert (src.project_dir / "feature.py").is_file()
    with pytest.raises(NotFoundError, match="'nope' does not exist"):
        fetch_project(served + "#nope", rev="feature")
    with pytest.raises(NotFoundError, match="is not a directory"):
        fetch_project(served + "#proj/gitml.yaml", rev="feature")
    with pytest.raises(NotFoundError):  # also on the fast path
        fetch_project(served + "#proj/feature.py", rev=src.commit)


def test_local_relative_path_is_recorded_absolute(origin: Origin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(origin.bare.parent)
    src = fetch_project("origin.git#proj", rev="v1")
    assert src.url == str(origin.bare)
    assert src.commit == origin.sha("v1")


def test_the_cache_follows_moved_and_deleted_refs(origin: Origin) -> None:
    url = str(origin.bare)
    before = fetch_project(url, rev="main").commit
    (origin.work / "new.txt").write_text("new\n")
    after = commit_all(origin.work, "fourth")
    origin.push()
    run_git(origin.bare, "branch", "-D", "feature")
    assert fetch_project(url, rev="main").commit == after != before
    with pytest.raises(RevisionNotFoundError, match="no branch or tag 'feature'"):
        fetch_project(url, rev="feature")
    # the old commit is still in the cache repository: a full sha needs no ref
    assert fetch_project(url, rev=before).commit == before


def test_one_cache_repository_per_url(origin: Origin, cache: Path) -> None:
    fetch_project(str(origin.bare), rev="v1")
    fetch_project(str(origin.bare) + "#proj", rev="main")
    fetch_project(origin.bare.as_uri(), rev="main")
    repos = sorted(p.name for p in (cache / "projects" / "repos").glob("*.git"))
    assert len(repos) == 2
    key = hashlib.sha256(str(origin.bare).encode()).hexdigest()[:16]
    assert f"{key}.git" in repos
    # a bare repository that git reads: the branches and tags mirror the remote's
    cached = cache / "projects" / "repos" / f"{key}.git"
    assert git_text(cached, "rev-parse", "feature") == origin.sha("feature")
    assert git_text(cached, "rev-parse", "v1^{commit}") == origin.sha("v1")
    assert git_text(cached, "symbolic-ref", "HEAD") == "refs/heads/main"


# -- errors -------------------------------------------------------------------------------------


def test_unknown_revisions_name_some_branches_and_tags(served: str) -> None:
    with pytest.raises(RevisionNotFoundError) as info:
        fetch_project(served, rev="no-such-branch")
    assert "no-such-branch" in str(info.value)
    assert "feature" in (info.value.hint or "") and "v1" in (info.value.hint or "")
    with pytest.raises(RevisionNotFoundError, match=r"no commit .* starts with 'abcdef0'"):
        fetch_project(served, rev="abcdef0")
    with pytest.raises(RevisionNotFoundError, match=f"commit {'1' * 40} is not in"):
        fetch_project(served, rev="1" * 40)
    with pytest.raises(RevisionNotFoundError, match="first commit"):
        fetch_project(served, rev="main~10")


def test_an_empty_repository_has_no_default_branch(bare_repo_factory: BareFactory) -> None:
    with pytest.raises(RevisionNotFoundError, match="no default branch"):
        fetch_project(str(bare_repo_factory("empty.git")))


def test_a_tree_or_blob_sha_is_not_a_commit(origin: Origin) -> None:
    tree = git_text(origin.work, "rev-parse", "main^{tree}")
    fetch_project(str(origin.bare))  # the tree is in the cache now
    with pytest.raises(RevisionNotFoundError, match="is a tree, not a commit"):
        fetch_project(str(origin.bare), rev=tree)


def ambiguous_commits() -> tuple[bytes, bytes]:
    """Two commit objects (raw bodies) whose shas share their first 7 hex digits (a birthday search)."""
    seen: dict[str, bytes] = {}
    for i in range(2_000_000):
        body = (
            f"tree {EMPTY_TREE}\nauthor A <a@example.com> 1700000000 +0000\n"
            f"committer A <a@example.com> 1700000000 +0000\n\nm{i}\n"
        ).encode()
        prefix = hashlib.sha1(b"commit %d\0" % len(body) + body).hexdigest()[:7]
        if prefix in seen:
            return seen[prefix], body
        seen[prefix] = body
    raise AssertionError("no collision found")


def test_an_ambiguous_abbreviation_is_refused(bare_repo_factory: BareFactory) -> None:
    bare = bare_repo_factory("ambiguous.git")
    run_git(bare, "hash-object", "-t", "tree", "-w", "--stdin", data=b"")
    first, second = ambiguous_commits()
    shas: list[str] = []
    for name, body in (("main", first), ("other", second)):
        sha = run_git(bare, "hash-object", "-t", "commit", "-w", "--stdin", data=body).decode().strip()
        run_git(bare, "update-ref", f"refs/heads/{name}", sha)
        shas.append(sha)
    assert shas[0][:7] == shas[1][:7] and shas[0] != shas[1]
    with pytest.raises(UsageError, match="ambiguous") as info:
        fetch_project(str(bare), rev=shas[0][:7])
    assert shas[0] in str(info.value) and shas[1] in str(info.value)
    # one more digit (where they differ) picks one
    n = next(i for i in range(7, 40) if shas[0][i] != shas[1][i]) + 1
    assert fetch_project(str(bare), rev=shas[1][:n]).commit == shas[1]


def test_missing_repositories(tmp_path: Path, git_daemon: GitDaemon, cache: Path) -> None:
    for url in (str(tmp_path / "nope.git"), (tmp_path / "nope.git").as_uri(), git_daemon.url("nope.git")):
        with pytest.raises(RepoNotFoundError):
            fetch_project(url)
        with pytest.raises(RepoNotFoundError):
            fetch_project(url, rev="a" * 40)
    assert listing(cache / "projects" / "checkouts") == []


def test_unreachable_server_and_credentials(cache: Path) -> None:
    url = closed_git_url()
    start = time.monotonic()
    with pytest.raises(GitError, match="cannot reach"):
        fetch_project(url, rev="main")
    assert time.monotonic() - start < 5
    secret = closed_git_url().replace("git://", "http://alice:s3cr3t-token@")
    with pytest.raises(GitError) as info:
        fetch_project(secret + "#sub", rev="v1")
    assert "s3cr3t-token" not in str(info.value) + (info.value.hint or "")
    for path in (cache / "projects" / "repos").iterdir():
        assert "s3cr3t-token" not in (path / "description").read_text() if path.is_dir() else True


# -- reuse: a second fetch of a full sha needs nothing but the checkout ------------------------------


def test_a_complete_checkout_is_reused_without_network(
    origin: Origin, git_daemon: GitDaemon, cache: Path
) -> None:
    served = git_daemon.base / "origin.git"
    run_git(git_daemon.base, "clone", "-q", "--bare", str(origin.bare), "origin.git")
    url = git_daemon.url("origin.git") + "#proj"
    sha = origin.sha("v1")
    first = fetch_project(url, rev="v1")
    assert first.commit == sha and not first.reused
    # no server repository, no cache repository: only the checkout is left
    shutil.rmtree(served)
    shutil.rmtree(cache / "projects" / "repos")
    start = time.perf_counter()
    again = fetch_project(url, rev=sha)
    assert time.perf_counter() - start < 0.5
    assert again == ProjectSource(first.url, sha, "proj", first.checkout, reused=True)
    assert_checkout_of(again, origin.work)
    # in a fresh interpreter: fast, and dulwich (so any git object) never even imported
    code = (
        "import sys, time\nt = time.perf_counter()\nfrom gitml.projects.source import fetch_project\n"
        f"src = fetch_project({url!r}, rev={sha!r})\n"
        "print(src.reused, 'dulwich' in sys.modules, time.perf_counter() - t)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    reused, dulwich_loaded, seconds = proc.stdout.split()
    assert (reused, dulwich_loaded) == ("True", "False")
    assert float(seconds) < 0.5
    # a name (branch, tag, short sha) always asks the remote, which is gone now
    with pytest.raises(RepoNotFoundError):
        fetch_project(url, rev="v1")


def test_a_full_sha_already_in_the_cache_repository_needs_no_network(origin: Origin, cache: Path) -> None:
    url = str(origin.bare)
    fetch_project(url, rev="main")  # fetches every branch, so feature's commit is in the cache
    shutil.rmtree(origin.bare)
    src = fetch_project(url, rev=origin.sha("feature"))
    assert src.commit == origin.sha("feature") and not src.reused
    assert_checkout_of(src, origin.work)


def test_a_checkout_without_its_marker_is_rewritten(origin: Origin) -> None:
    sha = origin.sha("main")
    junk = checkout_dir(sha)
    junk.mkdir(parents=True)
    (junk / "half-written").write_text("x")
    src = fetch_project(str(origin.bare), rev=sha)
    assert not src.reused and not (src.checkout / "half-written").exists()
    assert_checkout_of(src, origin.work)
    # a marker whose folder was deleted: fetched again, not trusted
    shutil.rmtree(src.checkout)
    src = fetch_project(str(origin.bare), rev=sha)
    assert not src.reused
    assert_checkout_of(src, origin.work)
    assert fetch_project(str(origin.bare), rev=sha).reused


# -- safety ---------------------------------------------------------------------------------------

UNSAFE_URLS = [
    "-oProxyCommand=touch {marker}",
    "ssh://-oProxyCommand=touch%20{marker}/repo",
    "--upload-pack=touch {marker}",
    "--upload-pack=touch%20{marker}",
    "ext::sh -c touch% {marker}",
    "ext::sh -c touch {marker}",
    "fd::3",
    "host:--upload-pack=touch",
    "",
    "#sub",
]


@pytest.mark.parametrize("template", UNSAFE_URLS)
def test_unsafe_urls_are_refused_before_anything(
    template: str, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    monkeypatch.chdir(tmp_path)
    before = listing(tmp_path)
    for rev in (None, "main", "a" * 40):
        with pytest.raises(InvalidNameError):
            fetch_project(template.format(marker=marker), rev=rev)
    assert not marker.exists() and not cache.exists()
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    "rev", ["--output=x", "-x", "--upload-pack=touch x", "main..v1", "a b", "v1:proj", ""]
)
def test_unsafe_revisions_are_refused_before_anything(
    rev: str, origin: Origin, cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidNameError):
        fetch_project(str(origin.bare), rev=rev)
    assert not cache.exists() and not (tmp_path / "x").exists()


@pytest.mark.parametrize("subdir", ["../x", "/etc", "a/../../b", "a\\b", ".", "a//b", "%2e%2e"])
def test_unsafe_subdirectories_are_refused_before_anything(subdir: str, origin: Origin, cache: Path) -> None:
    with pytest.raises(InvalidNameError):
        fetch_project(f"{origin.bare}#{subdir}")
    assert not cache.exists()


def test_submodules_are_not_recursed(tmp_path: Path, bare_repo_factory: BareFactory) -> None:
    sentinel = tmp_path / "submodule-ran"
    lib = tmp_path / "lib"
    lib.mkdir()
    run_git(lib, "init", "-q", "-b", "main")
    (lib / "secret.txt").write_text("from the submodule\n")
    commit_all(lib, "lib")
    work = tmp_path / "proj"
    work.mkdir()
    run_git(work, "init", "-q", "-b", "main")
    (work / "train.py").write_text("print(1)\n")
    run_git(work, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib")
    # a hostile .gitmodules: a command as the update strategy and an ext:: URL
    run_git(work, "config", "-f", ".gitmodules", "submodule.vendor/lib.update", f"!touch {sentinel}")
    run_git(work, "config", "-f", ".gitmodules", "submodule.vendor/lib.url", f"ext::sh -c touch% {sentinel}")
    commit_all(work, "with a submodule")
    bare = bare_repo_factory("proj.git")
    run_git(work, "push", "-q", str(bare), "main")
    src = fetch_project(str(bare))
    assert (src.checkout / "vendor" / "lib").is_dir()
    assert list((src.checkout / "vendor" / "lib").iterdir()) == []
    assert "update = !touch" in (src.checkout / ".gitmodules").read_text()
    assert not list(src.checkout.rglob("secret.txt"))
    assert not sentinel.exists()


def test_filters_and_hooks_never_run(tmp_path: Path, bare_repo_factory: BareFactory) -> None:
    sentinels = tmp_path / "sentinels"
    sentinels.mkdir()
    work = tmp_path / "proj"
    work.mkdir()
    run_git(work, "init", "-q", "-b", "main")
    (work / ".gitattributes").write_text("* filter=evil\n*.txt text eol=crlf\n")
    hooks = work / ".githooks"
    hooks.mkdir()
    for hook in ("post-checkout", "post-merge", "post-rewrite", "reference-transaction"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch '{sentinels}/{hook}'\n")
        (hooks / hook).chmod(0o755)
    (work / "data.txt").write_bytes(b"stored\nas is\n")
    commit_all(work, "hostile")
    bare = bare_repo_factory("proj.git")
    run_git(work, "push", "-q", str(bare), "main")
    smudge = tmp_path / "smudge.sh"
    smudge.write_text(f"#!/bin/sh\ntouch '{sentinels}/smudge'\nexec cat\n")
    smudge.chmod(0o755)
    evil = tmp_path / "evil.gitconfig"
    evil.write_text(
        f'[filter "evil"]\n\tsmudge = {smudge}\n\tclean = cat\n\trequired = true\n'
        "[core]\n\thooksPath = .githooks\n"
    )
    env = {"GIT_CONFIG_GLOBAL": str(evil)}
    # the control: with this configuration, git itself runs the filter and the hook
    run_git(tmp_path, "clone", "-q", str(bare), "control", env=env)
    assert sorted(p.name for p in sentinels.iterdir()) == ["post-checkout", "smudge"]
    for path in sentinels.iterdir():
        path.unlink()
    os.environ["GIT_CONFIG_GLOBAL"] = str(evil)
    try:
        src = fetch_project(str(bare))
    finally:
        del os.environ["GIT_CONFIG_GLOBAL"]
    assert list(sentinels.iterdir()) == []
    assert (src.checkout / "data.txt").read_bytes() == b"stored\nas is\n"  # no smudge, no eol conversion
    assert os.access(src.checkout / ".githooks" / "post-checkout", os.X_OK)  # just a file in the project
    assert not (src.checkout / ".git").exists()


def make_repo_with(tmp_path: Path, bare_repo_factory: BareFactory, build: Callable[[Path], None]) -> Path:
    work = tmp_path / "hostile"
    work.mkdir()
    run_git(work, "init", "-q", "-b", "main")
    (work / "ok.txt").write_text("ok\n")
    build(work)
    commit_all(work, "hostile")
    bare = bare_repo_factory("hostile.git")
    run_git(work, "push", "-q", str(bare), "main")
    return bare


def assert_nothing_checked_out(cache: Path) -> None:
    checkouts = cache / "projects" / "checkouts"
    assert [p for p in listing(checkouts) if not p.startswith(".locks")] in ([], [".tmp"])


def links(*pairs: tuple[str, str]) -> Callable[[Path], None]:
    """A builder making symlinks ``(path, target)`` in a work tree."""

    def build(work: Path) -> None:
        for path, target in pairs:
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, work / path)

    return build


ESCAPING_LINKS: dict[str, Callable[[Path], None]] = {
    "parent": links(("escape", "../../../outside")),
    "nested parent": links(("a/escape", "../../x")),
    "absolute": links(("passwd", "/etc/passwd")),
    "to the cache": links(("up", "..")),
    # each link stays inside by itself; followed on disk, the chain leads out
    "through another link": links(("d", "."), ("e", "d/d/d/..")),
}


@pytest.mark.parametrize("case", sorted(ESCAPING_LINKS))
def test_symlinks_leading_outside_are_refused(
    case: str, tmp_path: Path, bare_repo_factory: BareFactory, cache: Path
) -> None:
    bare = make_repo_with(tmp_path, bare_repo_factory, ESCAPING_LINKS[case])
    with pytest.raises(InvalidNameError, match="symlink"):
        fetch_project(str(bare))
    assert_nothing_checked_out(cache)


def test_symlinks_inside_are_kept(tmp_path: Path, bare_repo_factory: BareFactory) -> None:
    def build(w: Path) -> None:
        (w / "data").mkdir()
        (w / "data" / "x.csv").write_text("a,b\n")
        os.symlink("data/x.csv", w / "x.csv")
        os.symlink("../ok.txt", w / "data" / "ok")
        os.symlink("data", w / "alias")
        os.symlink("missing", w / "dangling")
        os.symlink(".", w / "self")

    bare = make_repo_with(tmp_path, bare_repo_factory, build)
    src = fetch_project(str(bare) + "#alias")  # a subdirectory may be a link inside the checkout
    assert (src.checkout / "data" / "ok").read_text() == "ok\n"
    assert os.readlink(src.checkout / "dangling") == "missing"
    assert tree_sha_of_dir(src.checkout) == git_text(bare, "rev-parse", "main^{tree}")


def hand_built(bare: Path, entries: list[tuple[str, bytes, str]]) -> str:
    """A commit on main whose tree holds ``(mode, raw name, blob text)`` entries as given: git's own
    checks are bypassed (``hash-object --literally``), as a hostile server could."""
    raw = b""
    for mode, name, text in entries:
        blob = run_git(bare, "hash-object", "-w", "--stdin", data=text.encode()).decode().strip()
        raw += mode.encode() + b" " + name + b"\0" + bytes.fromhex(blob)
    tree = (
        run_git(bare, "hash-object", "-t", "tree", "-w", "--literally", "--stdin", data=raw).decode().strip()
    )
    commit = git_text(bare, "commit-tree", tree, "-m", "hand-built")
    run_git(bare, "update-ref", "refs/heads/main", commit)
    return commit


@pytest.mark.parametrize(
    "name", [b"..", b".", b".git", b".GIT", b".g\xe2\x80\x8cit", b"git~1", b"a\\b", b"c:x", b"x/y", b"\xff"]
)
def test_hostile_tree_entries_are_refused(
    name: bytes, bare_repo_factory: BareFactory, cache: Path, tmp_path: Path
) -> None:
    bare = bare_repo_factory("hostile.git")
    hand_built(bare, [("100644", b"a", "fine\n"), ("100644", name, "pwned\n")])
    with pytest.raises(InvalidNameError, match="refusing the project"):
        fetch_project(str(bare))
    assert_nothing_checked_out(cache)
    assert not (tmp_path / "a").exists()


def test_duplicate_tree_entries_are_refused(bare_repo_factory: BareFactory, cache: Path) -> None:
    bare = bare_repo_factory("dup.git")
    hand_built(bare, [("100644", b"a", "one\n"), ("100755", b"a", "two\n")])
    with pytest.raises(InvalidNameError, match="twice"):
        fetch_project(str(bare))
    assert_nothing_checked_out(cache)


# -- concurrency ----------------------------------------------------------------------------------


def test_concurrent_fetches_end_with_one_checkout(origin: Origin, cache: Path) -> None:
    url, sha = str(origin.bare), origin.sha("feature")
    code = (
        "import sys\nfrom gitml.projects.source import fetch_project\n"
        "print(fetch_project(sys.argv[1], rev=sys.argv[2]).checkout)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url, rev], stdout=subprocess.PIPE, text=True)
        for rev in (sha, "feature", sha[:9], sha)
    ]
    barrier = threading.Barrier(4)

    def in_thread(rev: str) -> ProjectSource:
        barrier.wait()
        return fetch_project(url, rev=rev)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(in_thread, [sha, "feature", sha, sha[:7]]))
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert {r.checkout for r in results} == {checkout_dir(sha)} and set(outs) == {str(checkout_dir(sha))}
    assert_checkout_of(results[0], origin.work)
    checkouts = cache / "projects" / "checkouts"
    assert sorted(p.name for p in checkouts.iterdir() if not p.name.startswith(".")) == [
        sha,
        f"{sha}.complete",
    ]
    assert list((checkouts / ".tmp").iterdir()) == []


def test_the_slower_writer_discards_its_copy(
    origin: Origin, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministically: while one writer is still writing, another finishes; the first keeps theirs."""
    from gitml.repo import clone

    url, sha = str(origin.bare), origin.sha("main")
    real = clone.write_tree
    winner: list[ProjectSource] = []

    def slow_write(repo_path: Path, commit: str, dest: Path) -> None:
        real(repo_path, commit, dest)
        if not winner:
            monkeypatch.setattr(clone, "write_tree", real)
            winner.append(fetch_project(url, rev=sha))  # the other writer renames first

    monkeypatch.setattr(clone, "write_tree", slow_write)
    marker = cache / "projects" / "checkouts" / f"{sha}.complete"
    src = fetch_project(url, rev="main")
    assert winner and winner[0].checkout == src.checkout and not src.reused
    assert marker.stat().st_size > 0
    assert list((cache / "projects" / "checkouts" / ".tmp").iterdir()) == []
    assert_checkout_of(src, origin.work)


def test_a_refused_or_failed_write_leaves_no_temp_folder(
    origin: Origin, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitml.repo import clone

    def failing(repo_path: Path, commit: str, dest: Path) -> None:
        dest.mkdir()
        (dest / "partial").write_text("x")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(clone, "write_tree", failing)
    with pytest.raises(GitError, match="No space"):
        fetch_project(str(origin.bare))
    assert_nothing_checked_out(cache)


def test_a_work_tree_repository_by_path(origin: Origin) -> None:
    """`gitml run --rev X` in a repository fetches from its own work tree's repository."""
    (origin.work / "uncommitted.txt").write_text("not in any commit\n")
    src = fetch_project(str(origin.work) + "#proj", rev="feature")
    assert src.commit == origin.sha("feature")
    assert not (src.checkout / "uncommitted.txt").exists()
    assert_checkout_of(src, origin.work)
