"""Server-rendered SVG charts: a call timeline, lines, bars and a heat map.

Every helper returns :class:`markupsafe.Markup` holding one ``<svg>`` element drawn
with presentation attributes only (no ``style=``: the app's Content-Security-Policy
allows no inline styles), so a chart works in the app, in a saved HTML report opened
offline and on paper. Each mark carries a ``<title>`` with its exact value (a hover
tooltip); the pages put the same numbers in a ``<details>`` table next to the chart.
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from pipeline.scoring import clock

PALETTE = ("#1f5fae", "#e07b00", "#1e7b34", "#8e44ad", "#b3261e", "#00838f")
"""Series colours, in order (distinguishable in greyscale print as well)."""
MARKERS = ("circle", "square", "diamond", "triangle", "triangle-down", "bar", "ring")
"""Each line's point shape, in order beside its colour (one more shape than colours, so
the seventh line, blue again, is a ring): lines that run together (several reasons with
the same count on a day) are still told apart by their points."""
DODGE_PX = 2.5
"""Points of several lines at the same value and label are drawn this far apart (their
lines then run side by side instead of one over the other), stacked up from the x axis
at the bottom of the range; titles and the Numbers table keep the exact values."""
INK = "#1d232a"
MUTED = "#66707a"
GRID = "#d9dee3"
FONT = 'font-family="system-ui, sans-serif"'


def _f(x: float) -> str:
    return f"{x:.1f}"


def _t(text: object) -> str:
    return str(escape(str(text)))


# ---------------------------------------------------------------- call timeline


@dataclass(frozen=True, slots=True)
class Marker:
    """A finding's moment on the timeline: ``outcome`` picks the colour."""

    at_s: float
    label: str
    outcome: str = ""
    end_s: float | None = None
    heard: tuple[float, float] | None = None
    """What a click plays (the moment with its context); ``None``: ``at_s``..``end_s``."""


@dataclass(frozen=True, slots=True)
class TimelineData:
    """What :func:`timeline` draws (all times in seconds from the start of the call)."""

    duration_s: float
    agent: Sequence[tuple[float, float]] = ()
    customer: Sequence[tuple[float, float]] = ()
    silences: Sequence[tuple[float, float]] = ()
    holds: Sequence[tuple[float, float]] = ()
    overtalk: Sequence[tuple[float, float]] = ()
    markers: Sequence[Marker] = ()
    sentiment: Sequence[tuple[float, float]] = field(default=())
    """``(time_s, value in [-1, 1])`` of customer utterances; empty when not measured."""


_TL_COLOURS = {
    "agent": "#1f5fae",
    "customer": "#e07b00",
    "silence": "#b9c1c9",
    "hold": "#8e44ad",
    "overtalk": "#b3261e",
}
_OUTCOME = {"fail": "#b3261e", "pass": "#1e7b34", "na": "#66707a"}


