"""A project's repository, fetched whole into a local bare cache, and a commit written out as plain files.

No ``git`` subprocess runs and no work-tree repository is made, so nothing a
project ships can execute while it is fetched: no hooks (there is no ``.git``),
no ``.gitattributes`` filters (blobs are written byte for byte as stored), no
submodules (a gitlink becomes an empty folder, as ``git clone`` leaves it).

- :func:`ensure_cache_repo` — the bare cache repository for one URL (made atomically).
- :func:`fetch_refs` — every branch and tag of the URL (full history) into it; its refs mirror the remote's.
- :func:`resolve_rev` — a branch, tag, full or abbreviated sha (``~N``/``^N`` allowed) to a full commit sha.
- :func:`has_commit` — whether the cache already holds a commit (then no fetch is needed).
- :func:`write_tree` — a commit's tree into a new folder, every path checked by :mod:`gitml.paths`.

Callers hold a lock around :func:`fetch_refs` (:mod:`gitml.projects.source` does);
reading objects while another process fetches is safe, as packs are only added.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dulwich.errors import NotGitRepository
from dulwich.objects import Blob, Commit, Tag, Tree, object_class
from dulwich.repo import Repo

from gitml._fs import write_all
from gitml.exceptions import (
    GitError,
    InvalidNameError,
    RevisionNotFoundError,
    UsageError,
)
from gitml.giturl import check_git_url, check_rev
from gitml.paths import check_relpath
from gitml.repo.objects import tree_entries
from gitml.repo.transport import _TRANSPORT_ERRORS, _client, _safe, _translate

__all__ = [
    "RemoteRefs",
    "ensure_cache_repo",
    "fetch_refs",
    "has_commit",
    "resolve_rev",
    "write_tree",
]

_HEX_RE = re.compile(r"[0-9a-fA-F]{7,40}")
_FULL_SHA_RE = re.compile(r"[0-9a-f]{40}")
_REV_RE = re.compile(r"(?P<base>[^~^]+)(?P<steps>(?:[~^][0-9]*)*)")
_STEP_RE = re.compile(r"([~^])([0-9]*)")
_PEELED_SUFFIX = b"^{}"
_MIRRORED = (b"refs/heads/", b"refs/tags/")
_MODE_DIR, _MODE_LINK, _MODE_GITLINK = 0o040000, 0o120000, 0o160000
# Code points git (and HFS+) ignore in names, so ".g\u200cit" would be ".git" there.
_IGNORABLE_RE = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")
#: How many names an error message lists.
_LIST_MAX = 5


@dataclass(frozen=True)
class RemoteRefs:
    """What one fetch saw: the remote's branches and tags (short name -> sha) and its HEAD."""

    heads: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    head: str | None = None
    head_branch: str | None = None

    def listing(self) -> str:
        """A few branches and tags, for error messages."""

        def few(names: Iterable[str]) -> str:
            ordered = sorted(names)
            more = f", … ({len(ordered) - _LIST_MAX} more)" if len(ordered) > _LIST_MAX else ""
            return ", ".join(ordered[:_LIST_MAX]) + more if ordered else "none"

        return f"branches: {few(self.heads)}; tags: {few(self.tags)}"


# -- the cache repository ------------------------------------------------------------------------


