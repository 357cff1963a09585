"""gitml: experiment tracking, projects, models and a registry that live in your git repository.

The tracking API uses MLflow's names, so porting a script is mostly an import change::

    import gitml

    with gitml.start_run(name="baseline"):
        gitml.log_param("lr", 0.01)
        for step in range(100):
            gitml.log_metric("loss", 1 / (step + 1), step=step)
"""

from typing import TYPE_CHECKING, Any

from gitml._version import __version__
from gitml.exceptions import (
    AmbiguousRunError,
    ArtifactNotFoundError,
    CommandError,
    ConfigError,
    ConflictError,
    CorruptRunError,
    EnvBuildError,
    FilterSyntaxError,
    GitError,
    GitMLError,
    IntegrityError,
    InvalidNameError,
    InvalidValueError,
    ModelNotFoundError,
    NoActiveRunError,
    NotFoundError,
    ObjectMissingError,
    ParamConflictError,
    RemoteNotFoundError,
    RepoNotFoundError,
    RevisionNotFoundError,
    RunNotFoundError,
    StoreAuthError,
    StoreError,
    UsageError,
    VersionNotFoundError,
)

if TYPE_CHECKING:
    from gitml.registry.fluent import (
        ModelVersion,
        demote,
        deprecate,
        get_model_version,
        promote,
        register_model,
        search_model_versions,
    )
    from gitml.tracking.fluent import (
        ActiveRun,
        active_run,
        end_run,
        get_tracking_uri,
        log_artifact,
        log_artifacts,
        log_dict,
        log_figure,
        log_image,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_text,
        set_experiment,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )
    from gitml.tracking.query import Run, RunData, get_metric_history, get_run, search_runs
    from gitml.tracking.run import Metric, RunInfo

# The tracking API is loaded on first use, so `gitml --help` and `import gitml.exceptions`
# do not pay for YAML and the tracking modules.
_LAZY = {
    **dict.fromkeys(
        [
            "ActiveRun",
            "active_run",
            "end_run",
            "get_tracking_uri",
            "log_artifact",
            "log_artifacts",
            "log_dict",
            "log_figure",
            "log_image",
            "log_metric",
            "log_metrics",
            "log_param",
            "log_params",
            "log_text",
            "set_experiment",
            "set_tag",
            "set_tags",
            "set_tracking_uri",
            "start_run",
        ],
        "gitml.tracking.fluent",
    ),
    **dict.fromkeys(
        ["Run", "RunData", "get_metric_history", "get_run", "search_runs"], "gitml.tracking.query"
    ),
    **dict.fromkeys(["Metric", "RunInfo"], "gitml.tracking.run"),
    **dict.fromkeys(
        [
            "ModelVersion",
            "demote",
            "deprecate",
            "get_model_version",
            "promote",
            "register_model",
            "search_model_versions",
        ],
        "gitml.registry.fluent",
    ),
}


def __getattr__(name: str) -> Any:
    if name == "artifacts":
        import importlib

        return importlib.import_module("gitml.artifacts")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gitml' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ActiveRun",
    "AmbiguousRunError",
    "ArtifactNotFoundError",
    "CommandError",
    "ConfigError",
    "ConflictError",
    "CorruptRunError",
    "EnvBuildError",
    "FilterSyntaxError",
    "GitError",
    "GitMLError",
    "IntegrityError",
    "InvalidNameError",
    "InvalidValueError",
    "Metric",
    "ModelNotFoundError",
    "ModelVersion",
    "NoActiveRunError",
    "NotFoundError",
    "ObjectMissingError",
    "ParamConflictError",
    "RemoteNotFoundError",
    "RepoNotFoundError",
    "RevisionNotFoundError",
    "Run",
    "RunData",
    "RunInfo",
    "RunNotFoundError",
    "StoreAuthError",
    "StoreError",
    "UsageError",
    "VersionNotFoundError",
    "__version__",
    "active_run",
    "artifacts",
    "demote",
    "deprecate",
    "end_run",
    "get_metric_history",
    "get_model_version",
    "get_run",
    "get_tracking_uri",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "promote",
    "register_model",
    "search_model_versions",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
