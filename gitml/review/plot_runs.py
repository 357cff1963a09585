"""``gitml plot``: which runs to draw (by id, prefix or name, in the work tree or at revisions).

:func:`plot_runs` picks the runs, reads their histories, labels them and hands
:class:`~gitml.review.plot.Series` to the drawing layer in :mod:`gitml.review.plot`;
it returns what it drew and the warnings.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitml._types import StrPath
from gitml.exceptions import (
    CorruptRunError,
    NotFoundError,
    RunNotFoundError,
    UsageError,
)
from gitml.review.plot import SHORT_ID, Series, check_output, pyplot_free_matplotlib, render
from gitml.tracking.run import Metric, RunInfo

if TYPE_CHECKING:
    from gitml.tracking.store import RunStore
    from gitml.workspace import Workspace

__all__ = ["PlotResult", "PlottedRun", "plot_runs", "short_ids"]

# -- choosing runs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlottedRun:
    """A run drawn: where it was read (``revs``: () for the work tree) and its legend label."""

    run_id: str
    name: str
    revs: tuple[str, ...]
    label: str
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class PlotResult:
    """What :func:`plot_runs` drew: the file, the runs (one line each per metric), the panels."""

    path: Path
    runs: tuple[PlottedRun, ...]
    metrics: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass
class _Pick:
    run_id: str
    info: RunInfo
    revs: list[str]
    history: dict[str, list[Metric]]


def plot_runs(
    ws: Workspace,
    *,
    runs: Sequence[str] = (),
    revs: Sequence[str] = (),
    metrics: Sequence[str],
    x: str = "step",
    out: StrPath,
    title: str | None = None,
) -> PlotResult:
    """Draw ``metrics`` of the chosen runs into ``out``: what ``gitml plot`` does.

    ``runs`` are ids, unique id prefixes or unique names, read in the work tree or,
    with ``revs``, at each revision (a run missing at some of them is a warning).
    Without ``runs``: at each revision (or in the work tree) the newest run that
    logged the metrics — all of them if one did, else any. A run that lacks a metric
    is left out of that panel with a warning; no line at all is NotFoundError. The
    same run with the same points at several revisions is drawn once.
    """
    from gitml.tracking.store import RunStore

    check_output(out, x)
    pyplot_free_matplotlib()  # a missing extra is said before any run is read
    metrics, revs = list(dict.fromkeys(metrics)), list(dict.fromkeys(revs))
    if not metrics:
        raise UsageError("name a metric to plot", hint="gitml plot --metric loss -o loss.png")
    warnings: list[str] = []
    picks: list[_Pick] = []
    stores = [RunStore(ws, rev=rev) for rev in revs] or [RunStore(ws)]
    if runs:
        _pick_named(stores, runs, metrics, picks, warnings)
    else:
        for store in stores:
            _pick_newest(store, metrics, picks, warnings)
    known = sorted({i for store in stores for i in store.run_ids()})
    panels, drawn = _series(picks, metrics, known, revs=revs, warnings=warnings)
    if not panels:
        raise NotFoundError(
            f"no run{_at(revs)} has a point of {_names(metrics)}",
            hint=_available_hint(stores),
        )
    if title is None:
        title = ", ".join(panels) + (f" at {' vs '.join(map(_short_rev, revs))}" if revs else "")
    path, skipped = render(panels, x=x, out=out, title=title)
    for (metric, label), count in skipped.items():
        warnings.append(f"{label}: {count} point(s) of {metric!r} are infinite or not numbers: not drawn")
    return PlotResult(path, tuple(drawn), tuple(panels), tuple(warnings))


def _names(metrics: Sequence[str]) -> str:
    return " or ".join(repr(m) for m in metrics)


def _at(revs: Sequence[str]) -> str:
    return f" at {', '.join(revs)}" if revs else " in the work tree"


def _where(store: RunStore) -> str:
    return "in the work tree" if store.rev is None else f"at {store.rev}"


def _add(
    picks: list[_Pick],
    store: RunStore,
    run_id: str,
    metrics: Sequence[str],
    warnings: list[str],
    *,
    info: RunInfo | None = None,
) -> None:
    """Read the run's histories (and record, unless given) and add it to ``picks``.

    The same run with the same points, read at another revision, is not added again:
    the revision is added to that pick.
    """
    try:
        info = info or store.info(run_id)
        history = {m: store.metric_history(run_id, m) for m in metrics}
    except CorruptRunError as exc:
        warnings.append(f"skipped run {run_id} {_where(store)}: {exc.message}")
        return
    rev = [] if store.rev is None else [store.rev]
    for pick in picks:
        if pick.run_id == run_id and pick.history == history:
            pick.revs += [r for r in rev if r not in pick.revs]
            return
    picks.append(_Pick(run_id, info, rev, history))


def _pick_named(
    stores: Sequence[RunStore],
    refs: Sequence[str],
    metrics: Sequence[str],
    picks: list[_Pick],
    warnings: list[str],
) -> None:
    """Each RUN at each store; one found nowhere is RunNotFoundError, one missing somewhere a warning."""
    for ref in dict.fromkeys(refs):
        absent: list[tuple[RunStore, RunNotFoundError]] = []
        for store in stores:
            try:
                run_id = store.resolve(ref)
            except RunNotFoundError as exc:
                absent.append((store, exc))
                continue
            _add(picks, store, run_id, metrics, warnings)
        if len(absent) == len(stores):
            raise absent[0][1]
        warnings += [f"no run {ref!r} {_where(store)}" for store, _ in absent]


def _pick_newest(store: RunStore, metrics: Sequence[str], picks: list[_Pick], warnings: list[str]) -> None:
    """The newest run that logged every metric, else the newest that logged any."""
    errors: list[CorruptRunError] = []
    wanted = set(metrics)
    candidates = list(
        store.summaries(errors=errors, keep=lambda entry, _status: not wanted.isdisjoint(entry["metrics"]))
    )
    warnings += [f"skipped a run {_where(store)}: {e.message}" for e in errors]
    best = next((s for s in candidates if wanted <= s.metrics.keys()), None) or next(iter(candidates), None)
    if best is None:
        warnings.append(f"no run {_where(store)} logged {_names(metrics)}")
        return
    _add(picks, store, best.run_id, metrics, warnings, info=best.info)


def short_ids(run_ids: Iterable[str], known: Sequence[str]) -> dict[str, str]:
    """Each id's shortest prefix (8+ characters) that no other id in ``known`` shares."""
    ordered = sorted(set(known))
    out = {}
    for run_id in run_ids:
        i = bisect.bisect_left(ordered, run_id)
        neighbours = [ordered[j] for j in (i - 1, i + 1) if 0 <= j < len(ordered) and ordered[j] != run_id]
        common = max((_common_prefix(run_id, other) for other in neighbours), default=0)
        out[run_id] = run_id[: max(SHORT_ID, common + 1)]
    return out


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for ca, cb in zip(a, b, strict=False):
        if ca != cb:
            break
        n += 1
    return n