def ensure_cache_repo(path: Path, *, description: str = "") -> None:
    """Make the bare repository ``path`` unless it exists (built beside it, then renamed into place).

    ``description`` (the URL, without credentials) goes to its ``description`` file, for people.
    """
    if (path / "objects").is_dir() and (path / "HEAD").is_file():
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with Repo.init_bare(str(tmp), mkdir=True):
            pass
        (tmp / "description").write_text(description + "\n", encoding="utf-8")
        if path.exists():  # a half-made repository from an older, killed writer
            shutil.rmtree(path, ignore_errors=True)
        os.rename(tmp, path)
    except OSError as exc:
        raise GitError(f"cannot create the project cache repository {path}: {exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _open(path: Path) -> Any:
    try:
        return Repo(str(path))
    except NotGitRepository as exc:
        raise GitError(f"the project cache repository {path} is damaged", hint=f"delete {path}") from exc


# -- fetching ------------------------------------------------------------------------------------


def fetch_refs(url: str, repo_path: Path) -> RemoteRefs:
    """Fetch every branch and tag of ``url`` (all history) into the cache repository ``repo_path``.

    Afterwards the cache's ``refs/heads/*`` and ``refs/tags/*`` are the remote's
    (moved and deleted refs follow the remote; objects are kept) and its HEAD
    names the remote's default branch. Unreachable hosts, refused credentials and
    missing repositories become :class:`GitError` / :class:`RepoNotFoundError`
    without credentials in the message.
    """
    check_git_url(url)
    client, path = _client(url)
    with _open(repo_path) as repo:

        def determine_wants(refs: Mapping[bytes, bytes | None], depth: int | None = None) -> list[bytes]:
            store = repo.object_store
            wants = {sha for name, sha in refs.items() if sha and _is(name, _MIRRORED) and sha not in store}
            return sorted(wants)

        try:
            result = client.fetch(path, repo, determine_wants=determine_wants)
        except _TRANSPORT_ERRORS as exc:
            raise _translate(exc, url, "fetching") from exc
        finally:
            client.close()
        remote: dict[bytes, bytes] = {
            name: sha for name, sha in (result.refs or {}).items() if sha is not None
        }
        symrefs: dict[bytes, bytes] = dict(getattr(result, "symrefs", None) or {})
        _mirror(repo, remote, symrefs)
    return _remote_refs(remote, symrefs)


def _remote_refs(remote: dict[bytes, bytes], symrefs: dict[bytes, bytes]) -> RemoteRefs:
    def table(prefix: bytes) -> dict[str, str]:
        return {_name(n, prefix): s.decode("ascii") for n, s in remote.items() if _is(n, prefix)}

    head_ref = symrefs.get(b"HEAD")
    branch = _name(head_ref, b"refs/heads/") if head_ref and _is(head_ref, b"refs/heads/") else None
    head = remote.get(b"HEAD") or (remote.get(head_ref) if head_ref else None)
    return RemoteRefs(
        table(b"refs/heads/"), table(b"refs/tags/"), head.decode("ascii") if head else None, branch
    )


def _is(name: bytes, prefix: bytes | tuple[bytes, ...]) -> bool:
    """Whether ``name`` is a ref under ``prefix`` (not an advertised ``^{}`` peeled entry)."""
    return name.startswith(prefix) and not name.endswith(_PEELED_SUFFIX)


def _name(ref: bytes, prefix: bytes) -> str:
    return ref[len(prefix) :].decode("utf-8", "surrogateescape")


def _mirror(repo: Any, remote: dict[bytes, bytes], symrefs: dict[bytes, bytes]) -> None:
    store = repo.object_store
    for name, sha in remote.items():
        if _is(name, _MIRRORED) and sha in store:
            try:
                repo.refs[name] = sha
            except (ValueError, KeyError, OSError):
                continue  # a ref name dulwich will not store locally: it can still be resolved from memory
    for name in list(repo.refs.allkeys()):
        if name.startswith(_MIRRORED) and name not in remote:
            repo.refs.remove_if_equals(name, None)
    head = symrefs.get(b"HEAD")
    if head is not None and head.startswith(b"refs/heads/") and head in remote:
        repo.refs.set_symbolic_ref(b"HEAD", head)


def _fetch_sha(url: str, repo: Any, sha: str) -> None:
    """Ask for one commit by id (servers that allow reachable shas in wants); quietly give up if refused."""
    client, path = _client(url)
    try:
        client.fetch(path, repo, determine_wants=lambda refs, depth=None: [sha.encode("ascii")])
    except _TRANSPORT_ERRORS:  # HangupException included
        return  # git daemon and most servers refuse a sha that no ref advertises
    finally:
        client.close()


# -- reading objects -----------------------------------------------------------------------------


def has_commit(repo_path: Path, sha: str) -> bool:
    """Whether the cache repository holds the commit (or a tag of one) ``sha``."""
    if not (repo_path / "objects").is_dir():
        return False
    with _open(repo_path) as repo:
        try:
            return _peel(repo, sha.encode("ascii")) is not None
        except KeyError:
            return False


def _peel(repo: Any, sha: bytes) -> bytes | None:
    """The commit ``sha`` is or (through tags) points at; None for a tree or blob. KeyError if absent."""
    obj = repo.object_store[sha]
    while isinstance(obj, Tag):
        obj = repo.object_store[obj.object[1]]
    return obj.id if isinstance(obj, Commit) else None


def _kind(repo: Any, sha: bytes) -> str:
    try:
        type_num, _ = repo.object_store.get_raw(sha)
    except KeyError:
        return "missing object"
    cls = object_class(type_num)
    return cls.type_name.decode("ascii") if cls is not None else "object"


def resolve_rev(url: str, repo_path: Path, rev: str | None, remote: RemoteRefs | None) -> str:
    """The full commit sha that ``rev`` names in the cache repository (annotated tags peeled).

    ``rev``: None (the remote's HEAD), a branch, a tag, ``HEAD``, ``refs/…``, a
    full sha or an abbreviated one (7+ hex, unique among commits), each optionally
    followed by ``~N`` / ``^N``. Names are looked up in ``remote`` (what the fetch
    just saw); a full sha missing after the fetch is asked for once by id. Unknown
    names and shas raise :class:`RevisionNotFoundError` listing a few branches and
    tags; an ambiguous abbreviation raises :class:`UsageError`.
    """
    remote = remote or RemoteRefs()
    safe = _safe(url)
    if rev is None:
        if remote.head is None:
            raise RevisionNotFoundError(
                f"{safe} has no default branch (HEAD)", hint=f"pass --rev; {remote.listing()}"
            )
        base, steps = "HEAD", ""
    else:
        check_rev(rev)
        match = _REV_RE.fullmatch(rev)
        if match is None:
            raise InvalidNameError(f"invalid revision {rev!r}", hint="use a branch, a tag or a commit sha")
        base, steps = match.group("base"), match.group("steps")
    with _open(repo_path) as repo:
        commit = _resolve_base(url, repo, base, remote)
        for op, count in _STEP_RE.findall(steps):
            commit = _step(repo, commit, op, count, rev or base)
    return commit.decode("ascii")


def _resolve_base(url: str, repo: Any, base: str, remote: RemoteRefs) -> bytes:
    safe = _safe(url)
    ref_sha = _lookup_name(base, remote)
    if ref_sha is not None:
        return _commit_of(repo, ref_sha.encode("ascii"), base, safe)
    if _HEX_RE.fullmatch(base):
        prefix = base.lower()
        if len(prefix) == 40:
            sha = prefix.encode("ascii")
            if sha not in repo.object_store:
                _fetch_sha(url, repo, prefix)
            if sha in repo.object_store:
                return _commit_of(repo, sha, base, safe)
            raise RevisionNotFoundError(
                f"commit {prefix} is not in {safe}",
                hint=f"it is on no branch or tag there (or was never pushed); {remote.listing()}",
            )
        return _by_prefix(repo, prefix, safe, remote)
    raise RevisionNotFoundError(
        f"{safe} has no branch or tag {base!r}", hint=f"{remote.listing()}; or pass a commit sha"
    )


def _lookup_name(name: str, remote: RemoteRefs) -> str | None:
    """The sha a ref name points at, in git's order: HEAD, refs/…, tags, then branches."""
    if name == "HEAD":
        return remote.head
    if name.startswith("refs/heads/"):
        return remote.heads.get(name[len("refs/heads/") :])
    if name.startswith("refs/tags/"):
        return remote.tags.get(name[len("refs/tags/") :])
    for table, prefix in ((remote.tags, "tags/"), (remote.heads, "heads/")):
        if name in table:
            return table[name]
        if name.startswith(prefix) and name[len(prefix) :] in table:
            return table[name[len(prefix) :]]
    return None


def _commit_of(repo: Any, sha: bytes, rev: str, safe: str) -> bytes:
    try:
        commit = _peel(repo, sha)
    except KeyError as exc:
        raise GitError(f"{safe} advertised {rev!r} at {sha.decode()} but did not send it") from exc
    if commit is None:
        raise RevisionNotFoundError(
            f"{rev!r} in {safe} is a {_kind(repo, sha)}, not a commit", hint="pass a branch, tag or commit"
        )
    return commit


def _by_prefix(repo: Any, prefix: str, safe: str, remote: RemoteRefs) -> bytes:
    commits: set[bytes] = set()
    for sha in repo.object_store.iter_prefix(prefix.encode("ascii")):
        try:
            commit = _peel(repo, sha)
        except KeyError:
            continue
        if commit is not None:
            commits.add(commit)
    if not commits:
        raise RevisionNotFoundError(
            f"no commit in {safe} starts with {prefix!r} (and no branch or tag is named so)",
            hint=f"{remote.listing()}; or pass the full 40-hex sha",
        )
    if len(commits) > 1:
        named = ", ".join(sorted(c.decode("ascii") for c in commits)[:_LIST_MAX])
        raise UsageError(
            f"abbreviated sha {prefix!r} is ambiguous in {safe}: it matches {named}",
            hint="pass more hex digits, or the full 40-hex sha",
        )
    return commits.pop()


def _step(repo: Any, commit: bytes, op: str, count: str, rev: str) -> bytes:
    """``~N`` (first parent N times) or ``^N`` (the N-th parent; ``^0`` the commit itself)."""
    number = int(count) if count else 1
    if op == "^":
        if number == 0:
            return commit
        parents = repo.object_store[commit].parents
        if len(parents) < number:
            raise RevisionNotFoundError(f"{rev!r}: commit {commit.decode()} has no parent #{number}")
        return _commit_of(repo, parents[number - 1], rev, "the cache")
    for _ in range(number):
        parents = repo.object_store[commit].parents
        if not parents:
            raise RevisionNotFoundError(f"{rev!r} goes back past the first commit ({commit.decode()})")
        commit = parents[0]
    return commit


# -- writing a tree out --------------------------------------------------------------------------


@dataclass
class _Plan:
    """What a tree becomes: folders, files (path, blob, executable) and symlinks (path, target)."""

    dirs: list[str] = field(default_factory=list)
    files: list[tuple[str, bytes, bool]] = field(default_factory=list)
    links: list[tuple[str, bytes]] = field(default_factory=list)


def _refuse(safe_what: str, why: str) -> InvalidNameError:
    return InvalidNameError(
        f"refusing the project: {safe_what} {why}",
        hint="a project's files must stay inside its checkout; fix the repository",
    )


def _entry_path(parent: str, raw_name: bytes, where: str) -> str:
    """``parent/name`` once the name passed every check; InvalidNameError otherwise."""
    try:
        name = raw_name.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(f"tree entry {raw_name!r} in {where}", "is not a UTF-8 name") from exc
    shown = f"{parent}/{name}" if parent else name
    if "/" in name or not name:
        raise _refuse(f"tree entry {shown!r}", "is not a single path component")
    folded = _IGNORABLE_RE.sub("", name).lower()
    if folded == ".git" or folded.startswith("git~"):
        raise _refuse(f"tree entry {shown!r}", "would be a git folder")
    try:
        check_relpath(shown, what="project path")
    except InvalidNameError as exc:
        raise _refuse(f"tree entry {shown!r}", f"is not a safe relative path ({exc})") from exc
    return shown


def _plan(repo: Any, tree: bytes) -> _Plan:
    plan = _Plan()
    stack: list[tuple[str, bytes]] = [("", tree)]
    while stack:
        parent, tree_id = stack.pop()
        type_num, raw = repo.object_store.get_raw(tree_id)
        if type_num != Tree.type_num:
            raise GitError(f"object {tree_id.decode()} is not a tree (at {parent or '/'!r})")
        seen: set[str] = set()
        for mode, raw_name, bin_sha in tree_entries(raw):
            path = _entry_path(parent, raw_name, parent or "the top folder")
            if path.lower() in seen:  # a duplicate (or, on a case-folding disk, a clash)
                raise _refuse(f"tree entry {path!r}", "appears twice in its folder")
            seen.add(path.lower())
            sha = bin_sha.hex().encode("ascii")
            if mode == _MODE_DIR:
                plan.dirs.append(path)
                stack.append((path, sha))
            elif mode == _MODE_GITLINK:
                plan.dirs.append(path)  # a submodule: an empty folder, never fetched or recursed
            elif mode == _MODE_LINK:
                plan.links.append((path, _blob(repo, sha, path)))
            elif stat.S_ISREG(mode):
                plan.files.append((path, sha, bool(mode & 0o100)))
            else:
                raise _refuse(f"tree entry {path!r}", f"has an unknown mode {mode:o}")
    return plan


def _blob(repo: Any, sha: bytes, path: str) -> bytes:
    type_num, data = repo.object_store.get_raw(sha)
    if type_num != Blob.type_num:
        raise GitError(f"{path!r}: object {sha.decode()} is not a blob")
    blob: bytes = data
    return blob


def _on_disk(root: Path, path: str) -> Path:
    return root.joinpath(*path.split("/"))


def _within(root: Path, path: str) -> bool:
    return path == str(root) or path.startswith(str(root) + os.sep)


def _shown_link(path: str, target: bytes) -> str:
    return f"symlink {path!r} -> {target.decode('utf-8', 'replace')!r}"


def _check_link(root: Path, path: str, target: bytes) -> None:
    if not target or b"\0" in target or target.startswith(b"/") or re.match(rb"[A-Za-z]:", target):
        raise _refuse(_shown_link(path, target), "is absolute or empty")
    lexical = os.path.normpath(os.path.join(_on_disk(root, path).parent, os.fsdecode(target)))
    if not _within(root, lexical):
        raise _refuse(_shown_link(path, target), "points outside the checkout")


def write_tree(repo_path: Path, commit: str, dest: Path) -> None:
    """Write ``commit``'s tree as plain files into the new folder ``dest`` (which must not exist).

    Regular files get their bytes exactly as stored (no filters, no line-ending
    changes) and the executable bit for mode 100755; a submodule becomes an empty
    folder; a symlink is made only if it resolves inside ``dest`` (checked again
    on disk once every link exists, so chains of links cannot escape). Every path
    goes through :func:`gitml.paths.check_relpath` and may not name ``.git``;
    anything refused raises :class:`InvalidNameError` (``dest`` is then left
    partly written: the caller removes it).
    """
    if not _FULL_SHA_RE.fullmatch(commit):
        raise InvalidNameError(f"not a full commit sha: {commit!r}")
    with _open(repo_path) as repo:
        try:
            obj = repo.object_store[commit.encode("ascii")]
        except KeyError as exc:
            raise RevisionNotFoundError(f"commit {commit} is not in the project cache") from exc
        if not isinstance(obj, Commit):
            raise RevisionNotFoundError(f"{commit} is a {obj.type_name.decode()}, not a commit")
        plan = _plan(repo, obj.tree)
        os.mkdir(dest, 0o755)
        root = Path(os.path.realpath(dest))
        for path, target in plan.links:
            _check_link(root, path, target)
        for path in plan.dirs:
            os.mkdir(_on_disk(root, path), 0o755)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        for path, sha, executable in plan.files:
            data = _blob(repo, sha, path)
            fd = os.open(_on_disk(root, path), flags, 0o777 if executable else 0o666)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
    # Links last: no file or folder above was ever written through one of them.
    for path, target in plan.links:
        os.symlink(os.fsdecode(target), _on_disk(root, path))
    for path, target in plan.links:
        if not _within(root, os.path.realpath(_on_disk(root, path))):
            raise _refuse(_shown_link(path, target), "leads outside the checkout (through other links)")
