"""`gitml run [--name] [--experiment] [-P k=v] [--tag k=v] [--commit] -- CMD...`, via the console script.

Every test runs the installed ``gitml`` in a subprocess, in a real git repository, and checks
what a user sees (exit code, stdout/stderr) and what lands on disk (.gitml/runs/<id>/...).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import GITML, git, run_gitml, wait_for

PY = sys.executable
RUN_ID_CHARS = set("0123456789abcdefghjkmnpqrstvwxyz")


# -- helpers --------------------------------------------------------------------------------------


def run_ids(repo: Path) -> list[str]:
    runs = repo / ".gitml" / "runs"
    if not runs.is_dir():
        return []
    return sorted(p.name for p in runs.iterdir() if p.is_dir() and len(p.name) == 26)


def only_run(repo: Path) -> str:
    ids = run_ids(repo)
    assert len(ids) == 1, f"expected exactly one run, found {ids}"
    rid = ids[0]
    assert set(rid) <= RUN_ID_CHARS
    return rid


def run_dir(repo: Path, rid: str) -> Path:
    return repo / ".gitml" / "runs" / rid


def run_yaml(repo: Path, rid: str) -> dict[str, Any]:
    data = yaml.safe_load((run_dir(repo, rid) / "run.yaml").read_text())
    assert isinstance(data, dict)
    return data


def params_yaml(repo: Path, rid: str) -> dict[str, Any]:
    path = run_dir(repo, rid) / "params.yaml"
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def metric_rows(repo: Path, rid: str) -> list[dict[str, str]]:
    text = (run_dir(repo, rid) / "metrics.csv").read_text()
    return list(csv.DictReader(io.StringIO(text)))


def output_log(repo: Path, rid: str) -> str:
    return (run_dir(repo, rid) / "output.log").read_text(errors="replace")


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def hint_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Hint:")]


def porcelain(repo: Path) -> list[str]:
    return git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()


def outside_gitml(lines: list[str]) -> list[str]:
    return [line for line in lines if ".gitml" not in line]


def sentinel_code(name: str) -> str:
    """Python code that proves it started by creating the file ``name``."""
    return f"open({name!r}, 'w').close()"


# -- exit codes and output ------------------------------------------------------------------------


def test_exit_zero_and_output_passes_through_and_is_logged(repo: Path) -> None:
    code = "import sys; print('to-stdout'); print('to-stderr', file=sys.stderr)"
    proc = run_gitml("run", "--", PY, "-c", code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    # The child's stdout is passed through unchanged (gitml's own messages go to stderr),
    # so `gitml run -- cmd | next` pipes exactly what cmd printed.
    assert proc.stdout == "to-stdout\n"
    assert "to-stderr" in proc.stderr
    rid = only_run(repo)
    log = output_log(repo, rid)
    assert "to-stdout" in log
    assert "to-stderr" in log
    info = run_yaml(repo, rid)
    assert info["status"] == "FINISHED"
    assert info["exit_code"] == 0
    assert info["command"] == [PY, "-c", code]
    assert info["end_time"] is not None
    assert rid in proc.stderr  # the closing line names the run


def test_exit_code_3_is_propagated_and_run_failed(repo: Path) -> None:
    code = "import sys; print('partial output'); sys.exit(3)"
    proc = run_gitml("run", "--", PY, "-c", code, cwd=repo)
    assert proc.returncode == 3, proc.stderr
    no_traceback(proc)
    rid = only_run(repo)
    info = run_yaml(repo, rid)
    assert info["status"] == "FAILED"
    assert info["exit_code"] == 3
    assert "partial output" in output_log(repo, rid)


def test_binary_output_without_newline_passes_through_byte_exact(repo: Path) -> None:
    payload = b"\x00\xff\xfebinary\r\nno newline at end"
    code = f"import sys; sys.stdout.buffer.write({payload!r}); sys.stdout.flush()"
    proc = subprocess.run(
        [GITML, "run", "--", PY, "-c", code], cwd=repo, capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == payload
    rid = only_run(repo)
    assert (run_dir(repo, rid) / "output.log").read_bytes() == payload


def test_output_log_keeps_head_and_tail_within_the_limit(repo: Path) -> None:
    assert run_gitml("init", cwd=repo).returncode == 0
    (repo / ".gitml" / "config.local.yaml").write_text("run:\n  log_limit: 1000\n")
    code = "print('HEAD-MARK' + 'x' * 20000 + 'TAIL-MARK')"
    proc = run_gitml("run", "--", PY, "-c", code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "HEAD-MARK" + "x" * 20000 + "TAIL-MARK\n"  # the terminal gets everything
    rid = only_run(repo)
    log = output_log(repo, rid)
    assert log.startswith("HEAD-MARK")
    assert log.rstrip().endswith("TAIL-MARK")
    assert "not kept" in log
    assert len(log) < 1200


def test_uncaught_exception_in_child_fails_the_run(repo: Path) -> None:
    proc = run_gitml("run", "--", PY, "-c", "raise RuntimeError('boom')", cwd=repo)
    assert proc.returncode == 1
    rid = only_run(repo)
    assert run_yaml(repo, rid)["status"] == "FAILED"
    assert "RuntimeError: boom" in output_log(repo, rid)  # the child's own traceback is kept


def test_child_killed_by_sigkill_is_killed_never_finished(repo: Path) -> None:
    """An OOM-killed command (SIGKILL) ends KILLED with 128+9, as a shell reports it."""
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    proc = run_gitml("run", "--", PY, "-c", code, cwd=repo)
    assert proc.returncode == 137, proc.stderr
    info = run_yaml(repo, only_run(repo))
    assert info["status"] == "KILLED"
    assert info["exit_code"] == 137


def test_name_experiment_and_tags_are_recorded(repo: Path) -> None:
    proc = run_gitml(
        "run",
        "--name",
        "baseline",
        "--experiment",
        "sweep-1",
        "--tag",
        "team=vision",
        "--tag",
        "note=a=b",
        "--",
        PY,
        "-c",
        "pass",
        cwd=repo,
    )
    assert proc.returncode == 0, proc.stderr
    info = run_yaml(repo, only_run(repo))
    assert info["name"] == "baseline"
    assert info["experiment"] == "sweep-1"
    assert info["tags"] == {"team": "vision", "note": "a=b"}


def test_options_after_the_command_belong_to_the_command(repo: Path) -> None:
    """Without `--`, gitml must not steal the command's own options (--name, -P, --help)."""
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    proc = run_gitml("run", PY, "-c", code, "--name", "x", "-P", "a=1", "--help", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["--name", "x", "-P", "a=1", "--help"]
    rid = only_run(repo)
    assert run_yaml(repo, rid)["name"] != "x"
    assert params_yaml(repo, rid) == {}


# -- params ---------------------------------------------------------------------------------------


def test_P_params_recorded_with_types(repo: Path) -> None:
    proc = run_gitml(
        "run", "-P", "lr=0.1", "-P", "name=adam", "-P", "epochs=3", "--", PY, "-c", "pass", cwd=repo
    )
    assert proc.returncode == 0, proc.stderr
    params = params_yaml(repo, only_run(repo))
    assert params == {"lr": 0.1, "name": "adam", "epochs": 3}
    assert type(params["lr"]) is float
    assert type(params["name"]) is str
    assert type(params["epochs"]) is int


def test_params_yaml_in_cwd_is_recorded_flattened(repo: Path) -> None:
    (repo / "params.yaml").write_text("train:\n  lr: 0.2\n  optimizer: sgd\nseed: 7\n")
    proc = run_gitml("run", "-P", "batch=32", "--", PY, "-c", "pass", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    params = params_yaml(repo, only_run(repo))
    assert params == {"train.lr": 0.2, "train.optimizer": "sgd", "seed": 7, "batch": 32}


def test_P_agreeing_with_params_yaml_is_fine(repo: Path) -> None:
    (repo / "params.yaml").write_text("train:\n  lr: 0.2\n")
    proc = run_gitml("run", "-P", "train.lr=0.2", "--", PY, "-c", "pass", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert params_yaml(repo, only_run(repo)) == {"train.lr": 0.2}


def test_P_conflicting_with_params_yaml_is_exit_2_and_starts_nothing(repo: Path) -> None:
    (repo / "params.yaml").write_text("train:\n  lr: 0.2\n")
    proc = run_gitml("run", "-P", "train.lr=0.3", "--", PY, "-c", sentinel_code("STARTED"), cwd=repo)
    assert proc.returncode == 2, proc.stderr
    no_traceback(proc)
    errors = error_lines(proc.stderr)
    assert len(errors) == 1
    assert "train.lr" in errors[0]
    assert not (repo / "STARTED").exists(), "the command ran although its params were refused"


@pytest.mark.parametrize(
    "bad",
    [
        "noequals",
        "a,b=1",
        "=1",
        "../x=1",
        "a\nb=1",
        "$(touch S)=1",
        "key'quote=1",
    ],
)
def test_bad_P_is_exit_2_with_one_error_line(repo: Path, tmp_path: Path, bad: str) -> None:
    proc = run_gitml("run", "-P", bad, "--", PY, "-c", sentinel_code("STARTED"), cwd=repo)
    assert proc.returncode == 2, (bad, proc.stderr)
    no_traceback(proc)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(error_lines(proc.stderr)) == 1, proc.stderr
    # One `Error:` line, optionally followed by a `Hint:` line, and nothing else.
    assert all(line.startswith(("Error:", "Hint:")) for line in lines), proc.stderr
    assert not (repo / "STARTED").exists()
    assert run_ids(repo) == [], "a run was recorded for a refused command line"
    assert not list(tmp_path.rglob("S"))


@pytest.mark.parametrize(
    "args",
    [
        ["--tag", "noequals"],
        ["--tag", "a,b=1"],
        ["--tag", "x\ny=1"],
        ["--experiment", ""],
        ["--experiment", " padded "],
        ["--experiment", "a\nb"],
    ],
)
def test_bad_tag_or_experiment_is_exit_2(repo: Path, args: list[str]) -> None:
    proc = run_gitml("run", *args, "--", PY, "-c", sentinel_code("STARTED"), cwd=repo)
    assert proc.returncode == 2, (args, proc.stderr)
    no_traceback(proc)
    assert len(error_lines(proc.stderr)) == 1, proc.stderr
    assert not (repo / "STARTED").exists()
    assert run_ids(repo) == []


@pytest.mark.parametrize(
    ("config", "needle"),
    [(": : :\n", "config.yaml"), ("format: 99\n", "newer")],
)
def test_bad_config_is_exit_3_and_starts_nothing(repo: Path, config: str, needle: str) -> None:
    assert run_gitml("init", cwd=repo).returncode == 0
    (repo / ".gitml" / "config.yaml").write_text(config)
    proc = run_gitml("run", "--", PY, "-c", sentinel_code("STARTED"), cwd=repo)
    assert proc.returncode == 3, proc.stderr
    no_traceback(proc)
    errors = error_lines(proc.stderr)
    assert len(errors) == 1 and needle in errors[0], proc.stderr
    assert not (repo / "STARTED").exists()
    assert run_ids(repo) == []


# -- metrics and the child's own logging ----------------------------------------------------------


def test_metrics_json_written_by_command_is_read(repo: Path) -> None:
    code = "import json; json.dump({'acc': 0.91, 'eval': {'loss': 0.25}}, open('metrics.json', 'w'))"
    proc = run_gitml("run", "--", PY, "-c", code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    rid = only_run(repo)
    values = {row["key"]: float(row["value"]) for row in metric_rows(repo, rid)}
    assert values == {"acc": 0.91, "eval.loss": 0.25}
    shown = run_gitml("runs", "show", rid, "--json", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["metrics"] == {"acc": 0.91, "eval.loss": 0.25}


def test_stale_metrics_json_from_an_earlier_run_is_not_read(repo: Path) -> None:
    (repo / "metrics.json").write_text('{"acc": 0.5}')
    old = time.time() - 3600
    os.utime(repo / "metrics.json", (old, old))
    proc = run_gitml("run", "--", PY, "-c", "pass", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert metric_rows(repo, only_run(repo)) == []


def test_unreadable_metrics_file_is_a_warning_not_a_failure(repo: Path) -> None:
    code = "open('metrics.json', 'w').write('{not json')"
    proc = run_gitml("run", "--", PY, "-c", code, cwd=repo)
    assert proc.returncode == 0, proc.stderr  # the command's exit code, not gitml's opinion
    no_traceback(proc)
    assert "metrics.json" in proc.stderr
    rid = only_run(repo)
    assert run_yaml(repo, rid)["status"] == "FINISHED"
    assert metric_rows(repo, rid) == []


def test_metrics_yaml_with_python_tag_is_not_constructed(repo: Path, tmp_path: Path) -> None:
    code = "open('metrics.yaml', 'w').write(\"acc: 0.5\\nx: !!python/object/apply:os.system ['touch S']\\n\")"
    proc = run_gitml("run", "--", PY, "-c", code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert "metrics.yaml" in proc.stderr  # reported as not read
    assert not list(tmp_path.rglob("S"))


def test_nan_and_inf_metrics_from_json_are_kept(repo: Path) -> None:
    code = "open('metrics.json', 'w').write('{\"loss\": NaN, \"grad\": Infinity, \"acc\": 1}')"
    proc = run_gitml("run", "--", PY, "-c", code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    rid = only_run(repo)
    shown = run_gitml("runs", "show", rid, "--json", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["metrics"] == {"loss": "nan", "grad": "inf", "acc": 1.0}


def test_metrics_json_is_read_from_the_command_directory(repo: Path) -> None:
    (repo / "sub").mkdir()
    code = "open('metrics.json', 'w').write('{\"acc\": 0.75}')"
    proc = run_gitml("run", "--", PY, "-c", code, cwd=repo / "sub")
    assert proc.returncode == 0, proc.stderr
    rid = only_run(repo)
    assert [(r["key"], float(r["value"])) for r in metric_rows(repo, rid)] == [("acc", 0.75)]


def test_child_logging_goes_into_the_same_run(repo: Path) -> None:
    code = (
        "import os, gitml\n"
        "print(os.environ['GITML_RUN_ID'])\n"
        "for step in range(3):\n"
        "    gitml.log_metric('loss', 1.0 / (step + 1), step=step)\n"
        "gitml.log_param('depth', 4)\n"
        "gitml.set_tag('from', 'child')\n"
    )
    proc = run_gitml("run", "-P", "lr=0.1", "--", PY, "-c", code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    rid = only_run(repo)  # one run, not a second one started by the child
    assert proc.stdout.splitlines()[0] == rid  # the child saw GITML_RUN_ID
    rows = metric_rows(repo, rid)
    assert [(r["key"], float(r["value"]), int(r["step"])) for r in rows] == [
        ("loss", 1.0, 0),
        ("loss", 0.5, 1),
        ("loss", 1.0 / 3, 2),
    ]
    assert params_yaml(repo, rid) == {"lr": 0.1, "depth": 4}
    info = run_yaml(repo, rid)
    assert info["status"] == "FINISHED"
    assert info["tags"].get("from") == "child"


def test_child_sees_gitml_run_id_and_repo(repo: Path) -> None:
    code = "import os; print(os.environ.get('GITML_RUN_ID')); print(os.environ.get('GITML_REPO'))"
    (repo / "sub").mkdir()
    proc = run_gitml("run", "--", PY, "-c", code, cwd=repo / "sub")
    assert proc.returncode == 0, proc.stderr
    rid = only_run(repo)
    out = proc.stdout.splitlines()
    assert out[0] == rid
    assert Path(out[1]).resolve() == repo.resolve()


# -- a command that cannot start ------------------------------------------------------------------


def test_command_not_found_is_127_with_clear_error_and_failed_run(repo: Path) -> None:
    proc = run_gitml("run", "--", "nosuchcmd", "--arg", cwd=repo)
    assert proc.returncode == 127
    no_traceback(proc)
    assert "Error: command not found: nosuchcmd" in proc.stderr
    rid = only_run(repo)
    info = run_yaml(repo, rid)
    assert info["status"] == "FAILED"
    assert info["command"] == ["nosuchcmd", "--arg"]


def test_no_command_and_no_project_says_how_to_run_a_command(repo: Path) -> None:
    for args in (["run"], ["run", "--"]):  # no command: the repository's project, and there is none
        proc = run_gitml(*args, cwd=repo)
        assert proc.returncode == 4
        no_traceback(proc)
        assert "Hint: to run a command instead: gitml run -- python train.py" in proc.stderr
        assert run_ids(repo) == []


# -- injection ------------------------------------------------------------------------------------

PAYLOADS = [
    "; touch S",
    "$(touch S)",
    "`touch S`",
    "a\nb; touch S",
    "it's \"quoted\" 'x'",
    "--flag",
    "-rf",
    "| touch S",
    "&& touch S #",
    "${IFS}touch${IFS}S",
    "{{7*7}}",
]


def test_param_values_and_argv_are_passed_literally(repo: Path, tmp_path: Path) -> None:
    echo = "import json, sys; print(json.dumps(sys.argv[1:]))"
    p_args: list[str] = []
    for i, value in enumerate(PAYLOADS):
        p_args += ["-P", f"p{i}={value}"]
    proc = run_gitml("run", *p_args, "--", PY, "-c", echo, *PAYLOADS, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == PAYLOADS
    rid = only_run(repo)
    assert params_yaml(repo, rid) == {f"p{i}": v for i, v in enumerate(PAYLOADS)}
    assert run_yaml(repo, rid)["command"] == [PY, "-c", echo, *PAYLOADS]
    shown = run_gitml("runs", "show", rid, "--json", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["params"] == {f"p{i}": v for i, v in enumerate(PAYLOADS)}
    # Also the human-readable show must not execute anything.
    assert run_gitml("runs", "show", rid, cwd=repo).returncode == 0
    assert not list(tmp_path.rglob("S")), "a shell metacharacter was interpreted"
    assert not Path("S").exists()


def test_params_yaml_values_are_never_evaluated(repo: Path, tmp_path: Path) -> None:
    (repo / "params.yaml").write_text(
        "tmpl: '{{7*7}}'\nshell: '$(touch S)'\nenv: '${HOME}'\nbackticks: '`touch S`'\n"
    )
    proc = run_gitml("run", "--", PY, "-c", "pass", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert params_yaml(repo, only_run(repo)) == {
        "tmpl": "{{7*7}}",
        "shell": "$(touch S)",
        "env": "${HOME}",
        "backticks": "`touch S`",
    }
    assert not list(tmp_path.rglob("S"))


def test_params_yaml_with_python_object_tag_fails_safely(repo: Path, tmp_path: Path) -> None:
    (repo / "params.yaml").write_text("x: !!python/object/apply:os.system ['touch S']\n", encoding="utf-8")
    proc = run_gitml("run", "--", PY, "-c", sentinel_code("STARTED"), cwd=repo)
    assert proc.returncode != 0
    no_traceback(proc)
    assert error_lines(proc.stderr)
    assert not list(tmp_path.rglob("S"))


# -- --commit -------------------------------------------------------------------------------------


def test_commit_commits_only_the_run_and_leaves_other_changes_alone(repo: Path) -> None:
    head_before = git(repo, "rev-parse", "HEAD").strip()
    (repo / "train.py").write_text("print('training, modified')\n")  # unstaged modification
    (repo / "new.txt").write_text("staged new file\n")
    git(repo, "add", "new.txt")  # staged new file
    status_before = porcelain(repo)
    cached_before = git(repo, "diff", "--cached")
    unstaged_before = git(repo, "diff")
    assert " M train.py" in status_before and "A  new.txt" in status_before

    proc = run_gitml("run", "--commit", "--", PY, "-c", "print('hi')", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    rid = only_run(repo)
    folder = f".gitml/runs/{rid}/"

    # The new commit sits on top of the old HEAD and holds only .gitml/ paths.
    assert git(repo, "rev-parse", "HEAD~1").strip() == head_before
    committed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert committed, "nothing committed"
    allowed_extra = {".gitml/config.yaml", ".gitml/.gitignore"}
    stray = [p for p in committed if not p.startswith(folder) and p not in allowed_extra]
    assert stray == [], f"--commit committed files outside the run folder: {stray}"
    on_disk = sorted(p.relative_to(repo).as_posix() for p in run_dir(repo, rid).rglob("*") if p.is_file())
    assert sorted(p for p in committed if p.startswith(folder)) == on_disk
    stat = git(repo, "show", "--stat=200", "--format=", "HEAD")
    assert "train.py" not in stat and "new.txt" not in stat

    # The committed run record is the final one, not a RUNNING snapshot.
    committed_info = yaml.safe_load(git(repo, "show", f"HEAD:{folder}run.yaml"))
    assert committed_info["status"] == "FINISHED"
    assert git(repo, "show", "HEAD:train.py") == "print('training')\n"
    missing = subprocess.run(
        ["git", "cat-file", "-e", "HEAD:new.txt"], cwd=repo, capture_output=True, check=False
    )
    assert missing.returncode != 0, "the staged new file was committed"

    # Everything else is exactly as it was.
    status_after = porcelain(repo)
    assert outside_gitml(status_after) == outside_gitml(status_before)
    assert not [line for line in status_after if rid in line], status_after
    assert git(repo, "diff", "--cached") == cached_before
    assert git(repo, "diff", "--", ".", ":!.gitml") == unstaged_before
    assert (repo / "train.py").read_text() == "print('training, modified')\n"
    assert (repo / "new.txt").read_text() == "staged new file\n"

    fsck = subprocess.run(
        ["git", "fsck", "--full", "--strict"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    for word in ("error", "warning", "missing", "broken", "bad"):
        assert word not in (fsck.stdout + fsck.stderr).lower(), fsck.stdout + fsck.stderr

    assert rid in git(repo, "log", "-1", "--format=%B")
    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == "Test User <test@example.com>"
    assert "committed as" in proc.stderr


def _env_without_identity(empty_home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_")) and k not in ("EMAIL", "GIT_CONFIG_GLOBAL")
    }
    env.update(
        {
            "HOME": str(empty_home),
            "XDG_CONFIG_HOME": str(empty_home / ".config"),
            "GIT_CONFIG_NOSYSTEM": "1",
        }
    )
    return env


def test_commit_without_identity_keeps_the_run_and_can_be_committed_later(repo: Path, tmp_path: Path) -> None:
    empty_home = tmp_path / "empty-home"
    empty_home.mkdir()
    env = _env_without_identity(empty_home)
    head_before = git(repo, "rev-parse", "HEAD").strip()

    proc = run_gitml("run", "--commit", "--", PY, "-c", "print('done')", cwd=repo, env=env)
    assert proc.returncode != 0
    no_traceback(proc)
    errors = error_lines(proc.stderr)
    assert errors and "user.email" in errors[0], proc.stderr
    hints = hint_lines(proc.stderr)
    assert hints and "gitml runs commit" in hints[0], proc.stderr
    rid = only_run(repo)
    assert rid in hints[0]
    assert run_yaml(repo, rid)["status"] == "FINISHED"
    assert git(repo, "rev-parse", "HEAD").strip() == head_before

    again = run_gitml("runs", "commit", rid, cwd=repo)  # identity restored (the session HOME)
    assert again.returncode == 0, again.stderr
    assert git(repo, "rev-parse", "HEAD~1").strip() == head_before
    committed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert f".gitml/runs/{rid}/run.yaml" in committed
    assert all(p.startswith(".gitml/") for p in committed), committed
    assert rid in git(repo, "log", "-1", "--format=%B")


def test_commit_of_a_failed_command_keeps_the_commands_exit_code(repo: Path) -> None:
    proc = run_gitml("run", "--commit", "--", PY, "-c", "raise SystemExit(3)", cwd=repo)
    assert proc.returncode == 3, proc.stderr
    rid = only_run(repo)
    committed = yaml.safe_load(git(repo, "show", f"HEAD:.gitml/runs/{rid}/run.yaml"))
    assert committed["status"] == "FAILED"
    assert committed["exit_code"] == 3


def test_commit_in_an_empty_repository(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q")
    (root / "staged.txt").write_text("not for gitml\n")
    git(root, "add", "staged.txt")
    proc = run_gitml("run", "--commit", "--", PY, "-c", "pass", cwd=root)
    assert proc.returncode == 0, proc.stderr
    rid = only_run(root)
    assert git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    committed = git(root, "show", "--name-only", "--format=", "HEAD").split()
    assert f".gitml/runs/{rid}/run.yaml" in committed
    assert all(p.startswith(".gitml/") for p in committed), committed
    assert "A  staged.txt" in porcelain(root)
    source = run_yaml(root, rid)["source"]
    assert source["commit"] is None
    assert source["dirty"] is True  # staged.txt is code that no commit holds
    fsck = subprocess.run(["git", "fsck", "--full", "--strict"], cwd=root, capture_output=True, check=False)
    assert fsck.returncode == 0, fsck.stderr


def test_commit_waits_for_a_held_index_lock(repo: Path) -> None:
    """Another git command holding index.lock: gitml retries, then commits once it is released."""
    assert run_gitml("init", cwd=repo).returncode == 0
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    proc = subprocess.Popen(
        [GITML, "run", "--commit", "--", PY, "-c", "pass"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def run_ended() -> bool:
            ids = run_ids(repo)
            return (
                len(ids) == 1
                and (run_dir(repo, ids[0]) / "run.yaml").exists()
                and (run_yaml(repo, ids[0])["status"] == "FINISHED")
            )

        wait_for(run_ended, what="the run to end and the commit to start")
        assert proc.poll() is None, f"gitml gave up at once on a held index.lock: {proc.stderr.read()}"
        lock.unlink()
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    rid = only_run(repo)
    assert f".gitml/runs/{rid}/run.yaml" in git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert not lock.exists()


# -- source state ---------------------------------------------------------------------------------


def _tree_files(root: Path) -> dict[str, bytes]:
    out = {}
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if rel.split("/")[0] in (".git", ".gitml") or not p.is_file():
            continue
        out[rel] = p.read_bytes()
    return out


def test_dirty_tree_is_recorded_and_diff_rebuilds_the_code(repo: Path, tmp_path: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD").strip()
    (repo / "train.py").write_text("print('training')\nprint('tweaked lr')\n")
    (repo / "helper.py").write_text("def f():\n    return 1\n")  # untracked input
    proc = run_gitml("run", "--", PY, "-c", "pass", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    rid = only_run(repo)
    source = run_yaml(repo, rid)["source"]
    assert source["dirty"] is True
    assert source["commit"] == commit
    diff_path = run_dir(repo, rid) / "source.diff"
    assert diff_path.is_file()
    if "diff_sha256" in source:
        assert source["diff_sha256"] == hashlib.sha256(diff_path.read_bytes()).hexdigest()

    clean = tmp_path / "clean"
    git(tmp_path, "clone", "-q", str(repo), str(clean))
    git(clean, "checkout", "-q", "--detach", commit)
    applied = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", str(diff_path)],
        cwd=clean,
        capture_output=True,
        text=True,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    assert _tree_files(clean) == _tree_files(repo)


def test_clean_tree_is_not_dirty_and_has_no_diff(repo: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD").strip()
    for _ in range(2):  # the first run's own .gitml/ files do not make the second one dirty
        proc = run_gitml("run", "--", PY, "-c", "pass", cwd=repo)
        assert proc.returncode == 0, proc.stderr
    for rid in run_ids(repo):
        source = run_yaml(repo, rid)["source"]
        assert source["dirty"] is False
        assert source["commit"] == commit
        assert source.get("branch") == "main"
        assert not (run_dir(repo, rid) / "source.diff").exists()


# -- signals --------------------------------------------------------------------------------------

SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"


def _start_sleeper(repo: Path, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [GITML, "run", "--", PY, "-c", SLEEPER],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _wait_until_child_ready(repo: Path, proc: subprocess.Popen[str]) -> str:
    def ready() -> bool:
        assert proc.poll() is None, "gitml run exited early"
        ids = run_ids(repo)
        if len(ids) != 1 or not (run_dir(repo, ids[0]) / "output.log").exists():
            return False
        return "ready" in output_log(repo, ids[0])

    wait_for(ready, what="the run folder and the child's first output")
    return only_run(repo)


def test_sigterm_to_gitml_run_kills_the_run(repo: Path) -> None:
    proc = _start_sleeper(repo)
    try:
        rid = _wait_until_child_ready(repo, proc)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    info = run_yaml(repo, rid)
    assert info["status"] == "KILLED"
    assert info["exit_code"] == 143
    listed = run_gitml("runs", "list", "--json", cwd=repo)
    assert json.loads(listed.stdout)[0]["status"] == "KILLED"


def test_ctrl_c_to_the_process_group_kills_the_run(repo: Path) -> None:
    proc = _start_sleeper(repo, start_new_session=True)
    try:
        rid = _wait_until_child_ready(repo, proc)
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    info = run_yaml(repo, rid)
    assert info["status"] == "KILLED"
    assert info["status"] != "FINISHED"


# -- not a repository -----------------------------------------------------------------------------


def test_outside_a_git_repository_is_exit_4_with_hint(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = run_gitml("run", "--", PY, "-c", sentinel_code("STARTED"), cwd=plain)
    assert proc.returncode == 4
    no_traceback(proc)
    assert "Error: not inside a git repository" in proc.stderr
    assert hint_lines(proc.stderr), proc.stderr
    assert not (plain / ".gitml").exists()
    assert not (plain / "STARTED").exists()
