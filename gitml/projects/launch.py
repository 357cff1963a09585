"""Running a project: fetch it at a commit, prepare its environment, run an entry point as a tracked run.

``run`` is ``gitml run [URL[#subdir]] [--rev REV] [-e ENTRY] [-P k=v]...`` and
``gitml.projects.run``; ``reproduce`` runs a recorded project run again. The
run is recorded in the current repository (outside any repository, in a
``gitml-runs`` repository made in the current directory), with the project's
URL (credentials stripped), full commit, subdirectory, entry point, parameters
and the environment's resolved package versions in ``source`` of its run.yaml:

```yaml
source:
  commit: ...            # the recording repository's own state, as for every run
  project: {url: https://host/org/repo.git, commit: <sha>, subdir: "", entry_point: main,
            file: gitml.yaml, parameters: {lr: "0.1"}}
  env: {manager: venv, python: 3.11.7, key: <hash>, packages: {numpy: 1.26.4}}
```
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gitml._types import StrPath
from gitml.exceptions import GitMLError, NotFoundError, RepoNotFoundError, UsageError
from gitml.workspace import Workspace

__all__ = ["RUNS_FOLDER", "ProjectRun", "reproduce", "run"]

#: Where runs go when ``gitml run URL`` is used outside any git repository.
RUNS_FOLDER = "gitml-runs"


@dataclass
class ProjectRun:
    """A submitted project run (MLflow's SubmittedRun): ``wait()``, ``run_id``, ``status``."""

    argv: list[str]
    project_dir: Path
    recorded_in: Path
    url: str | None
    commit: str | None
    entry_point: str
    env_manager: str
    reused_checkout: bool = False
    reused_env: bool = False
    warnings: list[str] = field(default_factory=list)
    _run_id: str | None = None
    _status: str = "RUNNING"
    _exit_code: int | None = None
    _error: BaseException | None = None
    _started: threading.Event = field(default_factory=threading.Event)
    _done: threading.Event = field(default_factory=threading.Event)
    duration_ms: int | None = None

    @property
    def run_id(self) -> str:
        self._started.wait()
        if self._run_id is None:
            assert self._error is not None
            raise self._error
        return self._run_id

    @property
    def status(self) -> str:
        return self._status

    @property
    def exit_code(self) -> int | None:
        return self._exit_code

    def wait(self) -> bool:
        """Wait for the run to end; True if it succeeded. Errors raised while running are raised here."""
        self._done.wait()
        if self._error is not None and self._run_id is None:
            raise self._error
        return self._status == "FINISHED"


def _recording_workspace(repo: StrPath | None) -> tuple[Workspace, list[str]]:
    """The repository runs are recorded in; outside any, a ``gitml-runs`` repository made here."""
    try:
        ws = Workspace.find(repo)
        ws.ensure_initialized()
        return ws, []
    except RepoNotFoundError:
        if repo is not None:
            raise
    from gitml.repo.worktree import GitRepo

    folder = Path.cwd() / RUNS_FOLDER
    created = not folder.exists()
    folder.mkdir(exist_ok=True)
    GitRepo.init(folder)
    ws = Workspace(folder)
    ws.init()
    note = f"not in a git repository: the run is recorded in {folder}"
    return ws, [note + (" (a new git repository)" if created else "")]


def _local_project_dir(ws: Workspace) -> Path:
    from gitml.projects.spec import GITML_FILE, MLPROJECT_FILE

    cwd = Path.cwd()
    if any((cwd / f).is_file() for f in (GITML_FILE, MLPROJECT_FILE)):
        return cwd
    return ws.root


def run(
    uri: str | None = None,
    *,
    entry_point: str = "main",
    parameters: Mapping[str, Any] | None = None,
    version: str | None = None,
    env_manager: str | None = None,
    synchronous: bool = True,
    repo: StrPath | None = None,
    experiment: str | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    stdout: IO[bytes] | None = None,
    stderr: IO[bytes] | None = None,
) -> ProjectRun:
    """Run an entry point of the project at ``uri`` (a git URL, ``URL#subdir``, or None: this repo).

    ``version`` is a branch, tag or commit (resolved to the full sha). ``parameters`` are
    given as text or values and type-checked against the entry point. With
    ``synchronous=False`` the run starts in the background: ``.run_id`` waits until it
    exists, ``.wait()`` until it ends.
    """
    from gitml.projects.env import prepare_env
    from gitml.projects.spec import entry_point as find_entry
    from gitml.projects.spec import load_project, render_command, resolve_parameters

    if env_manager not in (None, "local", "venv"):
        raise UsageError(f"unknown environment manager {env_manager!r}", hint="use local or venv")
    ws, warnings = _recording_workspace(repo)
    url: str | None = None
    commit: str | None = None
    subdir = ""
    reused_checkout = False
    if uri is None and version is not None:
        uri = str(ws.root)  # a clean checkout of this repository at that revision
    if uri is None:
        project_dir = _local_project_dir(ws)
        commit = ws.repo.head()[0]
        subdir = os.path.relpath(project_dir, ws.root) if project_dir != ws.root else ""
    else:
        from gitml.projects.source import fetch_project

        source = fetch_project(uri, rev=version)
        url, commit, subdir, reused_checkout = source.url, source.commit, source.subdir, source.reused
        project_dir = source.project_dir
    try:
        project = load_project(project_dir, allow_unsupported_env=env_manager == "local")
    except NotFoundError as exc:
        if uri is not None:
            raise
        raise NotFoundError(
            f"{exc.message} (gitml run with no command runs the project of this repository)",
            hint="to run a command instead: gitml run -- python train.py",
        ) from exc
    entry = find_entry(project, entry_point)
    given = {k: _text(v) for k, v in (parameters or {}).items()}
    resolved = resolve_parameters(entry, given, project_root=project_dir)
    argv = render_command(entry, resolved.values, extras=resolved.extras)
    env = prepare_env(project.environment, project_dir=project_dir, manager=env_manager)
    if env.bin_dir:
        command_env = env.environ()
    else:  # local: `python` in the command is the interpreter gitml runs under
        command_env = {
            **os.environ,
            "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
        }
    record = {
        "project": {
            "url": url,
            "commit": commit,
            "subdir": subdir,
            "entry_point": entry.name,
            "file": project.source_file,
            "parameters": {k: _text(v) for k, v in resolved.all.items()},
        },
        "env": {
            "manager": env.manager,
            "python": env.python_version,
            "key": env.key,
            "packages": dict(env.packages),
        },
    }
    handle = ProjectRun(
        argv=argv,
        project_dir=project_dir,
        recorded_in=ws.root,
        url=url,
        commit=commit,
        entry_point=entry.name,
        env_manager=env.manager,
        reused_checkout=reused_checkout,
        reused_env=env.reused,
        warnings=warnings,
    )
    params = resolved.all

    def started(run_id: str) -> None:
        handle._run_id = run_id
        handle._started.set()

    def execute() -> None:
        from gitml.tracking.command import run_command

        try:
            result = run_command(
                argv,
                workspace=ws,
                name=name,
                experiment=experiment,
                params=params,
                tags=tags,
                cwd=str(project_dir),
                stdout=stdout,
                stderr=stderr,
                extra_source=record,
                env=command_env,
                on_start=started,
            )
            handle._status, handle._exit_code = result.status, result.exit_code
            handle.duration_ms = result.duration_ms
            handle.warnings.extend(result.warnings)
        except (GitMLError, OSError) as exc:
            handle._error = exc
            handle._status = "FAILED"
            if synchronous:
                raise
        finally:
            handle._started.set()
            handle._done.set()

    if synchronous:
        execute()
    else:
        threading.Thread(target=execute, name=f"gitml-project-{entry.name}", daemon=False).start()
    return handle


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def reproduce(
    run_ref: str,
    *,
    parameters: Mapping[str, Any] | None = None,
    repo: StrPath | None = None,
    stdout: IO[bytes] | None = None,
    stderr: IO[bytes] | None = None,
) -> tuple[ProjectRun, str]:
    """Run a recorded project run again (same source, commit, entry point, parameters, environment).

    Returns the new run and the id of the one reproduced; the new run carries the tag
    ``gitml.reproduces`` with that id. ``parameters`` override recorded ones.
    """
    from gitml.tracking.store import RunStore

    with Workspace.find(repo) as ws:
        store = RunStore(ws)
        original = store.resolve(run_ref)
        summary = store.summary(original)
        here = str(ws.root)
    project = summary.info.source.get("project")
    env = summary.info.source.get("env") or {}
    if not isinstance(project, Mapping) or not project.get("commit"):
        raise UsageError(
            f"run {original} was not run from a project, so it cannot be reproduced",
            hint="gitml reproduce needs a run made by `gitml run [URL]` from a gitml.yaml or MLproject",
        )
    url = project.get("url") or here
    recorded = project.get("parameters") or {}
    given = {**{str(k): str(v) for k, v in recorded.items()}, **(parameters or {})}
    target = url + (f"#{project['subdir']}" if project.get("subdir") else "")
    new = run(
        target,
        version=str(project["commit"]),
        entry_point=str(project.get("entry_point") or "main"),
        parameters=given,
        env_manager=str(env.get("manager")) if env.get("manager") else None,
        repo=repo,
        experiment=summary.info.experiment,
        name=summary.info.name,
        tags={"gitml.reproduces": original},
        stdout=stdout,
        stderr=stderr,
    )
    return new, original
