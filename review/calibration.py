"""Calibration: how often each rubric item's detector agrees with the inspectors.

From each reviewed call's current review (the latest save), per rubric item:

- a finding the detector *detected* (it heard the behaviour) and the inspector marked
  correct is a true positive; marked incorrect, a false positive;
- a finding *not detected* that the inspector marked incorrect, or any item the
  inspector added as missed, is a false negative (once per call and item);
- a finding not detected and marked correct, with nothing added, is a true negative;
- a detection marked incorrect with the item added as missed elsewhere counts as both a
  false positive and a false negative (it fired at the wrong moment);
- a finding not detected and marked not applicable (``na``: the item had no occasion on
  the call) is neither a hit nor a miss: it is counted apart and not among the calls
  reviewed; a *detected* finding marked not applicable is a false positive (the detector
  heard the behaviour on a call that gave it no occasion: a hold on a call with no hold).

Precision = TP / (TP + FP), recall = TP / (TP + FN): low precision means the detector
fires on the wrong words (tighten its phrases); low recall means it misses how agents
really say it (add phrases or examples).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.scoring import clock
from review.formats import pct
from review.store import NOT_APPLICABLE, MissedItem, Review, ReviewStore, default_database_url


@dataclass(frozen=True, slots=True)
class ItemAgreement:
    """Detector-versus-inspector counts for one rubric item."""

    item_id: str
    reviewed: int = 0
    """Reviewed calls that judged the item (a finding with a verdict other than not
    applicable on an undetected finding, or a missed item)."""
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    na: int = 0
    """Calls whose inspector marked an undetected item not applicable (in none of the
    above; a detection marked so is a false positive)."""

    @property
    def precision(self) -> float:
        """TP / (TP + FP); NaN when the detector never fired on a reviewed call."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    @property
    def recall(self) -> float:
        """TP / (TP + FN); NaN when the behaviour was never there on a reviewed call."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan

    @property
    def agreement(self) -> float:
        """(TP + TN) / reviewed."""
        return (self.tp + self.tn) / self.reviewed if self.reviewed else math.nan


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One call and item where the inspector and the detector disagree."""

    call_id: str
    item_id: str
    kind: str
    """``false positive`` or ``false negative``."""
    detector: str
    inspector: str
    reviewer: str
    saved_at: str
    note: str = ""
    at_s: float | None = None


def calibrate(reviews: Iterable[Review]) -> tuple[list[ItemAgreement], list[Disagreement]]:
    """Per-item agreement and the list of disagreements over current reviews.

    Parameters
    ----------
    reviews
        The current review of each call (see :meth:`ReviewStore.latest_reviews`).

    Returns
    -------
    tuple[list[ItemAgreement], list[Disagreement]]
        Items sorted by id; disagreements by call, then item.

    Examples
    --------
    >>> from review.store import FindingVerdict, MissedItem
    >>> r = Review("c1", "lena", findings=(
    ...     FindingVerdict("r", 1, "greeting", True, "pass", "correct"),
    ...     FindingVerdict("r", 1, "rude", True, "fail", "incorrect"),
    ...     FindingVerdict("r", 1, "hold", False, "fail", "na"),
    ...     FindingVerdict("r", 1, "transfer", True, "pass", "na")),
    ...     missed=(MissedItem("empathy", 12.0),))
    >>> items, diffs = calibrate([r])
    >>> [(i.item_id, i.reviewed, i.tp, i.fp, i.fn, i.na) for i in items]  # doctest: +NORMALIZE_WHITESPACE
    [('empathy', 1, 0, 0, 1, 0), ('greeting', 1, 1, 0, 0, 0),
     ('hold', 0, 0, 0, 0, 1), ('rude', 1, 0, 1, 0, 0), ('transfer', 1, 0, 1, 0, 0)]
    >>> [(d.item_id, d.kind, d.inspector) for d in diffs if d.item_id == "transfer"]
    [('transfer', 'false positive', 'no occasion')]
    """
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    diffs: dict[tuple[str, str, str], Disagreement] = {}
    for review in reviews:
        missed: dict[str, list[MissedItem]] = defaultdict(list)
        for m in review.missed:
            missed[m.item_id].append(m)
        for f in review.findings:
            if f.verdict == NOT_APPLICABLE and not f.detected:  # no occasion: neither
                counts[f.item_id]["na"] += 1
                continue
            counts[f.item_id]["reviewed"] += 1
            for cell in _cells(f.detected, f.verdict, f.item_id in missed):
                counts[f.item_id][cell] += 1
            if f.verdict != "correct":
                d = _disagreement(
                    review, f.item_id, "fp" if f.detected else "fn", f.detected, f.note
                )
                if f.verdict == NOT_APPLICABLE:  # detected on a call with no occasion for it
                    d = replace(d, inspector="no occasion")
                diffs[(d.call_id, d.item_id, d.kind)] = d
        judged = {f.item_id for f in review.findings if f.detected or f.verdict != NOT_APPLICABLE}
        for item_id, found in missed.items():
            if item_id not in judged:
                counts[item_id]["reviewed"] += 1
                counts[item_id]["fn"] += 1
            first = min(found, key=lambda m: m.at_s)
            d = _disagreement(review, item_id, "fn", False, first.note, at_s=first.at_s)
            diffs[(d.call_id, d.item_id, d.kind)] = d
    items = [
        ItemAgreement(item, c["reviewed"], c["tp"], c["fp"], c["fn"], c["tn"], c["na"])
        for item, c in sorted(counts.items())
    ]
    return items, [diffs[k] for k in sorted(diffs)]


