"""``gitml runs``: list, show, search and commit runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gitml.tracking.query import SearchResult

__all__ = ["runs"]

_FORMATS = click.Choice(["table", "json", "csv"])


def _format_options(f: click.decorators.FC) -> click.decorators.FC:
    f = click.option("--csv", "fmt", flag_value="csv", help="Write CSV (one row per run).")(f)
    f = click.option("--json", "fmt", flag_value="json", help="Write JSON.")(f)
    f = click.option("--format", "fmt", type=_FORMATS, default="table", show_default=True)(f)
    return f


def _query_options(f: click.decorators.FC) -> click.decorators.FC:
    f = click.option("--rev", metavar="REV", help="Read runs as they are at a commit, branch or tag.")(f)
    f = click.option("--experiment", "-x", help="Only runs of this experiment.")(f)
    f = click.option("--max-results", "-m", type=click.IntRange(min=0), help="At most this many runs.")(f)
    f = click.option(
        "--columns", "-c", metavar="COLS", help="Extra table columns, e.g. metrics.acc,params.lr."
    )(f)
    return f


@click.group()
def runs() -> None:
    """List, show, search and commit runs."""


def _emit(result: SearchResult, fmt: str, columns: Sequence[str]) -> None:
    from gitml.cli import render

    for error in result.errors:
        click.echo(f"warning: skipped a run: {error.message}", err=True)
    if fmt == "json":
        click.echo(render.dumps([render.run_json(s) for s in result.runs]))
    elif fmt == "csv":
        click.echo(render.runs_csv(result.runs), nl=False)
    elif not result.runs:
        click.echo("No runs.", err=True)
    else:
        headers = [*render.BASE_COLUMNS, *columns]
        click.echo(render.table(headers, render.table_rows(result.runs, columns)))


def _split_columns(text: str | None) -> list[str]:
    return [c.strip() for c in (text or "").split(",") if c.strip()]


@runs.command("list")
@_query_options
@_format_options
@click.pass_obj
def list_runs(
    repo: str | None,
    rev: str | None,
    experiment: str | None,
    max_results: int | None,
    columns: str | None,
    fmt: str,
) -> None:
    """List runs, newest first."""
    from gitml import api

    result = api.list_runs(repo=repo, rev=rev, experiment=experiment, max_results=max_results)
    _emit(result, fmt, _split_columns(columns))


@runs.command("search")
@click.argument("filter_string", required=False, default="")
@click.option(
    "--order-by", "-o", "order_by", multiple=True, metavar="FIELD [ASC|DESC]", help="Sort key (repeatable)."
)
@_query_options
@_format_options
@click.pass_obj
def search_runs(
    repo: str | None,
    filter_string: str,
    order_by: tuple[str, ...],
    rev: str | None,
    experiment: str | None,
    max_results: int | None,
    columns: str | None,
    fmt: str,
) -> None:
    """Runs matching FILTER, e.g. "metrics.acc > 0.9 and params.lr = 0.01".

    MLflow's filter language (metrics., params., tags., attributes.; = != < <=
    > >= LIKE ILIKE IN; AND) plus OR and parentheses. The fields the filter and
    --order-by name are shown as columns.
    """
    from gitml import api

    result = api.search_runs(
        filter_string, repo=repo, rev=rev, order_by=order_by, experiment=experiment, max_results=max_results
    )
    shown = _split_columns(columns)
    shown += [c for c in result.fields if c not in shown]
    _emit(result, fmt, shown)


@runs.command("show")
@click.argument("run")
@click.option("--rev", metavar="REV", help="Read the run as it is at a commit, branch or tag.")
@click.option("--json", "as_json", is_flag=True, help="Write JSON.")
@click.pass_obj
def show(repo: str | None, run: str, rev: str | None, as_json: bool) -> None:
    """Show one run: RUN is an id, a unique id prefix, or a unique run name."""
    from gitml import api
    from gitml.cli import render

    details = api.show_run(run, repo=repo, rev=rev)
    data = render.run_json(details.summary)
    data["metric_points"] = details.metric_counts
    data["path"] = details.path
    if as_json:
        click.echo(render.dumps(data))
        return
    s = details.summary
    source = s.info.source
    lines = [
        f"run         {data['run_id']}",
        f"name        {data['name']}",
        f"experiment  {data['experiment']}",
        f"status      {data['status']}"
        + (f" (exit {data['exit_code']})" if data["exit_code"] is not None else ""),
        f"started     {data['start_time']}",
        f"ended       {data['end_time'] or '-'}  ({render.format_duration(data['duration_ms']) or '-'})",
        f"user        {data['user']}@{data['host']}",
        f"commit      {source.get('commit') or '(none)'}"
        + (f" on {source['branch']}" if source.get("branch") else "")
        + (" +dirty (diff in source.diff)" if source.get("dirty") else ""),
    ]
    if data["command"]:
        import shlex

        lines.append(f"command     {shlex.join(data['command'])}")
    if data["parent"]:
        lines.append(f"parent      {data['parent']}")
    lines.append(f"folder      {data['path']}")
    for title, mapping in (("params", s.params), ("tags", s.info.tags)):
        if mapping:
            lines.append(f"{title}:")
            lines += [f"  {k}: {render.format_param(v)}" for k, v in mapping.items()]
    if s.metrics:
        lines.append("metrics (latest value, step, points):")
        for k, m in s.metrics.items():
            lines.append(
                f"  {k}: {render.format_number(m.value)}  step {m.step}  ({details.metric_counts.get(k, 0)})"
            )
    click.echo("\n".join(lines))


@runs.command("commit")
@click.argument("run_refs", nargs=-1, required=True, metavar="RUN...")
@click.pass_obj
def commit(repo: str | None, run_refs: tuple[str, ...]) -> None:
    """Commit these runs' folders, and nothing else (other changes stay as they are)."""
    from gitml import api

    sha = api.commit(list(run_refs), repo=repo)
    click.echo(f"Committed {sha}" if sha else "Nothing to commit: the runs are committed as they are.")
