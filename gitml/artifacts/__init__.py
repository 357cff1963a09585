"""Artifacts: files of a run, kept by content hash in a local cache and in remote object storage.

``gitml.artifacts.download(uri, dst)`` reads ``runs:/<run-id>/<path>`` and
``models:/<name>/<version|stage|latest>`` URIs; ``gitml.artifacts.list(uri)``
lists ``runs:/`` URIs. The logging calls (``gitml.log_artifact`` ...) live with
the tracking API.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitml._types import StrPath

if TYPE_CHECKING:
    from gitml.artifacts.access import ArtifactInfo, list

__all__ = ["ArtifactInfo", "download", "list"]


def download(uri: str, dst: StrPath | None = None, *, rev: str | None = None) -> Path:
    """Download ``runs:/<run>/<path>`` or ``models:/<name>/<version|stage|latest>`` to ``dst``, verified.

    Returns the local path. A ``models:/`` URI is resolved by the registry (the facade
    is the one place this package calls upward, lazily).
    """
    from gitml.tracking.fluent import workspace

    if isinstance(uri, str) and uri.startswith("models:"):
        from gitml.registry.get import get_model

        return get_model(workspace(), uri, out=dst, rev=rev).path
    from gitml.artifacts.access import get

    return get(workspace(), uri, out=dst, rev=rev).path


def __getattr__(name: str) -> Any:
    if name in ("ArtifactInfo", "list"):
        from gitml.artifacts import access

        return getattr(access, name)
    raise AttributeError(f"module 'gitml.artifacts' has no attribute {name!r}")
