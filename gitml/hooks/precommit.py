"""pre-commit: refuse large binary files staged into git, and ``.gitml/`` files that do not parse.

Only what the commit would record counts: the staged (index) content of the
paths the index adds or changes against HEAD, read from git's object store (the
index git names in ``$GIT_INDEX_FILE`` when it runs the hook, as ``git commit -a``
uses a temporary one), never the work tree. A file is binary as git decides it:
a NUL byte in its first 8000 bytes.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from gitml.exceptions import ConfigError, GitMLError
from gitml.workspace import Workspace

__all__ = ["BINARY_PROBE", "PreCommitReport", "check_gitml_file", "is_binary", "pre_commit"]

#: Bytes git looks at to call a file binary (xdiff's FIRST_FEW_BYTES).
BINARY_PROBE = 8000


def is_binary(data: bytes) -> bool:
    """Whether git would call content starting with ``data`` binary: a NUL in the first 8000 bytes."""
    return b"\0" in data[:BINARY_PROBE]


@dataclass(frozen=True)
class StagedProblem:
    path: str
    reason: str
    size: int = 0


@dataclass
class PreCommitReport:
    limit: int
    large: list[StagedProblem] = field(default_factory=list)
    broken: list[StagedProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.large and not self.broken


def check_gitml_file(path: str, data: bytes) -> str | None:
    """Why a staged ``.gitml/`` file would be refused (it does not parse), or None if it is fine."""
    where = f"{path} (staged)"
    parts = PurePosixPath(path).parts
    try:
        if parts == (".gitml", "config.local.yaml"):
            return "config.local.yaml holds this machine's settings and maybe credentials: never commit it"
        if parts == (".gitml", "config.yaml"):
            _check_config(data, where)
        elif len(parts) == 4 and parts[1] == "runs":
            _check_run_file(parts[3], data, where)
    except GitMLError as exc:
        return exc.message
    return None


def _check_config(data: bytes, where: str) -> None:
    from collections.abc import Mapping

    from gitml import _yaml
    from gitml.config import check_no_secrets, parse_config

    try:
        parsed = _yaml.load(data)
    except (_yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    parsed = {} if parsed is None else parsed
    if not isinstance(parsed, Mapping):
        raise ConfigError(f"{where} must hold a mapping")
    check_no_secrets(parsed, source=where)
    parse_config(parsed, source=where)


def _check_run_file(name: str, data: bytes, where: str) -> None:
    from gitml.artifacts.record import FILE_NAME, parse_entries
    from gitml.tracking.files import (
        METRICS_FILE,
        PARAMS_FILE,
        RUN_FILE,
        latest_metrics,
        parse_params,
        parse_run,
    )

    if name == RUN_FILE:
        parse_run(data, where=where)
    elif name == PARAMS_FILE:
        parse_params(data, where=where)
    elif name == METRICS_FILE:
        latest_metrics(data, where=where)
    elif name == FILE_NAME:
        parse_entries(data, where=where)


def pre_commit(ws: Workspace, *, index_path: str | None = None) -> PreCommitReport:
    """Check what the index would commit; the CLI refuses the commit when the report is not ok."""
    try:
        limit = ws.config.hooks.max_file_size
    except ConfigError:  # the work tree's config is broken: a staged copy is checked below
        from gitml.config import HooksConfig

        limit = HooksConfig.max_file_size
    repo = ws.repo
    report = PreCommitReport(limit)
    for staged in repo.staged_changes(index_path):
        if not stat.S_ISREG(staged.mode):  # symlinks and submodules hold no bytes to refuse
            continue
        if staged.path.startswith(".gitml/"):
            reason = check_gitml_file(staged.path, repo.read_blob(staged.sha))
            if reason is not None:
                report.broken.append(StagedProblem(staged.path, reason))
                continue
        size, head = repo.blob_head(staged.sha, BINARY_PROBE)
        if size > limit and is_binary(head):
            report.large.append(StagedProblem(staged.path, "binary", size))
    return report
