"""Tests for the parsing side of gitml.tracking.files (bytes in, values out; no git)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from gitml import _yaml
from gitml.exceptions import CorruptRunError
from gitml.runid import new_run_id
from gitml.tracking.files import (
    METRICS_HEADER,
    LatestMetric,
    RunWriter,
    iter_metrics,
    latest_metrics,
    parse_params,
    parse_run,
)
from gitml.tracking.run import Metric, RunInfo, format_time

WHERE = "runs/abc/metrics.csv"


def metrics_csv(*rows: str, header: bool = True, newline: bool = True) -> bytes:
    text = "\n".join(rows) + ("\n" if newline and rows else "")
    return (METRICS_HEADER if header else b"") + text.encode()


# -- latest_metrics -------------------------------------------------------------------------------


def test_latest_picks_highest_step_even_if_older() -> None:
    data = metrics_csv("loss,1.0,0,100", "loss,0.5,2,50", "loss,0.7,1,200")
    assert latest_metrics(data, where=WHERE) == {"loss": LatestMetric(0.5, 2, 50)}


def test_latest_same_step_picks_newest_timestamp() -> None:
    data = metrics_csv("loss,0.5,2,60", "loss,0.4,2,90", "loss,0.3,2,70")
    assert latest_metrics(data, where=WHERE) == {"loss": LatestMetric(0.4, 2, 90)}


def test_latest_same_step_and_timestamp_picks_last_row() -> None:
    data = metrics_csv("loss,0.5,2,60", "loss,0.4,2,60")
    assert latest_metrics(data, where=WHERE)["loss"].value == 0.4


def test_latest_per_key() -> None:
    data = metrics_csv("a,1.0,0,1", "b,2.0,5,1", "a,3.0,1,1", "ab,9.0,9,9", "b,4.0,3,9")
    assert latest_metrics(data, where=WHERE) == {
        "a": LatestMetric(3.0, 1, 1),
        "b": LatestMetric(2.0, 5, 1),
        "ab": LatestMetric(9.0, 9, 9),
    }


def test_latest_negative_steps() -> None:
    data = metrics_csv("a,1.0,-5,1", "a,2.0,-1,1")
    assert latest_metrics(data, where=WHERE)["a"].step == -1


@pytest.mark.parametrize("data", [b"", METRICS_HEADER, METRICS_HEADER[:-1], b"\n\n"])
def test_latest_of_no_rows(data: bytes) -> None:
    assert latest_metrics(data, where=WHERE) == {}
    assert list(iter_metrics(data, where=WHERE)) == []


def test_file_without_header() -> None:
    data = metrics_csv("loss,1.0,0,1", header=False)
    assert latest_metrics(data, where=WHERE) == {"loss": LatestMetric(1.0, 0, 1)}


# -- a row being written --------------------------------------------------------------------------


@pytest.mark.parametrize("partial", ["loss,9.0,99,999", "loss,9.", "loss", "lo", "loss,9.0,99,9,extra,"])
def test_last_line_without_newline_is_ignored(partial: str) -> None:
    data = metrics_csv("loss,1.0,0,1") + partial.encode()
    assert latest_metrics(data, where=WHERE) == {"loss": LatestMetric(1.0, 0, 1)}
    assert list(iter_metrics(data, where=WHERE)) == [Metric("loss", 1.0, 0, 1)]


def test_header_being_written_is_ignored() -> None:
    data = METRICS_HEADER[:10]
    assert latest_metrics(data, where=WHERE) == {}


# -- corruption -----------------------------------------------------------------------------------


@pytest.mark.parametrize("row", ["loss,1.0,0", "loss,1.0,0,1,2", "loss", "a,b,c,d,e,f", ",,"])
def test_wrong_field_count_names_file_and_line(row: str) -> None:
    data = metrics_csv("loss,1.0,0,1", row, "loss,2.0,1,2")
    with pytest.raises(CorruptRunError) as info:
        latest_metrics(data, where=WHERE)
    assert f"{WHERE}:3" in str(info.value)
    with pytest.raises(CorruptRunError, match=re.escape(f"{WHERE}:3")):
        list(iter_metrics(data, where=WHERE))


@pytest.mark.parametrize(
    "row", ["loss,abc,0,1", "loss,1.0,x,1", "loss,1.0,0,ts", "loss,1.0,1.5,1", "loss,,0,1"]
)
def test_bad_number_names_file_and_line(row: str) -> None:
    data = metrics_csv("loss,1.0,0,1", row)
    with pytest.raises(CorruptRunError, match=re.escape(f"{WHERE}:3")):
        latest_metrics(data, where=WHERE)
    with pytest.raises(CorruptRunError, match=re.escape(f"{WHERE}:3")):
        list(iter_metrics(data, where=WHERE))


@pytest.mark.parametrize("data", [b"key,value,step,timestamp\nloss,1.0,0,1\n\xff\xfe,1,0,1\n", b"\x80\n"])
def test_non_utf8_is_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptRunError, match=re.escape(WHERE)):
        latest_metrics(data, where=WHERE)
    with pytest.raises(CorruptRunError, match=re.escape(WHERE)):
        list(iter_metrics(data, where=WHERE))


# -- values ---------------------------------------------------------------------------------------


def test_nan_and_inf_values_parse() -> None:
    data = metrics_csv("a,nan,0,1", "b,inf,0,1", "c,-inf,0,1", "d,1e-05,0,1", "e,-0.0,0,1")
    latest = latest_metrics(data, where=WHERE)
    assert math.isnan(latest["a"].value)
    assert latest["b"].value == math.inf
    assert latest["c"].value == -math.inf
    assert latest["d"].value == 1e-05
    assert math.copysign(1, latest["e"].value) == -1
    values = [m.value for m in iter_metrics(data, where=WHERE)]
    assert math.isnan(values[0]) and values[1:3] == [math.inf, -math.inf]


def test_nan_does_not_win_or_lose_by_value() -> None:
    """The latest point is chosen by step and time only, so a NaN can be the latest value."""
    data = metrics_csv("a,0.5,0,1", "a,nan,1,2")
    assert math.isnan(latest_metrics(data, where=WHERE)["a"].value)


# -- iter_metrics ---------------------------------------------------------------------------------


def test_iter_metrics_all_rows_in_file_order() -> None:
    data = metrics_csv("a,1.0,0,10", "ab,2.0,0,11", "b,3.0,1,12", "a,4.0,1,13")
    assert list(iter_metrics(data, where=WHERE)) == [
        Metric("a", 1.0, 0, 10),
        Metric("ab", 2.0, 0, 11),
        Metric("b", 3.0, 1, 12),
        Metric("a", 4.0, 1, 13),
    ]


def test_iter_metrics_key_filters_exactly() -> None:
    data = metrics_csv("a,1.0,0,10", "ab,2.0,0,11", "xa,2.5,0,11", "a/b,2.7,0,11", "b,3.0,1,12", "a,4.0,1,13")
    assert [m.value for m in iter_metrics(data, where=WHERE, key="a")] == [1.0, 4.0]
    assert [m.value for m in iter_metrics(data, where=WHERE, key="ab")] == [2.0]
    assert [m.value for m in iter_metrics(data, where=WHERE, key="a/b")] == [2.7]
    assert list(iter_metrics(data, where=WHERE, key="missing")) == []
    assert list(iter_metrics(data, where=WHERE, key="")) == []


def test_iter_metrics_key_with_spaces_and_colons() -> None:
    data = metrics_csv("train loss,1.0,0,1", "m:1,2.0,0,1", "train,3.0,0,1")
    assert [m.value for m in iter_metrics(data, where=WHERE, key="train loss")] == [1.0]
    assert [m.value for m in iter_metrics(data, where=WHERE, key="m:1")] == [2.0]


def test_iter_metrics_types() -> None:
    (metric,) = iter_metrics(metrics_csv("a,3,7,1764154165123"), where=WHERE)
    assert type(metric.value) is float and type(metric.step) is int and type(metric.timestamp) is int
    assert metric.timestamp == 1764154165123


# -- params and run.yaml --------------------------------------------------------------------------


def test_parse_params() -> None:
    data = _yaml.dump({"lr": 0.1, "name": "yes", "n": 3, "flag": True, "none": None}).encode()
    assert parse_params(data, where="params.yaml") == {
        "lr": 0.1,
        "name": "yes",
        "n": 3,
        "flag": True,
        "none": None,
    }


@pytest.mark.parametrize("data", [b"", b"\n", b"   \n", b"# comment only\n", b"~\n"])
def test_parse_params_empty(data: bytes) -> None:
    assert parse_params(data, where="params.yaml") == {}


@pytest.mark.parametrize(
    "data",
    [b"a: [unclosed\n", b"- a\n- b\n", b"just text\n", b"a: 1\n\xff\n", b"x: !!python/name:os.system\n"],
)
def test_parse_params_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptRunError, match=r"runs/abc/params\.yaml"):
        parse_params(data, where="runs/abc/params.yaml")


def test_parse_run_round_trip() -> None:
    info = RunInfo(
        run_id=new_run_id(),
        name="n",
        experiment="e",
        status="FINISHED",
        start_time=5,
        end_time=9,
        tags={"a": "b"},
    )
    assert parse_run(_yaml.dump(info.to_dict()).encode(), where="run.yaml") == info


@pytest.mark.parametrize(
    "data",
    [
        b"id: [unclosed\n",
        b"\xff\xfe\n",
        b"- a\n",
        b"",
        b"id: x\nstatus: RUNNING\nstart_time: 2025-01-01T00:00:00Z\n",
        b"!!python/object/apply:os.system [touch x]\n",
    ],
)
def test_parse_run_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptRunError, match=r"runs/abc/run\.yaml"):
        parse_run(data, where="runs/abc/run.yaml")


# -- what RunWriter writes, the parsers read ------------------------------------------------------


def test_written_metrics_parse_back(tmp_path: Path) -> None:
    run_id = new_run_id()
    info = RunInfo(run_id=run_id, name="n", experiment="e", status="RUNNING", start_time=1)
    writer = RunWriter(tmp_path / run_id)
    writer.create(info)
    try:
        writer.log_metric("loss", float("nan"), 0, 10)
        writer.log_metric("loss", float("inf"), 1, 11)
        writer.log_metric_rows([("acc", 0.5, 0, 12), ("acc", float("-inf"), 1, 13), ("acc", 1e-05, 2, 14)])
        writer.log_params({"lr": 0.01, "name": "yes"})
    finally:
        writer.close()
    data = (tmp_path / run_id / "metrics.csv").read_bytes()
    assert data.startswith(METRICS_HEADER)
    latest = latest_metrics(data, where="metrics.csv")
    assert latest["loss"] == LatestMetric(math.inf, 1, 11)
    assert latest["acc"] == LatestMetric(1e-05, 2, 14)
    assert math.isnan(next(iter_metrics(data, where="metrics.csv", key="loss")).value)
    params = parse_params((tmp_path / run_id / "params.yaml").read_bytes(), where="params.yaml")
    assert params == {"lr": 0.01, "name": "yes"}
    parsed = parse_run((tmp_path / run_id / "run.yaml").read_bytes(), where="run.yaml")
    assert parsed == info
    assert format_time(parsed.start_time) == "1970-01-01T00:00:00.001Z"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (b'format: 1\nid: "x"\nname: train\nexperiment: default\n', ("default", "train")),
        (b'name: "a b: c"\nexperiment: "exp-1"\n', ("exp-1", "a b: c")),
        (b"name: yes\nexperiment: e\n", None),  # a YAML boolean: parse the record instead
        (b'name: "a\\"b"\nexperiment: e\n', None),  # an escape
        (b"name: train\n", None),
        (b"name: 123\nexperiment: e\n", None),
        (b"name: train # note\nexperiment: e\n", None),
        (b"name: a\nname: b\nexperiment: e\n", None),
        (b"tags:\n  name: x\nexperiment: e\nname: real\n", ("e", "real")),
    ],
)
def test_record_names(text: bytes, names: tuple[str, str] | None) -> None:
    from gitml.tracking.files import record_names

    assert record_names(text) == names
