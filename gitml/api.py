"""The operations behind the CLI, as plain functions returning values (nothing here prints).

Each takes the repository as ``repo`` (a path inside the work tree, or None for
the current directory) and keyword-only options, opens what it needs and
delegates to the tracking modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from gitml._types import StrPath
from gitml.workspace import Workspace

# Each operation imports what it needs, so `gitml push` does not load the run-query code and
# `gitml runs list` does not load the storage code.
if TYPE_CHECKING:
    from gitml.artifacts.access import ArtifactInfo, GetResult
    from gitml.artifacts.maintenance import GCResult, VerifyResult
    from gitml.artifacts.remotes import RemoteInfo
    from gitml.artifacts.transfer import StatusResult, TransferResult
    from gitml.projects.launch import ProjectRun
    from gitml.registry.events import Event
    from gitml.registry.get import GetModelResult, Resolution
    from gitml.registry.ops import EventResult
    from gitml.registry.query import ModelDetails, ModelSummary
    from gitml.review.diff import DiffResult
    from gitml.review.plot_runs import PlotResult
    from gitml.review.report import ReportResult
    from gitml.tracking.command import CommandResult
    from gitml.tracking.query import SearchResult
    from gitml.tracking.store import RunSummary

__all__ = [
    "InitResult",
    "RunDetails",
    "check_ref",
    "commit",
    "demote_model",
    "deprecate_model",
    "diff",
    "fetch",
    "gc",
    "get",
    "get_model",
    "init",
    "list_models",
    "list_runs",
    "ls",
    "model_history",
    "plot",
    "promote_model",
    "pull",
    "push",
    "register_model",
    "remote_add",
    "remote_list",
    "remote_remove",
    "report",
    "reproduce",
    "resolve_model",
    "run",
    "run_project",
    "search_runs",
    "show_model",
    "show_run",
    "status",
    "verify",
]


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
    artifacts: Sequence[str] = (),
    stdout: IO[bytes] | None = None,
    stderr: IO[bytes] | None = None,
) -> CommandResult:
    """Run a command as a tracked run (``gitml run``)."""
    from gitml.tracking.command import parse_assignments, parse_param_assignments, run_command

    return run_command(
        argv,
        workspace=_workspace(repo),
        name=name,
        experiment=experiment,
        params=parse_param_assignments(params),
        tags=parse_assignments(tags, option="--tag"),
        commit=commit,
        artifacts=artifacts,
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
    from gitml.tracking.query import search

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
    from gitml.tracking.query import search

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
    from gitml.tracking.store import RunStore

    store = RunStore(_workspace(repo), rev=rev)
    run_id = store.resolve(ref)
    counts: dict[str, int] = {}
    summary = store.summary(run_id, counts=counts)
    return RunDetails(summary, counts, f".gitml/runs/{run_id}", store.commit)


def commit(refs: Sequence[str], *, repo: StrPath | None = None) -> str | None:
    """Commit the folders of these runs and nothing else (``gitml runs commit``)."""
    from gitml.tracking.command import commit_runs
    from gitml.tracking.store import RunStore

    ws = _workspace(repo)
    store = RunStore(ws)
    return commit_runs([store.resolve(r) for r in refs], workspace=ws)


# -- artifacts ---------------------------------------------------------------------------------------


def push(
    runs: Sequence[str] = (),
    *,
    repo: StrPath | None = None,
    remote: str | None = None,
    all_commits: bool = False,
    jobs: int | None = None,
    rescan: bool = False,
) -> TransferResult:
    """Upload the artifacts of these runs (default: every run in the work tree) that the remote lacks."""
    from gitml.artifacts import transfer

    ws = _workspace(repo)
    return transfer.push(
        ws, remote=remote, run_ids=_run_ids(ws, runs), all_commits=all_commits, jobs=jobs, rescan=rescan
    )


def fetch(
    runs: Sequence[str] = (),
    *,
    repo: StrPath | None = None,
    remote: str | None = None,
    all_commits: bool = False,
    jobs: int | None = None,
) -> TransferResult:
    """Download into the cache the objects these runs reference and the cache lacks."""
    from gitml.artifacts import transfer

    ws = _workspace(repo)
    return transfer.fetch(ws, remote=remote, run_ids=_run_ids(ws, runs), all_commits=all_commits, jobs=jobs)


def pull(
    runs: Sequence[str] = (),
    *,
    repo: StrPath | None = None,
    remote: str | None = None,
    jobs: int | None = None,
    force: bool = False,
) -> TransferResult:
    """``fetch``, then restore the workspace outputs (``gitml run --artifact``) that are missing."""
    from gitml.artifacts import transfer
    from gitml.artifacts.refs import worktree_runs

    ws = _workspace(repo)
    run_ids = _run_ids(ws, runs)
    result = transfer.fetch(ws, remote=remote, run_ids=run_ids, jobs=jobs)
    transfer.restore_outputs(ws, worktree_runs(ws, run_ids), force=force, result=result)
    return result


def status(
    runs: Sequence[str] = (),
    *,
    repo: StrPath | None = None,
    remote: str | None = None,
    jobs: int | None = None,
    rescan: bool = False,
    local_only: bool = False,
) -> StatusResult:
    """What the runs' artifacts lack locally and on the remote."""
    from gitml.artifacts import transfer

    ws = _workspace(repo)
    return transfer.status(
        ws, remote=remote, run_ids=_run_ids(ws, runs), jobs=jobs, rescan=rescan, local_only=local_only
    )


