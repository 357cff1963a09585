"""The drawing layer of `gitml plot`: plain series in, a PNG or SVG out (no git, no runs)."""

from __future__ import annotations

import math
import re
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gitml.exceptions import ConfigError, InvalidValueError
from gitml.review import plot as plotmod
from gitml.review.plot import (
    MAX_POINTS,
    PALETTE,
    Series,
    figure_pixels,
    plot_metric,
    plot_metrics,
)
from gitml.review.plot_runs import short_ids
from gitml.tracking.run import Metric

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"
T0 = 1_760_000_000_000


def points(values: list[float], *, key: str = "loss", every_ms: int = 1000, start: int = 0) -> list[Metric]:
    return [Metric(key, v, start + i, T0 + i * every_ms) for i, v in enumerate(values)]


def curve(n: int, scale: float = 1.0) -> list[Metric]:
    return points([scale * math.exp(-i / 20) for i in range(n)])


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return [el.text or "" for el in root.iter(f"{SVG}text")]


def line_paths(path: Path, color: str) -> list[str]:
    """The `d` of every stroked polyline in ``color``: the series' lines and their legend handles."""
    root = ET.parse(path).getroot()
    stroked = [el for el in root.iter(f"{SVG}path") if f"stroke: {color.lower()}" in (el.get("style") or "")]
    return [d for el in stroked if " C " not in (d := el.get("d", ""))]  # markers are curves


# -- files ----------------------------------------------------------------------------------------


def test_png_is_a_valid_image_of_the_documented_size(tmp_path: Path) -> None:
    out = tmp_path / "loss.png"
    series = [Series("base · 01abcdef", curve(100)), Series("tuned · 01abcdeg", curve(100, 0.8))]

    assert plot_metric(series, metric="loss", out=out) == out

    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    with Image.open(out) as image:
        image.verify()
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == figure_pixels(1, 2) == (900, 460)


def test_several_metrics_make_taller_figures_one_panel_each(tmp_path: Path) -> None:
    out = tmp_path / "curves.png"
    panels = {
        "loss": [Series("a", curve(50)), Series("b", curve(50, 2))],
        "acc": [Series("a", points([0.1, 0.5, 0.9], key="acc"))],
        "f1": [Series("b", points([0.2, 0.3], key="f1"))],
    }
    plot_metrics(panels, out=out)
    with Image.open(out) as image:
        assert image.size == figure_pixels(3, 2)
    assert figure_pixels(3, 2)[0] == 900
    assert figure_pixels(3, 2)[1] > figure_pixels(1, 2)[1]
    # A long legend wraps into more rows, and the figure grows to hold them.
    assert figure_pixels(1, 7)[1] > figure_pixels(1, 3)[1]


def test_svg_is_xml_with_title_axis_labels_legend_and_line_end_labels(tmp_path: Path) -> None:
    out = tmp_path / "loss.svg"
    series = [
        Series("base · 01abcdef @ main", curve(30), end_label="base @ main"),
        Series("tuned · 01abcdeg @ HEAD", curve(30, 0.5), end_label="tuned @ HEAD"),
    ]
    plot_metric(series, metric="val loss", out=out, title="val loss at main vs HEAD")

    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg"
    texts = svg_texts(out)
    assert "val loss at main vs HEAD" in texts  # title
    assert "val loss" in texts  # y axis
    assert "step" in texts  # x axis
    assert "base · 01abcdef @ main" in texts and "tuned · 01abcdeg @ HEAD" in texts  # legend
    assert "base @ main" in texts and "tuned @ HEAD" in texts  # at the line ends


def test_default_title_is_the_metric_names(tmp_path: Path) -> None:
    out = tmp_path / "m.svg"
    plot_metrics({"loss": [Series("a", curve(5))], "acc": [Series("a", curve(5))]}, out=out)
    texts = svg_texts(out)
    assert "loss, acc" in texts
    assert texts.count("step") == 1  # the x axis is shared: labelled once, under the last panel


def test_line_ends_are_labelled_only_when_there_are_few_series(tmp_path: Path) -> None:
    out = tmp_path / "many.svg"
    series = [Series(f"run {i}", curve(20, 1 + i), end_label=f"end {i}") for i in range(6)]
    plot_metric(series, metric="loss", out=out)
    texts = svg_texts(out)
    assert all(f"run {i}" in texts for i in range(6))
    assert not any(t.startswith("end ") for t in texts)


