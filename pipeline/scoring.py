"""From findings to a 0–100 score, a review decision, reasons in plain words and a priority."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from pipeline.rubric.engine import CompiledRubric, evaluate
from pipeline.types import CallScore, Evidence, Finding, Span, Transcript

LOW_ASR_CONFIDENCE = 0.6
PRIORITY_CRITICAL = 1000.0
PRIORITY_FLAG = 50.0
PRIORITY_LOW_ASR = 20.0


def clock(seconds: float) -> str:
    """``75.4`` → ``"1:15"``: how inspectors read times in a call."""
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _said(evidence: Sequence[Evidence]) -> str:
    first = evidence[0]
    quote = first.text if len(first.text) <= 80 else first.text[:77] + "..."
    return f'{first.speaker} at {clock(first.start_s)}: "{quote}"'


def score_call(
    findings: Sequence[Finding],
    *,
    review_below: float = 70.0,
    asr_confidence: float = 1.0,
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
    flags = [f for f in findings if f.flag and f.outcome == "fail"]
    if critical:
        score = 0.0
    reasons: list[str] = []
    for f in critical:
        reasons.append(
            f"critical: {f.item_id} — {_said(f.evidence)}"
            if f.evidence
            else f"critical: {f.item_id} failed"
        )
    for f in flags:
        reasons.append(f"{f.item_id} — {_said(f.evidence)}" if f.evidence else f"{f.item_id}")
    for f in applicable:
        if f.outcome == "fail" and not f.critical:
            what = f.title or f.item_id
            reasons.append(
                f"missed {f.item_id} ({what})"
                if not f.detected
                else f"{f.item_id} — {_said(f.evidence)}"
            )
    low_asr = asr_confidence < LOW_ASR_CONFIDENCE
    if low_asr:
        reasons.append(f"low ASR confidence ({asr_confidence:.2f}): transcript may be wrong")
    needs_review = bool(critical or flags or low_asr or score < review_below)
    if needs_review and score < review_below and not critical:
        reasons.insert(len(critical) + len(flags), f"score {score:.0f} below {review_below:.0f}")
    priority = (
        PRIORITY_CRITICAL * len(critical)
        + PRIORITY_FLAG * len(flags)
        + (PRIORITY_LOW_ASR if low_asr else 0.0)
        + (100.0 - score)
    )
    return CallScore(
        call_id=first.call_id,
        rubric_id=first.rubric_id,
        rubric_version=first.rubric_version,
        score=round(score, 2),
        critical_failed=bool(critical),
        needs_review=needs_review,
        reasons=tuple(reasons),
        priority=round(priority, 2),
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
