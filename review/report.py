"""The monthly check of a team (plan–do–check–act): one HTML file, and a Markdown digest.

``earmark report --warehouse W --team T --month 2026-12 --out report.html`` writes the
team dashboard of the month with the month before as the comparison, the coaching
sessions held and whether their items got better, and the weakest items as next month's
focus. The file carries its styles and charts inline: it opens offline and prints (or
saves as PDF) with every number table open. The nightly flow publishes the Markdown
digest as a Prefect artifact after the first night of a month, for the month before.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import jinja2

from pipeline import errors
from pipeline import warehouse as wh
from pipeline.config import Config
from pipeline.periods import iso_month
from pipeline.reason_store import dates_between, options_from_config, read_reasons, reason_calls
from pipeline.reason_trends import ReasonPeriod, Rising, reason_periods, rising_reasons
from pipeline.textfile import check_output_file
from review.feedback import (
    FeedbackIndex,
    FollowUp,
    Rate,
    TeamView,
    follow_up,
    month_days,
    team_view,
)
from review.formats import FILTERS, num, pct
from review.pages import team_charts
from review.store import ReviewStore, default_database_url

HERE = Path(__file__).resolve().parent
# An agent's item judged in fewer than FEW_CALLS calls is advice to take with care (the
# report says so beside it); in fewer than MIN_CALLS, none of them reviewed, it is none.
FOCUS_ITEMS, FEW_CALLS, MIN_CALLS = 3, 5, 2
REASONS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class AgentCell:
    """An agent's month on one item: the judged pass ``rate`` and the ``reviewed`` calls
    in it."""

    agent_id: str
    rate: Rate
    reviewed: int

    @property
    def few(self) -> bool:
        """It rests on few calls (fewer than :data:`FEW_CALLS`)."""
        return self.rate.n < FEW_CALLS

    @property
    def basis(self) -> str:
        """What the advice rests on, in words.

        Examples
        --------
        >>> AgentCell("A1", Rate(0, 2), 0).basis, AgentCell("A1", Rate(3, 7), 1).basis
        ('0% of 2 calls, none reviewed', '30% of 10 calls, 1 reviewed')
        """
        calls = f"{self.rate.n} call{'s' if self.rate.n != 1 else ''}"
        reviewed = f"{self.reviewed} reviewed" if self.reviewed else "none reviewed"
        return f"{pct(self.rate.rate)} of {calls}, {reviewed}"


class Focus(NamedTuple):
    """An item to coach next month and the agents to coach on it, weakest first."""

    item_id: str
    rate: float
    """The team's judged pass rate of the item in the month."""
    title: str
    agents: tuple[AgentCell, ...]


def focus_of(view: TeamView, *, items: int = FOCUS_ITEMS) -> tuple[Focus, ...]:
    """The weakest ``items`` of the month with the agents who failed them: an agent's cell
    of fewer than :data:`MIN_CALLS` calls with none reviewed is left out (one call is no
    pattern), and an item no agent is left for is no focus."""
    rates: dict[str, Rate] = {}
    failing: dict[str, list[AgentCell]] = {}
    for (agent, item), rate in view.heat.items():
        rates[item] = rates.get(item, Rate()) + rate
        reviewed = view.confirmed.get((agent, item), Rate()).n
        if rate.n and rate.rate < 1.0 and (rate.n >= MIN_CALLS or reviewed):
            failing.setdefault(item, []).append(AgentCell(agent, rate, reviewed))
    chosen = sorted(failing, key=lambda i: (rates[i].rate, i))[:items]
    return tuple(
        Focus(
            i,
            rates[i].rate,
            view.titles.get(i, i),
            tuple(sorted(failing[i], key=lambda c: (c.rate.rate, -c.rate.n, c.agent_id))),
        )
        for i in chosen
    )


@dataclass(frozen=True, slots=True)
class MonthReason:
    """A contact reason of the team's month: its calls, repeat contacts, dissatisfied
    calls and what rose (the first flag of each signal in the month), as
    :func:`~pipeline.reason_trends.reason_periods` counts them, and its calls the month
    before."""

    period: ReasonPeriod
    calls_before: int


@dataclass(frozen=True, slots=True)
class MonthlyCheck:
    """A team's month against the month before."""

    month: str
    view: TeamView
    before: TeamView
    follow_ups: tuple[FollowUp, ...]
    focus: tuple[Focus, ...]
    """The weakest items and whom to coach on them: next month's plan."""
    reasons: tuple[MonthReason, ...] = ()
    """Why the team's customers called, rising ones first (see :func:`month_reasons`)."""
    not_scored: tuple[tuple[str, int], ...] = ()
    """``(why, calls)`` of the month's calls left out of every count and mean: they have no
    score (``quarantined``, or ``not scored``)."""

    @property
    def calls(self) -> int:
        """The month's scored calls: what the counts and the means are of."""
        return sum(self.view.agent_calls.values())

    @property
    def score(self) -> float:
        return _weighted(self.view)

    @property
    def score_before(self) -> float:
        return _weighted(self.before)


