"""The git repository, through dulwich: the only module of gitml that imports dulwich.

``GitRepo`` answers the questions tracking asks of git — where the work tree is,
which commit and branch are checked out, whether the tree is dirty and what the
diff is, what a path holds at a revision — and makes the one kind of commit
gitml makes: a commit of a few paths (a run's folder) on top of HEAD, leaving
every other staged or unstaged change alone.
"""

from __future__ import annotations

import io
import os
import random
import stat
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dulwich.errors import NotGitRepository
from dulwich.file import FileLocked
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from gitml._types import StrPath
from gitml.exceptions import GitError, RepoNotFoundError, RevisionNotFoundError
from gitml.gitdir import discover_root
from gitml.repo.objects import tree_entries

if TYPE_CHECKING:
    from dulwich.index import IndexEntry

# dulwich.index (~20 ms to import) is imported where the index is read or written, so commands
# that only read commits and trees (diff, runs --rev, get) do not pay for it.

__all__ = ["GitRepo", "SourceState", "StagedFile", "discover_root", "tzoffset"]

#: Untracked text files up to this size are kept in a dirty run's diff; larger or
#: binary ones are only named ...
UNTRACKED_DIFF_LIMIT = 256 * 1024
#: ... and so are the rest once the untracked files in one diff add up to this much.
UNTRACKED_DIFF_BUDGET = 1024 * 1024
#: At most this many skipped untracked files are named (then a count).
UNTRACKED_NAMED_MAX = 100


@dataclass(frozen=True)
class SourceState:
    """What code a run ran: the commit, and how the work tree differed from it."""

    commit: str | None
    branch: str | None
    dirty: bool
    diff: bytes = b""
    untracked_skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class StagedFile:
    """A path whose staged (index) content differs from HEAD: added or modified, not deleted."""

    path: str
    mode: int
    sha: str


def _excluded(path: str, excludes: tuple[str, ...]) -> bool:
    return any(path == e or path.startswith(e + "/") for e in excludes)


