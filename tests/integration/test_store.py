"""Reading runs back: corrupt folders, revisions, id prefixes and the summary cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import gitml
from gitml.api import commit
from gitml.exceptions import AmbiguousRunError, CorruptRunError, RevisionNotFoundError, RunNotFoundError
from gitml.tracking.query import search
from gitml.tracking.store import RunStore
from gitml.workspace import Workspace
from tests.conftest import git


def make_runs(n: int, **params: object) -> list[str]:
    ids = []
    for i in range(n):
        with gitml.start_run(name=f"run{i}") as run:
            gitml.log_params({"i": i, **params})
            gitml.log_metric("acc", i / 10)
        ids.append(run.run_id)
    return ids


def test_corrupt_runs_are_named_and_others_still_list(repo: Path) -> None:
    good, bad_yaml, bad_csv, bad_status = make_runs(4)
    runs = repo / ".gitml" / "runs"
    (runs / bad_yaml / "run.yaml").write_text(": : :\n  - [")
    (runs / bad_csv / "metrics.csv").write_text("key,value,step,timestamp\nacc,notanumber,0,1\n")
    text = (runs / bad_status / "run.yaml").read_text().replace("FINISHED", "DONE")
    (runs / bad_status / "run.yaml").write_text(text)
    (runs / "not-a-run-folder").mkdir()
    result = search(workspace=Workspace(repo))
    assert [r.run_id for r in result.runs] == [good]
    messages = " | ".join(e.message for e in result.errors)
    for run_id in (bad_yaml, bad_csv, bad_status):
        assert run_id in messages
    assert "DONE" in messages
    assert f"{bad_csv}/metrics.csv:2" in messages
    with pytest.raises(CorruptRunError):
        gitml.get_run(bad_yaml)


def test_a_half_written_last_row_is_ignored(repo: Path) -> None:
    (run_id,) = make_runs(1)
    with (repo / ".gitml" / "runs" / run_id / "metrics.csv").open("a") as f:
        f.write("acc,0.99,5,17")  # a writer that died mid-row (no newline)
    assert gitml.get_run(run_id).data.metrics == {"acc": 0.0}


def test_non_utf8_metrics_are_a_clear_error(repo: Path) -> None:
    (run_id,) = make_runs(1)
    (repo / ".gitml" / "runs" / run_id / "metrics.csv").write_bytes(
        b"key,value,step,timestamp\n\xff\xfe,1,0,1\n"
    )
    with pytest.raises(CorruptRunError, match="UTF-8"):
        gitml.get_run(run_id)


def test_yaml_with_python_tags_is_refused(repo: Path, tmp_path: Path) -> None:
    (run_id,) = make_runs(1)
    sentinel = tmp_path / "pwned"
    (repo / ".gitml" / "runs" / run_id / "params.yaml").write_text(
        f"x: !!python/object/apply:os.system ['touch {sentinel}']\n"
    )
    with pytest.raises(CorruptRunError):
        gitml.get_run(run_id)
    assert not sentinel.exists()


def test_prefixes_names_and_ambiguity(repo: Path) -> None:
    (run_id,) = make_runs(1)
    runs = repo / ".gitml" / "runs"
    store = RunStore(Workspace(repo))
    assert store.resolve(run_id[:6]) == run_id
    twin = run_id[:20] + ("000000" if not run_id.endswith("000000") else "111111")
    shutil.copytree(runs / run_id, runs / twin)
    text = (runs / twin / "run.yaml").read_text().replace(run_id, twin).replace("name: run0", "name: twin")
    (runs / twin / "run.yaml").write_text(text)
    with pytest.raises(AmbiguousRunError) as info:
        store.resolve(run_id[:8])
    assert run_id in info.value.message and twin in info.value.message
    assert store.resolve(run_id) == run_id
    assert store.resolve("twin") == twin
    with pytest.raises(RunNotFoundError):
        store.resolve("abc")  # too short to be a prefix, and no run has that name


def test_reading_runs_at_a_revision(repo: Path) -> None:
    first = make_runs(2)
    commit(first)
    git(repo, "tag", "two-runs")
    later = make_runs(1)
    (repo / ".gitml" / "runs" / first[0] / "run.yaml").write_text("garbage: [")  # damaged in the work tree
    at_tag = search(rev="two-runs", workspace=Workspace(repo))
    assert {r.run_id for r in at_tag.runs} == set(first) and not at_tag.errors
    assert at_tag.commit == git(repo, "rev-parse", "two-runs").strip()
    now = search(workspace=Workspace(repo))
    assert {r.run_id for r in now.runs} == {first[1], *later}
    assert gitml.get_run(first[0], rev="two-runs").data.params == {"i": 0}
    assert [m.value for m in gitml.get_metric_history(first[1], "acc", rev="HEAD")] == [0.1]
    with pytest.raises(RevisionNotFoundError):
        search(rev="no-such-branch", workspace=Workspace(repo))
    assert search(rev="HEAD~1", workspace=Workspace(repo)).runs == []  # before any run


def test_summary_cache_is_used_and_invalidated(repo: Path) -> None:
    ids = make_runs(3)
    ws = Workspace(repo)
    assert len(search(workspace=ws).runs) == 3
    cache = repo / ".gitml" / "tmp" / "summaries.json"
    entries = json.loads(cache.read_text())["entries"]
    assert len(entries) == 3
    # A run that changes after being cached is re-read: append a metric point.
    with (repo / ".gitml" / "runs" / ids[0] / "metrics.csv").open("a") as f:
        f.write("acc,0.75,9,1\n")
    (fresh,) = [r for r in search(workspace=ws).runs if r.run_id == ids[0]]
    assert fresh.metrics["acc"].value == 0.75
    # A damaged cache file only costs speed.
    cache.write_text("{not json")
    assert len(search(workspace=ws).runs) == 3


def test_stale_run_from_another_host(repo: Path) -> None:
    (run_id,) = make_runs(1)
    path = repo / ".gitml" / "runs" / run_id / "run.yaml"
    text = path.read_text().replace("status: FINISHED", "status: RUNNING").replace("end_time:", "old_end:")
    text = text.replace("host: ", "host: elsewhere-")
    path.write_text(text)
    # A RUNNING record from another machine, with no heartbeat visible here, has no live writer.
    assert gitml.get_run(run_id).status == "STALE"


def test_listing_uses_the_summary_the_writer_left(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's owner leaves its summary when it ends, so listing it later parses none of its files."""
    (run_id,) = make_runs(1)
    assert (repo / ".gitml" / "tmp" / "summaries" / f"{run_id}.json").exists()
    import gitml.tracking.store as store_module

    monkeypatch.setattr(store_module, "parse_run", lambda *a, **k: pytest.fail("parsed run.yaml"))
    (summary,) = search(workspace=Workspace(repo)).runs
    assert summary.params == {"i": 0} and summary.metrics["acc"].value == 0.0
    monkeypatch.undo()
    # Once the run's files change, the left summary no longer matches and the files are read again.
    with (repo / ".gitml" / "runs" / run_id / "metrics.csv").open("a") as f:
        f.write("acc,0.5,3,1\n")
    (summary,) = search(workspace=Workspace(repo)).runs
    assert summary.metrics["acc"].value == 0.5


