"""``gitml plot``: metric curves of several runs overlaid, as a PNG or SVG."""

from __future__ import annotations

import click

__all__ = ["plot"]


@click.command()
@click.argument("run_refs", nargs=-1, metavar="[RUN]...")
@click.option(
    "--metric",
    "-m",
    "metrics",
    multiple=True,
    required=True,
    metavar="KEY",
    help="Metric to draw (repeatable: one panel each, sharing the x axis).",
)
@click.option(
    "--rev",
    "revs",
    multiple=True,
    metavar="REV",
    help="Read the runs as they are at a commit, branch or tag (repeatable: each RUN at each REV).",
)
@click.option(
    "--x",
    "x",
    type=click.Choice(["step", "time"]),
    default="step",
    show_default=True,
    help="x axis: the step, or seconds since the run started.",
)
@click.option(
    "--output",
    "-o",
    "out",
    required=True,
    metavar="FILE",
    help="Image to write: .png or .svg (the extension decides; missing folders are created).",
)
@click.option("--title", metavar="TEXT", help="Figure title (default: the metrics, and the revisions).")
@click.pass_obj
def plot(
    repo: str | None,
    run_refs: tuple[str, ...],
    metrics: tuple[str, ...],
    revs: tuple[str, ...],
    x: str,
    out: str,
    title: str | None,
) -> None:
    """Draw metric curves of runs, overlaid, into a PNG or SVG.

    RUN is a run id, a unique id prefix or a unique run name. Without RUN, the
    newest run that logged the metric is drawn: in the work tree, or with --rev
    at each revision (so `--rev main --rev HEAD` compares the two). With RUN and
    --rev, each RUN is read at each REV. A run without the metric is left out
    with a warning.

    \b
    Examples:
      gitml plot --metric loss -o loss.png
      gitml plot baseline xgb-depth6 -m loss -m auc -o plots/curves.svg
      gitml plot --rev main --rev HEAD -m val_loss --x time -o val_loss.png
    """
    from gitml import api

    result = api.plot(run_refs, metrics=metrics, out=out, revs=revs, x=x, title=title, repo=repo)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    lines, panels = len(result.runs), len(result.metrics)
    click.echo(
        f"wrote {out} ({lines} run{'s' if lines != 1 else ''}, {panels} metric{'s' if panels != 1 else ''})"
    )
