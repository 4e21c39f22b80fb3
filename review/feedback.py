"""Feedback over time: agent scorecards, team dashboards, coaching follow-ups.

The warehouse is summarised one ``call_date`` partition at a time into two small Arrow
tables (calls with their score; pass/fail counts per agent and item) and the summary is
kept until the partition's files change, so a dashboard over 90 days reads only the
nights written since it was last drawn. Inspector verdicts come from the review store:
an item is *confirmed* as the detector said when the inspector marked the finding
correct, flipped (pass ↔ fail) when they marked it incorrect, and read as there when they
added it as missed (see :func:`confirmed_items`): each is a reviewed judgement of the item.

The pass rates the pages coach from (the heat map, the weekly and per-item rates, the
follow-ups, the monthly focus) are *judged*: every call's detector outcome, except where an
inspector's current review says otherwise (a finding marked incorrect, or an item added as
missed): there the inspector's verdict wins (see :func:`judged_items`).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import warehouse as wh
from pipeline.config import Config, usable_cores
from pipeline.reason_store import period_start
from pipeline.shapes import columns
from review.calibration import ItemAgreement, calibrate
from review.items import ItemInfo, configured_items, not_skills
from review.store import NOT_APPLICABLE, CoachingSession, Review, ReviewStore

PRAISE_TARGET = (3.0, 5.0)
"""Praise points per point to improve that effective coaching keeps to (3:1 to 5:1)."""
_FLIP = {"pass": "fail", "fail": "pass"}


@functools.lru_cache(maxsize=4096)
def week_of(date: str) -> str:
    """The ISO week of a ``YYYY-MM-DD`` date.

    Examples
    --------
    >>> week_of("2026-12-03"), week_of("2027-01-01")
    ('2026-W49', '2026-W53')
    """
    year, week, _ = dt.date.fromisoformat(date).isocalendar()
    return f"{year}-W{week:02d}"


def month_days(month: str) -> tuple[str, str]:
    """First and last day of a ``YYYY-MM`` month.

    Examples
    --------
    >>> month_days("2026-12")
    ('2026-12-01', '2026-12-31')
    """
    first = dt.date.fromisoformat(f"{month}-01")
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.isoformat(), (nxt - dt.timedelta(days=1)).isoformat()


def confirmed_outcome(detector_outcome: str, verdict: str) -> str | None:
    """What the inspector says the item's outcome was (``None`` for an N/A item: the
    detector's ``na``, or the inspector's ``na`` verdict, neither a pass nor a fail).

    Examples
    --------
    >>> confirmed_outcome("fail", "incorrect"), confirmed_outcome("pass", "correct")
    ('pass', 'pass')
    >>> confirmed_outcome("fail", "na") is None
    True
    """
    if detector_outcome not in _FLIP or verdict == NOT_APPLICABLE:
        return None
    return detector_outcome if verdict == "correct" else _FLIP[detector_outcome]


# ---------------------------------------------------------------- partition summaries


@dataclass(frozen=True, slots=True)
class ScoredCall:
    """A row of :attr:`Summary.calls`: a call with its newest rubric's score."""

    call_id: str
    agent_id: str
    team_id: str
    call_date: str
    score: float | None


@dataclass(frozen=True, slots=True)
class ItemCount:
    """A row of :attr:`Summary.items`: an agent's detector outcomes of one item on one day."""

    agent_id: str
    team_id: str
    call_date: str
    item_id: str
    passed: int
    failed: int


@dataclass(frozen=True, slots=True)
class QueuedPlan:
    """A row of :attr:`Summary.queue`: a queued call and its plan's price to the budget
    (``queue.cost_s``, see :mod:`pipeline.queue`) as ``plan_s``."""

    call_id: str
    inspector: str
    kind: str
    agent_id: str
    team_id: str
    call_date: str
    plan_s: float


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """A row of :attr:`Summary.outcomes`: a judged (pass or fail) item of a call, as the
    detector said, under the call's chosen rubric version."""

    call_id: str
    item_id: str
    detected: bool
    outcome: str


_CALLS, _ITEMS, _QUEUE, _OUTCOMES = (
    pa.schema(columns(r)) for r in (ScoredCall, ItemCount, QueuedPlan, CallOutcome)
)


@dataclass(frozen=True, slots=True)
class Summary:
    """A date range of the warehouse, summarised (see :class:`FeedbackIndex`)."""

    calls: pa.Table
    """One :class:`ScoredCall` per call."""
    items: pa.Table
    """:class:`ItemCount` rows: detector pass/fail counts per agent, day and item."""
    queue: pa.Table
    """:class:`QueuedPlan` rows."""
    outcomes: pa.Table = field(default_factory=_OUTCOMES.empty_table)
    """:class:`CallOutcome` rows: what :attr:`items` counts, call by call (an inspector's
    verdict replaces one of them, see :func:`judged_items`)."""


DEFAULT_DAYS = 90  # the period a scorecard or dashboard shows unless asked


