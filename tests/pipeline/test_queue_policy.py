"""Inspector queues: pairing, rotation, budgets, coverage, control sample, highlights."""

from __future__ import annotations

import pytest

from pipeline.errors import QueueError
from pipeline.queue import (
    Candidate,
    Inspector,
    QueuePolicy,
    build_inspector_queues,
    check_pairings,
    pairings,
)
from pipeline.scoring import score_call
from pipeline.types import Evidence, Finding

INSPECTORS = [
    Inspector("lena", ("TEAM-01", "TEAM-02"), 10 * 60),
    Inspector("omar", ("TEAM-03",), 10 * 60),
    Inspector("wei", ("TEAM-04",), 10 * 60),
]


def _call(
    n: int, team: str, agent: str, *, bad: int = 0, critical: bool = False, duration: float = 300.0
) -> Candidate:
    """A call with ``bad`` failed items (each with 4 s of evidence) out of 5."""
    fs = []
    for k in range(5):
        failed = k < bad
        ev = (Evidence("agent", 20.0 * k + 10, 20.0 * k + 14, "…"),) if failed or k == 4 else ()
        fs.append(
            Finding(
                f"C{n:03d}",
                "r",
                1,
                f"item{k}",
                1,
                bool(ev),
                "fail" if failed else "pass",
                0.9,
                ev,
                20.0,
                False,
                False,
                f"item {k}",
            )
        )
    if critical:
        fs.append(
            Finding(
                f"C{n:03d}",
                "r",
                1,
                "rude",
                1,
                True,
                "fail",
                0.9,
                (Evidence("agent", 100, 103, "…"),),
                0.0,
                True,
            )
        )
    return Candidate(score_call(fs), tuple(fs), duration, agent, team)


