"""Listening plans that hear and read, priced plans, and the priority formula."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from pipeline.config import Config, QueueConfig
from pipeline.queue import (
    Candidate,
    Inspector,
    PlanOptions,
    QueuePolicy,
    build_inspector_queues,
    build_review_queue,
    item_windows,
    listening_plan,
    merge_plan,
    plan_options_from_config,
    policy_from_config,
    weights_from_config,
)
from pipeline.rows import queue_entry_from_row, queue_row
from pipeline.rubric.schema import load_rubric
from pipeline.scoring import PriorityWeights, call_priority, score_call
from pipeline.types import Evidence, Finding, PlanSpan


def _f(
    item: str,
    outcome: str,
    *,
    ev: tuple[Evidence, ...] = (),
    weight: float = 10.0,
    critical: bool = False,
    flag: bool = False,
    call: str = "c1",
) -> Finding:
    return Finding(call, "r", 1, item, 1, bool(ev), outcome, 0.9, ev, weight, critical, flag, item)  # type: ignore[arg-type]


WINDOWS = {"greeting": (0.0, 30.0), "closing": (240.0, 300.0)}


@pytest.mark.parametrize(
    ("item", "want"),
    [
        ("greeting", PlanSpan(0.0, 30.0, "read")),  # its own window, 30 s
        ("closing", PlanSpan(270.0, 300.0, "read")),  # the last 60 s capped to the last 30 s
        ("empathy", PlanSpan(0.0, 30.0, "read")),  # no window: the whole call, capped from start
    ],
)
def test_missed_item_is_read_in_its_own_window(item: str, want: PlanSpan) -> None:
    plan = listening_plan([_f(item, "fail")], duration_s=300.0, windows=WINDOWS)
    assert plan == (want,)


def test_missed_item_window_cap_and_short_call() -> None:
    wide = PlanOptions(missed_item_max_s=90.0)
    plan = listening_plan([_f("closing", "fail")], duration_s=300.0, windows=WINDOWS, options=wide)
    assert plan == (PlanSpan(240.0, 300.0, "read"),)
    short = listening_plan([_f("greeting", "fail")], duration_s=12.0, windows={"greeting": (0, 30)})
    assert short == (PlanSpan(0.0, 12.0, "read"),)


def test_evidence_is_heard_and_silence_is_read() -> None:
    rude = _f("rude", "fail", ev=(Evidence("agent", 100, 104, "calm down"),), flag=True)
    gap = _f(
        "dead_air",
        "fail",
        ev=(
            Evidence(
                "unknown", 150, 170, "longest_dead_air_s = 20", "metric longest_dead_air_s > 10"
            ),
        ),
    )
    over = _f(
        "interrupting",
        "fail",
        ev=(Evidence("unknown", 200, 201, "x", "metric agent_overtalk_count >= 3"),),
    )
    plan = listening_plan([rude, gap, over], duration_s=300.0)
    assert plan == (
        PlanSpan(97.0, 109.0, "hear"),
        PlanSpan(147.0, 175.0, "read"),
        PlanSpan(197.0, 206.0, "hear"),
    )


def test_overlap_of_heard_and_read_is_heard_once() -> None:
    plan = merge_plan([PlanSpan(0.0, 30.0, "read"), PlanSpan(10.0, 15.0), PlanSpan(28.0, 40.0)])
    assert plan == (
        PlanSpan(0.0, 10.0, "read"),
        PlanSpan(10.0, 15.0, "hear"),
        PlanSpan(15.0, 28.0, "read"),
        PlanSpan(28.0, 40.0, "hear"),
    )
    assert sum(s.duration_s for s in plan) == 40.0


def test_price_counts_read_at_reading_speed() -> None:
    plan = (PlanSpan(0.0, 40.0, "read"), PlanSpan(50.0, 60.0, "hear"))
    assert PlanOptions().price_s(plan) == 20.0
    assert PlanOptions(read_speed=2.0).price_s(plan) == 30.0


def _cand(call: str, findings: list[Finding], **kw: object) -> Candidate:
    return Candidate(score_call(findings), tuple(findings), 300.0, windows=WINDOWS, **kw)  # type: ignore[arg-type]


def _signal_calls() -> dict[str, Candidate]:
    angry = (Evidence("customer", 60, 63, "this is a joke"),)
    rude = (Evidence("agent", 80, 82, "you should have read the terms"),)
    swear = (Evidence("agent", 90, 91, "bloody"),)
    misses = [_f(i, "fail", call="sloppy") for i in ("greeting", "closing", "a", "b")]
    return {
        "sloppy": _cand("sloppy", [*misses, _f("c", "pass", call="sloppy")]),
        "angry": _cand(
            "angry",
            [
                _f("customer_dissatisfaction", "fail", ev=angry, flag=True, weight=0, call="angry"),
                _f("a", "pass", call="angry"),
            ],
        ),
        "rude": _cand(
            "rude",
            [
                _f("conduct", "fail", ev=rude, flag=True, weight=0, call="rude"),
                _f("a", "pass", call="rude"),
            ],
        ),
        "swear": _cand(
            "swear",
            [
                _f("forbidden", "fail", ev=swear, critical=True, flag=True, call="swear"),
                _f("a", "pass", call="swear"),
            ],
        ),
        "fine": _cand("fine", [_f("a", "pass", call="fine")]),
    }


def test_priority_puts_what_must_be_heard_before_missed_script() -> None:
    calls = _signal_calls()
    queue = build_review_queue(list(calls.values()), date="2026-12-01")
    assert [q.call_id for q in queue] == ["swear", "rude", "angry", "sloppy"]
    sloppy = queue[-1]
    assert {s.kind for s in sloppy.plan} == {"read"}
    assert sloppy.price_s == pytest.approx(sloppy.plan_s / 4)


def test_priority_weights_are_settable() -> None:
    calls = _signal_calls()
    only_score = PriorityWeights(critical=0, conduct=0, signal=0, moment=0, strength=0)
    queue = build_review_queue(list(calls.values()), date="2026-12-01", weights=only_score)
    # a failed critical item scores 0, so it still leads; the missed script comes next
    assert [q.call_id for q in queue][:2] == ["swear", "sloppy"]


def test_the_configs_priority_defaults_are_the_weights_defaults() -> None:
    # written twice: [queue.priority] (bounds, cheap to import) and PriorityWeights (docs)
    assert weights_from_config(Config()) == PriorityWeights()


def test_call_priority_formula() -> None:
    angry = _f(
        "dis",
        "fail",
        flag=True,
        ev=tuple(Evidence("customer", t, t + 1, "no") for t in (10, 20, 30, 40, 50)),
    )
    w = PriorityWeights()
    # one signal as sure as a phrase, 4 further moments capped at 3, agitated, unsure ASR,
    # score 80
    got = call_priority([angry], score=80.0, asr_confidence=0.5, agitation_z=4.0, weights=w)
    assert got == w.signal + w.strength + 3 * w.moment + w.agitation + w.low_asr + 20.0
    assert call_priority([], score=100.0, agitation_z=math.nan) == 0.0


def test_the_surer_complaint_comes_first_and_never_before_conduct() -> None:
    def complaint(call: str, strength: float) -> Candidate:
        ev = (Evidence("customer", 60, 63, "well this is not what I was promised"),)
        found = _f("customer_dissatisfaction", "fail", ev=ev, flag=True, weight=0, call=call)
        return _cand(call, [replace(found, strength=strength), _f("a", "pass", call=call)])

    calls = [complaint("calm", 0.05), complaint("furious", 1.0), _signal_calls()["rude"]]
    queue = build_review_queue(calls, date="2026-12-01")
    assert [q.call_id for q in queue] == ["rude", "furious", "calm"]
    flat = PriorityWeights(strength=0)
    ranked = build_review_queue(calls[:2], date="2026-12-01", weights=flat)
    assert {q.priority for q in ranked} == {flat.signal}


def test_agitated_customer_makes_a_fine_call_due() -> None:
    calm = _cand("calm", [_f("a", "pass", call="calm")], agitation_z=1.0)
    loud = _cand("loud", [_f("a", "pass", call="loud")], agitation_z=5.0)
    queue = build_review_queue([calm, loud], date="2026-12-01")
    assert [q.call_id for q in queue] == ["loud"]
    assert queue[0].priority == PriorityWeights().agitation


def test_budget_counts_the_price_of_plans() -> None:
    calls = [
        Candidate(
            score_call([_f(i, "fail", call=f"c{n}") for i in ("greeting", "closing", "a")]),
            tuple(_f(i, "fail", call=f"c{n}") for i in ("greeting", "closing", "a")),
            300.0,
            agent_id="A1",
            team_id="T",
            windows=WINDOWS,
        )
        for n in range(6)
    ]
    policy = QueuePolicy(rotation="off", control_share=0.0, coverage_per_week=0)
    queue = build_inspector_queues(
        calls, date="2026-12-01", inspectors=[Inspector("lena", ("T",), 60.0)], policy=policy
    )
    review = [q for q in queue if q.kind == "review"]
    # each plan reads 90 s of call (greeting 30, closing 30, item a 30 from the start,
    # merged with the greeting: 60 s) and costs a quarter of it
    assert review and all(q.price_s == pytest.approx(q.plan_s / 4) for q in review)
    assert sum(q.price_s for q in review) <= 60.0
    assert len(review) == 60 // int(review[0].price_s)


def test_item_windows_of_a_shipped_rubric() -> None:
    windows = item_windows(load_rubric("rubrics/ru/inbound-support.yaml"), duration_s=200.0)
    assert windows["greeting"] == (0.0, 30.0)
    assert windows["closing"] == (140.0, 200.0)
    assert "empathy" not in windows


def test_queue_row_round_trip_keeps_kinds_and_price() -> None:
    q = build_review_queue(list(_signal_calls().values()), date="2026-12-01")[-1]
    back = queue_entry_from_row(queue_row(q))
    assert back == q
    old = {**queue_row(q), "cost_s": None, "plan": [{"start_s": 0.0, "end_s": 9.0}]}
    legacy = queue_entry_from_row(old)
    assert legacy.plan == (PlanSpan(0.0, 9.0, "hear"),) and legacy.price_s == 9.0


def test_config_sets_weights_and_plan_options() -> None:
    config = Config(
        queue=QueueConfig.model_validate(
            {"read_speed": 2.0, "missed_item_max_s": 45, "priority": {"signal": 300}}
        )
    )
    policy = policy_from_config(config)
    assert policy.weights.signal == 300 and policy.weights.critical == 1000
    assert plan_options_from_config(config).read_speed == 2.0
    assert policy.plan.missed_item_max_s == 45


def test_spare_budget_skims_the_unflagged_calls_and_skim_can_be_off() -> None:
    fine = [
        Candidate(
            score_call([_f("a", "pass", call=f"f{n}")]),
            (_f("a", "pass", call=f"f{n}"),),
            200.0,
            team_id="T",
        )
        for n in range(10)
    ]
    flagged = _signal_calls()["angry"]
    flagged = Candidate(flagged.score, flagged.findings, 300.0, team_id="T")
    lena = [Inspector("lena", ("T",), 200.0)]
    policy = QueuePolicy(rotation="off", control_share=0.0, coverage_per_week=0)
    queue = build_inspector_queues(
        [*fine, flagged], date="2026-12-01", inspectors=lena, policy=policy
    )
    kinds = [q.kind for q in queue if q.kind != "highlight"]
    assert kinds[0] == "review" and set(kinds[1:]) == {"skim"}
    skims = [q for q in queue if q.kind == "skim"]
    # 200 s of budget: the flagged call's 11 s, then 50 s per whole 200 s call read at 4x
    assert len(skims) == 3 and all(q.plan == (PlanSpan(0.0, 200.0, "read"),) for q in skims)
    assert all(q.price_s == 50.0 for q in skims)
    again = build_inspector_queues(
        [*fine, flagged], date="2026-12-01", inspectors=lena, policy=policy
    )
    assert [q.call_id for q in again] == [q.call_id for q in queue]  # seeded, stable
    other_day = build_inspector_queues(
        [*fine, flagged], date="2026-12-02", inspectors=lena, policy=policy
    )
    picks = {q.call_id for q in other_day if q.kind == "skim"}
    assert len(picks) == 3
    off = QueuePolicy(rotation="off", control_share=0.0, coverage_per_week=0, skim=False)
    queue = build_inspector_queues([*fine, flagged], date="2026-12-01", inspectors=lena, policy=off)
    assert [q.kind for q in queue if q.kind != "highlight"] == ["review"]


def test_customer_unhappy_twice_by_sentiment_is_heard_after_the_first_time() -> None:
    readings = ((20.0, 24.0, -0.9), (60.0, 62.0, 0.3), (100.0, 104.0, -0.95))
    once = _cand("once", [_f("a", "pass", call="once")], customer_sentiment=readings[:2])
    sour = _cand("sour", [_f("a", "pass", call="sour")], customer_sentiment=readings)
    unread = _cand("unread", [_f("a", "pass", call="unread")])
    queue = build_review_queue([once, sour, unread], date="2026-12-01")
    # the first unhappy reading is why they called; the second is what the call did
    assert [q.call_id for q in queue] == ["sour"]
    assert queue[0].plan == (PlanSpan(97.0, 109.0, "hear"),)
    assert queue[0].priority == PriorityWeights().unhappy
    assert queue[0].reasons[-1] == "customer unhappy 2 times by sentiment (lowest -0.95 at 1:40)"
    # a detected signal still outranks a sentiment reading, which outranks missed script
    calls = [*_signal_calls().values(), sour]
    ranked = [q.call_id for q in build_review_queue(calls, date="2026-12-01")]
    assert ranked.index("angry") < ranked.index("sour") < ranked.index("sloppy")
    assert (
        build_review_queue([sour], date="2026-12-01", weights=PriorityWeights(unhappy_below=-0.92))
        == []
    )
    assert (
        build_review_queue([sour], date="2026-12-01", weights=PriorityWeights(unhappy_count=0))
        == []
    )
    assert [
        q.call_id
        for q in build_review_queue(
            [once], date="2026-12-01", weights=PriorityWeights(unhappy_count=1)
        )
    ] == ["once"]