class GitRepo:
    """A git work tree opened with dulwich."""

    def __init__(self, root: StrPath) -> None:
        try:
            # dulwich's NewType'd ids (Ref, ObjectID) would need a cast at every call: keep it Any here.
            self._repo: Any = Repo(str(root))
        except NotGitRepository as exc:
            raise RepoNotFoundError(f"not a git repository: {root}", hint="run `git init` first") from exc
        self.root = Path(self._repo.path).resolve()
        self._fingerprint: tuple[Any, ...] | None = None
        self._source: SourceState | None = None
        self._walk_dirs: list[str] = []
        self._tracked: tuple[Any, list[str]] | None = None

    @classmethod
    def discover(cls, start: StrPath = ".") -> GitRepo:
        return cls(discover_root(start))

    @staticmethod
    def init(path: StrPath) -> None:
        """Make ``path`` a git repository (as ``git init``, branch main) unless it already is one."""
        if os.path.exists(os.path.join(path, ".git")):
            return
        repo: Any = Repo.init(str(path), mkdir=False)
        try:
            repo.refs.set_symbolic_ref(b"HEAD", b"refs/heads/main")
        finally:
            repo.close()

    def close(self) -> None:
        self._repo.close()

    # -- HEAD ---------------------------------------------------------------------------------

    def head(self) -> tuple[str | None, str | None]:
        """``(commit, branch)``: the checked-out commit (None if empty) and branch (None if detached)."""
        refs = self._repo.refs
        chain, sha = refs.follow(b"HEAD")
        target = chain[-1] if chain else b"HEAD"
        branch = None
        if target.startswith(b"refs/heads/"):
            branch = target[len(b"refs/heads/") :].decode("utf-8", "replace")
        return (sha.decode("ascii") if sha else None), branch

    def resolve(self, rev: str) -> str:
        """The full commit sha that ``rev`` (sha, prefix, branch, tag, with ``~n``/``^n``) names."""
        import re

        from dulwich.objectspec import parse_commit

        match = re.fullmatch(r"(.+?)((?:[~^]\d*)*)", rev or "")
        if match is None or rev.startswith("-"):
            raise RevisionNotFoundError(f"not a revision: {rev!r}")
        base, suffix = match.groups()
        try:
            commit = parse_commit(self._repo, base.encode("utf-8"))
            for op, count in re.findall(r"([~^])(\d*)", suffix):
                n = int(count) if count else 1
                if op == "~":
                    for _ in range(n):
                        commit = self._repo[commit.parents[0]]
                elif n:
                    commit = self._repo[commit.parents[n - 1]]
        except (KeyError, ValueError, IndexError, NotImplementedError) as exc:
            raise RevisionNotFoundError(
                f"unknown revision {rev!r}", hint="use a branch, tag or commit sha that exists here"
            ) from exc
        return str(commit.id.decode("ascii"))

    # -- reading at a revision ----------------------------------------------------------------

    def list_tree(self, commit: str, path: str) -> dict[str, tuple[int, str]]:
        """Entries of the directory ``path`` at ``commit``: name -> (mode, object sha); {} if absent."""
        obj: Any = self._repo[self._repo[commit.encode()].tree]
        for part in path.split("/"):
            if not part:
                continue
            try:
                mode, sha = obj[part.encode()]
            except KeyError:
                return {}
            if not stat.S_ISDIR(mode):
                return {}
            obj = self._repo[sha]
        return {e.path.decode("utf-8", "replace"): (e.mode, e.sha.decode()) for e in obj.iteritems()}

    def read_tree(self, sha: str) -> dict[str, tuple[int, str]]:
        """Entries of the tree object ``sha``: name -> (mode, object sha)."""
        obj: Any = self._repo[sha.encode()]
        return {e.path.decode("utf-8", "replace"): (e.mode, e.sha.decode()) for e in obj.iteritems()}

    def ref_commits(self) -> dict[str, str]:
        """Every branch and tag (and HEAD) -> the commit it points at (tags peeled)."""
        out: dict[str, str] = {}
        refs = self._repo.refs
        for name in refs.allkeys():
            if not (name == b"HEAD" or name.startswith((b"refs/heads/", b"refs/tags/", b"refs/remotes/"))):
                continue
            try:
                sha = refs[name]
                obj = self._repo[sha]
                while obj.type_name == b"tag":
                    obj = self._repo[obj.object[1]]
            except KeyError:
                continue
            if obj.type_name == b"commit":
                out[name.decode("utf-8", "replace")] = obj.id.decode("ascii")
        return out

    def history(self, commits: Sequence[str]) -> Iterator[str]:
        """Every commit reachable from ``commits`` (each once)."""
        seen: set[bytes] = set()
        stack = [c.encode() for c in commits]
        while stack:
            sha = stack.pop()
            if sha in seen:
                continue
            seen.add(sha)
            try:
                commit = self._repo[sha]
            except KeyError:  # a shallow clone's boundary
                continue
            yield sha.decode("ascii")
            stack.extend(commit.parents)

    def blobs_named(
        self, commit: str, directory: str, name: str, *, seen_trees: set[str] | None = None
    ) -> Iterator[tuple[str, str]]:
        """(sub-directory, blob sha) of each ``directory/<sub>/<name>`` at ``commit``.

        Trees listed in ``seen_trees`` are skipped (and new ones added), so walking
        many commits that share run folders reads each folder once.
        """
        seen = seen_trees if seen_trees is not None else set()
        entries = self.list_tree(commit, directory)
        target = name.encode()
        for sub, (mode, tree_sha) in entries.items():
            if not stat.S_ISDIR(mode) or tree_sha in seen:
                continue
            seen.add(tree_sha)
            try:
                _mode, blob = self._repo[tree_sha.encode()][target]
            except KeyError:
                continue
            yield sub, blob.decode("ascii")

    def read_blob(self, sha: str) -> bytes:
        data: bytes = self._repo[sha.encode()].as_raw_string()
        return data

    def blob_head(self, sha: str, limit: int) -> tuple[int, bytes]:
        """A blob's size and its first ``limit`` bytes, without inflating all of a loose object."""
        path = os.path.join(self._repo.object_store.path, sha[:2], sha[2:])
        try:
            with open(path, "rb") as f:
                inflate = zlib.decompressobj()
                data = b""
                while b"\0" not in data or len(data) - data.index(b"\0") - 1 < limit:
                    chunk = f.read(65536)
                    if not chunk:
                        break
                    data += inflate.decompress(chunk)
            header, _, body = data.partition(b"\0")
            kind, _, size = header.partition(b" ")
            if kind == b"blob" and size.isdigit():
                return int(size), body[:limit]
        except (OSError, zlib.error):
            pass  # packed (git add streams big files into a pack), or unreadable: read it whole
        blob = self.read_blob(sha)
        return len(blob), blob[:limit]

    def staged_changes(self, index_path: StrPath | None = None) -> list[StagedFile]:
        """Files the index (``index_path``, e.g. git's $GIT_INDEX_FILE, or the repository's) adds or
        changes against HEAD."""
        from dulwich.index import Index, IndexEntry

        index = Index(os.fspath(index_path)) if index_path is not None else self._repo.open_index()
        head, _branch = self.head()
        out = []
        if head is None:
            for path, entry in index.items():
                if isinstance(entry, IndexEntry):
                    out.append(StagedFile(_text(path), entry.mode, entry.sha.decode("ascii")))
            return out
        tree = self._repo[head.encode()].tree
        for (_old, new), (_omode, mode), (_osha, sha) in index.changes_from_tree(
            self._repo.object_store, tree
        ):
            if new is None or not sha or mode is None:
                continue
            out.append(StagedFile(_text(new), mode, sha.decode("ascii")))
        return out

    def peel_commit(self, sha: str) -> str | None:
        """The commit that ``sha`` (a commit or an annotated tag) names; None if absent or not a commit."""
        try:
            obj = self._repo[sha.encode()]
            while obj.type_name == b"tag":
                obj = self._repo[obj.object[1]]
        except (KeyError, ValueError):
            return None
        return str(obj.id.decode("ascii")) if obj.type_name == b"commit" else None

    def remote_tracking_commits(self, remote: str) -> list[str]:
        """The commits ``refs/remotes/<remote>/*`` point at (what this clone knows that remote has)."""
        prefix = f"refs/remotes/{remote}/"
        return sorted({sha for ref, sha in self.ref_commits().items() if ref.startswith(prefix)})

    def commits_between(self, include: Sequence[str], exclude: Sequence[str]) -> list[str]:
        """Commits reachable from ``include`` and from none of ``exclude`` (``git rev-list A --not B``).

        Excluded commits this clone does not have are ignored.
        """
        if not include:
            return []
        store = self._repo.object_store
        known = [c.encode() for c in exclude if c.encode() in store]
        walker = self._repo.get_walker(include=[c.encode() for c in include], exclude=known)
        return [entry.commit.id.decode("ascii") for entry in walker]

    def hooks_dir(self) -> Path:
        """Where git looks for this repository's hooks: ``core.hooksPath``, else the common git dir's hooks/.

        A relative ``core.hooksPath`` is relative to the work tree (where git runs hooks); a
        linked worktree and its main one share the common dir's hooks.
        """
        try:
            configured: bytes | None = self._repo.get_config_stack().get((b"core",), b"hooksPath")
        except KeyError:
            configured = None
        if configured:
            path = Path(os.path.expanduser(os.fsdecode(configured)))
            return path if path.is_absolute() else self.root / path
        return Path(self._repo.commondir()) / "hooks"

    def is_shallow(self) -> bool:
        """Whether this clone is shallow (its history stops at a boundary)."""
        return bool(self._repo.get_shallow())

    def files_in_trees(self, trees: Iterable[str], name: str) -> Iterator[bytes | None]:
        """The bytes of the file ``name`` in each tree (None where it has none), read lazily.

        Reads raw objects from the packs directly (each object store lookup would also
        stat the pack folder for a multi-pack index), without building dulwich objects:
        10,000 run records in ~0.3 s.
        """
        store = self._repo.object_store
        packs = list(store.packs)

        def raw(sha: bytes) -> bytes:
            for pack in packs:
                try:
                    return bytes(pack.get_raw(sha)[1])
                except KeyError:
                    continue
            return bytes(store.get_raw(sha.hex().encode())[1])  # loose, or packed since

        target = name.encode()
        for tree in trees:
            try:
                listing = raw(bytes.fromhex(tree))
                sha = next((s for m, n, s in tree_entries(listing) if n == target and not m & 0o40000), None)
                yield None if sha is None else raw(sha)
            except (KeyError, ValueError):
                yield None

    # -- the state of the work tree -----------------------------------------------------------

    def source_state(self, *, exclude: tuple[str, ...] = (".gitml",)) -> SourceState:
        """The checked-out commit and branch, and whether the tree differs from it (with the diff).

        Paths under ``exclude`` are ignored. The answer is cached behind a
        fingerprint of HEAD, the index and the stat of every tracked file and
        every directory walked, so asking again on an unchanged tree costs a
        few ``lstat`` calls, not a status walk.
        """
        fingerprint = self._state_fingerprint(exclude)
        if self._source is not None and fingerprint == self._fingerprint:
            return self._source
        self._source = self._compute_source_state(exclude)
        self._fingerprint = self._state_fingerprint(exclude)
        return self._source

    def _index_path(self) -> str:
        return str(self._repo.index_path())

    def _state_fingerprint(self, exclude: tuple[str, ...]) -> tuple[Any, ...]:
        parts: list[Any] = [self.head()]
        try:
            st = os.stat(self._index_path())
            parts.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except FileNotFoundError:
            parts.append(None)
        if self._walk_dirs:  # dirs of the last walk: a new or removed file changes a dir's mtime
            for rel in self._walk_dirs:
                try:
                    parts.append(os.stat(self.root / rel).st_mtime_ns)
                except OSError:
                    parts.append(None)
        for rel in self._tracked_paths(exclude):
            try:
                st = os.lstat(self.root / rel)
                parts.append((st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_mode))
            except OSError:
                parts.append(None)
        return tuple(parts)

    def _tracked_paths(self, exclude: tuple[str, ...]) -> list[str]:
        try:
            st = os.stat(self._index_path())
        except OSError:
            return []
        key = (st.st_mtime_ns, st.st_size, st.st_ino, exclude)
        if self._tracked is None or self._tracked[0] != key:
            index = self._repo.open_index()
            paths = [p.decode("utf-8", "surrogateescape") for p in index.paths()]
            self._tracked = (key, [p for p in paths if not _excluded(p, exclude)])
        return self._tracked[1]

    def _compute_source_state(self, exclude: tuple[str, ...]) -> SourceState:
        from dulwich.index import get_unstaged_changes

        commit, branch = self.head()
        index = self._repo.open_index()
        changed: set[str] = set()
        if commit is not None:
            tree_id = self._repo[commit.encode()].tree
            for (old, new), _modes, _shas in index.changes_from_tree(self._repo.object_store, tree_id):
                for p in (old, new):
                    if p is not None:
                        changed.add(p.decode("utf-8", "surrogateescape"))
        else:
            changed.update(p.decode("utf-8", "surrogateescape") for p in index.paths())
        for p in get_unstaged_changes(index, str(self.root)):
            changed.add(p.decode("utf-8", "surrogateescape"))
        changed = {p for p in changed if not _excluded(p, exclude)}
        tracked = {p.decode("utf-8", "surrogateescape") for p in index.paths()}
        untracked = self._untracked(tracked, exclude)
        if not changed and not untracked:
            return SourceState(commit, branch, dirty=False)
        out = io.BytesIO()
        if commit is not None and changed:
            from dulwich import porcelain

            porcelain.diff(self._repo, commit=commit.encode(), paths=sorted(changed), outstream=out)
        new_files = sorted(untracked) if commit is not None else sorted(untracked | changed)
        skipped = self._write_new_file_diffs(new_files, out)
        return SourceState(commit, branch, dirty=True, diff=out.getvalue(), untracked_skipped=skipped)

    def _untracked(self, tracked: set[str], exclude: tuple[str, ...]) -> set[str]:
        from dulwich.ignore import IgnoreFilterManager

        ignore = IgnoreFilterManager.from_repo(self._repo)
        found: set[str] = set()
        walked: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel_dir = os.path.relpath(dirpath, self.root)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
            walked.append(rel_dir or ".")
            keep = []
            for name in sorted(dirnames):
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if name == ".git" or _excluded(rel, exclude) or ignore.is_ignored(rel + "/"):
                    continue
                keep.append(name)
            dirnames[:] = keep
            for name in filenames:
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if rel not in tracked and not _excluded(rel, exclude) and not ignore.is_ignored(rel):
                    found.add(rel)
        self._walk_dirs = walked
        return found

    def _write_new_file_diffs(self, paths: Sequence[str], out: io.BytesIO) -> tuple[str, ...]:
        skipped = []
        budget = UNTRACKED_DIFF_BUDGET
        for rel in paths:
            full = self.root / rel
            try:
                size = full.lstat().st_size
                if full.is_symlink() or not full.is_file() or size > min(UNTRACKED_DIFF_LIMIT, budget):
                    skipped.append(rel)
                    continue
                data = full.read_bytes()
            except OSError:
                skipped.append(rel)
                continue
            if b"\0" in data[:8000]:
                skipped.append(rel)
                continue
            budget -= len(data)
            lines = data.splitlines(keepends=True)
            name = rel.encode("utf-8", "surrogateescape")
            out.write(b"diff --git a/" + name + b" b/" + name + b"\nnew file mode 100644\n")
            out.write(b"--- /dev/null\n+++ b/" + name + b"\n")
            if lines:
                out.write(f"@@ -0,0 +1,{len(lines)} @@\n".encode())
                for line in lines:
                    out.write(b"+" + line)
                if not lines[-1].endswith(b"\n"):
                    out.write(b"\n\\ No newline at end of file\n")
        if len(skipped) > UNTRACKED_NAMED_MAX:
            more = len(skipped) - UNTRACKED_NAMED_MAX
            skipped = [*skipped[:UNTRACKED_NAMED_MAX], f"... and {more} more"]
        return tuple(skipped)

    # -- committing a few paths ---------------------------------------------------------------

    def identity(self) -> bytes:
        """``Name <email>`` for commits, from the environment or git config; GitError if unset."""
        config = self._repo.get_config_stack()

        def get(key: bytes) -> str | None:
            try:
                value: bytes = config.get((b"user",), key)
            except KeyError:
                return None
            return value.decode("utf-8", "replace")

        name = os.environ.get("GIT_COMMITTER_NAME") or os.environ.get("GIT_AUTHOR_NAME") or get(b"name")
        email = os.environ.get("GIT_COMMITTER_EMAIL") or os.environ.get("GIT_AUTHOR_EMAIL") or get(b"email")
        if not email:
            raise GitError(
                "git has no identity to commit with: user.email is not set",
                hint='git config --global user.email "you@example.com" (and user.name), then commit again',
            )
        return f"{name or email.split('@')[0]} <{email}>".encode()

    def commit_paths(
        self, paths: Sequence[str], *, message: str, lock_timeout: float = 30.0, now: int | None = None
    ) -> str | None:
        """Commit the files under ``paths`` (relative to the root) on top of HEAD, and nothing else.

        Other staged and unstaged changes stay as they were. The index lock is
        waited for (parallel sweeps commit at once) up to ``lock_timeout``
        seconds. Returns the new commit sha, or None if the paths were already
        committed as they are.
        """
        ident = self.identity()
        deadline = time.monotonic() + lock_timeout
        while True:
            try:
                return self._commit_locked(paths, message=message, ident=ident, now=now)
            except FileLocked as exc:
                if time.monotonic() > deadline:
                    raise GitError(
                        f"the git index is locked ({self._index_path()}.lock)",
                        hint="another git command is running; if none is, remove the stale "
                        f"{self._index_path()}.lock and commit again with `gitml runs commit`",
                    ) from exc
                time.sleep(0.01 + random.random() * 0.05)

    def _files_under(self, rel: str) -> Iterator[str]:
        full = self.root / rel
        if full.is_symlink() or full.is_file():
            yield rel
            return
        for dirpath, dirnames, filenames in os.walk(full):
            dirnames.sort()
            for name in sorted(filenames):
                if name.startswith(".") and name.endswith(".tmp"):
                    continue  # an atomic write in progress
                yield os.path.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/")

    def _commit_locked(
        self, paths: Sequence[str], *, message: str, ident: bytes, now: int | None
    ) -> str | None:
        from dulwich.index import index_entry_from_stat, locked_index

        store = self._repo.object_store
        with locked_index(self._index_path()) as index:
            head, branch = self.head()
            base_tree = self._repo[head.encode()].tree if head else None
            updates: dict[bytes, tuple[int, bytes]] = {}
            entries: dict[bytes, IndexEntry] = {}
            for rel in paths:
                for file_rel in self._files_under(rel):
                    full = self.root / file_rel
                    st = os.lstat(full)
                    if stat.S_ISLNK(st.st_mode):
                        blob = Blob.from_string(os.readlink(full).encode("utf-8", "surrogateescape"))
                        mode = 0o120000
                    else:
                        blob = Blob.from_string(full.read_bytes())
                        mode = 0o100755 if st.st_mode & 0o111 else 0o100644
                    store.add_object(blob)
                    key = file_rel.encode("utf-8", "surrogateescape")
                    updates[key] = (mode, blob.id)
                    entries[key] = index_entry_from_stat(st, blob.id, mode)
            new_tree = _tree_with(store, base_tree, updates)
            if new_tree == base_tree:
                return None
            commit: Any = Commit()
            commit.tree = new_tree
            commit.parents = [head.encode()] if head else []
            commit.author = commit.committer = ident
            stamp = int(time.time()) if now is None else now
            commit.author_time = commit.commit_time = stamp
            offset = tzoffset(stamp)
            commit.author_timezone = commit.commit_timezone = offset
            commit.encoding = b"UTF-8"
            commit.message = message.encode("utf-8")
            store.add_object(commit)
            reflog = b"commit: " + message.splitlines()[0].encode("utf-8")
            log: dict[str, Any] = {
                "committer": ident,
                "timestamp": stamp,
                "timezone": offset,
                "message": reflog,
            }
            if head is None:
                target = f"refs/heads/{branch or 'main'}".encode()
                ok = self._repo.refs.add_if_new(target, commit.id, **log)
            else:
                ok = self._repo.refs.set_if_equals(b"HEAD", head.encode(), commit.id, **log)
            if not ok:
                raise FileLocked(self._index_path(), "HEAD moved while committing")
            if branch is not None:  # git logs the move in HEAD's reflog as well as the branch's
                old = head.encode() if head else b"0" * 40
                self._repo._write_reflog(b"HEAD", old, commit.id, ident, stamp, offset, reflog)
            for key, entry in entries.items():
                index[key] = entry
        self._fingerprint = None
        return str(commit.id.decode("ascii"))


