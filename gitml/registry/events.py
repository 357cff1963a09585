"""Registry events: what a tag says, read from its name and its (machine-readable) message.

gitml writes tag messages as a subject line, a blank line and a YAML block::

    Promote churn v3 to production

    gitml: promotion
    name: churn
    version: v3
    stage: production
    by: Ada <ada@example.com>
    at: 2026-11-26T14:03:11Z

A registration also records ``run``, ``path``, ``hash``, ``size``, ``type`` (file or
dir), ``remote`` (URL without credentials) and ``description``. Tags made by hand
(``git tag -a``) or by GTO carry free text: the event then comes from the tag name,
the tagger and the commit alone.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitml.registry.grammar import TagKind, TagName, Version

__all__ = ["Event", "ModelVersion", "format_message", "parse_message"]

#: Fields gitml writes, in order.
FIELDS = ("gitml", "name", "version", "stage", "run", "path", "hash", "size", "type", "remote", "by", "at")


def utc_iso(stamp: int) -> str:
    return _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_message(subject: str, fields: Mapping[str, Any], description: str | None = None) -> str:
    """A tag message: the subject, a blank line, then one ``key: value`` line per field (YAML)."""
    from gitml import _yaml

    body = {k: fields[k] for k in FIELDS if fields.get(k) is not None}
    if description:
        body["description"] = description
    return f"{subject}\n\n{_yaml.dump(body)}"


def parse_message(message: str) -> dict[str, str]:
    """The fields of a gitml tag message; {} for free text (a hand-made or GTO tag)."""
    _subject, sep, body = message.partition("\n\n")
    if not sep or "gitml:" not in body:
        return {}
    from gitml import _yaml

    try:
        data = _yaml.load_fast(body if body.endswith("\n") else body + "\n")
    except _yaml.YAMLError:
        return {}
    if not isinstance(data, dict) or "gitml" not in data:
        return {}
    return {str(k): str(v) for k, v in data.items() if v is not None and not isinstance(v, (dict, list))}


@dataclass(frozen=True)
class Event:
    """One registry event (one tag)."""

    tag: str
    kind: TagKind
    name: str
    commit: str
    by: str
    time: int
    version: Version | None = None
    stage: str | None = None
    number: int = 0
    fields: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, parsed: TagName, *, commit: str, by: str, time: int, fields: Mapping[str, str]) -> Event:
        return cls(
            tag=parsed.tag,
            kind=parsed.kind,
            name=parsed.name,
            commit=commit,
            by=by,
            time=time,
            version=parsed.version,
            stage=parsed.stage,
            number=parsed.number,
            fields=dict(fields),
        )

    @property
    def at(self) -> str:
        return utc_iso(self.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "event": self.kind.value,
            "name": self.name,
            "version": str(self.version) if self.version else None,
            "stage": self.stage,
            "commit": self.commit,
            "by": self.by,
            "at": self.at,
            "description": self.fields.get("description"),
        }


@dataclass(frozen=True)
class ModelVersion:
    """A registered version: where its bytes are and what became of it."""

    name: str
    version: Version
    tag: str
    commit: str
    registered_by: str
    registered_at: int
    run_id: str | None = None
    path: str | None = None
    hash: str | None = None
    size: int | None = None
    is_dir: bool = False
    remote: str | None = None
    description: str | None = None
    deprecated: bool = False
    stages: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": str(self.version),
            "tag": self.tag,
            "commit": self.commit,
            "run_id": self.run_id,
            "path": self.path,
            "hash": self.hash,
            "size": self.size,
            "type": "dir" if self.is_dir else "file",
            "remote": self.remote,
            "description": self.description,
            "registered_by": self.registered_by,
            "registered_at": utc_iso(self.registered_at),
            "deprecated": self.deprecated,
            "stages": list(self.stages),
        }
