"""Review queues: which calls an inspector takes in, and exactly which moments.

A queued call carries its *listening plan* (:mod:`pipeline.plans`): stretches to hear
and stretches to read. Its cost to the inspector's budget is the plan's price, not the
call's length: heard seconds count in full, read seconds at the reading speed
(:class:`~pipeline.plans.PlanOptions`).
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

# isort: off
from pipeline.plans import (  # re-exported: the queue's callers reach plans as queue.<name>
    DEFAULT_PLAN,
    PlanOptions as PlanOptions,
    heard_plan as heard_plan,
    item_windows as item_windows,
    listening_plan as listening_plan,
    merge_plan as merge_plan,
    merge_spans as merge_spans,
)

# isort: on
from pipeline.rotation import check_languages, rotate, stored_team_languages
from pipeline.scoring import DEFAULT_WEIGHTS, PriorityWeights, call_priority, clock
from pipeline.types import CallScore, Finding, PlanSpan, QueueEntry, QueueKind

UNASSIGNED = "unassigned"
"""The queue of calls whose team no inspector is paired with (or when none is configured)."""

TeamLanguages = Mapping[str, frozenset[str]]
"""``{team_id: languages of its calls}``; a team not in it can go to any inspector."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A scored call, with what the queue needs to plan and explain it."""

    score: CallScore
    findings: tuple[Finding, ...]
    duration_s: float
    agent_id: str = ""
    team_id: str = ""
    windows: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """Each windowed rubric item's window in this call, in seconds (see :func:`item_windows`)."""
    asr_confidence: float = 1.0
    agitation_z: float = math.nan
    """The customer's highest voice agitation (``customer_agitation_max``), NaN if unmeasured."""
    customer_sentiment: tuple[tuple[float, float, float], ...] = ()
    """(start_s, end_s, sentiment −1…1) of each customer utterance with a reading, in
    time order (``utterances.sentiment``); empty when the call was not embedded."""

    def priority(self, weights: PriorityWeights) -> float:
        """This call's priority under ``weights`` (see :func:`pipeline.scoring.call_priority`)."""
        return call_priority(
            self.findings,
            score=self.score.score,
            asr_confidence=self.asr_confidence,
            agitation_z=self.agitation_z,
            unhappy_readings=len(self.unhappy_moments(weights)),
            weights=weights,
        )

    def unhappy_moments(self, weights: PriorityWeights) -> list[tuple[float, float, float]]:
        """The customer utterances that read ``weights.unhappy_below`` or lower."""
        return [m for m in self.customer_sentiment if m[2] <= weights.unhappy_below]

    def unhappy(self, weights: PriorityWeights) -> bool:
        """At least ``weights.unhappy_count`` customer utterances read unhappy."""
        n = weights.unhappy_count
        return n > 0 and len(self.unhappy_moments(weights)) >= n

    def due(self, weights: PriorityWeights) -> bool:
        """Needs review: the score says so, the customer's voice was agitated, or their
        sentiment fell low."""
        z = self.agitation_z
        agitated = z == z and z >= weights.agitation_z
        return self.score.needs_review or agitated or self.unhappy(weights)


def build_review_queue(
    candidates: Sequence[Candidate],
    *,
    date: str,
    inspector: str = UNASSIGNED,
    weights: PriorityWeights = DEFAULT_WEIGHTS,
    options: PlanOptions = DEFAULT_PLAN,
) -> list[QueueEntry]:
    """Every call that needs review, most urgent first (ties by call id, so stable).

    This is the queue without inspector configuration: one list, no budget.
    """
    due = sorted(
        ((c.priority(weights), c) for c in candidates if c.due(weights)),
        key=lambda pc: (-pc[0], pc[1].score.score, pc[1].score.call_id),
    )
    return [
        _entry(
            c,
            inspector=inspector,
            date=date,
            kind="review",
            priority=priority,
            reasons=_reasons(c, weights),
            plan=_review_plan(c, options, weights),
            options=options,
            rank=rank,
        )
        for rank, (priority, c) in enumerate(due, 1)
    ]


def _reasons(c: Candidate, weights: PriorityWeights) -> tuple[str, ...]:
    """The score's reasons, and the signals measured beside the rubric."""
    extra = []
    z = c.agitation_z
    if z == z and z >= weights.agitation_z:
        extra.append(f"customer's voice agitated (z {z:.1f})")
    if c.unhappy(weights):
        moments = c.unhappy_moments(weights)
        low = min(moments, key=lambda m: m[2])
        extra.append(
            f"customer unhappy {len(moments)} times by sentiment "
            f"(lowest {low[2]:.2f} at {clock(low[0])})"
        )
    return (*c.score.reasons, *extra)