def gc(
    *,
    repo: StrPath | None = None,
    remote: str | None = None,
    cloud: bool = False,
    grace_days: float | None = None,
    all_commits: bool = False,
    dry_run: bool = False,
) -> GCResult:
    """Remove unreferenced objects older than the grace period from the cache (or the remote)."""
    from gitml.artifacts.maintenance import gc as collect

    return collect(
        _workspace(repo),
        remote=remote,
        cloud=cloud,
        grace_days=grace_days,
        all_commits=all_commits,
        dry_run=dry_run,
    )


def verify(
    *, repo: StrPath | None = None, remote: str | None = None, cloud: bool = False, jobs: int | None = None
) -> VerifyResult:
    """Re-hash the cache (or the remote) and name every bad object."""
    from gitml.artifacts.maintenance import verify as check

    return check(_workspace(repo), remote=remote, cloud=cloud, jobs=jobs)


def get(
    uri: str,
    *,
    repo: StrPath | None = None,
    out: StrPath | None = None,
    rev: str | None = None,
    remote: str | None = None,
    jobs: int | None = None,
) -> GetResult:
    """Download ``runs:/<run>/<path>`` (a file or a directory), verified."""
    from gitml.artifacts.access import get as fetch_artifact

    return fetch_artifact(_workspace(repo), uri, out=out, rev=rev, remote=remote, jobs=jobs)


def ls(
    uri: str,
    *,
    repo: StrPath | None = None,
    rev: str | None = None,
    recursive: bool = False,
    remote: str | None = None,
) -> list[ArtifactInfo]:
    """The artifacts under ``runs:/<run>[/<path>]``."""
    from gitml.artifacts.access import ls as list_artifacts

    return list_artifacts(_workspace(repo), uri, rev=rev, recursive=recursive, remote=remote)


def remote_add(
    name: str,
    url: str,
    *,
    repo: StrPath | None = None,
    default: bool = False,
    endpoint_url: str | None = None,
    local: bool = False,
    force: bool = False,
) -> RemoteInfo:
    from gitml.artifacts.remotes import add_remote

    return add_remote(
        _workspace(repo), name, url, default=default, endpoint_url=endpoint_url, local=local, force=force
    )


def remote_list(*, repo: StrPath | None = None) -> list[RemoteInfo]:
    from gitml.artifacts.remotes import list_remotes

    return list_remotes(_workspace(repo))


def remote_remove(name: str, *, repo: StrPath | None = None) -> None:
    from gitml.artifacts.remotes import remove_remote

    remove_remote(_workspace(repo), name)


