"""The files of one run folder: ``run.yaml``, ``params.yaml``, ``metrics.csv`` (docs/format.md).

Parsing functions take bytes so the same code reads a run from the work tree
and from a git revision. ``RunWriter`` owns the write side for one run:

- ``metrics.csv`` is append-only; each row (or batch of rows) is one ``write``
  to an ``O_APPEND`` descriptor, so rows from several processes never
  interleave and a crash never leaves half a row that a reader takes for data
  (readers ignore a last line without its newline).
- ``params.yaml`` is append-only too: one ``key: value`` line per param, under
  an advisory lock that makes "same key, different value" an error across
  processes.
- ``run.yaml`` is replaced atomically (temp file, rename; fsync for the final
  record) under an advisory lock on the run folder, re-reading it first so two
  writers never undo each other's tags.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from gitml import _yaml
from gitml._fs import append_bytes, atomic_write, locked
from gitml.exceptions import CorruptRunError, ParamConflictError
from gitml.paths import check_key
from gitml.tracking.run import Metric, RunInfo, same_param

__all__ = [
    "METRICS_FILE",
    "METRICS_HEADER",
    "PARAMS_FILE",
    "RUN_FILE",
    "LatestMetric",
    "RunWriter",
    "iter_metrics",
    "latest_metrics",
    "parse_params",
    "parse_run",
    "run_signature",
    "summary_entry",
]

RUN_FILE = "run.yaml"
PARAMS_FILE = "params.yaml"
METRICS_FILE = "metrics.csv"
DIFF_FILE = "source.diff"
LOG_FILE = "output.log"
METRICS_HEADER = b"key,value,step,timestamp\n"
#: A run whose metrics.csv is larger than this leaves no summary when it ends.
SUMMARY_METRICS_LIMIT = 1024 * 1024


# -- reading --------------------------------------------------------------------------------------


def parse_run(data: bytes, *, where: str) -> RunInfo:
    try:
        parsed = _yaml.load_fast(data)
    except (_yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorruptRunError(f"{where}: not valid YAML ({first})", hint="fix or remove the file") from exc
    return RunInfo.from_dict(parsed, where=where)


_PLAIN = r"[A-Za-z_][A-Za-z0-9_.\-/]*"
_NAME_LINES = re.compile(rb'^(name|experiment): (?:"([^"\\\n]*)"|(' + _PLAIN.encode() + rb"))$", re.M)
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})


def record_names(data: bytes) -> tuple[str, str] | None:
    """(experiment, name) read straight from a run.yaml's lines, or None if they are not simple.

    A diff pairs runs by these two fields; this reads 10,000 records in a few
    milliseconds where parsing them takes most of a second. Anything that is not a
    plain word or a double-quoted text without escapes gets None: parse the record.
    """
    found: dict[bytes, str] = {}
    for key, quoted, plain in _NAME_LINES.findall(data):
        if key in found:
            return None
        if plain and plain.decode().lower() in _YAML_WORDS:
            return None
        try:
            found[key] = (quoted or plain).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if len(found) != 2 or not found[b"name"] or not found[b"experiment"]:
        return None
    return found[b"experiment"], found[b"name"]


def parse_params(data: bytes, *, where: str) -> dict[str, Any]:
    if not data.strip():
        return {}
    try:
        parsed = _yaml.load_fast(data)
    except (_yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CorruptRunError(f"{where}: not valid YAML", hint="fix or remove the file") from exc
    if parsed is None:
        return {}
    if not isinstance(parsed, Mapping):
        raise CorruptRunError(f"{where}: must hold a mapping of param name to value")
    return {str(k): v for k, v in parsed.items()}


def _rows(data: bytes, where: str) -> Iterator[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptRunError(f"{where}: not UTF-8 text", hint="fix or remove the file") from exc
    lines = text.split("\n")
    # The last element is "" for a complete file, or a row still being written: ignore it.
    for number, line in enumerate(lines[:-1], start=1):
        if not line or (number == 1 and line.startswith("key,")):
            continue
        fields = line.split(",")
        if len(fields) != 4:
            raise CorruptRunError(f"{where}:{number}: expected key,value,step,timestamp: {line[:80]!r}")
        yield number, fields


def iter_metrics(data: bytes, *, where: str, key: str | None = None) -> Iterator[Metric]:
    """Every metric row (of one ``key`` if given), in file order."""
    prefix = None if key is None else key + ","
    for number, (k, value, step, ts) in _rows(data, where):
        if prefix is not None and k != key:
            continue
        try:
            yield Metric(k, float(value), int(step), int(ts))
        except ValueError as exc:
            raise CorruptRunError(f"{where}:{number}: bad number in metric row") from exc


class LatestMetric(NamedTuple):
    """A metric's latest point (a tuple: listings build 10,000s of them)."""

    value: float
    step: int
    timestamp: int