def _day(seed: int = 0) -> list[Candidate]:
    calls = []
    for n in range(60):
        team = f"TEAM-0{1 + n % 4}"
        agent = f"A{1 + n % 12:02d}-{team[-1]}"
        calls.append(_call(n, team, agent, bad=(n // 4 + seed) % 4, critical=(n % 17 == 0)))
    return calls


def test_monthly_rotation_changes_pairings_at_the_month_boundary_deterministically() -> None:
    policy = QueuePolicy(rotation="monthly")
    nov = pairings(INSPECTORS, date="2026-11-30", policy=policy)
    dec = pairings(INSPECTORS, date="2026-12-01", policy=policy)
    assert nov == pairings(INSPECTORS, date="2026-11-01", policy=policy)
    assert nov != dec
    assert sorted(nov.values()) == sorted(dec.values())  # same teams, handed on
    assert pairings(INSPECTORS, date="2026-12-01", policy=QueuePolicy(rotation="off"))["lena"] == (
        "TEAM-01",
        "TEAM-02",
    )


def test_schedule_rotation_uses_the_months_entry() -> None:
    policy = QueuePolicy(
        rotation="schedule",
        schedule={"2026-12": {"lena": ("TEAM-04",), "wei": ("TEAM-01", "TEAM-02")}},
    )
    assert pairings(INSPECTORS, date="2026-12-15", policy=policy)["lena"] == ("TEAM-04",)
    assert pairings(INSPECTORS, date="2026-11-15", policy=policy)["lena"] == ("TEAM-01", "TEAM-02")


def test_sixteen_agents_in_a_pairing_are_refused_naming_inspector_and_count() -> None:
    agents = {
        "TEAM-01": {f"a{i}" for i in range(9)},
        "TEAM-02": {f"b{i}" for i in range(7)},
        "TEAM-03": {"c"},
    }
    with pytest.raises(QueueError, match="inspector 'lena' is paired with 16 agents") as info:
        check_pairings(
            {"lena": ("TEAM-01", "TEAM-02"), "omar": ("TEAM-03",)}, agents, max_agents=15
        )
    assert info.value.code == "Q001"
    agents["TEAM-02"].pop()
    check_pairings({"lena": ("TEAM-01", "TEAM-02")}, agents, max_agents=15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_budgets_are_never_exceeded_and_critical_calls_come_first(seed: int) -> None:
    queue = build_inspector_queues(
        _day(seed), date="2026-11-20", inspectors=INSPECTORS, policy=QueuePolicy(rotation="off")
    )
    for inspector in INSPECTORS:
        mine = [q for q in queue if q.inspector == inspector.name and q.kind != "highlight"]
        assert mine
        assert sum(q.price_s for q in mine) <= inspector.budget_s + 1e-6
        reviews = [q for q in mine if q.kind == "review"]
        assert reviews[0].priority >= 1000  # a critical failure heads the list
        assert [q.rank for q in reviews] == list(range(1, len(reviews) + 1))


def test_calls_only_reach_the_inspector_paired_with_their_team() -> None:
    queue = build_inspector_queues(
        _day(), date="2026-11-20", inspectors=INSPECTORS, policy=QueuePolicy(rotation="off")
    )
    owner = {"TEAM-01": "lena", "TEAM-02": "lena", "TEAM-03": "omar", "TEAM-04": "wei"}
    assert all(owner[q.team_id] == q.inspector for q in queue)


def test_control_sample_share_and_it_is_listened_to_whole() -> None:
    policy = QueuePolicy(rotation="off", control_share=0.1)
    big = [Inspector(i.name, i.teams, 10_000) for i in INSPECTORS]
    queue = build_inspector_queues(_day(), date="2026-11-20", inspectors=big, policy=policy)
    control = [q for q in queue if q.kind == "control"]
    # lena has 30 calls → 3 controls; omar and wei 15 each → 2 each
    assert sorted(q.inspector for q in control) == ["lena"] * 3 + ["omar"] * 2 + ["wei"] * 2
    assert all(q.plan_s == 120.0 and "control sample" in q.reasons[0] for q in control)
    again = build_inspector_queues(_day(), date="2026-11-20", inspectors=big, policy=policy)
    assert [q.call_id for q in again if q.kind == "control"] == [q.call_id for q in control]


def test_coverage_gives_every_agent_a_call() -> None:
    calls = [
        _call(n, "TEAM-03", f"A{n}", bad=0) for n in range(5)
    ]  # all fine: nothing needs review
    policy = QueuePolicy(rotation="off", control_share=0.0, coverage_per_week=1)
    queue = build_inspector_queues(calls, date="2026-11-20", inspectors=INSPECTORS, policy=policy)
    covered = {q.agent_id for q in queue if q.kind == "review"}
    assert covered == {f"A{n}" for n in range(5)}
    assert all("coverage: agent" in q.reasons[0] for q in queue if q.kind == "review")
    done = build_inspector_queues(
        calls,
        date="2026-11-20",
        inspectors=INSPECTORS,
        policy=policy,
        reviewed_this_week={f"A{n}": 1 for n in range(5)},
    )
    assert not [q for q in done if q.kind == "review"]


def test_highlights_are_the_best_calls_per_team_outside_the_budget() -> None:
    queue = build_inspector_queues(
        _day(),
        date="2026-11-20",
        inspectors=INSPECTORS,
        policy=QueuePolicy(rotation="off", highlights_per_team=2),
    )
    hl = [q for q in queue if q.kind == "highlight"]
    assert {q.team_id for q in hl} == {"TEAM-01", "TEAM-02", "TEAM-03", "TEAM-04"}
    assert all(
        sum(1 for q in hl if q.team_id == t) == 2
        for t in ("TEAM-01", "TEAM-02", "TEAM-03", "TEAM-04")
    )
    assert all(q.reasons[0].startswith("highlight: score 100") and q.plan for q in hl)


def test_unpaired_teams_go_to_unassigned() -> None:
    calls = [_call(1, "TEAM-99", "Z1", bad=3)]
    queue = build_inspector_queues(
        calls, date="2026-11-20", inspectors=INSPECTORS, policy=QueuePolicy(rotation="off")
    )
    assert [(q.inspector, q.call_id) for q in queue] == [("unassigned", "C001")]
