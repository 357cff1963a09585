"""The fluent tracking API against real repositories: what lands on disk, and how runs end."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import gitml
from gitml.tracking import fluent
from tests.conftest import git, run_python, wait_for


def run_dir(repo: Path, run_id: str) -> Path:
    return repo / ".gitml" / "runs" / run_id


def read_run(repo: Path, run_id: str) -> dict:
    return yaml.safe_load((run_dir(repo, run_id) / "run.yaml").read_text())


def test_start_run_writes_the_run_folder(repo: Path) -> None:
    with gitml.start_run(name="baseline", experiment="exp1", tags={"team": "ml"}) as run:
        gitml.log_param("lr", 0.01)
        gitml.log_params({"optimizer": "adam", "layers": 3, "dropout": None, "amp": True})
        for step in range(3):
            gitml.log_metric("loss", 1.0 / (step + 1), step=step)
        gitml.log_metrics({"acc": 0.9, "f1": 0.8}, step=2)
        gitml.set_tag("stage", "dev")
        assert gitml.active_run() is run
    assert gitml.active_run() is None
    folder = run_dir(repo, run.run_id)
    record = read_run(repo, run.run_id)
    assert record["status"] == "FINISHED"
    assert record["name"] == "baseline" and record["experiment"] == "exp1"
    assert record["tags"] == {"team": "ml", "stage": "dev"}
    assert record["source"]["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert record["source"]["branch"] == "main" and record["source"]["dirty"] is False
    assert record["start_time"].endswith("Z") and record["end_time"].endswith("Z")
    assert record["user"] and record["host"] and record["pid"] == os.getpid()
    params = yaml.safe_load((folder / "params.yaml").read_text())
    assert params == {"lr": 0.01, "optimizer": "adam", "layers": 3, "dropout": None, "amp": True}
    rows = (folder / "metrics.csv").read_text().splitlines()
    assert rows[0] == "key,value,step,timestamp"
    assert [r.split(",")[:3] for r in rows[1:]] == [
        ["loss", "1.0", "0"],
        ["loss", "0.5", "1"],
        ["loss", "0.3333333333333333", "2"],
        ["acc", "0.9", "2"],
        ["f1", "0.8", "2"],
    ]
    assert (repo / ".gitml" / "config.yaml").exists()  # initialised on first use


def test_get_run_and_metric_history(repo: Path) -> None:
    fluent.clock = lambda: 1_700_000_000_000
    with gitml.start_run(name="r") as run:
        gitml.log_param("lr", 0.1)
        gitml.log_metric("loss", 3.0, step=0)
        gitml.log_metric("loss", 1.0, step=5)
        gitml.log_metric("loss", 2.0, step=2, timestamp=1_700_000_000_999)
    got = gitml.get_run(run.run_id)
    assert got.info.run_id == run.run_id and got.status == "FINISHED"
    assert got.data.params == {"lr": 0.1}
    assert got.data.metrics == {"loss": 1.0}  # the highest step wins, not the last logged
    assert got.info.start_time == 1_700_000_000_000
    history = gitml.get_metric_history(run.run_id, "loss")
    assert [(m.value, m.step, m.timestamp) for m in history] == [
        (3.0, 0, 1_700_000_000_000),
        (1.0, 5, 1_700_000_000_000),
        (2.0, 2, 1_700_000_000_999),
    ]
    assert gitml.get_run(run.run_id[:10]).run_id == run.run_id
    assert gitml.get_run("r").run_id == run.run_id
    with pytest.raises(gitml.RunNotFoundError):
        gitml.get_run("zzzzzzzz")


def test_nan_and_inf_are_kept_strings_refused(repo: Path) -> None:
    with gitml.start_run() as run:
        gitml.log_metric("a", float("nan"))
        gitml.log_metric("b", float("inf"))
        gitml.log_metric("c", -math.inf)
        gitml.log_metric("d", 7)  # ints are numbers too
        for bad in ("0.5", b"1", None, True):
            with pytest.raises(gitml.InvalidValueError):
                gitml.log_metric("e", bad)  # type: ignore[arg-type]
    metrics = gitml.get_run(run.run_id).data.metrics
    assert math.isnan(metrics["a"]) and metrics["b"] == math.inf and metrics["c"] == -math.inf
    assert metrics["d"] == 7.0 and "e" not in metrics


@pytest.mark.parametrize("key", ["a,b", "a\nb", "../x", "a/../b", "", " x", "x/", 'a"b', "a\x00"])
def test_bad_keys_are_refused_and_nothing_written(repo: Path, key: str) -> None:
    with gitml.start_run() as run:
        with pytest.raises(gitml.InvalidNameError):
            gitml.log_metric(key, 1.0)
        with pytest.raises(gitml.InvalidNameError):
            gitml.log_param(key, 1)
        with pytest.raises(gitml.InvalidNameError):
            gitml.set_tag(key, "v")
    folder = run_dir(repo, run.run_id)
    assert (folder / "metrics.csv").read_text() == "key,value,step,timestamp\n"
    assert (folder / "params.yaml").read_text() == ""


def test_relogging_a_param(repo: Path) -> None:
    with gitml.start_run() as run:
        gitml.log_param("lr", 0.1)
        gitml.log_param("lr", 0.1)  # same value: fine
        gitml.log_param("nan", float("nan"))
        gitml.log_param("nan", float("nan"))
        with pytest.raises(gitml.ParamConflictError) as info:
            gitml.log_param("lr", 0.2)
        assert "0.1" in info.value.message and info.value.hint
        gitml.log_param("flag", True)
        with pytest.raises(gitml.ParamConflictError):
            gitml.log_param("flag", 1)
    assert gitml.get_run(run.run_id).data.params["lr"] == 0.1


def test_exception_marks_failed_and_keeps_data(repo: Path) -> None:
    with pytest.raises(ZeroDivisionError), gitml.start_run() as run:
        gitml.log_metric("loss", 0.5)
        1 / 0  # noqa: B018
    assert read_run(repo, run.run_id)["status"] == "FAILED"
    assert gitml.get_run(run.run_id).data.metrics == {"loss": 0.5}


def test_keyboard_interrupt_marks_killed(repo: Path) -> None:
    with pytest.raises(KeyboardInterrupt), gitml.start_run() as run:
        raise KeyboardInterrupt
    assert read_run(repo, run.run_id)["status"] == "KILLED"


@pytest.mark.parametrize(("code", "status"), [(0, "FINISHED"), (None, "FINISHED"), (1, "FAILED")])
def test_sys_exit_inside_run(repo: Path, code: int | None, status: str) -> None:
    with pytest.raises(SystemExit), gitml.start_run() as run:
        sys.exit(code)
    assert read_run(repo, run.run_id)["status"] == status


def test_nested_runs_and_active_run_errors(repo: Path) -> None:
    with gitml.start_run(name="parent") as parent:
        with pytest.raises(gitml.UsageError):
            gitml.start_run()
        with gitml.start_run(name="child", nested=True) as child:
            gitml.log_metric("x", 1.0)
        assert gitml.active_run() is parent
    assert read_run(repo, child.run_id)["parent"] == parent.run_id
    assert gitml.get_run(child.run_id).data.metrics == {"x": 1.0}
    assert gitml.get_run(parent.run_id).data.metrics == {}
    with pytest.raises(gitml.NoActiveRunError):
        parent.log_metric("late", 1.0)


def test_log_without_a_run_starts_one_and_end_run(repo: Path) -> None:
    gitml.log_metric("auto", 1.0)
    run = gitml.active_run()
    assert run is not None
    gitml.end_run()
    assert gitml.active_run() is None
    assert read_run(repo, run.run_id)["status"] == "FINISHED"
    with pytest.raises(gitml.UsageError):
        gitml.start_run().end(status="DONE")


def test_set_experiment_and_resume(repo: Path) -> None:
    gitml.set_experiment("sweeps")
    with gitml.start_run() as run:
        pass
    assert read_run(repo, run.run_id)["experiment"] == "sweeps"
    with pytest.raises(gitml.InvalidNameError):
        gitml.set_experiment("  ")
    with gitml.start_run(run_id=run.run_id) as again:
        gitml.log_metric("more", 2.0)
    assert again.run_id == run.run_id
    assert read_run(repo, run.run_id)["status"] == "FINISHED"
    assert gitml.get_run(run.run_id).data.metrics == {"more": 2.0}


def test_dirty_tree_is_recorded_with_its_diff(repo: Path) -> None:
    (repo / "train.py").write_text("print('edited')\n")
    with gitml.start_run() as run:
        pass
    record = read_run(repo, run.run_id)
    assert record["source"]["dirty"] is True
    diff = (run_dir(repo, run.run_id) / "source.diff").read_bytes()
    assert b"+print('edited')" in diff
    import hashlib

    assert record["source"]["diff_sha256"] == hashlib.sha256(diff).hexdigest()


def test_set_tracking_uri(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    gitml.set_tracking_uri(other.as_uri())
    with gitml.start_run() as run:
        pass
    assert run_dir(other, run.run_id).is_dir()
    assert gitml.get_tracking_uri() == other.resolve().as_uri()
    with pytest.raises(gitml.UsageError):
        gitml.set_tracking_uri("http://tracking-server:5000")
    with pytest.raises(gitml.RepoNotFoundError):
        gitml.set_tracking_uri(tmp_path / "not-a-repo")


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(gitml.RepoNotFoundError) as info:
        gitml.start_run()
    assert "git init" in (info.value.hint or "")


def test_search_runs_dataframe(repo: Path) -> None:
    for lr, acc in ((0.1, 0.7), (0.01, 0.95), (0.001, 0.9)):
        with gitml.start_run(name=f"lr{lr}", tags={"kind": "sweep"}):
            gitml.log_param("lr", lr)
            gitml.log_metric("acc", acc)
    df = gitml.search_runs("metrics.acc > 0.8", order_by=["metrics.acc DESC"])
    assert list(df["run_name"]) == ["lr0.01", "lr0.001"]
    for col in ("run_id", "status", "start_time", "end_time", "params.lr", "metrics.acc", "tags.kind"):
        assert col in df.columns
    assert str(df["start_time"].dtype).startswith("datetime64")
    assert list(gitml.search_runs(max_results=1)["run_name"]) == ["lr0.001"]  # newest first
    assert len(gitml.search_runs("params.lr = 0.01 or params.lr = '0.1'")) == 2
    with pytest.raises(gitml.FilterSyntaxError) as info:
        gitml.search_runs("metrics.acc >")
    assert info.value.position == len("metrics.acc >")


# -- crashes and signals, in real subprocesses ---------------------------------------------------

SCRIPT_PREFIX = "import gitml, os, sys, time, signal\n"


def _single_run(repo: Path) -> dict:
    runs = list((repo / ".gitml" / "runs").iterdir())
    assert len(runs) == 1, runs
    return read_run(repo, runs[0].name)


def test_uncaught_exception_without_with_marks_failed(repo: Path) -> None:
    proc = run_python(
        SCRIPT_PREFIX + "gitml.start_run()\ngitml.log_metric('m', 1)\nraise ValueError('boom')", cwd=repo
    )
    assert proc.returncode == 1 and "ValueError: boom" in proc.stderr
    assert _single_run(repo)["status"] == "FAILED"


def test_script_end_without_end_run_marks_finished(repo: Path) -> None:
    proc = run_python(SCRIPT_PREFIX + "gitml.start_run()\ngitml.log_metric('m', 1)", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert _single_run(repo)["status"] == "FINISHED"


def _wait_for_metric(repo: Path) -> None:
    def logged() -> bool:
        return any(c.read_text().count("\n") >= 2 for c in (repo / ".gitml" / "runs").glob("*/metrics.csv"))

    wait_for(logged, what="the child's first metric")


def test_sigterm_marks_killed(repo: Path) -> None:
    code = SCRIPT_PREFIX + "with gitml.start_run():\n    gitml.log_metric('m', 1)\n    time.sleep(60)\n"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=repo)
    _wait_for_metric(repo)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) != 0
    assert _single_run(repo)["status"] == "KILLED"


def test_sigkill_is_shown_stale_never_running_or_finished(repo: Path) -> None:
    code = SCRIPT_PREFIX + "with gitml.start_run():\n    gitml.log_metric('m', 1)\n    time.sleep(60)\n"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=repo)
    _wait_for_metric(repo)
    run_id = next((repo / ".gitml" / "runs").iterdir()).name
    assert gitml.get_run(run_id).status == "RUNNING"  # alive: shown as running
    proc.kill()
    proc.wait(timeout=30)
    assert read_run(repo, run_id)["status"] == "RUNNING"  # the record could not be updated...
    run = gitml.get_run(run_id)
    assert run.status == "STALE"  # ...but every reader sees the process is gone
    assert run.data.metrics == {"m": 1.0}  # and what it logged before dying is there
    assert list(gitml.search_runs("status = 'STALE'")["run_id"]) == [run_id]


def test_child_process_logs_into_the_same_run(repo: Path) -> None:
    with gitml.start_run() as run:
        gitml.log_metric("parent", 1.0)
        env = {**os.environ, "GITML_RUN_ID": run.run_id, "GITML_REPO": str(repo)}
        proc = run_python(
            SCRIPT_PREFIX + "gitml.log_metric('child', 2.0)\ngitml.log_param('p', 1)", cwd=repo, env=env
        )
        assert proc.returncode == 0, proc.stderr
        assert read_run(repo, run.run_id)["status"] == "RUNNING"  # the child does not end it
    got = gitml.get_run(run.run_id)
    assert got.data.metrics == {"parent": 1.0, "child": 2.0}
    assert got.data.params == {"p": 1}
    assert len(list((repo / ".gitml" / "runs").iterdir())) == 1


# -- many processes at once -----------------------------------------------------------------------

SWEEP_WORKER = """
import sys, gitml
worker = int(sys.argv[1])
for r in range(5):
    with gitml.start_run(name=f"w{worker}-r{r}", experiment="sweep"):
        gitml.log_params({"worker": worker, "r": r})
        for step in range(200):
            gitml.log_metric("loss", 1.0 / (step + 1), step=step)
