"""Artifacts: files of a run, kept by content hash in a local cache and in remote object storage.

``gitml.artifacts.download(uri, dst)`` and ``gitml.artifacts.list(uri)`` read
``runs:/<run-id>/<path>`` URIs; the logging calls (``gitml.log_artifact`` ...)
live with the tracking API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitml.artifacts.access import ArtifactInfo, download, list

__all__ = ["ArtifactInfo", "download", "list"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from gitml.artifacts import access

        return getattr(access, name)
    raise AttributeError(f"module 'gitml.artifacts' has no attribute {name!r}")