def _review_plan(
    c: Candidate, options: PlanOptions, weights: PriorityWeights = DEFAULT_WEIGHTS
) -> tuple[PlanSpan, ...]:
    """The findings' plan and, when the customer read unhappy, those moments (heard): all
    but the first, which is usually the reason for the call, at most three."""
    plan = listening_plan(c.findings, duration_s=c.duration_s, windows=c.windows, options=options)
    if not c.unhappy(weights):
        return plan
    heard = [
        PlanSpan(max(0.0, start - options.before_s), min(c.duration_s, end + options.after_s))
        for start, end, _ in c.unhappy_moments(weights)[1:4]
    ]
    return merge_plan([*plan, *heard])


def _entry(
    c: Candidate,
    *,
    inspector: str,
    date: str,
    kind: QueueKind,
    priority: float,
    reasons: tuple[str, ...],
    plan: tuple[PlanSpan, ...],
    options: PlanOptions,
    rank: int = 0,
) -> QueueEntry:
    return QueueEntry(
        inspector=inspector,
        date=date,
        rank=rank,
        call_id=c.score.call_id,
        kind=kind,
        priority=priority,
        reasons=reasons,
        plan=plan,
        agent_id=c.agent_id,
        team_id=c.team_id,
        cost_s=options.price_s(plan),
    )


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
    weights: PriorityWeights = field(default_factory=PriorityWeights)
    plan: PlanOptions = field(default_factory=PlanOptions)
    skim: bool = True
    """Budget left after the calls that need review goes to reading the transcripts of the
    other calls (kind ``skim``), in a random order (seeded by date and inspector): what
    the detectors missed is found there, at the reading speed."""


def weights_from_config(config: Config) -> PriorityWeights:
    """``[queue.priority]`` as :class:`~pipeline.scoring.PriorityWeights`."""
    return PriorityWeights(**config.queue.priority.model_dump())


def plan_options_from_config(config: Config) -> PlanOptions:
    """The plan options of ``[queue]`` (context, missed-item cap, reading speed)."""
    q = config.queue
    return PlanOptions(
        before_s=q.context_before_s,
        after_s=q.context_after_s,
        missed_item_max_s=q.missed_item_max_s,
        read_speed=q.read_speed,
        read_metrics=tuple(q.read_metrics),
    )


