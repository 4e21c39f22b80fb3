"""``trend`` queue entries: a rising reason's calls, heard where the reason was stated,
within each inspector's budget (highlights cost nothing), never twice."""

from __future__ import annotations

from pipeline.queue import PlanOptions
from pipeline.queue_trend import TrendCall, add_trend_calls
from pipeline.types import PlanSpan, QueueEntry


def _review(inspector: str, call_id: str, seconds: float) -> QueueEntry:
    plan = (PlanSpan(0.0, seconds),)
    return QueueEntry(
        inspector, "2026-11-30", 1, call_id, "review", 100.0, ("why",), plan, cost_s=seconds
    )


def _trend(call_id: str, team: str, start: float = 20.0) -> TrendCall:
    return TrendCall(call_id, team, "A1", 120.0, start, start + 6.0, "trend: R0005 new")


def test_trend_calls_fit_the_budget_left_and_go_to_the_teams_inspector() -> None:
    queue = [
        _review("lena", "c1", 100.0),
        QueueEntry("lena", "2026-11-30", 1, "c9", "highlight", 0.0, ("h",), (PlanSpan(0, 50),)),
    ]
    owners = {"TEAM-01": "lena", "TEAM-02": "omar"}
    out = add_trend_calls(
        queue,
        [
            _trend("t1", "TEAM-01"),
            _trend("t2", "TEAM-01"),
            _trend("t3", "TEAM-02"),
            _trend("c1", "TEAM-01"),
        ],
        date="2026-11-30",
        owners=owners,
        budgets={"lena": 130.0, "omar": 10.0},
        options=PlanOptions(),
    )
    trend = [e for e in out if e.kind == "trend"]
    # each costs 3 + 6 + 5 = 14 s: lena has 30 s left (the highlight is free): two fit;
    # omar's 10 s cannot pay for one; c1 is already in lena's queue
    assert [(e.inspector, e.call_id, e.rank) for e in trend] == [
        ("lena", "t1", 1),
        ("lena", "t2", 2),
    ]
    assert trend[0].plan == (PlanSpan(17.0, 31.0, "hear"),) and trend[0].cost_s == 14.0
    assert out[: len(queue)] == queue


def test_without_inspectors_trend_calls_go_to_the_unassigned_list_unbudgeted() -> None:
    out = add_trend_calls(
        [],
        [_trend("t1", "TEAM-01", start=1.0)],
        date="2026-11-30",
        owners={},
        budgets={},
        options=PlanOptions(before_s=3.0, after_s=5.0),
    )
    assert [(e.inspector, e.kind, e.plan) for e in out] == [
        ("unassigned", "trend", (PlanSpan(0.0, 12.0, "hear"),))
    ]