def _weighted(view: TeamView) -> float:
    calls = sum(w.calls for w in view.weeks if not math.isnan(w.score))
    total = sum(w.score * w.calls for w in view.weeks if not math.isnan(w.score))
    return total / calls if calls else math.nan


def previous_month(month: str) -> str:
    """``YYYY-MM`` of the month before.

    Examples
    --------
    >>> previous_month("2026-01"), previous_month("2026-12")
    ('2025-12', '2026-11')
    """
    first = dt.date.fromisoformat(f"{month}-01")
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def monthly_check(
    warehouse: str | Path,
    config: Config,
    team_id: str,
    month: str,
    *,
    store: ReviewStore,
    index: FeedbackIndex | None = None,
) -> MonthlyCheck:
    """Summarise a team's month (and the month before) from the warehouse and reviews.

    Raises
    ------
    ConfigError
        ``C060`` for a month that is not ``YYYY-MM``; ``C061`` when the team took no
        call that month (a misspelt team, or a month not processed yet).
    """
    iso_month(month)
    index = index or FeedbackIndex(warehouse)
    first, last = month_days(month)
    reviews = store.latest_reviews()
    view = team_view(index, store, config, team_id, first=first, last=last, reviews=reviews)
    if not view.agents:
        teams = sorted({t for t in index.summary(first, last).calls["team_id"].to_pylist() if t})
        raise errors.TEAM_NO_CALLS(
            team=team_id,
            month=month,
            warehouse=os.fspath(warehouse),
            teams=", ".join(teams) or "none",
        )
    b_first, b_last = month_days(previous_month(month))
    before = team_view(index, store, config, team_id, first=b_first, last=b_last, reviews=reviews)
    held = [s for s in view.sessions if first <= s.held_on <= last and s.item_id]
    return MonthlyCheck(
        month=month,
        view=view,
        before=before,
        follow_ups=tuple(follow_up(index, s, last=last, reviews=reviews) for s in held),
        focus=focus_of(view),
        reasons=month_reasons(warehouse, config, team_id, month),
        not_scored=not_scored(warehouse, team_id, first=first, last=last, scored=view),
    )


def not_scored(
    warehouse: str | Path, team_id: str, *, first: str, last: str, scored: TeamView
) -> tuple[tuple[str, int], ...]:
    """The team's calls ``first``..``last`` that have no score, by why: their ``calls``
    status (``quarantined``…), or ``not scored`` for a processed call no rubric scored."""
    dates = [d for d in wh.partition_dates(warehouse, "calls") if first <= d <= last]
    calls = wh.read_table(warehouse, "calls", call_dates=dates).select(["team_id", "status"])
    statuses = [s for t, s in zip(*calls.to_pydict().values(), strict=True) if t == team_id]
    by_status = Counter(s for s in statuses if s != "ok")
    rest = len(statuses) - sum(scored.agent_calls.values()) - by_status.total()
    if rest > 0:
        by_status["not scored"] += rest
    return tuple(sorted(by_status.items()))


def month_reasons(
    warehouse: str | Path, config: Config, team_id: str, month: str
) -> tuple[MonthReason, ...]:
    """The team's contact reasons of ``month``: calls, the month before, repeat contacts
    about the same reason, dissatisfied calls, and every reason that rose on a day of the
    month (the team's calls against their own baseline), flagged ones first."""
    root = os.fspath(warehouse)
    options = options_from_config(config)
    first, last = month_days(month)
    b_first, _ = month_days(previous_month(month))
    start = dt.date.fromisoformat(first) - dt.timedelta(days=options.baseline_days + 7)
    dates = dates_between(root, min(start.isoformat(), b_first), last)
    calls = [c for c in reason_calls(root, dates, options) if c.team_id == team_id]
    if not any(first <= c.call_date <= last for c in calls):
        return ()
    flags: dict[tuple[str, str], Rising] = {}
    for day in (d for d in dates if first <= d <= last):
        for f in rising_reasons(calls, date=day, options=options, by_team=False):
            flags.setdefault((f.reason_id, f.signal), f)
    reasons = {r.reason_id: r for r in read_reasons(root)}
    now = [c for c in calls if first <= c.call_date <= last]
    before = Counter(c.reason_id for c in calls if b_first <= c.call_date < first)
    rising = [f for _key, f in sorted(flags.items())]
    periods = reason_periods(now, reasons, rising, last=last)
    return tuple(MonthReason(p, before[p.reason.reason_id]) for p in periods[:REASONS_SHOWN])


