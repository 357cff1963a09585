"""``.gitml/config.yaml``: the committed configuration, and ``config.local.yaml``, its per-machine overlay.

``parse_config`` is pure (a mapping in, a frozen ``Config`` out); ``load_config``
reads the two files. The on-disk ``format`` number is checked so an old gitml
refuses a repository written by a newer one instead of misreading it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitml import _yaml
from gitml.exceptions import ConfigError
from gitml.store.base import RemoteSpec

__all__ = [
    "DEFAULT_CONFIG_TEXT",
    "FORMAT_VERSION",
    "ArtifactsConfig",
    "Config",
    "HooksConfig",
    "RemoteConfig",
    "ReviewConfig",
    "RunConfig",
    "load_config",
    "parse_config",
    "parse_size",
]

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
cache:
  # Where objects are kept (relative to the repository, or absolute for a shared cache);
  # usually set per machine in config.local.yaml.
  dir: .gitml/cache
  # How artifacts are placed in the work tree, first that works: reflink, hardlink, symlink, copy.
  # hardlink/symlink share the cache's read-only file; reflink and copy give an independent file.
  link: [reflink, copy]
# Which way is better for a metric, shown by `gitml diff` and `gitml report` (min or max).
metrics: {{}}
diff:
  # Runs on the two sides of a diff are compared when these run fields are equal.
  compare_by: [experiment, name]
hooks:
  # pre-commit refuses a binary file above this size staged into git (bytes, or 500KB, 5MiB, ...).
  max_file_size: 1MiB
  # post-checkout / post-merge: pull the missing artifacts of the checked-out runs (else only report them).
  pull: false
# Object storage: `gitml remote add NAME URL --default`. URLs only -- credentials come from the
# environment, ~/.aws or config.local.yaml.
"""


@dataclass(frozen=True)
class RunConfig:
    params_files: tuple[str, ...] = ("params.yaml",)
    metrics_files: tuple[str, ...] = ("metrics.json", "metrics.yaml")
    log_limit: int = 1024 * 1024
    fsync: bool = False


#: A configured remote (name, URL, endpoint, options): the storage layer's own spec, parsed here.
RemoteConfig = RemoteSpec


@dataclass(frozen=True)
class ArtifactsConfig:
    cache_dir: str = ".gitml/cache"
    link: tuple[str, ...] = ("reflink", "copy")
    shared: bool = False
    jobs: int | None = None
    gc_grace_days: float = 7.0
    default_remote: str | None = None
    remotes: Mapping[str, RemoteConfig] = field(default_factory=dict)


#: The run fields a diff may pair runs by.
COMPARE_FIELDS = ("experiment", "name")
#: Directions a metric may be declared with.
DIRECTIONS = ("min", "max")


@dataclass(frozen=True)
class ReviewConfig:
    #: Metric name -> "min" or "max" (which way is better).
    metrics: Mapping[str, str] = field(default_factory=dict)
    compare_by: tuple[str, ...] = COMPARE_FIELDS


@dataclass(frozen=True)
class HooksConfig:
    max_file_size: int = 1024 * 1024
    pull: bool = False


@dataclass(frozen=True)
class Config:
    format: int = FORMAT_VERSION
    experiment: str = "default"
    run: RunConfig = field(default_factory=RunConfig)
    artifacts: ArtifactsConfig = field(default_factory=ArtifactsConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    hooks: HooksConfig = field(default_factory=HooksConfig)
    raw: Mapping[str, Any] = field(default_factory=dict)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _str_list(value: Any, where: str, what: str = "file names") -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of {what}, not {value!r}")
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
            params_files=_str_list(
                run.get("params_files", list(RunConfig.params_files)), f"{source}: run.params_files"
            ),
            metrics_files=_str_list(
                run.get("metrics_files", list(RunConfig.metrics_files)), f"{source}: run.metrics_files"
            ),
            log_limit=limit,
            fsync=_bool(run.get("fsync", False), f"{source}: run.fsync"),
        ),
        artifacts=_parse_artifacts(data, source),
        review=_parse_review(data, source),
        hooks=_parse_hooks(data, source),
        raw=data,
    )


