"""The plots that belong to a diff, and ``gitml report``: one Markdown document for a pull request.

A diff's plots are one image per metric that has a curve (more than one
point) in a compared run: the base run dashed, the head run solid, every
compared pair in the same panel. The report puts the summary, the metric
table with arrows, the param changes, those plots and links to the runs in
one document, ending with a marker comment (``<!-- gitml-report -->``) that a
CI job uses to find and update its one comment instead of adding another.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitml._fs import atomic_write
from gitml._types import StrPath
from gitml._version import __version__
from gitml.exceptions import CorruptRunError, UsageError
from gitml.review import render
from gitml.review.diff import DiffResult, PlotFile, RunPair
from gitml.review.plot import Series, plot_metric
from gitml.tracking.run import Metric
from gitml.tracking.store import RunStore, RunSummary
from gitml.workspace import Workspace

__all__ = ["MARKER", "PlotFile", "ReportResult", "diff_plots", "write_report"]

#: The last line of every report: CI finds its earlier comment by it.
MARKER = "<!-- gitml-report -->"
#: At most this many metrics are drawn for one diff (changed ones first).
MAX_PLOTS = 12


@dataclass
class ReportResult:
    path: Path
    diff: DiffResult
    plots: list[PlotFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _file_name(metric: str, used: set[str]) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in metric).strip("._") or "metric"
    name, n = stem, 2
    while name in used:
        name, n = f"{stem}-{n}", n + 1
    used.add(name)
    return name


def diff_plots(
    ws: Workspace,
    result: DiffResult,
    out_dir: StrPath,
    *,
    x: str = "step",
    fmt: str = "png",
    max_plots: int = MAX_PLOTS,
) -> tuple[list[PlotFile], list[str]]:
    """Draw the diff's curves into ``out_dir`` (created): the files written and what was left out."""
    if fmt not in ("png", "svg"):
        raise UsageError(f"unknown plot format {fmt!r}", hint="use png or svg")
    stores = {side.commit: RunStore(ws, rev=side.commit) for side in (result.base, result.head)}
    histories: dict[tuple[str | None, str], list[Metric]] = {}
    warnings: list[str] = []

    def history(commit: str | None, summary: RunSummary) -> list[Metric]:
        key = (commit, summary.run_id)
        if key not in histories:
            try:
                histories[key] = stores[commit].all_metrics(summary.run_id)
            except CorruptRunError as exc:
                warnings.append(f"no curves for a run: {exc.message}")
                histories[key] = []
        return histories[key]

    panels: dict[str, list[Series]] = {}
    changed: set[str] = set()
    for pair in result.pairs:
        base_points = history(result.base.commit, pair.base)
        head_points = history(result.head.commit, pair.head)
        for m in pair.metrics:
            b = [p for p in base_points if p.key == m.name]
            h = [p for p in head_points if p.key == m.name]
            if max(len(b), len(h)) < 2:
                continue  # a single point is a number, not a curve: the table shows it
            if m.changed:
                changed.add(m.name)
            panels.setdefault(m.name, []).extend(_series(pair, result, b, h))
    order = sorted(panels, key=lambda name: (name not in changed, name))
    if len(order) > max_plots:
        warnings.append(
            f"drew {max_plots} of {len(order)} metrics with curves: {', '.join(order[max_plots:])} left out"
        )
    out = Path(out_dir)
    files: list[PlotFile] = []
    used: set[str] = set()
    if order[:max_plots]:
        out.mkdir(parents=True, exist_ok=True)
    for metric in order[:max_plots]:
        path = out / f"{_file_name(metric, used)}.{fmt}"
        plot_metric(
            panels[metric],
            metric=metric,
            x=x,
            out=path,
            title=f"{metric}: {result.base.label} vs {result.head.label}",
        )
        files.append(PlotFile(metric, path))
    return files, warnings


