"""Project files: ``gitml.yaml`` and MLflow's ``MLproject`` (pure, except :func:`load_project`).

``parse_project`` / ``parse_mlproject`` turn loaded YAML into a typed :class:`Project`;
every mistake in a file is a :class:`ConfigError` naming the file and the key
(``gitml.yaml: entry_points.main.parameters.lr: unknown key 'dfault'``). The
parameter types and argv templates live in :mod:`gitml.projects.params`, re-exported here.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gitml import _yaml
from gitml.exceptions import ConfigError, InvalidNameError, NotFoundError
from gitml.paths import check_relpath, contained_path
from gitml.projects.params import (
    NAME_HINT,
    TYPES,
    EntryPoint,
    Parameter,
    ResolvedParameters,
    check_default,
    check_name,
    render_command,
    resolve_parameters,
    template_fields,
)

__all__ = [
    "GITML_FILE",
    "MLPROJECT_FILE",
    "PYTHON_ENV_FILE",
    "EntryPoint",
    "Environment",
    "Parameter",
    "Project",
    "ResolvedParameters",
    "entry_point",
    "load_project",
    "parse_mlproject",
    "parse_project",
    "render_command",
    "resolve_parameters",
]

GITML_FILE = "gitml.yaml"
MLPROJECT_FILE = "MLproject"
PYTHON_ENV_FILE = "python_env.yaml"
MAX_FILE_BYTES = 1 << 20

# MLflow checks no types: it passes any type name through as text. Known spellings map to ours,
# anything else is a string.
_MLFLOW_TYPES = {"str": "string", "integer": "int", "long": "int", "double": "float", "boolean": "bool"}
_PYTHON_RE = re.compile(r"[0-9]+(?:\.[0-9]+){0,2}")
_SHELL_CHARS = re.compile(r"[;&|<>()`]|\$[A-Za-z_{(]")
_SCRIPT_RUNNERS = {".py": "python", ".sh": "bash"}


@dataclass(frozen=True)
class Environment:
    """Where the command runs: the current interpreter, or a venv built for a Python version."""

    kind: Literal["local", "python"]
    python: str | None = None
    requirements_file: str | None = None  # relative to the project root
    requirements: tuple[str, ...] = ()  # inline requirement lines (MLproject python_env, gitml.yaml list)


@dataclass(frozen=True)
class Project:
    name: str
    root: Path
    entry_points: Mapping[str, EntryPoint]
    environment: Environment
    source_file: str  # "gitml.yaml" or "MLproject" (as spelled on disk)


LOCAL = Environment("local")


def _error(source: str, where: str, message: str, hint: str | None = None) -> ConfigError:
    return ConfigError(f"{source}: {where + ': ' if where else ''}{message}", hint=hint)


def _check_keys(source: str, where: str, data: Mapping[Any, Any], allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
            raise _error(source, where, f"unknown key {key!r}", hint=hint)


def _mapping(source: str, where: str, value: object) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise _error(source, where, f"expected a mapping, got {type(value).__name__} {value!r}")
    return value


def _name(source: str, where: str, name: object) -> str:
    try:
        return check_name(name)
    except ValueError as exc:
        raise _error(source, where, str(exc), hint=NAME_HINT) from None


def _project_name(source: str, value: object, root: Path) -> str:
    if value is None:
        return root.name
    if not isinstance(value, str) or not 0 < len(value) <= 100 or not value.isprintable():
        raise _error(source, "name", f"expected one line of text (at most 100 characters), got {value!r}")
    return value


def _split_command(source: str, where: str, text: str) -> tuple[str, ...]:
    # A shell would give these characters meaning when unquoted; gitml runs no shell, so say so.
    for raw in shlex.split(text, posix=False):
        if not any(q in raw for q in "'\"\\") and _SHELL_CHARS.search(raw):
            raise _error(
                source,
                where,
                f"{raw!r} is shell syntax, and gitml runs commands without a shell",
                hint="put the steps in a script and run it (bash run.sh), or quote the characters",
            )
    return tuple(shlex.split(text))


def _parse_command(source: str, where: str, value: object) -> tuple[str, ...]:
    try:
        if isinstance(value, str):
            command = _split_command(source, where, value)
        elif isinstance(value, list) and all(
            isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)) for v in value
        ):
            command = tuple(str(v) for v in value)
        else:
            raise _error(source, where, f"expected a string or a list of strings, got {value!r}")
    except ValueError as exc:  # shlex: unbalanced quotes
        raise _error(source, where, f"cannot split {value!r}: {exc}") from None
    if not command or not command[0]:
        raise _error(source, where, "the command is empty")
    return command


def _parse_parameter(source: str, where: str, key: object, value: object, *, mlflow: bool) -> Parameter:
    name = _name(source, where, key)
    where = f"{where}.{name}"
    if isinstance(value, str):
        value = {"type": value}
    data = _mapping(source, where, value)
    _check_keys(source, where, data, ("type", "default") if mlflow else ("type", "default", "required"))
    type_ = data.get("type", "string")
    if mlflow and isinstance(type_, str):
        type_ = _MLFLOW_TYPES.get(type_, type_ if type_ in TYPES else "string")
    if type_ not in TYPES:
        raise _error(source, f"{where}.type", f"unknown type {type_!r}", hint=f"types: {', '.join(TYPES)}")
    default = data.get("default")
    if default is not None:
        try:
            default = check_default(type_, default, lenient=mlflow)
        except ValueError as exc:
            raise _error(source, f"{where}.default", str(exc), hint="quote text defaults") from None
    required = data.get("required", default is None)
    if not isinstance(required, bool):
        raise _error(source, f"{where}.required", f"expected true or false, got {required!r}")
    if required and default is not None:
        raise _error(source, where, "a parameter with a default cannot be required")
    if not required and default is None:
        raise _error(source, where, "an optional parameter needs a default")
    return Parameter(name, type_, default, required)


def _parse_entry_point(source: str, key: object, value: object, *, mlflow: bool) -> EntryPoint:
    name = _name(source, "entry_points", key)
    where = f"entry_points.{name}"
    data = _mapping(source, where, value)
    keys = ("parameters", "command") if mlflow else ("parameters", "command", "allow_extra_parameters")
    _check_keys(source, where, data, keys)
    if "command" not in data:
        raise _error(source, where, "missing key 'command'")
    raw_params = _mapping(source, f"{where}.parameters", data.get("parameters") or {})
    params = {
        p.name: p
        for p in (
            _parse_parameter(source, f"{where}.parameters", k, v, mlflow=mlflow)
            for k, v in raw_params.items()
        )
    }
    command = _parse_command(source, f"{where}.command", data["command"])
    for token in command:
        try:
            fields = template_fields(token)
        except ValueError as exc:
            raise _error(source, f"{where}.command", str(exc)) from None
        for field in fields:
            if field not in params:
                raise _error(
                    source,
                    f"{where}.command",
                    f"{{{field}}} names no parameter of this entry point",
                    hint=f"declared: {', '.join(params) or '(none)'}; write {{{{ }}}} for literal braces",
                )
    allow_extra = data.get("allow_extra_parameters", mlflow)
    if not isinstance(allow_extra, bool):
        raise _error(
            source, f"{where}.allow_extra_parameters", f"expected true or false, got {allow_extra!r}"
        )
    return EntryPoint(name, params, command, allow_extra)


def _entry_points(source: str, value: object, *, mlflow: bool) -> dict[str, EntryPoint]:
    data = _mapping(source, "entry_points", value)
    return {ep.name: ep for ep in (_parse_entry_point(source, k, v, mlflow=mlflow) for k, v in data.items())}


def _requirement_lines(source: str, where: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.isprintable() and v for v in value):
        raise _error(source, where, f"expected a list of requirement lines, got {value!r}")
    return tuple(value)


def _python_version(source: str, where: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or _PYTHON_RE.fullmatch(value) is None:
        raise _error(source, where, f'expected a version such as "3.11", got {value!r}', hint="quote it")
    return value


def _parse_environment(source: str, value: object) -> Environment:
    if value == "local":
        return LOCAL
    if not isinstance(value, Mapping):
        raise _error(source, "environment", f"expected 'local' or a mapping, got {value!r}")
    _check_keys(source, "environment", value, ("python", "requirements"))
    python = _python_version(source, "environment.python", value.get("python"))
    requirements = value.get("requirements")
    if isinstance(requirements, str):
        try:
            return Environment("python", python, str(check_relpath(requirements)))
        except InvalidNameError as exc:
            raise _error(source, "environment.requirements", exc.message) from None
    return Environment("python", python, requirements=_requirement_lines(source, "environment", requirements))


def parse_project(data: Mapping[str, Any], *, root: Path, source: str = GITML_FILE) -> Project:
    """A ``gitml.yaml`` document as a :class:`Project`."""
    data = _mapping(source, "", data)
    _check_keys(source, "", data, ("name", "environment", "entry_points"))
    if "entry_points" not in data:
        raise _error(source, "", "missing key 'entry_points'")
    env = _parse_environment(source, data.get("environment", "local"))
    return Project(
        _project_name(source, data.get("name"), root),
        root,
        _entry_points(source, data["entry_points"], mlflow=False),
        env,
        source,
    )


def _parse_python_env(source: str, data: object) -> Environment:
    data = _mapping(source, "", data)
    _check_keys(source, "", data, ("python", "build_dependencies", "dependencies"))
    build = _requirement_lines(source, "build_dependencies", data.get("build_dependencies"))
    deps = _requirement_lines(source, "dependencies", data.get("dependencies"))
    return Environment(
        "python", _python_version(source, "python", data.get("python")), requirements=build + deps
    )


def parse_mlproject(
    data: Mapping[str, Any],
    *,
    root: Path,
    source: str = MLPROJECT_FILE,
    python_env: Mapping[str, Any] | None,
    allow_unsupported_env: bool = False,
) -> Project:
    """An MLflow ``MLproject`` document as a :class:`Project`.

    ``python_env`` is the loaded file its ``python_env:`` key names (or the project's
    ``python_env.yaml`` when it names no environment, as MLflow does); ``conda_env`` and
    ``docker_env`` are refused, or read as a local environment with ``allow_unsupported_env``
    (for ``--env-manager local``).
    """
    data = _mapping(source, "", data)
    _check_keys(source, "", data, ("name", "entry_points", "python_env", "conda_env", "docker_env"))
    env_keys = [k for k in ("python_env", "conda_env", "docker_env") if k in data]
    if len(env_keys) > 1:
        raise _error(source, "", f"declares both {env_keys[0]} and {env_keys[1]}; keep one")
    env = LOCAL
    if env_keys and env_keys[0] != "python_env" and not allow_unsupported_env:
        raise _error(
            source,
            env_keys[0],
            f"{env_keys[0].split('_')[0]} environments are not supported",
            hint="declare a python_env (python_env.yaml) instead, or run with --env-manager local",
        )
    if "python_env" in data:
        env_file = data["python_env"]
        if not isinstance(env_file, str):
            raise _error(source, "python_env", f"expected the path of a file, got {env_file!r}")
        try:
            check_relpath(env_file, what="python_env file")
        except InvalidNameError as exc:
            raise _error(source, "python_env", exc.message) from None
        if python_env is None:
            raise _error(source, "python_env", f"{env_file} was not read")
    if python_env is not None and env_keys in ([], ["python_env"]):
        env = _parse_python_env(str(data.get("python_env", PYTHON_ENV_FILE)), python_env)
    return Project(
        _project_name(source, data.get("name"), root),
        root,
        _entry_points(source, data.get("entry_points") or {}, mlflow=True),
        env,
        source,
    )


def _read_yaml(root: Path, rel: str) -> Any:
    try:
        path = contained_path(root, rel, what="project file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError(f"{rel}: larger than {MAX_FILE_BYTES} bytes")
        return _yaml.load(path.read_bytes())
    except InvalidNameError as exc:
        raise ConfigError(f"{rel}: {exc.message}") from None
    except OSError as exc:
        raise ConfigError(f"{rel}: cannot read: {exc.strerror or exc}") from exc
    except _yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{rel}: not valid YAML{at}: {problem}") from exc


def _check_file(root: Path, source: str, where: str, rel: str) -> None:
    try:
        if not contained_path(root, rel, what=where).is_file():
            raise ConfigError(f"{source}: {where}: no file {rel!r} in the project")
    except InvalidNameError as exc:
        raise ConfigError(f"{source}: {where}: {exc.message}") from None


def load_project(directory: Path, *, allow_unsupported_env: bool = False) -> Project:
    """The project in ``directory``: ``gitml.yaml`` if present, else an ``MLproject`` (any case).

    ``allow_unsupported_env`` (``--env-manager local``): an MLproject's conda_env or
    docker_env is read as a local environment instead of refused.
    """
    root = Path(directory)
    if not root.is_dir():
        raise NotFoundError(f"no project directory {str(root)!r}")
    if (root / GITML_FILE).is_file() or (root / GITML_FILE).is_symlink():
        project = parse_project(_read_yaml(root, GITML_FILE), root=root, source=GITML_FILE)
        if project.environment.requirements_file:
            _check_file(root, GITML_FILE, "environment.requirements", project.environment.requirements_file)
        return project
    names = sorted(n for n in os.listdir(root) if n.lower() == MLPROJECT_FILE.lower())
    if not names:
        raise NotFoundError(
            f"no {GITML_FILE} or {MLPROJECT_FILE} in {str(root)!r}",
            hint=f"add a {GITML_FILE} that declares the entry points (see docs/projects.md)",
        )
    source = names[0]
    data = _read_yaml(root, source)
    python_env = None
    if isinstance(data, Mapping):
        env_file = data.get("python_env")
        if isinstance(env_file, str):
            _check_file(root, source, "python_env", env_file)
            python_env = _read_yaml(root, env_file)
        elif not any(k in data for k in ("conda_env", "docker_env")) and (root / PYTHON_ENV_FILE).is_file():
            python_env = _read_yaml(root, PYTHON_ENV_FILE)
    return parse_mlproject(
        data, root=root, source=source, python_env=python_env, allow_unsupported_env=allow_unsupported_env
    )


def entry_point(project: Project, name: str) -> EntryPoint:
    """A declared entry point, or a ``*.py`` / ``*.sh`` file of the project run as MLflow does."""
    if name in project.entry_points:
        return project.entry_points[name]
    suffix = os.path.splitext(name)[1]
    if suffix in _SCRIPT_RUNNERS:
        if name.startswith("-"):
            raise InvalidNameError(f"entry point {name!r} may not start with '-'")
        path = contained_path(project.root, name, what="entry point")
        if not path.is_file():
            raise NotFoundError(f"no script {name!r} in project {project.name!r}")
        return EntryPoint(name, {}, (_SCRIPT_RUNNERS[suffix], name), allow_extra=True)
    declared = ", ".join(project.entry_points) or "(none)"
    raise NotFoundError(
        f"project {project.name!r} ({project.source_file}) has no entry point {name!r}",
        hint=f"declared: {declared}; or name a .py or .sh file of the project",
    )
