"""The feedback pages of the review app: agent scorecards, team dashboards, coaching.

``/agents/{agent_id}`` shows an agent's weeks, items, reviewed calls, highlights and
coaching (the agent themself, a lead, or an inspector paired with their team);
``/teams/{team_id}`` shows a team to its inspector or a lead; an inspector records a
coaching session on the scorecard. Charts come from :mod:`review.charts`; the numbers
behind each are in a ``<details>`` table under it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from pipeline.periods import is_date, is_month
from pipeline.reason_store import period_start
from review import charts
from review.app import (
    ReviewApp,
    SignedIn,
    _one,
    _render,
    _state,
    day_count,
    newest_night,
    save_form,
)
from review.auth import Account
from review.feedback import (
    DEFAULT_DAYS,
    PRAISE_TARGET,
    ItemCall,
    Scorecard,
    TeamView,
    item_calls,
    month_days,
    scorecard,
    team_view,
)
from review.items import configured_items
from review.scope import may_see_agent, may_see_team, teams_of
from review.store import CoachingSession

JUDGED = "passed (inspector's verdict wins)"
"""The name of a judged pass rate's series: every call, the inspector's verdict winning
over the detector's where one exists (:func:`review.feedback.judged_items`)."""


def feedback_routes(app: FastAPI) -> None:
    """Add the scorecard, team and coaching routes to the review app."""
    app.add_api_route("/agents/{agent_id}", _agent, methods=["GET"])
    app.add_api_route("/agents/{agent_id}/coaching", _coaching, methods=["POST"])
    app.add_api_route("/answers", _answers, methods=["GET"])
    app.add_api_route("/teams", _teams, methods=["GET"])
    app.add_api_route("/teams/{team_id}", _team, methods=["GET"])


def period(root: str, *, days: int | None, month: str | None) -> tuple[str, str]:
    """``(first, last)`` of a page: a ``YYYY-MM`` month, or the ``days`` up to the newest
    night in the warehouse (today when it is empty).

    Raises
    ------
    HTTPException
        400 for a malformed month or a day count outside 1..366.
    """
    if month:
        if not is_month(month):
            raise HTTPException(400, f"month must be YYYY-MM, got {month!r}")
        return month_days(month)
    days = day_count(days, default=DEFAULT_DAYS)
    last = newest_night(root, "calls")
    return period_start(last, days), last


# ---------------------------------------------------------------- agent scorecard


def _agent(
    request: Request,
    agent_id: str,
    account: SignedIn,
    days: int | None = None,
    month: str | None = None,
    saved: int | None = None,
    item: str | None = None,
    team: str | None = None,
) -> Response:
    state = _state(request)
    first, last = period(state.warehouse, days=days, month=month)
    card = _scorecard(state, agent_id, first=first, last=last)
    if not may_see_agent(
        account, agent_id, card.team_id, state.config, date=last, warehouse=state.warehouse
    ):
        raise HTTPException(403, "this agent's scorecard is not yours to see")
    if not card.team_id and account.role != "lead" and account.agent_id != agent_id:
        raise HTTPException(404, f"no calls of agent {agent_id!r} in {first}..{last}")
    return _render(
        request,
        "scorecard.html",
        {
            "account": account,
            "card": card,
            "charts": scorecard_charts(card),
            "praise": praise_status(card.praise, card.criticism),
            "saved": saved,
            "today": dt.date.today().isoformat(),
            "days": days,
            "month": month,
            "nav_teams": _nav_teams(state, account, last),
            "item": item,
            "item_calls": _item_calls(state, account, agent_id, item, team, first, last),
            "period_query": period_query(days=days, month=month),
        },
    )


def _item_calls(
    state: ReviewApp,
    account: SignedIn,
    agent_id: str,
    item: str | None,
    team: str | None,
    first: str,
    last: str,
) -> tuple[ItemCall, ...]:
    """The calls behind a heat map cell (``item`` of ``agent_id`` in ``team``'s calls, as
    the cell counts them; every team's without one). An agent sees only their reviewed
    ones: their calls not reviewed yet are not theirs to see."""
    if not item:
        return ()
    summary = state.feedback.summary(first, last, team_id=team or None)
    calls = item_calls(summary, state.store.latest_reviews(), agent_id, item)
    return tuple(c for c in calls if c.reviewer) if account.role == "agent" else calls


def _scorecard(state: ReviewApp, agent_id: str, *, first: str, last: str) -> Scorecard:
    """The agent's scorecard, of the configured rubrics' skills."""
    items = configured_items(state.config)
    return scorecard(state.feedback, state.store, agent_id, first=first, last=last, items=items)


