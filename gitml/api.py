"""The operations behind the CLI, as plain functions returning values (nothing here prints).

Each takes the repository as ``repo`` (a path inside the work tree, or None for
the current directory) and keyword-only options, opens what it needs and
delegates to the tracking modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gitml._types import StrPath
from gitml.tracking.command import (
    CommandResult,
    commit_runs,
    parse_assignments,
    parse_param_assignments,
    run_command,
)
from gitml.tracking.query import SearchResult, search
from gitml.tracking.store import RunStore, RunSummary
from gitml.workspace import Workspace

__all__ = ["InitResult", "RunDetails", "commit", "init", "list_runs", "run", "search_runs", "show_run"]


def _workspace(repo: StrPath | None) -> Workspace:
    return Workspace.find(repo)


@dataclass(frozen=True)
class InitResult:
    root: Path
    created: bool


def init(repo: StrPath | None = None) -> InitResult:
    """Create ``.gitml/`` in the repository (idempotent)."""
    ws = _workspace(repo)
    return InitResult(ws.gitml_dir, ws.init())


def run(
    argv: Sequence[str],
    *,
    repo: StrPath | None = None,
    name: str | None = None,
    experiment: str | None = None,
    params: Sequence[str] = (),
    tags: Sequence[str] = (),
    commit: bool = False,
    stdout: IO[bytes] | None = None,
    stderr: IO[bytes] | None = None,
) -> CommandResult:
    """Run a command as a tracked run (``gitml run``)."""
    return run_command(
        argv,
        workspace=_workspace(repo),
        name=name,
        experiment=experiment,
        params=parse_param_assignments(params),
        tags=parse_assignments(tags, option="--tag"),
        commit=commit,
        stdout=stdout,
        stderr=stderr,
    )


def list_runs(
    *,
    repo: StrPath | None = None,
    rev: str | None = None,
    experiment: str | None = None,
    max_results: int | None = None,
) -> SearchResult:
    """Every run, newest first (``gitml runs list``)."""
    return search(None, max_results=max_results, experiment=experiment, rev=rev, workspace=_workspace(repo))


def search_runs(
    filter_string: str | None,
    *,
    repo: StrPath | None = None,
    rev: str | None = None,
    order_by: Sequence[str] = (),
    experiment: str | None = None,
    max_results: int | None = None,
) -> SearchResult:
    """Runs matching a filter (``gitml runs search``)."""
    return search(
        filter_string,
        order_by=list(order_by) or None,
        max_results=max_results,
        experiment=experiment,
        rev=rev,
        workspace=_workspace(repo),
    )


@dataclass(frozen=True)
class RunDetails:
    summary: RunSummary
    metric_counts: dict[str, int]
    path: str
    commit: str | None


def show_run(ref: str, *, repo: StrPath | None = None, rev: str | None = None) -> RunDetails:
    """One run in full (``gitml runs show``): record, params, latest metrics and how many points each has."""
    store = RunStore(_workspace(repo), rev=rev)
    run_id = store.resolve(ref)
    counts: dict[str, int] = {}
    summary = store.summary(run_id, counts=counts)
    return RunDetails(summary, counts, f".gitml/runs/{run_id}", store.commit)


def commit(refs: Sequence[str], *, repo: StrPath | None = None) -> str | None:
    """Commit the folders of these runs and nothing else (``gitml runs commit``)."""
    ws = _workspace(repo)
    store = RunStore(ws)
    return commit_runs([store.resolve(r) for r in refs], workspace=ws)
