"""``gitml diff``: what a change did to the runs.

Between two revisions, a revision and the work tree, or two runs.

Two sides are compared without reading every run:

1. Each side's run folders are listed with a content signature: the folder's
   tree sha at a revision (one tree object), or the sha git would give the
   folder in the work tree. A run present on both sides with the same
   signature is unchanged and never read.
2. A run whose folder changed is compared with its own base version.
3. New runs are grouped by their comparison key (``diff.compare_by``:
   experiment and name by default); the newest new run of each key is compared
   with the newest base run of that key, found by reading base runs newest
   first and stopping as soon as every key is found.

So a pull request that adds one run to a revision holding 10,000 reads a
handful of runs, not 10,000. Summaries come through the summary cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitml._fs import atomic_write
from gitml.config import COMPARE_HINT, unknown_compare_fields
from gitml.exceptions import CorruptRunError, GitMLError, RevisionNotFoundError, UsageError
from gitml.repo.objects import dir_signature, tree_sha_of_dir
from gitml.review.compare import MetricChange, ParamChange, compare_metrics, compare_params
from gitml.tracking.files import record_names
from gitml.tracking.store import RunStore, RunSummary, SummaryReader
from gitml.workspace import Workspace

__all__ = [
    "WORKSPACE",
    "DiffResult",
    "PlotFile",
    "RunPair",
    "Side",
    "diff",
    "diff_runs",
    "run_key",
    "split_refs",
]

#: The label of the work tree side.
WORKSPACE = "workspace"


@dataclass(frozen=True)
class Side:
    """One side of a diff: a revision (with its commit) or the work tree (commit None)."""

    label: str
    commit: str | None
    runs: int


@dataclass(frozen=True)
class RunPair:
    """Two comparable runs and how they differ. ``same_run``: one run whose folder changed."""

    key: tuple[str, ...]
    base: RunSummary
    head: RunSummary
    params: list[ParamChange]
    metrics: list[MetricChange]

    @property
    def same_run(self) -> bool:
        return self.base.run_id == self.head.run_id

    @property
    def label(self) -> str:
        return "/".join(self.key)


@dataclass(frozen=True)
class PlotFile:
    """A plot drawn for a diff: the metric and the image file."""

    metric: str
    path: Path


@dataclass
class DiffResult:
    base: Side
    head: Side
    pairs: list[RunPair] = field(default_factory=list)
    #: Runs new on the head side with nothing comparable on the base side (newest first).
    added: list[RunSummary] = field(default_factory=list)
    #: New runs with a newer new run of the same key (that one is compared): listed, not compared.
    superseded: list[RunSummary] = field(default_factory=list)
    #: Runs only on the base side.
    removed: list[RunSummary] = field(default_factory=list)
    unchanged: int = 0
    compare_by: tuple[str, ...] = ("experiment", "name")
    warnings: list[str] = field(default_factory=list)
    #: Images drawn for the diff (``gitml diff --plots DIR``).
    plots: list[PlotFile] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.superseded or any(_moved(p) for p in self.pairs))


def _moved(pair: RunPair) -> bool:
    return any(c.changed for c in pair.params) or any(c.changed for c in pair.metrics)


def run_key(summary: RunSummary, compare_by: Sequence[str]) -> tuple[str, ...]:
    """The fields a run is paired by, as text (a missing tag or param is the empty text)."""
    out = []
    for name in compare_by:
        if name == "experiment":
            out.append(summary.info.experiment)
        elif name == "name":
            out.append(summary.info.name)
        elif name.startswith("tags."):
            out.append(str(summary.info.tags.get(name[5:], "")))
        else:
            out.append(str(summary.params.get(name.removeprefix("params."), "")))
    return tuple(out)


# -- opening the sides -------------------------------------------------------------------------


def _open(ws: Workspace, rev: str | None, *, role: str) -> RunStore:
    try:
        return RunStore(ws, rev=rev)
    except RevisionNotFoundError as exc:
        raise _not_fetched(ws, rev or "", role, exc) from exc


def _not_fetched(ws: Workspace, rev: str, role: str, exc: GitMLError) -> GitMLError:
    """A missing revision, with what to fetch when this clone is shallow or lacks the branch."""
    base_rev = rev.split("~")[0].split("^")[0]
    if ws.repo.head()[0] is None:
        return RevisionNotFoundError(
            "this repository has no commits yet: nothing to compare with",
            hint="commit your runs first (gitml runs commit RUN), or compare two: gitml diff RUN-A RUN-B",
        )
    if ws.repo.is_shallow():
        if base_rev != rev:
            hint = f"this clone is shallow; fetch more history: git fetch --deepen=50 (then retry {rev})"
        else:
            hint = (
                f"this clone is shallow and has no {rev!r}; fetch it: git fetch --depth=1 origin {rev}:{rev}"
            )
    elif base_rev == "HEAD":
        hint = "the history is shorter than that: see git log"
    else:
        hint = f"fetch it (git fetch origin {base_rev}:{base_rev}) or name a revision that exists here"
    return RevisionNotFoundError(f"{role} revision {rev!r} is not in this clone", hint=hint)


def _signatures(store: RunStore, others: Mapping[str, str] | None = None) -> dict[str, str]:
    """Run id -> the folder's tree sha at a revision, or in the work tree (only where ``others`` has it)."""
    if store.commit is not None:
        return store.folder_trees()
    ids = store.run_ids()
    shared = [i for i in ids if others is None or i in others]
    trees = _worktree_trees(store.workspace, shared)
    return {i: trees.get(i, "") for i in ids}


