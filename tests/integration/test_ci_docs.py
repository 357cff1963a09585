"""The PR-review workflows in docs/ci.md: valid YAML, and the GitHub job's shell steps really work.

The steps that need only git and gitml (fetch the base, write the report, publish the plots to a
branch) are run as written, with bash, in a depth-1 clone of a bare origin, as the runner would;
the comment step is GitHub's own API and is only checked for the marker it looks for.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitml import api
from gitml.review.report import MARKER
from tests.conftest import git
from tests.review_helpers import commit, make_run, set_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"


def yaml_blocks() -> list[Any]:
    text = DOC.read_text()
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]


def github_workflow() -> dict[str, Any]:
    return next(b for b in yaml_blocks() if isinstance(b, dict) and b.get("name") == "gitml review")


def step(name: str) -> str:
    steps = github_workflow()["jobs"]["report"]["steps"]
    script: str = next(s["run"] for s in steps if s.get("name") == name)
    return script


def test_every_yaml_block_parses() -> None:
    blocks = yaml_blocks()
    assert len(blocks) >= 4
    workflow = github_workflow()
    assert workflow[True] == "pull_request"  # YAML 1.1 reads the key `on` as true
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    comment = next(
        s
        for s in workflow["jobs"]["report"]["steps"]
        if s.get("uses", "").startswith("actions/github-script")
    )
    assert MARKER in comment["with"]["script"] and "updateComment" in comment["with"]["script"]


def test_gitlab_job_script_is_valid_shell() -> None:
    job = next(b["gitml-review"] for b in yaml_blocks() if isinstance(b, dict) and "gitml-review" in b)
    script = "\n".join(job["script"])
    assert MARKER in script
    proc = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def origin(repo: Path, tmp_path: Path) -> Path:
    """A bare origin with main (one train run) and a PR branch (a new train run)."""
    api.init(repo)
    set_config(repo, "metrics:\n  loss: min\n")
    make_run("train", params={"lr": 0.1}, metrics={"loss": [0.9, 0.6, 0.5]})
    commit(repo, "base")
    git(repo, "branch", "-M", "main")
    git(repo, "checkout", "-q", "-b", "feature")
    make_run("train", params={"lr": 0.05}, metrics={"loss": [0.8, 0.5, 0.3]})
    commit(repo, "smaller lr")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "push", "-q", str(bare), "main", "feature")
    return bare


def run_step(name: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", step(name)], cwd=cwd, env=env, text=True, capture_output=True, check=False
    )


def test_github_steps_report_and_publish_the_plots(origin: Path, tmp_path: Path) -> None:
    runner = tmp_path / "runner"
    runner.mkdir()
    checkout = runner / "work"
    git(runner, "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{origin}", str(checkout))
    sha = git(checkout, "rev-parse", "HEAD").strip()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PR": "7",
        "BASE": "main",
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": "org/repo",
        "GITHUB_SHA": sha,
    }
    for name in (
        "fetch the base branch's tip (gitml diff needs the two trees, not the history)",
        "gitml report",
    ):
        proc = run_step(name, checkout, env)
        assert proc.returncode == 0, proc.stderr
    report = (checkout / "gitml-report" / "report.md").read_text()
    assert "✅ better" in report and report.rstrip().endswith(MARKER)
    image = f"https://github.example/org/repo/raw/gitml-report-assets/pr-7/{sha}/loss.png"
    assert f"![loss]({image})" in report
    assert f"(https://github.example/org/repo/tree/{sha}/.gitml/runs/" in report

    proc = run_step("publish the plots", checkout, env)  # the branch does not exist yet
    assert proc.returncode == 0, proc.stderr
    listed = git(origin, "ls-tree", "-r", "--name-only", "gitml-report-assets")
    assert listed.split() == [f"pr-7/{sha}/loss.png"]

    git(checkout, "worktree", "remove", "--force", "../gitml-assets")
    env["GITHUB_SHA"] = "0" * 40  # a second push to the PR: the branch exists and keeps the first plots
    proc = run_step("publish the plots", checkout, env)
    assert proc.returncode == 0, proc.stderr
    listed = git(origin, "ls-tree", "-r", "--name-only", "gitml-report-assets")
    assert sorted(listed.split()) == sorted([f"pr-7/{sha}/loss.png", f"pr-7/{'0' * 40}/loss.png"])
    assert git(origin, "cat-file", "-t", f"gitml-report-assets:pr-7/{sha}/loss.png").strip() == "blob"
