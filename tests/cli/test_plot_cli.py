"""`gitml plot` through the console script, on a real repository with runs committed at two revisions.

The repository (built once for the module, only read by the tests):

    HEAD~1  base  (loss: 20 points, acc: 5 points)   old (loss: 10 points)
    HEAD    + tuned (loss: 20 points and one +inf; no acc)
    work tree, uncommitted: + wip (acc only)
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import git, init_repo, run_gitml

PY = sys.executable
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def runs_repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    root = tmp_path_factory.mktemp("plot") / "repo"
    init_repo(root)
    ids = {
        "base": make_run(root, "base", loss=20, acc=5),
        "old": make_run(root, "old", loss=10),
    }
    git(root, "add", ".gitml")
    git(root, "commit", "-q", "-m", "base and old")
    ids["tuned"] = make_run(root, "tuned", loss=20, inf=True)
    git(root, "add", ".gitml")
    git(root, "commit", "-q", "-m", "tuned")
    ids["wip"] = make_run(root, "wip", acc=3)
    return {"root": root, **ids}


@pytest.fixture
def repo(runs_repo: dict[str, Path | str]) -> Path:
    """The module's repository (overrides conftest's empty one: these tests only read it)."""
    return Path(runs_repo["root"])


def make_run(repo: Path, name: str, *, loss: int = 0, acc: int = 0, inf: bool = False) -> str:
    """A finished run made with `gitml run`, its child logging the curves with gitml.log_metric."""
    runs = repo / ".gitml" / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    code = "\n".join(
        [
            "import gitml",
            f"for s in range({loss}): gitml.log_metric('loss', 1.0 / (s + 1), step=s)",
            f"for s in range({acc}): gitml.log_metric('acc', 0.5 + s / 20, step=s * 4)",
            f"if {inf}: gitml.log_metric('loss', float('inf'), step={loss})",
        ]
    )
    proc = run_gitml("run", "--name", name, "--", PY, "-c", code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    (new,) = set(runs.iterdir()) - before
    return new.name


def plot(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = run_gitml("plot", *args, cwd=repo)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def ok(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = plot(repo, *args)
    assert proc.returncode == 0, proc.stderr
    return proc


def svg_texts(path: Path) -> list[str]:
    return [el.text or "" for el in ET.parse(path).getroot().iter(f"{SVG}text")]


def legend(path: Path) -> list[str]:
    """The legend entries of an SVG plot: texts holding a run's short id (`name · 01abcdef...`)."""
    return [t for t in svg_texts(path) if " · " in t]


# -- choosing runs --------------------------------------------------------------------------------


