"""The registry's Python API, as ``gitml`` exports it (MLflow's names where MLflow has them)."""

from __future__ import annotations

from gitml._types import StrPath
from gitml.exceptions import InvalidNameError
from gitml.registry.events import ModelVersion
from gitml.registry.grammar import parse_version
from gitml.registry.ops import EventResult
from gitml.workspace import Workspace

__all__ = [
    "ModelVersion",
    "demote",
    "deprecate",
    "get_model_version",
    "promote",
    "register_model",
    "search_model_versions",
]


def _ws(repo: StrPath | None) -> Workspace:
    if repo is not None:
        return Workspace.find(repo)
    from gitml.tracking.fluent import workspace

    return workspace()


def register_model(
    name: str,
    run: str,
    *,
    path: str | None = None,
    version: str | None = None,
    description: str | None = None,
    push: bool = False,
    repo: StrPath | None = None,
) -> ModelVersion:
    """Register ``runs:/RUN-ID/PATH`` (or a run id with ``path``) as the next version of ``name``."""
    from gitml.registry.ops import register

    ws = _ws(repo)
    result = register(ws, name, run, path=path, version=version, description=description, push=push)
    return get_model_version(name, str(result.version), repo=ws.root)


def promote(
    name: str,
    version: str | int,
    stage: str,
    *,
    force: bool = False,
    description: str | None = None,
    push: bool = False,
    repo: StrPath | None = None,
) -> EventResult:
    """Give ``stage`` (production, staging, champion...) to a version of ``name``."""
    from gitml.registry.ops import promote as _promote

    return _promote(_ws(repo), name, str(version), stage, force=force, description=description, push=push)


def demote(name: str, stage: str, *, push: bool = False, repo: StrPath | None = None) -> EventResult:
    """Take ``stage`` away from whichever version of ``name`` holds it."""
    from gitml.registry.ops import demote as _demote

    return _demote(_ws(repo), name, stage, push=push)


def deprecate(
    name: str, version: str | int, *, force: bool = False, push: bool = False, repo: StrPath | None = None
) -> EventResult:
    """Mark a version as not to be used (it stays in the history)."""
    from gitml.registry.ops import deprecate as _deprecate

    return _deprecate(_ws(repo), name, str(version), force=force, push=push)


def get_model_version(name: str, version_or_stage: str | int, *, repo: StrPath | None = None) -> ModelVersion:
    """The version ``v3`` / ``3`` / ``1.2.0``, or the holder of a stage, or ``latest``, of ``name``."""
    from gitml.registry.grammar import ModelsURI, check_stage
    from gitml.registry.state import Registry
    from gitml.repo.tags import LocalTags

    with _ws(repo) as ws:
        registry = Registry(LocalTags(ws.repo))
        ref = str(version_or_stage)
        if ref == "latest":
            return registry.resolve(ModelsURI(name, "latest"), with_stages=True)
        try:
            version = parse_version(ref)
        except InvalidNameError:  # not a version: a stage
            return registry.resolve(ModelsURI(name, "stage", stage=check_stage(ref)))
        return registry.get_version(name, version, with_stages=True)


def search_model_versions(
    filter_string: str | None = None, *, repo: StrPath | None = None
) -> list[ModelVersion]:
    """Versions matching ``name='churn' AND run_id='…'`` (=, !=, LIKE, ILIKE)."""
    from gitml.registry.query import search_model_versions as _search

    return _search(_ws(repo), filter_string)
