"""Metric curves of several runs, overlaid: one PNG or SVG, one panel per metric.

Two layers:

* :func:`plot_metrics` / :func:`plot_metric` draw plain data — :class:`Series`
  (a label and its :class:`~gitml.tracking.run.Metric` points) — and know nothing
  about git. The diff and report code call them with the series they chose.
* :func:`gitml.review.plot_runs.plot_runs` is what ``gitml plot`` does: it picks
  the runs, reads their histories, labels them and calls this drawing layer.

Drawing rules: x is the step, or the seconds since the run started; NaN breaks a
line (matplotlib's own rule), infinite and non-numeric points are not drawn; a
series longer than :data:`MAX_POINTS` is thinned to per-bucket first/last/min/max
points, which draws the same picture at this width; colors follow the order of
the series' first appearance, so they are the same in every panel and every run
of the command. matplotlib and numpy are imported only when something is drawn.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitml._fs import atomic_write
from gitml._types import StrPath
from gitml.exceptions import (
    ConfigError,
    GitMLError,
    InvalidValueError,
)
from gitml.tracking.run import Metric

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from matplotlib.axes import Axes

    FloatArray = npt.NDArray[np.float64]

__all__ = [
    "FORMATS",
    "MAX_POINTS",
    "Series",
    "figure_pixels",
    "plot_metric",
    "plot_metrics",
]

#: Output formats, chosen by the file extension.
FORMATS = ("png", "svg")
X_AXES = ("step", "time")
#: Above this many points a series is thinned (min/max per bucket) before drawing.
MAX_POINTS = 5000
_BUCKETS = 1000
#: At most this many series in a panel get their label written at the end of their line too.
END_LABELS_UP_TO = 4
WIDTH_IN, DPI = 9.0, 100
_PANEL_IN, _HEAD_IN, _LEGEND_ROW_IN = 2.8, 1.8, 0.22
_LEGEND_COLUMNS = 3
#: Okabe-Ito, the colorblind-safe palette (its yellow dropped: unreadable on white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_DASHES = ("solid", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)))
_END_LABEL_CHARS = 30
SHORT_ID = 8


@dataclass(frozen=True)
class Series:
    """One line: ``label`` (the legend text) and the points of one metric.

    ``origin_ms`` is the zero of the time axis (epoch ms; default: the series' first
    point); ``end_label`` the text written at the line's end when a panel has few
    series (default: ``label``); ``linestyle`` any matplotlib line style (the
    plot of several revisions dashes the older ones).
    """

    label: str
    points: Sequence[Metric]
    origin_ms: int | None = None
    end_label: str | None = None
    linestyle: str = "solid"


def figure_pixels(panels: int, series: int) -> tuple[int, int]:
    """(width, height) in pixels of a figure with this many panels and legend entries."""
    rows = max(1, math.ceil(series / _LEGEND_COLUMNS))
    height = _HEAD_IN + _PANEL_IN * panels + _LEGEND_ROW_IN * (rows - 1)
    return round(WIDTH_IN * DPI), round(height * DPI)


def plot_metric(
    series: Sequence[Series], *, metric: str, x: str = "step", out: StrPath, title: str | None = None
) -> Path:
    """Draw one metric's series overlaid into ``out`` (.png or .svg); returns ``out``."""
    return plot_metrics({metric: series}, x=x, out=out, title=title)


def plot_metrics(
    panels: Mapping[str, Sequence[Series]], *, x: str = "step", out: StrPath, title: str | None = None
) -> Path:
    """Draw one panel per metric (sharing the x axis) into ``out`` (.png or .svg); returns ``out``.

    ``title`` defaults to the metric names. The parent directory is created if missing
    and the file is replaced atomically. Raises InvalidValueError for an unknown
    extension or x axis, or when there is nothing to draw.
    """
    return render(panels, x=x, out=out, title=title)[0]


# -- drawing --------------------------------------------------------------------------------------


