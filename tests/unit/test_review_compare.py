"""Comparing params and metrics, and how numbers are shown (pure, no git)."""

from __future__ import annotations

import math

import pytest

from gitml.review.compare import (
    BETTER,
    MISSING,
    SAME,
    WORSE,
    MetricChange,
    compare_metrics,
    compare_params,
    format_number,
)


def test_changed_params_only_unless_all() -> None:
    base = {"lr": 0.1, "depth": 3, "old": "x"}
    head = {"lr": 0.05, "depth": 3, "new": True}
    assert [(c.name, c.base, c.head) for c in compare_params(base, head)] == [
        ("lr", 0.1, 0.05),
        ("new", MISSING, True),
        ("old", "x", MISSING),
    ]
    assert [c.name for c in compare_params(base, head, all=True)] == ["depth", "lr", "new", "old"]


@pytest.mark.parametrize(
    ("a", "b", "changed"),
    [
        (1, 1.0, False),
        (True, 1, True),
        (False, 0, True),
        (float("nan"), float("nan"), False),
        ("0.1", 0.1, True),
        (None, None, False),
        ([1, 2], [1, 2], False),
    ],
)
def test_param_equality(a: object, b: object, changed: bool) -> None:
    [change] = compare_params({"p": a}, {"p": b}, all=True)
    assert change.changed is changed


@pytest.mark.parametrize(
    ("direction", "base", "head", "verdict"),
    [
        ("min", 0.5, 0.4, BETTER),
        ("min", 0.4, 0.5, WORSE),
        ("max", 0.5, 0.4, WORSE),
        ("max", 0.4, 0.5, BETTER),
        ("max", 0.4, 0.4, SAME),
        (None, 0.4, 0.5, None),
        ("max", None, 0.5, None),
        ("max", 0.5, None, None),
        ("max", float("nan"), 0.5, None),
        ("min", 0.5, float("inf"), None),
    ],
)
def test_verdicts(direction: str | None, base: float | None, head: float | None, verdict: str | None) -> None:
    assert MetricChange("m", base, head, direction).verdict == verdict


def test_delta_and_relative() -> None:
    change = MetricChange("loss", 0.5, 0.4, "min")
    assert change.delta == pytest.approx(-0.1)
    assert change.relative == pytest.approx(-0.2)
    assert MetricChange("m", -2.0, -1.0).relative == pytest.approx(0.5)  # relative to |base|
    assert MetricChange("m", 0.0, 1.0).relative is None
    assert MetricChange("m", None, 1.0).delta is None


def test_nan_on_both_sides_is_unchanged_and_nan_on_one_is_a_change() -> None:
    nan = float("nan")
    assert not MetricChange("m", nan, nan).changed
    assert MetricChange("m", nan, 1.0).changed
    assert MetricChange("m", None, 1.0).changed
    assert not MetricChange("m", None, None).changed


def test_every_metric_in_either_run_with_its_direction() -> None:
    changes = compare_metrics({"acc": 0.9, "loss": 0.1}, {"acc": 0.9, "f1": 0.5}, directions={"acc": "max"})
    assert [(c.name, c.base, c.head, c.direction) for c in changes] == [
        ("acc", 0.9, 0.9, "max"),
        ("f1", None, 0.5, None),
        ("loss", 0.1, None, None),
    ]
    assert [c.name for c in compare_metrics({"a": 1.0, "b": 1.0}, {"a": 1.0, "b": 2.0}, all=False)] == ["b"]


@pytest.mark.parametrize(
    ("value", "kwargs", "text"),
    [
        (0.123456789, {}, "0.12346"),
        (0.123456789, {"precision": 3}, "0.123"),
        (1234567.0, {}, "1.2346e+06"),
        (12, {}, "12"),
        (0.01, {"signed": True}, "+0.01"),
        (-0.01, {"signed": True}, "-0.01"),
        (float("nan"), {}, "nan"),
        (float("inf"), {"signed": True}, "+inf"),
        (float("-inf"), {}, "-inf"),
        (None, {}, "-"),
        (MISSING, {}, "-"),
        ("auto", {}, "auto"),
        (True, {}, "True"),
    ],
)
def test_format_number(value: object, kwargs: dict[str, object], text: str) -> None:
    assert format_number(value, **kwargs) == text  # type: ignore[arg-type]


def test_missing_is_falsy_and_unique() -> None:
    assert not MISSING
    assert repr(MISSING) == "MISSING"
    assert math.isnan(float("nan"))