def timeline(data: TimelineData, *, width: int = 1000) -> Markup:
    """Two lanes (agent, customer) of who speaks when, with silences, holds, overtalk,
    finding markers and the customer's sentiment line (when given).

    Every bar and marker carries ``data-seek`` (and ``data-end``): the call page's
    script seeks the player when one is clicked.

    Parameters
    ----------
    data
        The spans and markers.
    width
        Width of the drawing in SVG units (it scales to its container).

    Returns
    -------
    Markup
        ``<svg class="chart timeline">``.
    """
    left, right = 78, 12
    sentiment = list(data.sentiment)
    lane_h, gap = 22, 8
    top = 22  # markers row
    rows = [("agent", top), ("customer", top + lane_h + gap)]
    events_y = top + 2 * (lane_h + gap)
    senti_top = events_y + 14 + gap
    senti_h = 46 if sentiment else 0
    height = senti_top + senti_h + (30 if sentiment else 22)
    span = max(data.duration_s, 1e-6)
    plot_w = width - left - right

    def x(t: float) -> float:
        return left + max(0.0, min(t, span)) / span * plot_w

    out = [
        f'<svg class="chart timeline" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT} font-size="11" '
        f'aria-label="Call timeline: who speaks when, silences, holds, overtalk, findings">'
    ]
    for name, y in rows:
        out.append(
            f'<text x="{left - 8}" y="{y + lane_h / 2 + 4}" text-anchor="end" fill="{INK}">'
            f"{name}</text>"
        )
        out.append(f'<rect x="{left}" y="{y}" width="{plot_w}" height="{lane_h}" fill="#f2f4f6"/>')
        for s, e in data.agent if name == "agent" else data.customer:
            out.append(_seek_rect(x(s), y, x(e), lane_h, _TL_COLOURS[name], f"{name}", s, e))
    out.append(
        f'<text x="{left - 8}" y="{events_y + 11}" text-anchor="end" fill="{INK}">gaps</text>'
    )
    for kind, spans in (
        ("silence", data.silences),
        ("hold", data.holds),
        ("overtalk", data.overtalk),
    ):
        for s, e in spans:
            out.append(_seek_rect(x(s), events_y, x(e), 14, _TL_COLOURS[kind], kind, s, e))
    for m in data.markers:
        colour = _OUTCOME.get(m.outcome, MUTED)
        cx = x(m.at_s)
        start, end = m.heard or (m.at_s, m.end_s if m.end_s is not None else m.at_s)
        out.append(
            f'<g class="marker" data-seek="{start:.2f}" data-end="{end:.2f}" tabindex="0" '
            f'role="button"><title>{_t(m.label)} ({m.outcome}) at {clock(m.at_s)}</title>'
            f'<line x1="{_f(cx)}" y1="{top - 4}" x2="{_f(cx)}" y2="{events_y + 14}" '
            f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="3 2"/>'
            f'<path d="M{_f(cx - 5)} {top - 14}h10l-5 9z" fill="{colour}"/></g>'
        )
    if sentiment:
        mid = senti_top + senti_h / 2
        out.append(
            f'<rect x="{left}" y="{senti_top}" width="{plot_w}" height="{senti_h}" '
            f'fill="#f2f4f6"/>'
            f'<text x="{left - 8}" y="{mid + 4}" text-anchor="end" fill="{INK}">sentiment</text>'
            f'<line x1="{left}" y1="{_f(mid)}" x2="{left + plot_w}" y2="{_f(mid)}" '
            f'stroke="{GRID}"/>'
            f'<text x="{left + 3}" y="{senti_top + 10}" fill="{MUTED}" font-size="9">+1</text>'
            f'<text x="{left + 3}" y="{senti_top + senti_h - 3}" fill="{MUTED}" font-size="9">−1</text>'
        )
        pts = [
            (x(t), mid - max(-1.0, min(1.0, v)) * senti_h / 2)
            for t, v in sentiment
            if not math.isnan(v)
        ]
        if pts:
            path = " ".join(
                f"{'M' if i == 0 else 'L'}{_f(px)} {_f(py)}" for i, (px, py) in enumerate(pts)
            )
            out.append(
                f'<path class="sentiment" d="{path}" fill="none" stroke="#00838f" stroke-width="2"/>'
            )
            for (px, py), (t, v) in zip(pts, sentiment, strict=False):
                out.append(
                    f'<circle cx="{_f(px)}" cy="{_f(py)}" r="3" fill="#00838f" '
                    f'data-seek="{t:.2f}"><title>{clock(t)}: {v:+.2f}</title></circle>'
                )
    axis_y = height - 8
    for k in range(0, 6):
        t = span * k / 5
        out.append(
            f'<text x="{_f(x(t))}" y="{axis_y}" text-anchor="middle" fill="{MUTED}">'
            f"{clock(t)}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


def _seek_rect(
    x0: float, y: float, x1: float, h: float, colour: str, label: str, s: float, e: float
) -> str:
    return (
        f'<rect x="{_f(x0)}" y="{y}" width="{_f(max(x1 - x0, 1.5))}" height="{h}" '
        f'fill="{colour}" data-seek="{s:.2f}" data-end="{e:.2f}" class="{label}">'
        f"<title>{label} {clock(s)}–{clock(e)}</title></rect>"
    )


# ---------------------------------------------------------------- line chart


@dataclass(frozen=True, slots=True)
class Series:
    """One line (or one bar colour): a name and a value per x label (``None``: no data)."""

    name: str
    values: Sequence[float | None]


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    y_min: float = 0.0,
    y_max: float = 100.0,
    unit: str = "",
    target: tuple[float, float] | None = None,
    integer: bool = False,
    empty: str = "no data yet",
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Lines over a category axis (weeks, months); gaps where a value is ``None``.

    Parameters
    ----------
    labels
        The x labels, in order (leaning, and cut short with a tooltip, when they do not fit).
    series
        One line each, its values aligned with ``labels``, its points in its own shape
        (:data:`MARKERS`). Past the six colours a line is dashed. Lines at the same value
        at a label are drawn :data:`DODGE_PX` apart there, so they run side by side.
    y_min, y_max
        The y range (an empty range is drawn as ``y_min``..``y_min + 1``).
    unit
        Appended to the y tick labels (e.g. ``"%"``).
    target
        ``(low, high)`` band to shade (a target range), or ``None``.
    integer
        Counts: y ticks at whole numbers (the top rounded up to the next tick).
    empty
        Written across the plot when no series has a value.
    width, height
        The size in SVG units; the drawing grows down for leaning labels and legend rows.

    Returns
    -------
    Markup
        ``<svg class="chart line">``.
    """
    area = _PlotArea.of(
        labels,
        [s.name for s in series],
        width=width,
        height=height,
        unit=unit,
        y_min=y_min,
        y_max=y_max,
        integer=integer,
    )
    x, y = area.x, area.y
    out = [_open("line", width, area.total_height, ", ".join(s.name for s in series))]
    if target is not None:
        out.append(
            f'<rect x="{area.left}" y="{_f(y(target[1]))}" width="{area.width}" '
            f'height="{_f(y(target[0]) - y(target[1]))}" fill="#e3f4e6"/>'
        )
    out.extend(area.axes(labels, unit))
    at = _dodged(series, area)
    for k, s in enumerate(series):
        colour, dash = _style(k)
        path, pen = [], False
        for i, v in enumerate(s.values):
            if v is None or math.isnan(v):
                pen = False
                continue
            path.append(f"{'L' if pen else 'M'}{_f(x(i))} {_f(at[k, i])}")
            pen = True
        if path:
            out.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
            )
        for i, v in enumerate(s.values):
            if v is not None and not math.isnan(v):
                title = f"<title>{_t(s.name)} · {_t(labels[i])}: {v:.1f}{_t(unit)}</title>"
                out.append(_marker(k, x(i), at[k, i], colour, title))
    return area.finish(out, series, empty, lines=True)


def _dodged(series: Sequence[Series], area: _PlotArea) -> dict[tuple[int, int], float]:
    """The y of each point ``(series, label)``: its value's, except where several series
    have the same value at a label: those are spread :data:`DODGE_PX` apart around it, in
    series order (kept inside the plot), so their lines run side by side."""
    same: dict[tuple[int, float], list[int]] = {}
    for k, s in enumerate(series):
        for i, v in enumerate(s.values):
            if v is not None and not math.isnan(v):
                same.setdefault((i, round(area.y(v), 1)), []).append(k)
    at: dict[tuple[int, int], float] = {}
    for (i, y0), ks in same.items():
        ys = [y0 + (rank - (len(ks) - 1) / 2) * DODGE_PX for rank in range(len(ks))]
        shift = max(0.0, ys[-1] - area.base) - max(0.0, area.top - ys[0])
        for k, yy in zip(ks, ys, strict=True):
            at[k, i] = yy - shift
    return at


def _marker(
    k: int, cx: float, cy: float, colour: str, inner: str = "", *, cls: str = "point"
) -> str:
    """Series ``k``'s point at ``(cx, cy)``: its shape of :data:`MARKERS`, holding ``inner``
    (its title); ``cls`` is ``"key"`` in the legend."""
    shape = MARKERS[k % len(MARKERS)]
    fill = f'fill="{colour}" class="{cls}"'
    if shape == "circle":
        return f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="3.5" {fill}>{inner}</circle>'
    if shape == "ring":
        return (
            f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="3.2" fill="#ffffff" stroke="{colour}" '
            f'stroke-width="1.6" class="{cls}">{inner}</circle>'
        )
    if shape == "square":
        return f'<rect x="{_f(cx - 3)}" y="{_f(cy - 3)}" width="6" height="6" {fill}>{inner}</rect>'
    if shape == "bar":  # a short upright bar: told from the square at a glance
        return f'<rect x="{_f(cx - 1.5)}" y="{_f(cy - 4.5)}" width="3" height="9" {fill}>{inner}</rect>'
    corners = {
        "diamond": ((0, -4.5), (4.5, 0), (0, 4.5), (-4.5, 0)),
        "triangle": ((0, -4.5), (4.5, 3.5), (-4.5, 3.5)),
        "triangle-down": ((0, 4.5), (4.5, -3.5), (-4.5, -3.5)),
    }[shape]
    points = " ".join(f"{_f(cx + dx)},{_f(cy + dy)}" for dx, dy in corners)
    return f'<polygon points="{points}" {fill}>{inner}</polygon>'


# ---------------------------------------------------------------- bar chart


def bar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    y_max: float | None = None,
    unit: str = "",
    target: float | None = None,
    integer: bool = False,
    empty: str = "no data yet",
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Grouped bars (one group per label, one bar per series), with a target line.

    Parameters
    ----------
    labels
        Group labels (leaning, and cut short with a tooltip, when they do not fit).
    series
        One bar colour each; values aligned with ``labels`` (``None``: no bar).
    y_max
        Top of the axis; by default the largest value or target, rounded up (1 when
        every value is 0).
    unit
        Appended to tick and value labels.
    target
        A value to draw as a dashed line across the chart (a budget, a target).
    integer
        Counts: y ticks at whole numbers.
    empty
        Written across the plot when no series has a value.

    Returns
    -------
    Markup
        ``<svg class="chart bar">``.
    """
    values = [v for s in series for v in s.values if v is not None and not math.isnan(v)]
    y_max = y_max if y_max is not None else _nice(max([*values, target or 0.0, 0.0]))
    area = _PlotArea.of(
        labels,
        [s.name for s in series] + (["target"] if target is not None else []),
        width=width,
        height=height,
        unit=unit,
        y_min=0.0,
        y_max=y_max,
        integer=integer,
    )
    left, y, base = area.left, area.y, area.base
    k_series = max(len(series), 1)
    group = area.width / area.n
    bar = min(group * 0.8 / k_series, 36)
    out = [_open("bar", width, area.total_height, ", ".join(s.name for s in series))]
    out.extend(area.axes(labels, unit))
    for k, s in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        for i, v in enumerate(s.values):
            if v is None or math.isnan(v):
                continue
            x0 = left + i * group + (group - bar * k_series) / 2 + k * bar
            out.append(
                f'<rect x="{_f(x0)}" y="{_f(min(y(v), base - 1))}" width="{_f(bar - 1)}" '
                f'height="{_f(max(base - y(v), 1))}" fill="{colour}">'
                f"<title>{_t(s.name)} · {_t(labels[i])}: {v:.1f}{_t(unit)}</title></rect>"
            )
    if target is not None:
        out.append(
            f'<line x1="{left}" x2="{left + area.width}" y1="{_f(y(target))}" y2="{_f(y(target))}" '
            f'stroke="{INK}" stroke-dasharray="5 3"><title>target {target:g}{_t(unit)}</title></line>'
        )
    return area.finish(out, series, empty, target=target is not None)


# ---------------------------------------------------------------- horizontal bars

HBAR_LABEL_CHARS = 34
"""A horizontal bar's label wraps onto a second line past this many characters (and is
cut short on the second, its ``<title>`` holding it whole)."""


def hbar_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    x_max: float = 100.0,
    unit: str = "",
    empty: str = "no data yet",
    width: int = 640,
) -> Markup:
    """Horizontal grouped bars: a row per label, written whole beside it (a rubric item's
    title), a bar per series with its value at its end, so a 0 reads as ``0%``.

    Parameters
    ----------
    labels
        Row labels, in order; every one is written (wrapped onto two lines when long).
    series
        One bar colour each; values aligned with ``labels`` (``None``: no bar, ``—``).
    x_max, unit
        The value a full-width bar stands for, and what follows each value written.
    empty
        The note the plot holds when no series has a value.

    Returns
    -------
    Markup
        ``<svg class="chart hbar">``, as tall as its rows need.
    """
    label_w = min(max((_text_px(lab[:HBAR_LABEL_CHARS]) for lab in labels), default=40) + 12, 250)
    left, right, top = label_w, 48, 8
    bar_h, k = 11, max(len(series), 1)
    row_h = max(k * (bar_h + 2) + 10, 32)
    plot_w = width - left - right
    axis_y = top + row_h * max(len(labels), 1) + 18  # the value axis's labels
    height = axis_y + 26  # and the legend's row under them

    def x(v: float) -> float:
        return left + max(0.0, min(v, x_max)) / (x_max or 1.0) * plot_w

    out = [_open("hbar", width, height, ", ".join(s.name for s in series))]
    for t in (0.0, x_max / 2, x_max):
        out.append(
            f'<line x1="{_f(x(t))}" x2="{_f(x(t))}" y1="{top}" y2="{axis_y - 12}" '
            f'stroke="{GRID}"/><text x="{_f(x(t))}" y="{axis_y}" text-anchor="middle" '
            f'fill="{MUTED}">{t:g}{_t(unit)}</text>'
        )
    for i, label in enumerate(labels):
        y0 = top + i * row_h
        out.append(_hbar_label(label, left - 8, y0 + row_h / 2))
        for j, s in enumerate(series):
            v = s.values[i] if i < len(s.values) else None
            y = y0 + 5 + j * (bar_h + 2)
            if v is None or math.isnan(v):
                out.append(
                    f'<text x="{left + 3}" y="{_f(y + bar_h - 2)}" fill="{MUTED}" '
                    f'font-size="10">—<title>{_t(s.name)} · {_t(label)}: no data</title></text>'
                )
                continue
            colour = PALETTE[j % len(PALETTE)]
            out.append(
                f'<rect x="{left}" y="{_f(y)}" width="{_f(max(x(v) - left, 2))}" '
                f'height="{bar_h}" fill="{colour}"><title>{_t(s.name)} · {_t(label)}: '
                f"{v:.1f}{_t(unit)}</title></rect>"
                f'<text x="{_f(max(x(v), left + 2) + 4)}" y="{_f(y + bar_h - 2)}" fill="{INK}" '
                f'font-size="10">{v:.0f}{_t(unit)}</text>'
            )
    lx = float(left)
    for j, s in enumerate(series):
        out.append(
            f'<rect x="{_f(lx)}" y="{axis_y + 9}" width="10" height="10" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/><text x="{_f(lx + 14)}" y="{axis_y + 18}" '
            f'fill="{INK}">{_t(s.name)}</text>'
        )
        lx += 24 + _text_px(s.name)
    if not any(v is not None and not math.isnan(v) for s in series for v in s.values):
        out.append(
            f'<text class="empty" x="{_f(left + plot_w / 2)}" y="{_f(top + 20)}" '
            f'text-anchor="middle" fill="{MUTED}" font-size="14">{_t(empty)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def _hbar_label(label: str, x: float, mid: float) -> str:
    """A row's label, right-aligned at ``x``: one line, or two when long (the second cut
    short, the whole label in its ``<title>``)."""
    if len(label) <= HBAR_LABEL_CHARS:
        return (
            f'<text class="row-label" x="{_f(x)}" y="{_f(mid + 4)}" text-anchor="end" '
            f'fill="{INK}">{_t(label)}</text>'
        )
    cut = label.rfind(" ", 0, HBAR_LABEL_CHARS + 1)
    cut = cut if cut > 0 else HBAR_LABEL_CHARS
    first, rest = label[:cut].rstrip(), label[cut:].strip()
    if len(rest) > HBAR_LABEL_CHARS:
        rest = rest[: HBAR_LABEL_CHARS - 1].rstrip() + "…"
    return (
        f'<text class="row-label" x="{_f(x)}" y="{_f(mid - 2)}" text-anchor="end" '
        f'fill="{INK}"><title>{_t(label)}</title>{_t(first)}'
        f'<tspan x="{_f(x)}" dy="12">{_t(rest)}</tspan></text>'
    )


# ---------------------------------------------------------------- heat map


def heat_map(
    rows: Sequence[str],
    cols: Sequence[str],
    values: Mapping[tuple[str, str], float],
    *,
    counts: Mapping[tuple[str, str], int] | None = None,
    low: float = 0.0,
    high: float = 1.0,
    percent: bool = True,
    links: Mapping[str, str] | None = None,
    cell: int = 34,
    col_labels: Mapping[str, str] | None = None,
    cell_links: Mapping[tuple[str, str], str] | None = None,
) -> Markup:
    """Rows × columns of coloured cells: red at ``low``, green at ``high``.

    Parameters
    ----------
    rows, cols
        Row labels (agents) and column labels (items, weeks).
    values
        ``(row, col) → value``; a missing pair is an empty grey cell.
    counts
        ``(row, col) → n`` behind each value (shown in the tooltip).
    low, high
        The value range the colour scale spans.
    percent
        Print values as percentages (``0.83`` → ``83``) in the cells.
    links
        ``row → URL``: row labels become links (an agent's scorecard).
    cell
        Cell size in SVG units.
    col_labels
        ``col → label`` to write over a column instead of its key (an item's title; past
        :data:`HEAD_CHARS` cut short, its ``<title>`` holding it whole).
    cell_links
        ``(row, col) → URL``: a cell with a value links there (the calls behind it).

    Returns
    -------
    Markup
        ``<svg class="chart heat">``.
    """
    heads = {c: (col_labels or {}).get(c, c) for c in cols}
    label_w = min(max((len(r) for r in rows), default=4) * 7 + 12, 160)
    longest = max((_text_px(_cut(h, HEAD_CHARS)) for h in heads.values()), default=24.0)
    head_h = math.ceil(longest * math.sin(math.radians(50))) + 16
    # Column labels lean right at 50°: the last ones need room past the grid.
    width = label_w + cell * max(len(cols), 1) + int(head_h * 0.8) + 8
    height = head_h + cell * max(len(rows), 1) + 4
    out = [
        f'<svg class="chart heat" viewBox="0 0 {width} {height}" width="{width}" '
        f'role="img" xmlns="http://www.w3.org/2000/svg" {FONT} font-size="11" '
        f'aria-label="heat map">'
    ]
    for j, c in enumerate(cols):
        cx = label_w + j * cell + cell / 2
        head = _cut(heads[c], HEAD_CHARS)
        tip = f"<title>{_t(heads[c])}</title>" if head != heads[c] else ""
        out.append(
            f'<text transform="translate({_f(cx + 4)} {head_h - 6}) rotate(-50)" '
            f'fill="{INK}">{tip}{_t(head)}</text>'
        )
    for i, r in enumerate(rows):
        cy = head_h + i * cell
        link = links.get(r) if links else None
        text = (
            f'<text x="{label_w - 6}" y="{_f(cy + cell / 2 + 4)}" text-anchor="end" '
            f'fill="{"#1f5fae" if link else INK}">{_t(r)}</text>'
        )
        out.append(f'<a href="{_t(link)}">{text}</a>' if link else text)
        for j, c in enumerate(cols):
            v = values.get((r, c))
            x0 = label_w + j * cell
            n = counts.get((r, c)) if counts else None
            if v is None or math.isnan(v):
                out.append(
                    f'<rect x="{x0 + 1}" y="{cy + 1}" width="{cell - 2}" height="{cell - 2}" '
                    f'fill="#f2f4f6"><title>{_t(r)} · {_t(heads[c])}: no data</title></rect>'
                )
                continue
            shown = f"{v * 100:.0f}" if percent else f"{v:g}"
            tip = f"{_t(r)} · {_t(heads[c])}: {shown}{'%' if percent else ''}" + (
                f" of {n}" if n is not None else ""
            )
            colour = _heat_colour((v - low) / ((high - low) or 1.0))
            ink = "#fff" if abs((v - low) / ((high - low) or 1.0) - 0.5) > 0.3 else INK
            target = cell_links.get((r, c)) if cell_links else None
            square = (
                f'<rect x="{x0 + 1}" y="{cy + 1}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{colour}"><title>{tip}</title></rect>'
                f'<text x="{_f(x0 + cell / 2)}" y="{_f(cy + cell / 2 + 4)}" text-anchor="middle" '
                f'fill="{ink}" font-size="10">{shown}</text>'
            )
            out.append(f'<a class="cell" href="{_t(target)}">{square}</a>' if target else square)
    out.append("</svg>")
    return Markup("".join(out))


HEAD_CHARS = 32
"""A heat map's column label past this many characters is cut short (with a tooltip)."""


def _cut(label: str, chars: int) -> str:
    return label if len(label) <= chars else label[: chars - 1].rstrip() + "…"


def _heat_colour(t: float) -> str:
    """Red (0) → amber (0.5) → green (1), clamped."""
    t = min(max(t, 0.0), 1.0)
    stops = ((0.0, (179, 38, 30)), (0.5, (242, 169, 0)), (1.0, (30, 123, 52)))
    for (t0, c0), (t1, c1) in itertools.pairwise(stops):
        if t <= t1:
            u = (t - t0) / (t1 - t0)
            r, g, b = (round(a + (b_ - a) * u) for a, b_ in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#1e7b34"


# ---------------------------------------------------------------- shared parts

CHAR_PX = 6.5
"""How wide a character of the charts' 11-unit font is, roughly (a wide CJK one: 11)."""
TILT = 40
"""Degrees the x labels lean when they do not fit side by side."""
LABEL_CHARS = 16
"""A leaning x label longer than this is cut short; its ``<title>`` holds it whole."""
LEGEND_ROW = 16
"""Height of a row of the legend: entries that do not fit the width wrap to the next row."""


def _open(kind: str, width: int, height: int, label: str) -> str:
    return (
        f'<svg class="chart {kind}" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT} font-size="11" aria-label="{_t(label)}">'
    )


def _nice(v: float) -> float:
    """``v`` rounded up to 1, 2 or 5 × a power of ten (1 for nothing above zero)."""
    if v <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(v))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= v))


