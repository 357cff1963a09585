"""A diff as text: a terminal table, GitHub-flavoured Markdown, or JSON-ready data (pure).

The three share the same rows (``metric_rows``, ``param_rows``), so a number
reads the same in the terminal, in a PR comment and in ``--json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitml._text import json_value, table_lines
from gitml.review.compare import BETTER, MISSING, WORSE, MetricChange, format_number
from gitml.review.diff import DiffResult, RunPair, Side
from gitml.tracking.store import RunSummary

__all__ = ["markdown", "metric_rows", "param_rows", "summary_line", "terminal", "to_json"]

_ARROWS = {True: "▲", False: "▼"}
_VERDICT_MD = {BETTER: "✅ better", WORSE: "❌ worse"}


def _side_text(side: Side) -> str:
    commit = f" ({side.commit[:12]})" if side.commit and side.commit[:12] != side.label[:12] else ""
    return f"{side.label}{commit}"


def run_label(pair: RunPair) -> str:
    return pair.label + (" (same run, changed)" if pair.same_run else "")


def summary_line(result: DiffResult) -> str:
    """One sentence: the two sides and what changed between them."""
    if len(result.pairs) == 1 and result.base.runs == result.head.runs == 1 and result.base.label != "HEAD":
        pair = result.pairs[0]
        moved = sum(1 for m in pair.metrics if m.changed)
        return (
            f"run {pair.base.run_id} vs {pair.head.run_id}: {_count(moved, 'metric')} changed, "
            f"{_count(sum(1 for p in pair.params if p.changed), 'param')} changed"
        )
    better = sum(1 for p in result.pairs for m in p.metrics if m.verdict == BETTER)
    worse = sum(1 for p in result.pairs for m in p.metrics if m.verdict == WORSE)
    parts = [
        f"{_count(len(result.pairs), 'run')} compared",
        f"{len(result.added) + len(result.superseded)} new",
        f"{len(result.removed)} removed",
        f"{result.unchanged} unchanged",
    ]
    verdicts = f"; metrics: {better} better, {worse} worse" if better or worse else ""
    return (
        f"{_side_text(result.base)}: {_count(result.base.runs, 'run')} → {_side_text(result.head)}: "
        f"{_count(result.head.runs, 'run')} — {', '.join(parts)}{verdicts}"
    )


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _change(m: MetricChange, precision: int) -> tuple[str, str]:
    delta = m.delta
    if delta is None:
        return ("", "")
    if not delta:
        return ("0", "")
    rel = m.relative
    change = format_number(delta, precision=precision, signed=True)
    return change, ("" if rel is None else f"{rel * 100:+.{max(1, precision - 3)}f}%")


def metric_rows(result: DiffResult, *, precision: int = 5) -> list[tuple[MetricChange, list[str]]]:
    """(change, [run, metric, base, head, change, relative]) for every compared metric."""
    rows = []
    for pair in result.pairs:
        for m in pair.metrics:
            cells = [
                run_label(pair),
                m.name,
                format_number(m.base, precision=precision),
                format_number(m.head, precision=precision),
                *_change(m, precision),
            ]
            rows.append((m, cells))
    return rows


def param_rows(result: DiffResult) -> list[list[str]]:
    """[run, param, base, head] for each param shown (the changed ones, or all with ``--all``)."""
    rows = []
    for pair in result.pairs:
        for p in pair.params:
            rows.append([run_label(pair), p.name, _param(p.base), _param(p.head)])
    return rows


def _param(value: Any) -> str:
    if value is MISSING:
        return "-"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    return str(value)


def _metrics_line(summary: RunSummary, precision: int) -> str:
    shown = [f"{k}={format_number(m.value, precision=precision)}" for k, m in sorted(summary.metrics.items())]
    return " ".join(shown[:8]) + (" …" if len(shown) > 8 else "")


def _run_line(summary: RunSummary) -> str:
    return f"{summary.info.experiment}/{summary.info.name} ({summary.run_id})"


# -- terminal ----------------------------------------------------------------------------------


def terminal(
    result: DiffResult,
    *,
    precision: int = 5,
    style: Callable[[str, str | None], str] | None = None,
) -> str:
    """The diff as aligned tables; ``style(text, verdict)`` may colour better/worse cells."""
    base, head = result.base.label, result.head.label
    out = [summary_line(result)]
    rows = metric_rows(result, precision=precision)
    if rows:
        header, *lines = table_lines(
            ["run", "metric", base, head, "change", "%", ""], [[*c, m.verdict or ""] for m, c in rows]
        )
        out += ["", header]
        for line, (m, _cells) in zip(lines, rows, strict=True):
            out.append(style(line, m.verdict) if style and m.verdict in (BETTER, WORSE) else line)
    params = param_rows(result)
    if params:
        out += ["", *table_lines(["run", "param", base, head], params)]
    if result.added or result.superseded:
        out += ["", "New runs:"]
        for s in [*result.added, *result.superseded]:
            out.append(f"  {_run_line(s)}  {_metrics_line(s, precision)}".rstrip())
    if result.removed:
        out += ["", f"Runs only in {base}:"]
        out += [f"  {_run_line(s)}" for s in result.removed]
    for warning in result.warnings:
        out.append(f"warning: {warning}")
    return "\n".join(out)


# -- Markdown ----------------------------------------------------------------------------------


def _md(text: str) -> str:
    """A table cell: pipes escaped, newlines folded."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_metrics(result: DiffResult, *, precision: int = 5) -> str:
    rows = metric_rows(result, precision=precision)
    if not rows:
        return ""
    base, head = _md(result.base.label), _md(result.head.label)
    lines = [f"| Run | Metric | {base} | {head} | Change | |", "|---|---|--:|--:|--:|:--|"]
    for m, cells in rows:
        run, name, b, h, change, rel = (_md(c) for c in cells)
        arrow = _ARROWS[m.delta > 0] + " " if m.delta else ""
        moved = f"{arrow}{change}" + (f" ({rel})" if rel else "")
        verdict = _VERDICT_MD.get(m.verdict or "", "")
        lines.append(f"| {run} | {name} | {b} | {h} | {moved} | {verdict} |")
    return "\n".join(lines)


