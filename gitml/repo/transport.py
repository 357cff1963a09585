"""Talking to another git repository with dulwich: list its tags, fetch a few objects, push tags.

Every URL goes through :func:`gitml.giturl.check_git_url` before dulwich sees it,
and gitml picks the dulwich client itself from the kind of URL (a local path is
always a local path, even with a ``:`` in it). No ``git`` subprocess runs; ssh
URLs start the ``ssh`` client, as git does. Errors from dulwich and the OS are
translated here: an unreachable or refusing server is a :class:`GitError`, a
repository that is not there a :class:`RepoNotFoundError`, a tag that already
exists remotely at another object a :class:`ConflictError`. Messages never carry
credentials (:func:`gitml.giturl.strip_credentials`).

- :func:`ls_remote` — the refs under a prefix (tags by default), with the peeled
  commit of each annotated tag, from one ref advertisement.
- :func:`fetch_objects` — given object ids (tags, commits) and what they need,
  shallow (depth 1 by default), into memory: no local repository is touched.
- :func:`push_tags` — push tags from a local repository, never forcing.
"""

from __future__ import annotations

import inspect
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from dulwich.client import (
    HTTPProxyUnauthorized,
    HTTPUnauthorized,
    LocalGitClient,
    SSHGitClient,
    StrangeHostname,
    get_transport_and_path_from_url,
)
from dulwich.errors import (
    ApplyDeltaError,
    ChecksumMismatch,
    FileFormatException,
    GitProtocolError,
    HangupException,
    NotGitRepository,
    ObjectMissing,
)
from dulwich.objects import Blob, Commit, Tag, Tree
from dulwich.refs import check_ref_format
from dulwich.repo import MemoryRepo, Repo

from gitml._types import StrPath
from gitml.exceptions import (
    ConflictError,
    GitError,
    GitMLError,
    InvalidNameError,
    RemoteNotFoundError,
    RepoNotFoundError,
    RevisionNotFoundError,
)
from gitml.giturl import check_git_url, git_url_kind, split_scp_url, strip_credentials
from gitml.repo.tags import TagInfo

__all__ = [
    "FetchedObjects",
    "RemoteRef",
    "TagInfo",
    "fetch_objects",
    "ls_remote",
    "push_tags",
    "remote_url",
]

_PEELED_SUFFIX = b"^{}"
_ZERO_SHA = b"0" * 40
_SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_REMOTE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*")
# What a server says when the repository is not there (git daemon, ssh + git, http).
_NOT_FOUND_PATTERNS = (
    "not exported",
    "does not appear to be a git repository",
    "repository not found",
    "no such repository",
    "not a git repository",
    "no git repository",
)
# What a server (or dulwich's local client) says when a ref moved under the push.
_CONFLICT_PATTERNS = (
    "already exists",
    "fast-forward",
    "fetch first",
    "stale info",
    "lock",
    "unable to set",
    "atomic push failed",
    "atomic transaction failed",
    "failed to update ref",
)
# Everything dulwich (and the sockets, files and ssh client under it) raises for a failed exchange.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    GitProtocolError,
    NotGitRepository,
    OSError,
    HTTPUnauthorized,
    HTTPProxyUnauthorized,
    StrangeHostname,
    NotImplementedError,
    ObjectMissing,
    ChecksumMismatch,
    ApplyDeltaError,
    FileFormatException,
    KeyError,
    ValueError,
    AssertionError,
)


@dataclass(frozen=True)
class RemoteRef:
    """A ref as another repository advertises it.

    ``sha`` is what the ref points at (an annotated tag's own object for tags);
    ``peeled`` is the commit an annotated tag points at (the ``^{}`` entry of the
    advertisement), None for a lightweight tag, a branch or when not advertised.
    """

    sha: str
    peeled: str | None = None

    @property
    def commit(self) -> str:
        """The commit: ``peeled`` for an annotated tag, else ``sha``."""
        return self.peeled or self.sha


# -- picking the client --------------------------------------------------------------------------


def _safe(url: str) -> str:
    return strip_credentials(url)


def _scrub(text: str, url: str) -> str:
    """``text`` with the credentials of ``url`` removed wherever dulwich echoed them."""
    safe = _safe(url)
    if safe == url:
        return text
    text = text.replace(url, safe)
    try:
        parts = urlsplit(url)
        secrets = [s for s in (parts.password, parts.username) if s]
    except ValueError:
        secrets = []
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***").replace(unquote(secret), "***")
    return text


