"""The charts as Chromium draws them: every legend entry inside the chart, x labels that
do not overlap, a sensible axis for nothing, a note instead of empty axes.

Each chart is put in a page 760 (or 640) px wide, as the cards of the app show them, and
measured with the browser's own boxes of its texts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser
from reviewkit import SHIPPED_ITEMS, needs_chromium

from pipeline.reason_store import ReasonsPeriod
from pipeline.reason_trends import ReasonCall, reason_periods
from pipeline.reasons import Reason
from review.charts import Series, bar_chart, line_chart
from review.reasons_page import trend_chart

pytestmark = needs_chromium

ITEMS = SHIPPED_ITEMS
"""The items of the shipped inbound rubric, as an agent's "Pass rate per item" shows them."""
REASONS = [
    "R0001 Hi, Pere. My internet keeps",
    "R0002 I want charged life for my p",
    "R0003 I, thus my calorie payment a",
    "R0004 The 12th of June 1990.",
    "R0005 Hi, I'm moving house and wan",
    "R0006 I lost my credit card.",
    "R0007 喂,我的信用卡被盗刷了请帮我",
]
"""Seven reasons as the overview's "Calls per day" names them (one in Chinese)."""


def _boxes(browser: Browser, svg: str, selector: str, width: int) -> tuple[dict, list[dict]]:
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.set_content(f'<html><body style="margin:0"><div style="width:{width}px">{svg}</div>')
    chart = page.locator("svg").bounding_box()
    boxes = [b for b in (t.bounding_box() for t in page.locator(selector).all()) if b]
    page.close()
    assert chart is not None
    return chart, boxes


def _inside(box: dict[str, Any], chart: dict[str, Any]) -> bool:
    return (
        box["x"] >= chart["x"] - 0.5
        and box["x"] + box["width"] <= chart["x"] + chart["width"] + 0.5
        and box["y"] + box["height"] <= chart["y"] + chart["height"] + 0.5
    )


@pytest.mark.parametrize("kind", ["line", "bar"])
def test_every_legend_entry_of_seven_reasons_is_inside_the_chart(
    browser: Browser, kind: str
) -> None:
    series = [Series(name, [float(k % 3), 1.0]) for k, name in enumerate(REASONS)]
    draw = line_chart if kind == "line" else bar_chart
    svg = str(draw(["11-20", "11-21"], series, integer=True, y_max=5.0, width=760))
    chart, boxes = _boxes(browser, svg, "text", 760)
    legend = [b for b in boxes if b["y"] > chart["y"] + 190]  # under the x axis
    assert len(legend) >= len(REASONS)
    outside = [b for b in legend if not _inside(b, chart)]
    assert not outside, outside


def test_the_overview_draws_all_seven_reasons_with_whole_ticks(browser: Browser) -> None:
    days = ("2026-11-20", "2026-11-21")
    reasons = {n[:5]: Reason(n[:5], n[6:], np.zeros(3, np.float32)) for n in REASONS}
    calls = tuple(
        ReasonCall(f"C-{rid}-{d}", d, rid)
        for k, rid in enumerate(reasons)
        for d in days[: 1 + k % 2]
    )
    period = ReasonsPeriod(days[0], days[1], days, calls, (), reasons)
    rows = reason_periods(calls, reasons, (), last=days[1])
    page = browser.new_page()
    page.set_content(str(trend_chart(period, rows)))
    drawn = page.locator(".point title").all_text_contents()
    ticks = page.locator('text[text-anchor="end"]').all_text_contents()
    page.close()
    assert {t.split(" ")[0] for t in drawn} == set(reasons)  # every reason has its points
    assert ticks == ["0", "1", "2", "3", "4", "5"]  # counts: no 1.25 or 3.75


_HIDDEN = """() => {
  const seen = (el, boxes) => boxes.some(([x, y]) => {
    const hit = document.elementFromPoint(x, y);
    return hit === el || hit?.parentNode === el;
  });
  const hidden = [];
  for (const p of document.querySelectorAll("svg .point")) {
    const b = p.getBoundingClientRect();
    const grid = [];
    for (let i = 0; i <= 4; i++) for (let j = 0; j <= 4; j++)
      grid.push([b.x + b.width * i / 4, b.y + b.height * j / 4]);
    if (!seen(p, grid)) { hidden.push(p.querySelector("title").textContent); }
  }
  for (const path of document.querySelectorAll("svg path")) {
    const m = path.getScreenCTM(), n = path.getTotalLength(), along = [];
    for (let k = 0; k <= 400; k++) {
      const q = path.getPointAtLength(n * k / 400).matrixTransform(m);
      along.push([q.x, q.y]);
    }
    if (!seen(path, along)) { hidden.push("line " + path.getAttribute("stroke")); }
  }
  return hidden;
}"""
"""Each point (its title) and line (its colour) that other marks cover wholly: it cannot
be told apart from them."""