def _cells(detected: bool, verdict: str, missed: bool) -> tuple[str, ...]:
    if detected:
        if verdict == "correct":
            return ("tp",)  # a further occurrence added as missed: the call-level call was right
        return ("fp", "fn") if missed else ("fp",)  # fired at the wrong moment, missed the real one
    return ("fn",) if verdict == "incorrect" or missed else ("tn",)


def _disagreement(
    review: Review, item_id: str, cell: str, detected: bool, note: str, *, at_s: float | None = None
) -> Disagreement:
    return Disagreement(
        call_id=review.call_id,
        item_id=item_id,
        kind="false positive" if cell == "fp" else "false negative",
        detector="detected"
        if detected
        else ("not reported here" if at_s is not None else "not detected"),
        inspector="not there"
        if cell == "fp"
        else ("heard at " + clock(at_s) if at_s is not None else "there"),
        reviewer=review.reviewer,
        saved_at=review.saved_at,
        note=note,
        at_s=at_s,
    )


def calibration_report(warehouse: str | Path, database_url: str | None = None) -> str:
    """The calibration table as plain text (``earmark calibration report``).

    Parameters
    ----------
    warehouse
        Warehouse folder (its ``reviews.sqlite`` is the default database).
    database_url
        The review database, when not the default.

    Returns
    -------
    str
        One line per rubric item (reviewed, TP, FP, FN, TN, not applicable, precision,
        recall), then
        the calls where inspectors and detectors disagree.
    """
    store = ReviewStore(database_url or default_database_url(warehouse))
    try:
        items, diffs = calibrate(store.latest_reviews())
    finally:
        store.close()
    if not items:
        return "no reviews yet: nothing to calibrate\n"
    head = f"{'item':<28} {'reviewed':>8} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4} {'n/a':>4} {'precision':>9} {'recall':>7}"
    lines = [head, "-" * len(head)]
    lines += [
        f"{i.item_id:<28} {i.reviewed:>8} {i.tp:>4} {i.fp:>4} {i.fn:>4} {i.tn:>4} {i.na:>4} "
        f"{pct(i.precision):>9} {pct(i.recall):>7}"
        for i in items
    ]
    if diffs:
        lines += ["", "disagreements:"]
        lines += [
            f"  {d.call_id}  {d.item_id}: {d.kind} (detector {d.detector}, inspector: {d.inspector})"
            f" — {d.reviewer} {d.saved_at[:16].replace('T', ' ')}"
            + (f" — {d.note}" if d.note else "")
            for d in diffs
        ]
    return "\n".join(lines) + "\n"