def _style(k: int) -> tuple[str, str]:
    """Series ``k``'s colour, and a dash attribute once the palette has gone round."""
    dash = ' stroke-dasharray="6 3"' if k >= len(PALETTE) else ""
    return PALETTE[k % len(PALETTE)], dash


def _text_px(text: str) -> float:
    return sum(11.0 if unicodedata.east_asian_width(c) in "WF" else CHAR_PX for c in text)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _label_step(labels: Sequence[str]) -> int:
    """Every ``step``-th x label is written: at most a dozen."""
    return max(1, math.ceil(len(labels) / 12))


def _ticks(y_min: float, y_max: float, *, integer: bool) -> tuple[float, ...]:
    """The y ticks: five from ``y_min`` to ``y_max``, or for counts whole numbers of a 1, 2
    or 5 × 10^k step up to the first at or over ``y_max``; an empty range spans 1.

    Examples
    --------
    >>> _ticks(0.0, 5.0, integer=True), _ticks(0.0, 0.0, integer=False)
    ((0.0, 1.0, 2.0, 3.0, 4.0, 5.0), (0.0, 0.25, 0.5, 0.75, 1.0))
    """
    span = y_max - y_min if y_max > y_min else 1.0
    if not integer:
        return tuple(y_min + span * k / 4 for k in range(5))
    steps = (m * 10**e for e in itertools.count() for m in (1, 2, 5))
    step = next(s for s in steps if span / s <= 5)
    return tuple(y_min + step * k for k in range(math.ceil(span / step) + 1))


