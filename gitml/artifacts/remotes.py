"""``gitml remote add/list/remove``: remotes in ``.gitml/config.yaml`` (or ``config.local.yaml``).

Only the ``remotes:`` and ``default_remote:`` sections are rewritten; the rest
of the file, comments included, is kept. URLs with credentials are refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitml import _yaml
from gitml._fs import atomic_write, locked
from gitml.config import check_remote_name, set_top_level
from gitml.exceptions import ConfigError, RemoteNotFoundError
from gitml.store.base import check_remote_url
from gitml.workspace import Workspace

__all__ = ["RemoteInfo", "add_remote", "list_remotes", "remove_remote"]


@dataclass(frozen=True)
class RemoteInfo:
    name: str
    url: str
    endpoint_url: str | None
    default: bool
    local: bool


def _file(ws: Workspace, local: bool) -> Path:
    return ws.gitml_dir / ("config.local.yaml" if local else "config.yaml")


def _load(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "", {}
    data = _yaml.load(text) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping")
    return text, data


def _remotes_block(remotes: Mapping[str, Mapping[str, Any]]) -> str | None:
    if not remotes:
        return None
    lines = ["remotes:\n"]
    for name in sorted(remotes):
        body = ", ".join(
            f"{k}: {json.dumps(v) if isinstance(v, str) else _yaml.format_scalar(v)}"
            for k, v in remotes[name].items()
        )
        lines.append(f"  {name}: {{{body}}}\n")
    return "".join(lines)


def _write(path: Path, text: str, data: dict[str, Any]) -> None:
    remotes = data.get("remotes") or {}
    text = set_top_level(text, "remotes", _remotes_block(remotes))
    default = data.get("default_remote")
    text = set_top_level(text, "default_remote", f"default_remote: {default}\n" if default else None)
    atomic_write(path, text.encode("utf-8"), fsync=False)


def add_remote(
    ws: Workspace,
    name: str,
    url: str,
    *,
    default: bool = False,
    endpoint_url: str | None = None,
    local: bool = False,
    force: bool = False,
) -> RemoteInfo:
    check_remote_name(name)
    check_remote_url(url)
    if endpoint_url is not None:
        check_remote_url(endpoint_url)
        if "://" not in endpoint_url:
            raise ConfigError(
                f"--endpoint-url must be a URL like http://127.0.0.1:9000, not {endpoint_url!r}"
            )
    ws.ensure_initialized()
    path = _file(ws, local)
    with locked(ws.gitml_dir):
        text, data = _load(path)
        remotes = dict(data.get("remotes") or {})
        if name in remotes and not force:
            raise ConfigError(f"remote {name!r} already exists", hint="pass --force to replace it")
        spec: dict[str, Any] = {"url": url}
        if endpoint_url:
            spec["endpoint_url"] = endpoint_url
        old = remotes.get(name)
        if isinstance(old, Mapping):
            spec.update({k: v for k, v in old.items() if k not in ("url", "endpoint_url")})
        remotes[name] = spec
        data["remotes"] = remotes
        if default:
            data["default_remote"] = name
        _write(path, text, data)
    ws.__dict__.pop("config", None)
    return RemoteInfo(name, url, endpoint_url, default, local)


def remove_remote(ws: Workspace, name: str) -> None:
    removed = False
    with locked(ws.gitml_dir):
        for local in (False, True):
            path = _file(ws, local)
            text, data = _load(path)
            remotes = dict(data.get("remotes") or {})
            if name not in remotes:
                continue
            del remotes[name]
            data["remotes"] = remotes
            if data.get("default_remote") == name:
                data.pop("default_remote")
            _write(path, text, data)
            removed = True
    ws.__dict__.pop("config", None)
    if not removed:
        raise RemoteNotFoundError(f"no remote named {name!r}")


def list_remotes(ws: Workspace) -> list[RemoteInfo]:
    cfg = ws.config.artifacts
    _, local_data = _load(_file(ws, True))
    local_names = set((local_data.get("remotes") or {}).keys())
    _, committed = _load(_file(ws, False))
    committed_names = set((committed.get("remotes") or {}).keys())
    return [
        RemoteInfo(
            r.name,
            r.url,
            r.endpoint_url,
            r.name == cfg.default_remote or (cfg.default_remote is None and len(cfg.remotes) == 1),
            r.name in local_names and r.name not in committed_names,
        )
        for r in sorted(cfg.remotes.values(), key=lambda r: r.name)
    ]