def policy_from_config(config: Config) -> QueuePolicy:
    """The queue policy of ``[queue]`` in ``earmark.toml``."""
    q = config.queue
    return QueuePolicy(
        weights=weights_from_config(config),
        plan=plan_options_from_config(config),
        rotation=q.rotation,
        schedule={m: {k: tuple(v) for k, v in p.items()} for m, p in q.schedule.items()},
        max_agents=q.max_agents_per_inspector,
        coverage_per_week=q.coverage_per_week,
        control_share=q.control_share,
        highlights_per_team=q.highlights_per_team,
        highlight_min_score=q.highlight_min_score,
        control_max_s=q.control_max_minutes * 60,
        seed=q.seed,
        skim=q.skim,
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

    The budget (the plans' price: heard seconds plus read seconds at the reading
    speed, see :class:`PlanOptions`) is never exceeded. In order: critical
    failures; the control sample, drawn at random (seeded by date and inspector) from
    all the inspector's calls and heard from the start (up to ``control_max_s``), so it
    measures what the flags miss; for each agent below the weekly coverage, their most
    urgent call; then the rest by priority while the budget lasts; then, with
    ``policy.skim``, whole transcripts of the calls nothing flagged, to read.
    Highlights — the day's best calls per team — are a separate list, outside the budget.
    Calls of teams nobody covers go to ``unassigned``. ``team_languages`` as for
    :func:`pairings`.
    """
    pairs = pairings(inspectors, date=date, policy=policy, team_languages=team_languages)
    team_owner = {team: name for name, teams in pairs.items() for team in teams}
    budgets = {i.name: i.budget_s for i in inspectors}
    mine: dict[str, list[Candidate]] = {}
    for c in candidates:
        mine.setdefault(team_owner.get(c.team_id, UNASSIGNED), []).append(c)
    queue: list[QueueEntry] = []
    for name, calls in sorted(mine.items()):
        if name == UNASSIGNED:
            queue.extend(
                build_review_queue(
                    calls,
                    date=date,
                    inspector=UNASSIGNED,
                    weights=policy.weights,
                    options=policy.plan,
                )
            )
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
    opts = policy.plan
    priority = {c.score.call_id: c.priority(policy.weights) for c in calls}

    def take(
        c: Candidate, kind: QueueKind, reasons: tuple[str, ...], plan: tuple[PlanSpan, ...]
    ) -> None:
        nonlocal left
        cost = opts.price_s(plan)
        if c.score.call_id in taken or not plan or cost > left:
            return
        left -= cost
        taken.add(c.score.call_id)
        chosen.append(
            _entry(
                c,
                inspector=name,
                date=date,
                kind=kind,
                priority=priority[c.score.call_id],
                reasons=reasons,
                plan=plan,
                options=opts,
            )
        )

    urgent = sorted(
        calls, key=lambda c: (-priority[c.score.call_id], c.score.score, c.score.call_id)
    )
    for c in urgent:
        if c.score.critical_failed:
            take(c, "review", _reasons(c, policy.weights), _review_plan(c, opts, policy.weights))
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
            (PlanSpan(0.0, round(min(c.duration_s, policy.control_max_s), 3)),),
        )
    for agent in sorted({c.agent_id for c in calls if c.agent_id}):
        if reviewed.get(agent, 0) < policy.coverage_per_week:
            best = next(c for c in urgent if c.agent_id == agent)
            plan = _review_plan(best, opts, policy.weights) or moments_plan(best, opts)
            why = f"coverage: agent {agent} has {reviewed.get(agent, 0)} reviewed call(s) this week, {policy.coverage_per_week} wanted"
            take(best, "review", (why, *_reasons(best, policy.weights)), plan)
    for c in urgent:
        if c.due(policy.weights):
            take(c, "review", _reasons(c, policy.weights), _review_plan(c, opts, policy.weights))
    if policy.skim:
        rest = [c for c in calls if c.score.call_id not in taken and not c.due(policy.weights)]
        # At random, not by score: a call's known shortfalls are already in its score and
        # reasons; what the skim is for, what no detector saw, is not.
        rest.sort(key=lambda c: c.score.call_id)
        _rng(policy, date, name, "skim").shuffle(rest)
        skim_why = ("skim: nothing flagged; read the transcript for what the detectors miss",)
        for c in rest:
            take(c, "skim", skim_why, (PlanSpan(0.0, round(c.duration_s, 3), "read"),))
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
            and not c.due(policy.weights)
            and c.score.score >= policy.highlight_min_score
        ]
        good.sort(key=lambda c: (-c.score.score, -_praise(c), c.score.call_id))
        for c in good[: policy.highlights_per_team]:
            praised = [f for f in c.findings if f.outcome == "pass" and f.detected and f.evidence]
            plan = heard_plan(
                [e.start_s for f in praised for e in f.evidence[:1]],
                [e.end_s for f in praised for e in f.evidence[:1]],
                duration_s=c.duration_s,
                options=policy.plan,
            )
            shown = ", ".join(f"{f.item_id} at {clock(f.evidence[0].start_s)}" for f in praised[:4])
            why = (f"highlight: score {c.score.score:.0f}" + (f"; {shown}" if shown else ""),)
            out.append(
                _entry(
                    c,
                    inspector=name,
                    date=date,
                    kind="highlight",
                    priority=c.priority(policy.weights),
                    reasons=why,
                    plan=plan,
                    options=policy.plan,
                )
            )
    return out


def moments_plan(c: Candidate, options: PlanOptions = DEFAULT_PLAN) -> tuple[PlanSpan, ...]:
    """For a call with nothing wrong: the first moment of each behaviour found, with
    context (what a coach plays back), else the call's opening (heard)."""
    shown = [f for f in c.findings if f.detected and f.evidence and f.outcome == "pass"]
    plan = heard_plan(
        [f.evidence[0].start_s for f in shown],
        [f.evidence[0].end_s for f in shown],
        duration_s=c.duration_s,
        options=options,
    )
    return plan or (PlanSpan(0.0, round(min(c.duration_s, options.missed_item_max_s), 3)),)


def _praise(c: Candidate) -> int:
    return sum(1 for f in c.findings if f.outcome == "pass" and f.detected and f.weight > 0)


def _ranked(entries: Sequence[QueueEntry]) -> list[QueueEntry]:
    """Rank within each kind: reviews by priority, the others in the order chosen."""
    out: list[QueueEntry] = []
    for kind in ("review", "control", "skim", "highlight"):
        same = [e for e in entries if e.kind == kind]
        if kind == "review":
            same.sort(key=lambda e: (-e.priority, e.call_id))
        out.extend(replace(e, rank=rank) for rank, e in enumerate(same, 1))
    return out
