"""``gitml diff`` and ``gitml report``: what a change did to the runs."""

from __future__ import annotations

import os
import sys

import click

__all__ = ["diff", "report"]


def _style(text: str, verdict: str | None) -> str:
    return click.style(text, fg="green" if verdict == "better" else "red")


def _split(text: str | None) -> list[str] | None:
    fields = [c.strip() for c in (text or "").split(",") if c.strip()]
    return fields or None


@click.command()
@click.argument("refs", nargs=-1, metavar="[BASE [HEAD]] | RUN-A RUN-B")
@click.option("--md", "fmt", flag_value="md", help="GitHub-flavoured Markdown.")
@click.option("--json", "fmt", flag_value="json", help="JSON.")
@click.option("--all", "show_all", is_flag=True, help="Show unchanged params too.")
@click.option(
    "--precision", type=click.IntRange(1, 17), default=5, show_default=True, help="Significant digits."
)
@click.option(
    "--compare-by",
    metavar="FIELDS",
    help="Pair runs by these fields (default: diff.compare_by, or experiment,name).",
)
@click.option("--plots", "plots_dir", metavar="DIR", help="Also draw the compared runs' curves into DIR.")
@click.option("--x", "plot_x", type=click.Choice(["step", "time"]), default="step", help="Plots' x axis.")
@click.pass_obj
def diff(
    repo: str | None,
    refs: tuple[str, ...],
    fmt: str | None,
    show_all: bool,
    precision: int,
    compare_by: str | None,
    plots_dir: str | None,
    plot_x: str,
) -> None:
    """Compare the runs of two revisions, or two runs.

    \b
    gitml diff                 HEAD vs the work tree
    gitml diff main            main vs the work tree
    gitml diff main HEAD       main vs HEAD (in a pull request)
    gitml diff RUN-A RUN-B     two runs (ids, prefixes or names)

    Runs are paired by experiment and name (diff.compare_by): the newest new
    run of each pair is compared with the newest base run. Shows the params
    that changed and every final metric: base, head, change and whether it is
    better (metrics: {loss: min, acc: max} in .gitml/config.yaml).
    """
    from gitml import api
    from gitml.review import render

    result = api.diff(
        refs, repo=repo, all=show_all, compare_by=_split(compare_by), plots_dir=plots_dir, plot_x=plot_x
    )
    if fmt == "json":
        from gitml.cli.render import dumps

        click.echo(dumps(render.to_json(result)))
        return
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    result.warnings.clear()
    if fmt == "md":
        click.echo(render.markdown(result, precision=precision), nl=False)
    else:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        click.echo(render.terminal(result, precision=precision, style=_style if color else None))
    for plot in result.plots:
        click.echo(f"wrote {plot.path}", err=True)


@click.command()
@click.argument("base", metavar="BASE")
@click.argument("head", required=False, metavar="[HEAD]")
@click.option(
    "-o", "--output", "out", default="report.md", show_default=True, metavar="FILE", help="Markdown file."
)
@click.option("--no-plots", is_flag=True, help="Leave the plots out.")
@click.option("--plots-dir", metavar="DIR", help="Where the images go (default: FILE's stem + _plots/).")
@click.option(
    "--image-url",
    metavar="URL",
    help="Link images as URL/<file> (where CI publishes them) instead of relative paths.",
)
@click.option(
    "--link-base",
    metavar="URL",
    help="Link runs as URL/<commit>/.gitml/runs/<id>, e.g. https://github.com/ORG/REPO/tree",
)
@click.option("--title", help="The report's heading.")
@click.option(
    "--precision", type=click.IntRange(1, 17), default=5, show_default=True, help="Significant digits."
)
@click.option("--x", "plot_x", type=click.Choice(["step", "time"]), default="step", help="Plots' x axis.")
@click.pass_obj
def report(
    repo: str | None,
    base: str,
    head: str | None,
    out: str,
    no_plots: bool,
    plots_dir: str | None,
    image_url: str | None,
    link_base: str | None,
    title: str | None,
    precision: int,
    plot_x: str,
) -> None:
    """Write a Markdown report of BASE vs HEAD (default: the work tree) for a PR comment.

    A summary line, the metric table with arrows, the params that changed,
    the compared runs' curves as images beside the file, and links to the
    runs. See docs/ci.md for posting it as one comment that each push updates.
    """
    from gitml import api

    result = api.report(
        base,
        head,
        out=out,
        repo=repo,
        precision=precision,
        plots=not no_plots,
        plots_dir=plots_dir,
        image_url=image_url,
        link_base=link_base,
        plot_x=plot_x,
        title=title,
    )
    for warning in [*result.diff.warnings, *result.warnings]:
        click.echo(f"warning: {warning}", err=True)
    n = len(result.plots)
    click.echo(f"wrote {result.path} ({n} plot{'' if n == 1 else 's'})")
