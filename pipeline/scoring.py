"""From findings to a 0–100 score, a review decision, reasons in plain words and a priority."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.rubric.engine import CompiledRubric, evaluate
from pipeline.text import clock as clock  # where it was first; many import it from here
from pipeline.text import shorten
from pipeline.types import CallScore, Evidence, Finding, Span, Transcript

LOW_ASR_CONFIDENCE = 0.6


@dataclass(frozen=True, slots=True)
class PriorityWeights:
    """How urgent a call is for an inspector to *hear*: the weights of the priority formula.

    ``priority = critical × failed critical items
    + conduct × flagged items failed on the agent's words
    + signal × flagged items failed on the customer's words (dissatisfaction, escalation)
    + moment × further flagged moments (beyond the first of each item, at most max_moments)
    + strength × how surely the surest flagged failure fired (0–1: 1 for a phrase; a
    meaning hit by how far it cleared its threshold), so that within each band the
    outright complaint comes before the calm one the meaning model only just flagged
    + agitation when the customer's voice was agitated (z ≥ agitation_z)
    + unhappy when at least unhappy_count of the customer's utterances read a sentiment
    (−1…1, from the meaning vectors) of unhappy_below or lower: the first is usually why
    they called, a second one means the call did not put it right
    + low_asr when the ASR was unsure (mean word probability < low_asr_below)
    + low_score × (100 − score)``

    The weights are ordered so that what an inspector must hear comes first: any
    critical failure before any conduct problem, conduct before the customer's signals,
    and a signal (at least ``signal`` points) before the worst score a call can have
    only from missed scripted items (at most ``low_score × 100``), which the inspector
    can check by reading. ``[queue.priority]`` in ``earmark.toml`` sets them.
    """

    critical: float = 1000.0
    conduct: float = 400.0
    signal: float = 200.0
    moment: float = 20.0
    max_moments: int = 3
    strength: float = 100.0
    agitation: float = 100.0
    agitation_z: float = 3.0
    unhappy: float = 150.0
    unhappy_below: float = -0.8
    unhappy_count: int = 2
    low_asr: float = 20.0
    low_asr_below: float = LOW_ASR_CONFIDENCE
    low_score: float = 1.0


DEFAULT_WEIGHTS = PriorityWeights()


def call_priority(
    findings: Sequence[Finding],
    *,
    score: float,
    asr_confidence: float = 1.0,
    agitation_z: float = math.nan,
    unhappy_readings: int = 0,
    weights: PriorityWeights = PriorityWeights(),
) -> float:
    """The priority of one scored call (higher is more urgent): see :class:`PriorityWeights`.

    A flagged item counts as *conduct* when its evidence is the agent's words, as a
    customer *signal* otherwise (an escalation request, dissatisfaction).
    ``unhappy_readings`` is how many customer utterances read ``unhappy_below`` or lower.

    Examples
    --------
    >>> from pipeline.types import Evidence, Finding
    >>> angry = Finding("c", "r", 1, "customer_dissatisfaction", 1, True, "fail", 0.9,
    ...                 (Evidence("customer", 10, 12, "this is a joke"),), flag=True)
    >>> call_priority([angry], score=100.0)
    300.0
    >>> from dataclasses import replace
    >>> call_priority([replace(angry, strength=0.1)], score=100.0)  # only just flagged
    210.0
    >>> call_priority([], score=40.0)
    60.0
    """
    w = weights
    critical = sum(1 for f in findings if f.critical and f.outcome == "fail")
    flagged = [f for f in findings if f.flag and f.outcome == "fail"]
    conduct = sum(1 for f in flagged if any(e.speaker == "agent" for e in f.evidence))
    moments = sum(max(0, len(f.evidence) - 1) for f in flagged)
    surest = max((f.strength for f in flagged), default=0.0)
    agitated = agitation_z == agitation_z and agitation_z >= w.agitation_z
    unhappy = w.unhappy_count > 0 and unhappy_readings >= w.unhappy_count
    priority = (
        w.critical * critical
        + w.conduct * conduct
        + w.signal * (len(flagged) - conduct)
        + w.moment * min(moments, w.max_moments)
        + w.strength * surest
        + (w.agitation if agitated else 0.0)
        + (w.unhappy if unhappy else 0.0)
        + (w.low_asr if asr_confidence < w.low_asr_below else 0.0)
        + w.low_score * (100.0 - score)
    )
    return round(priority, 2)


def clock_span(start_s: float, end_s: float, *, sep: str = "-") -> str:
    """A stretch of a call as ``m:ss-m:ss``; one time when both ends fall in the same second
    (a word's evidence is often shorter than a second).

    Examples
    --------
    >>> clock_span(6.2, 7.9), clock_span(10.1, 10.4)
    ('0:06-0:07', '0:10')
    """
    start, end = clock(start_s), clock(end_s)
    return start if start == end else f"{start}{sep}{end}"


CRITICAL_PREFIX = "critical: "


def distinct_reasons(reasons: Sequence[str]) -> tuple[str, ...]:
    """A call's reasons as shown to people: each once.

    :func:`score_call` writes each reason once, but scores and queues stored before it did
    list a failed item that is both ``critical`` and a ``flag`` twice (``critical:
    forbidden_language — …`` and ``forbidden_language — …``) until that date is rescored;
    the second line says nothing new, so the places that show reasons still drop it.

    Examples
    --------
    >>> distinct_reasons(["critical: x — agent at 0:06", "x — agent at 0:06", "missed y"])
    ('critical: x — agent at 0:06', 'missed y')
    """
    critical = {r.removeprefix(CRITICAL_PREFIX) for r in reasons if r.startswith(CRITICAL_PREFIX)}
    out: list[str] = []
    for r in reasons:
        if r in out or (not r.startswith(CRITICAL_PREFIX) and r in critical):
            continue
        out.append(r)
    return tuple(out)


def _said(evidence: Sequence[Evidence]) -> str:
    """Who said what when; a measurement (a silence, overtalk) says itself in words (its
    evidence text, :func:`pipeline.metric_rows.measured`)."""
    first = evidence[0]
    if measurement(first):
        return first.text
    quote = shorten(first.text, 80)
    who = f"{first.speaker} " if first.speaker in ("agent", "customer") else ""
    return f'{who}at {clock(first.start_s)}: "{quote}"'


def measurement(evidence: Evidence) -> bool:
    """Whether the evidence is a measurement (``metric.v1``), not something said."""
    return measured_rule(evidence.rule)


def measured_rule(rule: str) -> bool:
    """Whether an evidence's rule is a ``metric.v1`` measurement's (``metric NAME OP VALUE``)."""
    return rule.startswith("metric ")


def _failed(f: Finding) -> str:
    """A failed item that fired, as a reason: its title and who said what when, or for a
    measurement only what was measured (the title names the item's pass: ``No long dead
    air``)."""
    if f.evidence and measurement(f.evidence[0]):
        return _said(f.evidence)
    return f"{f.title or f.item_id} — {_said(f.evidence)}" if f.evidence else f.title or f.item_id


def score_call(
    findings: Sequence[Finding],
    *,
    review_below: float = 70.0,
    asr_confidence: float = 1.0,
    weights: PriorityWeights = PriorityWeights(),
) -> CallScore:
    """Score one call against one rubric.

    The score is the share of applicable weight that passed (N/A items do not count);
    a failed critical item makes it 0. A call needs review when a critical item
    failed, the score is below ``review_below``, a ``flag`` item fired (escalation,
    dissatisfaction) or the ASR was unsure of what it heard.

    Parameters
    ----------
    findings
        One call's findings for one rubric (non-empty).
    review_below
        Scores under this need review.
    asr_confidence
        Mean word probability of the call's transcript.
    weights
        The priority formula's weights (:class:`PriorityWeights`).

    Returns
    -------
    CallScore
        With human-readable ``reasons`` and a ``priority`` (higher is more urgent).
    """
    if not findings:
        raise ValueError("score_call needs at least one finding")
    first = findings[0]
    applicable = [f for f in findings if f.outcome != "na" and f.weight > 0]
    total = sum(f.weight for f in applicable)
    passed = sum(f.weight for f in applicable if f.outcome == "pass")
    score = 100.0 * passed / total if total else 100.0
    critical = [f for f in findings if f.critical and f.outcome == "fail"]
    # A failed item that is critical and a flag is a reason once, in its critical form.
    flags = [f for f in findings if f.flag and f.outcome == "fail" and not f.critical]
    if critical:
        score = 0.0
    reasons: list[str] = []
    for f in critical:  # an item by its title: reasons are read by inspectors
        reasons.append(
            f"{CRITICAL_PREFIX}{_failed(f)}"
            if f.evidence
            else f"{CRITICAL_PREFIX}{f.title or f.item_id} failed"
        )
    reasons += [_failed(f) for f in flags]
    for f in applicable:
        if f.outcome == "fail" and not f.critical:
            what = f.title or f.item_id
            reasons.append(f"missed {f.item_id} ({what})" if not f.detected else _failed(f))
    low_asr = asr_confidence < weights.low_asr_below
    if low_asr:
        reasons.append(f"low ASR confidence ({asr_confidence:.2f}): transcript may be wrong")
    needs_review = bool(critical or flags or low_asr or score < review_below)
    if needs_review and score < review_below and not critical:
        reasons.insert(len(critical) + len(flags), f"score {score:.0f} below {review_below:.0f}")
    priority = call_priority(findings, score=score, asr_confidence=asr_confidence, weights=weights)
    return CallScore(
        call_id=first.call_id,
        rubric_id=first.rubric_id,
        rubric_version=first.rubric_version,
        score=round(score, 2),
        critical_failed=bool(critical),
        needs_review=needs_review,
        reasons=tuple(reasons),
        priority=priority,
    )


def assess(
    compiled: CompiledRubric,
    transcript: Transcript,
    *,
    metrics: Mapping[str, float] | None = None,
    metric_spans: Mapping[str, tuple[Span, ...]] | None = None,
    vectors: npt.NDArray[np.float32] | None = None,
) -> tuple[list[Finding], CallScore]:
    """Evaluate a rubric on a transcript and score it: the one path every command takes
    (the nightly flow, ``rescore``, ``rubric apply``, ``rubric explain``)."""
    findings = evaluate(
        compiled, transcript, metrics=metrics, metric_spans=metric_spans, vectors=vectors
    )
    score = score_call(
        findings,
        review_below=compiled.rubric.review_below,
        asr_confidence=transcript.asr_confidence,
    )
    return findings, score
