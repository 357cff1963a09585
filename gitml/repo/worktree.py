"""The git repository, through dulwich: the only module of gitml that imports dulwich.

``GitRepo`` answers the questions tracking asks of git — where the work tree is,
which commit and branch are checked out, what a path holds at a revision, what the
index stages — and, through its parts in :mod:`gitml.repo.status` (is the tree
dirty, and the diff) and :mod:`gitml.repo.commit` (a commit of a few paths on top
of HEAD, leaving every other change alone), everything else tracking needs.
"""

from __future__ import annotations

import os
import stat
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dulwich.errors import NotGitRepository
from dulwich.repo import Repo

from gitml._types import StrPath
from gitml.exceptions import RepoNotFoundError, RevisionNotFoundError
from gitml.gitdir import discover_root
from gitml.repo.commit import Committer, tzoffset
from gitml.repo.objects import tree_entries
from gitml.repo.status import (
    UNTRACKED_DIFF_BUDGET,
    UNTRACKED_DIFF_LIMIT,
    UNTRACKED_NAMED_MAX,
    SourceState,
    WorkTreeStatus,
)

# dulwich.index (~20 ms to import) is imported where the index is read or written, so commands
# that only read commits and trees (diff, runs --rev, get) do not pay for it.

__all__ = [
    "UNTRACKED_DIFF_BUDGET",
    "UNTRACKED_DIFF_LIMIT",
    "UNTRACKED_NAMED_MAX",
    "GitRepo",
    "SourceState",
    "StagedFile",
    "discover_root",
    "tzoffset",
]


@dataclass(frozen=True)
class StagedFile:
    """A path whose staged (index) content differs from HEAD: added or modified, not deleted."""

    path: str
    mode: int
    sha: str


class GitRepo(WorkTreeStatus, Committer):
    """A git work tree opened with dulwich (status: gitml.repo.status; commits: gitml.repo.commit)."""

    def __init__(self, root: StrPath) -> None:
        try:
            self._repo = Repo(str(root))
        except NotGitRepository as exc:
            raise RepoNotFoundError(f"not a git repository: {root}", hint="run `git init` first") from exc
        self.root = Path(self._repo.path).resolve()
        self._fingerprint = None
        self._source = None
        self._walk_dirs = []
        self._tracked = None

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


def _text(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")