def test_reasons_with_the_same_counts_every_day_stay_apart(browser: Browser) -> None:
    """Four reasons with the same calls per day, day after day (as on a quiet team's
    trend): every line and every point of each is still seen, in its own shape and
    colour, not drawn over by the others."""
    days = tuple(f"2026-11-{d:02d}" for d in range(1, 15))
    reasons = {n[:5]: Reason(n[:5], n[6:], np.zeros(3, np.float32)) for n in REASONS[:4]}
    calls = tuple(
        ReasonCall(f"C-{rid}-{d}-{m}", d, rid)
        for rid in reasons
        for j, d in enumerate(days)
        for m in range(j % 3)
    )
    period = ReasonsPeriod(days[0], days[-1], days, calls, (), reasons)
    svg = str(trend_chart(period, reason_periods(calls, reasons, (), last=days[-1])))
    page = browser.new_page(viewport={"width": 760, "height": 600})
    page.set_content(f'<html><body style="margin:0"><div style="width:760px">{svg}</div>')
    hidden = page.evaluate(_HIDDEN)
    shapes = page.evaluate(
        "() => [...document.querySelectorAll('svg > .point')].map(p => p.tagName + p.getAttribute('fill'))"
    )
    paths = page.locator("svg path").evaluate_all("ps => ps.map(p => p.getAttribute('d'))")
    page.close()
    assert not hidden, hidden
    assert len(set(shapes)) == len(reasons)  # a shape and colour per reason
    assert len(set(paths)) == len(paths) == len(reasons)  # no line drawn over another


_COVERED = """names => {
  const bad = [];
  const labels = [...document.querySelectorAll("svg text")]
    .filter(t => names.some(n => t.textContent.includes(n.slice(0, 10))));
  for (const t of labels) {
    const m = t.getScreenCTM();
    for (let i = 0; i < t.getNumberOfChars(); i++) {
      const e = t.getExtentOfChar(i);
      const p = new DOMPoint(e.x + e.width / 2, e.y + e.height / 2).matrixTransform(m);
      const hit = document.elementFromPoint(p.x, p.y);
      if (hit !== t) { bad.push(t.textContent + " @" + i); break; }
    }
  }
  return [labels.length, bad];
}"""
"""Each x label whose glyphs are not all on top where they are drawn (another covers them)."""


def test_the_item_labels_of_a_scorecard_do_not_overlap(browser: Browser) -> None:
    series = [Series("detector", [100.0 * (k % 2) for k in range(len(ITEMS))])]
    svg = str(bar_chart(ITEMS, series, y_max=100, unit="%"))
    page = browser.new_page(viewport={"width": 480, "height": 800})  # half a 1000 px page
    page.set_content(f'<html><body style="margin:0"><div style="width:480px">{svg}</div>')
    shown, covered = page.evaluate(_COVERED, ITEMS)
    page.close()
    assert shown == len(ITEMS)
    assert not covered, covered


def test_a_cut_label_keeps_its_whole_name_as_a_tooltip(browser: Browser) -> None:
    svg = str(bar_chart(ITEMS, [Series("detector", [50.0] * len(ITEMS))], y_max=100, unit="%"))
    page = browser.new_page()
    page.set_content(svg)
    label = page.locator("text.lean", has_text="customer_dissat")
    assert label.locator("title").text_content() == "customer_dissatisfaction"
    page.close()


def test_listening_of_nothing_gets_an_axis_of_one_minute(browser: Browser) -> None:
    listened = [Series("budget / day", [None]), Series("listened / day", [0.0])]
    svg = str(bar_chart(["unassigned"], listened, unit=" min"))
    chart, boxes = _boxes(browser, svg, 'text[text-anchor="end"]', 480)
    page = browser.new_page()
    page.set_content(svg)
    ticks = page.locator('text[text-anchor="end"]').all_text_contents()
    page.close()
    assert ticks == ["0 min", "0.25 min", "0.5 min", "0.75 min", "1 min"]
    assert all(_inside(b, chart) for b in boxes)  # no tick label cut off on the left


def test_agreement_without_reviews_says_so(browser: Browser) -> None:
    series = [Series(n, []) for n in ("agreement", "precision", "recall")]
    svg = str(bar_chart([], series, y_max=100, unit="%", empty="no reviews yet"))
    page = browser.new_page()
    page.set_content(svg)
    note = page.locator("text.empty")
    assert note.text_content() == "no reviews yet" and note.is_visible()
    page.close()