def test_long_end_labels_are_shortened_but_the_legend_keeps_them_whole(tmp_path: Path) -> None:
    out = tmp_path / "long.svg"
    label = "a-very-long-run-name-that-goes-on-and-on · 01abcdef"
    plot_metric([Series(label, curve(10))], metric="loss", out=out)
    texts = svg_texts(out)
    assert label in texts
    assert any(t.endswith("…") and label.startswith(t[:-1]) for t in texts)


def test_colors_are_deterministic_and_follow_the_series_across_panels(tmp_path: Path) -> None:
    panels = {
        "loss": [Series("a", curve(10)), Series("b", curve(10, 2))],
        # "b" first here, and "a" missing: colors still follow the label, not the position.
        "acc": [Series("b", points([0.1, 0.2, 0.3], key="acc"))],
    }
    first, second = tmp_path / "1.svg", tmp_path / "2.svg"
    plot_metrics(panels, out=first)
    plot_metrics(panels, out=second)
    assert first.read_bytes() == second.read_bytes()
    # "b" is the second palette color: its loss line, its acc line and its legend handle; "a" the first.
    assert len(line_paths(first, PALETTE[1])) == 3
    assert len(line_paths(first, PALETTE[0])) == 2


def test_png_output_is_reproducible(tmp_path: Path) -> None:
    series = [Series("a", curve(40))]
    plot_metric(series, metric="loss", out=tmp_path / "1.png")
    plot_metric(series, metric="loss", out=tmp_path / "2.png")
    assert (tmp_path / "1.png").read_bytes() == (tmp_path / "2.png").read_bytes()


