"""Tests for gitml.tracking.run: times, the run record, and the checks on logged values (pure)."""

from __future__ import annotations

import math
import random
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Any

import pytest

from gitml import _yaml
from gitml.exceptions import CorruptRunError, InvalidValueError
from gitml.runid import new_run_id
from gitml.tracking.run import (
    FINAL_STATUSES,
    STATUSES,
    RunInfo,
    check_metric_value,
    check_param_value,
    format_time,
    parse_time,
    random_run_name,
    same_param,
)

T = 1_764_154_165_123  # 2025-11-26T10:49:25.123Z
ISO_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


# -- times ----------------------------------------------------------------------------------------


def test_format_time_known_values() -> None:
    assert format_time(0) == "1970-01-01T00:00:00.000Z"
    assert format_time(1) == "1970-01-01T00:00:00.001Z"
    assert format_time(T) == "2025-11-26T10:49:25.123Z"
    assert format_time(T - 123 + 999) == "2025-11-26T10:49:25.999Z"


@pytest.mark.parametrize("ms", [0, 1, 999, 1000, 1001, T, T + 877, 4_102_444_799_999, 253_402_300_799_999])
def test_format_parse_round_trip(ms: int) -> None:
    text = format_time(ms)
    assert ISO_RE.fullmatch(text), text
    assert text.endswith("Z")
    assert parse_time(text) == ms


def test_format_parse_round_trip_every_ms_of_two_seconds() -> None:
    for ms in range(T - 1000, T + 1000):
        assert parse_time(format_time(ms)) == ms


def test_format_time_round_trips_through_yaml() -> None:
    text = _yaml.dump({"start_time": format_time(T)})
    assert parse_time(_yaml.load(text)["start_time"]) == T


def test_parse_time_accepts_offsets_and_datetimes() -> None:
    assert parse_time("2025-11-26T11:49:25.123+01:00") == T
    assert parse_time("2025-11-26T10:49:25.123") == T  # naive means UTC
    aware = datetime(2025, 11, 26, 10, 49, 25, 123000, tzinfo=timezone.utc)
    assert parse_time(aware) == T
    assert parse_time(aware.replace(tzinfo=None)) == T
    assert parse_time(aware.astimezone(timezone(timedelta(hours=-5)))) == T
    # an unquoted YAML timestamp loads as a datetime
    assert parse_time(_yaml.load("t: 2025-11-26T10:49:25.123Z")["t"]) == T