class FeedbackIndex:
    """Per-partition summaries of ``calls``, ``scores``, ``findings`` and ``queue``,
    re-read only for a partition whose files changed (thread-safe).

    Parameters
    ----------
    root
        Warehouse folder or URL.
    """

    _TABLES = ("calls", "scores", "findings", "queue")

    def __init__(self, root: str | Path) -> None:
        self.root = os.fspath(root)
        self._parts: dict[str, tuple[tuple[object, ...], Summary]] = {}
        self._lock = threading.Lock()

    def summary(self, first: str, last: str, *, team_id: str | None = None) -> Summary:
        """Calls, item counts and queue rows dated ``first``..``last`` (inclusive),
        of one team or of all."""
        dates = [d for d in wh.partition_dates(self.root, "calls") if first <= d <= last]
        with self._lock:
            stamps = {d: self._stamp(d) for d in dates}
            stale = [d for d in dates if self._parts.get(d, (None,))[0] != stamps[d]]
            # Parquet reads release the GIL: the first dashboard after a start reads its
            # nights on every core (Arrow's own pool decodes within each file).
            with ThreadPoolExecutor(max_workers=max(1, min(usable_cores(), len(stale)))) as pool:
                fresh = pool.map(lambda d: summarise_partition(self.root, d), stale)
                for d, summary in zip(stale, fresh, strict=True):
                    self._parts[d] = (stamps[d], summary)
            parts = [self._parts[d][1] for d in dates]
        calls = pa.concat_tables([p.calls for p in parts]) if parts else _CALLS.empty_table()
        items = pa.concat_tables([p.items for p in parts]) if parts else _ITEMS.empty_table()
        queue = pa.concat_tables([p.queue for p in parts]) if parts else _QUEUE.empty_table()
        outcomes = (
            pa.concat_tables([p.outcomes for p in parts]) if parts else _OUTCOMES.empty_table()
        )
        if team_id is not None:
            calls = calls.filter(pc.equal(calls["team_id"], team_id))
            items = items.filter(pc.equal(items["team_id"], team_id))
            queue = queue.filter(pc.equal(queue["team_id"], team_id))
            outcomes = outcomes.filter(pc.is_in(outcomes["call_id"], value_set=calls["call_id"]))
        return Summary(calls, items, queue, outcomes)

    def warm(self, days: int = DEFAULT_DAYS) -> None:
        """Read the newest ``days`` nights ahead of the first page that needs them (the
        review app does this in the background when it starts)."""
        dates = wh.partition_dates(self.root, "calls")
        if dates:
            self.summary(period_start(dates[-1], days), dates[-1])

    def _stamp(self, date: str) -> tuple[object, ...]:
        return tuple(wh.stamp(wh.partition_path(self.root, t, date)) for t in self._TABLES)


def summarise_partition(root: str | Path, date: str) -> Summary:
    """One night's calls (each with its newest rubric's score), detector item counts per
    agent, and queue rows."""
    calls = wh.read_partition(root, "calls", date, columns=["call_id", "agent_id", "team_id"])
    scores = wh.read_partition(root, "scores", date, columns=_SCORE_COLUMNS)
    findings = wh.read_partition(
        root,
        "findings",
        date,
        columns=["call_id", "rubric_id", "rubric_version", "item_id", "detected", "outcome"],
    )
    queue = wh.read_partition(
        root,
        "queue",
        date,
        columns=["call_id", "inspector", "kind", "agent_id", "team_id", "plan_s", "cost_s"],
    )
    if calls is None or calls.num_rows == 0:
        return Summary(_CALLS.empty_table(), _ITEMS.empty_table(), _QUEUE.empty_table())
    calls = calls.set_column(1, "agent_id", pc.fill_null(calls["agent_id"], ""))
    calls = calls.set_column(2, "team_id", pc.fill_null(calls["team_id"], ""))
    chosen = _newest_scores(scores)
    # Lookups by position (index_in + take) rather than Acero joins: a night's tables are
    # small and a join's set-up cost would be most of the first dashboard after a start.
    in_chosen = pc.index_in(calls["call_id"], value_set=chosen["call_id"])
    date_col = pa.array([date] * calls.num_rows, pa.string())
    call_table = pa.table(
        [
            calls["call_id"],
            calls["agent_id"],
            calls["team_id"],
            date_col,
            chosen["score"].take(in_chosen),
        ],
        schema=_CALLS,
    )
    items, outcomes = _ITEMS.empty_table(), _OUTCOMES.empty_table()
    if findings is not None and findings.num_rows and chosen.num_rows:
        kept = _chosen_findings(findings, chosen, calls)
        items = _item_counts(kept, calls, date)
        judged = kept.filter(pc.is_in(kept["outcome"], value_set=pa.array(["pass", "fail"])))
        outcomes = pa.table(
            [
                judged["call_id"],
                judged["item_id"],
                pc.fill_null(judged["detected"], False),
                judged["outcome"],
            ],
            schema=_OUTCOMES,
        )
    q = _QUEUE.empty_table()
    if queue is not None and queue.num_rows:
        q = pa.table(
            [
                queue["call_id"],
                queue["inspector"],
                queue["kind"],
                pc.fill_null(queue["agent_id"], ""),
                pc.fill_null(queue["team_id"], ""),
                pa.array([date] * queue.num_rows, pa.string()),
                # what the plan costs the budget (read stretches at reading speed); rows
                # written before plans were priced have their length only
                pc.fill_null(pc.coalesce(queue["cost_s"], queue["plan_s"]), 0.0),
            ],
            schema=_QUEUE,
        )
    return Summary(call_table, items, q, outcomes)


def _chosen_findings(findings: pa.Table, chosen: pa.Table, calls: pa.Table) -> pa.Table:
    """The findings of each call's chosen rubric version, of calls in ``calls`` only."""
    at = pc.index_in(findings["call_id"], value_set=chosen["call_id"])
    same_rubric = pc.and_(
        pc.equal(findings["rubric_id"], chosen["rubric_id"].take(at)),
        pc.equal(findings["rubric_version"], chosen["rubric_version"].take(at)),
    )
    kept = findings.filter(pc.fill_null(same_rubric, False))
    return kept.filter(pc.is_in(kept["call_id"], value_set=calls["call_id"]))