@dataclass(frozen=True, slots=True)
class _PlotArea:
    """The plot of a line or bar chart: ``n`` label slots across, ``y_min``..``y_max`` up,
    with its x labels (flat, or leaning when they do not fit) and its legend rows below."""

    left: int
    top: int
    width: int
    height: int
    n: int
    ticks: tuple[float, ...]
    lean: bool
    """The x labels lean (and long ones are cut short with a tooltip)."""
    legend_at: tuple[tuple[float, float], ...]
    """``(x, y)`` of each legend entry, wrapped into rows."""
    total_height: int

    @classmethod
    def of(
        cls,
        labels: Sequence[str],
        legend: Sequence[str],
        *,
        width: int,
        height: int,
        unit: str,
        y_min: float,
        y_max: float,
        integer: bool = False,
    ) -> _PlotArea:
        """The area inside a ``width`` × ``height`` chart, with room for the tick labels;
        the chart grows down for leaning x labels and for legend rows past the first."""
        left, right, top, bottom = 44 + 6 * len(unit), 12, 12, 44
        plot_w, plot_h = width - left - right, height - top - bottom
        n = max(len(labels), 1)
        shown = labels[:: _label_step(labels)]
        slot = plot_w / n * _label_step(labels)
        lean = max((_text_px(lab) for lab in shown), default=0.0) > slot - 4
        drop = 0
        if lean:  # a leaning label hangs below the axis as far as it is long
            longest = max(_text_px(_short(lab)) for lab in shown)
            drop = max(0, math.ceil(longest * math.sin(math.radians(TILT)) + 8 - 14))
        legend_at, rows = [], 0
        x = float(left)
        for name in legend:
            w = 24 + _text_px(name)
            if x > left and x + w - 10 > width - right:
                x, rows = float(left), rows + 1
            legend_at.append((x, height - 8 + drop + LEGEND_ROW * rows))
            x += w
        ticks = _ticks(y_min, y_max, integer=integer)
        total = height + drop + LEGEND_ROW * rows
        return cls(left, top, plot_w, plot_h, n, ticks, lean, tuple(legend_at), total)

    @property
    def base(self) -> float:
        """The y of the x axis."""
        return self.top + self.height

    def x(self, i: int) -> float:
        """The middle of label slot ``i``."""
        return self.left + (i + 0.5) * self.width / self.n

    def y(self, v: float) -> float:
        """The y of value ``v``, clipped to the range."""
        y_min, y_max = self.ticks[0], self.ticks[-1]
        v = min(max(v, y_min), y_max)
        return self.base - (v - y_min) / ((y_max - y_min) or 1.0) * self.height

    def axes(self, labels: Sequence[str], unit: str) -> list[str]:
        """The y grid lines with their values, and the x labels (at most a dozen shown)."""
        out = []
        for v in self.ticks:
            yy = self.y(v)
            out.append(
                f'<line x1="{self.left}" x2="{_f(self.left + self.width)}" y1="{_f(yy)}" '
                f'y2="{_f(yy)}" stroke="{GRID}"/>'
                f'<text x="{self.left - 5}" y="{_f(yy + 4)}" text-anchor="end" fill="{MUTED}">'
                f"{v:g}{_t(unit)}</text>"
            )
        step = _label_step(labels)
        out.extend(self._x_label(i, lab) for i, lab in enumerate(labels) if i % step == 0)
        return out

    def _x_label(self, i: int, label: str) -> str:
        if not self.lean:
            return (
                f'<text x="{_f(self.x(i))}" y="{_f(self.base + 14)}" text-anchor="middle" '
                f'fill="{MUTED}">{_t(label)}</text>'
            )
        short = _short(label)
        tip = f"<title>{_t(label)}</title>" if short != label else ""
        return (
            f'<text class="lean" transform="translate({_f(self.x(i) + 3)} {_f(self.base + 10)}) '
            f'rotate(-{TILT})" text-anchor="end" fill="{MUTED}">{tip}{_t(short)}</text>'
        )

    def legend(self, series: Sequence[Series], *, target: bool = False, lines: bool = False) -> str:
        """A swatch and the name of each series (a dashed line for a dashed one; for
        ``lines``, a stroke with the series' point on it), then the target line's,
        wrapped into rows."""
        out = []
        for k, s in enumerate(series):
            x, y = self.legend_at[k]
            colour, dash = _style(k)
            stroke = (
                f'<line x1="{_f(x)}" x2="{_f(x + 10)}" y1="{_f(y - 4)}" y2="{_f(y - 4)}" '
                f'stroke="{colour}" stroke-width="2"{dash}/>'
            )
            if lines:
                swatch = stroke + _marker(k, x + 5, y - 4, colour, cls="key")
            elif dash:
                swatch = stroke
            else:
                swatch = (
                    f'<rect x="{_f(x)}" y="{_f(y - 9)}" width="10" height="10" fill="{colour}"/>'
                )
            out.append(
                f'{swatch}<text x="{_f(x + 14)}" y="{_f(y)}" fill="{INK}">{_t(s.name)}</text>'
            )
        if target:
            x, y = self.legend_at[len(series)]
            out.append(
                f'<line x1="{_f(x)}" x2="{_f(x + 16)}" y1="{_f(y - 4)}" y2="{_f(y - 4)}" '
                f'stroke="{INK}" stroke-dasharray="5 3"/><text x="{_f(x + 20)}" y="{_f(y)}" '
                f'fill="{INK}">target</text>'
            )
        return "".join(out)

    def finish(
        self,
        out: list[str],
        series: Sequence[Series],
        empty: str,
        *,
        target: bool = False,
        lines: bool = False,
    ) -> Markup:
        """The chart drawn so far in ``out`` with its legend, the note for no data, closed."""
        legend = self.legend(series, target=target, lines=lines)
        out += [legend, self.empty_note(series, empty), "</svg>"]
        return Markup("".join(out))

    def empty_note(self, series: Sequence[Series], text: str) -> str:
        """``text`` across the middle of the plot when no series has a value, else nothing."""
        if any(v is not None and not math.isnan(v) for s in series for v in s.values):
            return ""
        return (
            f'<text class="empty" x="{_f(self.left + self.width / 2)}" '
            f'y="{_f(self.top + self.height / 2)}" text-anchor="middle" fill="{MUTED}" '
            f'font-size="14">{_t(text)}</text>'
        )
