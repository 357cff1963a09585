"""What the parts of :class:`gitml.repo.worktree.GitRepo` share: the dulwich repo, HEAD, the index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["RepoBase"]


class RepoBase:
    """The state every part of GitRepo reads (set by ``GitRepo.__init__``)."""

    # dulwich's NewType'd ids (Ref, ObjectID) would need a cast at every call: keep it Any here.
    _repo: Any
    root: Path
    #: The work-tree fingerprint the cached source state belongs to (reset by a commit).
    _fingerprint: tuple[Any, ...] | None

    def head(self) -> tuple[str | None, str | None]:
        """``(commit, branch)``: the checked-out commit (None if empty) and branch (None if detached)."""
        refs = self._repo.refs
        chain, sha = refs.follow(b"HEAD")
        target = chain[-1] if chain else b"HEAD"
        branch = None
        if target.startswith(b"refs/heads/"):
            branch = target[len(b"refs/heads/") :].decode("utf-8", "replace")
        return (sha.decode("ascii") if sha else None), branch

    def _index_path(self) -> str:
        return str(self._repo.index_path())
