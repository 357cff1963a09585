"""The gitml exception tree.

Every error gitml raises on purpose is a ``GitMLError``; each class carries the
process exit code the CLI uses for it, and an optional one-line ``hint``::

    GitMLError (1)
    ├── UsageError (2)
    │   ├── InvalidNameError        bad run id, key, experiment or tag name
    │   ├── InvalidValueError       a param/metric value gitml cannot store
    │   ├── FilterSyntaxError       a search filter or order-by that does not parse
    │   └── ParamConflictError      a param re-logged with a different value
    ├── ConfigError (3)             .gitml/config.yaml missing or malformed
    ├── NotFoundError (4)
    │   ├── RepoNotFoundError       not inside a git repository / not initialised
    │   ├── RevisionNotFoundError   --rev names nothing
    │   ├── RunNotFoundError        unknown run id
    │   ├── ArtifactNotFoundError   no such artifact path in a run
    │   ├── ObjectMissingError      an object in neither the cache nor the remote
    │   ├── RemoteNotFoundError     no remote of that name / none configured
    │   ├── ModelNotFoundError      no registered model of that name
    │   └── VersionNotFoundError    no such version, or nobody holds the stage
    ├── AmbiguousRunError (5)       a run-id prefix matches several runs
    ├── CorruptRunError (6)         a run folder whose files do not parse
    ├── GitError (7)                git refused (index.lock, no identity, ...)
    ├── NoActiveRunError (8)        log_* on a run that has ended
    ├── StoreError (9)              remote storage unreachable or failing after retries
    │   └── StoreAuthError          credentials refused (no retry)
    ├── IntegrityError (10)         an object whose hash or size is wrong
    ├── ConflictError (11)          a registry tag someone else pushed first / that moved
    ├── EnvBuildError (12)          a project's venv could not be built (venv or pip install failed)
    └── CommandError (127)          ``gitml run`` could not start the command (127, as a shell)

Foreign exceptions (dulwich, OSError, yaml) are translated where they enter
gitml, with ``raise ... from exc`` so the cause is kept for ``--traceback``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

__all__ = [
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
    "ModelNotFoundError",
    "NoActiveRunError",
    "NotFoundError",
    "ObjectMissingError",
    "ParamConflictError",
    "RemoteNotFoundError",
    "RepoNotFoundError",
    "RevisionNotFoundError",
    "RunNotFoundError",
    "StoreAuthError",
    "StoreError",
    "UsageError",
    "VersionNotFoundError",
]


class GitMLError(Exception):
    """Root of every error gitml raises on purpose."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(GitMLError):
    """The caller asked for something malformed."""

    exit_code = 2


class InvalidNameError(UsageError):
    """A name, key or id that gitml will not use as a path or ref component."""


class InvalidValueError(UsageError):
    """A param, metric or tag value that gitml cannot store faithfully."""


class FilterSyntaxError(UsageError):
    """A search filter or order-by clause that does not parse.

    ``position`` is the 0-based character offset of the problem in ``text``.
    """

    def __init__(self, message: str, *, text: str, position: int, hint: str | None = None) -> None:
        pointer = f"\n  {text}\n  {' ' * position}^"
        super().__init__(f"{message} at position {position}{pointer}", hint=hint)
        self.text = text
        self.position = position


class ParamConflictError(UsageError):
    """A param logged again with a different value (params are immutable)."""


class ConfigError(GitMLError):
    """The .gitml/ configuration is missing or malformed."""

    exit_code = 3


class NotFoundError(GitMLError):
    """Something named by the caller does not exist."""

    exit_code = 4


class RepoNotFoundError(NotFoundError):
    """Not inside a git repository, or the repository has no .gitml/."""


class RevisionNotFoundError(NotFoundError):
    """A git revision (branch, tag, sha) that does not resolve."""


class RunNotFoundError(NotFoundError):
    """No run has this id (or id prefix)."""


class ArtifactNotFoundError(NotFoundError):
    """A run has no artifact at the path asked for."""


class ObjectMissingError(NotFoundError):
    """An object that is in neither the cache nor the remote asked."""


class RemoteNotFoundError(NotFoundError):
    """No remote has that name, or no remote is configured at all."""


class ModelNotFoundError(NotFoundError):
    """No tag registers a model of this name."""


class VersionNotFoundError(NotFoundError):
    """The model has no such version, or nobody holds the stage asked for."""


class AmbiguousRunError(GitMLError):
    """A run-id prefix that matches more than one run."""

    exit_code = 5


class CorruptRunError(GitMLError):
    """A run folder whose files are missing or do not parse."""

    exit_code = 6


class GitError(GitMLError):
    """A git operation failed (lock held, no identity, bad object...)."""

    exit_code = 7


class NoActiveRunError(GitMLError):
    """A logging call was made on a run that has ended."""

    exit_code = 8


class CommandError(GitMLError):
    """``gitml run`` could not start the command it was given (exit 127, as in a shell)."""

    exit_code = 127


class StoreError(GitMLError):
    """Remote object storage failed: unreachable, timing out or erroring after bounded retries."""

    exit_code = 9


class StoreAuthError(StoreError):
    """The storage refused the credentials (403, bad key, bad signature); never retried."""


class IntegrityError(GitMLError):
    """An object whose content does not match its hash or size (a corrupt cache or remote copy)."""

    exit_code = 10


class ConflictError(GitMLError):
    """A registry event that lost a race: the tag exists elsewhere with other content, or moved.

    ``refs`` names the tags in conflict.
    """

    exit_code = 11

    def __init__(self, message: str, *, refs: tuple[str, ...] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.refs = tuple(refs)


class EnvBuildError(GitMLError):
    """A project's venv could not be built: ``python -m venv`` or ``pip install`` failed.

    ``output`` holds the last lines the tool printed; ``log_path`` its whole output, when kept.
    """

    exit_code = 12

    def __init__(
        self, message: str, *, output: str = "", log_path: Path | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.output = output
        self.log_path = log_path
