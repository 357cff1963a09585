"""``gitml run -- COMMAND``: track any command with no change to it.

The command runs as a child process with its argv untouched (never through a
shell). gitml records the params given with ``-P`` and those in the params
files the command reads, tees its output to the terminal and to the run's
``output.log``, reads the metrics files it wrote, and ends the run with a status
from its exit: 0 FINISHED, non-zero FAILED, a signal or Ctrl-C KILLED. The
child sees ``GITML_RUN_ID`` and ``GITML_REPO``, so ``gitml.log_metric`` in it
logs into the same run.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from gitml import _yaml
from gitml.exceptions import (
    CommandError,
    GitError,
    GitMLError,
    InvalidNameError,
    ParamConflictError,
    UsageError,
)
from gitml.paths import check_key
from gitml.tracking import fluent
from gitml.tracking.files import LOG_FILE
from gitml.tracking.run import FAILED, FINISHED, KILLED, same_param
from gitml.workspace import Workspace

__all__ = [
    "CommandResult",
    "commit_runs",
    "parse_assignments",
    "parse_param_assignments",
    "parse_value",
    "run_command",
]


@dataclass
class CommandResult:
    run_id: str
    name: str
    status: str
    exit_code: int
    duration_ms: int | None
    run_dir: str
    commit: str | None = None
    warnings: list[str] = field(default_factory=list)


def parse_value(text: str) -> Any:
    """A ``-P`` value: an int, a float, ``true``/``false``, else the string as given (never evaluated)."""
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if text.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity") else text


def _split_assignment(item: str, *, option: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep:
        raise UsageError(f"{option} expects key=value, not {item!r}", hint=f"e.g. {option} lr=0.01")
    return key, value


def parse_assignments(items: Sequence[str], *, option: str) -> dict[str, str]:
    """``["team=ml"]`` -> ``{"team": "ml"}``, values kept as text (``--tag``)."""
    return dict(_split_assignment(item, option=option) for item in items)


def parse_param_assignments(items: Sequence[str]) -> dict[str, Any]:
    """``["lr=0.1", "opt=adam"]`` -> ``{"lr": 0.1, "opt": "adam"}``; bad keys are refused."""
    params: dict[str, Any] = {}
    for item in items:
        key, value = _split_assignment(item, option="-P")
        check_key(key, what="param key")
        parsed = parse_value(value)
        if key in params and not same_param(params[key], parsed):
            raise ParamConflictError(f"-P {key} given twice with different values")
        params[key] = parsed
    return params


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys: ``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def read_params_file(path: Path) -> dict[str, Any]:
    try:
        data = _yaml.load(path.read_bytes())
    except (OSError, _yaml.YAMLError) as exc:
        raise UsageError(f"cannot read params file {path}: {str(exc).splitlines()[0]}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise UsageError(f"params file {path} must hold a mapping")
    params = flatten(data)
    for key in params:
        try:
            check_key(key, what="param key")
        except InvalidNameError as exc:
            raise UsageError(
                f"params file {path}: {exc.message}",
                hint="rename the key, or drop the file from run.params_files",
            ) from exc
    return params


def read_metrics_file(path: Path) -> list[tuple[str, float, int]]:
    """(key, value, step) rows from a JSON/YAML mapping or a CSV table (columns are metrics)."""
    rows: list[tuple[str, float, int]] = []
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            for index, row in enumerate(csv.DictReader(f)):
                step_text = row.pop("step", None)
                step = int(float(step_text)) if step_text not in (None, "") else index
                for key, value in row.items():
                    if key is None or value in (None, ""):
                        continue
                    try:
                        rows.append((key, float(value), step))
                    except ValueError:
                        continue
        return rows
    data = json.loads(path.read_bytes()) if path.suffix.lower() == ".json" else _yaml.load(path.read_bytes())
    if not isinstance(data, Mapping):
        raise ValueError("must hold a mapping of metric name to number")
    for key, value in flatten(data).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((key, float(value), 0))
    return rows


class _OutputLog:
    """The run's output.log: the first half of ``limit`` bytes as they come, the last half kept in memory."""

    def __init__(self, path: Path, limit: int) -> None:
        self._file = path.open("ab")
        self._head_left = limit // 2
        self._tail_limit = limit - limit // 2
        self._tail = bytearray()
        self._dropped = 0
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._head_left > 0:
                head, data = data[: self._head_left], data[self._head_left :]
                self._file.write(head)
                self._file.flush()
                self._head_left -= len(head)
            if data:
                self._tail += data
                excess = len(self._tail) - self._tail_limit
                if excess > 0:
                    self._dropped += excess
                    del self._tail[:excess]

    def close(self) -> None:
        with self._lock:
            if self._dropped:
                self._file.write(f"\n[gitml: {self._dropped} bytes of output not kept]\n".encode())
            self._file.write(bytes(self._tail))
            self._file.close()