def latest_metrics(
    data: bytes, *, where: str, counts: dict[str, int] | None = None
) -> dict[str, LatestMetric]:
    """Each key's latest point: highest step, then newest timestamp (MLflow's rule).

    ``counts``, if given, is filled with each key's number of points in the same pass.
    """
    best: dict[str, tuple[int, int, float]] = {}
    for number, (k, value, step, ts) in _rows(data, where):
        if counts is not None:
            counts[k] = counts.get(k, 0) + 1
        try:
            point = (int(step), int(ts), float(value))
        except ValueError as exc:
            raise CorruptRunError(f"{where}:{number}: bad number in metric row") from exc
        old = best.get(k)
        if old is None or point[:2] >= old[:2]:
            best[k] = point
    return {k: LatestMetric(v, s, t) for k, (s, t, v) in best.items()}


def run_signature(run_dir: str) -> str:
    """What a run folder's summary depends on: size, mtime and inode of its three files."""
    parts = [os.path.basename(run_dir)]
    for name in _SIGNED_FILES:
        try:
            st = os.stat(run_dir + name)
        except FileNotFoundError:
            parts.append("-")
        else:
            parts.append(f"{st.st_mtime_ns}.{st.st_size}.{st.st_ino}")
    return "wt:" + ":".join(parts)


_SIGNED_FILES = (f"/{RUN_FILE}", f"/{PARAMS_FILE}", f"/{METRICS_FILE}")


def summary_entry(
    info: RunInfo, params: Mapping[str, Any], metrics: Mapping[str, LatestMetric]
) -> dict[str, Any]:
    """A run's summary as the listing cache stores it (JSON-ready)."""
    return {
        "run": info.to_dict(),
        "times": [info.start_time, info.end_time],  # epoch ms, so readers need not parse ISO text
        "params": dict(params),
        "metrics": {k: [m.value, m.step, m.timestamp] for k, m in metrics.items()},
    }


# -- writing --------------------------------------------------------------------------------------


