"""The fluent tracking API, with MLflow's names: ``start_run``, ``log_metric``, ``end_run``...

State is per process: a stack of active runs (the top is the one ``log_*``
writes to) and the chosen repository and experiment. A process started by
``gitml run`` finds ``GITML_RUN_ID`` in its environment and logs into that run
instead of starting its own.

How a run ends:

- the ``with`` block exits normally, or ``end_run()``: FINISHED;
- an exception escapes the ``with`` block (or reaches ``sys.excepthook``): FAILED;
- Ctrl-C (KeyboardInterrupt) or SIGTERM: KILLED;
- ``sys.exit(0)`` inside the block: FINISHED, ``sys.exit(n)``: FAILED;
- the interpreter exits with a run still open: FINISHED (as MLflow does);
- SIGKILL or OOM: the record stays RUNNING on disk, and every reader shows it
  as STALE once its process is gone (see ``liveness``).
"""

from __future__ import annotations

import atexit
import getpass
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType, TracebackType
from typing import Any

from gitml.exceptions import GitMLError, InvalidNameError, NoActiveRunError, RunNotFoundError, UsageError
from gitml.runid import check_run_id, new_run_id
from gitml.tracking.files import DIFF_FILE, RunWriter
from gitml.tracking.liveness import Heartbeat, pid_start_time, this_host
from gitml.tracking.run import (
    FAILED,
    FINAL_STATUSES,
    FINISHED,
    KILLED,
    RUNNING,
    RunInfo,
    check_metric_value,
    check_param_value,
    check_tags,
    random_run_name,
    redact_command,
)
from gitml.workspace import Workspace

__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "get_tracking_uri",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

RUN_ID_ENV = "GITML_RUN_ID"
REPO_ENV = "GITML_REPO"
EXPERIMENT_ENV = "GITML_EXPERIMENT"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


#: The clock runs are stamped with (epoch ms); tests replace it instead of sleeping.
clock: Callable[[], int] = _now_ms

_lock = threading.RLock()
_stack: list[ActiveRun] = []
_workspaces: dict[str, Workspace] = {}
_tracking_root: str | None = None
_experiment: str | None = None
_heartbeat = Heartbeat()
_hooks_installed = False


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or str(os.getuid())


def workspace() -> Workspace:
    """The workspace runs go to: ``set_tracking_uri``, else ``$GITML_REPO``, else the current directory."""
    start = _tracking_root or os.environ.get(REPO_ENV) or "."
    key = os.path.abspath(start)
    ws = _workspaces.get(key)
    if ws is None:
        ws = _workspaces[key] = Workspace.find(start)
    return ws


def set_tracking_uri(uri: str | os.PathLike[str] | None) -> None:
    """Point tracking at the repository containing ``uri`` (a path, or ``file://`` path); None resets."""
    global _tracking_root
    if uri is None:
        _tracking_root = None
        return
    text = os.fspath(uri)
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif "://" in text:
        raise UsageError(
            f"gitml tracks into a git repository, not {text!r}", hint="pass a path inside a git work tree"
        )
    Workspace.find(text)  # fail now, not at the first log call
    _tracking_root = text


def get_tracking_uri() -> str:
    return workspace().root.as_uri()