def _short_rev(rev: str) -> str:
    is_sha = len(rev) >= 16 and all(c in "0123456789abcdef" for c in rev.lower())
    return rev[:8] if is_sha else rev


def _series(
    picks: Sequence[_Pick],
    metrics: Sequence[str],
    known: Sequence[str],
    *,
    revs: Sequence[str],
    warnings: list[str],
) -> tuple[dict[str, list[Series]], list[PlottedRun]]:
    several_revs = len(revs) > 1
    short = short_ids([p.run_id for p in picks], [*known, *(p.run_id for p in picks)])
    names = [(p.info.name, tuple(p.revs)) for p in picks]
    panels: dict[str, list[Series]] = {m: [] for m in metrics}
    drawn: list[PlottedRun] = []
    for pick in picks:
        shown = [_short_rev(r) for r in pick.revs]
        at = f" @ {', '.join(shown)}" if shown else ""
        label = f"{pick.info.name} · {short[pick.run_id]}{at}"
        unique_name = names.count((pick.info.name, tuple(pick.revs))) == 1
        end = (pick.info.name + (at if several_revs else "")) if unique_name else label
        # With several revisions, the older ones' lines are dashed: "before" vs "after" at a glance.
        older = several_revs and revs[-1] not in pick.revs
        had = []
        for metric in metrics:
            points = pick.history[metric]
            if not points:
                where = f" at {', '.join(pick.revs)}" if pick.revs else ""
                warnings.append(f"run {pick.info.name} ({pick.run_id}){where} has no {metric!r}: left out")
                continue
            panels[metric].append(
                Series(label, points, pick.info.start_time, end, "dashed" if older else "solid")
            )
            had.append(metric)
        if had:
            drawn.append(PlottedRun(pick.run_id, pick.info.name, tuple(pick.revs), label, tuple(had)))
    return {m: s for m, s in panels.items() if s}, drawn


def _available_hint(stores: Sequence[RunStore]) -> str:
    """Which metrics recent runs did log: the usual mistake is a misspelt name."""
    seen: set[str] = set()
    for store in stores:
        for summary in store.summaries(errors=[], limit=50):
            seen.update(summary.metrics)
    if not seen:
        return "no run here logged any metric; list runs with `gitml runs list`"
    shown = ", ".join(sorted(seen)[:12]) + (" ..." if len(seen) > 12 else "")
    return f"metrics logged by recent runs: {shown}"
