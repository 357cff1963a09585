"""gitml.repo.transport against real repositories: bare repos by path and file://, and git daemon (git://).

Fixture repositories are built with the real git CLI and every answer is checked against it
(``git ls-remote``, ``git cat-file -p``, ``git show``).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitml.exceptions import (
    ConflictError,
    GitError,
    InvalidNameError,
    RemoteNotFoundError,
    RepoNotFoundError,
    RevisionNotFoundError,
)
from gitml.repo.transport import (
    RemoteRef,
    fetch_objects,
    ls_remote,
    push_tags,
    remote_url,
)
from tests.gitserver import GitDaemon, closed_git_url

BareFactory = Callable[..., Path]


def run_git(cwd: Path, *args: str, env: dict[str, str] | None = None, data: bytes | None = None) -> bytes:
    """The real git CLI; returns stdout bytes, fails the test on a non-zero exit."""
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


def git_text(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return run_git(cwd, *args, env=env).decode().strip()


def git_ls_remote(cwd: Path, url: str) -> dict[str, str]:
    out = git_text(cwd, "ls-remote", "--tags", url)
    return {name: sha for sha, name in (line.split("\t") for line in out.splitlines())}


BINARY = bytes(range(256)) * 4 + b"\r\n\x00end"
TAG_DATE = {"GIT_COMMITTER_DATE": "1700000000 +0230"}


@dataclass
class Origin:
    work: Path
    bare: Path

    def sha(self, rev: str) -> str:
        return git_text(self.work, "rev-parse", rev)


@pytest.fixture
def origin(tmp_path: Path, bare_repo_factory: BareFactory) -> Origin:
    """A work repo with three commits, annotated tags v1 (older commit) and v2, lightweight tag light,
    a nested and a binary file, all pushed to a bare repository."""
    work = tmp_path / "work"
    work.mkdir()
    run_git(work, "init", "-q", "-b", "main")
    (work / "models" / "churn").mkdir(parents=True)
    (work / "models" / "churn" / "model.yaml").write_text("version: 1\n")
    (work / "weights.bin").write_bytes(BINARY)
    run_git(work, "add", ".")
    run_git(work, "commit", "-q", "-m", "first")
    run_git(work, "tag", "-a", "v1", "-m", "churn v1\n\nregistered by gitml", env=TAG_DATE)
    (work / "models" / "churn" / "model.yaml").write_text("version: 2\n")
    run_git(work, "commit", "-q", "-am", "second")
    run_git(work, "tag", "-a", "v2", "-m", "churn v2")
    run_git(work, "tag", "light")
    (work / "README").write_text("hello\n")
    run_git(work, "add", "README")
    run_git(work, "commit", "-q", "-m", "third")
    bare = bare_repo_factory("origin.git")
    run_git(work, "push", "-q", str(bare), "main", "--tags")
    return Origin(work, bare)


@pytest.fixture(params=["path", "file", "git"])
def served(request: pytest.FixtureRequest, origin: Origin) -> str:
    """The origin's bare repository as a plain path, a file:// URL and a git:// URL (git daemon)."""
    if request.param == "path":
        return str(origin.bare)
    if request.param == "file":
        return origin.bare.as_uri()
    daemon: GitDaemon = request.getfixturevalue("git_daemon")
    run_git(daemon.base, "clone", "-q", "--bare", str(origin.bare), "origin.git")
    return daemon.url("origin.git")


# -- ls_remote ------------------------------------------------------------------------------------


def test_ls_remote_tags_with_peeled_values(served: str, origin: Origin) -> None:
    refs = ls_remote(served)
    assert set(refs) == {"v1", "v2", "light"}
    expected = git_ls_remote(origin.work, served)
    for name, ref in refs.items():
        assert ref.sha == expected[f"refs/tags/{name}"]
        assert ref.peeled == expected.get(f"refs/tags/{name}^{{}}")
    assert refs["v1"].peeled == origin.sha("HEAD~2") and refs["v1"].sha == origin.sha("v1")
    assert refs["v2"].commit == origin.sha("HEAD~1")
    assert refs["light"] == RemoteRef(origin.sha("HEAD~1"), None)


def test_ls_remote_other_prefix(served: str, origin: Origin) -> None:
    assert ls_remote(served, prefix="refs/heads/") == {"main": RemoteRef(origin.sha("main"), None)}
    assert ls_remote(served, prefix="refs/tags/v") == {
        "1": RemoteRef(origin.sha("v1"), origin.sha("HEAD~2")),
        "2": RemoteRef(origin.sha("v2"), origin.sha("HEAD~1")),
    }