"""


def test_sixteen_parallel_workers_lose_nothing(repo: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", SWEEP_WORKER, str(w)], cwd=repo, stderr=subprocess.PIPE)
        for w in range(16)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    df = gitml.search_runs(experiment="sweep")
    assert len(df) == 80 and df["run_id"].is_unique
    assert set(df["run_name"]) == {f"w{w}-r{r}" for w in range(16) for r in range(5)}
    assert set(df["status"]) == {"FINISHED"}
    for run_id in df["run_id"]:
        assert len(gitml.get_metric_history(run_id, "loss")) == 200


APPEND_WORKER = """
import sys, gitml
run = gitml.start_run()  # attaches to GITML_RUN_ID
for step in range(500):
    gitml.log_metric(f"w{sys.argv[1]}", float(step), step=step)
"""


def test_concurrent_appends_to_one_run_never_interleave(repo: Path) -> None:
    with gitml.start_run() as run:
        env = {**os.environ, "GITML_RUN_ID": run.run_id}
        procs = [
            subprocess.Popen([sys.executable, "-c", APPEND_WORKER, str(w)], cwd=repo, env=env)
            for w in range(8)
        ]
        for p in procs:
            assert p.wait(timeout=120) == 0
    lines = (run_dir(repo, run.run_id) / "metrics.csv").read_text().splitlines()
    assert len(lines) == 1 + 8 * 500
    assert all(len(line.split(",")) == 4 for line in lines)
    for w in range(8):
        assert [m.step for m in gitml.get_metric_history(run.run_id, f"w{w}")] == list(range(500))


def test_secrets_in_argv_are_not_committed(repo: Path) -> None:
    code = SCRIPT_PREFIX + "with gitml.start_run():\n    pass\n"
    proc = subprocess.run(
        [sys.executable, "-c", code, "--api-key=SUPERSECRET", "--token", "TOKENVALUE"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    text = next((repo / ".gitml" / "runs").glob("*/run.yaml")).read_text()
    assert "SUPERSECRET" not in text and "TOKENVALUE" not in text
    assert "--api-key=***" in text


def test_fsync_setting_is_honoured(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gitml_dir = repo / ".gitml"
    gitml_dir.mkdir()
    (gitml_dir / "config.yaml").write_text("format: 1\nrun:\n  fsync: true\n")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    with gitml.start_run() as run:
        gitml.log_metric("m", 1.0)
    assert synced, "the final run.yaml was not fsynced"
    assert read_run(repo, run.run_id)["status"] == "FINISHED"
