"""Which git URLs and revisions gitml hands to git transport (pure grammar; no I/O).

A URL reaches :mod:`gitml.repo.transport` only after :func:`check_git_url` has
accepted it: ``https://``, ``http://``, ``ssh://``, ``git://`` and ``file://``
URLs, scp-like ``user@host:path/repo.git`` and local paths. Everything that git
(or an ssh client) could read as an option or a command is refused — a leading
``-`` (``--upload-pack=...``), transport helpers (``ext::sh -c ...``,
``fd::3``, any ``<word>::<address>``), a host or remote path that starts with
``-`` (``ssh://-oProxyCommand=...``), other schemes, whitespace and control
characters. :func:`strip_credentials` removes passwords and tokens before a URL
is recorded or shown; :func:`check_rev` does the same job as ``check_git_url``
for a revision given on the command line.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from gitml.exceptions import InvalidNameError

__all__ = ["UrlKind", "check_git_url", "check_rev", "git_url_kind", "split_scp_url", "strip_credentials"]

#: How a checked URL reaches the other repository.
UrlKind = Literal["local", "file", "ssh", "scp", "git", "http", "https"]

_SCHEMES: dict[str, UrlKind] = {"https": "https", "http": "http", "ssh": "ssh", "git": "git", "file": "file"}
_URL_HINT = (
    "use an https://, http://, ssh://, git:// or file:// URL, user@host:path/repo.git, or a local path"
)
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
# git's transport-helper syntax ``<transport>::<address>``: a "::" before any "/" (or "[", an IPv6 host).
_HELPER_RE = re.compile(r"[^/\[]*::")
# scp-like ``[user@]host:path``: a ":" before any "/"; the host may be a bracketed IPv6 address.
_SCP_RE = re.compile(r"(?:(?P<user>[^@/:\[\]]+)@)?(?P<host>\[[^\]/]+\]|[^@/:\[\]]+):(?P<path>.*)", re.S)
_HOST_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\]")
_USER_RE = re.compile(r"[A-Za-z0-9_.~+%!$&'()*,;=\-]*")


def _bad(url: str, why: str, hint: str = _URL_HINT) -> InvalidNameError:
    return InvalidNameError(f"unsafe or unsupported git URL {strip_credentials(url)!r}: {why}", hint=hint)


def _has_control_or_space(text: str) -> bool:
    return any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in text)


def split_scp_url(url: str) -> tuple[str | None, str, str] | None:
    """``(user, host, path)`` of an scp-like ``[user@]host:path`` (IPv6 brackets removed); else None.

    The grammar only: check the URL with :func:`check_git_url` first.
    """
    if _SCHEME_RE.match(url):
        return None
    match = _SCP_RE.fullmatch(url)
    if match is None:
        return None
    return match.group("user"), match.group("host").strip("[]"), match.group("path")


def git_url_kind(url: str) -> UrlKind:
    """How ``url`` is reached (``local``, ``file``, ``ssh``, ``scp``, ``git``, ``http``, ``https``).

    Raises :class:`InvalidNameError` for everything :func:`check_git_url` refuses.
    """
    if not isinstance(url, str):
        raise InvalidNameError(f"a git URL must be a string, not {type(url).__name__}: {url!r}")
    if not url:
        raise InvalidNameError("empty git URL", hint=_URL_HINT)
    if url.startswith("-"):
        raise _bad(url, "it starts with '-' and would be read as an option")
    scheme_match = _SCHEME_RE.match(url)
    if scheme_match is None and _HELPER_RE.match(url):
        raise _bad(url, "transport helpers (<transport>::<address>, e.g. ext::, fd::) are not allowed")
    if _has_control_or_space(url):
        raise _bad(url, "it contains whitespace or control characters", "percent-encode spaces (%20)")
    if scheme_match is not None:
        scheme = scheme_match.group(1).lower()
        kind = _SCHEMES.get(scheme)
        if kind is None:
            raise _bad(url, f"scheme {scheme + '://'!r} is not supported")
        _check_scheme_url(url, kind)
        return kind
    scp = _SCP_RE.fullmatch(url)
    if scp is not None:
        user, host, path = scp.group("user"), scp.group("host"), scp.group("path")
        if user is not None and (not user or user.startswith("-") or not _USER_RE.fullmatch(user)):
            raise _bad(url, f"ssh user {user!r} is not allowed")
        _check_host(url, host)
        if not path:
            raise _bad(url, "it names no repository path after ':'")
        if path.startswith("-"):
            raise _bad(url, "the remote path starts with '-' and would be read as an option")
        return "scp"
    return "local"


def _check_host(url: str, host: str | None) -> None:
    if not host:
        raise _bad(url, "it names no host")
    if host.startswith("-"):
        raise _bad(url, f"host {host!r} starts with '-' and would be read as an option")
    if not _HOST_RE.fullmatch(host):
        raise _bad(url, f"host {host!r} is not a host name or IP address")


def _check_scheme_url(url: str, kind: UrlKind) -> None:
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port  # validates the port (ValueError when not a number in range)
    except ValueError as exc:
        raise _bad(url, f"it does not parse ({exc})") from exc
    netloc = parts.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    if kind == "file":
        if hostport not in ("", "localhost") or userinfo or port is not None:
            raise _bad(url, "a file:// URL names no host", "use file:///absolute/path/repo.git")
        if not parts.path or parts.path == "/":
            raise _bad(url, "it names no repository path", "use file:///absolute/path/repo.git")
        return
    host = hostport
    if host.startswith("["):
        host = host[: host.find("]") + 1] if "]" in host else host
    elif ":" in host:
        host = host.split(":", 1)[0]
    _check_host(url, host)
    if userinfo:
        user = userinfo.split(":", 1)[0]
        if unquote(user).startswith("-") or not _USER_RE.fullmatch(user):
            raise _bad(url, "the user name is not allowed")
    if kind == "ssh":
        path = parts.path[2:] if parts.path.startswith("/~") else parts.path
        if path.startswith("-"):
            raise _bad(url, "the remote path starts with '-' and would be read as an option")
        if not parts.path or parts.path == "/":
            raise _bad(url, "it names no repository path")


def check_git_url(url: str) -> str:
    """Return ``url`` if it is safe to hand to git transport; else raise :class:`InvalidNameError`.

    Accepted: ``https://``, ``http://``, ``ssh://``, ``git://`` and ``file://``
    URLs, scp-like ``[user@]host:path`` and local paths (absolute or relative,
    ``..`` included). Refused: an empty string, a leading ``-``, transport helpers
    (``ext::``, ``fd::``, any ``<word>::<address>``), other schemes, whitespace or
    control characters, and a host, user or remote path that starts with ``-``.
    """
    git_url_kind(url)
    return url


def strip_credentials(url: str) -> str:
    """``url`` without a password or token, for recording and for messages.

    ``https://user:token@host/x`` and ``https://token@host/x`` become
    ``https://host/x``; an ssh URL keeps its user (``ssh://git@host/x``, ``git@host:x``)
    and loses only a ``:password``. Anything else comes back unchanged.
    """
    if not isinstance(url, str):
        return url
    match = _SCHEME_RE.match(url)
    if match is None:
        return url
    scheme = match.group(1).lower()
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed authority: drop everything before its last "@"
        authority, slash, rest = url[match.end() :].partition("/")
        return url[: match.end()] + authority.rpartition("@")[2] + slash + rest
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if scheme in ("ssh", "git+ssh", "ssh+git"):
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{hostport}" if user else hostport
    else:
        netloc = hostport
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


_REV_FORBIDDEN = ("..", "@{", ":", "\\", "?", "*", "[", "//")


def check_rev(rev: str) -> str:
    """Return ``rev`` if it is a plain revision (branch, tag, sha, ``HEAD~2``, ``v1^``); else raise.

    Refused with :class:`InvalidNameError`: empty, a leading ``-`` (an option to
    git) or ``/``, whitespace or control characters, ranges (``..``), reflog
    syntax (``@{``), ``rev:path`` (``:``) and glob characters.
    """
    if not isinstance(rev, str):
        raise InvalidNameError(f"a revision must be a string, not {type(rev).__name__}: {rev!r}")
    hint = "use a branch, a tag, a commit sha, or one of them with ~N / ^N"
    if not rev:
        raise InvalidNameError("empty revision", hint=hint)
    if _has_control_or_space(rev):
        raise InvalidNameError(f"invalid revision {rev!r}: whitespace or control characters", hint=hint)
    if rev.startswith("-"):
        raise InvalidNameError(f"invalid revision {rev!r}: it would be read as an option", hint=hint)
    if rev.startswith("/") or rev.endswith(("/", ".")):
        raise InvalidNameError(f"invalid revision {rev!r}", hint=hint)
    for bad in _REV_FORBIDDEN:
        if bad in rev:
            raise InvalidNameError(f"invalid revision {rev!r}: {bad!r} is not allowed", hint=hint)
    return rev
