"""Reading the registry for people: models list / show / history, check-ref, search_model_versions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gitml.exceptions import InvalidNameError, NotFoundError
from gitml.registry.events import Event, ModelVersion
from gitml.registry.grammar import Version, parse_tag
from gitml.registry.state import Registry, StageHolder
from gitml.workspace import Workspace

__all__ = [
    "ModelDetails",
    "ModelSummary",
    "check_ref",
    "list_models",
    "model_history",
    "search_model_versions",
    "show_model",
]


def _registry(ws: Workspace, *, quick_holders: bool = False) -> Registry:
    from gitml.repo.tags import LocalTags

    return Registry(LocalTags(ws.repo), quick_holders=quick_holders)


@dataclass(frozen=True)
class ModelSummary:
    name: str
    latest: Version | None
    versions: int
    stages: dict[str, Version]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "latest": str(self.latest) if self.latest else None,
            "versions": self.versions,
            "stages": {s: str(v) for s, v in self.stages.items()},
        }


def list_models(ws: Workspace) -> tuple[list[ModelSummary], list[str]]:
    """Each model: its latest version (not deprecated), how many versions, who holds each stage."""
    registry = _registry(ws, quick_holders=True)
    out = []
    for name in registry.model_names():
        taken = registry.version_tags(name)
        if not taken:
            continue
        latest = registry.latest_version(name)
        deprecated = registry.deprecated_versions(name)
        stages = {
            s: h.version
            for s, h in registry.stages(name).items()
            if h.version is not None
            and not (h.version in deprecated and registry.deprecated_since_promotion(name, h))
        }
        out.append(ModelSummary(name, latest, len(taken), stages))
    return out, registry.warnings


@dataclass(frozen=True)
class ModelDetails:
    name: str
    versions: list[ModelVersion]
    stages: dict[str, StageHolder]
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": [
                {**v.to_dict(), "run": self.runs.get(str(v.version))} for v in reversed(self.versions)
            ],
            "stages": {
                s: {"version": str(h.version) if h.version else None, "since": h.event.at, "by": h.event.by}
                for s, h in self.stages.items()
            },
        }


def _run_summary(ws: Workspace, mv: ModelVersion) -> dict[str, Any] | None:
    """The source run's params and final metrics, read at the version's commit (None if not here)."""
    from gitml.exceptions import GitMLError
    from gitml.tracking.store import RunStore

    if mv.run_id is None:
        return None
    try:
        store = RunStore(ws, rev=mv.commit)
        summary = store.summary(mv.run_id)
    except GitMLError:
        return None
    return {
        "run_id": mv.run_id,
        "name": summary.info.name,
        "experiment": summary.info.experiment,
        "status": summary.status,
        "params": dict(summary.params),
        "metrics": {k: m.value for k, m in summary.metrics.items()},
    }


def show_model(ws: Workspace, name: str, *, with_runs: bool = True) -> ModelDetails:
    registry = _registry(ws)
    versions = registry.versions(name)
    if not versions:
        registry.latest(name, include_deprecated=True)  # raises ModelNotFoundError with a hint
    runs = {}
    if with_runs:
        for mv in versions:
            summary = _run_summary(ws, mv)
            if summary is not None:
                runs[str(mv.version)] = summary
    return ModelDetails(name, versions, registry.stages(name), runs, registry.warnings)


def model_history(ws: Workspace, name: str) -> tuple[list[Event], list[str]]:
    registry = _registry(ws)
    return registry.history(name), registry.warnings


def check_ref(ws: Workspace | None, ref: str) -> Event:
    """The registry event a tag stands for (``refs/tags/…`` or the bare name); InvalidNameError if none."""
    tag = ref[len("refs/tags/") :] if ref.startswith("refs/tags/") else ref
    parsed = parse_tag(tag)
    if parsed is None:
        raise InvalidNameError(
            f"{ref!r} is not a gitml registry tag",
            hint="registry tags look like NAME@vN, NAME@vN!, NAME#STAGE#N or NAME#STAGE!#N",
        )
    if ws is None:
        raise NotFoundError("not in a git repository: check-ref reads the tag from the clone")
    registry = _registry(ws)
    event = registry.event_for(tag)
    if event is None:
        from gitml.registry.get import resolve_tag_remotely

        event = resolve_tag_remotely(ws, tag)
    if event is None:
        raise NotFoundError(
            f"tag {tag} is not in this clone (or is not annotated)",
            hint=f"git fetch origin tag '{tag}' (CI checkouts often fetch no tags)",
        )
    return event


_CLAUSE_RE = re.compile(r"\s*(name|run_id|version)\s*(=|!=|LIKE|ILIKE)\s*'([^']*)'\s*", re.IGNORECASE)


def _like(pattern: str, value: str, *, fold: bool) -> bool:
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.IGNORECASE if fold else 0) is not None


def search_model_versions(ws: Workspace, filter_string: str | None = None) -> list[ModelVersion]:
    """Versions matching ``name='churn' AND run_id='…'`` (=, !=, LIKE, ILIKE on name, run_id, version)."""
    clauses: list[tuple[str, str, str]] = []
    if filter_string and filter_string.strip():
        for part in re.split(r"\s+AND\s+", filter_string.strip(), flags=re.IGNORECASE):
            m = _CLAUSE_RE.fullmatch(part)
            if m is None:
                raise InvalidNameError(
                    f"cannot parse {part.strip()!r} in filter {filter_string!r}",
                    hint="use e.g. name='churn' AND run_id='…' (=, !=, LIKE, ILIKE)",
                )
            clauses.append((m[1].lower(), m[2].upper(), m[3]))
    registry = _registry(ws)
    exact = [v for k, op, v in clauses if k == "name" and op == "="]
    names = exact[:1] if exact else registry.model_names()
    out = []
    for name in names:
        for mv in registry.versions(name):
            fields = {"name": mv.name, "run_id": mv.run_id or "", "version": str(mv.version)}
            if all(_match(fields[k], op, v) for k, op, v in clauses):
                out.append(mv)
    return out


def _match(value: str, op: str, wanted: str) -> bool:
    if op == "=":
        return value == wanted
    if op == "!=":
        return value != wanted
    return _like(wanted, value, fold=op == "ILIKE")