def _worktree_trees(ws: Workspace, run_ids: Sequence[str]) -> dict[str, str]:
    """The tree sha each run folder would have if committed now.

    Hashing 10,000 folders reads 40,000 files; the answers are kept in
    ``.gitml/tmp/run-trees.json`` behind each folder's file stats, so the next
    diff hashes only the folders that changed.
    """
    path = ws.tmp_dir / "run-trees.json"
    try:
        cached = json.loads(path.read_bytes())
        if not isinstance(cached, dict):
            cached = {}
    except (OSError, ValueError):
        cached = {}
    out: dict[str, str] = {}
    kept: dict[str, list[str]] = {}
    for run_id in run_ids:
        folder = ws.run_dir(run_id)
        signature = dir_signature(folder)
        hit = cached.get(run_id)
        if signature is not None and isinstance(hit, list) and len(hit) == 2 and hit[0] == signature:
            out[run_id] = str(hit[1])
        else:
            out[run_id] = tree_sha_of_dir(folder) or ""
        if signature is not None:
            kept[run_id] = [signature, out[run_id]]
    if kept != cached:
        try:
            ws.tmp_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(path, json.dumps(kept).encode(), fsync=False)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return out


def split_refs(ws: Workspace, refs: Sequence[str]) -> tuple[str, str] | None:
    """``(run A, run B)`` when two refs name runs rather than revisions, else None.

    A ref that resolves as a revision is one; two refs of which either is not a
    revision but both name runs in the work tree are runs.
    """
    if len(refs) != 2:
        return None
    try:
        for ref in refs:
            ws.repo.resolve(ref)
        return None
    except RevisionNotFoundError:
        pass
    store = RunStore(ws)
    try:
        store.resolve(refs[0]), store.resolve(refs[1])
    except GitMLError:
        return None
    return refs[0], refs[1]


# -- the diff ----------------------------------------------------------------------------------


def diff(
    ws: Workspace,
    *,
    base: str | None = "HEAD",
    head: str | None = None,
    compare_by: Sequence[str] | None = None,
    all: bool = False,
) -> DiffResult:
    """Compare the runs of ``base`` and ``head`` (revisions; ``None`` is the work tree)."""
    config = ws.config.review
    keys = tuple(compare_by) if compare_by else config.compare_by
    for name in unknown_compare_fields(keys):
        raise UsageError(f"cannot compare runs by {name!r}", hint=COMPARE_HINT)
    base_store = _open(ws, base, role="base")
    head_store = _open(ws, head, role="head")
    base_sigs = _signatures(base_store)
    head_sigs = _signatures(head_store, base_sigs)
    result = DiffResult(
        base=Side(base or WORKSPACE, base_store.commit, len(base_sigs)),
        head=Side(head or WORKSPACE, head_store.commit, len(head_sigs)),
        compare_by=keys,
    )
    new = [i for i in head_sigs if i not in base_sigs]
    changed = [i for i in head_sigs if i in base_sigs and head_sigs[i] != base_sigs[i]]
    gone = [i for i in base_sigs if i not in head_sigs]
    result.unchanged = len(head_sigs) - len(new) - len(changed)
    directions = config.metrics
    with base_store.reader() as base_reader, head_store.reader() as head_reader:
        base_reader.complete = head_reader.complete = False
        heads = _read(head_reader, sorted(new + changed, reverse=True), result.warnings)
        for run_id in sorted(changed, reverse=True):
            old = _read_one(base_reader, run_id, result.warnings)
            if old is not None and run_id in heads:
                result.pairs.append(_pair(old, heads[run_id], keys, directions, all=all))
        newest: dict[tuple[str, ...], RunSummary] = {}
        for run_id in sorted(new, reverse=True):  # newest first
            if run_id not in heads:
                continue
            summary = heads[run_id]
            key = run_key(summary, keys)
            if key in newest:
                result.superseded.append(summary)
            else:
                newest[key] = summary
        bases = _newest_by_key(base_store, base_reader, set(newest), keys, result.warnings)
        for key, summary in newest.items():
            if key in bases:
                result.pairs.append(_pair(bases[key], summary, keys, directions, all=all))
            else:
                result.added.append(summary)
        removed = _read(base_reader, sorted(gone, reverse=True), result.warnings)
        result.removed = list(removed.values())
    result.pairs.sort(key=lambda p: (p.key, p.head.run_id))
    return result


