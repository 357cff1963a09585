"""Reading runs: from the work tree or from any git revision, one run or all of them.

``RunStore`` answers questions about one run by reading only that run's folder,
and questions about all runs from per-run summaries (the run record, its
params and each metric's latest point). Summaries are cached in
``.gitml/tmp/summaries.json`` (never committed) behind a signature of the
files they came from — their size and mtime in the work tree, the folder's
tree sha at a revision — so a listing over 10,000 runs re-reads only the runs
that changed since the last one.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitml._fs import atomic_write
from gitml.exceptions import AmbiguousRunError, CorruptRunError, InvalidNameError, RunNotFoundError
from gitml.runid import RUN_ID_LENGTH
from gitml.tracking.files import (
    METRICS_FILE,
    PARAMS_FILE,
    RUN_FILE,
    LatestMetric,
    iter_metrics,
    latest_metrics,
    parse_params,
    parse_run,
    run_signature,
    summary_entry,
)
from gitml.tracking.liveness import is_alive
from gitml.tracking.run import RUNNING, STALE, Metric, RunInfo, parse_time
from gitml.workspace import Workspace

__all__ = ["RunStore", "RunSummary", "SummaryReader", "entry_times"]

_CACHE_VERSION = 1
_CACHE_MAX_ENTRIES = 200_000
RUNS_PATH = ".gitml/runs"


@dataclass(frozen=True)
class RunSummary:
    """A run as listings and searches see it. ``status`` is the shown one (STALE for a dead RUNNING run)."""

    info: RunInfo
    params: dict[str, Any]
    metrics: dict[str, LatestMetric]
    status: str

    @property
    def run_id(self) -> str:
        return self.info.run_id


class RunStore:
    """Runs of one workspace, as they are in the work tree (``rev=None``) or at a git revision."""

    def __init__(self, workspace: Workspace, *, rev: str | None = None) -> None:
        self.workspace = workspace
        self.rev = rev
        self.commit: str | None = None
        self._tree: dict[str, tuple[int, str]] | None = None
        self._runs_dir = str(workspace.runs_dir)
        if rev is not None:
            self.commit = workspace.repo.resolve(rev)

    # -- files --------------------------------------------------------------------------------

    def _runs_tree(self) -> dict[str, tuple[int, str]]:
        """The ``.gitml/runs`` folder at this revision: name -> (mode, sha), listed once."""
        if self._tree is None:
            assert self.commit is not None
            self._tree = self.workspace.repo.list_tree(self.commit, RUNS_PATH)
        return self._tree

    def _run_tree(self, run_id: str) -> dict[str, tuple[int, str]]:
        assert self.commit is not None
        entry = self._runs_tree().get(run_id)
        if entry is None or not stat.S_ISDIR(entry[0]):
            return {}
        return self.workspace.repo.read_tree(entry[1])  # not from the root: the runs tree is large

    def _where(self, run_id: str, name: str) -> str:
        base = f"{RUNS_PATH}/{run_id}/{name}"
        return base if self.commit is None else f"{self.rev}:{base}"

    def _read(self, run_id: str, name: str, tree: dict[str, tuple[int, str]] | None = None) -> bytes | None:
        if self.commit is None:
            try:
                with open(os.path.join(self._runs_dir, run_id, name), "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise CorruptRunError(f"{self._where(run_id, name)}: {exc.strerror}") from exc
        entries = self._run_tree(run_id) if tree is None else tree
        if name not in entries:
            return None
        return self.workspace.repo.read_blob(entries[name][1])

    def read_file(self, run_id: str, name: str) -> tuple[bytes | None, str]:
        """A file of a run folder (None if absent) and where it was read, for messages."""
        return self._read(run_id, name), self._where(run_id, name)

    def run_ids(self) -> list[str]:
        """Every run id, oldest first (ids sort by creation time)."""
        if self.commit is None:
            try:
                names = os.listdir(self.workspace.runs_dir)
            except FileNotFoundError:
                return []
        else:
            names = list(self._runs_tree())
        return sorted(n for n in names if len(n) == RUN_ID_LENGTH and not n.startswith("."))

    # -- one run ------------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """A run id from a full id, a unique id prefix (4+ characters) or a unique run name."""
        ids = self.run_ids()
        if len(ref) == RUN_ID_LENGTH and ref in ids:
            return ref
        if len(ref) >= 4:
            matches = [i for i in ids if i.startswith(ref.lower())]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
                raise AmbiguousRunError(
                    f"run id prefix {ref!r} matches {len(matches)} runs: {shown}",
                    hint="give more characters of the id",
                )
        named = [s.run_id for s in self.summaries(errors=[]) if s.info.name == ref]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise AmbiguousRunError(
                f"{len(named)} runs are named {ref!r}: {', '.join(named[:5])}", hint="use the run id"
            )
        where = "" if self.rev is None else f" at {self.rev}"
        raise RunNotFoundError(f"no run {ref!r}{where}", hint="list runs with `gitml runs list`")

    def info(self, run_id: str) -> RunInfo:
        """The run's record (run.yaml) alone; CorruptRunError if it is missing or does not parse."""
        data, where = self.read_file(run_id, RUN_FILE)
        if data is None:
            raise CorruptRunError(f"{where}: missing")
        return parse_run(data, where=where)

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        data = self._read(run_id, METRICS_FILE) or b""
        return list(iter_metrics(data, where=self._where(run_id, METRICS_FILE), key=key))

    def all_metrics(self, run_id: str) -> list[Metric]:
        data = self._read(run_id, METRICS_FILE) or b""
        return list(iter_metrics(data, where=self._where(run_id, METRICS_FILE)))

    def summary(self, run_id: str, *, counts: dict[str, int] | None = None) -> RunSummary:
        """One run's summary; ``counts``, if given, is filled with each metric's number of points."""
        return self._summarize(run_id, self._tree_entries(run_id), counts=counts)

    def _summarize(
        self, run_id: str, tree: dict[str, tuple[int, str]] | None, *, counts: dict[str, int] | None = None
    ) -> RunSummary:
        data = self._read(run_id, RUN_FILE, tree)
        if data is None:
            raise CorruptRunError(f"{self._where(run_id, RUN_FILE)}: missing")
        info = parse_run(data, where=self._where(run_id, RUN_FILE))
        params = parse_params(
            self._read(run_id, PARAMS_FILE, tree) or b"", where=self._where(run_id, PARAMS_FILE)
        )
        metrics = latest_metrics(
            self._read(run_id, METRICS_FILE, tree) or b"",
            where=self._where(run_id, METRICS_FILE),
            counts=counts,
        )
        return RunSummary(info, params, metrics, self.shown_status(info))

    def shown_status(self, info: RunInfo) -> str:
        return self._status(info.status, info.run_id, info.host, info.pid, info.pid_start, info.start_time)

    def _status(
        self, status: str, run_id: str, host: str | None, pid: int | None, pid_start: int | None, start: int
    ) -> str:
        """The status to show: a RUNNING record whose process is gone is STALE."""
        if status != RUNNING:
            return status
        alive = is_alive(
            host=host,
            pid=pid,
            pid_start=pid_start,
            heartbeat=self.workspace.tmp_dir / "heartbeat" / run_id,
            started_ms=start,
        )
        return RUNNING if alive and self.commit is None else STALE

    # -- all runs -----------------------------------------------------------------------------

    def summaries(
        self,
        *,
        errors: list[CorruptRunError],
        keep: Callable[[dict[str, Any], str], bool] | None = None,
        limit: int | None = None,
    ) -> Iterator[RunSummary]:
        """Every readable run, newest first; runs that do not parse are appended to ``errors``.

        ``keep(entry, status)``, if given, sees each run's cached summary entry (see
        ``summary_entry``) and its shown status before the run is decoded, so a search
        builds objects only for the runs it returns. With ``limit``, reading stops after that
        many runs are kept (the newest ones).
        """
        out: list[RunSummary] = []
        with self.reader() as reader:
            for run_id in reversed(self.run_ids()):
                if limit is not None and len(out) >= limit:
                    reader.complete = False  # stale entries are only dropped after a full pass
                    break
                try:
                    summary = reader.get(run_id, keep=keep)
                except CorruptRunError as exc:
                    errors.append(exc)
                except InvalidNameError:
                    continue
                else:
                    if summary is not None:
                        out.append(summary)
        return iter(out)

    def records(self, run_ids: Iterable[str]) -> Iterator[tuple[str, bytes | None]]:
        """Each run's raw run.yaml (None if it has none), read lazily in the order given."""
        if self.commit is None:
            for run_id in run_ids:
                yield run_id, self._read(run_id, RUN_FILE)
            return
        tree = self._runs_tree()
        ids = list(run_ids)
        trees = (tree[i][1] if i in tree else "" for i in ids)
        yield from zip(ids, self.workspace.repo.files_in_trees(trees, RUN_FILE), strict=False)

    def reader(self) -> SummaryReader:
        """Summaries of single runs through the summary cache (a context manager: saves on exit)."""
        return SummaryReader(self)

    def folder_trees(self) -> dict[str, str]:
        """Run id -> the tree sha of its folder at this revision (a revision's store only)."""
        return {run_id: self._runs_tree()[run_id][1] for run_id in self.run_ids()}

    def _entry_status(self, entry: dict[str, Any]) -> str:
        run = entry["run"]
        start = entry_times(entry)[0]
        return self._status(run["status"], run["id"], run["host"], run["pid"], run["pid_start"], start)

    def _tree_entries(self, run_id: str) -> dict[str, tuple[int, str]] | None:
        return None if self.commit is None else self._run_tree(run_id)

    def _signature(self, run_id: str) -> str:
        if self.commit is None:
            return run_signature(os.path.join(self._runs_dir, run_id))
        entry = self._runs_tree().get(run_id)
        if entry is None:
            raise RunNotFoundError(f"no run {run_id!r} at {self.rev}")
        return f"tree:{entry[1]}"

    def _left_by_writer(self, run_id: str, signature: str) -> dict[str, Any] | None:
        """The summary the run's owner wrote when it ended, if the files have not changed since."""
        if self.commit is not None:
            return None
        try:
            with open(os.path.join(str(self.workspace.tmp_dir), "summaries", f"{run_id}.json"), "rb") as f:
                record = json.loads(f.read())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("signature") != signature:
            return None
        entry = record.get("entry")
        return entry if isinstance(entry, dict) else None