def test_ls_remote_of_an_empty_repository(bare_repo_factory: BareFactory) -> None:
    assert ls_remote(str(bare_repo_factory("empty.git"))) == {}


# -- fetch_objects --------------------------------------------------------------------------------


def parse_cat_file_tag(raw: str) -> dict[str, str]:
    header, _, message = raw.partition("\n\n")
    fields = dict(line.split(" ", 1) for line in header.splitlines())
    fields["message"] = message
    return fields


def tz_seconds(tz: str) -> int:
    sign = -1 if tz.startswith("-") else 1
    return sign * (int(tz[1:3]) * 3600 + int(tz[3:5]) * 60)


def test_fetch_tag_info_matches_git_cat_file(served: str, origin: Origin) -> None:
    tag_sha = origin.sha("v1")
    fetched = fetch_objects(served, [tag_sha])
    info = fetched.tag_info(tag_sha)
    expected = parse_cat_file_tag(run_git(origin.bare, "cat-file", "-p", tag_sha).decode())
    name_email, stamp, tz = expected["tagger"].rsplit(" ", 2)
    assert info.name == expected["tag"] == "v1"
    assert info.sha == tag_sha
    assert info.target == expected["object"] == origin.sha("HEAD~2")
    assert info.target_type == expected["type"] == "commit"
    assert info.tagger == name_email == "Test User <test@example.com>"
    assert info.time == int(stamp) == 1700000000
    assert info.tz_offset == tz_seconds(tz) == 9000
    assert info.message == expected["message"] == "churn v1\n\nregistered by gitml\n"
    assert fetched.has(tag_sha) and fetched.has(info.target)
    assert fetched.commit_of(tag_sha) == info.target


def test_read_path_at_the_tags_commit(served: str, origin: Origin) -> None:
    v1, v2 = origin.sha("v1"), origin.sha("v2")
    fetched = fetch_objects(served, [v1, v2])
    for tag in ("v1", "v2"):
        commit = fetched.tag_info(origin.sha(tag)).target
        for path in ("models/churn/model.yaml", "weights.bin"):
            assert fetched.read_path(commit, path) == run_git(origin.bare, "show", f"{tag}:{path}")
        assert fetched.read_path(origin.sha(tag), "models/churn/model.yaml") == fetched.read_path(
            commit, "models/churn/model.yaml"
        )
    commit = fetched.commit_of(v1)
    assert fetched.read_path(commit, "weights.bin") == BINARY
    assert fetched.read_path(commit, "README") is None  # added after v1
    assert fetched.read_path(commit, "models/churn") is None  # a directory
    assert fetched.read_path(commit, "models/churn/model.yaml/x") is None
    assert fetched.read_path(commit, "models/../weights.bin") is None
    assert fetched.read_path(commit, "nope/model.yaml") is None


def test_fetch_a_commit_and_a_lightweight_tag(served: str, origin: Origin) -> None:
    head = origin.sha("main")
    fetched = fetch_objects(served, [head])
    assert fetched.read_path(head, "README") == b"hello\n"
    with pytest.raises(GitError, match="not an annotated tag"):
        fetched.tag_info(head)
    with pytest.raises(GitError, match="not fetched"):
        fetched.read_path(origin.sha("HEAD~2"), "README")


def test_fetch_an_object_the_server_does_not_have(served: str) -> None:
    missing = "1" * 40
    with pytest.raises(GitError) as info:
        fetch_objects(served, [missing])
    assert missing in str(info.value)
    assert info.value.exit_code == 7


def test_fetch_rejects_malformed_ids_before_connecting(tmp_path: Path) -> None:
    for bad in ("v1", "abc", "g" * 40, "--upload-pack=x", ""):
        with pytest.raises(InvalidNameError):
            fetch_objects(str(tmp_path / "nowhere"), [bad])
    assert len(fetch_objects(str(tmp_path / "nowhere"), [])) == 0