def _run_ids(ws: Workspace, refs: Sequence[str]) -> list[str] | None:
    if not refs:
        return None
    from gitml.tracking.store import RunStore

    store = RunStore(ws)
    return [store.resolve(r) for r in refs]


# -- registry ----------------------------------------------------------------------------------------


def register_model(
    name: str,
    run: str,
    *,
    repo: StrPath | None = None,
    path: str | None = None,
    version: str | None = None,
    description: str | None = None,
    push: bool = False,
) -> EventResult:
    """Register a committed run's artifact as a new version (``gitml register``)."""
    from gitml.registry.ops import register

    with _workspace(repo) as ws:
        return register(ws, name, run, path=path, version=version, description=description, push=push)


def promote_model(
    name: str,
    version: str,
    stage: str,
    *,
    repo: StrPath | None = None,
    force: bool = False,
    description: str | None = None,
    push: bool = False,
) -> EventResult:
    from gitml.registry.ops import promote

    with _workspace(repo) as ws:
        return promote(ws, name, version, stage, force=force, description=description, push=push)


def demote_model(
    name: str, stage: str, *, repo: StrPath | None = None, description: str | None = None, push: bool = False
) -> EventResult:
    from gitml.registry.ops import demote

    with _workspace(repo) as ws:
        return demote(ws, name, stage, description=description, push=push)


def deprecate_model(
    name: str,
    version: str,
    *,
    repo: StrPath | None = None,
    force: bool = False,
    description: str | None = None,
    push: bool = False,
) -> EventResult:
    from gitml.registry.ops import deprecate

    with _workspace(repo) as ws:
        return deprecate(ws, name, version, force=force, description=description, push=push)


def list_models(*, repo: StrPath | None = None) -> tuple[list[ModelSummary], list[str]]:
    from gitml.registry.query import list_models as _list

    with _workspace(repo) as ws:
        return _list(ws)


def show_model(name: str, *, repo: StrPath | None = None) -> ModelDetails:
    from gitml.registry.query import show_model as _show

    with _workspace(repo) as ws:
        return _show(ws, name)


def model_history(name: str, *, repo: StrPath | None = None) -> tuple[list[Event], list[str]]:
    from gitml.registry.query import model_history as _history

    with _workspace(repo) as ws:
        return _history(ws, name)


def resolve_model(
    uri: str, *, repo: StrPath | None = None, repo_url: str | None = None, offline: bool = False
) -> Resolution:
    """Which version a ``models:/`` URI names, and from where (``gitml models resolve``)."""
    from gitml.registry.get import resolve_in_repo, resolve_remote

    if repo_url is not None:
        return resolve_remote(repo_url, uri, with_stages=True)
    with _workspace(repo) as ws:
        return resolve_in_repo(ws, uri, offline=offline, with_stages=True)


def get_model(
    uri: str,
    *,
    out: StrPath | None = None,
    repo: StrPath | None = None,
    repo_url: str | None = None,
    rev: str | None = None,
    offline: bool = False,
    remote: str | None = None,
    jobs: int | None = None,
) -> GetModelResult:
    """Download a registered version, verified (``gitml get models:/…``)."""
    from gitml.registry.get import get_model as _get

    ws = None if repo_url is not None else _workspace(repo)
    try:
        return _get(
            ws, uri, out=out, repo_url=repo_url, rev=rev, offline=offline, storage_remote=remote, jobs=jobs
        )
    finally:
        if ws is not None:
            ws.close()


def check_ref(ref: str, *, repo: StrPath | None = None) -> Event:
    """The registry event a pushed tag stands for (``gitml check-ref``)."""
    from gitml.registry.query import check_ref as _check

    with _workspace(repo) as ws:
        return _check(ws, ref)