@pytest.mark.parametrize("name", ["loss.pdf", "loss.jpg", "loss", "loss.png.txt"])
def test_an_unknown_extension_is_a_clear_error_and_writes_nothing(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        plot_metric([Series("a", curve(5))], metric="loss", out=tmp_path / name)
    assert ".png or .svg" in info.value.message
    assert info.value.hint and "loss.png" in info.value.hint
    assert list(tmp_path.iterdir()) == []


def test_extensions_are_case_insensitive(tmp_path: Path) -> None:
    plot_metric([Series("a", curve(5))], metric="loss", out=tmp_path / "LOSS.PNG")
    assert (tmp_path / "LOSS.PNG").read_bytes().startswith(PNG_SIGNATURE)


def test_unknown_x_axis_and_empty_input_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="x axis"):
        plot_metric([Series("a", curve(5))], metric="loss", x="epoch", out=tmp_path / "a.png")
    with pytest.raises(InvalidValueError, match="nothing to plot"):
        plot_metric([], metric="loss", out=tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []


def test_missing_parent_directories_are_created_and_no_temp_file_is_left(tmp_path: Path) -> None:
    out = tmp_path / "plots" / "pr-12" / "loss.png"
    plot_metric([Series("a", curve(5))], metric="loss", out=out)
    assert out.is_file()
    assert [p.name for p in out.parent.iterdir()] == ["loss.png"]


def test_an_existing_image_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "loss.svg"
    out.write_text("old")
    plot_metric([Series("a", curve(5))], metric="loss", out=out)
    assert ET.parse(out).getroot().tag == f"{SVG}svg"


def test_a_missing_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    with pytest.raises(ConfigError) as info:
        plot_metric([Series("a", curve(5))], metric="loss", out=tmp_path / "a.png")
    assert "matplotlib" in info.value.message
    assert info.value.hint == "pip install 'gitml[plots]'"
    assert not (tmp_path / "a.png").exists()


# -- points ---------------------------------------------------------------------------------------


def test_infinite_and_non_numeric_points_are_skipped_and_counted() -> None:
    values: list[float] = [1.0, math.inf, 0.5, -math.inf, 0.25]
    line = plotmod._arrays(Series("a", points(values)), "step")
    assert line.skipped == 2
    assert line.x.tolist() == [0.0, 2.0, 4.0]
    assert line.y.tolist() == [1.0, 0.5, 0.25]

    odd = [Metric("loss", 1.0, 0, T0), Metric("loss", "n/a", 1, T0), Metric("loss", None, 2, T0)]  # type: ignore[arg-type]
    line = plotmod._arrays(Series("a", odd), "step")
    assert (line.skipped, line.x.tolist(), line.y.tolist()) == (2, [0.0], [1.0])


def test_nan_is_kept_and_breaks_the_line(tmp_path: Path) -> None:
    line = plotmod._arrays(Series("a", points([1.0, 2.0, math.nan, 3.0, 4.0])), "step")
    assert line.skipped == 0 and len(line.y) == 5 and math.isnan(line.y[2])

    out = tmp_path / "nan.svg"
    plot_metric([Series("a", points([1.0, 2.0, math.nan, 3.0, 4.0]))], metric="loss", out=out)
    drawn = max(line_paths(out, PALETTE[0]), key=len)
    assert len(re.findall(r"\bM\b", drawn)) == 2  # two pieces: the line is broken at the NaN


def test_points_are_drawn_in_x_order_whatever_order_they_were_logged_in() -> None:
    logged = [Metric("loss", v, s, T0 + s) for s, v in [(2, 0.2), (0, 1.0), (1, 0.5)]]
    line = plotmod._arrays(Series("a", logged), "step")
    assert line.x.tolist() == [0.0, 1.0, 2.0]
    assert line.y.tolist() == [1.0, 0.5, 0.2]


def test_time_axis_counts_seconds_from_the_origin_or_the_first_point() -> None:
    pts = points([1.0, 0.5, 0.25], every_ms=1500)
    assert plotmod._arrays(Series("a", pts), "time").x.tolist() == [0.0, 1.5, 3.0]
    started = Series("a", pts, origin_ms=T0 - 2000)
    assert plotmod._arrays(started, "time").x.tolist() == [2.0, 3.5, 5.0]


@pytest.mark.parametrize(("every_ms", "unit"), [(1000, "s"), (60_000, "min"), (3_600_000, "h")])
def test_time_axis_unit_follows_the_longest_run(tmp_path: Path, every_ms: int, unit: str) -> None:
    out = tmp_path / "t.svg"
    plot_metric([Series("a", points([1.0] * 10, every_ms=every_ms))], metric="loss", x="time", out=out)
    assert f"time ({unit} since start)" in svg_texts(out)


def test_huge_histories_are_thinned_keeping_extremes_and_gaps() -> None:
    rng = np.random.default_rng(7)
    values = np.cumsum(rng.normal(size=100_000))
    values[50_000] = 1e6  # a spike that must survive thinning
    values[70_000] = math.nan  # a gap that must survive thinning
    line = plotmod._arrays(Series("a", points(values.tolist())), "step")
    assert MAX_POINTS // 10 < len(line.x) <= MAX_POINTS
    assert line.x.tolist() == sorted(line.x.tolist())
    assert line.x[0] == 0 and line.x[-1] == 99_999
    finite = values[~np.isnan(values)]
    assert np.nanmax(line.y) == finite.max() == 1e6
    assert np.nanmin(line.y) == finite.min()
    assert 70_000.0 in line.x[np.isnan(line.y)].tolist()


def test_short_histories_are_drawn_as_given() -> None:
    values = [float(i % 7) for i in range(MAX_POINTS)]
    line = plotmod._arrays(Series("a", points(values)), "step")
    assert line.y.tolist() == values


def test_three_runs_of_100k_points_draw_in_well_under_a_few_seconds(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    series = [Series(f"run {k}", points(np.cumsum(rng.normal(size=100_000)).tolist())) for k in range(3)]
    plot_metric(series[:1], metric="loss", out=tmp_path / "warm.png")  # font cache, imports
    started = time.perf_counter()
    plot_metric(series, metric="loss", out=tmp_path / "big.png")
    plot_metric(series, metric="loss", out=tmp_path / "big.svg")
    assert time.perf_counter() - started < 5.0
    assert (tmp_path / "big.svg").stat().st_size < 1_000_000  # thinned: ~0.2 MB, not ~0.9 MB


# -- labels ---------------------------------------------------------------------------------------


def test_short_ids_are_the_shortest_unique_prefixes_of_at_least_8_characters() -> None:
    a = "01m8cf598f0etyrs2xnrv9wm5w"
    b = "01m8cf59mq2xt08810s23gp1cf"
    c = "01m9zzzzzzzzzzzzzzzzzzzzzz"
    assert short_ids([a, b, c], [a, b, c]) == {a: "01m8cf598", b: "01m8cf59m", c: "01m9zzzz"}
    assert short_ids([c], [c]) == {c: "01m9zzzz"}


def test_empty_single_point_and_all_nan_series_still_draw(tmp_path: Path) -> None:
    out = tmp_path / "odd.svg"
    series = [
        Series("empty", []),
        Series("one", points([0.5])),
        Series("nan", points([math.nan, math.nan])),
        Series("fine", curve(5)),
    ]
    plot_metric(series, metric="loss", x="time", out=out)
    texts = svg_texts(out)
    assert {"empty", "one", "nan", "fine"} <= set(texts)