def fast_import_history(work: Path, commits: int, big: bytes) -> None:
    """``commits`` commits on main via git fast-import: the first adds big.bin, the fifth deletes it."""
    stream = bytearray(b"blob\nmark :1\n" + f"data {len(big)}\n".encode() + big + b"\n")
    for i in range(1, commits + 1):
        content = f"step {i}\n".encode()
        message = f"commit {i}\n".encode()
        stream += f"commit refs/heads/main\nmark :{i + 1}\n".encode()
        stream += f"committer Test User <test@example.com> {1600000000 + i} +0000\n".encode()
        stream += f"data {len(message)}\n".encode() + message
        if i > 1:
            stream += f"from :{i}\n".encode()
        if i == 1:
            stream += b"M 100644 :1 big.bin\n"
        if i == 5:
            stream += b"D big.bin\n"
        stream += b"M 100644 inline counter.txt\n" + f"data {len(content)}\n".encode() + content + b"\n"
    run_git(work, "fast-import", "--quiet", data=bytes(stream))


@pytest.mark.parametrize("transport", ["path", "git"])
def test_depth_one_fetches_only_the_tip(
    transport: str, tmp_path: Path, bare_repo_factory: BareFactory, request: pytest.FixtureRequest
) -> None:
    work = tmp_path / "deep"
    work.mkdir()
    run_git(work, "init", "-q", "-b", "main")
    big = os.urandom(1 << 20)
    fast_import_history(work, 300, big)
    run_git(work, "tag", "-a", "deep-v1", "-m", "tip")
    big_sha = git_text(work, "rev-parse", "main~299:big.bin")
    if transport == "path":
        bare = bare_repo_factory("deep.git")
        url = str(bare)
    else:
        daemon: GitDaemon = request.getfixturevalue("git_daemon")
        bare = bare_repo_factory("deep.git", under=daemon.base)
        url = daemon.url("deep.git")
    run_git(work, "push", "-q", str(bare), "main", "--tags")
    tag_sha = git_text(work, "rev-parse", "deep-v1")

    fetched = fetch_objects(url, [tag_sha])
    assert len(fetched) == 4  # the tag, its commit, the commit's tree and counter.txt
    assert not fetched.has(big_sha)
    assert not fetched.has(git_text(work, "rev-parse", "main~1"))
    commit = fetched.tag_info(tag_sha).target
    assert fetched.read_path(commit, "counter.txt") == b"step 300\n"
    assert fetched.read_path(commit, "big.bin") is None

    everything = fetch_objects(url, [tag_sha], depth=None)
    assert everything.has(big_sha) and len(everything) > 600


# -- push_tags ------------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path, origin: Origin) -> Path:
    """A clone of origin with two new annotated tags (v3, v4) and a lightweight one (light2)."""
    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", str(origin.bare), str(clone))
    run_git(clone, "tag", "-a", "v3", "-m", "churn v3", "HEAD~1")
    run_git(clone, "tag", "-a", "models/churn/v4", "-m", "churn v4")
    run_git(clone, "tag", "light2")
    return clone


def test_push_tags_to_a_bare_repo_by_name_and_path(local: Path, origin: Origin) -> None:
    before = git_ls_remote(local, str(origin.bare))
    push_tags(local, "origin", ["v3", "models/churn/v4"])
    after = git_ls_remote(local, str(origin.bare))
    assert after["refs/tags/v3"] == git_text(local, "rev-parse", "v3")
    assert after["refs/tags/v3^{}"] == git_text(local, "rev-parse", "HEAD~1")
    assert after["refs/tags/models/churn/v4"] == git_text(local, "rev-parse", "models/churn/v4")
    assert {k: v for k, v in after.items() if k in before} == before
    assert "refs/tags/light2" not in after
    # the pushed tags are complete objects on the remote
    run_git(origin.bare, "fsck", "--no-dangling")
    assert git_text(origin.bare, "cat-file", "-t", "v3") == "tag"

    push_tags(local, str(origin.bare), ["v3", "light2", "v1"])  # v3, v1 already there: a no-op for them
    again = git_ls_remote(local, str(origin.bare))
    assert again["refs/tags/light2"] == git_text(local, "rev-parse", "HEAD")
    assert {k: v for k, v in again.items() if k != "refs/tags/light2"} == after


def test_push_to_a_relative_remote_path(local: Path, origin: Origin) -> None:
    rel = os.path.relpath(origin.bare, local)
    run_git(local, "remote", "add", "rel", rel)
    # Read from the top of the work tree, as git does, whatever the current directory.
    assert remote_url(local, "rel") == str(origin.bare.resolve())
    push_tags(local, "rel", ["v3"])
    assert git_ls_remote(local, str(origin.bare))["refs/tags/v3"] == git_text(local, "rev-parse", "v3")