def _series(pair: RunPair, result: DiffResult, base: list[Metric], head: list[Metric]) -> list[Series]:
    out = []
    if base:
        out.append(Series(label=f"{pair.label} @ {result.base.label}", points=base, linestyle="dashed"))
    if head:
        out.append(Series(label=f"{pair.label} @ {result.head.label}", points=head))
    return out


# -- the report --------------------------------------------------------------------------------


def _run_link(summary: RunSummary, commit: str | None, link_base: str | None) -> str:
    text = f"`{summary.run_id}`"
    if link_base and commit:
        return f"[{text}]({link_base.rstrip('/')}/{commit}/.gitml/runs/{summary.run_id})"
    return text


def report_text(
    result: DiffResult,
    plots: Sequence[PlotFile],
    *,
    image_ref: dict[Path, str],
    precision: int = 5,
    link_base: str | None = None,
    title: str | None = None,
) -> str:
    """The report's Markdown (pure: the plots are already drawn; ``image_ref`` maps each to its link)."""
    base, head = result.base, result.head
    lines = [f"## {title or f'gitml: {base.label} → {head.label}'}", "", f"**{render.summary_line(result)}**"]
    metrics = render.markdown_metrics(result, precision=precision)
    if metrics:
        lines += ["", "### Metrics", "", metrics]
    elif not result.pairs:
        lines += ["", "No run on the head side has a comparable run on the base side."]
    params = render.markdown_params(result)
    if params:
        lines += ["", "### Params changed", "", params]
    if plots:
        lines += ["", "### Plots", ""]
        lines += [f"![{p.metric}]({image_ref[p.path]})" for p in plots]
    lines += ["", "### Runs", ""]
    if result.pairs:
        lines += [f"| Run | {base.label} | {head.label} |", "|---|---|---|"]
        for pair in result.pairs:
            lines.append(
                f"| {render.run_label(pair)} | {_run_link(pair.base, base.commit, link_base)} "
                f"| {_run_link(pair.head, head.commit, link_base)} |"
            )
    for title_text, runs, commit in (
        ("New", [*result.added, *result.superseded], head.commit),
        (f"Only in {base.label}", result.removed, base.commit),
    ):
        if runs:
            lines += [
                "",
                f"{title_text}: "
                + ", ".join(
                    f"{s.info.experiment}/{s.info.name} {_run_link(s, commit, link_base)}" for s in runs
                ),
            ]
    for warning in result.warnings:
        lines += ["", f"> warning: {warning}"]
    commits = " · ".join(f"{s.label} `{s.commit[:12]}`" for s in (base, head) if s.commit)
    lines += ["", f"<sub>gitml {__version__}{' · ' + commits if commits else ''}</sub>", "", MARKER]
    return "\n".join(lines) + "\n"


def write_report(
    ws: Workspace,
    result: DiffResult,
    out: StrPath,
    *,
    precision: int = 5,
    plots: bool = True,
    plots_dir: StrPath | None = None,
    image_url: str | None = None,
    link_base: str | None = None,
    x: str = "step",
    title: str | None = None,
) -> ReportResult:
    """Write the report for ``result`` to ``out`` (plots beside it, in ``<stem>_plots/`` by default).

    Images are linked relative to the report, or as ``image_url`` + file name when
    given (for a PR comment, where the images must be hosted somewhere).
    """
    path = Path(out)
    done = ReportResult(path=path, diff=result)
    if plots:
        where = Path(plots_dir) if plots_dir is not None else path.parent / f"{path.stem}_plots"
        done.plots, done.warnings = diff_plots(ws, result, where, x=x)
    refs: dict[Path, str] = {}
    for p in done.plots:
        if image_url:
            refs[p.path] = image_url.rstrip("/") + "/" + p.path.name
        else:
            refs[p.path] = Path(os.path.relpath(p.path.resolve(), path.parent.resolve())).as_posix()
    text = report_text(
        result, done.plots, image_ref=refs, precision=precision, link_base=link_base, title=title
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode("utf-8"), fsync=False)
    return done