def markdown_params(result: DiffResult) -> str:
    rows = param_rows(result)
    if not rows:
        return ""
    base, head = _md(result.base.label), _md(result.head.label)
    lines = [f"| Run | Param | {base} | {head} |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(result: DiffResult, *, precision: int = 5) -> str:
    """The diff as GitHub-flavoured Markdown: summary, metric table with arrows, param changes."""
    out = [f"**{_md(summary_line(result))}**"]
    metrics = markdown_metrics(result, precision=precision)
    if metrics:
        out += ["", metrics]
    params = markdown_params(result)
    if params:
        out += ["", "Params", "", params]
    for title, runs in (
        ("New runs", [*result.added, *result.superseded]),
        (f"Runs only in {_md(result.base.label)}", result.removed),
    ):
        if runs:
            out += ["", f"{title}:", ""]
            out += [f"- `{s.run_id}` {_md(s.info.experiment)}/{_md(s.info.name)}" for s in runs]
    return "\n".join(out) + "\n"


# -- JSON --------------------------------------------------------------------------------------


def _run_ref(summary: RunSummary) -> dict[str, Any]:
    info = summary.info
    return {"run_id": info.run_id, "experiment": info.experiment, "name": info.name}


def _side(side: Side) -> dict[str, Any]:
    return {"label": side.label, "commit": side.commit, "runs": side.runs}


def _values_json(name: str, base: Any, head: Any, *, absent: Any) -> dict[str, Any]:
    """``{"name", "base", "head"}``, leaving out a side whose value is ``absent``."""
    out: dict[str, Any] = {"name": name}
    for side, value in (("base", base), ("head", head)):
        if value is not absent:
            out[side] = json_value(value)
    return out


def to_json(result: DiffResult) -> dict[str, Any]:
    """JSON-ready data. Non-finite numbers are the strings "nan", "inf", "-inf"; a missing value is absent."""

    def metric(m: MetricChange) -> dict[str, Any]:
        out = _values_json(m.name, m.base, m.head, absent=None)
        out.update(change=m.delta, relative=m.relative, direction=m.direction, verdict=m.verdict)
        return out

    def pair(p: RunPair) -> dict[str, Any]:
        return {
            "key": list(p.key),
            "same_run": p.same_run,
            "base": _run_ref(p.base),
            "head": _run_ref(p.head),
            "params": [_values_json(c.name, c.base, c.head, absent=MISSING) for c in p.params],
            "metrics": [metric(m) for m in p.metrics],
        }

    return {
        "base": _side(result.base),
        "head": _side(result.head),
        "compare_by": list(result.compare_by),
        "pairs": [pair(p) for p in result.pairs],
        "added": [_run_ref(s) for s in [*result.added, *result.superseded]],
        "removed": [_run_ref(s) for s in result.removed],
        "unchanged": result.unchanged,
        "warnings": list(result.warnings),
        "plots": [{"metric": p.metric, "path": str(p.path)} for p in result.plots],
    }
