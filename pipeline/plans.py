"""Listening plans: which stretches of a call an inspector hears and which they read.

A plan holds stretches to **hear** (the evidence of conduct, dissatisfaction,
escalation, agitation, overtalk, with context before and after) and stretches to
**read** in the transcript (where a missed scripted item should have been said, a long
silence), merged where they overlap: the overlap is heard. Its cost to the
inspector's budget is its price (:meth:`PlanOptions.price_s`): heard seconds count in
full, read seconds at the reading speed. :mod:`pipeline.queue` chooses the calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.config import READ_METRICS
from pipeline.intervals import Interval, from_spans, minus, to_spans, union
from pipeline.types import Finding, PlanKind, PlanSpan, Span

if TYPE_CHECKING:
    from pipeline.rubric.schema import Rubric


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """How listening plans are drawn and priced (``[queue]`` in ``earmark.toml``)."""

    before_s: float = 3.0
    """Context heard before each piece of evidence."""
    after_s: float = 5.0
    """Context heard after each piece of evidence."""
    missed_item_max_s: float = 30.0
    """A missed scripted item is read in its own window (the rubric item's ``window``,
    else the whole call), capped to this many seconds from the window's anchor: the
    start for ``first_*`` windows and windowless items, the end for ``last_*``."""
    read_speed: float = 4.0
    """How many times faster reading a stretch of transcript is than hearing it."""
    read_metrics: tuple[str, ...] = READ_METRICS
    """Metric items whose evidence (a silence, a hold) is read, not heard: there is
    nothing to hear in it, the transcript around it says why it happened."""

    def price_s(self, plan: Iterable[PlanSpan]) -> float:
        """Heard seconds plus read seconds divided by ``read_speed``."""
        return round(
            sum(s.duration_s / (self.read_speed if s.kind == "read" else 1.0) for s in plan), 3
        )


DEFAULT_PLAN = PlanOptions()


def item_windows(rubric: Rubric, *, duration_s: float) -> dict[str, tuple[float, float]]:
    """Each windowed item's window in a call of ``duration_s`` seconds.

    Examples
    --------
    >>> from pipeline.rubric.schema import load_rubric
    >>> windows = item_windows(load_rubric("rubrics/en/inbound-support.yaml"), duration_s=300.0)
    >>> windows["greeting"], windows["closing"]
    ((0.0, 30.0), (240.0, 300.0))
    """
    out: dict[str, tuple[float, float]] = {}
    for item in rubric.items:
        if item.window is not None:
            lo, hi = item.window.bounds(duration_s)
            out[item.id] = (float(lo), float(hi))
    return out


def listening_plan(
    findings: Sequence[Finding],
    *,
    duration_s: float,
    windows: Mapping[str, tuple[float, float]] | None = None,
    options: PlanOptions = DEFAULT_PLAN,
) -> tuple[PlanSpan, ...]:
    """The stretches to hear and to read, in time order, overlaps merged.

    Every piece of evidence of a failed or flagged item is *heard*, widened by
    ``options.before_s``/``after_s``, except the evidence of silence and hold metrics
    (``options.read_metrics``), which is *read*. An item that failed because nothing
    was found (a missed greeting, a missed closing) is *read* in its own window
    (``windows``; the whole call when it has none), at most ``missed_item_max_s`` of it.
    Where a heard and a read stretch overlap, the overlap is heard.

    Examples
    --------
    >>> from pipeline.types import Evidence, Finding
    >>> rude = Finding("c", "r", 1, "rude", 1, True, "fail", 0.9, (Evidence("agent", 10, 12, "…"),))
    >>> no_close = Finding("c", "r", 1, "closing", 1, False, "fail", 0.0)
    >>> listening_plan([rude, no_close], duration_s=100, windows={"closing": (40.0, 100.0)})
    (PlanSpan(start_s=7.0, end_s=17.0, kind='hear'), PlanSpan(start_s=70.0, end_s=100.0, kind='read'))
    """
    spans: list[PlanSpan] = []
    for f in findings:
        if f.outcome != "fail":
            continue
        if f.evidence:
            for e in f.evidence:
                kind: PlanKind = "read" if _read_metric(e.rule, options) else "hear"
                spans.append(
                    PlanSpan(
                        max(0.0, e.start_s - options.before_s),
                        min(duration_s, e.end_s + options.after_s),
                        kind,
                    )
                )
        else:
            lo, hi = (windows or {}).get(f.item_id, (0.0, duration_s))
            lo, hi = max(0.0, lo), min(duration_s, hi)
            cap = options.missed_item_max_s
            if hi - lo > cap:
                lo, hi = (hi - cap, hi) if hi >= duration_s and lo > 0 else (lo, lo + cap)
            spans.append(PlanSpan(lo, hi, "read"))
    return merge_plan(spans)


def _read_metric(rule: str, options: PlanOptions) -> bool:
    parts = rule.split()
    return len(parts) >= 2 and parts[0] == "metric" and parts[1] in options.read_metrics


def merge_plan(spans: Sequence[PlanSpan]) -> tuple[PlanSpan, ...]:
    """Merge heard and read stretches: each kind's overlaps joined, the read cut where heard.

    Examples
    --------
    >>> merge_plan([PlanSpan(0, 30, "read"), PlanSpan(10, 15, "hear"), PlanSpan(12, 20, "hear")])
    (PlanSpan(start_s=0.0, end_s=10.0, kind='read'), PlanSpan(start_s=10.0, end_s=20.0, kind='hear'), PlanSpan(start_s=20.0, end_s=30.0, kind='read'))
    """
    heard = _joined(spans, "hear")
    read = minus(_joined(spans, "read"), heard)
    out = [PlanSpan(a, b, "hear") for a, b in heard] + [PlanSpan(a, b, "read") for a, b in read]
    return tuple(sorted(out, key=lambda s: (s.start_s, s.end_s)))


def _joined(spans: Sequence[PlanSpan], kind: PlanKind) -> list[Interval]:
    """The stretches of one kind, merged (in ms, as :func:`merge_spans`)."""
    return from_spans(merge_spans([Span(s.start_s, s.end_s) for s in spans if s.kind == kind]))


def merge_spans(spans: Sequence[Span]) -> tuple[Span, ...]:
    """Sort spans and merge the ones that overlap or touch (empty ones kept)."""
    return to_spans(union(from_spans(spans), keep_empty=True))


def heard_plan(
    starts: Sequence[float], ends: Sequence[float], *, duration_s: float, options: PlanOptions
) -> tuple[PlanSpan, ...]:
    """The moments ``starts[i]``..``ends[i]`` heard with their context, merged."""
    spans = [
        PlanSpan(max(0.0, a - options.before_s), min(duration_s, b + options.after_s))
        for a, b in zip(starts, ends, strict=True)
    ]
    return merge_plan(spans)
