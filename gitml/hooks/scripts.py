"""The hook files gitml writes (pure): POSIX sh shims that hand everything to ``gitml hooks run``.

A shim holds no logic. It runs gitml with the interpreter that installed it
(recorded at install time, so a hook started from an IDE without the virtualenv
on PATH still finds it), else ``gitml`` on PATH. The hook it replaced, if any, is
kept beside it as ``<name>.pre-gitml``; ``gitml hooks run`` calls that one first,
with the same arguments and input. The interpreter is started with ``-c`` code
that drops the current directory from ``sys.path``, so a ``gitml/`` folder in the
work tree (where git runs hooks) is never imported instead of the real package.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CHAINED_SUFFIX",
    "HOOK_NAMES",
    "MARKER",
    "REFUSING_HOOKS",
    "chained_path",
    "is_gitml_hook",
    "render",
    "sh_quote",
]

#: The hooks gitml installs, in the order they are listed.
HOOK_NAMES = ("pre-commit", "pre-push", "post-checkout", "post-merge")
#: Hooks whose failure stops git (the others only report, and always let git go on).
REFUSING_HOOKS = frozenset({"pre-commit", "pre-push"})
#: The hook that was there before gitml's, kept beside it under this suffix and chained to.
CHAINED_SUFFIX = ".pre-gitml"
#: The line that marks a hook file as gitml's (what uninstall removes).
MARKER = b"# gitml-hook: "

#: Python code that runs the gitml CLI without importing anything from the current directory.
_ENTRY = "import sys; sys.path = [p for p in sys.path if p]; from gitml.cli import main; main()"

_HEADER = """\
#!/bin/sh
# gitml-hook: {name}
# Installed by `gitml hooks install`; `gitml hooks uninstall` removes it and puts back the hook it
# replaced ({name}{suffix}), which `gitml hooks run` runs first with the same arguments and input.
# To skip gitml's part once: GITML_HOOKS_SKIP=1 git ...
"""

_RECORDED = """\
gitml_python={python}
if [ -x "$gitml_python" ]; then
    exec "$gitml_python" -c {entry} hooks run --hook-path "$0" {name} "$@"
fi
"""

_ON_PATH = """\
if command -v gitml >/dev/null 2>&1; then
    exec gitml hooks run --hook-path "$0" {name} "$@"
fi
"""

_REFUSE = """\
echo "gitml hook {name}: gitml is not installed{where}; install it, or bypass once with --no-verify" >&2
exit 1
"""

_ALLOW = """\
echo "gitml hook {name}: gitml is not installed{where}; skipped" >&2
chained="$(dirname -- "$0")/{name}{suffix}"
if [ -x "$chained" ]; then
    exec "$chained" "$@"
fi
exit 0
"""


def sh_quote(text: str) -> str:
    """``text`` as one POSIX sh word: single-quoted, with ``'`` written as ``'\\''``."""
    return "'" + text.replace("'", "'\\''") + "'"


def render(name: str, python: str | None = None) -> bytes:
    """The hook file for ``name``: run by ``python`` if given (and still there), else ``gitml`` on PATH."""
    if name not in HOOK_NAMES:
        raise ValueError(f"not a gitml hook: {name!r}")
    parts = [_HEADER.format(name=name, suffix=CHAINED_SUFFIX)]
    where = " (not on PATH)"
    if python is not None:
        parts.append(_RECORDED.format(python=sh_quote(python), entry=sh_quote(_ENTRY), name=name))
        where = " (not at $gitml_python, not on PATH)"
    parts.append(_ON_PATH.format(name=name))
    tail = _REFUSE if name in REFUSING_HOOKS else _ALLOW
    parts.append(tail.format(name=name, where=where, suffix=CHAINED_SUFFIX))
    return os.fsencode("".join(parts))


def is_gitml_hook(data: bytes) -> bool:
    """Whether a hook file's bytes are a shim gitml wrote."""
    return MARKER in data[:200]


def chained_path(hook_path: str | os.PathLike[str], name: str) -> Path:
    """Where the hook that ``name`` replaced is kept: beside ``hook_path``, as ``<name>.pre-gitml``.

    Named after the hook, not after ``hook_path``: a tool that moved gitml's shim aside
    (pre-commit keeps it as ``<name>.legacy``) still finds the hook gitml replaced.
    """
    return Path(hook_path).parent / f"{name}{CHAINED_SUFFIX}"
