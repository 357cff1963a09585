"""The git URL and revision grammar: what may reach git transport, and what is refused before it."""

from __future__ import annotations

import pytest

from gitml.exceptions import InvalidNameError
from gitml.giturl import check_git_url, check_rev, git_url_kind, split_scp_url, strip_credentials

ACCEPTED = [
    ("https://github.com/org/repo.git", "https"),
    ("https://user:token@example.com/org/repo.git", "https"),
    ("https://x-access-token:ghp_abc@github.com:443/org/repo", "https"),
    ("http://127.0.0.1:8080/repo.git", "http"),
    ("HTTPS://Example.com/repo", "https"),
    ("ssh://git@example.com/org/repo.git", "ssh"),
    ("ssh://example.com:2222/~user/repo.git", "ssh"),
    ("ssh://git@[::1]:22/repo.git", "ssh"),
    ("git://127.0.0.1:9418/repo.git", "git"),
    ("git://example.com/~alice/repo", "git"),
    ("file:///srv/git/repo.git", "file"),
    ("file://localhost/srv/git/repo.git", "file"),
    ("file:///srv/git/../other.git", "file"),
    ("git@github.com:org/repo.git", "scp"),
    ("example.com:repo.git", "scp"),
    ("alice@[::1]:srv/repo.git", "scp"),
    ("/srv/git/repo.git", "local"),
    ("../origin.git", "local"),
    ("./repo", "local"),
    ("repo.git", "local"),
    ("origin", "local"),
    ("/tmp/a:b/repo.git", "local"),  # a '/' before the ':' makes it a path, as in git
    ("../a:b", "local"),
    ("relative/dir-with-dash/-x", "local"),
]


@pytest.mark.parametrize(("url", "kind"), ACCEPTED)
def test_accepts(url: str, kind: str) -> None:
    assert check_git_url(url) == url
    assert git_url_kind(url) == kind


REJECTED = [
    ("", "empty"),
    ("-", "option"),
    ("--upload-pack=touch x", "option"),
    ("--upload-pack=touch%20x", "option"),
    ("-oProxyCommand=x", "option"),
    ("ext::sh -c touch% /tmp/x", "helper"),
    ("ext::sh", "helper"),
    ("fd::3", "helper"),
    ("fd::0,1", "helper"),
    ("foo::bar", "helper"),
    ("::bar", "helper"),
    ("testgit::/tmp/x", "helper"),
    ("ssh://-oProxyCommand=x/repo", "host"),
    ("ssh://-oProxyCommand=touch%20x/repo", "host"),
    ("ssh://%2doProxyCommand=x/repo", "host"),
    ("ssh://-oProxyCommand=x@host/repo", "user"),
    ("ssh://%2doProxyCommand=x@host/repo", "user"),
    ("ssh://host/~-x", "path"),
    ("ssh://host", "path"),
    ("ssh://", "host"),
    ("-oProxyCommand=x:repo", "option"),
    ("host:-x", "path"),
    ("host:--upload-pack=touch", "path"),
    ("-user@host:repo", "option"),
    ("git@-host:repo", "host"),
    ("host:", "path"),
    ("git://-host/repo", "host"),
    ("git://host:notaport/repo", "parse"),
    ("https://", "host"),
    ("file://remotehost/srv/repo", "file"),
    ("file://", "file"),
    ("ftp://example.com/repo.git", "scheme"),
    ("rsync://example.com/repo.git", "scheme"),
    ("javascript://x/y", "scheme"),
    ("/srv/repo with space", "whitespace"),
    ("https://example.com/repo.git\n--upload-pack=x", "whitespace"),
    ("/srv/repo\x00x", "control"),
    ("/srv/repo\x1b[31m", "control"),
    ("/srv/repo\ttab", "whitespace"),
    ("/srv/repo\x7f", "control"),
]


@pytest.mark.parametrize(("url", "why"), REJECTED)
def test_rejects(url: str, why: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        check_git_url(url)
    assert info.value.exit_code == 2
    assert info.value.hint


def test_rejects_non_strings() -> None:
    with pytest.raises(InvalidNameError):
        check_git_url(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidNameError):
        check_git_url(b"/srv/repo")  # type: ignore[arg-type]


def test_rejection_names_the_problem_without_credentials() -> None:
    with pytest.raises(InvalidNameError) as info:
        check_git_url("ftp://user:s3cret@example.com/repo.git")
    assert "s3cret" not in str(info.value)
    assert "ftp" in str(info.value)
    with pytest.raises(InvalidNameError) as info:
        check_git_url("ext::sh -c x")
    assert "ext::" in str(info.value) or "helper" in str(info.value)
    with pytest.raises(InvalidNameError) as info:
        check_git_url("--upload-pack=touch x")
    assert "option" in str(info.value)


# -- strip_credentials -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://user:token@example.com/org/repo.git", "https://example.com/org/repo.git"),
        ("https://ghp_abcdef@github.com/org/repo", "https://github.com/org/repo"),
        ("http://u:p%40ss@127.0.0.1:8080/r.git", "http://127.0.0.1:8080/r.git"),
        ("https://example.com/repo.git", "https://example.com/repo.git"),
        ("ssh://git@example.com/repo.git", "ssh://git@example.com/repo.git"),
        ("ssh://git:secret@example.com:22/repo.git", "ssh://git@example.com:22/repo.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("git://example.com/repo", "git://example.com/repo"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
        ("../origin.git", "../origin.git"),
        ("https://user:pw@[::1/broken", "https://[::1/broken"),
    ],
)
def test_strip_credentials(url: str, safe: str) -> None:
    assert strip_credentials(url) == safe


# -- check_rev -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rev",
    [
        "main",
        "HEAD",
        "HEAD~2",
        "HEAD^",
        "HEAD^2",
        "v1.0.0",
        "release/2024-01",
        "models/churn/v3",
        "feature/ünïcode",
        "a" * 40,
        "0123abcd",
        "v1^{}",
        "@",
    ],
)
def test_check_rev_accepts(rev: str) -> None:
    assert check_rev(rev) == rev


@pytest.mark.parametrize(
    "rev",
    [
        "",
        "-x",
        "--output=/tmp/x",
        "--all",
        "main..dev",
        "main...dev",
        "HEAD@{1}",
        "@{-1}",
        "HEAD:path/file",
        ":path",
        "has space",
        "tab\there",
        "new\nline",
        "nul\x00",
        "esc\x1b",
        "back\\slash",
        "glob*",
        "what?",
        "br[acket",
        "/abs",
        "trailing/",
        "trailing.",
        "double//slash",
    ],
)
def test_check_rev_rejects(rev: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        check_rev(rev)
    assert info.value.hint


def test_check_rev_rejects_non_strings() -> None:
    with pytest.raises(InvalidNameError):
        check_rev(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("git@github.com:org/repo.git", ("git", "github.com", "org/repo.git")),
        ("example.com:repo[1].git", (None, "example.com", "repo[1].git")),
        ("alice@[::1]:srv/repo.git", ("alice", "::1", "srv/repo.git")),
        ("/tmp/a:b", None),
        ("ssh://git@host/x", None),
        ("../origin.git", None),
    ],
)
def test_split_scp_url(url: str, parts: tuple[str | None, str, str] | None) -> None:
    assert split_scp_url(url) == parts