@pytest.mark.parametrize("value", ["yesterday", "", "2025-13-01T00:00:00Z", 123, None, 1.5, date(2025, 1, 1)])
def test_parse_time_rejects_non_times(value: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        parse_time(value)


# -- RunInfo --------------------------------------------------------------------------------------


def full_info() -> RunInfo:
    return RunInfo(
        run_id=new_run_id(now_ms=T),
        name="brave-owl-42",
        experiment="churn",
        status="FINISHED",
        start_time=T,
        end_time=T + 61_001,
        user="alice",
        host="box-1",
        pid=4242,
        pid_start=123456,
        command=("python", "train.py", "--lr", "0.1", "yes", "$(touch S)", "a: b", ""),
        exit_code=0,
        source={"commit": "a" * 40, "branch": "main", "dirty": True, "diff": None},
        parent=new_run_id(now_ms=T - 5),
        description="multi\nline: description #1",
        tags={"team": "ml", "null": "~", "yes": "no", "k/v": "1e3"},
    )


def minimal_dict(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": new_run_id(now_ms=T), "status": "RUNNING", "start_time": format_time(T)}
    data.update(changes)
    return data


def test_to_dict_from_dict_round_trip() -> None:
    info = full_info()
    assert RunInfo.from_dict(info.to_dict(), where="run.yaml") == info


def test_to_dict_from_dict_round_trip_through_yaml() -> None:
    info = full_info()
    text = _yaml.dump(info.to_dict())
    assert RunInfo.from_dict(_yaml.load(text), where="run.yaml") == info


def test_round_trip_of_a_running_run_with_nones() -> None:
    info = RunInfo(run_id=new_run_id(), name="n", experiment="default", status="RUNNING", start_time=T)
    assert RunInfo.from_dict(_yaml.load(_yaml.dump(info.to_dict())), where="run.yaml") == info


def test_to_dict_field_order_and_time_format() -> None:
    data = full_info().to_dict()
    assert list(data)[:5] == ["format", "id", "name", "experiment", "status"]
    assert data["start_time"] == format_time(T)
    assert data["command"] == list(full_info().command or ())
    assert isinstance(data["tags"], dict)


def test_from_dict_defaults() -> None:
    data = minimal_dict()
    info = RunInfo.from_dict(data, where="run.yaml")
    assert info.run_id == data["id"]
    assert info.name == data["id"]
    assert info.experiment == "default"
    assert info.end_time is None
    assert info.command is None
    assert dict(info.tags) == {}
    assert info.duration_ms is None


def test_duration() -> None:
    assert full_info().duration_ms == 61_001


def test_statuses() -> None:
    assert set(FINAL_STATUSES) < set(STATUSES)
    assert "RUNNING" in STATUSES and "RUNNING" not in FINAL_STATUSES
    assert "STALE" not in STATUSES


@pytest.mark.parametrize("data", [None, [], "id: x", 42, ["id", "status"]])
def test_from_dict_rejects_non_mapping(data: Any) -> None:
    with pytest.raises(CorruptRunError, match=r"runs/x/run\.yaml"):
        RunInfo.from_dict(data, where="runs/x/run.yaml")


BAD_FIELDS = {
    "missing id": {"id": None},
    "bad id": {"id": "not-a-run-id"},
    "uppercase id": {"id": "0" * 25 + "A"},
    "id with dotdot": {"id": "../" + "0" * 23},
    "int id": {"id": 12345},
    "unknown status": {"status": "DONE"},
    "lowercase status": {"status": "finished"},
    "stale is never stored": {"status": "STALE"},
    "missing status": {"status": None},
    "bad start_time": {"start_time": "yesterday"},
    "missing start_time": {"start_time": None},
    "int start_time": {"start_time": 1764154165123},
    "date start_time": {"start_time": date(2025, 11, 26)},
    "bad end_time": {"end_time": "later"},
    "tags list": {"tags": ["a", "b"]},
    "tags string": {"tags": "a=b"},
    "source list": {"source": ["abc"]},
    "command string": {"command": "python train.py"},
    "command mapping": {"command": {"argv": ["python"]}},
    "bool pid": {"pid": True},
    "string exit_code": {"exit_code": "0"},
}


@pytest.mark.parametrize("changes", list(BAD_FIELDS.values()), ids=list(BAD_FIELDS))
def test_from_dict_rejects_bad_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(CorruptRunError) as info:
        RunInfo.from_dict(minimal_dict(**changes), where="runs/x/run.yaml")
    assert "runs/x/run.yaml" in str(info.value)


def test_from_dict_rejects_missing_keys() -> None:
    for key in ("id", "status", "start_time"):
        data = minimal_dict()
        del data[key]
        with pytest.raises(CorruptRunError):
            RunInfo.from_dict(data, where="run.yaml")


def test_with_changes_returns_new_record() -> None:
    info = full_info()
    changed = info.with_changes(status="FAILED", exit_code=1)
    assert changed.status == "FAILED" and changed.exit_code == 1
    assert info.status == "FINISHED"


# -- metric values --------------------------------------------------------------------------------


class FloatLike:
    """A numpy-like scalar: no float subclass, but __float__."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return self.value


class ItemLike:
    """A numpy-like scalar with .item()."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def item(self) -> Any:
        return self.value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0.0),
        (3, 3.0),
        (-7, -7.0),
        (0.5, 0.5),
        (1e300, 1e300),
        (FloatLike(2.5), 2.5),
        (FloatLike(-1.0), -1.0),
    ],
)
def test_check_metric_value_accepts_numbers(value: Any, expected: float) -> None:
    result = check_metric_value("loss", value)
    assert type(result) is float
    assert result == expected


def test_check_metric_value_keeps_nan_and_inf() -> None:
    assert math.isnan(check_metric_value("loss", float("nan")))
    assert check_metric_value("loss", float("inf")) == math.inf
    assert check_metric_value("loss", float("-inf")) == -math.inf
    assert math.isnan(check_metric_value("loss", FloatLike(float("nan"))))


def test_check_metric_value_accepts_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    for value in (np.float32(0.5), np.float64(0.25), np.int64(3), np.float64("nan")):
        result = check_metric_value("loss", value)
        assert type(result) is float
        assert result == float(value) or (math.isnan(result) and math.isnan(float(value)))


