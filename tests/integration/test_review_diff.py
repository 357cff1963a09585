"""`gitml.api.diff` on real repositories: revisions, the work tree, two runs, and the awkward cases.

Runs are made in-process with gitml.start_run and committed with the git CLI, as a team's
history would hold them.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

import gitml
from gitml import api
from gitml.exceptions import RevisionNotFoundError, UsageError
from gitml.review.compare import BETTER, WORSE
from tests.conftest import git
from tests.review_helpers import commit, commit_base_runs, make_run, set_config


@pytest.fixture
def base(repo: Path) -> Path:
    commit_base_runs(repo, {"lr": 0.1, "depth": 3})
    return repo


def test_a_new_run_is_compared_with_the_newest_base_run_of_its_name(base: Path) -> None:
    old = make_run("train", params={"lr": 0.05, "depth": 3}, metrics={"loss": [0.8, 0.4, 0.3], "acc": 0.85})
    commit(base, "better model")
    new = make_run("train", params={"lr": 0.01, "depth": 3}, metrics={"loss": [0.9, 0.6, 0.35], "acc": 0.84})
    commit(base, "smaller lr")

    result = api.diff(["HEAD~1", "HEAD"])

    assert (result.base.label, result.head.label) == ("HEAD~1", "HEAD")
    assert (result.base.runs, result.head.runs) == (3, 4)
    [pair] = result.pairs
    assert (pair.base.run_id, pair.head.run_id) == (old, new)
    assert pair.key == ("default", "train")
    assert [(p.name, p.base, p.head) for p in pair.params] == [("lr", 0.05, 0.01)]
    by_name = {m.name: m for m in pair.metrics}
    assert by_name["acc"].verdict == WORSE and by_name["acc"].delta == pytest.approx(-0.01)
    assert by_name["loss"].verdict == WORSE and by_name["loss"].relative == pytest.approx(0.05 / 0.3)
    assert result.unchanged == 3 and not result.added and not result.removed


def test_default_is_head_against_the_work_tree(base: Path) -> None:
    run = make_run("train", params={"lr": 0.2, "depth": 3}, metrics={"loss": [0.5, 0.3], "acc": 0.9})
    result = api.diff()
    assert (result.base.label, result.head.label, result.head.commit) == ("HEAD", "workspace", None)
    [pair] = result.pairs
    assert pair.head.run_id == run
    assert {m.name: m.verdict for m in pair.metrics} == {"acc": BETTER, "loss": BETTER}
    assert result.unchanged == 2


def test_one_revision_is_compared_with_the_work_tree(base: Path) -> None:
    make_run("eval", metrics={"acc": 0.75})
    result = api.diff(["HEAD"])
    assert [p.key for p in result.pairs] == [("default", "eval")]


def test_an_unchanged_work_tree_has_nothing_to_compare(base: Path) -> None:
    result = api.diff()
    assert result.pairs == [] and result.unchanged == 2 and not result.changed


def test_runs_on_one_side_only(base: Path) -> None:
    make_run("brand-new", metrics={"f1": 0.5})
    make_run("train", experiment="other", metrics={"acc": 0.1})  # same name, other experiment
    gone = sorted((base / ".gitml" / "runs").iterdir())[1]  # the base's "eval" run
    shutil.rmtree(gone)
    result = api.diff()
    assert sorted(s.info.name for s in result.added) == ["brand-new", "train"]
    assert [s.run_id for s in result.removed] == [gone.name]
    assert result.pairs == []


def test_older_new_runs_of_a_name_are_listed_not_compared(base: Path) -> None:
    first = make_run("train", metrics={"acc": 0.81})
    time.sleep(0.002)
    second = make_run("train", metrics={"acc": 0.82})
    result = api.diff()
    assert [p.head.run_id for p in result.pairs] == [second]
    assert [s.run_id for s in result.superseded] == [first]


def test_metrics_missing_on_one_side(base: Path) -> None:
    make_run("train", params={"lr": 0.1}, metrics={"loss": 0.3, "f1": 0.6})
    [pair] = api.diff().pairs
    by_name = {m.name: m for m in pair.metrics}
    assert by_name["acc"].base == pytest.approx(0.8) and by_name["acc"].head is None
    assert by_name["acc"].delta is None and by_name["acc"].verdict is None
    assert by_name["f1"].base is None and by_name["f1"].head == 0.6
    assert [(p.name, p.base, p.head) for p in pair.params if p.name == "depth"] == [
        ("depth", 3, gitml_missing())
    ]


def gitml_missing() -> Any:
    from gitml.review.compare import MISSING

    return MISSING


def test_nan_and_non_numeric_values(base: Path) -> None:
    make_run("train", params={"lr": "auto", "depth": 3}, metrics={"loss": float("nan"), "acc": float("inf")})
    [pair] = api.diff().pairs
    by_name = {m.name: m for m in pair.metrics}
    assert math.isnan(by_name["loss"].head or 0.0) and by_name["loss"].delta is None
    assert by_name["loss"].verdict is None and by_name["loss"].changed
    assert by_name["acc"].delta is None
    assert [(p.name, p.base, p.head) for p in pair.params] == [("lr", 0.1, "auto")]


def test_a_changed_run_folder_is_compared_with_itself(base: Path) -> None:
    run_id = sorted(p.name for p in (base / ".gitml" / "runs").iterdir())[0]
    with gitml.start_run(run_id=run_id):
        gitml.log_metric("loss", 0.2, step=3)
    result = api.diff()
    [pair] = result.pairs
    assert pair.same_run and pair.base.run_id == run_id
    assert {m.name: (m.base, m.head) for m in pair.metrics}["loss"] == (0.4, 0.2)


def test_compare_by_config_and_option(base: Path) -> None:
    make_run("train-v2", params={"lr": 0.1, "depth": 3}, metrics={"acc": 0.9})
    assert api.diff().pairs == []
    [pair] = api.diff(compare_by=["experiment", "params.depth"]).pairs
    assert pair.base.info.name == "train" and pair.head.info.name == "train-v2"
    set_config(base, "diff:\n  compare_by: [experiment]\n")
    assert len(api.diff().pairs) == 1
    with pytest.raises(UsageError):
        api.diff(compare_by=["colour"])


def test_two_runs(base: Path) -> None:
    a = make_run("a", params={"lr": 0.1}, metrics={"acc": 0.5})
    b = make_run("b", params={"lr": 0.2}, metrics={"acc": 0.6})
    result = api.diff([a, "b"])
    [pair] = result.pairs
    assert (pair.base.run_id, pair.head.run_id) == (a, b)
    assert (result.base.label, result.head.label) == (a, b)
    assert [p.name for p in pair.params] == ["lr"]


def test_a_base_that_does_not_exist(base: Path) -> None:
    with pytest.raises(RevisionNotFoundError) as info:
        api.diff(["no-such-branch", "HEAD"])
    assert "base revision 'no-such-branch'" in info.value.message
    assert "git fetch origin no-such-branch:no-such-branch" in (info.value.hint or "")
    with pytest.raises(UsageError):
        api.diff(["HEAD", "HEAD", "HEAD"])


def test_a_shallow_clone_says_what_to_fetch(base: Path, tmp_path: Path) -> None:
    make_run("train", metrics={"acc": 0.9})
    commit(base, "second")
    git(base, "branch", "feature")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{base}", str(clone))
    with pytest.raises(RevisionNotFoundError) as info:
        api.diff(["HEAD~1", "HEAD"], repo=clone)
    assert "shallow" in (info.value.hint or "") and "--deepen" in (info.value.hint or "")
    with pytest.raises(RevisionNotFoundError) as info:
        api.diff(["master", "HEAD"], repo=clone)
    assert "git fetch --depth=1 origin master:master" in (info.value.hint or "")
    git(clone, "fetch", "-q", "--depth=2", "origin", "feature")
    assert len(api.diff(["HEAD~1", "HEAD"], repo=clone).pairs) == 1


def test_a_run_that_does_not_parse_is_skipped_with_a_warning(base: Path) -> None:
    broken = make_run("train", metrics={"acc": 0.9})
    (base / ".gitml" / "runs" / broken / "run.yaml").write_text("{{ not yaml")
    result = api.diff()
    assert result.pairs == []
    assert any(broken in w for w in result.warnings)


def test_thousands_of_runs_on_each_side_read_only_what_changed(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = base / ".gitml" / "runs"
    # copies of the base's oldest run (its "train"), so the newest base "train" is the newest copy
    template = min(runs.iterdir())
    from gitml.runid import new_run_id

    for _ in range(3000):
        run_id = new_run_id()
        shutil.copytree(template, runs / run_id)
        text = (runs / run_id / "run.yaml").read_text().replace(template.name, run_id)
        (runs / run_id / "run.yaml").write_text(text)
    commit(base, "3000 runs")
    make_run("train", params={"lr": 0.3, "depth": 3}, metrics={"acc": 0.99})
    commit(base, "one more")
    reads: list[str] = []
    from gitml.tracking import store as store_module

    original = store_module.RunStore._summarize

    def counting(self: Any, run_id: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(run_id)
        return original(self, run_id, *args, **kwargs)

    monkeypatch.setattr(store_module.RunStore, "_summarize", counting)  # a spy: counts, changes nothing
    started = time.perf_counter()
    result = api.diff(["HEAD~1", "HEAD"])
    elapsed = time.perf_counter() - started
    assert (result.base.runs, result.head.runs) == (3002, 3003)
    assert len(result.pairs) == 1 and result.unchanged == 3002
    assert len(reads) <= 5, len(reads)  # the new run, and the newest base run of its name
    assert elapsed < 5  # generous: the benchmark holds the real target

    # a name no base run has: every base record is looked at, but no base run's metrics are read
    reads.clear()
    fresh = make_run("fresh", metrics={"acc": 0.5})
    result = api.diff()
    assert [s.run_id for s in result.added] == [fresh] and result.pairs == []
    assert set(reads) <= {fresh}


def test_corrupt_cache_entry_is_not_trusted(base: Path) -> None:
    make_run("train", metrics={"acc": 0.95})
    api.diff()
    cache = base / ".gitml" / "tmp" / "summaries.json"
    if cache.exists():
        cache.write_text("{not json")
    assert len(api.diff().pairs) == 1


def test_a_repository_without_commits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q")
    monkeypatch.chdir(root)
    api.init(root)
    make_run("a", metrics={"acc": 0.5})
    with pytest.raises(RevisionNotFoundError) as info:
        api.diff()
    assert info.value.message == "this repository has no commits yet: nothing to compare with"
    b = make_run("b", metrics={"acc": 0.6})
    assert api.diff(["a", b]).pairs[0].head.run_id == b


def test_history_shorter_than_asked(base: Path) -> None:
    with pytest.raises(RevisionNotFoundError) as info:
        api.diff(["HEAD~5", "HEAD"])
    assert info.value.hint == "the history is shorter than that: see git log"