def _text(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


def tzoffset(stamp: int) -> int:
    """The local UTC offset in seconds at ``stamp``, as git records it."""
    return -time.altzone if time.localtime(stamp).tm_isdst > 0 else -time.timezone


def _tree_with(store: Any, tree_id: bytes | None, updates: dict[bytes, tuple[int, bytes]]) -> bytes:
    """A new tree: ``tree_id`` with ``updates`` (path -> (mode, sha)) applied; writes changed trees."""
    tree: Any = Tree() if tree_id is None else store[tree_id].copy()
    here: dict[bytes, tuple[int, bytes]] = {}
    below: dict[bytes, dict[bytes, tuple[int, bytes]]] = {}
    for path, value in updates.items():
        head, sep, rest = path.partition(b"/")
        if sep:
            below.setdefault(head, {})[rest] = value
        else:
            here[head] = value
    for name, (mode, sha) in here.items():
        tree[name] = (mode, sha)
    for name, sub in below.items():
        existing = tree[name] if name in tree else None
        sub_id = existing[1] if existing is not None and stat.S_ISDIR(existing[0]) else None
        tree[name] = (stat.S_IFDIR, _tree_with(store, sub_id, sub))
    if tree_id is not None and tree.id == tree_id:
        return tree_id
    store.add_object(tree)
    return bytes(tree.id)
