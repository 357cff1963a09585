"""Committing a few paths (a run's folder) on top of HEAD, leaving every other change alone."""

from __future__ import annotations

import os
import random
import stat
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dulwich.file import FileLocked
from dulwich.objects import Blob, Commit, Tree

from gitml.exceptions import GitError
from gitml.repo.base import RepoBase

if TYPE_CHECKING:
    from dulwich.index import IndexEntry

__all__ = ["Committer", "tzoffset"]


class Committer(RepoBase):
    """The committing part of GitRepo."""

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
