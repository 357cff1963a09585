"""`gitml run URL` end to end: a project in a bare repository and behind a git daemon, its venv built once
and reused, parameters reaching the program literally, the run recorded and reproduced from a fresh clone.

The project has two entry points and a requirements file naming a small package built by the test as a
wheel, installed with pip from a local folder (PIP_NO_INDEX + PIP_FIND_LINKS), so no network is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import gitml.projects
from gitml import api
from gitml.tracking.store import RunStore
from gitml.workspace import Workspace
from tests.conftest import git, init_repo, run_gitml
from tests.projects_helpers import offline_pip_env, wheelhouse

TRAIN = """\
import json, sys
import tinypkg
args = sys.argv[1:]
with open("argv.json", "w") as f:
    json.dump(args, f)
lr = float(args[args.index("--lr") + 1])
with open("metrics.json", "w") as f:
    json.dump({"score": round(1 - lr, 6), "tinypkg": tinypkg.__version__}, f)
print("trained with", args)
"""

EVALUATE = """\
import json, sys
with open("argv.json", "w") as f:
    json.dump(sys.argv[1:], f)
with open("metrics.json", "w") as f:
    json.dump({"accuracy": 0.5}, f)
"""

PROJECT = {
    "name": "demo",
    "environment": {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "requirements": "requirements.txt",
    },
    "entry_points": {
        "main": {
            "parameters": {
                "lr": {"type": "float", "default": 0.1},
                "note": {"type": "string", "default": "none"},
                "data": {"type": "path", "default": "data.csv"},
            },
            "command": ["python", "train.py", "--lr", "{lr}", "--note", "{note}", "--data", "{data}"],
        },
        "evaluate": {
            "parameters": {"model": {"type": "string", "default": "model.bin"}},
            "command": "python evaluate.py --model {model}",
        },
    },
}


__all__ = ["wheelhouse"]  # the fixture, imported from the helpers


@pytest.fixture(autouse=True)
def offline_pip(
    wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in offline_pip_env(wheelhouse).items():
        monkeypatch.setenv(name, value)
    # one cache for the module: the venv is built once and reused across tests
    monkeypatch.setenv("GITML_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gitml-cache"))


@pytest.fixture(scope="module")
def project_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A bare repository holding the project, and its commit."""
    base = tmp_path_factory.mktemp("project")
    work = base / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "gitml.yaml").write_text(yaml.safe_dump(PROJECT, sort_keys=False))
    (work / "requirements.txt").write_text("tinypkg==1.2.3\n")
    (work / "train.py").write_text(TRAIN)
    (work / "evaluate.py").write_text(EVALUATE)
    (work / "data.csv").write_text("x\n1\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "project")
    bare = base / "project.git"
    git(base, "clone", "-q", "--bare", str(work), str(bare))
    return bare, git(work, "rev-parse", "HEAD").strip()


@pytest.fixture
def consumer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = init_repo(tmp_path / "consumer")
    api.init(root)
    monkeypatch.chdir(root)
    return root


def only_run(root: Path) -> dict[str, Any]:
    runs = sorted((root / ".gitml" / "runs").iterdir())
    return yaml.safe_load((runs[-1] / "run.yaml").read_text())


def test_run_a_url_at_a_sha_records_the_source_and_reuses_the_venv(
    project_repo: tuple[Path, str], consumer: Path
) -> None:
    bare, sha = project_repo
    proc = run_gitml("run", f"file://{bare}", "--rev", sha, "-P", "lr=0.25", cwd=consumer, timeout=600)
    assert proc.returncode == 0, proc.stderr
    record = only_run(consumer)
    project = record["source"]["project"]
    assert project["url"] == f"file://{bare}" and project["commit"] == sha
    assert project["entry_point"] == "main" and project["parameters"]["lr"] == "0.25"
    assert record["source"]["env"]["manager"] == "venv"
    assert record["source"]["env"]["packages"]["tinypkg"] == "1.2.3"
    assert record["command"][:2] == ["python", "train.py"]
    run_id = record["id"]
    with Workspace(consumer) as ws:
        summary = RunStore(ws).summary(run_id)
    assert summary.params["lr"] == 0.25
    assert summary.metrics["score"].value == pytest.approx(0.75)

    started = time.perf_counter()
    again = run_gitml("run", f"file://{bare}", "--rev", sha, "-P", "lr=0.5", cwd=consumer, timeout=600)
    elapsed = time.perf_counter() - started
    assert again.returncode == 0, again.stderr
    assert elapsed < 10  # checkout and venv reused (the benchmark holds the real target)


def test_second_entry_point_and_short_rev_over_git_daemon(
    project_repo: tuple[Path, str], consumer: Path, git_daemon: Any
) -> None:
    bare, sha = project_repo
    served = git_daemon.base / "project.git"
    git(git_daemon.base, "clone", "-q", "--bare", str(bare), str(served))
    (served / "git-daemon-export-ok").touch()
    url = git_daemon.url("project.git")
    handle = gitml.projects.run(url, entry_point="evaluate", version=sha[:10], parameters={"model": "m.bin"})
    assert handle.wait() and handle.status == "FINISHED"
    record = only_run(consumer)
    assert record["source"]["project"]["commit"] == sha
    assert record["source"]["project"]["entry_point"] == "evaluate"


@pytest.mark.parametrize(
    "value", ["; touch X", "$(touch X)", "`touch X`", "a\nb", "--lr=9", "-rf /", "' \" \\"]
)
def test_parameter_values_reach_the_program_literally(
    project_repo: tuple[Path, str], consumer: Path, value: str
) -> None:
    bare, sha = project_repo
    handle = gitml.projects.run(str(bare), version=sha, parameters={"note": value}, env_manager="local")
    # the local interpreter has no tinypkg: the program fails on import, after nothing was run by a shell
    handle.wait()
    checkout = handle.project_dir
    assert not (checkout / "X").exists() and not (consumer / "X").exists()
    assert handle.argv[handle.argv.index("--note") + 1] == value


def test_parameters_are_type_checked_and_paths_contained(
    project_repo: tuple[Path, str], consumer: Path
) -> None:
    bare, sha = project_repo
    for params, message in (
        (["lr=fast"], "lr"),
        (["data=../../etc/passwd"], "data"),
        (["data=/etc/passwd"], "data"),
        (["colour=red"], "colour"),
    ):
        proc = run_gitml(
            "run", str(bare), "--rev", sha, *[a for p in params for a in ("-P", p)], cwd=consumer
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("Error: ") and message in proc.stderr.splitlines()[0]
        assert "Traceback" not in proc.stderr
    assert not (consumer / ".gitml" / "runs").exists() or not any((consumer / ".gitml" / "runs").iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ext::sh -c touch% X"], "unsafe or unsupported git URL"),
        (["--rev", "--output=x", "file:///nowhere.git"], "revision"),
    ],
)
def test_dangerous_urls_and_revs_are_refused(consumer: Path, args: list[str], message: str) -> None:
    proc = run_gitml("run", *args, cwd=consumer)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not (consumer / "X").exists()


def test_reproduce_from_a_fresh_clone_gives_the_same_metrics(
    project_repo: tuple[Path, str], consumer: Path, tmp_path: Path
) -> None:
    bare, sha = project_repo
    proc = run_gitml("run", f"file://{bare}", "--rev", sha, "-P", "lr=0.3", "--commit", cwd=consumer)
    # --commit is for command runs: a clear usage error
    assert proc.returncode == 2
    proc = run_gitml("run", f"file://{bare}", "--rev", sha, "-P", "lr=0.3", cwd=consumer, timeout=600)
    assert proc.returncode == 0, proc.stderr
    first = only_run(consumer)["id"]
    git(consumer, "add", ".gitml")
    git(consumer, "commit", "-q", "-m", "a project run")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(consumer), str(clone))
    proc = run_gitml("reproduce", first[:10], cwd=clone, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert f"reproduces {first}" in proc.stderr
    runs = sorted((clone / ".gitml" / "runs").iterdir())
    assert len(runs) == 2
    new = yaml.safe_load((runs[-1] / "run.yaml").read_text())
    assert new["tags"]["gitml.reproduces"] == first
    assert new["source"]["project"]["commit"] == sha
    with Workspace(clone) as ws:
        store = RunStore(ws)
        a, b = store.summary(first), store.summary(new["id"])
    assert a.metrics["score"].value == b.metrics["score"].value == pytest.approx(0.7)
    assert "score" in proc.stdout  # the diff of the two runs is shown


def test_outside_any_repository_runs_go_to_a_reported_folder(
    project_repo: tuple[Path, str], tmp_path: Path
) -> None:
    bare, sha = project_repo
    outside = tmp_path / "outside"
    outside.mkdir()
    proc = run_gitml("run", str(bare), "--rev", sha, "-e", "evaluate", cwd=outside, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert f"recorded in {outside / 'gitml-runs'}" in proc.stderr
    assert any((outside / "gitml-runs" / ".gitml" / "runs").iterdir())


def test_the_project_in_this_repository(consumer: Path) -> None:
    (consumer / "gitml.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "here",
                "environment": "local",
                "entry_points": {
                    "main": {
                        "parameters": {"n": {"type": "int", "default": 2}},
                        "command": ["python", "run.py", "{n}"],
                    }
                },
            }
        )
    )
    (consumer / "run.py").write_text(
        "import json, sys\njson.dump({'n': int(sys.argv[1])}, open('metrics.json', 'w'))\n"
    )
    proc = run_gitml("run", "-P", "n=7", cwd=consumer)
    assert proc.returncode == 0, proc.stderr
    record = only_run(consumer)
    assert record["source"]["project"]["url"] is None
    assert record["source"]["project"]["file"] == "gitml.yaml"
    proc = run_gitml("run", "-P", "n=seven", cwd=consumer)
    assert proc.returncode == 2 and "n" in proc.stderr
    assert json.loads((consumer / "metrics.json").read_text()) == {"n": 7}
    assert os.environ.get("GITML_CACHE_DIR")


def test_no_project_file_says_how_to_run_a_command(consumer: Path) -> None:
    proc = run_gitml("run", cwd=consumer)
    assert proc.returncode != 0
    assert proc.stderr.startswith("Error: ")
    assert "gitml run -- " in proc.stderr
    assert subprocess.run(["git", "status", "--short"], cwd=consumer, capture_output=True).returncode == 0


def test_asynchronous_run_returns_a_handle(project_repo: tuple[Path, str], consumer: Path) -> None:
    bare, sha = project_repo
    handle = gitml.projects.run(str(bare), version=sha, entry_point="evaluate", synchronous=False)
    run_id = handle.run_id  # waits until the run exists
    assert (consumer / ".gitml" / "runs" / run_id).is_dir()
    assert handle.wait() is True
    assert handle.status == "FINISHED" and handle.exit_code == 0