def format_metric_value(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return repr(value)


class RunWriter:
    """Writes one run's folder. Create a run with :meth:`create`, or join one with :meth:`attach`."""

    def __init__(self, run_dir: Path, *, fsync: bool = False) -> None:
        self.dir = run_dir
        self._fsync = fsync
        self._metrics_fd = -1
        self._params_fd = -1
        self._params: dict[str, Any] = {}
        self._params_size = 0
        self._checked_keys: set[str] = set()
        self._info: RunInfo | None = None
        self._info_stat: tuple[int, int, int] | None = None

    @property
    def closed(self) -> bool:
        return self._metrics_fd < 0

    def create(self, info: RunInfo, *, diff: bytes = b"") -> None:
        self.dir.mkdir(parents=True, exist_ok=False)
        if diff:
            atomic_write(self.dir / DIFF_FILE, diff, fsync=False)
        self._write_info(info)
        fd = os.open(self.dir / METRICS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        append_bytes(fd, METRICS_HEADER)
        self._metrics_fd = fd
        self._params_fd = os.open(self.dir / PARAMS_FILE, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)

    def attach(self) -> RunInfo:
        """Open an existing run for logging (a child process of ``gitml run``, or a resumed run)."""
        info = self.read_info()
        self._metrics_fd = os.open(self.dir / METRICS_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._params_fd = os.open(self.dir / PARAMS_FILE, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        return info

    def read_info(self) -> RunInfo:
        """run.yaml as it is now (the copy this writer wrote last, if nobody replaced it since)."""
        path = self.dir / RUN_FILE
        if self._info is not None and self._info_stat == _stat_key(path):
            return self._info
        return parse_run(path.read_bytes(), where=str(path))

    def _write_info(self, info: RunInfo) -> None:
        # Always atomic (temp file + rename). With fsync on (config run.fsync), the final record —
        # the run's commit point — is also flushed before the rename; an fsync commits the
        # filesystem journal, which costs 0.1-1 ms per run, so it is opt-in.
        path = self.dir / RUN_FILE
        final = info.status != "RUNNING"
        atomic_write(path, _yaml.dump(info.to_dict()).encode(), fsync=self._fsync and final)
        self._info, self._info_stat = info, _stat_key(path)

    def close(self) -> None:
        """Close the files. Appended rows are already in the OS (safe from a process crash); they are
        not fsynced, the price of microsecond logging: a power cut may lose the newest rows, never
        corrupt older ones."""
        for fd in (self._metrics_fd, self._params_fd):
            if fd >= 0:
                os.close(fd)
        self._metrics_fd = self._params_fd = -1

    # metrics: the hot path
    def log_metric(self, key: str, value: float, step: int, timestamp: int) -> None:
        if key not in self._checked_keys:
            self._checked_keys.add(check_key(key, what="metric key"))
        text = "nan" if value != value else repr(value)
        append_bytes(self._metrics_fd, f"{key},{text},{step},{timestamp}\n".encode())

    def log_metric_rows(self, rows: Iterable[tuple[str, float, int, int]]) -> None:
        parts = []
        for key, value, step, timestamp in rows:
            if key not in self._checked_keys:
                self._checked_keys.add(check_key(key, what="metric key"))
            parts.append(f"{key},{format_metric_value(value)},{step},{timestamp}\n")
        if parts:
            append_bytes(self._metrics_fd, "".join(parts).encode())

    # params: append-only, immutable
    def log_params(self, params: Mapping[str, Any]) -> None:
        for key in params:
            check_key(key, what="param key")
        fd = self._params_fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            if size != self._params_size:
                data = os.pread(fd, size, 0)
                self._params = parse_params(data, where=str(self.dir / PARAMS_FILE))
                self._params_size = size
            new: dict[str, Any] = {}
            for key, value in params.items():
                if key in self._params or key in new:
                    old = self._params[key] if key in self._params else new[key]
                    if not same_param(old, value):
                        raise ParamConflictError(
                            f"param {key!r} was already logged as {old!r}; it cannot change to {value!r}",
                            hint="params are immutable within a run: start a new run for a new value",
                        )
                    continue
                new[key] = value
            if new:
                data = _yaml.dump(new).encode()
                append_bytes(fd, data)
                self._params.update(new)
                self._params_size = size + len(data)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def write_summary(self, cache_dir: Path) -> None:
        """Leave this run's summary for listings (``.gitml/tmp/summaries/<id>.json``), so the next
        ``gitml runs list`` need not parse the run's files. Best effort: a failure only costs speed."""
        try:
            if os.stat(self.dir / METRICS_FILE).st_size > SUMMARY_METRICS_LIMIT:
                return  # reading it back would slow end_run; the first listing caches it instead
            info = self.read_info()
            params = parse_params((self.dir / PARAMS_FILE).read_bytes(), where=str(self.dir / PARAMS_FILE))
            metrics = latest_metrics(
                (self.dir / METRICS_FILE).read_bytes(), where=str(self.dir / METRICS_FILE)
            )
            record = {
                "signature": run_signature(str(self.dir)),
                "entry": summary_entry(info, params, metrics),
            }
            if not cache_dir.is_dir():
                cache_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(
                cache_dir / f"{self.dir.name}.json", json.dumps(record, default=str).encode(), fsync=False
            )
        except (OSError, ValueError, CorruptRunError):
            pass

    # run.yaml: replaced atomically under the run's lock
    def update_info(self, **changes: Any) -> RunInfo:
        """Re-read run.yaml, apply ``changes`` (``tags`` are merged), and write it back atomically."""
        with locked(self.dir):  # the run folder itself: no lock file to leave behind
            info = self.read_info()
            if "tags" in changes:
                changes["tags"] = {**info.tags, **changes["tags"]}
            info = info.with_changes(**changes)
            self._write_info(info)
            return info


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
