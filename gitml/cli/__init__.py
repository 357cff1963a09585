"""The ``gitml`` command line: parse, call one ``gitml.api`` function, render.

The error boundary lives in :class:`GitMLGroup`: a ``GitMLError`` becomes
``Error: <message>`` (and ``Hint: <hint>``) on stderr with the exception's exit
code; anything else is reported in one line as unexpected (exit 70). With
``--traceback`` (or ``GITML_TRACEBACK=1``) the traceback is shown instead.
Heavy modules are imported inside the commands, so ``gitml --help`` stays fast.
"""

from __future__ import annotations

import os
from typing import Any

import click

from gitml._version import __version__

__all__ = ["main"]

UNEXPECTED_EXIT = 70


class GitMLGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        from gitml.exceptions import GitMLError

        try:
            return super().invoke(ctx)
        except GitMLError as exc:
            if _traceback_wanted(ctx):
                raise
            click.echo(f"Error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"Hint: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("Aborted.", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # `gitml ls ... | head`: the reader left; say nothing more, as other tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            ctx.exit(141)
        except Exception as exc:
            if _traceback_wanted(ctx):
                raise
            text = str(exc).splitlines()[0] if str(exc) else ""
            click.echo(f"Error: unexpected {type(exc).__name__}: {text}", err=True)
            click.echo("Hint: rerun with --traceback to see where, and report it", err=True)
            ctx.exit(UNEXPECTED_EXIT)


def _traceback_wanted(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.meta.get("gitml.traceback")) or os.environ.get("GITML_TRACEBACK") == "1"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"gitml {__version__}")
        ctx.exit(0)


@click.group(cls=GitMLGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version.",
)
@click.option(
    "--repo",
    "-C",
    metavar="PATH",
    default=None,
    help="Work in the git repository at PATH instead of the current directory.",
)
@click.option("--traceback", is_flag=True, help="Show the full traceback on errors.")
@click.pass_context
def cli(ctx: click.Context, repo: str | None, traceback: bool) -> None:
    """gitml: experiment tracking that lives in your git repository.

    Runs, params and metrics are plain files under .gitml/ that you commit with
    your code.
    """
    ctx.meta["gitml.traceback"] = traceback
    ctx.obj = repo


@cli.command()
@click.pass_obj
def init(repo: str | None) -> None:
    """Create .gitml/ in this git repository (safe to repeat)."""
    from gitml import api

    result = api.init(repo)
    state = "Initialised" if result.created else "Already initialised:"
    click.echo(f"{state} {result.root}")


@cli.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    short_help="Run a command, or a project, as a tracked run.",
)
@click.option("--name", "-n", help="Run name (default: a random readable name).")
@click.option("--experiment", "-x", help="Experiment name (default: from config, or 'default').")
@click.option(
    "-P",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A param to record; for a project, a parameter of the entry point (repeatable).",
)
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Set a tag (repeatable).")
@click.option("--commit", is_flag=True, help="Commit the run's folder (and nothing else) when it ends.")
@click.option(
    "--artifact",
    "artifacts",
    multiple=True,
    metavar="PATH",
    help="A file or directory the command writes: stored by hash as an output of the run (repeatable).",
)
@click.option("--rev", metavar="REV", help="Project: the branch, tag or commit to run (default: HEAD).")
@click.option("-e", "--entry-point", metavar="NAME", help="Project: the entry point to run (default: main).")
@click.option(
    "--env-manager",
    type=click.Choice(["local", "venv"]),
    help="Project: run in this interpreter (local) or a cached venv built from its requirements.",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(
    ctx: click.Context,
    name: str | None,
    experiment: str | None,
    params: tuple[str, ...],
    tags: tuple[str, ...],
    commit: bool,
    artifacts: tuple[str, ...],
    rev: str | None,
    entry_point: str | None,
    env_manager: str | None,
    command: tuple[str, ...],
) -> None:
    """Run a command as a tracked run, or run a project.

    \b
    gitml run [OPTIONS] -- COMMAND [ARGS]...       a command, in this repository
    gitml run [OPTIONS] [URL[#SUBDIR]]             a project (gitml.yaml or MLproject):
                                                   this repository's, or any git URL at --rev

    A command run records the command, the commit it ran on (with the diff if the
    tree was dirty), params from -P and from params.yaml, metrics from the metrics
    files it writes and from gitml.log_metric calls in it, and its output. A project
    run fetches the project at --rev (resolved to the full sha, cached), prepares its
    environment (--env-manager), type-checks -P against the entry point, runs the
    entry point's command (parameters as separate arguments, never through a shell),
    and records the URL, commit, entry point, parameters and package versions too.
    Exits with the command's exit code.
    """
    from gitml import api

    is_project = not command or (command[0] != "--" and _looks_like_project(command[0]))
    if is_project:
        if artifacts or commit:
            raise click.UsageError("--artifact and --commit are for command runs (gitml run -- COMMAND)")
        uri = command[0] if command else None
        if len(command) > 1:  # options after the URL: `gitml run URL --rev SHA -P k=v`
            more = _PROJECT_OPTIONS.make_context("gitml run URL", list(command[1:]), parent=ctx).params
            rev, entry_point, env_manager = (
                more["rev"] or rev,
                more["entry_point"] or entry_point,
                more["env_manager"] or env_manager,
            )
            name, experiment = more["name"] or name, more["experiment"] or experiment
            params, tags = params + tuple(more["params"]), tags + tuple(more["tags"])
        handle = api.run_project(
            uri,
            repo=ctx.obj,
            entry_point=entry_point or "main",
            params=params,
            version=rev,
            env_manager=env_manager,
            name=name,
            experiment=experiment,
            tags=tags,
        )
        for warning in handle.warnings:
            click.echo(f"warning: {warning}", err=True)
        seconds = (handle.duration_ms or 0) / 1000
        where = f"{handle.url}@{(handle.commit or '')[:12]}" if handle.url else "this repository"
        click.echo(
            f"gitml: run {handle.run_id} ({handle.entry_point} of {where}) {handle.status} in {seconds:.1f}s",
            err=True,
        )
        ctx.exit(handle.exit_code or 0)
    if rev or entry_point or env_manager:
        raise click.UsageError("--rev, --entry-point and --env-manager are for projects, not commands")
    argv = list(command[1:] if command and command[0] == "--" else command)
    result = api.run(
        argv,
        repo=ctx.obj,
        name=name,
        experiment=experiment,
        params=params,
        tags=tags,
        commit=commit,
        artifacts=artifacts,
    )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    seconds = (result.duration_ms or 0) / 1000
    line = f"gitml: run {result.run_id} ({result.name}) {result.status} in {seconds:.1f}s"
    if result.commit:
        line += f", committed as {result.commit[:12]}"
    click.echo(line, err=True)
    ctx.exit(result.exit_code)


_PROJECT_OPTIONS = click.Command(
    "run",
    params=[
        click.Option(["--rev"]),
        click.Option(["-e", "--entry-point", "entry_point"]),
        click.Option(["--env-manager"], type=click.Choice(["local", "venv"])),
        click.Option(["-P", "--param", "params"], multiple=True),
        click.Option(["--tag", "tags"], multiple=True),
        click.Option(["--name", "-n"]),
        click.Option(["--experiment", "-x"]),
    ],
)


def _looks_like_project(arg: str) -> bool:
    """A lone argument that names a project rather than a program: a URL, scp-like, #subdir, or a folder."""
    import os

    if "://" in arg or "::" in arg or "#" in arg or arg.endswith(".git"):
        return True
    if ":" in arg.split("/", 1)[0] and "@" in arg.split(":", 1)[0]:
        return True  # user@host:path
    return os.path.isdir(arg)


@cli.command(context_settings={"ignore_unknown_options": False})
@click.argument("run_ref", metavar="RUN")
@click.option(
    "-P", "--param", "params", multiple=True, metavar="KEY=VALUE", help="Override a recorded parameter."
)
@click.pass_context
def reproduce(ctx: click.Context, run_ref: str, params: tuple[str, ...]) -> None:
    """Run a project run again: same source, commit, entry point, parameters and environment.

    The new run is tagged gitml.reproduces=RUN; then `gitml diff RUN NEW` is shown.
    """
    from gitml import api
    from gitml.review import render

    handle, original = api.reproduce(run_ref, repo=ctx.obj, params=params)
    click.echo(f"gitml: run {handle.run_id} reproduces {original}: {handle.status}", err=True)
    result = api.diff([original, handle.run_id], repo=ctx.obj)
    click.echo(render.terminal(result))
    ctx.exit(handle.exit_code or 0)


def main() -> None:
    import atexit
    import gc

    # At exit, a final collection walks every object the run made (botocore and dulwich make
    # many): ~0.2 s after a large download. Freezing them first makes exit immediate.
    atexit.register(gc.freeze)
    cli(prog_name="gitml")


from gitml.cli import artifacts as _artifacts  # noqa: E402 - registered after the group exists
from gitml.cli import registry as _registry  # noqa: E402
from gitml.cli.hooks import hooks  # noqa: E402
from gitml.cli.plot import plot  # noqa: E402
from gitml.cli.review import diff as _diff  # noqa: E402
from gitml.cli.review import report as _report  # noqa: E402
from gitml.cli.runs import runs  # noqa: E402

cli.add_command(runs)
cli.add_command(hooks)
cli.add_command(plot)
cli.add_command(_diff)
cli.add_command(_report)
for _command in (
    _artifacts.push,
    _artifacts.pull,
    _artifacts.fetch,
    _artifacts.status,
    _artifacts.gc,
    _artifacts.verify,
    _artifacts.get,
    _artifacts.ls,
    _artifacts.remote,
    _registry.register,
    _registry.promote,
    _registry.demote,
    _registry.deprecate,
    _registry.models,
    _registry.check_ref,
):
    cli.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