def render_report(check: MonthlyCheck) -> str:
    """The monthly check as one self-contained HTML page (styles and SVG inline)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(FILTERS)
    css = (HERE / "static" / "review.css").read_text(encoding="utf-8")
    return env.get_template("report.html").render(
        check=check,
        view=check.view,
        charts=team_charts(check.view, link=False),
        css=css,
        open_numbers=True,
        min_calls=MIN_CALLS,
        made_at=dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def write_report(
    warehouse: str | Path,
    config: Config,
    team_id: str,
    month: str,
    out: str | Path,
    *,
    database_url: str | None = None,
) -> MonthlyCheck:
    """Write the monthly report of ``team_id`` to ``out`` (atomically); see the module."""
    out = check_output_file(out, option="--out")
    store = ReviewStore(database_url or default_database_url(warehouse))
    try:
        check = monthly_check(warehouse, config, team_id, month, store=store)
    finally:
        store.close()
    html = render_report(check)
    with wh.atomic_path(out) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return check


def report_markdown(check: MonthlyCheck) -> str:
    """A short Markdown digest of the monthly check (the Prefect artifact)."""
    v = check.view
    calls = sum(w.calls for w in v.weeks)
    reviewed = sum(w.reviewed for w in v.weeks)
    lines = [
        f"# Team {v.team_id} · {check.month}",
        "",
        "| | this month | month before |",
        "|---|---:|---:|",
        f"| calls | {calls} | {sum(w.calls for w in check.before.weeks)} |",
        f"| mean score | {num(check.score, 1)} | {num(check.score_before, 1)} |",
        f"| reviewed calls | {reviewed} | {sum(w.reviewed for w in check.before.weeks)} |",
        f"| coverage met | {pct(v.coverage_met)} | {pct(check.before.coverage_met)} |",
        f"| coaching sessions | {len(check.follow_ups)} | |",
        "",
    ]
    rising = [r for r in check.reasons if r.period.flags]
    if rising:
        lines.append("Contact reasons that rose this month:")
        lines += [
            f"- {r.period.reason.reason_id} “{r.period.reason.label}”: {r.period.calls} calls "
            f"({r.calls_before} the month before); "
            + "; ".join(
                f"{f.signal} on {f.date} ({f.count} vs {f.expected:.1f})" for f in r.period.flags
            )
            for r in rising
        ]
        lines.append("")
    if v.customers:
        lines.append(
            "What customers did (context, not the agents' skills): "
            + "; ".join(f"`{c.item_id}` in {c.happened} of {c.calls} calls" for c in v.customers)
        )
        lines.append("")
    if check.focus:
        lines.append("Focus next month:")
        lines += [
            f"- {f.title} (`{f.item_id}`, {pct(f.rate)}): coach "
            + "; ".join(
                f"{c.agent_id} ({c.basis}{', few calls' if c.few else ''})" for c in f.agents
            )
            for f in check.focus
        ]
    for fu in check.follow_ups:
        lines.append(
            f"- {fu.session.agent_id} coached on `{fu.session.item_id}` "
            f"({fu.session.held_on}): {pct(fu.before.rate)} → {pct(fu.since.rate)}, "
            f"{fu.verdict}"
        )
    return "\n".join(lines) + "\n"


def closed_months(before: Iterable[str], after: Iterable[str]) -> list[str]:
    """Months a night closed: the nights before it had no call dated after the month,
    the warehouse now has one (the first night of a later month has run).

    Parameters
    ----------
    before, after
        ``call_date`` partitions before and after the night.

    Examples
    --------
    >>> closed_months(["2026-11-29", "2026-11-30"], ["2026-11-29", "2026-11-30", "2026-12-01"])
    ['2026-11']
    >>> closed_months(["2026-12-01"], ["2026-12-01", "2026-12-02"])
    []
    """
    newest_before = max(before, default="")[:7]
    after = sorted(after)
    if not after:
        return []
    newest = after[-1][:7]
    return sorted({d[:7] for d in after if newest_before <= d[:7] < newest})


def monthly_digests(
    warehouse: str | Path, config: Config, month: str, *, database_url: str | None = None
) -> dict[str, str]:
    """``team_id → Markdown digest`` of every team with calls in ``month``."""
    index = FeedbackIndex(warehouse)
    first, last = month_days(month)
    teams = sorted({t for t in index.summary(first, last).calls["team_id"].to_pylist() if t})
    store = ReviewStore(database_url or default_database_url(warehouse))
    try:
        return {
            team: report_markdown(
                monthly_check(warehouse, config, team, month, store=store, index=index)
            )
            for team in teams
        }
    finally:
        store.close()
