"""Whether the work tree differs from HEAD, and the diff: the source state a run records."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gitml.repo.base import RepoBase

__all__ = [
    "UNTRACKED_DIFF_BUDGET",
    "UNTRACKED_DIFF_LIMIT",
    "UNTRACKED_NAMED_MAX",
    "SourceState",
    "WorkTreeStatus",
]

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


def _excluded(path: str, excludes: tuple[str, ...]) -> bool:
    return any(path == e or path.startswith(e + "/") for e in excludes)


class WorkTreeStatus(RepoBase):
    """The source-state part of GitRepo (cached behind a fingerprint of the work tree)."""

    _source: SourceState | None
    _walk_dirs: list[str]
    _tracked: tuple[Any, list[str]] | None

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