def _client(url: str, *, base: Path | None = None) -> tuple[Any, bytes]:
    """The dulwich client and the path to hand it for a URL ``check_git_url`` accepted.

    (Any: dulwich's NewType'd ids, Ref and ObjectID, would need a cast at every call.)
    """
    kind = git_url_kind(url)
    if kind == "local":
        path = Path(url)
        if base is not None and not path.is_absolute():
            path = base / path
        return LocalGitClient(), str(path).encode("utf-8", "surrogateescape")
    if kind == "file":
        return LocalGitClient(), unquote(urlsplit(url).path).encode("utf-8", "surrogateescape")
    scp = split_scp_url(url) if kind == "scp" else None
    if scp is not None:
        user, host, path_text = scp
        ssh: Any = SSHGitClient(host, username=user or None)
        return ssh, path_text.encode("utf-8")
    client, path_text = get_transport_and_path_from_url(url)
    return client, path_text.encode("utf-8")


def _translate(exc: BaseException, url: str, action: str) -> GitMLError:
    """The gitml error for a dulwich/OS failure while ``action`` (e.g. "listing refs of") ``url``."""
    safe = _safe(url)
    if isinstance(exc, NotGitRepository):
        return RepoNotFoundError(
            f"no git repository at {safe}", hint="check the URL or path (and that the repository exists)"
        )
    local = git_url_kind(url) in ("local", "file")
    if isinstance(exc, FileNotFoundError) and local:
        return RepoNotFoundError(f"no git repository at {safe}: {exc.strerror}", hint="check the path")
    text = _scrub(str(exc) or type(exc).__name__, url)
    if isinstance(exc, GitProtocolError) and any(p in text.lower() for p in _NOT_FOUND_PATTERNS):
        return RepoNotFoundError(f"no git repository at {safe}: {text}", hint="check the URL")
    if isinstance(exc, HTTPUnauthorized | HTTPProxyUnauthorized):
        return GitError(
            f"{action} {safe} failed: authentication required or refused",
            hint="check your credentials (a credential helper, or a token in the URL)",
        )
    if isinstance(exc, OSError) and not local:
        reason = _scrub(exc.strerror or str(exc) or type(exc).__name__, url)
        return GitError(f"cannot reach {safe}: {reason}", hint="check the URL and that the server is up")
    if isinstance(exc, HangupException):
        return GitError(f"{action} {safe} failed: {text}", hint="the server closed the connection")
    return GitError(f"{action} {safe} failed: {text}")


# -- ls-remote -----------------------------------------------------------------------------------


def _refs_of(result: Any) -> dict[bytes, bytes | None]:
    """The refs of a get_refs() answer: an LsRemoteResult (newer dulwich) or a plain dict (older)."""
    refs = result.refs if hasattr(result, "refs") and not isinstance(result, dict) else result
    return dict(refs)


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def ls_remote(url: str, *, prefix: str = "refs/tags/") -> dict[str, RemoteRef]:
    """The refs of ``url`` under ``prefix`` (names without the prefix), from one ref advertisement.

    Annotated tags carry the commit they point at in ``peeled``.
    """
    check_git_url(url)
    client, path = _client(url)
    prefix_b = prefix.encode("utf-8")
    try:
        if prefix_b and _accepts(client.get_refs, "ref_prefix"):
            result = client.get_refs(path, ref_prefix=[prefix_b])
        else:
            result = client.get_refs(path)
        refs = _refs_of(result)
        if isinstance(client, LocalGitClient):
            _peel_local(path, refs, prefix_b)
    except _TRANSPORT_ERRORS as exc:
        raise _translate(exc, url, "listing the refs of") from exc
    finally:
        client.close()
    plain: dict[bytes, bytes] = {}
    peeled: dict[bytes, bytes] = {}
    for name, sha in refs.items():
        if sha is None or not name.startswith(prefix_b):
            continue  # an unborn HEAD, or outside the prefix
        if name.endswith(_PEELED_SUFFIX):
            peeled[name[: -len(_PEELED_SUFFIX)]] = sha
        else:
            plain[name] = sha
    return {
        name[len(prefix_b) :].decode("utf-8", "replace"): RemoteRef(
            sha.decode("ascii"),
            peeled[name].decode("ascii") if name in peeled else None,
        )
        for name, sha in sorted(plain.items())
    }


