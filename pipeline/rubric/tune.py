"""``earmark rubric tune``: pick a meaning item's threshold from labelled examples.

A data engineer labels calls (or single lines) as having the item or not; each gets the
item's strongest meaning margin over its eligible utterances (``+inf`` when a phrase rule
of the item fires anyway, ``-inf`` when nothing is near an example). The threshold is the
one with the most recall the labels allow at the target precision (among equals, the
more precise, then the one nearest the current threshold).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline import errors
from pipeline.rubric.engine import CompiledItem, CompiledRubric, eligible_utterances, prepare_call
from pipeline.rubric.meaning import AnyDetector, MeaningDetector, UnlessDetector
from pipeline.types import Transcript


@dataclass(frozen=True, slots=True)
class TunePoint:
    threshold: float
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class TuneResult:
    item_id: str
    chosen: TunePoint | None
    """``None`` when no threshold reaches the target precision."""
    current: TunePoint
    """What the threshold now in the rubric gives on the same labels."""
    curve: tuple[TunePoint, ...]
    positives: int
    negatives: int


def meaning_of(compiled: CompiledItem) -> MeaningDetector:
    """The item's ``meaning.v1`` detector (alone, inside ``any.v1`` or ``unless.v1``)."""
    d = compiled.detector
    found = (
        d
        if isinstance(d, MeaningDetector)
        else d.meaning()
        if isinstance(d, (AnyDetector, UnlessDetector))
        else None
    )
    if found is None:
        raise errors.TUNE_ITEM(
            problem=f"item {compiled.item.id!r} has no meaning.v1 detector to tune "
            f"(its detector is {compiled.item.detector})"
        )
    return found


def item_margins(
    compiled: CompiledRubric, item_id: str, calls: Sequence[Transcript]
) -> list[float]:
    """Each call's strongest margin for the item (see the module docstring)."""
    target = next((c for c in compiled.items if c.item.id == item_id), None)
    if target is None:
        known = ", ".join(c.item.id for c in compiled.items)
        raise errors.TUNE_ITEM(
            problem=f"no item {item_id!r} in {compiled.rubric.source} (has {known})"
        )
    meaning = meaning_of(target)
    outer = target.detector
    inner = outer.finder if isinstance(outer, UnlessDetector) else outer
    others = inner.children if isinstance(inner, AnyDetector) else []
    margins = []
    for transcript in calls:
        call = prepare_call(transcript, compiled.analyzer)
        eligible = eligible_utterances(
            transcript, speaker=target.item.speaker, window=target.item.window
        )
        if isinstance(outer, UnlessDetector):
            eligible = outer.allowed(call, eligible)
        if any(o.find(call, eligible) for o in others if o is not meaning):
            margins.append(math.inf)
            continue
        scores = [m for m, _, _ in meaning.scores(call, eligible)]
        margins.append(max(scores, default=-math.inf))
    return margins


def pick_threshold(
    item_id: str,
    margins: Sequence[float],
    labels: Sequence[bool],
    *,
    precision: float,
    current: float,
) -> TuneResult:
    """The threshold with the most recall whose precision is at least ``precision`` on the
    labels; among equals, the more precise, then the one nearest ``current``.

    The candidates are every finite margin, ``current``, and just above the highest finite
    margin: a threshold where only the item's phrase rules (margin ``+inf``) fire.

    Examples
    --------
    >>> r = pick_threshold("x", [math.inf, math.inf, -0.3, -0.6], [True, True, False, False],
    ...                    precision=0.9, current=-0.25)
    >>> r.chosen.threshold, r.chosen.precision, r.chosen.recall
    (-0.25, 1.0, 1.0)
    """
    if len(margins) != len(labels):
        raise ValueError("one label per margin")
    finite = {m for m in margins if math.isfinite(m)}
    above_all = [max(finite) + 1e-4] if finite else []
    candidates = sorted(finite | {current, *above_all}, reverse=True)
    curve = tuple(_point(t, margins, labels) for t in candidates)
    good = [p for p in curve if p.precision >= precision and p.recall > 0]

    def rank(p: TunePoint) -> tuple[float, float, float]:
        return (p.recall, p.precision, -abs(p.threshold - current))

    chosen = max(good, key=rank) if good else None
    return TuneResult(
        item_id=item_id,
        chosen=chosen,
        current=_point(current, margins, labels),
        curve=curve,
        positives=sum(labels),
        negatives=len(labels) - sum(labels),
    )


MIN_LABELS = 30
"""Labels of each kind (present, absent) below which a proposed threshold is flagged as
resting on too few: with 10 labels one call moves precision by 0.1 or more."""


def few_labels_warning(result: TuneResult, margins: Sequence[float], labels: Sequence[bool]) -> str:
    """A warning when the labels are too few to trust the proposal (``""`` otherwise):
    how many there are, and the 95 % Wilson interval of the proposed (or current)
    threshold's precision on the hits it makes.

    Examples
    --------
    >>> margins, labels = [0.2, 0.1, 0.05, -0.1], [True, True, False, False]
    >>> r = pick_threshold("x", margins, labels, precision=0.9, current=0.0)
    >>> print(few_labels_warning(r, margins, labels))  # doctest: +NORMALIZE_WHITESPACE
    warning: only 2 labelled present and 2 absent (30 of each make a threshold worth
    trusting): precision 1.000 at threshold +0.1000 is 2 of 2 hits, anywhere in 0.34–1.00
    (95 % interval); label more before using it
    """
    if min(result.positives, result.negatives) >= MIN_LABELS:
        return ""
    point = result.chosen or result.current
    pairs = list(zip(margins, labels, strict=True))
    hits = sum(1 for m, _ in pairs if m >= point.threshold)
    tp = sum(1 for m, y in pairs if y and m >= point.threshold)
    lo, hi = wilson_interval(tp, hits)
    return (
        f"warning: only {result.positives} labelled present and {result.negatives} absent "
        f"({MIN_LABELS} of each make a threshold worth trusting): precision "
        f"{point.precision:.3f} at threshold {point.threshold:+.4f} is {tp} of {hits} hits, "
        f"anywhere in {lo:.2f}–{hi:.2f} (95 % interval); label more before using it"
    )


def wilson_interval(successes: int, trials: int, *, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (``(0, 1)`` with no trials).

    Examples
    --------
    >>> tuple(round(x, 3) for x in wilson_interval(5, 5))
    (0.566, 1.0)
    """
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    )
    return max(0.0, centre - half), min(1.0, centre + half)


def _point(threshold: float, margins: Sequence[float], labels: Sequence[bool]) -> TunePoint:
    tp = sum(1 for m, y in zip(margins, labels, strict=True) if y and m >= threshold)
    fp = sum(1 for m, y in zip(margins, labels, strict=True) if not y and m >= threshold)
    fn = sum(1 for m, y in zip(margins, labels, strict=True) if y and m < threshold)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return TunePoint(round(threshold, 4), round(p, 3), round(r, 3), round(f1, 3))
