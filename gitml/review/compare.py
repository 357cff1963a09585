"""Comparing two runs: which params changed and how each final metric moved (pure, no git).

``compare_params`` and ``compare_metrics`` take plain mappings (a run's params
and its metrics' latest values) and return typed changes that every renderer
(terminal, Markdown, JSON, the report) shows the same way. A metric's
direction (``min``: lower is better, ``max``: higher is better) comes from the
``metrics:`` section of the config; without one a change has no verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BETTER",
    "MISSING",
    "SAME",
    "WORSE",
    "MetricChange",
    "ParamChange",
    "compare_metrics",
    "compare_params",
    "format_number",
]

BETTER = "better"
WORSE = "worse"
SAME = "same"


class _Missing:
    """The value of a param or metric that one side does not have."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(frozen=True)
class ParamChange:
    name: str
    base: Any  # MISSING when the base run does not have it
    head: Any

    @property
    def changed(self) -> bool:
        return not _same_param(self.base, self.head)


@dataclass(frozen=True)
class MetricChange:
    name: str
    base: float | None  # None when the base run does not have it
    head: float | None
    direction: str | None = None  # "min", "max" or None (not declared)

    @property
    def delta(self) -> float | None:
        """head - base, or None when a side is missing or either value is not finite."""
        if self.base is None or self.head is None:
            return None
        if not (math.isfinite(self.base) and math.isfinite(self.head)):
            return None
        return self.head - self.base

    @property
    def relative(self) -> float | None:
        """(head - base) / |base|, or None when that is undefined (a zero or missing base)."""
        delta = self.delta
        if delta is None or self.base == 0 or self.base is None:
            return None
        return delta / abs(self.base)

    @property
    def changed(self) -> bool:
        if self.base is None or self.head is None:
            return self.base is not self.head
        if math.isnan(self.base) and math.isnan(self.head):
            return False
        return self.base != self.head

    @property
    def verdict(self) -> str | None:
        """better / worse / same by the metric's direction; None without a direction or a number."""
        if self.direction is None:
            return None
        if not self.changed:
            return SAME if self.base is not None else None
        delta = self.delta
        if delta is None:
            return None
        lower_is_better = self.direction == "min"
        return BETTER if (delta < 0) == lower_is_better else WORSE


def _same_param(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    # 1 and 1.0 are the same param; True and 1 are not.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def compare_params(
    base: Mapping[str, Any], head: Mapping[str, Any], *, all: bool = False
) -> list[ParamChange]:
    """Params in either run, sorted by name: the changed ones (every one with ``all``)."""
    out = []
    for name in sorted(set(base) | set(head)):
        change = ParamChange(name, base.get(name, MISSING), head.get(name, MISSING))
        if all or change.changed:
            out.append(change)
    return out


def compare_metrics(
    base: Mapping[str, float],
    head: Mapping[str, float],
    *,
    directions: Mapping[str, str] | None = None,
    all: bool = True,
) -> list[MetricChange]:
    """Every final metric in either run, sorted by name (only the changed ones unless ``all``)."""
    directions = directions or {}
    out = []
    for name in sorted(set(base) | set(head)):
        change = MetricChange(name, base.get(name), head.get(name), directions.get(name))
        if all or change.changed:
            out.append(change)
    return out


def format_number(value: Any, *, precision: int = 5, signed: bool = False) -> str:
    """A value for a table: numbers to ``precision`` significant digits, missing as ``-``."""
    if value is MISSING or value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return ("+" if signed and value > 0 else "") + ("inf" if value > 0 else "-inf")
    if isinstance(value, int) and abs(value) < 10**precision:
        text = str(value)
    else:
        text = f"{value:.{precision}g}"
    if signed and value > 0:
        text = "+" + text
    return text
