"""``gitml hooks``: install, uninstall, status, and ``run`` (what the installed hooks call)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from gitml.cli.artifacts import _mb
from gitml.hooks.scripts import HOOK_NAMES

if TYPE_CHECKING:
    from gitml.hooks.checkout import CheckoutReport
    from gitml.hooks.precommit import PreCommitReport
    from gitml.workspace import Workspace

__all__ = ["hooks"]

_hook_option = click.option(
    "--hook",
    "names",
    multiple=True,
    type=click.Choice(HOOK_NAMES),
    help="Only this hook (repeatable; default: all four).",
)


def _workspace(repo: str | None) -> Workspace:
    from gitml.workspace import Workspace

    return Workspace.find(repo)


@click.group()
def hooks() -> None:
    """Git hooks: push artifacts with git push, report missing ones after checkout, guard commits."""


@hooks.command()
@_hook_option
@click.pass_obj
def install(repo: str | None, names: tuple[str, ...]) -> None:
    """Install gitml's git hooks; a hook already there is kept and still runs first."""
    from gitml.hooks.install import install as do_install

    for change in do_install(_workspace(repo), names):
        extra = f" (runs {change.chained.name} first)" if change.chained else ""
        click.echo(f"{change.action:<10} {change.path}{extra}")


@hooks.command()
@_hook_option
@click.pass_obj
def uninstall(repo: str | None, names: tuple[str, ...]) -> None:
    """Remove gitml's git hooks and put back the hooks they replaced."""
    from gitml.hooks.install import uninstall as do_uninstall

    for change in do_uninstall(_workspace(repo), names):
        if change.action == "restored":
            click.echo(f"restored   {change.path} (was {change.chained.name if change.chained else ''})")
        elif change.action == "kept-foreign":
            click.echo(f"kept       {change.path} (not gitml's hook)")
        else:
            click.echo(f"{change.action.replace('-', ' '):<10} {change.path}")


@hooks.command()
@_hook_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status(repo: str | None, names: tuple[str, ...], as_json: bool) -> None:
    """Which of gitml's hooks are installed, and what they chain to."""
    from gitml.hooks.install import status as hook_status

    states = hook_status(_workspace(repo), names)
    if as_json:
        from gitml.cli.render import dumps

        rows = [
            {"hook": s.name, "path": str(s.path), "state": s.state, "chained": s.chained and str(s.chained)}
            for s in states
        ]
        click.echo(dumps(rows))
        return
    words = {
        "gitml": "installed",
        "gitml-outdated": "installed by another gitml (gitml hooks install updates it)",
        "other": "not gitml's (gitml hooks install keeps it and runs it first)",
        "absent": "not installed",
    }
    for s in states:
        extra = f"; runs {s.chained.name} first" if s.chained and s.state.startswith("gitml") else ""
        click.echo(f"{s.name:<14} {words[s.state]}{extra}  {s.path}")


@hooks.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    short_help="Run a hook (git calls this).",
)
@click.option(
    "--hook-path", metavar="PATH", help="The installed hook file (its replaced hook sits beside it)."
)
@click.argument("name", type=click.Choice(HOOK_NAMES))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def run(repo: str | None, hook_path: str | None, name: str, args: tuple[str, ...]) -> None:
    """Run gitml's part of the hook NAME with git's ARGS (and, for pre-push, git's stdin)."""
    import os

    from gitml.hooks.runner import run_hook, wants_stdin

    stdin = b""
    if wants_stdin(name, args, os.environ) and not sys.stdin.isatty():
        stdin = sys.stdin.buffer.read()
    # git runs hooks at the top of the work tree: that repository, whatever $GITML_REPO says.
    outcome = run_hook(_workspace(repo or "."), name, args, stdin=stdin, hook_path=hook_path, env=os.environ)
    if outcome.skipped is None:
        _render(outcome.report)
    if outcome.error is not None:
        click.echo(f"gitml: warning: {name}: {outcome.error.message} (git went on)", err=True)
    if outcome.exit_code:
        click.get_current_context().exit(outcome.exit_code)


def _render(report: object) -> None:
    from gitml.hooks.checkout import CheckoutReport
    from gitml.hooks.precommit import PreCommitReport
    from gitml.hooks.prepush import PrePushResult

    if isinstance(report, PrePushResult):
        if report.transferred:
            click.echo(
                f"gitml: pushed {report.transferred} artifact object(s), {_mb(report.transferred_bytes)}, "
                f"to {report.remote}",
                err=True,
            )
    elif isinstance(report, CheckoutReport):
        _render_checkout(report)
    elif isinstance(report, PreCommitReport) and not report.ok:
        _refuse_commit(report)


def _render_checkout(report: CheckoutReport) -> None:
    if not report.runs:
        return
    if not report.pulled:
        click.echo(
            f"gitml: {len(report.runs)} run(s) here lack {report.missing} artifact object(s) in the cache; "
            "get them with: gitml pull",
            err=True,
        )
        return
    line = f"gitml: pulled {report.transferred} object(s), {_mb(report.transferred_bytes)}"
    if report.remote:
        line += f", from {report.remote}"
    if report.restored:
        line += f"; restored {len(report.restored)} output(s)"
    click.echo(line, err=True)
    if report.still_missing:
        click.echo(
            f"gitml: warning: {report.still_missing} object(s) could not be pulled: {report.failure}; "
            "retry with: gitml pull",
            err=True,
        )


def _refuse_commit(report: PreCommitReport) -> None:
    import shlex

    from gitml.exceptions import CorruptRunError, UsageError

    for problem in report.broken:
        click.echo(f"  {problem.path}: {problem.reason}", err=True)
    for problem in report.large:
        click.echo(f"  {problem.path}: {_mb(problem.size)} binary", err=True)
    if report.large:
        paths = [p.path for p in report.large]
        quoted = " ".join(shlex.quote(p) for p in paths)
        artifacts = " ".join(f"--artifact {shlex.quote(p)}" for p in paths)
        also = f" (and {len(report.broken)} .gitml/ file(s) that do not parse)" if report.broken else ""
        raise UsageError(
            f"{len(paths)} binary file(s) over hooks.max_file_size ({_mb(report.limit)}) "
            f"staged into git{also}",
            hint=f"keep them out of git and track them with gitml: git rm --cached -- {quoted}, then "
            f"gitml run {artifacts} -- <the command that writes them> (or gitml.log_artifact({paths[0]!r}) "
            "in a run); to commit anyway: git commit --no-verify",
        )
    raise CorruptRunError(
        f"{len(report.broken)} staged .gitml/ file(s) do not parse: {report.broken[0].reason}",
        hint="fix them and stage the fix (git add), or unstage them (git restore --staged PATH)",
    )