@pytest.mark.parametrize(
    "value",
    ["1.0", "nan", b"1.0", None, True, False, object(), [1.0], {"v": 1.0}, 1 + 2j, 10**400],
    ids=lambda v: repr(v)[:20],
)
def test_check_metric_value_rejects_non_numbers(value: Any) -> None:
    with pytest.raises(InvalidValueError) as info:
        check_metric_value("loss", value)
    assert "'loss'" in str(info.value)


# -- param values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [0, 1, -5, 2**70, 0.1, -0.0, True, False, None, "", "text", "x" * 6000, "$(touch S)", "multi\nline"],
    ids=repr,
)
def test_check_param_value_keeps_scalars(value: Any) -> None:
    result = check_param_value("p", value)
    assert type(result) is type(value)
    assert result == value


def test_check_param_value_keeps_nan() -> None:
    result = check_param_value("p", float("nan"))
    assert isinstance(result, float) and math.isnan(result)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (ItemLike(3), 3),
        (ItemLike(0.5), 0.5),
        (ItemLike(True), True),
        (ItemLike("s"), "s"),
        (ItemLike(None), None),
    ],
)
def test_check_param_value_unwraps_item(value: Any, expected: Any) -> None:
    result = check_param_value("p", value)
    assert type(result) is type(expected)
    assert result == expected


def test_check_param_value_unwraps_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    assert type(check_param_value("p", np.int64(3))) is int
    assert type(check_param_value("p", np.float32(0.5))) is float
    assert type(check_param_value("p", np.bool_(True))) is bool
    assert isinstance(check_param_value("p", np.str_("s")), str)


def test_check_param_value_converts_other_objects_to_str() -> None:
    assert check_param_value("p", PurePosixPath("a/b")) == "a/b"


@pytest.mark.parametrize(
    "value",
    [b"bytes", bytearray(b"bytes"), "x" * 6001, "x" * 7000, "nul\x00byte", ItemLike(b"raw")],
    ids=lambda v: repr(v)[:30],
)
def test_check_param_value_rejects(value: Any) -> None:
    with pytest.raises(InvalidValueError):
        check_param_value("p", value)


# -- same_param -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (float("nan"), float("nan")),
        (1, 1),
        (0.5, 0.5),
        ("a", "a"),
        (None, None),
        (True, True),
        (False, False),
    ],
)
def test_same_param_true(a: Any, b: Any) -> None:
    assert same_param(a, b)
    assert same_param(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (True, 1),
        (False, 0),
        (True, 1.0),
        (1, "1"),
        (None, "null"),
        (float("nan"), 1.0),
        ("a", "b"),
        (None, 0),
    ],
)
def test_same_param_false(a: Any, b: Any) -> None:
    assert not same_param(a, b)
    assert not same_param(b, a)


# -- names ----------------------------------------------------------------------------------------


def test_random_run_name_pattern() -> None:
    pattern = re.compile(r"[a-z]+-[a-z]+-\d{1,2}")
    names = {random_run_name() for _ in range(300)}
    assert all(pattern.fullmatch(n) for n in names), names
    assert len(names) > 50


def test_random_run_name_uses_given_rng() -> None:
    assert random_run_name(random.Random(7)) == random_run_name(random.Random(7))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["python", "t.py", "--lr", "0.1"], ["python", "t.py", "--lr", "0.1"]),
        (["t.py", "--api-key=XYZ"], ["t.py", "--api-key=***"]),
        (["t.py", "--token", "abc", "x"], ["t.py", "--token", "***", "x"]),
        (["t.py", "--hf_token", "abc"], ["t.py", "--hf_token", "***"]),
        (["t.py", "AWS_SECRET_ACCESS_KEY=k"], ["t.py", "AWS_SECRET_ACCESS_KEY=***"]),
        (["git", "clone", "https://user:pw@host/r.git"], ["git", "clone", "https://***@host/r.git"]),
        (["t.py", "--no-token-check", "data.csv"], ["t.py", "--no-token-check", "data.csv"]),
        (["t.py", "--password="], ["t.py", "--password=***"]),
    ],
)
def test_redact_command_masks_secrets(argv: list[str], expected: list[str]) -> None:
    from gitml.tracking.run import redact_command

    assert list(redact_command(argv)) == expected