def _item_counts(kept: pa.Table, calls: pa.Table, date: str) -> pa.Table:
    """Passes and failures per agent and item of the chosen findings ``kept``."""
    whose = pc.index_in(kept["call_id"], value_set=calls["call_id"])
    outcome = kept["outcome"]
    counted = pa.table(
        {
            "agent_id": calls["agent_id"].take(whose),
            "team_id": calls["team_id"].take(whose),
            "item_id": kept["item_id"],
            "passed": pc.cast(pc.equal(outcome, "pass"), pa.int64()),
            "failed": pc.cast(pc.equal(outcome, "fail"), pa.int64()),
        }
    )
    grouped = counted.group_by(["agent_id", "team_id", "item_id"]).aggregate(
        [("passed", "sum"), ("failed", "sum")]
    )
    return pa.table(
        [
            grouped["agent_id"],
            grouped["team_id"],
            pa.array([date] * grouped.num_rows, pa.string()),
            grouped["item_id"],
            pc.fill_null(grouped["passed_sum"], 0),
            pc.fill_null(grouped["failed_sum"], 0),
        ],
        schema=_ITEMS,
    )


_SCORE_COLUMNS = ["call_id", "rubric_id", "rubric_version", "score"]


def _newest_scores(scores: pa.Table | None) -> pa.Table:
    """Each call's score under its first rubric's newest version (as the queue page shows)."""
    if scores is None or scores.num_rows == 0:
        return wh.SCHEMAS["scores"].empty_table().select(_SCORE_COLUMNS)
    ordered = scores.sort_by(
        [("call_id", "ascending"), ("rubric_id", "ascending"), ("rubric_version", "descending")]
    )
    ids = ordered["call_id"].to_pylist()
    first = [i for i, c in enumerate(ids) if i == 0 or ids[i - 1] != c]
    return ordered.take(pa.array(first, pa.int64()))


# ---------------------------------------------------------------- shared tallies


@dataclass(frozen=True, slots=True)
class Rate:
    """A pass rate with what it is made of."""

    passed: int = 0
    failed: int = 0

    @property
    def n(self) -> int:
        return self.passed + self.failed

    @property
    def rate(self) -> float:
        """passed / (passed + failed); NaN with nothing judged."""
        return self.passed / self.n if self.n else math.nan

    def __add__(self, other: Rate) -> Rate:
        return Rate(self.passed + other.passed, self.failed + other.failed)


def _rates(items: pa.Table, keys: Sequence[str]) -> dict[tuple[str, ...], Rate]:
    if items.num_rows == 0:
        return {}
    g = items.group_by(list(keys)).aggregate([("passed", "sum"), ("failed", "sum")])
    cols = [g[k].to_pylist() for k in keys]
    passed, failed = g["passed_sum"].to_pylist(), g["failed_sum"].to_pylist()
    return {
        tuple(c[i] for c in cols): Rate(int(passed[i] or 0), int(failed[i] or 0))
        for i in range(g.num_rows)
    }


def _weeks_of(items: pa.Table) -> pa.Table:
    dates = pc.unique(items["call_date"])
    weeks = pa.array([week_of(d) for d in dates.to_pylist()], pa.string())
    return items.append_column("week", pc.take(weeks, pc.index_in(items["call_date"], dates)))


def _score_counts(calls: pa.Table, key: str) -> dict[str, tuple[int, float]]:
    """``key value → (scored calls, their mean score)`` (NaN when none has a score): a call
    with no score (quarantined, not scored) is in neither, so the two agree."""
    if calls.num_rows == 0:
        return {}
    g = calls.group_by(key).aggregate([("score", "count"), ("score", "mean")])
    return {
        k: (int(n), math.nan if m is None else float(m))
        for k, n, m in zip(
            g[key].to_pylist(),
            g["score_count"].to_pylist(),
            g["score_mean"].to_pylist(),
            strict=True,
        )
    }


def confirmed_rates(
    reviews: Iterable[Review],
    key: Mapping[str, tuple[str, ...]],
    *,
    skip: Container[str] = frozenset(),
    detector: Mapping[tuple[str, str], tuple[bool, str]] | None = None,
) -> dict[tuple[str, ...], Rate]:
    """Inspector-confirmed pass/fail per ``key[call_id] + (item_id,)`` (calls not in
    ``key``, and items in ``skip``, are left out): each item a review judged, as
    :func:`confirmed_items` reads it against the ``detector``'s outcomes
    (:func:`detector_outcomes`)."""
    counts: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for r in reviews:
        if r.call_id not in key:
            continue
        for item_id, said in confirmed_items(r, detector or {}).items():
            if item_id not in skip:
                counts[(*key[r.call_id], item_id)][said != "pass"] += 1
    return {k: Rate(p, f) for k, (p, f) in counts.items()}


