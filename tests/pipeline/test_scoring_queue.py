from __future__ import annotations

import itertools

import pytest

from pipeline.queue import Candidate, build_review_queue, listening_plan, merge_spans
from pipeline.scoring import clock, score_call
from pipeline.types import Evidence, Finding, PlanSpan, Span


def _f(
    item: str,
    outcome: str,
    *,
    weight: float = 10,
    critical: bool = False,
    flag: bool = False,
    ev=(),
    detected=None,
    call: str = "c1",
) -> Finding:
    if detected is None:
        detected = bool(ev)
    return Finding(
        call,
        "r",
        1,
        item,
        1,
        detected,
        outcome,
        0.9,
        tuple(ev),
        weight,
        critical,
        flag,
        item.title(),
    )  # type: ignore[arg-type]


def test_score_is_share_of_applicable_weight() -> None:
    s = score_call(
        [_f("a", "pass", weight=30), _f("b", "fail", weight=10), _f("c", "na", weight=60)]
    )
    assert s.score == 75.0
    assert s.needs_review is False
    assert s.priority == 25.0


def test_critical_failure_zeroes_and_explains() -> None:
    ev = Evidence("agent", 75.0, 77.0, "That's not my problem.")
    s = score_call([_f("a", "pass"), _f("rude", "fail", weight=0, critical=True, ev=[ev])])
    assert s.score == 0 and s.critical_failed and s.needs_review
    # the item by its title (here "Rude"), as inspectors read it, not its id
    assert s.reasons[0] == 'critical: Rude — agent at 1:15: "That\'s not my problem."'


def test_reasons_name_items_by_title_and_a_measurement_says_what_was_measured() -> None:
    # a metric.v1 finding: its evidence says what was measured (pipeline.metric_rows.measured);
    # the reason is that, not the item's pass title with the measurement quoted as if said
    words = "longest dead air 15.6 s at 0:23 (limit 10 s)"
    silence = Evidence("unknown", 23.0, 38.6, words, "metric longest_dead_air_s > 10")
    dead_air = _f("dead_air", "fail", weight=5, flag=True, ev=[silence])
    assert score_call([dead_air]).reasons[0] == words
    critical = _f("dead_air", "fail", weight=5, critical=True, ev=[silence])
    assert score_call([critical]).reasons[0] == f"critical: {words}"
    said = Evidence("unknown", 23.0, 24.0, "I want a manager")  # a party not told apart
    untitled = Finding("c1", "r", 1, "esc", 1, True, "fail", 0.9, (said,), 0, False, True)
    assert score_call([untitled]).reasons[0] == 'esc — at 0:23: "I want a manager"'


def test_a_critical_flag_item_is_one_reason_in_its_critical_form() -> None:
    """An item both ``critical`` and a ``flag`` is said once, as critical, in the stored
    reasons (it used to be written twice, the second copy without "critical: ")."""
    ev = Evidence("agent", 6.0, 7.0, "not my problem")
    swear = _f("forbidden_language", "fail", weight=0, critical=True, flag=True, ev=[ev])
    esc = _f(
        "escalation", "fail", weight=0, flag=True, ev=[Evidence("customer", 9.0, 10.0, "a manager")]
    )
    s = score_call([_f("a", "pass"), swear, esc])
    assert s.reasons == (
        'critical: Forbidden_Language — agent at 0:06: "not my problem"',  # by title
        'Escalation — customer at 0:09: "a manager"',
    )
    bare = score_call([_f("a", "pass"), _f("x", "fail", weight=0, critical=True, flag=True)])
    assert bare.reasons == ("critical: X failed",)


def test_flag_and_low_asr_and_low_score_need_review() -> None:
    ev = Evidence("customer", 5.0, 6.0, "I want a supervisor")
    flagged = score_call([_f("a", "pass"), _f("esc", "fail", weight=0, flag=True, ev=[ev])])
    assert flagged.needs_review and flagged.score == 100
    unsure = score_call([_f("a", "pass")], asr_confidence=0.4)
    assert unsure.needs_review and "low ASR confidence" in unsure.reasons[-1]
    low = score_call([_f("a", "fail"), _f("b", "fail"), _f("c", "pass")])
    assert low.needs_review and "score 33 below 70" in low.reasons[0]
    assert any(r.startswith("missed a") for r in low.reasons)


def test_no_applicable_items_scores_100() -> None:
    assert score_call([_f("a", "na")]).score == 100.0


def test_clock() -> None:
    assert clock(0) == "0:00" and clock(75.9) == "1:15" and clock(3600) == "60:00"


def test_plan_merges_overlapping_evidence_with_context() -> None:
    f = _f(
        "x",
        "fail",
        ev=[
            Evidence("agent", 10, 12, "a"),
            Evidence("agent", 14, 15, "b"),
            Evidence("agent", 50, 51, "c"),
        ],
    )
    assert listening_plan([f], duration_s=100) == (PlanSpan(7.0, 20.0), PlanSpan(47.0, 56.0))


def test_plan_is_clipped_to_the_call() -> None:
    f = _f("x", "fail", ev=[Evidence("agent", 1, 2, "a"), Evidence("agent", 9, 10, "b")])
    assert listening_plan([f], duration_s=11) == (PlanSpan(0.0, 11.0),)


@pytest.mark.parametrize("spans", [[], [Span(1, 2)], [Span(5, 6), Span(1, 2), Span(2, 3)]])
def test_merge_spans_sorted_disjoint(spans) -> None:
    out = merge_spans(spans)
    assert all(a.end_s < b.start_s for a, b in itertools.pairwise(out))


def test_review_queue_ranks_by_priority_and_skips_fine_calls() -> None:
    def cand(findings: list[Finding]) -> Candidate:
        return Candidate(score_call(findings), tuple(findings), 120.0, agent_id="A1")

    rude = Evidence("agent", 5, 6, "x")
    crit = cand(
        [
            _f("rude", "fail", weight=0, critical=True, ev=[rude], call="crit"),
            _f("a", "pass", call="crit"),
        ]
    )
    low = cand([_f(i, o, call="low") for i, o in (("a", "fail"), ("b", "fail"), ("c", "pass"))])
    fine = cand([_f("a", "pass", call="fine")])
    queue = build_review_queue([fine, low, crit], date="2026-11-20")
    assert [q.call_id for q in queue] == ["crit", "low"]
    assert [q.rank for q in queue] == [1, 2]
    assert queue[0].plan == (PlanSpan(2.0, 11.0),)
    assert queue[0].agent_id == "A1"