class SummaryReader:
    """Reads run summaries one at a time through ``.gitml/tmp/summaries.json``.

    Entries read or made are written back on ``close`` (or leaving the ``with``
    block). ``complete`` says whether every run of the store was read: only then
    are the work tree's stale entries dropped.
    """

    def __init__(self, store: RunStore) -> None:
        self._store = store
        self._path = store.workspace.tmp_dir / "summaries.json"
        self._cache = _load_cache(self._path)
        self._used: dict[str, Any] = {}
        self.complete = True

    def __enter__(self) -> SummaryReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.complete and self._used.keys() != self._cache.keys():
            _save_cache(self._path, self._cache, self._used, complete=True)
        elif not self.complete and not self._used.keys() <= self._cache.keys():
            _save_cache(self._path, self._cache, self._used, complete=False)

    def cached_names(self, run_id: str) -> tuple[str, str] | None:
        """(experiment, name) of a run from the cache, if it has the run (a summary or its names)."""
        signature = self._store._signature(run_id)
        for key in (signature, "names:" + signature):
            entry = self._cache.get(key)
            if entry is None:
                continue
            run = entry.get("run") if isinstance(entry, dict) else None
            names = (run.get("experiment"), run.get("name")) if isinstance(run, dict) else entry
            if (
                isinstance(names, (list, tuple))
                and len(names) == 2
                and all(isinstance(n, str) for n in names)
            ):
                self._used.setdefault(key, entry)
                return names[0], names[1]
        return None

    def remember_names(self, run_id: str, names: tuple[str, str]) -> None:
        """Keep a run's (experiment, name) in the cache (at a revision, where they cannot go stale)."""
        if self._store.commit is not None:
            self._used["names:" + self._store._signature(run_id)] = list(names)

    def info(self, run_id: str) -> RunInfo:
        """The run's record alone: from the cache when it has the run, else its run.yaml only."""
        store = self._store
        entry = self._cache.get(store._signature(run_id))
        if entry is not None:
            try:
                return RunInfo.from_cached(entry["run"], entry_times(entry))
            except (KeyError, TypeError, ValueError, AttributeError, IndexError):
                pass
        return store.info(run_id)

    def get(
        self, run_id: str, *, keep: Callable[[dict[str, Any], str], bool] | None = None
    ) -> RunSummary | None:
        """The run's summary (None if ``keep`` rejects it); CorruptRunError if it does not parse."""
        store = self._store
        signature = store._signature(run_id)
        entry = self._cache.get(signature) or store._left_by_writer(run_id, signature)
        summary = None
        kept = False
        if entry is not None:
            try:
                kept = keep is None or keep(entry, store._entry_status(entry))
                summary = _decode(entry, store) if kept else None
            except (KeyError, TypeError, ValueError, AttributeError, IndexError):
                entry = None  # a damaged cache entry: read the run itself
        if entry is None:
            summary = store._summarize(run_id, store._tree_entries(run_id))
            entry = _encode(summary)
            kept = keep is None or keep(entry, summary.status)
        self._used[signature] = entry
        return summary if kept else None