def confirmed_items(
    review: Review, detector: Mapping[tuple[str, str], tuple[bool, str]]
) -> dict[str, str]:
    """``item_id → "pass" | "fail"`` of every item the ``review`` judged, as the inspector
    says it went: a finding marked correct or incorrect (:func:`confirmed_outcome`), and an
    item added as missed, whose behaviour was there: the detector's outcome on the call
    (``detector[(call_id, item_id)] = (detected, outcome)``) where it heard it, the other
    one where it did not, as :func:`judged_items` reads it (an item also marked is read as
    missed, as :func:`inspector_heard` does). A missed item the detector left N/A (its
    ``expect`` is not known here), or that ``detector`` lacks, is not judged.

    Examples
    --------
    >>> from review.store import FindingVerdict as V, MissedItem
    >>> rude = V("r", 1, "rude", True, "fail", "incorrect")
    >>> missed = (MissedItem("empathy", 9.0), MissedItem("closing", 30.0))
    >>> detector = {("c1", "empathy"): (False, "fail")}
    >>> confirmed_items(Review("c1", "lena", findings=(rude,), missed=missed), detector)
    {'rude': 'pass', 'empathy': 'pass'}
    """
    out: dict[str, str] = {}
    for f in review.findings:
        said = confirmed_outcome(f.detector_outcome, f.verdict)
        if said is not None:
            out[f.item_id] = said
    marked = {f.item_id: (f.detected, f.detector_outcome) for f in review.findings}
    unfit = not_applicable(review)
    for m in review.missed:
        if m.item_id in unfit:  # no occasion for it wins, as in judged_items
            continue
        detected, outcome = marked.get(m.item_id) or detector.get(
            (review.call_id, m.item_id), (False, "")
        )
        if outcome in _FLIP:  # heard, as the detector said or against it
            out[m.item_id] = outcome if detected else _FLIP[outcome]
    return out


def detector_outcomes(
    outcomes: pa.Table, reviews: Iterable[Review]
) -> dict[tuple[str, str], tuple[bool, str]]:
    """``(call_id, item_id) → (detected, outcome)`` of :attr:`Summary.outcomes` for the
    items the ``reviews`` added as missed (what :func:`confirmed_items` reads them against)."""
    wanted = {(r.call_id, m.item_id) for r in reviews for m in r.missed}
    if not wanted or outcomes.num_rows == 0:
        return {}
    calls = pa.array(sorted({c for c, _i in wanted}), pa.string())
    mine = outcomes.filter(pc.is_in(outcomes["call_id"], value_set=calls))
    return {
        (c, i): (bool(d), o)
        for c, i, d, o in zip(*mine.to_pydict().values(), strict=True)
        if (c, i) in wanted
    }


def inspector_heard(review: Review) -> dict[str, bool]:
    """``item_id → whether the behaviour was there``, as the review says: a finding marked
    correct was as the detector heard it, one marked incorrect the other way round, and an
    item added as missed was there. An item marked not applicable is not in it (see
    :func:`not_applicable`).

    Examples
    --------
    >>> from review.store import FindingVerdict as V, MissedItem
    >>> rude = V("r", 1, "rude", True, "fail", "incorrect")
    >>> hold = V("r", 1, "hold", False, "fail", "na")
    >>> missed = (MissedItem("empathy", 9.0),)
    >>> inspector_heard(Review("c1", "lena", findings=(rude, hold), missed=missed))
    {'rude': False, 'empathy': True}
    """
    heard = {
        f.item_id: f.detected != (f.verdict == "incorrect")
        for f in review.findings
        if f.verdict != NOT_APPLICABLE
    }
    heard.update(dict.fromkeys((m.item_id for m in review.missed), True))
    return heard


def not_applicable(review: Review) -> frozenset[str]:
    """The items the review marked not applicable: the call gave no occasion for them."""
    return frozenset(f.item_id for f in review.findings if f.verdict == NOT_APPLICABLE)


def judged_items(summary: Summary, reviews: Iterable[Review]) -> pa.Table:
    """:attr:`Summary.items` with the inspectors' verdicts winning: for each reviewed call
    and item where the review says the behaviour was (or was not) there against what the
    detector heard, the detector's pass becomes a fail or its fail a pass.

    An item the detector left N/A stays N/A (its ``expect`` is not known here); a pass or
    fail the inspector marked not applicable is taken out (the call counts for neither). The rows
    added are :class:`ItemCount` corrections (a ``-1`` and a ``+1``), so every grouping of
    the table (per agent, week, item) sums to the judged counts.
    """
    by_call = {r.call_id: r for r in reviews}
    if not by_call or summary.outcomes.num_rows == 0:
        return summary.items
    mine = summary.outcomes.filter(
        pc.is_in(summary.outcomes["call_id"], value_set=pa.array(list(by_call), pa.string()))
    )
    calls = summary.calls
    row_of = {c: k for k, c in enumerate(calls["call_id"].to_pylist())}
    agents, teams = calls["agent_id"].to_pylist(), calls["team_id"].to_pylist()
    dates = calls["call_date"].to_pylist()
    heard = {c: inspector_heard(r) for c, r in by_call.items()}
    unfit = {c: not_applicable(r) for c, r in by_call.items()}
    fixes: dict[str, list[object]] = defaultdict(list)
    for c, item, detected, outcome in zip(*mine.to_pydict().values(), strict=True):
        if c not in row_of:
            continue
        judged = judged_outcome(item, detected, outcome, heard=heard[c], unfit=unfit[c])
        if judged == outcome:
            continue
        if judged is None:  # no occasion for it: the detector's pass or fail taken out
            passed, failed = (-1, 0) if outcome == "pass" else (0, -1)
        else:
            step = 1 if outcome == "fail" else -1  # fail → pass: one more pass, one fewer fail
            passed, failed = step, -step
        k = row_of[c]
        for name, value in (
            ("agent_id", agents[k]),
            ("team_id", teams[k]),
            ("call_date", dates[k]),
            ("item_id", item),
            ("passed", passed),
            ("failed", failed),
        ):
            fixes[name].append(value)
    if not fixes:
        return summary.items
    return pa.concat_tables([summary.items, pa.table(fixes, schema=_ITEMS)])


