"""Where projects' checkouts and environments are cached, per user (never inside a repository).

``GITML_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/gitml``, else ``~/.cache/gitml``;
projects use ``<that>/projects/{repos,checkouts,envs}``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["projects_cache"]


def projects_cache(kind: str) -> Path:
    """The folder for ``kind`` (``repos``, ``checkouts`` or ``envs``), created if missing."""
    base = os.environ.get("GITML_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = os.path.join(xdg, "gitml") if xdg else os.path.join(os.path.expanduser("~"), ".cache", "gitml")
    path = Path(base) / "projects" / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
