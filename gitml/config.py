"""``.gitml/config.yaml``: the committed configuration, and ``config.local.yaml``, its per-machine overlay.

``parse_config`` is pure (a mapping in, a frozen ``Config`` out); ``load_config``
reads the two files. The on-disk ``format`` number is checked so an old gitml
refuses a repository written by a newer one instead of misreading it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitml import _yaml
from gitml.exceptions import ConfigError

__all__ = ["DEFAULT_CONFIG_TEXT", "FORMAT_VERSION", "Config", "RunConfig", "load_config", "parse_config"]

#: Version of the on-disk repository format (docs/format.md).
FORMAT_VERSION = 1

DEFAULT_CONFIG_TEXT = f"""\
# gitml configuration (committed). Never put credentials here: use config.local.yaml
# (not committed) or the environment. See docs/format.md.
format: {FORMAT_VERSION}
defaults:
  experiment: default
run:
  # Files `gitml run` reads params from (before the command starts) ...
  params_files: [params.yaml]
  # ... and metrics from (after it ends), relative to the directory the command runs in.
  metrics_files: [metrics.json, metrics.yaml]
  # Bytes of the command's output kept in the run's output.log (head and tail).
  log_limit: 1048576
  # fsync each run's final run.yaml before it replaces the old one (costs ~0.1-1 ms per run).
  # Replacement is atomic either way; turn this on where power-loss safety matters more.
  fsync: false
"""


@dataclass(frozen=True)
class RunConfig:
    params_files: tuple[str, ...] = ("params.yaml",)
    metrics_files: tuple[str, ...] = ("metrics.json", "metrics.yaml")
    log_limit: int = 1024 * 1024
    fsync: bool = False


@dataclass(frozen=True)
class Config:
    format: int = FORMAT_VERSION
    experiment: str = "default"
    run: RunConfig = field(default_factory=RunConfig)
    raw: Mapping[str, Any] = field(default_factory=dict)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of file names, not {value!r}")
    return tuple(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    return value


def parse_config(data: Mapping[str, Any], *, source: str = "config.yaml") -> Config:
    """Build a Config from parsed YAML; ConfigError names the bad field."""
    fmt = data.get("format", FORMAT_VERSION)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise ConfigError(f"{source}: format must be a positive integer, not {fmt!r}")
    if fmt > FORMAT_VERSION:
        raise ConfigError(
            f"{source}: repository format {fmt} is newer than this gitml understands ({FORMAT_VERSION})",
            hint="upgrade gitml: pip install -U gitml",
        )
    defaults = data.get("defaults") or {}
    run = data.get("run") or {}
    if not isinstance(defaults, Mapping) or not isinstance(run, Mapping):
        raise ConfigError(f"{source}: 'defaults' and 'run' must be mappings")
    experiment = defaults.get("experiment", "default")
    if not isinstance(experiment, str) or not experiment.strip():
        raise ConfigError(f"{source}: defaults.experiment must be a non-empty string")
    limit = run.get("log_limit", RunConfig.log_limit)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise ConfigError(f"{source}: run.log_limit must be a number of bytes, not {limit!r}")
    return Config(
        format=fmt,
        experiment=experiment,
        run=RunConfig(
            params_files=_str_list(run.get("params_files", list(RunConfig.params_files)), "run.params_files"),
            metrics_files=_str_list(
                run.get("metrics_files", list(RunConfig.metrics_files)), "run.metrics_files"
            ),
            log_limit=limit,
            fsync=_bool(run.get("fsync", False), "run.fsync"),
        ),
        raw=data,
    )


def _read_yaml(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    try:
        data = _yaml.load(text)
    except _yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}".splitlines()[0]) from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path} must hold a mapping")
    return data


def load_config(gitml_dir: Path) -> Config:
    """Read config.yaml with config.local.yaml laid over it."""
    merged = _merge(dict(_read_yaml(gitml_dir / "config.yaml")), _read_yaml(gitml_dir / "config.local.yaml"))
    return parse_config(merged, source=str(gitml_dir / "config.yaml"))