def judged_outcome(
    item_id: str,
    detected: bool,
    outcome: str,
    *,
    heard: Mapping[str, bool],
    unfit: Container[str],
) -> str | None:
    """A call's detector ``outcome`` (``pass``/``fail``) of an item, with its review winning:
    ``None`` where the review marked the item not applicable (``unfit``, see
    :func:`not_applicable`), the other outcome where it says the behaviour was there or not
    (``heard``, see :func:`inspector_heard`) against what the detector heard.

    Examples
    --------
    >>> judged_outcome("empathy", False, "fail", heard={"empathy": True}, unfit=())
    'pass'
    >>> judged_outcome("hold", True, "pass", heard={}, unfit={"hold"}) is None
    True
    """
    if item_id in unfit:
        return None
    said = heard.get(item_id)
    return outcome if said is None or said == detected else _FLIP[outcome]


def _skills(items: pa.Table, skip: frozenset[str]) -> pa.Table:
    """Item counts without the items in ``skip`` (not the agent's skills)."""
    if not skip or items.num_rows == 0:
        return items
    return items.filter(
        pc.invert(pc.is_in(items["item_id"], value_set=pa.array(sorted(skip), pa.string())))
    )


def _pass_of(rates: Mapping[tuple[str, ...], Rate], prefix: tuple[str, ...]) -> Rate:
    total = Rate()
    for k, v in rates.items():
        if k[: len(prefix)] == prefix:
            total = total + v
    return total


# ---------------------------------------------------------------- agent scorecard


@dataclass(frozen=True, slots=True)
class WeekRow:
    """One week of an agent (or a team)."""

    week: str
    calls: int
    score: float
    """Mean detector score (NaN: no scored call)."""
    detector: Rate
    """Judged pass rate: the detector's, with the inspector's verdict winning where one
    exists (:func:`judged_items`)."""
    reviewed: int
    confirmed: Rate


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One rubric item over the period: detector, inspector-confirmed and judged pass rates."""

    item_id: str
    detector: Rate
    confirmed: Rate
    judged: Rate = Rate()
    """Every call, the inspector's verdict winning where one exists (:func:`judged_items`)."""


@dataclass(frozen=True, slots=True)
class ReviewedCall:
    """A reviewed call of the agent, with its current review."""

    call_id: str
    call_date: str
    score: float
    review: Review


@dataclass(frozen=True, slots=True)
class UnreviewedCall:
    """A call of the agent no inspector has reviewed, with the skills it failed (as the
    detector heard them): where a lead goes from a red cell."""

    call_id: str
    call_date: str
    score: float
    failed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ItemCall:
    """A call behind an agent's cell of the team heat map: its item's outcome as the
    detector heard it and as judged (:func:`judged_outcome`), and who reviewed it."""

    call_id: str
    call_date: str
    detector: str
    """``pass`` or ``fail``."""
    judged: str
    """``pass``, ``fail``, or ``na``: the inspector marked it not applicable, and the call
    counts neither way."""
    reviewer: str = ""
    """Who saved the call's current review (``""``: not reviewed)."""


def item_calls(
    summary: Summary, reviews: Iterable[Review], agent_id: str, item_id: str
) -> tuple[ItemCall, ...]:
    """The calls of ``agent_id`` in ``summary`` with a pass or fail of ``item_id``, newest
    first: what the agent's cell of that item in the heat map is made of."""
    calls = summary.calls.filter(pc.equal(summary.calls["agent_id"], agent_id))
    date_of = dict(zip(calls["call_id"].to_pylist(), calls["call_date"].to_pylist(), strict=True))
    outcomes = summary.outcomes.filter(
        pc.and_(
            pc.is_in(summary.outcomes["call_id"], value_set=calls["call_id"]),
            pc.equal(summary.outcomes["item_id"], item_id),
        )
    )
    by_call = {r.call_id: r for r in reviews if r.call_id in date_of}
    rows = []
    for c, _item, detected, outcome in zip(*outcomes.to_pydict().values(), strict=True):
        r = by_call.get(c)
        judged = (
            judged_outcome(
                item_id, detected, outcome, heard=inspector_heard(r), unfit=not_applicable(r)
            )
            if r
            else outcome
        )
        rows.append(ItemCall(c, date_of[c], outcome, judged or "na", r.reviewer if r else ""))
    return tuple(sorted(rows, key=lambda x: (x.call_date, x.call_id), reverse=True))


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The "check" of a coaching session: the coached item before and since."""

    session: CoachingSession
    before: Rate
    since: Rate

    @property
    def verdict(self) -> str:
        """``better``, ``worse``, ``same`` or ``too early`` (no judged call since)."""
        if not self.since.n or not self.before.n:
            return "too early"
        delta = self.since.rate - self.before.rate
        return "better" if delta > 0.05 else "worse" if delta < -0.05 else "same"


@dataclass(frozen=True, slots=True)
class Scorecard:
    """Everything the agent scorecard shows."""

    agent_id: str
    team_id: str
    first: str
    last: str
    weeks: tuple[WeekRow, ...]
    items: tuple[ItemRow, ...]
    reviewed: tuple[ReviewedCall, ...]
    highlights: tuple[tuple[str, str, str], ...]
    """``(call_id, call_date, why)``: queued as a highlight, or reviewed as excellent."""
    sessions: tuple[CoachingSession, ...]
    follow_ups: tuple[FollowUp, ...]
    praise: int
    criticism: int
    answers: Mapping[str, str] = field(default_factory=dict)
    """``call_id → "acknowledge" | "dispute"``: the agent's latest answer to its review."""
    titles: Mapping[str, str] = field(default_factory=dict)
    """``item_id → title`` of the configured rubrics' items."""
    unreviewed: tuple[UnreviewedCall, ...] = ()
    """The agent's calls not reviewed yet, newest first."""
    customers: tuple[CustomerItem, ...] = ()
    """What the customers did in the agent's calls (:func:`customer_items`): context, in no
    rate."""