def check_experiment(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or name != name.strip() or len(name) > 250:
        raise InvalidNameError(
            f"invalid experiment name: {name!r}", hint="1 to 250 characters, no edge spaces"
        )
    if any(ord(c) < 32 for c in name):
        raise InvalidNameError(f"invalid experiment name: {name!r} (control characters)")
    return name


def set_experiment(name: str) -> str:
    """Make ``name`` the experiment of runs started from now on; returns it."""
    global _experiment
    _experiment = check_experiment(name)
    return name


def _experiment_name(ws: Workspace, explicit: str | None) -> str:
    if explicit is not None:
        return check_experiment(explicit)
    return _experiment or os.environ.get(EXPERIMENT_ENV) or ws.config.experiment


class ActiveRun:
    """A run this process is logging to. Use it as a context manager, or call :meth:`end`."""

    def __init__(self, ws: Workspace, writer: RunWriter, info: RunInfo, *, owner: bool) -> None:
        self.workspace = ws
        self.info = info
        self._writer = writer
        self._owner = owner

    def __repr__(self) -> str:
        return f"<ActiveRun {self.info.run_id} name={self.info.name!r} status={self.info.status}>"

    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def path(self) -> str:
        return str(self._writer.dir)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end(status=_status_for(exc))

    def _check_open(self) -> RunWriter:
        if self._writer.closed:
            raise NoActiveRunError(f"run {self.info.run_id} has ended", hint="start a new run to log more")
        return self._writer

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        writer = self._check_open()
        v = value if type(value) is float else check_metric_value(key, value)
        writer.log_metric(
            key, v, 0 if step is None else int(step), clock() if timestamp is None else int(timestamp)
        )

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        writer = self._check_open()
        s = 0 if step is None else int(step)
        ts = clock() if timestamp is None else int(timestamp)
        writer.log_metric_rows((k, check_metric_value(k, v), s, ts) for k, v in metrics.items())

    def log_param(self, key: str, value: Any) -> Any:
        self.log_params({key: value})
        return value

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._check_open().log_params({k: check_param_value(k, v) for k, v in params.items()})

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.info = self._check_open().update_info(tags=check_tags(tags))

    # -- artifacts (bytes go to the cache; artifacts.yaml records path -> hash) ------------------

    def log_artifact(self, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        from gitml.artifacts import log

        self._check_open()
        log.log_artifact(self.workspace, self._writer.dir, local_path, artifact_path)

    def log_artifacts(self, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        from gitml.artifacts import log

        self._check_open()
        log.log_artifacts(self.workspace, self._writer.dir, local_dir, artifact_path)

    def log_text(self, text: str, artifact_file: str) -> None:
        from gitml.artifacts import log

        self._check_open()
        log.log_text(self.workspace, self._writer.dir, text, artifact_file)

    def log_dict(self, dictionary: Any, artifact_file: str) -> None:
        from gitml.artifacts import log

        self._check_open()
        log.log_dict(self.workspace, self._writer.dir, dictionary, artifact_file)

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        from gitml.artifacts import log

        self._check_open()
        log.log_figure(self.workspace, self._writer.dir, figure, artifact_file)

    def log_image(self, image: Any, artifact_file: str) -> None:
        from gitml.artifacts import log

        self._check_open()
        log.log_image(self.workspace, self._writer.dir, image, artifact_file)

    def end(self, status: str = FINISHED, *, exit_code: int | None = None) -> None:
        """End the run with ``status`` (FINISHED, FAILED or KILLED). Ending twice does nothing."""
        if status not in FINAL_STATUSES:
            raise UsageError(f"a run ends as one of {', '.join(FINAL_STATUSES)}, not {status!r}")
        with _lock:
            if self._writer.closed:
                return
            try:
                if self._owner:
                    changes: dict[str, Any] = {"status": status, "end_time": clock()}
                    if exit_code is not None:
                        changes["exit_code"] = exit_code
                    self.info = self._writer.update_info(**changes)
                    self._writer.write_summary(self.workspace.tmp_dir / "summaries")
            finally:
                self._writer.close()
                if self in _stack:
                    _stack.remove(self)
                _heartbeat.remove(self.workspace.tmp_dir / "heartbeat" / self.info.run_id)


def _status_for(exc: BaseException | None) -> str:
    if exc is None:
        return FINISHED
    if isinstance(exc, KeyboardInterrupt):
        return KILLED
    if isinstance(exc, SystemExit):
        return FINISHED if exc.code in (None, 0) else FAILED
    return FAILED


def start_run(
    name: str | None = None,
    *,
    run_name: str | None = None,
    experiment: str | None = None,
    experiment_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    run_id: str | None = None,
    parent_run_id: str | None = None,
    description: str | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it the active run.

    ``run_name`` and ``experiment_name`` are accepted as MLflow spells them. A run
    started while another is active needs ``nested=True`` and gets it as parent.
    """
    with _lock:
        if run_id is None and not _stack and os.environ.get(RUN_ID_ENV):
            return _attach(os.environ[RUN_ID_ENV], owner=False, tags=tags)
        if run_id is not None:
            return _attach(run_id, owner=True, tags=tags)
        if _stack and not nested:
            raise UsageError(
                f"run {_stack[-1].run_id} is already active",
                hint="end it first, or pass nested=True to start a child run",
            )
        run = create_run(
            workspace(),
            name=name or run_name,
            experiment=experiment or experiment_name,
            tags=tags,
            parent=parent_run_id or (_stack[-1].run_id if _stack else None),
            description=description,
        )
        _push(run)
        return run


def create_run(
    ws: Workspace,
    *,
    name: str | None = None,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent: str | None = None,
    description: str | None = None,
    command: Sequence[str] | None = None,
    extra_source: Mapping[str, Any] | None = None,
) -> ActiveRun:
    """Create a run folder in ``ws`` and return its handle, without making it the active run.

    ``extra_source`` adds to the run's ``source`` record (a project run's URL, commit
    and environment, see gitml.projects).
    """
    ws.ensure_initialized()
    clean_tags = check_tags(tags or {})
    experiment = _experiment_name(ws, experiment)
    source = ws.repo.source_state()
    started = clock()
    rid = new_run_id(now_ms=started)
    source_record: dict[str, Any] = {"commit": source.commit, "branch": source.branch, "dirty": source.dirty}
    if source.dirty:
        import hashlib

        source_record["diff"] = DIFF_FILE
        source_record["diff_sha256"] = hashlib.sha256(source.diff).hexdigest()
        if source.untracked_skipped:
            source_record["untracked_not_in_diff"] = list(source.untracked_skipped)
    if extra_source:
        source_record.update(extra_source)
    pid = os.getpid()
    info = RunInfo(
        run_id=rid,
        name=name or random_run_name(),
        experiment=experiment,
        status=RUNNING,
        start_time=started,
        user=_user(),
        host=this_host(),
        pid=pid,
        pid_start=pid_start_time(pid),
        command=redact_command(command if command is not None else [sys.executable, *sys.argv]),
        source=source_record,
        parent=parent,
        description=description,
        tags=clean_tags,
    )
    writer = RunWriter(ws.run_dir(rid), fsync=ws.config.run.fsync)
    writer.create(info, diff=source.diff if source.dirty else b"")
    return ActiveRun(ws, writer, info, owner=True)


def _attach(run_id: str, *, owner: bool, tags: Mapping[str, Any] | None) -> ActiveRun:
    ws = workspace()
    writer = RunWriter(ws.run_dir(check_run_id(run_id)), fsync=ws.config.run.fsync)
    try:
        info = writer.attach()
    except FileNotFoundError as exc:
        raise RunNotFoundError(f"no run {run_id!r} in {ws.runs_dir}") from exc
    run = ActiveRun(ws, writer, info, owner=owner)
    if owner and info.status != RUNNING:
        pid = os.getpid()
        run.info = writer.update_info(
            status=RUNNING, end_time=None, host=this_host(), pid=pid, pid_start=pid_start_time(pid)
        )
    if tags:
        run.set_tags(tags)
    _push(run)
    return run


def _push(run: ActiveRun) -> None:
    _install_hooks()
    _stack.append(run)
    if run._owner:
        _heartbeat.add(run.workspace.tmp_dir / "heartbeat" / run.run_id)


def active_run() -> ActiveRun | None:
    """The run ``log_*`` calls write to, or None."""
    return _stack[-1] if _stack else None


def _current() -> ActiveRun:
    if _stack:
        return _stack[-1]
    return start_run()  # MLflow starts a run on the first log call; so do we


def end_run(status: str = FINISHED) -> None:
    """End the active run (if any) with ``status``."""
    run = active_run()
    if run is not None:
        run.end(status=status)


def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
    """Append one point to metric ``key`` of the active run (step defaults to 0, time to now)."""
    (_stack[-1] if _stack else _current()).log_metric(key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None) -> None:
    _current().log_metrics(metrics, step, timestamp)


def log_param(key: str, value: Any) -> Any:
    """Record a param; logging it again with another value is a ParamConflictError."""
    return _current().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _current().log_params(params)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Store a file as an artifact of the active run, at ``<artifact_path>/<file name>``."""
    _current().log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Store a directory's contents as artifacts of the active run, under ``artifact_path``."""
    _current().log_artifacts(local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    """Store a string as the artifact file ``artifact_file``."""
    _current().log_text(text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    """Store a dict or list as JSON, or YAML when ``artifact_file`` ends in .yaml/.yml."""
    _current().log_dict(dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Store a matplotlib figure, in the format of ``artifact_file``'s extension."""
    _current().log_figure(figure, artifact_file)


def log_image(image: Any, artifact_file: str) -> None:
    """Store a numpy array or PIL image as an image file."""
    _current().log_image(image, artifact_file)


def set_tag(key: str, value: Any) -> None:
    _current().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    _current().set_tags(tags)


# -- ending runs when the process ends ------------------------------------------------------------


def _end_all(status: str) -> None:
    for run in reversed(list(_stack)):
        try:
            run.end(status=status)
        except (GitMLError, OSError):
            pass


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_end_all, FINISHED)
    previous_hook = sys.excepthook

    def excepthook(
        kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:  # pragma: no cover - exercised in a subprocess test
        _end_all(_status_for(exc))
        previous_hook(kind, exc, tb)

    sys.excepthook = excepthook
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        _end_all(KILLED)
        if callable(previous):
            previous(signum, frame)
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # pragma: no cover - not the main interpreter
        pass