def _encode(summary: RunSummary) -> dict[str, Any]:
    return summary_entry(summary.info, summary.params, summary.metrics)


def entry_times(entry: dict[str, Any]) -> tuple[int, int | None]:
    """(start, end) in epoch ms of a summary entry."""
    times = entry.get("times")
    if times is not None:
        return times[0], times[1]
    run = entry["run"]
    return parse_time(run["start_time"]), None if run["end_time"] is None else parse_time(run["end_time"])


def _decode(entry: dict[str, Any], store: RunStore) -> RunSummary:
    """A cached summary back to a RunSummary; KeyError/TypeError/ValueError if the entry is damaged."""
    info = RunInfo.from_cached(entry["run"], entry_times(entry))
    metrics = {k: LatestMetric(*point) for k, point in entry["metrics"].items()}
    return RunSummary(info, dict(entry["params"]), metrics, store.shown_status(info))


def _load_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _save_cache(path: Path, old: dict[str, Any], used: dict[str, Any], *, complete: bool) -> None:
    entries = dict(used)
    for key, value in old.items():  # keep other revisions' entries, up to a bound
        if len(entries) >= _CACHE_MAX_ENTRIES:
            break
        if key not in entries and (not complete or not key.startswith("wt:")):
            entries[key] = value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"version": _CACHE_VERSION, "entries": entries}, default=str)
        atomic_write(path, data.encode(), fsync=False)
    except OSError:
        pass  # a cache that cannot be written only costs speed