def scorecard(
    index: FeedbackIndex,
    store: ReviewStore,
    agent_id: str,
    *,
    first: str,
    last: str,
    reviews: Sequence[Review] | None = None,
    items: Mapping[str, ItemInfo] | None = None,
) -> Scorecard:
    """An agent's weeks, items, reviewed calls, highlights and coaching, ``first``..``last``.

    Parameters
    ----------
    index
        The warehouse summaries.
    store
        Reviews and coaching sessions.
    agent_id
        The agent.
    first, last
        Inclusive ``YYYY-MM-DD`` bounds.
    reviews
        The current reviews to use (default: every call's latest).
    items
        The configured rubrics' items (:func:`review.items.configured_items`): those that
        are not the agent's skills (the customer's, informational) are left out.
    """
    skip = not_skills(items or {})
    s = index.summary(first, last)
    calls = _weeks_of(s.calls.filter(pc.equal(s.calls["agent_id"], agent_id)))
    counts = _weeks_of(_skills(s.items.filter(pc.equal(s.items["agent_id"], agent_id)), skip))
    ids, dates = calls["call_id"].to_pylist(), calls["call_date"].to_pylist()
    scores = calls["score"].to_pylist()
    teams = calls["team_id"].to_pylist()
    week = dict(zip(ids, calls["week"].to_pylist(), strict=True))
    all_reviews = list(reviews if reviews is not None else store.latest_reviews())
    mine = [r for r in all_reviews if r.call_id in week]
    judged = _skills(judged_items(s, mine), skip)
    judged = _weeks_of(judged.filter(pc.equal(judged["agent_id"], agent_id)))
    detector = detector_outcomes(s.outcomes, mine)
    by_item = confirmed_rates(mine, {c: () for c in week}, skip=skip, detector=detector)
    det_item = _rates(counts, ["item_id"])
    judged_item = _rates(judged, ["item_id"])
    weeks = _week_rows(
        first, last, _score_counts(calls, "week"), judged, mine, week, skip=skip, detector=detector
    )
    item_ids = sorted({k[0] for k in det_item} | {k[0] for k in by_item})
    score_of = dict(zip(ids, scores, strict=True))
    date_of = dict(zip(ids, dates, strict=True))
    reviewed = tuple(
        sorted(
            (
                ReviewedCall(r.call_id, date_of[r.call_id], _num(score_of[r.call_id]), r)
                for r in mine
            ),
            key=lambda rc: (rc.call_date, rc.review.saved_at),
            reverse=True,
        )
    )
    q = s.queue.filter(pc.equal(s.queue["agent_id"], agent_id))
    highlights = {
        c: (c, d, "highlight of the day")
        for c, d, k in zip(
            q["call_id"].to_pylist(), q["call_date"].to_pylist(), q["kind"].to_pylist(), strict=True
        )
        if k == "highlight"
    }
    for rc in reviewed:
        if rc.review.overall == "excellent":
            highlights[rc.call_id] = (rc.call_id, rc.call_date, f"excellent ({rc.review.reviewer})")
    sessions = tuple(store.sessions([agent_id]))
    return Scorecard(
        agent_id=agent_id,
        team_id=max(set(teams), key=teams.count) if teams else "",
        first=first,
        last=last,
        weeks=weeks,
        items=tuple(
            ItemRow(
                i,
                det_item.get((i,), Rate()),
                by_item.get((i,), Rate()),
                judged_item.get((i,), Rate()),
            )
            for i in item_ids
        ),
        reviewed=reviewed,
        highlights=tuple(sorted(highlights.values(), key=lambda h: h[1], reverse=True)),
        sessions=sessions,
        follow_ups=tuple(
            follow_up(index, x, last=last, reviews=all_reviews) for x in sessions if x.item_id
        ),
        praise=sum(len(x.strengths) for x in sessions),
        criticism=sum(len(x.improvements) for x in sessions),
        answers={a.call_id: a.kind for a in store.responses(agent_id=agent_id)},
        titles={i: info.title for i, info in (items or {}).items()},
        unreviewed=_unreviewed(s.outcomes, calls, {r.call_id for r in mine}, skip=skip),
        customers=customer_items(
            s.outcomes.filter(pc.is_in(s.outcomes["call_id"], value_set=calls["call_id"])),
            mine,
            items or {},
        ),
    )


def _unreviewed(
    outcomes: pa.Table, calls: pa.Table, reviewed: set[str], *, skip: frozenset[str]
) -> tuple[UnreviewedCall, ...]:
    """The ``calls`` not in ``reviewed``, newest first, each with its failed skills."""
    failed: dict[str, list[str]] = defaultdict(list)
    mine = outcomes.filter(
        pc.and_(
            pc.is_in(outcomes["call_id"], value_set=calls["call_id"]),
            pc.equal(outcomes["outcome"], "fail"),
        )
    )
    for c, item in zip(mine["call_id"].to_pylist(), mine["item_id"].to_pylist(), strict=True):
        if item not in skip:
            failed[c].append(item)
    rows = [
        UnreviewedCall(c, d, _num(score), tuple(sorted(failed[c])))
        for c, d, score in zip(
            calls["call_id"].to_pylist(),
            calls["call_date"].to_pylist(),
            calls["score"].to_pylist(),
            strict=True,
        )
        if c not in reviewed
    ]
    return tuple(sorted(rows, key=lambda u: (u.call_date, u.call_id), reverse=True))


