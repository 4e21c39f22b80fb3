"""Review queues: which calls an inspector listens to, and exactly which moments.

A queued call carries its *listening plan*: the evidence moments of its findings with
context before and after, merged where they overlap. Its cost is the plan's length,
not the call's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.types import CallScore, Finding, QueueEntry, Span

CONTEXT_BEFORE_S = 3.0
CONTEXT_AFTER_S = 5.0
MISSED_ITEM_SPAN_S = 20.0
"""A missed greeting or closing has no evidence: listen to the call's opening and end."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A scored call, with what the queue needs to plan and explain it."""

    score: CallScore
    findings: tuple[Finding, ...]
    duration_s: float
    agent_id: str = ""
    team_id: str = ""


def listening_plan(
    findings: Sequence[Finding],
    *,
    duration_s: float,
    before_s: float = CONTEXT_BEFORE_S,
    after_s: float = CONTEXT_AFTER_S,
) -> tuple[Span, ...]:
    """The moments to listen to, in time order, overlaps merged.

    Every piece of evidence of a failed or flagged item gives a span widened by
    ``before_s``/``after_s``; an item that failed because nothing was found adds the
    opening and closing of the call, where scripted items are said.

    Examples
    --------
    >>> from pipeline.types import Evidence, Finding
    >>> f = Finding("c", "r", 1, "rude", 1, True, "fail", 0.9, (Evidence("agent", 10, 12, "…"),))
    >>> listening_plan([f], duration_s=60)
    (Span(start_s=7.0, end_s=17.0),)
    """
    spans: list[Span] = []
    for f in findings:
        if f.outcome != "fail":
            continue
        if f.evidence:
            spans.extend(
                Span(max(0.0, e.start_s - before_s), min(duration_s, e.end_s + after_s))
                for e in f.evidence
            )
        else:
            spans.append(Span(0.0, min(duration_s, MISSED_ITEM_SPAN_S)))
            spans.append(Span(max(0.0, duration_s - MISSED_ITEM_SPAN_S), duration_s))
    return merge_spans(spans)


def merge_spans(spans: Sequence[Span]) -> tuple[Span, ...]:
    """Sort spans and merge the ones that overlap or touch."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start_s, s.end_s)):
        if merged and span.start_s <= merged[-1].end_s:
            last = merged[-1]
            merged[-1] = Span(last.start_s, max(last.end_s, span.end_s))
        else:
            merged.append(span)
    return tuple(Span(round(s.start_s, 3), round(s.end_s, 3)) for s in merged)


def build_review_queue(
    candidates: Sequence[Candidate], *, date: str, inspector: str = "unassigned"
) -> list[QueueEntry]:
    """Every call that needs review, most urgent first (ties by call id, so stable).

    This is the queue without inspector configuration: one list, no budget.
    """
    due = sorted(
        (c for c in candidates if c.score.needs_review),
        key=lambda c: (-c.score.priority, c.score.score, c.score.call_id),
    )
    return [
        QueueEntry(
            inspector=inspector,
            date=date,
            rank=rank,
            call_id=c.score.call_id,
            kind="review",
            priority=c.score.priority,
            reasons=c.score.reasons,
            plan=listening_plan(c.findings, duration_s=c.duration_s),
            agent_id=c.agent_id,
            team_id=c.team_id,
        )
        for rank, c in enumerate(due, 1)
    ]