#: How cached files may be placed in the work tree (gitml.artifacts.cache.LINK_TYPES).
LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
#: Remote options that are secrets: refused in the committed config.yaml.
SECRET_OPTIONS = ("access_key_id", "secret_access_key", "session_token", "password", "token")
_REMOTE_OPTIONS = ("endpoint_url", "profile", "region", "anon", *SECRET_OPTIONS)
_USERINFO_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/@]*@")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def check_remote_name(name: object) -> str:
    if (
        not isinstance(name, str)
        or not name
        or len(name) > 64
        or not set(name) <= _NAME_CHARS
        or name.startswith(("-", "."))
    ):
        raise ConfigError(
            f"invalid remote name {name!r}", hint="use letters, digits, '_', '-' and '.' (not leading)"
        )
    return name


def _parse_artifacts(data: Mapping[str, Any], source: str) -> ArtifactsConfig:
    cache = data.get("cache") or {}
    if not isinstance(cache, Mapping):
        raise ConfigError(f"{source}: 'cache' must be a mapping")
    cache_dir = cache.get("dir", ArtifactsConfig.cache_dir)
    if not isinstance(cache_dir, str) or not cache_dir.strip():
        raise ConfigError(f"{source}: cache.dir must be a path")
    link = _str_list(cache.get("link", list(ArtifactsConfig.link)), f"{source}: cache.link", "link types")
    for kind in link:
        if kind not in LINK_TYPES:
            raise ConfigError(
                f"{source}: cache.link: unknown link type {kind!r} (choose from {', '.join(LINK_TYPES)})"
            )
    jobs = cache.get("jobs")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise ConfigError(f"{source}: cache.jobs must be a positive integer, not {jobs!r}")
    grace = cache.get("gc_grace_days", ArtifactsConfig.gc_grace_days)
    if not isinstance(grace, (int, float)) or isinstance(grace, bool) or grace < 0:
        raise ConfigError(f"{source}: cache.gc_grace_days must be a number of days, not {grace!r}")
    remotes_raw = data.get("remotes") or {}
    if not isinstance(remotes_raw, Mapping):
        raise ConfigError(f"{source}: 'remotes' must map names to {{url: ...}}")
    remotes: dict[str, RemoteConfig] = {}
    for name, spec in remotes_raw.items():
        check_remote_name(name)
        if isinstance(spec, str):
            spec = {"url": spec}
        if not isinstance(spec, Mapping) or not isinstance(spec.get("url"), str):
            raise ConfigError(f"{source}: remote {name!r} needs a url")
        unknown = set(spec) - {"url", *_REMOTE_OPTIONS}
        if unknown:
            raise ConfigError(f"{source}: remote {name!r} has unknown options: {', '.join(sorted(unknown))}")
        endpoint = spec.get("endpoint_url")
        options = {k: v for k, v in spec.items() if k not in ("url", "endpoint_url")}
        remotes[name] = RemoteConfig(
            name, spec["url"], endpoint if isinstance(endpoint, str) else None, options
        )
    default = data.get("default_remote")
    if default is not None and default not in remotes:
        raise ConfigError(f"{source}: default_remote {default!r} is not one of the remotes")
    return ArtifactsConfig(
        cache_dir=cache_dir,
        link=link,
        shared=_bool(cache.get("shared", False), f"{source}: cache.shared"),
        jobs=jobs,
        gc_grace_days=float(grace),
        default_remote=default,
        remotes=remotes,
    )


COMPARE_HINT = "use experiment, name, tags.KEY or params.KEY"


def unknown_compare_fields(fields: Sequence[str]) -> list[str]:
    """The fields runs cannot be paired by (see ``diff.compare_by``)."""
    return [f for f in fields if f not in COMPARE_FIELDS and not f.startswith(("tags.", "params."))]