def check_output(out: StrPath, x: str = "step") -> str:
    """The image format for ``out`` (from its extension); InvalidValueError if unknown, or bad ``x``."""
    if x not in X_AXES:
        raise InvalidValueError(f"unknown x axis {x!r}", hint="use --x step or --x time")
    suffix = Path(out).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InvalidValueError(
            f"cannot write {str(out)!r}: the image format follows the extension, .png or .svg",
            hint="name the output like loss.png or loss.svg",
        )
    return suffix


def pyplot_free_matplotlib() -> Any:
    """matplotlib (never pyplot: no global figure state, no GUI backend), or ConfigError if missing."""
    try:
        import matplotlib
        from matplotlib.figure import Figure  # noqa: F401 - fails here if the install is broken
    except ImportError as exc:
        raise ConfigError(
            "plotting needs matplotlib, which is not installed", hint="pip install 'gitml[plots]'"
        ) from exc
    return matplotlib


@dataclass
class _Line:
    label: str
    x: FloatArray
    y: FloatArray
    end_label: str
    linestyle: str
    skipped: int


def _arrays(series: Series, x: str) -> _Line:
    """The series as two float arrays: infinite and non-numeric points dropped, sorted by x, thinned."""
    import numpy as np

    points = series.points
    n = len(points)
    try:
        ys = np.fromiter((p.value for p in points), dtype=np.float64, count=n)
        bad = None
    except (TypeError, ValueError):
        ys = np.array([_number(p.value) for p in points], dtype=np.float64)
        bad = np.array([_number(p.value) is None for p in points], dtype=bool) if n else None
    if x == "time":
        stamps = np.fromiter((p.timestamp for p in points), dtype=np.float64, count=n)
        origin = series.origin_ms if series.origin_ms is not None else (stamps.min() if n else 0.0)
        xs = (stamps - origin) / 1000.0
    else:
        xs = np.fromiter((p.step for p in points), dtype=np.float64, count=n)
    drop = np.isinf(ys)
    if bad is not None:
        drop |= bad
    skipped = int(drop.sum())
    if skipped:
        xs, ys = xs[~drop], ys[~drop]
    if len(xs) > 1 and bool(np.any(np.diff(xs) < 0)):
        order = np.argsort(xs, kind="stable")
        xs, ys = xs[order], ys[order]
    xs, ys = _thin(xs, ys)
    end = series.end_label if series.end_label is not None else series.label
    return _Line(series.label, xs, ys, end, series.linestyle, skipped)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _thin(xs: FloatArray, ys: FloatArray) -> tuple[FloatArray, FloatArray]:
    """At most ~4 points per bucket: its first, last, lowest and highest (and its first NaN, for gaps)."""
    import numpy as np

    n = len(xs)
    if n <= MAX_POINTS:
        return xs, ys
    size = -(-n // _BUCKETS)
    full = (n // size) * size
    block = ys[:full].reshape(-1, size)
    nan = np.isnan(block)
    starts = np.arange(block.shape[0]) * size
    keep = np.concatenate(
        [
            starts,
            starts + size - 1,
            starts + np.where(nan, np.inf, block).argmin(axis=1),
            starts + np.where(nan, -np.inf, block).argmax(axis=1),
            (starts + nan.argmax(axis=1))[nan.any(axis=1)],
            np.arange(full, n),
        ]
    )
    index = np.unique(keep)
    return xs[index], ys[index]


def _time_unit(lines: Iterable[_Line]) -> tuple[float, str]:
    longest = max((float(line.x.max()) for line in lines if len(line.x)), default=0.0)
    if longest >= 7200:
        return 3600.0, "h"
    if longest >= 120:
        return 60.0, "min"
    return 1.0, "s"


def render(
    panels: Mapping[str, Sequence[Series]], *, x: str, out: StrPath, title: str | None
) -> tuple[Path, dict[tuple[str, str], int]]:
    """Draw and write the figure; returns the path and the points skipped per (metric, label)."""
    fmt = check_output(out, x)
    lines = {metric: [_arrays(s, x) for s in series] for metric, series in panels.items() if series}
    if not lines:
        raise InvalidValueError("nothing to plot: no series given")
    skipped = {(m, line.label): line.skipped for m, ls in lines.items() for line in ls if line.skipped}
    labels = list(dict.fromkeys(line.label for ls in lines.values() for line in ls))
    data = _draw(lines, labels, x=x, title=title, fmt=fmt)
    path = Path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    except OSError as exc:
        raise GitMLError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path, skipped


def _draw(
    lines: Mapping[str, list[_Line]], labels: list[str], *, x: str, title: str | None, fmt: str
) -> bytes:
    matplotlib = pyplot_free_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    color = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}
    dashes = {label: _DASHES[(i // len(PALETTE)) % len(_DASHES)] for i, label in enumerate(labels)}
    scale, unit = _time_unit(line for ls in lines.values() for line in ls) if x == "time" else (1.0, "")
    width, height = figure_pixels(len(lines), len(labels))
    style = {
        "font.size": 10,
        "axes.titlesize": 12,
        "axes.labelsize": 10,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.edgecolor": "#666666",
        "axes.grid": True,
        "grid.color": "#dddddd",
        "grid.linewidth": 0.6,
        "svg.fonttype": "none",  # text stays text: searchable, and crisp at any zoom
        "svg.hashsalt": "gitml",  # same input, same bytes
        "path.simplify": True,
    }
    with matplotlib.rc_context(style):
        fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(len(lines), 1, sharex=True, squeeze=False)[:, 0]
        for ax, (metric, panel) in zip(axes, lines.items(), strict=True):
            for line in panel:
                few = len(line.x) <= 50
                ax.plot(
                    line.x / scale,
                    line.y,
                    color=color[line.label],
                    linestyle=line.linestyle if line.linestyle != "solid" else dashes[line.label],
                    linewidth=1.6,
                    marker="o" if few else None,
                    markersize=3 if few else None,
                    label=line.label,
                )
            ax.set_ylabel(metric)
            if len(panel) <= END_LABELS_UP_TO:
                _label_line_ends(ax, panel, color, panel_in=_PANEL_IN)
        bottom = axes[-1]
        bottom.set_xlabel("step" if x == "step" else f"time ({unit} since start)")
        if x == "step":
            bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        handles: dict[str, Any] = {}
        for ax in axes:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, handle)
        axes[0].legend(
            [handles[label] for label in labels],
            labels,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.02),
            ncol=min(len(labels), _LEGEND_COLUMNS),
            frameon=False,
            borderaxespad=0.0,
            handlelength=2.2,
        )
        fig.suptitle(title if title is not None else ", ".join(lines), fontweight="bold")
        buf = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buf, format=fmt, dpi=DPI, metadata=metadata)
    return buf.getvalue()


def _label_line_ends(ax: Axes, panel: Sequence[_Line], color: Mapping[str, str], *, panel_in: float) -> None:
    """Write each line's end label just right of the panel, at the height where the line ends."""
    import numpy as np
    from matplotlib.transforms import blended_transform_factory

    y0, y1 = ax.get_ylim()
    ends: list[tuple[float, _Line]] = []
    for line in panel:
        finite = np.flatnonzero(~np.isnan(line.y))
        if len(finite) and y1 != y0:
            ends.append(((float(line.y[finite[-1]]) - y0) / (y1 - y0), line))
    if not ends:
        return
    ends.sort(key=lambda item: item[0])
    gap = 9 * 1.35 / 72 / (panel_in * 0.7)  # one text line, in axes fractions
    heights = [max(0.0, min(1.0, h)) for h, _ in ends]
    for i in range(1, len(heights)):
        heights[i] = max(heights[i], heights[i - 1] + gap)
    overflow = heights[-1] - 1.0
    if overflow > 0:
        heights = [h - overflow for h in heights]
        for i in range(len(heights) - 2, -1, -1):
            heights[i] = min(heights[i], heights[i + 1] - gap)
    where = blended_transform_factory(ax.transAxes, ax.transAxes)
    for height, (_, line) in zip(heights, ends, strict=True):
        text = line.end_label
        if len(text) > _END_LABEL_CHARS:
            text = text[: _END_LABEL_CHARS - 1] + "…"
        ax.text(1.01, height, text, transform=where, color=color[line.label], fontsize=9, va="center")
