"""Questions about runs: one run, a metric's history, and filtered, ordered searches.

``search`` returns plain records (used by the CLI, which never imports pandas);
``search_runs`` turns them into MLflow's DataFrame shape and is the only place
gitml imports pandas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitml.exceptions import CorruptRunError, UsageError
from gitml.tracking import filter as filters
from gitml.tracking.run import Metric, RunInfo
from gitml.tracking.store import RunStore, RunSummary, entry_times
from gitml.workspace import Workspace

if TYPE_CHECKING:
    import pandas

__all__ = [
    "Run",
    "RunData",
    "SearchResult",
    "get_metric_history",
    "get_run",
    "record",
    "search",
    "search_runs",
]


@dataclass(frozen=True)
class RunData:
    params: dict[str, Any]
    metrics: dict[str, float]
    tags: dict[str, str]


@dataclass(frozen=True)
class Run:
    """One run as ``get_run`` returns it: ``run.info`` and ``run.data`` (MLflow's shape)."""

    info: RunInfo
    data: RunData
    status: str
    commit: str | None = None

    @property
    def run_id(self) -> str:
        return self.info.run_id


def _store(workspace: Workspace | None, rev: str | None) -> RunStore:
    from gitml.tracking.fluent import workspace as current

    return RunStore(workspace or current(), rev=rev)


def get_run(run_id: str, *, rev: str | None = None, workspace: Workspace | None = None) -> Run:
    """The run with this id (or unique prefix or name): its record, params, latest metrics and tags."""
    store = _store(workspace, rev)
    summary = store.summary(store.resolve(run_id))
    metrics = {k: m.value for k, m in summary.metrics.items()}
    return Run(
        summary.info,
        RunData(summary.params, metrics, dict(summary.info.tags)),
        summary.status,
        store.commit,
    )


def get_metric_history(
    run_id: str, key: str, *, rev: str | None = None, workspace: Workspace | None = None
) -> list[Metric]:
    """Every point logged for ``key`` in the run, in the order logged."""
    store = _store(workspace, rev)
    return store.metric_history(store.resolve(run_id), key)


def record(summary: RunSummary) -> dict[str, dict[str, Any]]:
    """A run as the filter language sees it: attributes, params, metrics (latest values), tags."""
    info = summary.info
    return _record(
        info.run_id,
        info.name,
        info.experiment,
        summary.status,
        info.start_time,
        info.end_time,
        info.user,
        info.host,
        info.source,
        info.parent,
        summary.params,
        {k: m.value for k, m in summary.metrics.items()},
        info.tags,
    )


def entry_record(entry: dict[str, Any], status: str) -> dict[str, dict[str, Any]]:
    """The same record, straight from a cached summary entry (no objects built)."""
    run = entry["run"]
    start, end = entry_times(entry)
    return _record(
        run["id"],
        run["name"],
        run["experiment"],
        status,
        start,
        end,
        run["user"],
        run["host"],
        run["source"],
        run["parent"],
        entry["params"],
        {k: point[0] for k, point in entry["metrics"].items()},
        run["tags"],
    )


def _record(
    run_id: str,
    name: str,
    experiment: str,
    status: str,
    start: int,
    end: int | None,
    user: str | None,
    host: str | None,
    source: Mapping[str, Any],
    parent: str | None,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
) -> dict[str, dict[str, Any]]:
    return {
        "attributes": {
            "run_id": run_id,
            "name": name,
            "experiment": experiment,
            "status": status,
            "start_time": start,
            "end_time": end,
            "duration": None if end is None else end - start,
            "user": user,
            "host": host,
            "commit": source.get("commit"),
            "branch": source.get("branch"),
            "dirty": source.get("dirty"),
            "parent": parent,
        },
        "params": dict(params),
        "metrics": dict(metrics),
        "tags": dict(tags),
    }


@dataclass
class SearchResult:
    runs: list[RunSummary]
    errors: list[CorruptRunError] = field(default_factory=list)
    commit: str | None = None
    #: ``metrics.x``/``params.x``/``tags.x`` fields the filter and order-by name (for display).
    fields: list[str] = field(default_factory=list)


def search(
    filter_string: str | None = None,
    *,
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    experiment: str | Sequence[str] | None = None,
    rev: str | None = None,
    workspace: Workspace | None = None,
) -> SearchResult:
    """Runs matching ``filter_string``, ordered by ``order_by`` (default: newest first).

    Runs whose files do not parse are skipped and reported in ``errors``.
    """
    expr = filters.parse_filter(filter_string)
    order = filters.parse_order_by(order_by)
    if max_results is not None and max_results < 0:
        raise UsageError(f"max_results must be 0 or more, not {max_results}")
    experiments = {experiment} if isinstance(experiment, str) else set(experiment or ())
    store = _store(workspace, rev)
    errors: list[CorruptRunError] = []

    def keep(entry: dict[str, Any], status: str) -> bool:
        if experiments and entry["run"]["experiment"] not in experiments:
            return False
        return expr is None or filters.matches(expr, entry_record(entry, status))

    runs = list(
        store.summaries(
            errors=errors,
            keep=keep if expr is not None or experiments else None,
            limit=None if order else max_results,  # newest first already: stop after max_results
        )
    )
    if order:
        runs = filters.sort_records(runs, order, get=record)
    if max_results is not None:
        runs = runs[:max_results]
    named = [f"{f.kind}.{f.key}" for f in sorted(filters.fields(expr), key=str)]
    named += [f"{k.field.kind}.{k.field.key}" for k in order]
    shown = [n for n in dict.fromkeys(named) if not n.startswith("attributes.")]
    return SearchResult(runs, errors, store.commit, shown)


def search_runs(
    filter_string: str | None = None,
    *,
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    experiment: str | Sequence[str] | None = None,
    experiment_names: Sequence[str] | None = None,
    rev: str | None = None,
    workspace: Workspace | None = None,
) -> pandas.DataFrame:
    """Runs as a pandas DataFrame with MLflow's columns.

    Columns: ``run_id``, ``run_name``, ``experiment``, ``status``, ``start_time``,
    ``end_time`` (UTC datetimes), ``user``, ``commit``, then ``metrics.<key>``,
    ``params.<key>`` and ``tags.<key>`` for every key any returned run has.
    """
    import pandas as pd

    result = search(
        filter_string,
        order_by=order_by,
        max_results=max_results,
        experiment=experiment if experiment is not None else experiment_names,
        rev=rev,
        workspace=workspace,
    )
    rows: list[dict[str, Any]] = []
    metric_keys: dict[str, None] = {}
    param_keys: dict[str, None] = {}
    tag_keys: dict[str, None] = {}
    for s in result.runs:
        row: dict[str, Any] = {
            "run_id": s.info.run_id,
            "run_name": s.info.name,
            "experiment": s.info.experiment,
            "status": s.status,
            "start_time": s.info.start_time,
            "end_time": s.info.end_time,
            "user": s.info.user,
            "commit": s.info.source.get("commit"),
        }
        for k, m in s.metrics.items():
            metric_keys[k] = None
            row[f"metrics.{k}"] = m.value
        for k, v in s.params.items():
            param_keys[k] = None
            row[f"params.{k}"] = v
        for k, v in s.info.tags.items():
            tag_keys[k] = None
            row[f"tags.{k}"] = v
        rows.append(row)
    columns = ["run_id", "run_name", "experiment", "status", "start_time", "end_time", "user", "commit"]
    columns += [f"metrics.{k}" for k in sorted(metric_keys)]
    columns += [f"params.{k}" for k in sorted(param_keys)]
    columns += [f"tags.{k}" for k in sorted(tag_keys)]
    frame: pandas.DataFrame = pd.DataFrame(rows, columns=columns)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col], unit="ms", utc=True)
    return frame