def scorecard_charts(card: Scorecard) -> dict[str, Markup]:
    """The scorecard's charts: weekly score, weekly pass rates, pass rate per item."""
    labels = [w.week[5:] for w in card.weeks]
    return {
        "score": charts.line_chart(
            labels,
            [charts.Series("mean score", [_none(w.score) for w in card.weeks])],
            empty="no calls in the period",
        ),
        "weekly": charts.line_chart(
            labels,
            [
                charts.Series(JUDGED, [_pct(w.detector.rate) for w in card.weeks]),
                charts.Series("inspector-confirmed", [_pct(w.confirmed.rate) for w in card.weeks]),
            ],
            unit="%",
            empty="no calls in the period",
        ),
        "items": charts.hbar_chart(
            [card.titles.get(i.item_id, i.item_id) for i in card.items],
            [
                charts.Series(JUDGED, [_pct(i.judged.rate) for i in card.items]),
                charts.Series("inspector-confirmed", [_pct(i.confirmed.rate) for i in card.items]),
            ],
            unit="%",
            empty="no calls in the period",
        ),
    }


def praise_status(praise: int, criticism: int) -> str:
    """How the praise-to-criticism ratio sits against 3:1–5:1.

    Examples
    --------
    >>> praise_status(8, 2), praise_status(2, 2), praise_status(0, 0)
    ('on target', 'too little praise', 'no sessions yet')
    """
    if not praise and not criticism:
        return "no sessions yet"
    ratio = praise / criticism if criticism else math.inf
    low, high = PRAISE_TARGET
    if ratio < low:
        return "too little praise"
    if ratio > high:
        return "little to work on" if criticism else "praise only"
    return "on target"


async def _coaching(request: Request, agent_id: str, account: SignedIn) -> Response:
    return await save_form(request, _save_session, account, agent_id)


def _save_session(
    state: ReviewApp, account: Account, agent_id: str, fields: Mapping[str, list[str]]
) -> Response:
    if account.role not in ("inspector", "lead"):
        raise HTTPException(403, "coaching sessions are recorded by inspectors and leads")
    first, last = period(state.warehouse, days=None, month=None)
    card = _scorecard(state, agent_id, first=first, last=last)
    if not card.team_id or not may_see_agent(
        account, agent_id, card.team_id, state.config, date=last, warehouse=state.warehouse
    ):
        raise HTTPException(403, "this agent is not in a team paired with you")
    session = session_from_form(
        agent_id, account.name, fields, items={i.item_id for i in card.items}
    )
    saved = state.store.add_session(session)
    return RedirectResponse(
        f"/agents/{quote(agent_id, safe='')}?saved={saved.id}#coaching", status_code=303
    )


def session_from_form(
    agent_id: str, coach: str, fields: Mapping[str, list[str]], *, items: set[str]
) -> CoachingSession:
    """The coaching form as a :class:`CoachingSession` (400 naming the bad field)."""
    held_on = _one(fields, "held_on").strip()
    follow = _one(fields, "follow_up_on").strip()
    for name, value in (("held_on", held_on), ("follow_up_on", follow)):
        if value and not is_date(value):
            raise HTTPException(400, f"{name} must be a date (YYYY-MM-DD), got {value!r}")
    if not held_on:
        raise HTTPException(400, "held_on: when was the session? (YYYY-MM-DD)")
    if follow and follow < held_on:
        raise HTTPException(400, f"follow_up_on {follow} is before the session ({held_on})")
    item = _one(fields, "item_id").strip()
    if item and item not in items:
        raise HTTPException(400, f"item {item!r} is not an item of this agent's calls")
    strengths = _points(_one(fields, "strengths"))
    improvements = _points(_one(fields, "improvements"))
    if not strengths and not improvements:
        raise HTTPException(400, "write at least one strength or one thing to improve")
    return CoachingSession(
        agent_id=agent_id,
        coach=coach,
        held_on=held_on,
        item_id=item,
        call_ids=_points(_one(fields, "call_ids").replace(",", "\n")),
        moments=_one(fields, "moments").strip()[:4000],
        strengths=strengths,
        improvements=improvements,
        actions=_one(fields, "actions").strip()[:4000],
        follow_up_on=follow,
    )


def _points(text: str) -> tuple[str, ...]:
    return tuple(line.strip()[:500] for line in text.splitlines() if line.strip())[:30]


# ---------------------------------------------------------------- agents' answers


def _answers(request: Request, account: SignedIn) -> Response:
    if account.role == "agent":
        raise HTTPException(403, "answers to reviews are for the inspectors who wrote them")
    who = account.name if account.role == "inspector" else None
    answers = _state(request).store.answers_to(who)
    return _render(
        request,
        "answers.html",
        {
            "account": account,
            "answers": sorted(answers, key=lambda a: a.kind != "dispute"),
            "mine": who is not None,
        },
    )


# ---------------------------------------------------------------- teams


def _teams(request: Request, account: SignedIn) -> Response:
    state = _state(request)
    if account.role == "agent":
        raise HTTPException(403, "team dashboards are for inspectors and leads")
    _first, last = period(state.warehouse, days=None, month=None)
    return _render(
        request,
        "teams.html",
        {"account": account, "teams": _nav_teams(state, account, last), "days": DEFAULT_DAYS},
    )


def _nav_teams(state: ReviewApp, account: Account, date: str) -> tuple[str, ...]:
    if account.role == "lead":
        first, last = period(state.warehouse, days=None, month=None)
        return known_teams(state, first=first, last=last)
    if account.role == "inspector":
        return teams_of(state.config, account.name, date=date, warehouse=state.warehouse)
    return ()