def test_runs_by_name_overlaid_into_a_png(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "loss.png"
    proc = ok(repo, "base", "tuned", "--metric", "loss", "-o", str(out))
    assert proc.stdout.strip() == f"wrote {out} (2 runs, 1 metric)"
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(out) as image:
        assert image.size[0] == 900
    # tuned's +inf point is not drawn, and the user is told.
    assert "infinite" in proc.stderr and "tuned" in proc.stderr


def test_labels_name_the_run_with_a_short_id(runs_repo: dict[str, Path | str], tmp_path: Path) -> None:
    repo, base_id, old_id = Path(runs_repo["root"]), str(runs_repo["base"]), str(runs_repo["old"])
    out = tmp_path / "loss.svg"
    ok(repo, base_id[:12], "old", "-m", "loss", "-o", str(out))  # an id prefix and a name
    labels = legend(out)
    assert len(labels) == 2
    assert labels[0].startswith(f"base · {base_id[:8]}") and base_id.startswith(labels[0].split(" · ")[1])
    assert labels[1].startswith(f"old · {old_id[:8]}")
    texts = svg_texts(out)
    assert "base" in texts and "old" in texts  # few lines: their ends are labelled too
    assert "loss" in texts and "step" in texts


def test_without_runs_the_newest_run_in_the_work_tree_that_logged_the_metric(
    repo: Path, tmp_path: Path
) -> None:
    loss, acc = tmp_path / "loss.svg", tmp_path / "acc.svg"
    assert "(1 run, 1 metric)" in ok(repo, "-m", "loss", "-o", str(loss)).stdout
    assert [t.split(" · ")[0] for t in legend(loss)] == ["tuned"]  # wip, newer, has no loss
    ok(repo, "-m", "acc", "-o", str(acc))
    assert [t.split(" · ")[0] for t in legend(acc)] == ["wip"]  # uncommitted runs count


def test_rev_without_runs_takes_the_newest_run_at_each_revision(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "revs.svg"
    proc = ok(repo, "--rev", "HEAD~1", "--rev", "HEAD", "-m", "loss", "-o", str(out))
    assert "(2 runs, 1 metric)" in proc.stdout
    labels = legend(out)
    assert [(t.split(" · ")[0], t.split(" @ ")[1]) for t in labels] == [("old", "HEAD~1"), ("tuned", "HEAD")]
    assert "loss at HEAD~1 vs HEAD" in svg_texts(out)


def test_with_several_metrics_the_newest_run_that_logged_all_of_them(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "both.svg"
    proc = ok(repo, "--rev", "HEAD~1", "-m", "loss", "-m", "acc", "-o", str(out))
    assert "(1 run, 2 metrics)" in proc.stdout
    assert [t.split(" · ")[0] for t in legend(out)] == ["base"]  # old is newer but has no acc


def test_a_run_at_each_rev_is_drawn_once_when_its_points_did_not_change(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "base.svg"
    proc = ok(repo, "base", "--rev", "HEAD~1", "--rev", "HEAD", "-m", "loss", "-o", str(out))
    assert "(1 run, 1 metric)" in proc.stdout
    (label,) = legend(out)
    assert label.endswith(" @ HEAD~1, HEAD")


def test_a_run_missing_at_one_revision_is_a_warning(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "tuned.png"
    proc = ok(repo, "tuned", "base", "--rev", "HEAD~1", "--rev", "HEAD", "-m", "loss", "-o", str(out))
    assert "warning: no run 'tuned' at HEAD~1" in proc.stderr
    assert "(2 runs, 1 metric)" in proc.stdout  # tuned @ HEAD, base @ HEAD~1, HEAD


def test_a_run_lacking_a_metric_is_left_out_of_that_panel(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "curves.svg"
    proc = ok(repo, "base", "tuned", "-m", "acc", "-m", "loss", "-o", str(out))
    assert "(2 runs, 2 metrics)" in proc.stdout
    assert "warning: run tuned" in proc.stderr and "has no 'acc'" in proc.stderr
    texts = svg_texts(out)
    assert "acc" in texts and "loss" in texts


def test_a_run_with_none_of_the_metrics_only_warns_when_others_have_them(repo: Path, tmp_path: Path) -> None:
    proc = ok(repo, "wip", "base", "-m", "loss", "-o", str(tmp_path / "x.png"))
    assert "(1 run, 1 metric)" in proc.stdout
    assert "run wip" in proc.stderr


def test_time_axis(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "time.svg"
    ok(repo, "base", "-m", "loss", "--x", "time", "-o", str(out))
    assert any(t.startswith("time (") and t.endswith(" since start)") for t in svg_texts(out))


def test_title_option(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.svg"
    ok(repo, "base", "-m", "loss", "--title", "PR #12: loss", "-o", str(out))
    assert "PR #12: loss" in svg_texts(out)


def test_output_into_a_missing_directory_is_created(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "plots" / "pr-12" / "loss.png"
    ok(repo, "base", "-m", "loss", "-o", str(out))
    assert out.is_file() and [p.name for p in out.parent.iterdir()] == ["loss.png"]


def test_relative_output_is_relative_to_the_current_directory(repo: Path, tmp_path: Path) -> None:
    proc = run_gitml("-C", str(repo), "plot", "base", "-m", "loss", "-o", "rel/loss.svg", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "wrote rel/loss.svg (1 run, 1 metric)"
    assert (tmp_path / "rel" / "loss.svg").is_file()


# -- errors ---------------------------------------------------------------------------------------


def test_a_metric_nobody_logged_is_an_error_that_lists_the_metrics(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "nope.png"
    proc = plot(repo, "-m", "val_loss", "-o", str(out))
    assert proc.returncode == 4
    lines = proc.stderr.strip().splitlines()
    assert lines[-2] == "Error: no run in the work tree has a point of 'val_loss'"
    assert lines[-1] == "Hint: metrics logged by recent runs: acc, loss"
    assert not out.exists()

    named = plot(repo, "base", "--rev", "HEAD", "-m", "val_loss", "-o", str(out))
    assert named.returncode == 4 and "Error: no run at HEAD has a point of 'val_loss'" in named.stderr


def test_an_unknown_run_is_an_error(repo: Path, tmp_path: Path) -> None:
    proc = plot(repo, "ghost", "-m", "loss", "-o", str(tmp_path / "x.png"))
    assert proc.returncode == 4
    assert "Error: no run 'ghost'" in proc.stderr and "Hint:" in proc.stderr
    at_rev = plot(repo, "tuned", "--rev", "HEAD~1", "-m", "loss", "-o", str(tmp_path / "x.png"))
    assert at_rev.returncode == 4 and "Error: no run 'tuned' at HEAD~1" in at_rev.stderr


def test_a_bad_revision_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    proc = plot(repo, "--rev", "no-such-branch", "-m", "loss", "-o", str(tmp_path / "x.png"))
    assert proc.returncode == 4
    assert proc.stderr.startswith("Error: unknown revision 'no-such-branch'")
    assert "Hint:" in proc.stderr
    assert not (tmp_path / "x.png").exists()


def test_an_unknown_extension_is_a_usage_error(repo: Path, tmp_path: Path) -> None:
    proc = plot(repo, "base", "-m", "loss", "-o", str(tmp_path / "loss.pdf"))
    assert proc.returncode == 2
    assert "Error: cannot write" in proc.stderr and ".png or .svg" in proc.stderr
    assert "Hint: name the output like loss.png or loss.svg" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_metric_and_output_are_required(repo: Path, tmp_path: Path) -> None:
    assert plot(repo, "-o", str(tmp_path / "x.png")).returncode == 2
    assert plot(repo, "-m", "loss").returncode == 2
    assert plot(repo, "-m", "loss", "--x", "epoch", "-o", str(tmp_path / "x.png")).returncode == 2


def test_help_does_not_import_matplotlib(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from gitml.cli import cli\n"
        "try:\n"
        "    cli(['plot', '--help'], prog_name='gitml')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0\n"
        "print('matplotlib' in sys.modules, 'numpy' in sys.modules)\n"
    )
    proc = subprocess.run([PY, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "--rev REV" in proc.stdout and "newest run that logged the metric" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "False False"


def test_missing_matplotlib_names_the_extra(repo: Path, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"  # as if the [plots] extra were not installed
        "from gitml.cli import main\n"
        f"sys.argv = ['gitml', 'plot', 'base', '-m', 'loss', '-o', {str(tmp_path / 'x.png')!r}]\n"
        "main()\n"
    )
    proc = subprocess.run([PY, "-c", code], cwd=repo, capture_output=True, text=True, check=False)
    assert proc.returncode == 3
    assert proc.stderr.splitlines() == [
        "Error: plotting needs matplotlib, which is not installed",
        "Hint: pip install 'gitml[plots]'",
    ]


def test_a_run_named_twice_at_a_revision_given_twice_is_one_line(
    runs_repo: dict[str, Path | str], tmp_path: Path
) -> None:
    repo, base_id = Path(runs_repo["root"]), str(runs_repo["base"])
    out = tmp_path / "once.svg"
    proc = ok(
        repo, "base", base_id, "--rev", "HEAD", "--rev", "HEAD", "-m", "loss", "-m", "loss", "-o", str(out)
    )
    assert "(1 run, 1 metric)" in proc.stdout
    (label,) = legend(out)
    assert label.endswith(" @ HEAD")


def test_plot_runs_returns_what_it_drew(runs_repo: dict[str, Path | str], tmp_path: Path) -> None:
    """The library call behind the command, as the diff and report code use it."""
    from gitml.review.plot_runs import PlotResult, plot_runs
    from gitml.workspace import Workspace

    repo = Path(runs_repo["root"])
    with Workspace(repo) as ws:
        result = plot_runs(
            ws, runs=["base", "tuned"], revs=["HEAD"], metrics=["loss", "acc"], out=tmp_path / "r.png"
        )
    assert isinstance(result, PlotResult)
    assert result.path == tmp_path / "r.png" and result.path.is_file()
    assert result.metrics == ("loss", "acc")
    assert [(r.name, r.run_id, r.revs, r.metrics) for r in result.runs] == [
        ("base", runs_repo["base"], ("HEAD",), ("loss", "acc")),
        ("tuned", runs_repo["tuned"], ("HEAD",), ("loss",)),
    ]
    assert result.runs[0].label.startswith("base · ") and result.runs[0].label.endswith(" @ HEAD")
    assert len(result.warnings) == 2  # tuned has no acc; tuned's +inf point
