"""Putting gitml's hooks into a repository, taking them out again, and saying what is there.

Installing never overwrites: a hook that is already there (a file or a symlink)
is renamed to ``<name>.pre-gitml`` and gitml's shim, which runs it first, takes
its place. Installing again changes nothing; uninstalling removes the shim and
renames the kept hook back, so the hooks folder is as it was. The folder is the
one git uses: ``core.hooksPath`` if set, else the common git dir's ``hooks/``
(shared by linked worktrees).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gitml._fs import atomic_write
from gitml.exceptions import GitError, UsageError
from gitml.hooks.scripts import HOOK_NAMES, chained_path, is_gitml_hook, render
from gitml.workspace import Workspace

__all__ = ["HookChange", "HookState", "check_names", "install", "status", "uninstall"]


@dataclass(frozen=True)
class HookChange:
    """What install or uninstall did to one hook.

    ``action``: installed, updated, unchanged, removed, restored, not-installed, or
    kept-foreign (uninstall found a hook that is not gitml's and left it).
    """

    name: str
    path: Path
    action: str
    #: The replaced hook gitml chains to (install) or put back (uninstall).
    chained: Path | None = None


@dataclass(frozen=True)
class HookState:
    """One hook as it is: ``state`` is gitml, gitml-outdated, other or absent."""

    name: str
    path: Path
    state: str
    chained: Path | None = None


def check_names(names: Sequence[str] | None) -> tuple[str, ...]:
    if not names:
        return HOOK_NAMES
    unknown = [n for n in names if n not in HOOK_NAMES]
    if unknown:
        raise UsageError(f"unknown hook {unknown[0]!r}", hint=f"choose from {', '.join(HOOK_NAMES)}")
    return tuple(dict.fromkeys(names))


def _read(path: Path) -> bytes | None:
    """The hook's bytes; None if there is none; b"" for one that cannot be read (a dangling symlink)."""
    if not os.path.lexists(path):
        return None
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _write_executable(path: Path, data: bytes) -> None:
    """Replace ``path`` with an executable file holding ``data`` (never a moment without the x bit)."""
    atomic_write(path, data, fsync=False, mode=0o755)  # less the umask, as git's own hooks


def install(
    ws: Workspace, names: Sequence[str] | None = None, *, python: str | None = sys.executable
) -> list[HookChange]:
    """Install gitml's hooks (default: all of them), chaining to any hook already there."""
    chosen = check_names(names)
    directory = ws.repo.hooks_dir()
    plans: list[tuple[str, Path, Path, bytes | None]] = []
    for name in chosen:
        path = directory / name
        kept = chained_path(path, name)
        current = _read(path)
        if current is not None and not is_gitml_hook(current) and os.path.lexists(kept):
            raise GitError(
                f"cannot install the {name} hook: {path} is not gitml's, and {kept.name} "
                "(a hook gitml kept earlier) is there too",
                hint=f"merge one into the other or move {kept} away, then run gitml hooks install again",
            )
        plans.append((name, path, kept, current))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GitError(f"cannot create the hooks folder {directory}: {exc.strerror}") from exc
    changes = []
    for name, path, kept, current in plans:
        want = render(name, python)
        chained = kept if os.path.lexists(kept) else None
        try:
            if current is not None and is_gitml_hook(current):
                if current == want and os.access(path, os.X_OK):
                    changes.append(HookChange(name, path, "unchanged", chained))
                    continue
                _write_executable(path, want)
                changes.append(HookChange(name, path, "updated", chained))
                continue
            if current is not None:
                os.rename(path, kept)
                chained = kept
            _write_executable(path, want)
        except OSError as exc:
            raise GitError(f"cannot write the {name} hook {path}: {exc.strerror or exc}") from exc
        changes.append(HookChange(name, path, "installed", chained))
    return changes


def uninstall(ws: Workspace, names: Sequence[str] | None = None) -> list[HookChange]:
    """Remove gitml's hooks and put back the hooks they replaced."""
    directory = ws.repo.hooks_dir()
    changes = []
    for name in check_names(names):
        path = directory / name
        kept = chained_path(path, name)
        current = _read(path)
        has_kept = os.path.lexists(kept)
        try:
            if current is not None and not is_gitml_hook(current):
                changes.append(HookChange(name, path, "kept-foreign", kept if has_kept else None))
                continue
            if current is not None:
                os.unlink(path)
            if has_kept:
                os.rename(kept, path)
                changes.append(HookChange(name, path, "restored", kept))
            else:
                changes.append(HookChange(name, path, "removed" if current is not None else "not-installed"))
        except OSError as exc:
            raise GitError(f"cannot uninstall the {name} hook {path}: {exc.strerror or exc}") from exc
    return changes


def status(
    ws: Workspace, names: Sequence[str] | None = None, *, python: str | None = sys.executable
) -> list[HookState]:
    """Each hook: gitml's (as this gitml would write it, or not), another one, or none."""
    directory = ws.repo.hooks_dir()
    out = []
    for name in check_names(names):
        path = directory / name
        kept = chained_path(path, name)
        current = _read(path)
        if current is None:
            state = "absent"
        elif not is_gitml_hook(current):
            state = "other"
        else:
            state = "gitml" if current == render(name, python) else "gitml-outdated"
        out.append(HookState(name, path, state, kept if os.path.lexists(kept) else None))
    return out