def _pump(source: IO[bytes], sinks: Sequence[Any]) -> None:
    fd = source.fileno()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        for sink in sinks:
            with contextlib.suppress(OSError, ValueError):
                sink.write(chunk)
                if hasattr(sink, "flush"):
                    sink.flush()


def run_command(
    argv: Sequence[str],
    *,
    workspace: Workspace,
    name: str | None = None,
    experiment: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    commit: bool = False,
    artifacts: Sequence[str] = (),
    cwd: str | None = None,
    stdout: IO[bytes] | None = None,
    stderr: IO[bytes] | None = None,
    extra_source: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    on_start: Callable[[str], None] | None = None,
) -> CommandResult:
    """Run ``argv`` as a tracked run and return how it ended (the run is kept whatever happens).

    ``artifacts`` are paths (relative to the command's directory) that the command
    writes; after it ends, each one that exists is stored as an output artifact
    under its path in the repository. ``extra_source`` is added to the run's source
    record; ``env`` replaces ``os.environ`` as the command's environment; ``on_start(run_id)`` is called
    once the run exists, before the command starts.
    """
    if not argv:
        raise UsageError("no command to run", hint="gitml run -- python train.py")
    workdir = Path(cwd or os.getcwd())
    outputs = [_output_path(workspace, workdir, a) for a in artifacts]
    workspace.ensure_initialized()
    config = workspace.config.run
    all_params: dict[str, Any] = {}
    for rel in config.params_files:
        path = workdir / rel
        if path.is_file():
            all_params.update(read_params_file(path))
    for key, value in (params or {}).items():
        if key in all_params and not same_param(all_params[key], value):
            raise ParamConflictError(
                f"-P {key}={value!r} disagrees with {all_params[key]!r} in the params file the command reads",
                hint="change the params file instead, or drop -P for this key",
            )
        all_params[key] = value

    run = fluent.create_run(
        workspace, name=name, experiment=experiment, tags=tags, command=list(argv), extra_source=extra_source
    )
    if on_start is not None:
        on_start(run.run_id)
    warnings: list[str] = []
    status, exit_code = FAILED, 1
    try:
        if all_params:
            run.log_params(all_params)
        status, exit_code = _execute(
            argv, run, workspace, workdir, config.log_limit, stdout, stderr, base_env=env
        )
        warnings += _collect_metrics(run, workdir, config.metrics_files, run.info.start_time)
        warnings += _log_outputs(run, workspace, outputs)
    except CommandError:
        status, exit_code = FAILED, CommandError.exit_code
        raise
    finally:
        run.end(status=status, exit_code=exit_code)
    result = CommandResult(
        run.run_id, run.info.name, status, exit_code, run.info.duration_ms, run.path, warnings=warnings
    )
    if commit:
        result.commit = commit_runs([run.run_id], workspace=workspace)
    return result


def _output_path(workspace: Workspace, workdir: Path, given: str) -> tuple[Path, str]:
    """(absolute path, repository-relative artifact path) of an --artifact; refused outside the repo."""
    absolute = Path(os.path.abspath(workdir / given))
    try:
        rel = absolute.relative_to(workspace.root).as_posix()
    except ValueError:
        raise UsageError(
            f"--artifact {given!r} is outside the repository",
            hint="outputs are recorded by their path in the repository",
        ) from None
    if rel == "." or rel == ".git" or rel.startswith((".git/", ".gitml/")) or rel == ".gitml":
        raise UsageError(f"--artifact {given!r} names gitml's or git's own files")
    from gitml.paths import check_relpath

    check_relpath(rel, what="--artifact path")
    return absolute, rel


def _log_outputs(
    run: fluent.ActiveRun, workspace: Workspace, outputs: Sequence[tuple[Path, str]]
) -> list[str]:
    if not outputs:
        return []
    from gitml.artifacts.log import log_paths

    present = [(path, rel) for path, rel in outputs if path.exists() or path.is_symlink()]
    warnings = [
        f"--artifact {rel}: the command did not create it"
        for path, rel in outputs
        if (path, rel) not in present
    ]
    if present:
        log_paths(workspace, Path(run.path), present, output=True)
    return warnings


