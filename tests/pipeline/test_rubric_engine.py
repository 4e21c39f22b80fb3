from __future__ import annotations

from dataclasses import replace

import pytest
from rubrickit import GREETING, rubric_doc, spoken_words

from models.nlp import get_analyzer
from pipeline.rubric.engine import compile_rubric, evaluate
from pipeline.rubric.schema import parse_rubric
from pipeline.types import Transcript, Utterance

RUBRIC = {
    **rubric_doc(version=2),
    "items": [
        {**GREETING, "params": {"phrases": ["thanks for calling", "good morning"]}},
        {
            "id": "closing",
            "speaker": "agent",
            "window": {"last_s": 30},
            "expect": "present",
            "weight": 10,
            "detector": "phrase.v1",
            "params": {"phrases": ["anything else i can help"]},
        },
        {
            "id": "rude",
            "speaker": "agent",
            "expect": "absent",
            "weight": 0,
            "critical": True,
            "detector": "phrase.v1",
            "params": {"phrases": ["not my problem"]},
        },
        {
            "id": "escalation",
            "speaker": "customer",
            "expect": "absent",
            "weight": 0,
            "flag": True,
            "detector": "phrase.v1",
            "params": {"phrases": ["speak to your manager", "supervisor"]},
        },
        {
            "id": "hold_etiquette",
            "speaker": "agent",
            "expect": "present",
            "weight": 10,
            "detector": "phrase.v1",
            "params": {"phrases": ["thank you for holding"]},
            "na_when": {
                "not_detected": {
                    "detector": "phrase.v1",
                    "speaker": "agent",
                    "params": {"phrases": ["please hold"]},
                }
            },
        },
    ],
}


def _call(*turns: tuple[str, float, str], duration: float = 120.0) -> Transcript:
    utts = tuple(
        Utterance(
            speaker=s,
            start_s=t,
            end_s=t + 0.5 * len(x.split()),
            text=x,
            words=spoken_words(x, t),
            confidence=0.9,
        )  # type: ignore[arg-type]
        for s, t, x in turns
    )
    return Transcript("c1", "en", duration, utts)


@pytest.fixture(scope="module")
def compiled():
    return compile_rubric(parse_rubric(RUBRIC, source="t.yaml"), get_analyzer("en"))


def _by_id(findings):
    return {f.item_id: f for f in findings}


def test_good_call(compiled) -> None:
    call = _call(
        ("agent", 1.0, "Good morning, thanks for calling Acme!"),
        ("customer", 5.0, "Hi, my internet is down."),
        ("agent", 100.0, "Is there anything else I can help you with?"),
    )
    f = _by_id(evaluate(compiled, call))
    assert f["greeting"].outcome == "pass"
    assert f["closing"].outcome == "pass"
    assert f["rude"].outcome == "pass" and not f["rude"].detected
    assert f["hold_etiquette"].outcome == "na"


def test_evidence_times_come_from_the_matched_words(compiled) -> None:
    call = _call(("agent", 2.0, "Hello there, thanks for calling Acme"))
    ev = _by_id(evaluate(compiled, call))["greeting"].evidence[0]
    # "thanks" is the 3rd word (2.0 + 2*0.5), "calling" the 5th (2.0 + 4*0.5 + 0.4)
    assert (ev.start_s, ev.end_s) == (3.0, 4.4)
    assert ev.speaker == "agent" and ev.rule == "phrase 'thanks for calling'"
    assert ev.text == "Hello there, thanks for calling Acme"


def test_window_and_speaker_constraints(compiled) -> None:
    late = _call(("agent", 50.0, "Thanks for calling"), ("customer", 1.0, "good morning"))
    f = _by_id(evaluate(compiled, late))
    assert f["greeting"].outcome == "fail"  # agent too late, customer's words do not count
    assert not f["greeting"].evidence


def test_absent_items_critical_and_flag(compiled) -> None:
    call = _call(
        ("agent", 10.0, "That's not my problem."),
        ("customer", 12.0, "Let me speak to your manager now"),
    )
    f = _by_id(evaluate(compiled, call))
    assert f["rude"].detected and f["rude"].outcome == "fail" and f["rude"].critical
    assert f["escalation"].outcome == "fail" and f["escalation"].flag


def test_na_when_applies_only_without_hold(compiled) -> None:
    held = _call(
        ("agent", 10.0, "Please hold while I check"), ("agent", 40.0, "Thank you for holding")
    )
    not_thanked = _call(("agent", 10.0, "Please hold while I check"))
    assert _by_id(evaluate(compiled, held))["hold_etiquette"].outcome == "pass"
    assert _by_id(evaluate(compiled, not_thanked))["hold_etiquette"].outcome == "fail"


def test_mono_call_ignores_speaker_but_lowers_confidence(compiled) -> None:
    utt = Utterance("unknown", 1.0, 3.0, "thanks for calling", (), 0.9)
    f = _by_id(evaluate(compiled, Transcript("m", "en", 60.0, (utt,))))["greeting"]
    assert f.outcome == "pass"
    assert f.confidence < 0.9


def test_findings_carry_rubric_identity(compiled) -> None:
    f = evaluate(compiled, _call(("agent", 1.0, "hi")))
    assert {(x.rubric_id, x.rubric_version) for x in f} == {("t", 2)}
    assert [x.item_id for x in f] == [i["id"] for i in RUBRIC["items"]]


def test_phrase_matches_whole_tokens_only(compiled) -> None:
    call = _call(
        ("customer", 5.0, "the supervisors' lounge"), ("customer", 9.0, "get me a SUPERVISOR!")
    )
    ev = _by_id(evaluate(compiled, call))["escalation"].evidence
    assert [e.text for e in ev] == ["get me a SUPERVISOR!"]


def test_a_flag_on_words_the_recogniser_was_unsure_of_is_not_judged() -> None:
    doc = {**RUBRIC, "items": [{**RUBRIC["items"][3], "min_confidence": 0.4}]}
    rubric = compile_rubric(parse_rubric(doc, source="t.yaml"), get_analyzer("en"))
    call = _call(("customer", 5.0, "let me speak to your manager"))
    garbled = replace(call.utterances[0], confidence=0.28)
    unsure = Transcript("c1", "en", 120.0, (garbled,))
    assert evaluate(rubric, call)[0].outcome == "fail"
    assert evaluate(rubric, unsure)[0].outcome == "na"
    # a clear hit beside a garbled one still counts
    both = Transcript(
        "c1", "en", 120.0, (garbled, *_call(("customer", 20.0, "get me a supervisor")).utterances)
    )
    assert evaluate(rubric, both)[0].outcome == "fail"
