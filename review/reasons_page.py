"""The contact-reasons pages of the review app: why customers call, and what is rising.

``/reasons`` (QA leads) lists the reasons of a period, rising ones first, with their
calls per day as a chart; ``/reasons/{reason_id}`` shows one reason's trend and its
calls, each with a button that plays the moment the customer stated the reason. Inspectors
meet rising reasons in their queues (``trend`` entries); agents see neither.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response
from markupsafe import Markup

from pipeline.reason_store import (
    ReasonsPeriod,
    options_from_config,
    period_start,
    reasons_period,
)
from pipeline.reason_trends import (
    ReasonCall,
    ReasonPeriod,
    reason_periods,
)
from review import charts
from review.app import (
    SignedIn,
    _render,
    _state,
    check_date,
    day_count,
    lead_only,
    newest_night,
)

DEFAULT_DAYS = 28
CHARTED = 12
"""Reasons drawn in the overview's chart (rising first, then the largest); past the six
colours a line is dashed."""


def reasons_routes(app: FastAPI) -> None:
    """Add ``/reasons`` and ``/reasons/{reason_id}`` to the review app."""
    app.add_api_route("/reasons", _overview, methods=["GET"])
    app.add_api_route("/reasons/{reason_id}", _reason, methods=["GET"])


def _period(
    request: Request,
    account: SignedIn,
    since: str | None = None,
    days: int | None = None,
    team: str | None = None,
) -> ReasonsPeriod:
    """The reasons' period: ``since`` (a date) or the ``days`` to the newest night; with
    ``team``, that team's calls and the flags raised on them (403 for all but QA leads)."""
    lead_only(account, "contact reasons are for QA leads")
    state = _state(request)
    last = newest_night(state.warehouse, "call_reasons")
    check_date(since, "since")
    span = day_count(days, default=DEFAULT_DAYS)
    return reasons_period(
        state.warehouse,
        options_from_config(state.config),
        first=since or period_start(last, span),
        last=last,
        team=team or "",
        index=state.reasons,
    )


ChosenPeriod = Annotated[ReasonsPeriod, Depends(_period)]
"""The period a reasons page shows, from its query (``since``, ``days``, ``team``)."""


def _daily(calls: Sequence[ReasonCall], days: Sequence[str], reason_id: str) -> list[float | None]:
    per = Counter(c.call_date for c in calls if c.reason_id == reason_id)
    return [float(per[d]) for d in days]


def trend_chart(period: ReasonsPeriod, rows: Sequence[ReasonPeriod]) -> Markup:
    """Calls per day of the first :data:`CHARTED` reasons (rising ones first)."""
    shown = rows[:CHARTED]
    series = [
        charts.Series(
            f"{r.reason.reason_id} {r.reason.label[:28]}",
            _daily(period.calls, period.days, r.reason.reason_id),
        )
        for r in shown
    ]
    top = max([v or 0.0 for s in series for v in s.values] + [1.0])
    return charts.line_chart(
        [d[5:] for d in period.days],
        series,
        y_min=0.0,
        y_max=charts_top(top),
        integer=True,
        width=760,
    )


def charts_top(value: float) -> float:
    """A round top for a count axis."""
    for step in (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        if value <= step:
            return float(step)
    return float(value)


def _overview(request: Request, account: SignedIn, period: ChosenPeriod) -> Response:
    rows = reason_periods(
        period.calls,
        period.reasons,
        period.rising,
        last=period.last,
    )
    return _render(
        request,
        "reasons.html",
        {
            "account": account,
            "period": period,
            "rows": rows,
            "chart": trend_chart(period, rows) if rows else None,
            "labels": {rid: r.label for rid, r in period.reasons.items()},
            "charted": CHARTED,
        },
    )


def _reason(request: Request, reason_id: str, account: SignedIn, period: ChosenPeriod) -> Response:
    reason = period.reasons.get(reason_id)
    if reason is None:
        raise HTTPException(404, f"no contact reason {reason_id!r}")
    mine = sorted(
        (c for c in period.calls if c.reason_id == reason_id),
        key=lambda c: (c.call_date, c.started_at, c.call_id),
        reverse=True,
    )
    links = {c.call_id: c.repeat_of for c in period.calls if c.repeat_of}
    counts = charts.Series("calls", _daily(period.calls, period.days, reason_id))
    top = max([v or 0.0 for v in counts.values] + [1.0])
    chart = charts.bar_chart(
        [d[5:] for d in period.days], [counts], y_max=charts_top(top), integer=True, width=760
    )
    return _render(
        request,
        "reason.html",
        {
            "account": account,
            "period": period,
            "reason": reason,
            "calls": mine,
            "links": links,
            "flags": [f for f in period.rising if f.reason_id == reason_id],
            "chart": chart,
        },
    )
