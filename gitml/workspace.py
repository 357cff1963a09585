"""Where gitml keeps things in a repository: the ``.gitml/`` folder and what is in it."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from gitml._fs import atomic_write
from gitml._types import StrPath
from gitml.config import DEFAULT_CONFIG_TEXT, Config, load_config
from gitml.gitdir import discover_root

if TYPE_CHECKING:
    from gitml.repo import GitRepo

__all__ = ["GITIGNORE_TEXT", "Workspace"]

GITIGNORE_TEXT = """\
# Written by gitml: machine-local state that is never committed.
cache/
tmp/
config.local.yaml
"""


class Workspace:
    """A git work tree and its ``.gitml/`` folder."""

    def __init__(self, root: StrPath) -> None:
        self.root = Path(root).resolve()
        self.gitml_dir = self.root / ".gitml"
        self.runs_dir = self.gitml_dir / "runs"
        self.tmp_dir = self.gitml_dir / "tmp"

    def close(self) -> None:
        """Release the git repository (its pack files), if it was opened."""
        repo = self.__dict__.pop("repo", None)
        if repo is not None:
            repo.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @classmethod
    def find(cls, start: StrPath | None = None) -> Workspace:
        """The workspace for ``start``, else ``$GITML_REPO``, else the current directory."""
        if start is None:
            start = os.environ.get("GITML_REPO") or "."
        return cls(discover_root(start))

    @property
    def initialized(self) -> bool:
        return (self.gitml_dir / "config.yaml").is_file()

    def init(self) -> bool:
        """Create ``.gitml/`` with its config and .gitignore; True if anything was created."""
        created = False
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for name, text in (("config.yaml", DEFAULT_CONFIG_TEXT), (".gitignore", GITIGNORE_TEXT)):
            path = self.gitml_dir / name
            if not path.exists():
                atomic_write(path, text.encode())
                created = True
        return created

    def ensure_initialized(self) -> None:
        if not self.initialized:
            self.init()

    @cached_property
    def config(self) -> Config:
        return load_config(self.gitml_dir)

    @cached_property
    def repo(self) -> GitRepo:
        from gitml.repo import GitRepo

        return GitRepo(self.root)

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def relpath(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()
