"""Making runs and commits for the review tests (diff, report, plots)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gitml
from gitml import api
from tests.conftest import git


def make_run(
    name: str,
    *,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float | Sequence[float]] | None = None,
    experiment: str | None = None,
) -> str:
    """A finished run in the current repo; a sequence of values is logged as steps 0..n-1."""
    with gitml.start_run(name=name, experiment=experiment) as run:
        if params:
            gitml.log_params(dict(params))
        for key, value in (metrics or {}).items():
            values = value if isinstance(value, Sequence) else [value]
            for step, v in enumerate(values):
                gitml.log_metric(key, float(v), step=step)
    return run.info.run_id


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def set_config(repo: Path, text: str) -> None:
    path = repo / ".gitml" / "config.yaml"
    path.write_text(path.read_text() + text)


def commit_base_runs(repo: Path, train_params: Mapping[str, Any]) -> None:
    """Init gitml (loss: min, acc: max), log a train run and an eval run, and commit them as "base"."""
    api.init(repo)
    set_config(repo, "metrics:\n  loss: min\n  acc: max\n")
    make_run("train", params=train_params, metrics={"loss": [0.9, 0.5, 0.4], "acc": 0.80})
    make_run("eval", metrics={"acc": 0.7})
    commit(repo, "base")