def follow_up(
    index: FeedbackIndex,
    session: CoachingSession,
    *,
    last: str,
    days: int = 28,
    reviews: Iterable[Review] = (),
) -> FollowUp:
    """The coached item's judged pass rate (the detector's, the ``reviews`` winning where
    they say otherwise) in the agent's calls of the ``days`` before the session and in
    those since it (up to ``last``)."""
    held = dt.date.fromisoformat(session.held_on)
    start = (held - dt.timedelta(days=days)).isoformat()
    s = index.summary(start, max(last, session.held_on))
    judged = judged_items(s, reviews)
    items = judged.filter(
        pc.and_(
            pc.equal(judged["agent_id"], session.agent_id),
            pc.equal(judged["item_id"], session.item_id),
        )
    )
    before, since = Rate(), Rate()
    for d, p, f in zip(
        items["call_date"].to_pylist(),
        items["passed"].to_pylist(),
        items["failed"].to_pylist(),
        strict=True,
    ):
        if d < session.held_on:
            before = before + Rate(p, f)
        elif d > session.held_on:
            since = since + Rate(p, f)
    return FollowUp(session, before, since)


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _from_first_call(weeks: Iterable[WeekRow]) -> tuple[WeekRow, ...]:
    """The weeks from the first one with a call (a new agent's chart starts with them)."""
    rows = list(weeks)
    start = next((k for k, w in enumerate(rows) if w.calls), len(rows))
    return tuple(rows[start:])


def _week_range(first: str, last: str) -> list[str]:
    d, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    weeks: list[str] = []
    while d <= end:
        w = week_of(d.isoformat())
        if not weeks or weeks[-1] != w:
            weeks.append(w)
        d += dt.timedelta(days=1)
    return weeks


# ---------------------------------------------------------------- team dashboard


@dataclass(frozen=True, slots=True)
class Listening:
    """An inspector's listening on a team: minutes of plan reviewed against the budget."""

    inspector: str
    days: int
    """Days the inspector had a queue with this team's calls."""
    budget_min: float
    """Budget per day (``[[inspectors]] budget_minutes``)."""
    queued_min: float
    listened_min: float
    """Plan minutes of the queued calls of this team the inspector reviewed."""

    @property
    def per_day(self) -> float:
        return self.listened_min / self.days if self.days else 0.0


@dataclass(frozen=True, slots=True)
class CustomerItem:
    """What a team's customers did on one ``speaker: customer`` item (an escalation request,
    dissatisfaction): context for whoever coaches the team, never a pass or fail of an
    agent's (:mod:`review.items`)."""

    item_id: str
    calls: int
    """The calls the item was checked on (a pass or fail; N/A, or marked not applicable by
    an inspector, is neither)."""
    happened: int
    """Of them, the calls in which the customer did it: as the detector heard it, an
    inspector's review winning (:func:`inspector_heard`)."""

    @property
    def share(self) -> float:
        """happened / calls; NaN with no call checked."""
        return self.happened / self.calls if self.calls else math.nan


def customer_items(
    outcomes: pa.Table, reviews: Iterable[Review], items: Mapping[str, ItemInfo]
) -> tuple[CustomerItem, ...]:
    """The ``speaker: customer`` ``items`` checked in the calls of ``outcomes``
    (:attr:`Summary.outcomes`), the most frequent first."""
    ids = sorted(i for i, info in items.items() if info.speaker == "customer")
    if not ids or outcomes.num_rows == 0:
        return ()
    mine = outcomes.filter(pc.is_in(outcomes["item_id"], value_set=pa.array(ids, pa.string())))
    by_call = {r.call_id: r for r in reviews}
    heard = {c: inspector_heard(r) for c, r in by_call.items()}
    unfit = {c: not_applicable(r) for c, r in by_call.items()}
    calls: Counter[str] = Counter()
    happened: Counter[str] = Counter()
    for c, item, detected, _outcome in zip(*mine.to_pydict().values(), strict=True):
        if item in unfit.get(c, ()):
            continue
        calls[item] += 1
        happened[item] += bool(heard.get(c, {}).get(item, detected))
    rows = [CustomerItem(i, calls[i], happened[i]) for i in calls]
    return tuple(sorted(rows, key=lambda x: (-x.share, x.item_id)))


@dataclass(frozen=True, slots=True)
class TeamView:
    """Everything the team dashboard (and the monthly report) shows."""

    team_id: str
    first: str
    last: str
    agents: tuple[str, ...]
    items: tuple[str, ...]
    """The agents' skills judged in the period: the customer's and informational items
    (:mod:`review.items`) are not among them, nor in any rate."""
    weeks: tuple[WeekRow, ...]
    heat: Mapping[tuple[str, str], Rate]
    """``(agent, item)`` → judged pass rate: the detector's, the inspector's verdict
    winning where one exists (:func:`judged_items`)."""
    confirmed: Mapping[tuple[str, str], Rate]
    """``(agent, item)`` → inspector-confirmed pass rate."""
    coverage: Mapping[tuple[str, str], int]
    """``(agent, week)`` → reviewed calls, for every week the agent took calls."""
    coverage_target: int
    agent_calls: Mapping[str, int]
    agent_scores: Mapping[str, float]
    listening: tuple[Listening, ...]
    agreement: tuple[ItemAgreement, ...]
    sessions: tuple[CoachingSession, ...]
    titles: Mapping[str, str] = field(default_factory=dict)
    """``item_id → title`` of the configured rubrics' items."""
    customers: tuple[CustomerItem, ...] = ()
    """What the team's customers did (:func:`customer_items`): context, in no rate."""

    @property
    def coverage_met(self) -> float:
        """Share of agent-weeks with at least the target of reviewed calls."""
        if not self.coverage or not self.coverage_target:
            return math.nan
        met = sum(n >= self.coverage_target for n in self.coverage.values())
        return met / len(self.coverage)


