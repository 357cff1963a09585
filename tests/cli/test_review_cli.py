"""`gitml diff` and `gitml report` through the console script, as a reviewer and CI run them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import git, run_gitml, strict_json
from tests.review_helpers import commit, commit_base_runs, make_run


@pytest.fixture
def history(repo: Path) -> Path:
    """main: a train run and an eval run; HEAD (branch pr): a new train run that changed lr."""
    commit_base_runs(repo, {"lr": 0.1, "layers": 2})
    git(repo, "branch", "-M", "main")
    git(repo, "checkout", "-q", "-b", "pr")
    make_run("train", params={"lr": 0.05, "layers": 2}, metrics={"loss": [0.8, 0.4, 0.3], "acc": 0.85})
    commit(repo, "smaller lr")
    return repo


def test_diff_table(history: Path) -> None:
    proc = run_gitml("diff", "main", "HEAD", cwd=history)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("main (") and "2 runs → HEAD (" in lines[0]
    assert "1 run compared, 0 new, 0 removed, 2 unchanged; metrics: 2 better, 0 worse" in lines[0]
    header = next(line for line in lines if line.startswith("RUN") and "METRIC" in line)
    assert header.split() == ["RUN", "METRIC", "MAIN", "HEAD", "CHANGE", "%"]
    acc = next(line for line in lines if " acc " in line)
    assert acc.split() == ["default/train", "acc", "0.8", "0.85", "+0.05", "+6.25%", "better"]
    loss = next(line for line in lines if " loss " in line)
    assert loss.split()[-1] == "better" and "-0.1" in loss
    lr = next(line for line in lines if " lr " in line)
    assert lr.split() == ["default/train", "lr", "0.1", "0.05"]
    assert "layers" not in proc.stdout  # unchanged params only with --all
    assert "layers" in run_gitml("diff", "main", "HEAD", "--all", cwd=history).stdout
    assert "\x1b[" not in proc.stdout  # no colour when not a terminal


def test_diff_markdown(history: Path) -> None:
    proc = run_gitml("diff", "main", "HEAD", "--md", cwd=history)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "| Run | Metric | main | HEAD | Change | |" in text
    assert "| default/train | acc | 0.8 | 0.85 | ▲ +0.05 (+6.25%) | ✅ better |" in text
    assert "| default/train | loss | 0.4 | 0.3 | ▼ -0.1 (-25.00%) | ✅ better |" in text
    assert "| default/train | lr | 0.1 | 0.05 |" in text


def test_diff_json_is_strict_json(history: Path) -> None:
    make_run("train", params={"lr": 0.05, "layers": 2}, metrics={"loss": float("nan"), "acc": float("inf")})
    proc = run_gitml("diff", "HEAD", "--json", cwd=history)
    assert proc.returncode == 0, proc.stderr
    data = strict_json(proc.stdout)
    assert data["base"]["label"] == "HEAD" and data["head"] == {
        "label": "workspace",
        "commit": None,
        "runs": 4,
    }
    [pair] = data["pairs"]
    metrics = {m["name"]: m for m in pair["metrics"]}
    assert metrics["loss"]["head"] == "nan" and metrics["loss"]["change"] is None
    assert metrics["acc"]["head"] == "inf" and metrics["acc"]["direction"] == "max"
    assert data["unchanged"] == 3


def test_diff_two_runs_by_name_and_prefix(history: Path) -> None:
    ids = sorted(p.name for p in (history / ".gitml" / "runs").iterdir())
    proc = run_gitml("diff", ids[0][:10], ids[2], "--json", cwd=history)
    assert proc.returncode == 0, proc.stderr
    data = strict_json(proc.stdout)
    assert [data["pairs"][0]["base"]["run_id"], data["pairs"][0]["head"]["run_id"]] == [ids[0], ids[2]]


def test_diff_precision(history: Path) -> None:
    make_run("eval", metrics={"acc": 0.712345678})
    proc = run_gitml("diff", "--precision", "3", cwd=history)
    assert " 0.712 " in proc.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nope", "HEAD"], 4, "Error: base revision 'nope' is not in this clone"),
        (["HEAD", "nope"], 4, "Error: head revision 'nope' is not in this clone"),
        (["a", "b", "c"], 2, "Error: gitml diff takes at most two revisions or two runs"),
        (["--compare-by", "colour"], 2, "Error: cannot compare runs by 'colour'"),
        (["--precision", "0"], 2, "Error: Invalid value for '--precision'"),
    ],
)
def test_diff_bad_input(history: Path, args: list[str], code: int, message: str) -> None:
    proc = run_gitml("diff", *args, cwd=history)
    assert proc.returncode == code, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and errors[0].startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr


def test_diff_outside_a_repo(tmp_path: Path) -> None:
    proc = run_gitml("diff", cwd=tmp_path)
    assert proc.returncode == 4 and proc.stderr.startswith("Error: ")


def test_diff_plots(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "plots"
    proc = run_gitml("diff", "main", "HEAD", "--plots", str(out), cwd=history)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["loss.png"]  # acc is one point: a number, not a curve
    assert f"wrote {out / 'loss.png'}" in proc.stderr
    with Image.open(out / "loss.png") as image:
        assert image.format == "PNG"


def test_report(history: Path) -> None:
    proc = run_gitml(
        "report",
        "main",
        "HEAD",
        "-o",
        "out/report.md",
        "--link-base",
        "https://example.com/r/tree",
        cwd=history,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "wrote out/report.md (1 plot)"
    text = (history / "out" / "report.md").read_text()
    assert text.startswith("## gitml: main → HEAD\n")
    assert "### Metrics" in text and "✅ better" in text and "### Params changed" in text
    assert "![loss](report_plots/loss.png)" in text
    assert (history / "out" / "report_plots" / "loss.png").is_file()
    head = git(history, "rev-parse", "HEAD").strip()
    new_run = sorted(p.name for p in (history / ".gitml" / "runs").iterdir())[-1]
    assert f"(https://example.com/r/tree/{head}/.gitml/runs/{new_run})" in text
    assert text.rstrip().endswith("<!-- gitml-report -->")


def test_report_with_hosted_images_and_no_plots(history: Path) -> None:
    proc = run_gitml(
        "report", "main", "HEAD", "-o", "r.md", "--image-url", "https://cdn.example/pr-7/", cwd=history
    )
    assert proc.returncode == 0, proc.stderr
    assert "![loss](https://cdn.example/pr-7/loss.png)" in (history / "r.md").read_text()
    proc = run_gitml("report", "main", "HEAD", "-o", "bare.md", "--no-plots", cwd=history)
    assert proc.stdout.strip() == "wrote bare.md (0 plots)"
    assert "### Plots" not in (history / "bare.md").read_text()


def test_report_bad_base_writes_nothing(history: Path) -> None:
    proc = run_gitml("report", "missing-branch", "HEAD", "-o", "r.md", cwd=history)
    assert proc.returncode == 4
    assert proc.stderr.startswith("Error: base revision 'missing-branch' is not in this clone")
    assert not (history / "r.md").exists()
