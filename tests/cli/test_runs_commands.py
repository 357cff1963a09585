"""`gitml init` and `gitml runs list|show|search|commit`, plus `--version`/`--help`, via the console script.

Runs are made with the real `gitml run` of small `sys.executable -c ...` scripts, then read back
as a user would: table, JSON and CSV output, exit codes and error messages.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import git, init_repo, run_gitml, strict_json, wait_for

PY = sys.executable
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


# -- helpers --------------------------------------------------------------------------------------


def run_ids(repo: Path) -> list[str]:
    runs = repo / ".gitml" / "runs"
    if not runs.is_dir():
        return []
    return sorted(p.name for p in runs.iterdir() if p.is_dir() and len(p.name) == 26)


def make_run(
    repo: Path,
    *,
    name: str | None = None,
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    extra: list[str] | None = None,
) -> str:
    """A finished run made with `gitml run`; metrics are logged by the child with gitml.log_metric."""
    before = set(run_ids(repo))
    args = ["run"]
    if name is not None:
        args += ["--name", name]
    for key, value in (params or {}).items():
        args += ["-P", f"{key}={value}"]
    args += extra or []
    lines = ["import gitml"]
    for key, value in (metrics or {}).items():
        lines.append(f"gitml.log_metric({key!r}, float({str(value)!r}))")
    proc = run_gitml(*args, "--", PY, "-c", "\n".join(lines), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    new = set(run_ids(repo)) - before
    assert len(new) == 1, new
    return new.pop()


def list_json(repo: Path, *args: str) -> list[dict[str, Any]]:
    proc = run_gitml("runs", "list", "--json", *args, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    data = strict_json(proc.stdout)
    assert isinstance(data, list)
    return data


def search_ids(repo: Path, *args: str) -> list[str]:
    proc = run_gitml("runs", "search", *args, "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return [r["run_id"] for r in strict_json(proc.stdout)]


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


# -- gitml init -----------------------------------------------------------------------------------


def test_init_creates_config_and_gitignore_and_is_idempotent(repo: Path) -> None:
    proc = run_gitml("init", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    config = repo / ".gitml" / "config.yaml"
    ignore = repo / ".gitml" / ".gitignore"
    assert yaml.safe_load(config.read_text())["format"] == 1
    patterns = {line.strip() for line in ignore.read_text().splitlines()}
    assert {"cache/", "tmp/", "config.local.yaml"} <= patterns

    # A user's edit survives a second init, which says it was already done.
    config.write_text(config.read_text() + "# my note\n")
    edited = config.read_bytes()
    again = run_gitml("init", cwd=repo)
    assert again.returncode == 0, again.stderr
    assert "already initialised" in (again.stdout + again.stderr).lower()
    assert config.read_bytes() == edited
    assert {"cache/", "tmp/", "config.local.yaml"} <= {
        line.strip() for line in ignore.read_text().splitlines()
    }


def test_init_from_a_subdirectory_uses_the_repository_root(repo: Path) -> None:
    (repo / "src" / "deep").mkdir(parents=True)
    proc = run_gitml("init", cwd=repo / "src" / "deep")
    assert proc.returncode == 0, proc.stderr
    assert (repo / ".gitml" / "config.yaml").is_file()
    assert not (repo / "src" / "deep" / ".gitml").exists()


def test_init_and_runs_outside_a_repository_exit_4(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for args in (["init"], ["runs", "list"], ["runs", "search", "metrics.acc > 0"]):
        proc = run_gitml(*args, cwd=plain)
        assert proc.returncode == 4, (args, proc.stderr)
        no_traceback(proc)
        assert "Error: not inside a git repository" in proc.stderr
    assert not (plain / ".gitml").exists()


# -- list: table, JSON, CSV -----------------------------------------------------------------------


def test_list_table_json_and_csv(repo: Path) -> None:
    first = make_run(repo, name="alpha", params={"lr": 0.01}, metrics={"acc": 0.9, "loss": float("nan")})
    second = make_run(repo, name="beta", params={"lr": 0.1, "opt": "adam"}, metrics={"acc": 0.8})

    table = run_gitml("runs", "list", cwd=repo)
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[0]
    assert "RUN_ID" in header and "NAME" in header and "STATUS" in header
    for rid, name in ((first, "alpha"), (second, "beta")):
        row = next(line for line in table.stdout.splitlines() if rid in line)
        assert name in row and "FINISHED" in row
    # Newest first.
    assert table.stdout.index(second) < table.stdout.index(first)

    runs = list_json(repo)  # NaN must be written as "nan": strict JSON parsing succeeds
    assert [r["run_id"] for r in runs] == [second, first]
    by_id = {r["run_id"]: r for r in runs}
    assert by_id[first]["status"] == "FINISHED"
    assert by_id[first]["name"] == "alpha"
    assert by_id[first]["params"] == {"lr": 0.01}
    assert by_id[first]["metrics"] == {"acc": 0.9, "loss": "nan"}
    assert by_id[second]["params"] == {"lr": 0.1, "opt": "adam"}
    assert by_id[second]["metrics"] == {"acc": 0.8}

    proc = run_gitml("runs", "list", "--csv", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("run_id,run_name,")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert rows[0] and {"metrics.acc", "metrics.loss", "params.lr", "params.opt"} <= set(rows[0])
    csv_by_id = {r["run_id"]: r for r in rows}
    assert set(csv_by_id) == {first, second}
    assert csv_by_id[first]["run_name"] == "alpha"
    assert float(csv_by_id[first]["metrics.acc"]) == 0.9
    assert csv_by_id[first]["metrics.loss"].lower() == "nan"
    assert csv_by_id[second]["metrics.loss"] == ""
    assert csv_by_id[second]["params.opt"] == "adam"


def test_list_max_results_experiment_and_empty(repo: Path) -> None:
    empty = run_gitml("runs", "list", cwd=repo)
    assert empty.returncode == 0, empty.stderr
    assert strict_json(run_gitml("runs", "list", "--json", cwd=repo).stdout) == []
    a = make_run(repo, extra=["--experiment", "exp-a"])
    b = make_run(repo, extra=["--experiment", "exp-b"])
    assert [r["run_id"] for r in list_json(repo, "-m", "1")] == [b]
    assert [r["run_id"] for r in list_json(repo, "--experiment", "exp-a")] == [a]


def test_csv_cells_with_commas_quotes_and_newlines_round_trip(repo: Path) -> None:
    value = 'a,b "c"\nd'
    rid = make_run(repo, params={"note": value})
    proc = run_gitml("runs", "list", "--csv", cwd=repo)
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["run_id"] for r in rows] == [rid]
    assert rows[0]["params.note"] == value


# -- show -----------------------------------------------------------------------------------------


def _craft_copy(repo: Path, source_id: str, shared: int) -> str:
    """Copy a run folder to a new valid id sharing exactly ``shared`` leading characters."""
    nxt = source_id[shared]
    other = next(c for c in ALPHABET if c != nxt)
    crafted = source_id[:shared] + other + source_id[shared + 1 :]
    runs = repo / ".gitml" / "runs"
    shutil.copytree(runs / source_id, runs / crafted)
    record = runs / crafted / "run.yaml"
    data = yaml.safe_load(record.read_text())
    data["id"] = crafted
    data["name"] = f"copy-of-{data['name']}"
    record.write_text(yaml.safe_dump(data, sort_keys=False))
    return crafted


def _unique_prefix(rid: str, others: list[str]) -> str:
    for n in range(4, 27):
        if not any(o != rid and o.startswith(rid[:n]) for o in others):
            return rid[:n]
    raise AssertionError("no unique prefix")


def test_show_by_prefix_name_unknown_and_ambiguous(repo: Path) -> None:
    a = make_run(repo, name="first-run", params={"lr": 0.01}, metrics={"acc": 0.5})
    b = make_run(repo, name="second-run")
    crafted = _craft_copy(repo, a, shared=8)  # shares a's first 8 characters
    ids = run_ids(repo)

    full = run_gitml("runs", "show", a, cwd=repo)
    assert full.returncode == 0, full.stderr
    assert a in full.stdout and "first-run" in full.stdout and "FINISHED" in full.stdout

    prefix = _unique_prefix(b, ids)
    shown = run_gitml("runs", "show", prefix, "--json", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert strict_json(shown.stdout)["run_id"] == b

    by_name = run_gitml("runs", "show", "first-run", "--json", cwd=repo)
    assert by_name.returncode == 0, by_name.stderr
    data = strict_json(by_name.stdout)
    assert data["run_id"] == a
    assert data["params"] == {"lr": 0.01}
    assert data["metrics"] == {"acc": 0.5}

    for unknown in ("z" * 26, "nosuchrun", "zzzzzz"):
        proc = run_gitml("runs", "show", unknown, cwd=repo)
        assert proc.returncode == 4, (unknown, proc.stderr)
        no_traceback(proc)
        assert proc.stderr.startswith("Error:")

    ambiguous = run_gitml("runs", "show", a[:8], cwd=repo)
    assert ambiguous.returncode == 5, ambiguous.stderr
    no_traceback(ambiguous)
    assert "Error:" in ambiguous.stderr
    assert a in ambiguous.stderr and crafted in ambiguous.stderr


def test_show_ambiguous_name_is_exit_5(repo: Path) -> None:
    make_run(repo, name="twin")
    make_run(repo, name="twin")
    proc = run_gitml("runs", "show", "twin", cwd=repo)
    assert proc.returncode == 5, proc.stderr
    no_traceback(proc)
    assert "Error:" in proc.stderr


# -- search ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def search_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """Four runs, made once for the read-only search tests: name -> id."""
    root = tmp_path_factory.mktemp("search") / "repo"
    init_repo(root)
    ids = {
        "A": make_run(root, name="A", params={"lr": 0.01}, metrics={"acc": 0.9}),
        "B": make_run(root, name="B", params={"lr": 0.1}, metrics={"acc": 0.8}),
        "C": make_run(root, name="C", params={"lr": 0.01}, metrics={"acc": 0.3}),
        "D": make_run(root, name="D", params={"lr": 0.01}, metrics={"acc": 0.7}),
    }
    yield root, ids


def _names(ids: dict[str, str], found: list[str]) -> list[str]:
    back = {v: k for k, v in ids.items()}
    return [back[f] for f in found]


def test_search_and_filter(search_repo: tuple[Path, dict[str, str]]) -> None:
    repo, ids = search_repo
    found = search_ids(repo, "metrics.acc > 0.5 and params.lr = 0.01")
    assert sorted(_names(ids, found)) == ["A", "D"]


def test_search_order_by_and_limit(search_repo: tuple[Path, dict[str, str]]) -> None:
    repo, ids = search_repo
    flt = "metrics.acc > 0.5 and params.lr = 0.01"
    assert _names(ids, search_ids(repo, flt, "--order-by", "metrics.acc DESC")) == ["A", "D"]
    assert _names(ids, search_ids(repo, flt, "--order-by", "metrics.acc ASC")) == ["D", "A"]
    assert _names(ids, search_ids(repo, "", "--order-by", "metrics.acc")) == ["C", "D", "B", "A"]
    assert _names(ids, search_ids(repo, flt, "--order-by", "metrics.acc DESC", "-m", "1")) == ["A"]
    assert _names(ids, search_ids(repo, "", "-m", "0")) == []


def test_search_or_and_parentheses(search_repo: tuple[Path, dict[str, str]]) -> None:
    repo, ids = search_repo
    assert sorted(_names(ids, search_ids(repo, "metrics.acc < 0.5 OR params.lr = 0.1"))) == ["B", "C"]
    grouped = "(metrics.acc > 0.85 or metrics.acc < 0.5) and params.lr = 0.01"
    assert sorted(_names(ids, search_ids(repo, grouped))) == ["A", "C"]
    # AND binds tighter than OR: without parentheses this is acc > 0.85 OR (acc < 0.5 AND lr = 0.1).
    ungrouped = "metrics.acc > 0.85 or metrics.acc < 0.5 and params.lr = 0.1"
    assert sorted(_names(ids, search_ids(repo, ungrouped))) == ["A"]


def test_search_table_shows_the_filtered_columns(search_repo: tuple[Path, dict[str, str]]) -> None:
    repo, ids = search_repo
    proc = run_gitml("runs", "search", "metrics.acc > 0.85", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[0]
    assert "METRICS.ACC" in header
    assert ids["A"] in proc.stdout and ids["B"] not in proc.stdout
    assert "0.9" in proc.stdout


def test_search_syntax_error_is_exit_2_with_caret(search_repo: tuple[Path, dict[str, str]]) -> None:
    repo, _ids = search_repo
    proc = run_gitml("runs", "search", "metrics.acc >", cwd=repo)
    assert proc.returncode == 2, proc.stderr
    no_traceback(proc)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("Error:")
    assert any(line.strip() == "metrics.acc >" for line in lines), proc.stderr
    assert any(re.fullmatch(r" *\^", line) for line in lines), proc.stderr


@pytest.mark.parametrize("how", ["flag", "env"])
def test_traceback_on_request(search_repo: tuple[Path, dict[str, str]], how: str) -> None:
    repo, _ids = search_repo
    if how == "flag":
        proc = run_gitml("--traceback", "runs", "search", "metrics.acc >", cwd=repo)
    else:
        env = {**os.environ, "GITML_TRACEBACK": "1"}
        proc = run_gitml("runs", "search", "metrics.acc >", cwd=repo, env=env)
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "FilterSyntaxError" in proc.stderr


def test_bad_order_by_is_exit_2(search_repo: tuple[Path, dict[str, str]]) -> None:
    repo, _ids = search_repo
    proc = run_gitml("runs", "search", "", "--order-by", "metrics.acc SIDEWAYS", cwd=repo)
    assert proc.returncode == 2, proc.stderr
    no_traceback(proc)
    assert proc.stderr.startswith("Error:")


# -- --rev and runs commit ------------------------------------------------------------------------


def test_rev_reads_committed_runs_only(repo: Path) -> None:
    committed = make_run(repo, name="kept", metrics={"acc": 0.7})
    proc = run_gitml("runs", "commit", committed, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "Committed" in proc.stdout
    assert committed in git(repo, "log", "-1", "--format=%B")
    files = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert all(f.startswith(".gitml/") for f in files), files
    uncommitted = make_run(repo, name="local")

    at_head = list_json(repo, "--rev", "HEAD")
    assert [r["run_id"] for r in at_head] == [committed]
    assert at_head[0]["status"] == "FINISHED"
    assert at_head[0]["metrics"] == {"acc": 0.7}
    assert {r["run_id"] for r in list_json(repo)} == {committed, uncommitted}
    assert [r["run_id"] for r in list_json(repo, "--rev", "main")] == [committed]
    assert list_json(repo, "--rev", "HEAD~1") == []

    shown = run_gitml("runs", "show", "kept", "--rev", "HEAD", "--json", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert strict_json(shown.stdout)["run_id"] == committed
    missing = run_gitml("runs", "show", uncommitted, "--rev", "HEAD", cwd=repo)
    assert missing.returncode == 4, missing.stderr

    for rev in ("nosuchbranch", "--output=x", "0" * 40):
        bad = run_gitml("runs", "list", "--rev", rev, cwd=repo)
        assert bad.returncode == 4, (rev, bad.stderr)
        no_traceback(bad)
        assert "Error:" in bad.stderr


def test_runs_commit_twice_and_unknown(repo: Path) -> None:
    rid = make_run(repo)
    assert run_gitml("runs", "commit", rid, cwd=repo).returncode == 0
    head = git(repo, "rev-parse", "HEAD").strip()
    again = run_gitml("runs", "commit", rid, cwd=repo)
    assert again.returncode == 0, again.stderr
    assert "Nothing to commit" in again.stdout
    assert git(repo, "rev-parse", "HEAD").strip() == head
    unknown = run_gitml("runs", "commit", "z" * 26, cwd=repo)
    assert unknown.returncode == 4
    no_traceback(unknown)
    assert git(repo, "rev-parse", "HEAD").strip() == head


# -- corrupt and stale runs -----------------------------------------------------------------------


def test_corrupt_runs_are_skipped_and_named(repo: Path) -> None:
    good = make_run(repo, name="good", metrics={"acc": 0.5})
    bad_yaml = make_run(repo, name="bad-yaml")
    bad_metrics = make_run(repo, name="bad-metrics", metrics={"acc": 0.1})
    runs = repo / ".gitml" / "runs"
    (runs / bad_yaml / "run.yaml").write_text(": : :\n")
    with (runs / bad_metrics / "metrics.csv").open("a") as f:
        f.write("acc,not-a-number,x,y\n")

    for args in (["runs", "list"], ["runs", "list", "--json"], ["runs", "search", "metrics.acc >= 0"]):
        proc = run_gitml(*args, cwd=repo)
        assert proc.returncode == 0, (args, proc.stderr)
        no_traceback(proc)
        assert good in proc.stdout
        assert bad_yaml not in proc.stdout
        assert f"runs/{bad_yaml}" in proc.stderr, proc.stderr
        assert f"runs/{bad_metrics}" in proc.stderr, proc.stderr
    assert good in [r["run_id"] for r in list_json(repo)]

    shown = run_gitml("runs", "show", bad_yaml, cwd=repo)
    assert shown.returncode != 0
    no_traceback(shown)
    assert shown.stderr.startswith("Error:") and bad_yaml in shown.stderr


def test_killed_process_run_is_stale(repo: Path) -> None:
    code = (
        "import gitml, time\n"
        "run = gitml.start_run(name='doomed')\n"
        "gitml.log_metric('x', 1.0)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([PY, "-c", code], cwd=repo)
    try:

        def started() -> bool:
            assert proc.poll() is None, "the run process exited early"
            ids = run_ids(repo)
            metrics = repo / ".gitml" / "runs" / ids[0] / "metrics.csv" if ids else None
            return metrics is not None and metrics.is_file() and "x," in metrics.read_text()

        wait_for(started, what="the run to log its first metric")
        rid = run_ids(repo)[0]
        live = list_json(repo)
        assert [(r["run_id"], r["status"]) for r in live] == [(rid, "RUNNING")]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    runs = list_json(repo)
    assert [(r["run_id"], r["status"]) for r in runs] == [(rid, "STALE")]
    shown = run_gitml("runs", "show", "doomed", "--json", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert strict_json(shown.stdout)["status"] == "STALE"
    assert search_ids(repo, "attributes.status = 'STALE'") == [rid]
    assert search_ids(repo, "attributes.status = 'RUNNING'") == []
    assert search_ids(repo, "attributes.status = 'FINISHED'") == []


# -- version and help -----------------------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    proc = run_gitml("--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"gitml \d+\.\d+\.\d+\S*\n", proc.stdout), proc.stdout


def test_help_lists_the_commands(tmp_path: Path) -> None:
    proc = run_gitml("--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    commands = {
        line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ") and line.split()
    }
    assert {"run", "runs", "init"} <= commands, proc.stdout
    sub = run_gitml("runs", "--help", cwd=tmp_path)
    assert sub.returncode == 0, sub.stderr
    for name in ("list", "show", "search", "commit"):
        assert re.search(rf"^\s+{name}\b", sub.stdout, re.MULTILINE), sub.stdout


def test_show_prints_params_as_recorded(repo: Path) -> None:
    proc = run_gitml(
        "run", "--name", "p", "-P", "lr=2.0", "-P", "eps=1e-08", "--", PY, "-c", "pass", cwd=repo
    )
    assert proc.returncode == 0, proc.stderr
    shown = run_gitml("runs", "show", "p", cwd=repo)
    assert "  lr: 2.0\n" in shown.stdout and "  eps: 1e-08\n" in shown.stdout