def test_push_tags_via_git_daemon(local: Path, git_daemon: GitDaemon, bare_repo_factory: BareFactory) -> None:
    bare = bare_repo_factory("pushed.git", under=git_daemon.base)
    url = git_daemon.url("pushed.git")
    run_git(local, "push", "-q", url, "main")
    push_tags(local, url, ["v3", "models/churn/v4", "v1"])
    seen = git_ls_remote(local, url)
    for tag in ("v3", "models/churn/v4", "v1"):
        assert seen[f"refs/tags/{tag}"] == git_text(local, "rev-parse", tag)
    run_git(bare, "fsck", "--no-dangling")
    push_tags(local, url, ["v3"])  # already there: nothing to do
    assert git_ls_remote(local, url) == seen


def test_push_tags_by_remote_name_to_git_daemon(
    local: Path, git_daemon: GitDaemon, bare_repo_factory: BareFactory
) -> None:
    bare_repo_factory("named.git", under=git_daemon.base)
    run_git(local, "remote", "add", "served", git_daemon.url("named.git"))
    push_tags(local, "served", ["v3"])
    assert "refs/tags/v3" in git_ls_remote(local, git_daemon.url("named.git"))


@pytest.mark.parametrize("transport", ["path", "git"])
def test_push_a_tag_that_exists_remotely_elsewhere(
    transport: str, local: Path, origin: Origin, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if transport == "path":
        url = str(origin.bare)
    else:
        daemon: GitDaemon = request.getfixturevalue("git_daemon")
        run_git(daemon.base, "clone", "-q", "--bare", str(origin.bare), "origin.git")
        url = daemon.url("origin.git")
    # someone else registered "v2" on another commit, and "v3" does not exist remotely yet
    run_git(local, "tag", "-d", "v2")
    run_git(local, "tag", "-a", "v2", "-m", "my v2", "HEAD~2")
    before = git_ls_remote(local, url)
    with pytest.raises(ConflictError) as info:
        push_tags(local, url, ["v3", "v2"])
    assert info.value.refs == ("refs/tags/v2",)
    assert info.value.exit_code == 11
    assert "v2" in str(info.value)
    assert git_ls_remote(local, url) == before  # nothing pushed, v3 included

    run_git(local, "tag", "-d", "light")
    run_git(local, "tag", "light", "HEAD~2")  # a lightweight tag moved locally
    with pytest.raises(ConflictError):
        push_tags(local, url, ["light"])
    assert git_ls_remote(local, url) == before


def test_push_errors(local: Path, tmp_path: Path) -> None:
    with pytest.raises(RevisionNotFoundError):
        push_tags(local, "origin", ["no-such-tag"])
    with pytest.raises(RemoteNotFoundError):
        push_tags(local, "upstream", ["v3"])
    for bad in ("", "bad..name", "with space", "-x", "a:b"):
        with pytest.raises(InvalidNameError):
            push_tags(local, "origin", [bad])
    with pytest.raises(RepoNotFoundError):
        push_tags(local, str(tmp_path / "missing.git"), ["v3"])
    with pytest.raises(RepoNotFoundError):
        push_tags(tmp_path / "not-a-repo", "origin", ["v3"])
    start = time.monotonic()
    with pytest.raises(GitError) as info:
        push_tags(local, closed_git_url(), ["v3"])
    assert time.monotonic() - start < 5
    assert info.value.exit_code == 7
    push_tags(local, "origin", [])  # nothing to push: no connection


# -- remote_url -----------------------------------------------------------------------------------


def test_remote_url(local: Path, origin: Origin, tmp_path: Path) -> None:
    assert remote_url(local) == str(origin.bare)
    assert remote_url(local, "nope") is None
    run_git(local, "remote", "add", "gh", "https://github.com/org/repo.git")
    assert remote_url(local, "gh") == "https://github.com/org/repo.git"
    with pytest.raises(RepoNotFoundError):
        remote_url(tmp_path / "not-a-repo")


# -- refusing dangerous URLs, unreachable and missing repositories --------------------------------


DANGEROUS = [
    "ext::sh -c touch% {marker}",
    "ext::sh -c touch% >{marker}",
    "ext::touch {marker}",
    "fd::3",
    "--upload-pack=touch {marker}",
    "--upload-pack=touch%20{marker}",
    "-oProxyCommand=touch {marker}",
    "-oProxyCommand=x",
    "ssh://-oProxyCommand=touch%20{marker}/repo",
    "ssh://-oProxyCommand=x/repo",
    "-oProxyCommand=x:repo",
    "host:--upload-pack=touch",
]


@pytest.mark.parametrize("template", DANGEROUS)
def test_dangerous_urls_are_refused_before_anything_runs(
    template: str, tmp_path: Path, local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    url = template.format(marker=marker)
    monkeypatch.chdir(tmp_path)
    listing = sorted(p.name for p in tmp_path.iterdir())
    calls: list[Callable[[], object]] = [
        lambda: ls_remote(url),
        lambda: fetch_objects(url, ["1" * 40]),
        lambda: push_tags(local, url, ["v3"]),
    ]
    for call in calls:
        with pytest.raises(InvalidNameError):
            call()
    run_git(local, "config", "remote.evil.url", url)
    with pytest.raises(InvalidNameError):
        push_tags(local, "evil", ["v3"])
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_unreachable_server_is_a_git_error_quickly() -> None:
    url = closed_git_url()
    for call in (lambda: ls_remote(url), lambda: fetch_objects(url, ["1" * 40])):
        start = time.monotonic()
        with pytest.raises(GitError) as info:
            call()
        assert time.monotonic() - start < 5
        assert info.value.exit_code == 7
        assert "127.0.0.1" in str(info.value)


def test_credentials_never_appear_in_errors() -> None:
    url = closed_git_url().replace("git://", "http://alice:s3cr3t-token@")
    with pytest.raises(GitError) as info:
        ls_remote(url)
    assert "s3cr3t-token" not in str(info.value)
    assert "s3cr3t-token" not in (info.value.hint or "")


def test_missing_repositories(tmp_path: Path, git_daemon: GitDaemon) -> None:
    for url in (str(tmp_path / "nope.git"), (tmp_path / "nope.git").as_uri(), git_daemon.url("nope.git")):
        with pytest.raises(RepoNotFoundError):
            ls_remote(url)
        with pytest.raises(RepoNotFoundError):
            fetch_objects(url, ["1" * 40])
    plain_dir = tmp_path / "plain"
    plain_dir.mkdir()
    with pytest.raises(RepoNotFoundError):
        ls_remote(str(plain_dir))


def test_a_local_path_with_a_colon_is_a_path(tmp_path: Path, origin: Origin) -> None:
    odd = tmp_path / "odd:name" / "origin.git"
    odd.parent.mkdir()
    run_git(tmp_path, "clone", "-q", "--bare", str(origin.bare), str(odd))
    assert ls_remote(str(odd))["v1"].peeled == origin.sha("HEAD~2")


@pytest.mark.parametrize("transport", ["path", "git"])
def test_push_that_loses_a_race_is_a_conflict(
    transport: str,
    local: Path,
    origin: Origin,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Someone pushes v3 after the server advertised its refs and before it applies ours: the
    server (git receive-pack, or dulwich's compare-and-swap for a local path) refuses the update."""
    from gitml.repo import transport as transport_module

    if transport == "path":
        bare, url = origin.bare, str(origin.bare)
    else:
        daemon: GitDaemon = request.getfixturevalue("git_daemon")
        run_git(daemon.base, "clone", "-q", "--bare", str(origin.bare), "origin.git")
        bare, url = daemon.base / "origin.git", daemon.url("origin.git")
    real_client = transport_module._client

    def racing_client(*args: object, **kwargs: object) -> object:
        client, path = real_client(*args, **kwargs)  # type: ignore[arg-type]
        real_send_pack = client.send_pack

        def send_pack(path: bytes, update_refs: Callable[..., object], **kw: object) -> object:
            def racing_update_refs(old: object) -> object:
                new = update_refs(old)
                run_git(bare, "tag", "v3", "main")  # the other writer wins
                return new

            return real_send_pack(path, racing_update_refs, **kw)

        client.send_pack = send_pack
        return client, path

    monkeypatch.setattr(transport_module, "_client", racing_client)
    with pytest.raises(ConflictError) as info:
        push_tags(local, url, ["v3"])
    assert "refs/tags/v3" in info.value.refs
    assert git_text(bare, "rev-parse", "v3") == origin.sha("main")  # theirs stays
