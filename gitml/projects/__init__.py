"""Projects: run any git URL at a pinned commit, reproducibly (``gitml run URL``, docs/projects.md).

``gitml.projects.run(uri, entry_point=, parameters=, version=, env_manager=, synchronous=True)``
returns a handle with ``.wait()``, ``.run_id`` and ``.status``, as MLflow's ``mlflow.projects.run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitml.projects.launch import ProjectRun

__all__ = ["ProjectRun", "reproduce", "run"]


def run(uri: str | None = None, **options: Any) -> ProjectRun:
    """Run an entry point of a project; see :func:`gitml.projects.launch.run`."""
    from gitml.projects.launch import run as _run

    return _run(uri, **options)


def reproduce(run_id: str, **options: Any) -> tuple[ProjectRun, str]:
    """Run a recorded project run again; see :func:`gitml.projects.launch.reproduce`."""
    from gitml.projects.launch import reproduce as _reproduce

    return _reproduce(run_id, **options)


def __getattr__(name: str) -> Any:
    if name == "ProjectRun":
        from gitml.projects.launch import ProjectRun

        return ProjectRun
    raise AttributeError(name)