def _peel_local(path: bytes, refs: dict[bytes, bytes | None], prefix: bytes) -> None:
    """Add the ``^{}`` entries a local repository's refs lack (dulwich's LocalGitClient has none)."""
    with _open_repo(path) as repo:
        for name, sha in list(refs.items()):
            if sha is None or name.endswith(_PEELED_SUFFIX) or not name.startswith(prefix):
                continue
            if name + _PEELED_SUFFIX in refs:
                continue
            try:
                obj = repo.object_store[sha]
                if not isinstance(obj, Tag):
                    continue
                while isinstance(obj, Tag):
                    obj = repo.object_store[obj.object[1]]
            except KeyError:
                continue  # a ref to a missing object: leave it unpeeled, as git would not advertise it
            refs[name + _PEELED_SUFFIX] = obj.id


def _open_repo(path: bytes | StrPath) -> Any:
    """A dulwich Repo (a context manager that closes it)."""
    return Repo(path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else str(path))


# -- fetching a few objects ----------------------------------------------------------------------


class FetchedObjects:
    """Objects fetched from another repository into memory (a dulwich ``MemoryRepo``)."""

    def __init__(self, repo: Any, wants: Sequence[str], url: str) -> None:
        self.repo: Any = repo
        self.wants: tuple[str, ...] = tuple(wants)
        self.url = _safe(url)

    def __len__(self) -> int:
        """How many objects were fetched."""
        return sum(1 for _ in self.repo.object_store)

    def __iter__(self) -> Iterator[str]:
        """The ids of every object fetched."""
        for sha in self.repo.object_store:
            yield sha.decode("ascii")

    def has(self, sha: str) -> bool:
        return isinstance(sha, str) and sha.encode("ascii", "replace") in self.repo.object_store

    def _get(self, sha: str) -> Any:
        try:
            return self.repo.object_store[sha.encode("ascii")]
        except (KeyError, UnicodeEncodeError) as exc:
            raise GitError(f"object {sha} was not fetched from {self.url}") from exc

    def tag_info(self, sha: str) -> TagInfo:
        """The annotated tag object ``sha``; GitError if it was not fetched or is not a tag."""
        tag = self._get(sha)
        if not isinstance(tag, Tag):
            kind = tag.type_name.decode("ascii")
            raise GitError(f"object {sha} from {self.url} is a {kind}, not an annotated tag")
        target_cls, target = tag.object
        tagger: bytes | None = tag.tagger
        message: bytes | None = tag.message
        return TagInfo(
            name=tag.name.decode("utf-8", "replace"),
            sha=tag.id.decode("ascii"),
            target=target.decode("ascii"),
            target_type=target_cls.type_name.decode("ascii"),
            tagger=tagger.decode("utf-8", "replace") if tagger else "",
            time=int(tag.tag_time or 0),
            tz_offset=int(tag.tag_timezone or 0),
            message=message.decode("utf-8", "replace") if message else "",
        )

    def commit_of(self, sha: str) -> str:
        """The commit ``sha`` is (a commit) or points at (a tag, peeled)."""
        return str(self._commit(sha).id.decode("ascii"))

    def _commit(self, sha: str) -> Any:
        obj = self._get(sha)
        while isinstance(obj, Tag):
            obj = self._get(obj.object[1].decode("ascii"))
        if not isinstance(obj, Commit):
            kind = obj.type_name.decode("ascii")
            raise GitError(f"object {sha} from {self.url} is a {kind}, not a commit or tag")
        return obj

    def read_path(self, commit: str, path: str) -> bytes | None:
        """The bytes of the file at ``path`` in ``commit`` (a commit or tag id); None if absent."""
        obj: Any = self._get(self._commit(commit).tree.decode("ascii"))
        for part in path.split("/"):
            if not part:
                continue
            if not isinstance(obj, Tree) or part in (".", ".."):
                return None
            try:
                mode, sha = obj[part.encode("utf-8", "surrogateescape")]
            except KeyError:
                return None
            if stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISLNK(mode):
                obj = self._get(sha.decode("ascii"))
            else:
                return None  # a submodule: its commit is not in this repository
        if not isinstance(obj, Blob):
            return None
        data: bytes = obj.as_raw_string()
        return data