def team_view(
    index: FeedbackIndex,
    store: ReviewStore,
    config: Config,
    team_id: str,
    *,
    first: str,
    last: str,
    reviews: Sequence[Review] | None = None,
) -> TeamView:
    """A team's agents × items, weekly trend, coverage, listening and agreement.

    Parameters
    ----------
    index
        The warehouse summaries.
    store
        Reviews and coaching sessions.
    config
        The coverage target (``[queue] coverage_per_week``) and inspectors' budgets.
    team_id
        The team.
    first, last
        Inclusive ``YYYY-MM-DD`` bounds.
    reviews
        The current reviews to use (default: every call's latest).
    """
    s = index.summary(first, last, team_id=team_id)
    calls = _weeks_of(s.calls)
    all_reviews = reviews if reviews is not None else store.latest_reviews()
    # Python touches only the reviewed calls; the rest is grouped by Arrow.
    wanted = pa.array([r.call_id for r in all_reviews], pa.string())
    seen = calls.filter(pc.is_in(calls["call_id"], value_set=wanted))
    agent = dict(zip(seen["call_id"].to_pylist(), seen["agent_id"].to_pylist(), strict=True))
    week = dict(zip(seen["call_id"].to_pylist(), seen["week"].to_pylist(), strict=True))
    mine = [r for r in all_reviews if r.call_id in week]
    catalogue = configured_items(config)
    skip = not_skills(catalogue)
    items = _weeks_of(_skills(judged_items(s, mine), skip))
    heat = {(a, i): v for (a, i), v in _rates(items, ["agent_id", "item_id"]).items()}
    detector = detector_outcomes(s.outcomes, mine)
    confirmed = confirmed_rates(
        mine, {c: (a,) for c, a in agent.items()}, skip=skip, detector=detector
    )
    per_agent = _score_counts(calls, "agent_id")
    pairs = calls.group_by(["agent_id", "week"]).aggregate([])
    coverage = dict.fromkeys(
        zip(pairs["agent_id"].to_pylist(), pairs["week"].to_pylist(), strict=True), 0
    )
    for r in mine:
        coverage[(agent[r.call_id], week[r.call_id])] += 1
    agents_of = list(per_agent)
    weeks = _week_rows(
        first, last, _score_counts(calls, "week"), items, mine, week, skip=skip, detector=detector
    )
    agents = tuple(sorted(set(agents_of)))
    return TeamView(
        team_id=team_id,
        first=first,
        last=last,
        agents=agents,
        items=tuple(sorted({i for _a, i in heat})),
        titles={i: info.title for i, info in catalogue.items()},
        weeks=weeks,
        heat=heat,
        confirmed={(k[0], k[1]): v for k, v in confirmed.items()},
        coverage=dict(coverage),
        coverage_target=config.queue.coverage_per_week,
        agent_calls={a: n for a, (n, _m) in per_agent.items()},
        agent_scores={a: m for a, (_n, m) in per_agent.items()},
        listening=_listening(s.queue, mine, config),
        agreement=tuple(calibrate(mine)[0]),
        sessions=tuple(store.sessions(agents)) if agents else (),
        customers=customer_items(s.outcomes, mine, catalogue),
    )


def _week_rows(
    first: str,
    last: str,
    scores: Mapping[str, tuple[int, float]],
    items: pa.Table,
    reviews: Sequence[Review],
    week: Mapping[str, str],
    *,
    skip: frozenset[str] = frozenset(),
    detector: Mapping[tuple[str, str], tuple[bool, str]] | None = None,
) -> tuple[WeekRow, ...]:
    """The weeks ``first``..``last`` from the first with a call: ``scores`` (calls, mean
    score) and detector ``items`` (with their ``week``) per week, and the ``reviews`` of
    the calls ``week`` dates (their missed items read against ``detector``, see
    :func:`confirmed_rates`)."""
    det_week = _rates(items, ["week"])
    by_week = confirmed_rates(
        reviews, {c: (w,) for c, w in week.items()}, skip=skip, detector=detector
    )
    reviewed = Counter(week[r.call_id] for r in reviews)
    return _from_first_call(
        WeekRow(
            w,
            *scores.get(w, (0, math.nan)),
            det_week.get((w,), Rate()),
            reviewed[w],
            _pass_of(by_week, (w,)),
        )
        for w in _week_range(first, last)
    )


def _listening(queue: pa.Table, reviews: Sequence[Review], config: Config) -> tuple[Listening, ...]:
    budgets = {i.name: i.budget_minutes for i in config.inspectors}
    by_call = {(r.call_id, r.reviewer) for r in reviews}
    days: dict[str, set[str]] = defaultdict(set)
    queued: dict[str, float] = defaultdict(float)
    listened: dict[str, float] = defaultdict(float)
    for c, who, d, plan in zip(
        queue["call_id"].to_pylist(),
        queue["inspector"].to_pylist(),
        queue["call_date"].to_pylist(),
        queue["plan_s"].to_pylist(),
        strict=True,
    ):
        days[who].add(d)
        queued[who] += plan / 60
        if (c, who) in by_call:
            listened[who] += plan / 60
    return tuple(
        Listening(who, len(days[who]), budgets.get(who, math.nan), queued[who], listened[who])
        for who in sorted(days)
    )
