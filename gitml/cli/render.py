"""Turning results into text: tables, JSON and CSV. No business logic here."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from gitml._text import json_value, table_lines
from gitml.tracking.run import format_time
from gitml.tracking.store import RunSummary

__all__ = ["field_value", "json_value", "run_json", "runs_csv", "table"]


def run_json(summary: RunSummary) -> dict[str, Any]:
    info = summary.info
    return {
        "run_id": info.run_id,
        "name": info.name,
        "experiment": info.experiment,
        "status": summary.status,
        "start_time": format_time(info.start_time),
        "end_time": None if info.end_time is None else format_time(info.end_time),
        "duration_ms": info.duration_ms,
        "user": info.user,
        "host": info.host,
        "command": None if info.command is None else list(info.command),
        "exit_code": info.exit_code,
        "source": dict(info.source),
        "parent": info.parent,
        "description": info.description,
        "params": {k: json_value(v) for k, v in summary.params.items()},
        "metrics": {k: json_value(m.value) for k, m in summary.metrics.items()},
        "tags": dict(info.tags),
    }


def format_number(value: Any, precision: int = 6) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:.{precision}g}"
    return str(value)


def format_param(value: Any) -> str:
    """A param exactly as recorded: 2.0 stays 2.0 (metrics are rounded for tables; params are not)."""
    if isinstance(value, float):
        return repr(value)
    return format_number(value)


def format_duration(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def field_value(summary: RunSummary, column: str) -> Any:
    """The value of ``metrics.x`` / ``params.x`` / ``tags.x`` / an attribute for a run."""
    kind, _, key = column.partition(".")
    if kind == "metrics":
        m = summary.metrics.get(key)
        return None if m is None else m.value
    if kind == "params":
        return summary.params.get(key)
    if kind == "tags":
        return summary.info.tags.get(key)
    return None


BASE_COLUMNS = ("run_id", "name", "experiment", "status", "started", "duration", "commit")


def table_rows(runs: Iterable[RunSummary], extra: Sequence[str]) -> list[list[str]]:
    rows = []
    for s in runs:
        commit = s.info.source.get("commit") or ""
        dirty = "+" if s.info.source.get("dirty") else ""
        row = [
            s.info.run_id,
            s.info.name,
            s.info.experiment,
            s.status,
            format_time(s.info.start_time)[:19].replace("T", " "),
            format_duration(s.info.duration_ms),
            (commit[:8] + dirty) if commit else dirty,
        ]
        row += [format_number(field_value(s, c)) for c in extra]
        rows.append(row)
    return rows


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    return "\n".join(table_lines(headers, rows))


def runs_csv(runs: Sequence[RunSummary]) -> str:
    metric_keys = sorted({k for s in runs for k in s.metrics})
    param_keys = sorted({k for s in runs for k in s.params})
    tag_keys = sorted({k for s in runs for k in s.info.tags})
    headers = ["run_id", "run_name", "experiment", "status", "start_time", "end_time", "user", "commit"]
    headers += [f"metrics.{k}" for k in metric_keys]
    headers += [f"params.{k}" for k in param_keys]
    headers += [f"tags.{k}" for k in tag_keys]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    for s in runs:
        info = s.info
        row: list[Any] = [
            info.run_id,
            info.name,
            info.experiment,
            s.status,
            format_time(info.start_time),
            "" if info.end_time is None else format_time(info.end_time),
            info.user or "",
            info.source.get("commit") or "",
        ]
        row += [repr(s.metrics[k].value) if k in s.metrics else "" for k in metric_keys]
        row += ["" if s.params.get(k) is None else s.params[k] for k in param_keys]
        row += [info.tags.get(k, "") for k in tag_keys]
        writer.writerow(row)
    return out.getvalue()


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