def known_teams(state: ReviewApp, *, first: str, last: str) -> tuple[str, ...]:
    """The teams of the configuration's pairings and those that took calls ``first``..``last``
    (a lead sees them all, paired or not)."""
    calls = state.feedback.summary(first, last).calls
    stored = {t for t in calls["team_id"].unique().to_pylist() if t}
    return tuple(sorted(stored | {t for i in state.config.inspectors for t in i.teams}))


def _team(
    request: Request,
    team_id: str,
    account: SignedIn,
    days: int | None = None,
    month: str | None = None,
) -> Response:
    state = _state(request)
    first, last = period(state.warehouse, days=days, month=month)
    if not may_see_team(account, team_id, state.config, date=last, warehouse=state.warehouse):
        raise HTTPException(403, "this team is not paired with you")
    teams = known_teams(state, first=first, last=last)
    if team_id not in teams:
        raise HTTPException(
            404,
            f"no team {team_id!r}: it took no call from {first} to {last} and no inspector "
            f"is paired with it; the teams are {', '.join(teams) or 'none yet'}",
        )
    view = team_view(state.feedback, state.store, state.config, team_id, first=first, last=last)
    query = period_query(days=days, month=month)
    return _render(
        request,
        "team.html",
        {
            "account": account,
            "view": view,
            "charts": team_charts(view, query=query),
            "cell_links": {k: cell_link(*k, team=team_id, query=query) for k in view.heat},
            "days": days,
            "month": month,
            "nav_teams": _nav_teams(state, account, last),
        },
    )


def team_charts(view: TeamView, *, link: bool = True, query: str = "") -> dict[str, Markup]:
    """The dashboard's charts: heat map, trend, coverage, listening, agreement. With
    ``link``, an agent's name opens their scorecard and a cell of the heat map the calls
    behind it (:func:`cell_link`; ``query``: the page's period, ``month=…`` or ``days=…``)."""
    labels = [w.week[5:] for w in view.weeks]
    links = {a: f"/agents/{quote(a, safe='')}" for a in view.agents} if link else None
    return {
        "heat": charts.heat_map(
            view.agents,
            view.items,
            {k: v.rate for k, v in view.heat.items()},
            counts={k: v.n for k, v in view.heat.items()},
            links=links,
            col_labels=view.titles,
            cell_links=(
                {k: cell_link(*k, team=view.team_id, query=query) for k in view.heat}
                if link
                else None
            ),
        ),
        "trend": charts.line_chart(
            labels,
            [
                charts.Series("mean score", [_none(w.score) for w in view.weeks]),
                charts.Series(f"{JUDGED} %", [_pct(w.detector.rate) for w in view.weeks]),
                charts.Series("confirmed pass %", [_pct(w.confirmed.rate) for w in view.weeks]),
            ],
            empty="no calls in the period",
        ),
        "coverage": charts.heat_map(
            view.agents,
            labels,
            {(a, w[5:]): float(n) for (a, w), n in view.coverage.items()},
            low=0,
            high=max(view.coverage_target, 1),
            percent=False,
            links=links,
            cell=26,
        ),
        "listening": charts.bar_chart(
            [li.inspector for li in view.listening],
            [
                charts.Series("budget / day", [li.budget_min for li in view.listening]),
                charts.Series("listened / day", [li.per_day for li in view.listening]),
            ],
            unit=" min",
            empty="no queues for this team in the period",
        ),
        "agreement": charts.bar_chart(
            [view.titles.get(i.item_id, i.item_id) for i in view.agreement],
            [
                charts.Series("agreement", [_pct(i.agreement) for i in view.agreement]),
                charts.Series("precision", [_pct(i.precision) for i in view.agreement]),
                charts.Series("recall", [_pct(i.recall) for i in view.agreement]),
            ],
            y_max=100,
            unit="%",
            empty="no reviews yet",
        ),
    }


def cell_link(agent_id: str, item_id: str, *, team: str = "", query: str = "") -> str:
    """The agent's scorecard listing their calls of ``item_id`` in ``team`` (a heat map
    cell's calls).

    Examples
    --------
    >>> cell_link("A 1", "empathy", team="T-1", query="month=2026-11")
    '/agents/A%201?item=empathy&team=T-1&month=2026-11#item-calls'
    """
    base = f"/agents/{quote(agent_id, safe='')}?item={quote(item_id, safe='')}"
    base += f"&team={quote(team, safe='')}" if team else ""
    return base + (f"&{query}#item-calls" if query else "#item-calls")


def period_query(*, days: int | None, month: str | None) -> str:
    """The page's period as a query string (``""``: the default period).

    Examples
    --------
    >>> period_query(days=None, month="2026-11"), period_query(days=28, month=None)
    ('month=2026-11', 'days=28')
    """
    return urlencode({"month": month} if month else {"days": days} if days else {})


def _pct(value: float) -> float | None:
    return None if math.isnan(value) else value * 100


def _none(value: float) -> float | None:
    return None if math.isnan(value) else value