def _parse_review(data: Mapping[str, Any], source: str) -> ReviewConfig:
    metrics = data.get("metrics") or {}
    if not isinstance(metrics, Mapping):
        raise ConfigError(f"{source}: 'metrics' must map metric names to min or max")
    for key, direction in metrics.items():
        if direction not in DIRECTIONS:
            raise ConfigError(f"{source}: metrics.{key} must be min or max, not {direction!r}")
    diff = data.get("diff") or {}
    if not isinstance(diff, Mapping):
        raise ConfigError(f"{source}: 'diff' must be a mapping")
    compare_by = _str_list(
        diff.get("compare_by", list(COMPARE_FIELDS)), f"{source}: diff.compare_by", "fields"
    )
    for name in unknown_compare_fields(compare_by):
        raise ConfigError(f"{source}: diff.compare_by: unknown field {name!r}", hint=COMPARE_HINT)
    return ReviewConfig(metrics={str(k): str(v) for k, v in metrics.items()}, compare_by=compare_by)


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)


def parse_size(value: object, *, where: str) -> int:
    """A size in bytes from an int or a text like ``500KB``, ``5MiB``, ``1.5G``; ConfigError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f"{where} must be a size such as 1048576, 500KB or 5MiB, not {value!r}")
    number, unit = float(match.group(1)), match.group(2).lower()
    base = 1024 if "i" in unit else 1000
    scale = 1 if unit in ("", "b") else base ** ("kmgt".index(unit[0]) + 1)
    return int(number * scale)


def _parse_hooks(data: Mapping[str, Any], source: str) -> HooksConfig:
    hooks = data.get("hooks") or {}
    if not isinstance(hooks, Mapping):
        raise ConfigError(f"{source}: 'hooks' must be a mapping")
    size = parse_size(
        hooks.get("max_file_size", HooksConfig.max_file_size), where=f"{source}: hooks.max_file_size"
    )
    return HooksConfig(max_file_size=size, pull=_bool(hooks.get("pull", False), f"{source}: hooks.pull"))


def check_no_secrets(data: Mapping[str, Any], *, source: str) -> None:
    """The committed config may name remotes but never hold their credentials."""
    remotes = data.get("remotes")
    if not isinstance(remotes, Mapping):
        return
    for name, spec in remotes.items():
        urls = [spec] if isinstance(spec, str) else []
        if isinstance(spec, Mapping):
            urls = [v for k, v in spec.items() if k in ("url", "endpoint_url") and isinstance(v, str)]
        if any(_USERINFO_RE.match(url) for url in urls):
            raise ConfigError(
                f"{source}: remote {name!r} has credentials (user:password@) in its URL "
                "in the committed config",
                hint="put credentials in .gitml/config.local.yaml (not committed) or the environment",
            )
        if isinstance(spec, Mapping):
            found = [k for k in SECRET_OPTIONS if k in spec]
            if found:
                raise ConfigError(
                    f"{source}: remote {name!r} holds credentials ({', '.join(found)}) "
                    "in the committed config",
                    hint="move them to .gitml/config.local.yaml (not committed) or the environment",
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
    committed = _read_yaml(gitml_dir / "config.yaml")
    check_no_secrets(committed, source=str(gitml_dir / "config.yaml"))
    merged = _merge(dict(committed), _read_yaml(gitml_dir / "config.local.yaml"))
    return parse_config(merged, source=str(gitml_dir / "config.yaml"))


def set_top_level(text: str, key: str, block: str | None) -> str:
    """Replace (or append, or with None remove) the top-level ``key:`` block of a YAML text.

    Comments and every other section are kept as they are; ``block`` is the
    YAML for ``key`` including its ``key:`` line.
    """
    lines = text.splitlines(keepends=True)
    start = end = None
    for i, line in enumerate(lines):
        if start is None:
            if line.startswith(f"{key}:"):
                start = i
        elif line.strip() and not line.startswith((" ", "\t", "#")):
            end = i
            break
    if start is not None:
        end = len(lines) if end is None else end
        while end > start + 1 and lines[end - 1].startswith("#"):
            end -= 1
        lines[start:end] = [block] if block else []
    elif block:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(block)
    return "".join(lines)