def _check_sha(sha: str) -> bytes:
    if not isinstance(sha, str) or _SHA_RE.fullmatch(sha.lower()) is None:
        raise InvalidNameError(
            f"not a full object id: {sha!r}", hint="use the 40-hex sha (ls_remote gives it)"
        )
    return sha.lower().encode("ascii")


def fetch_objects(url: str, wants: Sequence[str], *, depth: int | None = 1) -> FetchedObjects:
    """Fetch the objects ``wants`` (tags and/or commits) and what they need from ``url``, into memory.

    With ``depth=1`` a tag brings its commit and that commit's tree, not its
    history, so the size of the history does not matter. Nothing local is
    written. A wanted object the server cannot give is a :class:`GitError`.
    """
    check_git_url(url)
    if depth is not None and depth < 1:
        raise InvalidNameError(f"depth must be at least 1 (or None for all history), not {depth}")
    want_ids = list(dict.fromkeys(_check_sha(w) for w in wants))
    repo: Any = MemoryRepo()
    fetched = FetchedObjects(repo, [w.decode("ascii") for w in want_ids], url)
    if not want_ids:
        return fetched

    def determine_wants(refs: Any, depth: int | None = None) -> list[bytes]:
        return list(want_ids)

    client, path = _client(url)
    named = ", ".join(w.decode("ascii") for w in want_ids)
    try:
        client.fetch(path, repo, determine_wants=determine_wants, depth=depth)
    except KeyError as exc:  # dulwich's local client: a wanted object it does not have
        raise GitError(f"{_safe(url)} does not have object(s) {named}") from exc
    except HangupException as exc:
        raise GitError(
            f"fetching {named} from {_safe(url)} failed: {_scrub(str(exc), url)}",
            hint="the server may not have these objects, or not let them be fetched",
        ) from exc
    except _TRANSPORT_ERRORS as exc:
        raise _translate(exc, url, f"fetching {named} from") from exc
    finally:
        client.close()
    missing = [w.decode("ascii") for w in want_ids if w not in repo.object_store]
    if missing:
        raise GitError(f"{_safe(url)} did not send object(s) {', '.join(missing)}")
    return fetched


# -- remotes and pushing -------------------------------------------------------------------------


def _config_value(config: Any, section: tuple[bytes, ...], key: bytes) -> str | None:
    try:
        value: bytes = config.get(section, key)
    except KeyError:
        return None
    return value.decode("utf-8", "surrogateescape")


def _open_local(repo_root: StrPath) -> Any:
    try:
        return _open_repo(repo_root)
    except NotGitRepository as exc:
        raise RepoNotFoundError(f"not a git repository: {repo_root}", hint="run `git init` first") from exc


def remote_url(repo_root: Path, name: str = "origin") -> str | None:
    """The URL of the remote ``name`` in the repository's git config; None if there is none."""
    with _open_local(repo_root) as repo:
        url = _config_value(repo.get_config(), (b"remote", name.encode("utf-8")), b"url")
    if url is not None and git_url_kind(url) == "local" and not os.path.isabs(url):
        # git reads a relative remote path from the top of the work tree, wherever it is run from.
        return str((Path(repo_root) / url).resolve())
    return url


def _push_target(repo: Any, root: Path, remote: str) -> tuple[str, Path | None]:
    """(URL, base for a relative local path) for a remote name or a URL."""
    if not isinstance(remote, str) or not remote:
        raise InvalidNameError(f"not a remote name or URL: {remote!r}")
    config = repo.get_config()
    section = (b"remote", remote.encode("utf-8", "surrogateescape"))
    url = _config_value(config, section, b"pushurl") or _config_value(config, section, b"url")
    if url is not None:
        return check_git_url(url), root
    check_git_url(remote)
    if _REMOTE_NAME_RE.fullmatch(remote) and not Path(remote).exists():
        raise RemoteNotFoundError(
            f"no remote named {remote!r} in {root}",
            hint=f"git remote add {remote} <url>, or pass the URL itself",
        )
    return remote, None


