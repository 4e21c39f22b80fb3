"""Line and bar charts share one plot area: the same value sits at the same height."""

from __future__ import annotations

import re

from review.charts import Series, bar_chart, hbar_chart, heat_map, line_chart

# 640 × 220 with no unit: the plot runs from y=12 (top) to y=176 (the x axis).
POINT_Y = r'<circle cx="[^"]+" cy="([^"]+)" r="3.5" fill="[^"]+" class="point"'
"""The y of each point of the first line (a circle; the legend's is a ``key``)."""


def _numbers(svg: str, pattern: str) -> list[float]:
    return [float(v) for v in re.findall(pattern, svg)]


def test_a_value_sits_at_the_same_height_in_a_line_and_a_bar_chart() -> None:
    series = [Series("s", [0.0, 50.0, 100.0])]
    line = str(line_chart(["a", "b", "c"], series, y_max=100.0))
    bars = str(bar_chart(["a", "b", "c"], series, y_max=100.0))
    assert _numbers(line, POINT_Y) == [176.0, 94.0, 12.0]
    # a bar of 0 keeps one pixel so it can be seen and hovered
    bar_tops = r'<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="[^"]+" fill="[^"]+"><title>'
    assert _numbers(bars, bar_tops) == [175.0, 94.0, 12.0]


def test_values_outside_the_range_are_clipped_to_the_plot() -> None:
    svg = str(line_chart(["a", "b"], [Series("s", [-20.0, 130.0])], y_min=0.0, y_max=100.0))
    assert _numbers(svg, POINT_Y) == [176.0, 12.0]


def test_the_grid_has_five_lines_from_the_bottom_to_the_top_of_the_range() -> None:
    svg = str(line_chart(["a"], [Series("s", [1.0])], y_min=20.0, y_max=60.0, unit="%"))
    ticks = re.findall(r'text-anchor="end" fill="[^"]+">([^<]+)</text>', svg)
    assert ticks == ["20%", "30%", "40%", "50%", "60%"]
    labels = re.findall(r'text-anchor="middle" fill="[^"]+">([^<]+)</text>', svg)
    assert labels == ["a"]


def test_horizontal_bars_write_every_label_whole_and_show_a_zero() -> None:
    titles = [f"Item number {k} with a title of some length" for k in range(14)]
    svg = str(hbar_chart(titles, [Series("passed", [0.0] + [50.0] * 13)], unit="%"))
    labels = re.findall(r'<text class="row-label"[^>]*>(?:<title>([^<]*)</title>)?([^<]*)', svg)
    assert len(labels) == 14  # every bar, none skipped
    assert all(whole == title for (whole, _first), title in zip(labels, titles, strict=True))
    value = 'font-size="10">{}</text>'  # the value written at the end of each bar
    assert value.format("0%") in svg and svg.count(value.format("50%")) == 13
    short = str(hbar_chart(["Greets"], [Series("passed", [0.0])], unit="%"))
    assert '<text class="row-label"' in short and ">Greets</text>" in short


def test_a_heat_maps_columns_can_be_written_as_titles() -> None:
    svg = str(
        heat_map(["A1"], ["greeting"], {("A1", "greeting"): 0.5}, col_labels={"greeting": "Greets"})
    )
    assert ">Greets</text>" in svg and ">greeting<" not in svg
