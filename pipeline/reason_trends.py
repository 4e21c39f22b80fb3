"""What is rising: each contact reason's calls per day and week against its usual share.

The test, for one reason in one window (a day, or the 7 days to it), overall or in one
team: ``c`` calls of ``N`` in the window, ``b`` of ``B`` in the
:attr:`~pipeline.reasons.ReasonOptions.baseline_days` before it. Under the usual share
the count is Poisson with mean ``λ = N · (b + ½) / (B + 1)`` (the ½ keeps a reason never
seen before from having an expectation of zero). With fewer than ``min_baseline_calls``
calls, or fewer than ``min_baseline_days`` days with calls, in the baseline nothing is
flagged (there is no usual level yet). Otherwise the
reason is flagged when

- ``c ≥ min_count`` (a few calls are not a trend),
- ``c ≥ min_ratio · λ`` (the share at least doubled, by default), and
- ``P(X ≥ c) < p_value`` under that Poisson (the jump is not chance: 0.001 by default,
  which over ~20 reasons × 2 windows × a few teams a night is about one false alarm a month).

A reason with no call in the baseline is flagged ``new``; one seen before, ``share``.
The same test runs on the dissatisfaction and escalation rates within a reason (its
dissatisfied calls against its usual rate, or the whole center's when it is new).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.contacts import contact_time
from pipeline.reasons import DEFAULT_OPTIONS, Reason, ReasonOptions

SIGNALS = ("new", "share", "dissatisfaction", "escalation")


@dataclass(frozen=True, slots=True)
class ReasonCall:
    """One call with its reason and what the trends need of it."""

    call_id: str
    call_date: str
    reason_id: str
    team_id: str = ""
    customer_id: str = ""
    started_at: str = ""
    dissatisfied: bool = False
    escalated: bool = False
    start_s: float = 0.0
    """Where its problem statement starts (the moment to play)."""
    end_s: float = 0.0
    repeat_of: str = ""
    """The same customer's earlier call about the same reason, as the night linked it
    (an earlier call before the period counts too)."""


@dataclass(frozen=True, slots=True)
class Rising:
    """A flagged reason: what rose, where, by how much, with example calls."""

    reason_id: str
    signal: str
    """``new``, ``share`` (its share of calls jumped), ``dissatisfaction`` or ``escalation``."""
    window: str
    """``day`` or ``week`` (the 7 days to the date)."""
    date: str
    team_id: str
    """``""``: the whole center."""
    count: int
    total: int
    """Calls in the window (all of them for new/share; the reason's for the rates)."""
    expected: float
    p_value: float
    calls: tuple[str, ...]
    """The calls that make up ``count`` (examples first: the earliest)."""

    @property
    def ratio(self) -> float:
        return self.count / self.expected if self.expected > 0 else math.inf

    def why(self, label: str = "") -> str:
        """One line a lead reads."""
        where = f"team {self.team_id}" if self.team_id else "all teams"
        what = {
            "new": "new reason",
            "share": "share of calls up",
            "dissatisfaction": "dissatisfied customers up",
            "escalation": "escalations up",
        }[self.signal]
        named = f"{self.reason_id} “{label}”" if label else self.reason_id
        return (
            f"{named}: {what} ({self.window} to {self.date}, {where}): {self.count} of "
            f"{self.total} calls, {self.expected:.1f} expected (p {self.p_value:.1g})"
        )


def poisson_tail(count: int, mean: float) -> float:
    """``P(X ≥ count)`` for ``X ~ Poisson(mean)``.

    Examples
    --------
    >>> round(poisson_tail(3, 0.5), 4)
    0.0144
    """
    if count <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    below = sum(math.exp(k * math.log(mean) - mean - math.lgamma(k + 1)) for k in range(count))
    return max(0.0, 1.0 - below)


def _window(date: str, days: int, baseline_days: int) -> tuple[str, str, str]:
    """First day of the window, of its baseline, and the window's last day (``date``)."""
    last = dt.date.fromisoformat(date)
    first = last - dt.timedelta(days=days - 1)
    base = first - dt.timedelta(days=baseline_days)
    return first.isoformat(), base.isoformat(), date


def rising_reasons(
    calls: Sequence[ReasonCall],
    *,
    date: str,
    options: ReasonOptions = DEFAULT_OPTIONS,
    by_team: bool = True,
) -> list[Rising]:
    """Every flag for ``date``: per window (day, week), overall and per team, per signal.

    ``calls`` should hold the calls of the window and of its baseline (more is ignored).
    Sorted most surprising first.
    """
    teams = sorted({c.team_id for c in calls if c.team_id}) if by_team else []
    out: list[Rising] = []
    for window, days in (("day", 1), ("week", 7)):
        first, base, last = _window(date, days, options.baseline_days)
        for team in ["", *teams]:
            mine = [c for c in calls if not team or c.team_id == team]
            now = [c for c in mine if first <= c.call_date <= last]
            before = [c for c in mine if base <= c.call_date < first]
            if not now or not _enough(before, options):
                continue
            flags = _share_flags(now, before, options) + _rate_flags(now, before, options)
            out.extend(
                Rising(rid, signal, window, date, team, c, n, e, p, ids)
                for rid, signal, c, n, e, p, ids in flags
            )
    out.sort(key=lambda r: (r.p_value, -r.count, r.window, r.team_id, r.reason_id, r.signal))
    return out


_Flag = tuple[str, str, int, int, float, float, tuple[str, ...]]


def _enough(before: Sequence[ReasonCall], options: ReasonOptions) -> bool:
    """Whether the baseline holds a usual level: enough calls, on enough days."""
    days = len({c.call_date for c in before})
    return len(before) >= max(1, options.min_baseline_calls) and days >= options.min_baseline_days


def _share_flags(
    now: Sequence[ReasonCall], before: Sequence[ReasonCall], options: ReasonOptions
) -> list[_Flag]:
    counts = Counter(c.reason_id for c in now)
    usual = Counter(c.reason_id for c in before)
    flags = []
    for rid, count in sorted(counts.items()):
        expected = len(now) * (usual[rid] + 0.5) / (len(before) + 1)
        flag = _surprising(count, expected, options)
        if flag is not None:
            signal = "share" if usual[rid] else "new"
            flags.append((rid, signal, count, len(now), expected, flag, _ids(now, rid)))
    return flags


def _rate_flags(
    now: Sequence[ReasonCall], before: Sequence[ReasonCall], options: ReasonOptions
) -> list[_Flag]:
    flags = []
    for signal in ("dissatisfaction", "escalation"):
        hit = _hit(signal)
        center = (sum(1 for c in before if hit(c)) + 0.5) / (len(before) + 1)
        for rid in sorted({c.reason_id for c in now}):
            mine = [c for c in now if c.reason_id == rid]
            usual = [c for c in before if c.reason_id == rid]
            rate = (sum(1 for c in usual if hit(c)) + 0.5) / (len(usual) + 1) if usual else center
            count = sum(1 for c in mine if hit(c))
            flag = _surprising(count, len(mine) * rate, options)
            if flag is not None:
                ids = tuple(c.call_id for c in mine if hit(c))
                flags.append((rid, signal, count, len(mine), len(mine) * rate, flag, ids))
    return flags


def _hit(signal: str) -> Callable[[ReasonCall], bool]:
    if signal == "dissatisfaction":
        return lambda c: c.dissatisfied
    return lambda c: c.escalated


def _surprising(count: int, expected: float, options: ReasonOptions) -> float | None:
    """The Poisson tail when the count is flagged, else ``None``."""
    if count < options.min_count or count < options.min_ratio * expected:
        return None
    p = poisson_tail(count, expected)
    return p if p < options.p_value else None


def _ids(calls: Iterable[ReasonCall], reason_id: str) -> tuple[str, ...]:
    return tuple(c.call_id for c in sorted(calls, key=_when) if c.reason_id == reason_id)


def _when(c: ReasonCall) -> tuple[str, str, str]:
    return (c.call_date, c.started_at, c.call_id)


# ---------------------------------------------------------------- a period's reasons


@dataclass(frozen=True, slots=True)
class ReasonPeriod:
    """One reason over a period (``earmark reasons``, the review page)."""

    reason: Reason
    calls: int
    last_day: int
    """Its calls on the period's last day."""
    repeats: int
    """Its calls whose customer called about it before (within the repeat window)."""
    dissatisfied: int
    escalated: int
    flags: tuple[Rising, ...]

    @property
    def rising(self) -> bool:
        return bool(self.flags)


def reason_periods(
    calls: Sequence[ReasonCall],
    reasons: Mapping[str, Reason],
    rising: Sequence[Rising],
    *,
    last: str,
) -> list[ReasonPeriod]:
    """The reasons of ``calls``, rising first (most surprising first), then by calls."""
    counts = Counter(c.reason_id for c in calls)
    on_last = Counter(c.reason_id for c in calls if c.call_date == last)
    repeats = Counter(c.reason_id for c in calls if c.repeat_of)
    unhappy = Counter(c.reason_id for c in calls if c.dissatisfied)
    escalated = Counter(c.reason_id for c in calls if c.escalated)
    rows = [
        ReasonPeriod(
            reasons[rid],
            n,
            on_last[rid],
            repeats[rid],
            unhappy[rid],
            escalated[rid],
            tuple(f for f in rising if f.reason_id == rid),
        )
        for rid, n in counts.items()
        if rid in reasons
    ]
    rows.sort(
        key=lambda r: (
            not r.rising,
            min((f.p_value for f in r.flags), default=1.0),
            -r.calls,
            r.reason.reason_id,
        )
    )
    return rows


# ---------------------------------------------------------------- repeat contacts


def repeats_by_reason(calls: Iterable[ReasonCall], *, days: float) -> dict[str, str]:
    """``{call_id: earlier call_id}``: the same customer's latest earlier call about the
    same reason within ``days`` (calls without a customer or a time are left out).

    Examples
    --------
    >>> a = ReasonCall("a", "2026-11-01", "R0001", customer_id="C1", started_at="2026-11-01T09:00:00Z")
    >>> b = ReasonCall("b", "2026-11-03", "R0001", customer_id="C1", started_at="2026-11-03T09:00:00Z")
    >>> c = ReasonCall("c", "2026-11-04", "R0002", customer_id="C1", started_at="2026-11-04T09:00:00Z")
    >>> repeats_by_reason([a, b, c], days=7)
    {'b': 'a'}
    """
    groups: dict[tuple[str, str], list[tuple[dt.datetime, str]]] = defaultdict(list)
    for c in calls:
        when = contact_time(c.started_at)
        if c.customer_id and when is not None:
            groups[(c.customer_id, c.reason_id)].append((when, c.call_id))
    window = dt.timedelta(days=days)
    out: dict[str, str] = {}
    for contacts in groups.values():
        contacts.sort()
        for (earlier, first), (when, call_id) in itertools.pairwise(contacts):
            if when - earlier <= window:
                out[call_id] = first
    return out
