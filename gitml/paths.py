"""The one place that decides whether a string from data may become a path or a key.

Everything that turns user or file content into a filesystem path, a git ref
component or a column key goes through here: run ids, metric/param/tag keys and
relative artifact paths. Rejections raise :class:`InvalidNameError` with the
offending value quoted (``repr``) so control characters show.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from gitml.exceptions import InvalidNameError

__all__ = ["check_key", "check_relpath", "check_source", "contained_path"]

_KEY_RE = re.compile(r"[A-Za-z0-9_\-. /:]+")
MAX_KEY_LENGTH = 250


def check_key(key: object, *, what: str = "key") -> str:
    """Validate a metric, param or tag key and return it.

    Keys may hold letters, digits, ``_ - . / :`` and spaces (MLflow's set plus
    ``:``); they may not be empty, start or end with a space or ``/``, or hold a
    ``.``/``..`` path component, because keys end up as CSV cells, YAML keys and,
    later, file names of plots.
    """
    if not isinstance(key, str):
        raise InvalidNameError(f"{what} must be a string, not {type(key).__name__}: {key!r}")
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidNameError(f"{what} must be 1 to {MAX_KEY_LENGTH} characters: {key!r}")
    if _KEY_RE.fullmatch(key) is None:
        raise InvalidNameError(
            f"invalid {what} {key!r}",
            hint="use letters, digits, '_', '-', '.', '/', ':' and spaces (no commas, quotes or newlines)",
        )
    if key != key.strip() or key.startswith("/") or key.endswith("/"):
        raise InvalidNameError(f"invalid {what} {key!r}: no leading/trailing space or '/'")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidNameError(f"invalid {what} {key!r}: empty, '.' or '..' path component")
    return key


# Control characters (C0, DEL, C1), YAML line breaks (U+2028/9), BOM, non-characters and lone surrogates
# (a non-UTF-8 file name as os.listdir decodes it) cannot be written faithfully to artifacts.yaml.
_BAD_COMPONENT_CHARS = re.compile(
    '[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff\\\\:*?"<>|%]'
)


def check_relpath(path: object, *, what: str = "path") -> PurePosixPath:
    """Validate a relative POSIX path that came from data and return it.

    Refuses absolute paths, drive letters, backslashes, ``.``/``..`` components,
    percent-encoding (``%2e%2e``), control characters and NUL, characters that are
    not UTF-8 text or that YAML reads as line breaks, and components ending in a
    dot or a space (which Windows silently strips).
    """
    if not isinstance(path, str) or not path:
        raise InvalidNameError(f"{what} must be a non-empty string: {path!r}")
    if path.startswith("/") or re.match(r"[A-Za-z]:", path):
        raise InvalidNameError(f"{what} must be relative: {path!r}")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidNameError(f"{what} may not hold empty, '.' or '..' components: {path!r}")
        if _BAD_COMPONENT_CHARS.search(part) or part.endswith((".", " ")):
            raise InvalidNameError(f"{what} holds a character gitml refuses in paths: {path!r}")
    return PurePosixPath(*parts)


def contained_path(root: str | os.PathLike[str], relpath: str, *, what: str = "path") -> Path:
    """Join a validated relative path under ``root``; refuse symlinks that lead out of it."""
    rel = check_relpath(relpath, what=what)
    base = Path(root).resolve()
    target = base.joinpath(*rel.parts)
    resolved = target.resolve()
    if resolved != base and base not in resolved.parents:
        raise InvalidNameError(f"{what} {relpath!r} leads outside {base} (through a symlink)")
    return target


def check_source(path: str | os.PathLike[str], *, repo_root: str | os.PathLike[str]) -> Path:
    """A file or directory about to be read into the cache; refuse symlinks that lead out of the repo.

    A path that is (or passes through) a symlink must resolve inside ``repo_root``
    and not into its ``.git/`` folder; a plain path may be anywhere the caller
    named (``/tmp/model.bin``).
    """
    given = Path(path)
    absolute = given if given.is_absolute() else Path.cwd() / given
    resolved = absolute.resolve()
    if resolved == Path(os.path.abspath(absolute)):
        return resolved
    root = Path(repo_root).resolve()
    git_dir = root / ".git"
    inside = resolved == root or root in resolved.parents
    if not inside or resolved == git_dir or git_dir in resolved.parents:
        raise InvalidNameError(
            f"{os.fspath(path)!r} is a symlink to {str(resolved)!r}, outside the repository or inside .git/",
            hint="copy the file into the repository, or log the real path",
        )
    return resolved
