"""Review queues: which calls an inspector listens to, and exactly which moments.

A queued call carries its *listening plan*: the evidence moments of its findings with
context before and after, merged where they overlap. Its cost is the plan's length,
not the call's.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from pipeline.config import Config
from pipeline.errors import QueueError
from pipeline.rotation import check_languages, rotate, stored_team_languages
from pipeline.scoring import clock
from pipeline.types import CallScore, Finding, QueueEntry, QueueKind, Span

TeamLanguages = Mapping[str, frozenset[str]]
"""``{team_id: languages of its calls}``; a team not in it can go to any inspector."""

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


# ---------------------------------------------------------------- inspector queues


@dataclass(frozen=True, slots=True)
class Inspector:
    """An inspector, the teams paired with them (before rotation), and their daily budget."""

    name: str
    teams: tuple[str, ...]
    budget_s: float
    languages: tuple[str, ...] = ()
    """The languages they understand; empty: any (see :mod:`pipeline.rotation`)."""


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """How the QA lead runs listening: rotation, limits, coverage, control, highlights."""

    rotation: Literal["off", "monthly", "schedule"] = "monthly"
    schedule: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    """``{"2026-12": {"lena": ("TEAM-02",), …}}`` when ``rotation == "schedule"``."""
    max_agents: int = 15
    coverage_per_week: int = 1
    control_share: float = 0.05
    highlights_per_team: int = 2
    highlight_min_score: float = 90.0
    control_max_s: float = 120.0
    """A control call is heard from its start for at most this long."""
    seed: str = "earmark"


def policy_from_config(config: Config) -> QueuePolicy:
    """The queue policy of ``[queue]`` in ``earmark.toml``."""
    q = config.queue
    return QueuePolicy(
        rotation=q.rotation,
        schedule={m: {k: tuple(v) for k, v in p.items()} for m, p in q.schedule.items()},
        max_agents=q.max_agents_per_inspector,
        coverage_per_week=q.coverage_per_week,
        control_share=q.control_share,
        highlights_per_team=q.highlights_per_team,
        highlight_min_score=q.highlight_min_score,
        control_max_s=q.control_max_minutes * 60,
        seed=q.seed,
    )


def inspectors_from_config(config: Config) -> list[Inspector]:
    """``[[inspectors]]`` as :class:`Inspector` records (budget in seconds)."""
    return [
        Inspector(i.name, tuple(i.teams), i.budget_minutes * 60, tuple(i.languages))
        for i in config.inspectors
    ]


def config_team_languages(config: Config, *, warehouse: str | None, date: str) -> TeamLanguages:
    """Each team's languages for ``date``'s pairing: ``[teams.X] languages``, else those of
    its stored calls (when ``warehouse`` is given and an inspector lists languages); see
    :mod:`pipeline.rotation`."""
    configured = {t: tuple(c.languages) for t, c in config.teams.items()}
    if warehouse is None or not any(i.languages for i in config.inspectors):
        # nobody limits their languages: reading months of calls would change nothing
        return {t: frozenset(langs) for t, langs in configured.items() if langs}
    return stored_team_languages(
        warehouse, date, configured=configured, min_share=config.queue.team_language_min_share
    )


def pairings(
    inspectors: Sequence[Inspector],
    *,
    date: str,
    policy: QueuePolicy,
    team_languages: TeamLanguages | None = None,
) -> dict[str, tuple[str, ...]]:
    """Which teams each inspector covers on ``date``.

    ``monthly`` rotation hands the configured team lists one inspector along per
    calendar month (deterministic: the same month always gives the same pairing), among
    the inspectors who understand each list's languages (:func:`pipeline.rotation.rotate`);
    ``schedule`` takes the month's entry of ``policy.schedule`` (falling back to the
    configured lists); ``off`` keeps the configured lists.

    Raises
    ------
    QueueError
        ``Q002`` when an inspector would be paired with a team whose calls are in a
        language they do not understand (``team_languages``: ``{team: languages}``).
    """
    langs = team_languages or {}
    base = {i.name: i.teams for i in inspectors}
    month = date[:7]
    if policy.rotation == "monthly" and inspectors:
        year, mon = int(date[:4]), int(date[5:7])
        return rotate(inspectors, month=year * 12 + mon - 1, langs=langs)
    if policy.rotation == "schedule":
        base.update({k: tuple(v) for k, v in policy.schedule.get(month, {}).items()})
    check_languages(base, inspectors, langs, when=f"month {month}")
    return base


def check_pairings(
    pairs: Mapping[str, tuple[str, ...]], agents_by_team: Mapping[str, set[str]], *, max_agents: int
) -> None:
    """Refuse a pairing that gives an inspector more agents than one person can coach."""
    for name, teams in sorted(pairs.items()):
        agents = set().union(*(agents_by_team.get(t, set()) for t in teams)) if teams else set()
        if len(agents) > max_agents:
            raise QueueError(
                f"inspector {name!r} is paired with {len(agents)} agents (teams {', '.join(teams)}); "
                f"at most {max_agents} agents per inspector: split the teams",
                code="Q001",
            )


def _rng(policy: QueuePolicy, *parts: str) -> random.Random:
    digest = hashlib.sha256("|".join((policy.seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def build_inspector_queues(
    candidates: Sequence[Candidate],
    *,
    date: str,
    inspectors: Sequence[Inspector],
    policy: QueuePolicy,
    reviewed_this_week: Mapping[str, int] | None = None,
    team_languages: TeamLanguages | None = None,
) -> list[QueueEntry]:
    """Each inspector's queue for ``date``: control sample, coverage, priority, highlights.

    The budget (seconds of listening plan) is never exceeded. In order: critical
    failures; the control sample, drawn at random (seeded by date and inspector) from
    all the inspector's calls and heard from the start (up to ``control_max_s``), so it
    measures what the flags miss; for each agent below the weekly coverage, their most
    urgent call; then the rest by priority while the budget lasts.
    Highlights — the day's best calls per team — are a separate list, outside the budget.
    Calls of teams nobody covers go to ``unassigned``. ``team_languages`` as for
    :func:`pairings`.
    """
    pairs = pairings(inspectors, date=date, policy=policy, team_languages=team_languages)
    team_owner = {team: name for name, teams in pairs.items() for team in teams}
    budgets = {i.name: i.budget_s for i in inspectors}
    mine: dict[str, list[Candidate]] = {}
    for c in candidates:
        mine.setdefault(team_owner.get(c.team_id, "unassigned"), []).append(c)
    queue: list[QueueEntry] = []
    for name, calls in sorted(mine.items()):
        if name == "unassigned":
            queue.extend(build_review_queue(calls, date=date, inspector="unassigned"))
            continue
        picked = _fill(calls, name, date, budgets[name], policy, reviewed_this_week or {})
        picked += _highlights(calls, name, date, policy)
        queue.extend(_ranked(picked))
    return queue


def _fill(
    calls: Sequence[Candidate],
    name: str,
    date: str,
    budget_s: float,
    policy: QueuePolicy,
    reviewed: Mapping[str, int],
) -> list[QueueEntry]:
    left = budget_s
    chosen: list[QueueEntry] = []
    taken: set[str] = set()

    def take(
        c: Candidate, kind: QueueKind, reasons: tuple[str, ...], plan: tuple[Span, ...]
    ) -> None:
        nonlocal left
        cost = sum(s.duration_s for s in plan)
        if c.score.call_id in taken or not plan or cost > left:
            return
        left -= cost
        taken.add(c.score.call_id)
        chosen.append(
            QueueEntry(
                name,
                date,
                0,
                c.score.call_id,
                kind,
                c.score.priority,
                reasons,
                plan,
                c.agent_id,
                c.team_id,
            )
        )

    urgent = sorted(calls, key=lambda c: (-c.score.priority, c.score.score, c.score.call_id))
    for c in urgent:
        if c.score.critical_failed:
            take(c, "review", c.score.reasons, listening_plan(c.findings, duration_s=c.duration_s))
    n_control = math.ceil(policy.control_share * len(calls)) if policy.control_share > 0 else 0
    pool = sorted(calls, key=lambda c: c.score.call_id)
    control_why = (
        "control sample: a random call, heard from the start, to check what the flags miss",
    )
    for c in _rng(policy, date, name).sample(pool, min(n_control, len(pool))):
        take(
            c,
            "control",
            control_why,
            (Span(0.0, round(min(c.duration_s, policy.control_max_s), 3)),),
        )
    for agent in sorted({c.agent_id for c in calls if c.agent_id}):
        if reviewed.get(agent, 0) < policy.coverage_per_week:
            best = next(c for c in urgent if c.agent_id == agent)
            plan = listening_plan(best.findings, duration_s=best.duration_s) or moments_plan(best)
            why = f"coverage: agent {agent} has {reviewed.get(agent, 0)} reviewed call(s) this week, {policy.coverage_per_week} wanted"
            take(best, "review", (why, *best.score.reasons), plan)
    for c in urgent:
        if c.score.needs_review:
            take(c, "review", c.score.reasons, listening_plan(c.findings, duration_s=c.duration_s))
    return chosen


def _highlights(
    calls: Sequence[Candidate], name: str, date: str, policy: QueuePolicy
) -> list[QueueEntry]:
    out = []
    teams = sorted({c.team_id for c in calls})
    for team in teams:
        good = [
            c
            for c in calls
            if c.team_id == team
            and not c.score.needs_review
            and c.score.score >= policy.highlight_min_score
        ]
        good.sort(key=lambda c: (-c.score.score, -_praise(c), c.score.call_id))
        for c in good[: policy.highlights_per_team]:
            praised = [f for f in c.findings if f.outcome == "pass" and f.detected and f.evidence]
            plan = merge_spans(
                [
                    Span(
                        max(0.0, e.start_s - CONTEXT_BEFORE_S),
                        min(c.duration_s, e.end_s + CONTEXT_AFTER_S),
                    )
                    for f in praised
                    for e in f.evidence[:1]
                ]
            )
            shown = ", ".join(f"{f.item_id} at {clock(f.evidence[0].start_s)}" for f in praised[:4])
            why = (f"highlight: score {c.score.score:.0f}" + (f"; {shown}" if shown else ""),)
            out.append(
                QueueEntry(
                    name,
                    date,
                    0,
                    c.score.call_id,
                    "highlight",
                    c.score.priority,
                    why,
                    plan,
                    c.agent_id,
                    c.team_id,
                )
            )
    return out


def moments_plan(c: Candidate) -> tuple[Span, ...]:
    """For a call with nothing wrong: the first moment of each behaviour found, with
    context (what a coach plays back), else the call's opening."""
    spans = [
        Span(
            max(0.0, f.evidence[0].start_s - CONTEXT_BEFORE_S),
            min(c.duration_s, f.evidence[0].end_s + CONTEXT_AFTER_S),
        )
        for f in c.findings
        if f.detected and f.evidence and f.outcome == "pass"
    ]
    return merge_spans(spans) if spans else (Span(0.0, min(c.duration_s, MISSED_ITEM_SPAN_S)),)


def _praise(c: Candidate) -> int:
    return sum(1 for f in c.findings if f.outcome == "pass" and f.detected and f.weight > 0)


def _ranked(entries: Sequence[QueueEntry]) -> list[QueueEntry]:
    """Rank within each kind: control and coverage first as chosen, then by priority."""
    out: list[QueueEntry] = []
    for kind in ("review", "control", "highlight"):
        same = [e for e in entries if e.kind == kind]
        if kind == "review":
            same.sort(key=lambda e: (-e.priority, e.call_id))
        out.extend(replace(e, rank=rank) for rank, e in enumerate(same, 1))
    return out
