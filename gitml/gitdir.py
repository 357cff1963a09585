"""Finding the git work tree around a path, without importing git libraries (a cheap start-up)."""

from __future__ import annotations

from pathlib import Path

from gitml._types import StrPath
from gitml.exceptions import RepoNotFoundError

__all__ = ["discover_root"]


def discover_root(start: StrPath = ".") -> Path:
    """The work-tree root of the git repository containing ``start``.

    A ``.git`` directory or file (worktrees and submodules use a file) marks the root.
    """
    path = Path(start).resolve()
    if not path.exists():
        raise RepoNotFoundError(f"no such directory: {path}")
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    raise RepoNotFoundError(
        f"not inside a git repository: {path}",
        hint="run `git init` first (gitml keeps runs in the repository), or pass --repo PATH",
    )