def diff(
    refs: Sequence[str] = (),
    *,
    repo: StrPath | None = None,
    all: bool = False,
    compare_by: Sequence[str] | None = None,
    plots_dir: StrPath | None = None,
    plot_x: str = "step",
) -> DiffResult:
    """Compare runs (``gitml diff [BASE [HEAD]]`` or ``gitml diff RUN-A RUN-B``).

    No refs: HEAD vs the work tree; one: that revision vs the work tree; two
    revisions: BASE vs HEAD; two runs (refs that are not revisions): run A vs run B.
    With ``plots_dir``, the curves of the compared runs are drawn there (``result.plots``).
    """
    with _workspace(repo) as ws:
        result = _diff_of(ws, refs, all=all, compare_by=compare_by)
        if plots_dir is not None:
            from gitml.review.report import diff_plots

            result.plots, warnings = diff_plots(ws, result, plots_dir, x=plot_x)
            result.warnings.extend(warnings)
        return result


def _diff_of(
    ws: Workspace, refs: Sequence[str], *, all: bool, compare_by: Sequence[str] | None
) -> DiffResult:
    from gitml.exceptions import UsageError
    from gitml.review.diff import diff as _diff
    from gitml.review.diff import diff_runs, split_refs

    if len(refs) > 2:
        raise UsageError("gitml diff takes at most two revisions or two runs", hint="gitml diff main HEAD")
    runs = split_refs(ws, refs)
    if runs is not None:
        return diff_runs(ws, *runs, all=all)
    base = refs[0] if refs else "HEAD"
    head = refs[1] if len(refs) > 1 else None
    return _diff(ws, base=base, head=head, all=all, compare_by=compare_by)


def report(
    base: str,
    head: str | None = None,
    *,
    out: StrPath = "report.md",
    repo: StrPath | None = None,
    precision: int = 5,
    plots: bool = True,
    plots_dir: StrPath | None = None,
    image_url: str | None = None,
    link_base: str | None = None,
    plot_x: str = "step",
    title: str | None = None,
) -> ReportResult:
    """Write a Markdown report of ``gitml diff BASE HEAD`` with plots (``gitml report``)."""
    from gitml.review.report import write_report

    refs = [base] if head is None else [base, head]
    with _workspace(repo) as ws:
        result = _diff_of(ws, refs, all=False, compare_by=None)
        return write_report(
            ws,
            result,
            out,
            precision=precision,
            plots=plots,
            plots_dir=plots_dir,
            image_url=image_url,
            link_base=link_base,
            x=plot_x,
            title=title,
        )


def plot(
    runs: Sequence[str] = (),
    *,
    metrics: Sequence[str],
    out: StrPath,
    revs: Sequence[str] = (),
    x: str = "step",
    title: str | None = None,
    repo: StrPath | None = None,
) -> PlotResult:
    """Draw metric curves of runs, overlaid, into a PNG or SVG (``gitml plot``)."""
    from gitml.review.plot_runs import plot_runs

    with _workspace(repo) as ws:
        return plot_runs(ws, runs=runs, revs=revs, metrics=metrics, x=x, out=out, title=title)


def run_project(
    uri: str | None = None,
    *,
    repo: StrPath | None = None,
    entry_point: str = "main",
    params: Sequence[str] = (),
    version: str | None = None,
    env_manager: str | None = None,
    name: str | None = None,
    experiment: str | None = None,
    tags: Sequence[str] = (),
) -> ProjectRun:
    """Run a project's entry point as a tracked run (``gitml run [URL] [--rev REV] -e E -P k=v``)."""
    from gitml.projects.launch import run as _run
    from gitml.tracking.command import parse_assignments

    return _run(
        uri,
        repo=repo,
        entry_point=entry_point,
        parameters=parse_assignments(params, option="-P"),
        version=version,
        env_manager=env_manager,
        name=name,
        experiment=experiment,
        tags=parse_assignments(tags, option="--tag"),
    )


def reproduce(
    run_ref: str, *, repo: StrPath | None = None, params: Sequence[str] = ()
) -> tuple[ProjectRun, str]:
    """Run a recorded project run again (``gitml reproduce RUN``); returns (new run, original id)."""
    from gitml.projects.launch import reproduce as _reproduce
    from gitml.tracking.command import parse_assignments

    return _reproduce(run_ref, repo=repo, parameters=parse_assignments(params, option="-P"))
