"""Text shared by every renderer: JSON-safe numbers and aligned tables (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["json_value", "table_lines"]


def json_value(value: Any) -> Any:
    """JSON has no NaN/inf: they are written as the strings "nan", "inf", "-inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def table_lines(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned columns, headers upper-cased, one string per line (trailing spaces stripped)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [[h.upper() for h in headers], *rows]
    ]