def _read_one(reader: SummaryReader, run_id: str, warnings: list[str]) -> RunSummary | None:
    try:
        return reader.get(run_id)
    except CorruptRunError as exc:
        warnings.append(f"skipped a run that does not parse: {exc.message}")
        return None


def _read(reader: SummaryReader, run_ids: Iterable[str], warnings: list[str]) -> dict[str, RunSummary]:
    out = {}
    for run_id in run_ids:
        summary = _read_one(reader, run_id, warnings)
        if summary is not None:
            out[run_id] = summary
    return out


def _newest_by_key(
    store: RunStore,
    reader: SummaryReader,
    wanted: set[tuple[str, ...]],
    keys: Sequence[str],
    warnings: list[str],
) -> dict[tuple[str, ...], RunSummary]:
    """The newest run of each wanted key, reading runs newest first until all are found.

    When runs are paired by experiment and name only, each run's key is read from
    its run.yaml lines alone; only the runs that match are read in full.
    """
    found: dict[tuple[str, ...], RunSummary] = {}
    if not wanted:
        return found
    light = set(keys) <= {"experiment", "name"}
    newest_first = list(reversed(store.run_ids()))
    known = {i: reader.cached_names(i) for i in newest_first} if light else {}
    unknown = [i for i in newest_first if known.get(i) is None]
    records = iter(store.records(unknown)) if light else iter(())
    for run_id in newest_first:
        if light:
            names = known.get(run_id) or _record_names(reader, run_id, records, warnings)
            if names is None:
                continue
            fields = {"experiment": names[0], "name": names[1]}
            key = tuple(fields[k] for k in keys)
            if key not in wanted or key in found:
                continue
        summary = _read_one(reader, run_id, warnings)
        if summary is None:
            continue
        key = run_key(summary, keys)
        if key in wanted and key not in found:
            found[key] = summary
            if len(found) == len(wanted):
                break
    return found


def _record_names(
    reader: SummaryReader,
    run_id: str,
    records: Iterator[tuple[str, bytes | None]],
    warnings: list[str],
) -> tuple[str, str] | None:
    """(experiment, name) of a run the cache does not know, from its next raw run.yaml in ``records``.

    ``records`` yields the uncached runs in the order they are asked for, so each is read
    only as far as needed. None (with a warning) for a run that does not parse.
    """
    _id, record = next(records)
    names = record_names(record) if record is not None else None
    if names is None:
        try:
            info = reader.info(run_id)
        except CorruptRunError as exc:
            warnings.append(f"skipped a run that does not parse: {exc.message}")
            return None
        names = (info.experiment, info.name)
    reader.remember_names(run_id, names)
    return names


def _pair(
    base: RunSummary,
    head: RunSummary,
    keys: Sequence[str],
    directions: Mapping[str, str],
    *,
    all: bool,
) -> RunPair:
    return RunPair(
        key=run_key(head, keys),
        base=base,
        head=head,
        params=compare_params(base.params, head.params, all=all),
        metrics=compare_metrics(_values(base), _values(head), directions=directions),
    )


def _values(summary: RunSummary) -> dict[str, float]:
    return {k: m.value for k, m in summary.metrics.items()}


def diff_runs(
    ws: Workspace, run_a: str, run_b: str, *, rev: str | None = None, all: bool = False
) -> DiffResult:
    """Compare two runs (ids, prefixes or names) of the work tree or of ``rev``: A is the base."""
    store = _open(ws, rev, role="")
    a, b = store.resolve(run_a), store.resolve(run_b)
    with store.reader() as reader:
        reader.complete = False
        first, second = reader.get(a), reader.get(b)
    assert first is not None and second is not None
    review = ws.config.review
    return DiffResult(
        base=Side(a, store.commit, 1),
        head=Side(b, store.commit, 1),
        pairs=[_pair(first, second, review.compare_by, review.metrics, all=all)],
        compare_by=review.compare_by,
    )