def _execute(
    argv: Sequence[str],
    run: fluent.ActiveRun,
    workspace: Workspace,
    workdir: Path,
    log_limit: int,
    stdout: IO[bytes] | None,
    stderr: IO[bytes] | None,
    *,
    base_env: Mapping[str, str] | None = None,
) -> tuple[str, int]:
    env = dict(os.environ if base_env is None else base_env)
    env.update({fluent.RUN_ID_ENV: run.run_id, fluent.REPO_ENV: str(workspace.root), "PYTHONUNBUFFERED": "1"})
    log = _OutputLog(Path(run.path) / LOG_FILE, log_limit)
    try:
        proc = subprocess.Popen(
            list(argv), cwd=workdir, env=env, stdin=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError as exc:
        log.write(f"gitml: command not found: {argv[0]}\n".encode())
        log.close()
        raise CommandError(
            f"command not found: {argv[0]}", hint="check the spelling, or give the full path to the program"
        ) from exc
    except (PermissionError, OSError) as exc:
        log.write(f"gitml: cannot run {argv[0]}: {exc.strerror}\n".encode())
        log.close()
        raise CommandError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    out = stdout if stdout is not None else sys.stdout.buffer
    err = stderr if stderr is not None else sys.stderr.buffer
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, [out, log]), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, [err, log]), daemon=True),
    ]
    for t in pumps:
        t.start()
    interrupted = _wait(proc)
    for t in pumps:
        t.join()
    proc.stdout.close()
    proc.stderr.close()
    log.close()
    code = proc.returncode
    if code < 0:
        return KILLED, 128 - code
    if interrupted and code != 0:
        return KILLED, code
    return (FINISHED if code == 0 else FAILED), code


def _wait(proc: subprocess.Popen[bytes]) -> bool:
    """Wait for the child; forward SIGTERM; Ctrl-C (which the child also gets) escalates on repeats."""
    interrupted = False
    presses = 0
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if in_main else None

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)

    if in_main:
        signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while True:
            try:
                proc.wait()
                return interrupted
            except KeyboardInterrupt:
                interrupted = True
                presses += 1
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM if presses == 1 else signal.SIGKILL)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _collect_metrics(
    run: fluent.ActiveRun, workdir: Path, files: Sequence[str], started_ms: int
) -> list[str]:
    warnings = []
    for rel in files:
        path = workdir / rel
        try:
            if not path.is_file() or path.stat().st_mtime * 1000 < started_ms - 2000:
                continue  # absent, or left over from an earlier run
            rows = read_metrics_file(path)
        except (OSError, ValueError, UnicodeDecodeError, _yaml.YAMLError) as exc:
            warnings.append(f"metrics file {rel} not read: {str(exc).splitlines()[0] if str(exc) else exc}")
            continue
        good = []
        for key, value, step in rows:
            try:
                good.append((check_key(key, what="metric key"), value, step))
            except GitMLError as exc:
                warnings.append(f"metrics file {rel}: {exc.message}")
        now = fluent.clock()
        for key, value, step in good:
            run.log_metric(key, value, step, now)
    return warnings


def commit_runs(run_ids: Sequence[str], *, workspace: Workspace) -> str | None:
    """Commit these runs' folders, and nothing else; returns the commit sha (None if nothing changed)."""
    paths = [workspace.relpath(workspace.run_dir(r)) for r in run_ids]
    if len(run_ids) == 1:
        message = f"gitml: record run {run_ids[0]}\n\nRun folder: {paths[0]}\n"
    else:
        message = f"gitml: record {len(run_ids)} runs\n\n" + "".join(f"- {p}\n" for p in paths)
    # gitml's own committed config goes in with the first run that is committed (a no-op later).
    own = [workspace.relpath(workspace.gitml_dir / n) for n in ("config.yaml", ".gitignore")]
    try:
        return workspace.repo.commit_paths([*paths, *own], message=message)
    except GitError as exc:
        ids = " ".join(run_ids)
        raise GitError(
            f"{exc.message}; the run data is kept in {', '.join(paths)}",
            hint=f"{exc.hint + '; then ' if exc.hint else ''}run `gitml runs commit {ids}`",
        ) from exc