def test_filter_records_from_cache_entries_match_decoded_runs(repo: Path) -> None:
    """Searches filter on raw cache entries; that record must equal the decoded run's record."""
    from gitml.tracking.files import summary_entry
    from gitml.tracking.query import entry_record, record

    with gitml.start_run(name="r", tags={"t": "v"}) as run:
        gitml.log_params({"lr": 0.1, "opt": "adam"})
        gitml.log_metric("acc", float("nan"))
        gitml.log_metric("loss", 0.5, step=3)
    summary = RunStore(Workspace(repo)).summary(run.run_id)
    entry = json.loads(json.dumps(summary_entry(summary.info, summary.params, summary.metrics)))
    got, want = entry_record(entry, summary.status), record(summary)
    assert str(got) == str(want)  # str(): NaN != NaN


def test_damaged_cache_entries_fall_back_to_the_run_files(repo: Path) -> None:
    make_runs(2)
    ws = Workspace(repo)
    assert len(search("metrics.acc >= 0", workspace=ws).runs) == 2
    cache = repo / ".gitml" / "tmp" / "summaries.json"
    data = json.loads(cache.read_text())
    for entry in data["entries"].values():
        del entry["run"]["experiment"]
        entry["metrics"] = {"acc": "not a point"}
    cache.write_text(json.dumps(data))
    for left in (repo / ".gitml" / "tmp" / "summaries").iterdir():
        left.unlink()
    result = search("metrics.acc >= 0", workspace=ws)
    assert len(result.runs) == 2 and not result.errors


def test_max_results_without_order_reads_only_the_newest(repo: Path) -> None:
    ids = make_runs(4)
    result = search(max_results=2, workspace=Workspace(repo))
    assert [r.run_id for r in result.runs] == ids[::-1][:2]
    assert [
        r.run_id for r in search("metrics.acc < 0.25", max_results=1, workspace=Workspace(repo)).runs
    ] == [ids[2]]
    ordered = search(order_by=["metrics.acc ASC"], max_results=2, workspace=Workspace(repo))
    assert [r.run_id for r in ordered.runs] == ids[:2]
