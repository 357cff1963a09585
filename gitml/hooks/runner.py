"""``gitml hooks run NAME ARGS...``: what a hook does when git (or the pre-commit framework) runs it.

First the hook gitml replaced, if any (``<name>.pre-gitml`` beside the shim), with
the same arguments and the same stdin; if it refuses a commit or a push, gitml's
part does not run and its exit code is the hook's. Then gitml's part, unless
``GITML_HOOKS_SKIP=1``. A pre-commit or pre-push problem is raised (git stops);
post-checkout and post-merge never fail git: their error is returned for the CLI
to print, and the exit code is the replaced hook's (or 0).

Run by the pre-commit framework, a hook gets no arguments and no stdin but
``PRE_COMMIT_*`` variables, which are read instead.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gitml.exceptions import GitMLError, UsageError
from gitml.hooks.scripts import HOOK_NAMES, REFUSING_HOOKS, chained_path, is_gitml_hook
from gitml.workspace import Workspace

__all__ = ["HookOutcome", "run_chained", "run_hook", "wants_stdin"]

SKIP_VARIABLE = "GITML_HOOKS_SKIP"


@dataclass
class HookOutcome:
    name: str
    #: The replaced hook's exit code, if one ran.
    chained_exit: int | None = None
    #: Why gitml's part did not run (skipped by the environment, or the replaced hook refused).
    skipped: str | None = None
    #: What gitml's part found: a PrePushResult, CheckoutReport or PreCommitReport.
    report: object = None
    #: post-checkout / post-merge only: what went wrong (never raised, git must go on).
    error: GitMLError | None = None

    @property
    def exit_code(self) -> int:
        return self.chained_exit or 0


def framework_mode(name: str, args: Sequence[str], env: Mapping[str, str]) -> bool:
    """Whether the pre-commit framework runs this hook (no git arguments, its PRE_COMMIT_* variables)."""
    if args:
        return False
    probe = {
        "pre-push": "PRE_COMMIT_REMOTE_NAME",
        "post-checkout": "PRE_COMMIT_CHECKOUT_TYPE",
        "post-merge": "PRE_COMMIT_IS_SQUASH_MERGE",
    }.get(name)
    return probe is not None and probe in env


def wants_stdin(name: str, args: Sequence[str], env: Mapping[str, str]) -> bool:
    """Whether git gives this hook input: pre-push, unless the framework (which keeps it) runs it."""
    return name == "pre-push" and not framework_mode(name, args, env)


def run_chained(path: os.PathLike[str] | str, args: Sequence[str], stdin: bytes) -> int | None:
    """Run the hook gitml replaced, as git would have; None when there is none (or not executable).

    A script without a ``#!`` line is run by ``/bin/sh``, as git does. Its output goes
    where gitml's goes (the terminal of ``git commit`` / ``git push``).
    """
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        return None
    with open(path, "rb") as f:
        if is_gitml_hook(f.read(200)):
            return None  # a copy of gitml's own shim: running it would loop
    command = [os.fspath(path), *args]
    try:
        return subprocess.run(command, input=stdin, check=False).returncode
    except OSError as exc:
        if exc.errno != errno.ENOEXEC:
            raise UsageError(f"cannot run the chained hook {os.fspath(path)}: {exc.strerror}") from exc
    return subprocess.run(["/bin/sh", *command], input=stdin, check=False).returncode


def run_hook(
    ws: Workspace,
    name: str,
    args: Sequence[str],
    *,
    stdin: bytes = b"",
    hook_path: str | None = None,
    env: Mapping[str, str] | None = None,
) -> HookOutcome:
    """Run the chained hook, then gitml's part of ``name``; see the module docstring for exit rules."""
    if name not in HOOK_NAMES:
        raise UsageError(f"unknown hook {name!r}", hint=f"gitml runs {', '.join(HOOK_NAMES)}")
    env = os.environ if env is None else env
    outcome = HookOutcome(name)
    if hook_path is not None:
        outcome.chained_exit = run_chained(chained_path(hook_path, name), args, stdin)
    if outcome.chained_exit and name in REFUSING_HOOKS:
        outcome.skipped = f"the chained {name} hook refused (exit {outcome.chained_exit})"
        return outcome
    if env.get(SKIP_VARIABLE, "") not in ("", "0"):
        outcome.skipped = f"{SKIP_VARIABLE} is set"
        return outcome
    if name in REFUSING_HOOKS:
        outcome.report = _refusing_part(ws, name, args, stdin, env)
        return outcome
    try:
        outcome.report = _reporting_part(ws, name, args, env)
    except GitMLError as exc:
        outcome.error = exc
    except Exception as exc:  # a post-checkout/post-merge failure must never fail git's command
        outcome.error = GitMLError(f"unexpected {type(exc).__name__}: {str(exc)[:200]}")
    return outcome


def _refusing_part(
    ws: Workspace, name: str, args: Sequence[str], stdin: bytes, env: Mapping[str, str]
) -> object:
    if name == "pre-commit":
        from gitml.hooks.precommit import pre_commit

        index = env.get("GIT_INDEX_FILE") or None
        return pre_commit(ws, index_path=os.path.abspath(index) if index else None)
    from gitml.hooks.prepush import framework_updates, parse_push_lines, pre_push

    if framework_mode(name, args, env):
        return pre_push(ws, framework_updates(env), env.get("PRE_COMMIT_REMOTE_NAME"))
    return pre_push(ws, parse_push_lines(stdin), args[0] if args else None)


def _reporting_part(ws: Workspace, name: str, args: Sequence[str], env: Mapping[str, str]) -> object:
    if name == "post-checkout":
        flag = "1"  # run by hand, with no arguments: check
        if framework_mode(name, args, env):
            flag = env.get("PRE_COMMIT_CHECKOUT_TYPE", "")
        elif len(args) >= 3:
            flag = args[2]
        if flag != "1":  # a file checkout (git checkout -- path) changes no run
            return None
    from gitml.hooks.checkout import after_checkout

    return after_checkout(ws)