def _classify_rejections(failures: dict[str, str], url: str) -> GitMLError:
    detail = "; ".join(f"{ref}: {msg}" for ref, msg in sorted(failures.items()))
    if any(p in msg.lower() for msg in failures.values() for p in _CONFLICT_PATTERNS):
        return ConflictError(
            f"{_safe(url)} rejected the push of {', '.join(sorted(failures))} ({detail})",
            refs=tuple(sorted(failures)),
            hint="the remote has these refs already (or they moved during the push): fetch and retry",
        )
    return GitError(f"{_safe(url)} rejected the push ({detail})")


def _valid_tag_name(name: object) -> bool:
    if not isinstance(name, str) or not name or name.startswith("-"):
        return False  # git refuses tag names starting with "-" too
    ref: Any = b"refs/tags/" + name.encode("utf-8", "surrogateescape")
    return bool(check_ref_format(ref))


def push_tags(repo_root: Path, remote: str, tags: Sequence[str]) -> None:
    """Push ``refs/tags/<name>`` for each of ``tags`` from the repository at ``repo_root`` to ``remote``.

    ``remote`` is a configured remote's name (its pushurl or url is used) or a
    URL. Nothing is forced: if the remote has any of these tags at another
    object, :class:`ConflictError` is raised (with ``refs``) and nothing is
    pushed; tags it already has at the same object are left alone. All the
    tags are updated atomically when the server supports it.
    """
    names = list(dict.fromkeys(tags))
    for name in names:
        if not _valid_tag_name(name):
            raise InvalidNameError(f"invalid tag name {name!r}", hint="tag names follow git's ref rules")
    root = Path(repo_root)
    with _open_local(root) as repo:
        url, base = _push_target(repo, root, remote)
        local: dict[bytes, bytes] = {}
        for name in names:
            ref = b"refs/tags/" + name.encode("utf-8")
            try:
                local[ref] = repo.refs[ref]
            except KeyError as exc:
                raise RevisionNotFoundError(f"no tag {name!r} in {root}") from exc
        if not local:
            return

        def update_refs(old: dict[bytes, bytes]) -> dict[bytes, bytes]:
            new: dict[bytes, bytes] = {}
            conflicts: list[str] = []
            for ref, sha in local.items():
                theirs = old.get(ref)
                if theirs is None or theirs == _ZERO_SHA:
                    new[ref] = sha
                elif theirs != sha:
                    conflicts.append(ref.decode("utf-8", "replace"))
            if conflicts:
                raise ConflictError(
                    f"{_safe(url)} already has {', '.join(conflicts)} at another object",
                    refs=tuple(conflicts),
                    hint="a tag is never moved: pick another name, or delete the remote tag by hand",
                )
            return new

        def generate_pack_data(have: Any, want: Any, **kwargs: Any) -> Any:
            return repo.generate_pack_data(
                set(have), set(want), progress=kwargs.get("progress"), ofs_delta=kwargs.get("ofs_delta")
            )

        result = _send_pack(url, base, update_refs, generate_pack_data)
    failures = {
        ref.decode("utf-8", "replace"): str(msg)
        for ref, msg in (getattr(result, "ref_status", None) or {}).items()
        if msg
    }
    if failures:
        raise _classify_rejections(failures, url)


def _send_pack(url: str, base: Path | None, update_refs: Any, generate_pack_data: Any) -> Any:
    atomic = True
    while True:
        client, path = _client(url, base=base)
        kwargs: dict[str, Any] = {}
        if atomic and _accepts(client.send_pack, "atomic"):
            kwargs["atomic"] = True
        try:
            return client.send_pack(path, update_refs, generate_pack_data=generate_pack_data, **kwargs)
        except GitProtocolError as exc:
            if kwargs.get("atomic") and "atomic" in str(exc).lower() and "support" in str(exc).lower():
                atomic = False  # an old server: push the tags one command at a time
                continue
            raise _rejected_or_translated(exc, url) from exc
        except _TRANSPORT_ERRORS as exc:
            raise _translate(exc, url, "pushing tags to") from exc
        finally:
            client.close()


def _rejected_or_translated(exc: GitProtocolError, url: str) -> GitMLError:
    text = _scrub(str(exc), url)
    if not isinstance(exc, HangupException) and any(p in text.lower() for p in _CONFLICT_PATTERNS):
        return ConflictError(f"{_safe(url)} rejected the push: {text}", refs=())
    return _translate(exc, url, "pushing tags to")
