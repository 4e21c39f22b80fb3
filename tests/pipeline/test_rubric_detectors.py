"""Each built-in detector, and the plugin mechanism, on small real-language calls."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from rubrickit import rubric_doc, rubric_item, spoken_words
from runkit import earmark

from models.nlp import get_analyzer
from pipeline.errors import RubricError
from pipeline.rubric.engine import compile_rubric, evaluate
from pipeline.rubric.schema import parse_rubric
from pipeline.types import Span, Transcript, Utterance


def _call(language: str, *turns: tuple[str, float, str], duration: float = 300.0) -> Transcript:
    utts = tuple(
        Utterance(
            s,
            t,
            t + 0.5 * max(1, len(x.split())),
            x,
            spoken_words(x, t) if language != "zh" else (),
            0.9,
        )  # type: ignore[arg-type]
        for s, t, x in turns
    )
    return Transcript("c", language, duration, utts)


def _run(language: str, item: dict[str, Any], call: Transcript, **kw: Any):
    rubric = parse_rubric(rubric_doc(item, language=language))
    return evaluate(compile_rubric(rubric, get_analyzer(language)), call, **kw)[0]


@pytest.mark.parametrize(
    ("language", "phrases", "text", "hit"),
    [
        ("en", ["apologise for the inconvenience"], "We apologised for the inconvenience", True),
        ("en", ["apologize"], "I am apologizing right now", True),
        ("en", ["apologize"], "an apology", False),
        ("ru", ["понимать ваше беспокойство"], "Мы понимаем ваше беспокойство", True),
        ("ru", ["понимать"], "Я понимаю", True),
        ("ru", ["приносить извинение"], "Приношу извинения за неудобства", True),
        ("ru", ["ещё"], "Ещё вопрос", True),
    ],
)
def test_lemma_matches_inflections(language: str, phrases: list[str], text: str, hit: bool) -> None:
    f = _run(
        language,
        rubric_item("lemma.v1", {"phrases": phrases}),
        _call(language, ("agent", 1.0, text)),
    )
    assert f.detected is hit


@pytest.mark.parametrize(
    ("language", "text", "hit"),
    [
        ("en", "I'm so sorry to hear that", True),
        ("en", "I'm not sorry to hear that", False),
        ("en", "I am never sorry to hear that", False),
        ("ru", "Я могу помочь", True),
        ("ru", "Я не могу помочь", False),
        ("zh", "我非常理解您的心情", True),
        ("zh", "我不理解您的心情", False),
    ],
)
def test_negation_guard(language: str, text: str, hit: bool) -> None:
    phrases = {"en": ["sorry to hear"], "ru": ["могу помочь"], "zh": ["理解您的心情"]}[language]
    item = rubric_item("phrase.v1", {"phrases": phrases, "negation": True})
    assert _run(language, item, _call(language, ("agent", 1.0, text))).detected is hit


def test_negation_cues_are_configurable() -> None:
    item = rubric_item(
        "phrase.v1", {"phrases": ["sorry"], "negation": True, "negation_cues": ["hardly"]}
    )
    assert not _run("en", item, _call("en", ("agent", 1, "I am hardly sorry"))).detected
    assert _run("en", item, _call("en", ("agent", 1, "I am not sorry"))).detected


@pytest.mark.parametrize(
    ("language", "detector", "phrases", "text", "rule"),
    [
        ("en", "lemma.v1", ["date of birth"], "Can I have your date on birth?", "(on for of)"),
        (
            "en",
            "lemma.v1",
            ["can i take your name"],
            "Can I have your name on board?",
            "(have for take)",
        ),
        ("ru", "lemma.v1", ["спасибо за ожидание"], "Спасибо, на ожидании.", "(на for за)"),
        ("zh", "phrase.v1", ["谢谢您的耐心等待"], "谢谢您的开心等待", "(开 for 耐)"),
        # not near: the last word differs (another phrase), the first word differs, two
        # words differ, a word is inserted, a negation stands in, too short
        ("en", "lemma.v1", ["date of birth"], "What's the date of delivery?", None),
        ("en", "lemma.v1", ["thanks for holding"], "Tanks for holding.", None),
        ("en", "lemma.v1", ["thank you for holding"], "Thank you four folding.", None),
        ("en", "lemma.v1", ["date of birth"], "The date of your birth.", None),
        ("en", "lemma.v1", ["i'm so sorry"], "I'm not sorry.", None),
        ("en", "lemma.v1", ["account number"], "Account numbers.", None),
        ("zh", "phrase.v1", ["再见了"], "不会再扣了", None),
    ],
)
def test_tolerance_finds_a_phrase_with_one_interior_word_heard_as_another(
    language: str, detector: str, phrases: list[str], text: str, rule: str | None
) -> None:
    call = _call(language, ("agent", 1.0, text))
    exact = _run(language, rubric_item(detector, {"phrases": phrases}), call)
    near = _run(language, rubric_item(detector, {"phrases": phrases, "tolerance": 1}), call)
    assert not exact.detected
    assert near.detected is (rule is not None)
    if rule is not None:
        assert "≈" in near.evidence[0].rule and near.evidence[0].rule.endswith(rule)
        assert near.strength == pytest.approx(
            1 - 1 / len(phrases[0].split() if language != "zh" else phrases[0])
        )


def test_a_near_match_says_what_was_heard_and_yields_to_an_exact_one() -> None:
    phrases = ["thank you for holding", "thank you for waiting"]
    item = rubric_item("lemma.v1", {"phrases": phrases, "tolerance": 1})
    call = _call(
        "en", ("agent", 1.0, "Thank you for waiting."), ("agent", 9.0, "Thank you four holding.")
    )
    f = _run("en", item, call)
    assert [e.rule for e in f.evidence] == [
        "lemma 'thank you for waiting'",
        "lemma 'thank you four holding' ≈ 'thank you for holding' (four for for)",
    ]
    assert (f.evidence[1].start_s, f.evidence[1].end_s) == (9.0, 10.9)  # the four words
    assert f.strength == 1.0  # its surest hit is the exact one


def test_the_negation_guard_drops_a_near_match_too() -> None:
    params = {"phrases": ["date of birth"], "tolerance": 1, "negation": True}
    call = _call("en", ("agent", 1.0, "we never ask your date on birth"))
    assert not _run("en", rubric_item("lemma.v1", params), call).detected
    assert _run("en", rubric_item("lemma.v1", {**params, "negation": False}), call).detected


def test_pattern_detector_with_lemma_and_operators() -> None:
    pattern = [
        {"LEMMA": "apologize"},
        {"OP": "{0,4}"},
        {"LOWER": {"IN": ["inconvenience", "delay"]}},
    ]
    item = rubric_item("pattern.v1", {"patterns": [pattern]})
    f = _run("en", item, _call("en", ("agent", 2.0, "We apologized for any delay today")))
    assert f.detected and f.evidence[0].rule == "pattern #1"
    assert (f.evidence[0].start_s, f.evidence[0].end_s) == (2.5, 4.4)  # 'apologized' … 'delay'


def test_regex_detector_and_invalid_regex() -> None:
    item = rubric_item("regex.v1", {"patterns": [r"\bticket (number )?\d+"]})
    f = _run("en", item, _call("en", ("agent", 0.0, "Your ticket number 4411 is open")))
    assert f.detected and f.evidence[0].start_s == 0.5  # 'ticket' is the second word
    with pytest.raises(RubricError, match=r"invalid regular expression '\(unclosed'") as info:
        _run("en", rubric_item("regex.v1", {"patterns": ["(unclosed"]}), _call("en"))
    assert info.value.code == "R005"


def test_proximity_same_speaker_and_across() -> None:
    params = {"a": ["account number"], "b": ["confirm", "verify"], "max_tokens": 4}
    near = _call("en", ("agent", 1, "could you confirm your account number please"))
    far = _call(
        "en", ("agent", 1, "confirm the thing we talked about earlier and then the account number")
    )
    assert _run("en", rubric_item("proximity.v1", params), near).detected
    assert not _run("en", rubric_item("proximity.v1", params), far).detected
    split = _call(
        "en", ("agent", 1, "can you verify"), ("customer", 3, "my account number is ready")
    )
    assert not _run("en", rubric_item("proximity.v1", params), split).detected
    assert _run(
        "en", rubric_item("proximity.v1", {**params, "across_speakers": True}), split
    ).detected


def test_unless_drops_the_hits_another_rule_contradicts() -> None:
    params = {
        "find": {"detector": "phrase.v1", "params": {"phrases": ["upset", "angry"]}},
        "unless": {"detector": "lemma.v1", "params": {"phrases": ["be upset too"]}},
    }
    item = rubric_item("unless.v1", params, expect="absent")
    sympathy = ("agent", 1.0, "honestly I would be upset too")
    blame = ("agent", 9.0, "you are getting upset over nothing")
    assert not _run("en", item, _call("en", sympathy)).detected
    found = _run("en", item, _call("en", sympathy, blame))
    assert found.detected and [e.start_s for e in found.evidence] == [9.0 + 0.5 * 3]  # "upset"
    with pytest.raises(RubricError, match="unless"):
        _run("en", rubric_item("unless.v1", {"find": params["find"]}), _call("en"))


def test_a_typo_inside_a_combinator_is_found_when_the_rubric_is_read() -> None:
    meaning = {"detector": "meaning.v1", "params": {"examples": ["so sorry"], "min_similarty": 0.8}}
    phrase = {"detector": "phrase.v1", "params": {"phrases": ["sorry"]}}
    nested = rubric_item("any.v1", {"of": [phrase, meaning]})
    with pytest.raises(RubricError) as info:  # no model needed: `rubric check` catches it
        parse_rubric(rubric_doc(nested))
    assert info.value.code == "R005"
    assert "any.v1 of[1]: detector 'meaning.v1'" in str(info.value)
    assert "params.min_similarty: unknown (did you mean 'min_similarity'?)" in str(info.value)
    deeper = rubric_item(
        "unless.v1", {"find": {"detector": "any.v1", "params": {"of": [meaning]}}, "unless": phrase}
    )
    with pytest.raises(RubricError, match=r"unless.v1 find: .*any.v1 of\[0\]"):
        parse_rubric(rubric_doc(deeper))


def test_sequence_request_then_thanks_within_gap() -> None:
    params = {
        "first": ["please hold"],
        "then": ["thank you for holding", "thanks for waiting"],
        "max_gap_s": 120,
    }
    ok = _call("en", ("agent", 10, "please hold for a moment"), ("agent", 60, "thanks for waiting"))
    late = _call(
        "en", ("agent", 10, "please hold for a moment"), ("agent", 200, "thanks for waiting")
    )
    wrong_order = _call("en", ("agent", 10, "thanks for waiting"), ("agent", 60, "please hold"))
    f = _run("en", rubric_item("sequence.v1", params), ok)
    assert f.detected and [e.start_s for e in f.evidence] == [10.0, 60.0]
    assert not _run("en", rubric_item("sequence.v1", params), late).detected
    assert not _run("en", rubric_item("sequence.v1", params), wrong_order).detected


def test_metric_threshold_with_spans_and_nan() -> None:
    item = rubric_item(
        "metric.v1", {"metric": "longest_dead_air_s", "op": ">", "value": 10}, expect="absent"
    )
    call = _call("en", ("agent", 1, "hello"))
    f = _run(
        "en",
        item,
        call,
        metrics={"longest_dead_air_s": 14.5},
        metric_spans={"longest_dead_air_s": (Span(30.0, 44.5),)},
    )
    assert f.detected and f.outcome == "fail"
    assert (f.evidence[0].start_s, f.evidence[0].end_s) == (30.0, 44.5)
    assert f.evidence[0].text == "longest dead air 14.5 s at 0:30 (limit 10 s)"
    assert _run("en", item, call, metrics={"longest_dead_air_s": 3.0}).outcome == "pass"
    assert _run("en", item, call, metrics={"longest_dead_air_s": float("nan")}).outcome == "pass"


def test_metric_item_refused_when_the_run_has_no_metrics() -> None:
    item = rubric_item("metric.v1", {"metric": "overtalk_s", "op": ">=", "value": 3})
    rubric = parse_rubric(rubric_doc(item), source="t.yaml")
    with pytest.raises(RubricError, match=r"t\.yaml item 'x': needs metrics") as info:
        compile_rubric(rubric, get_analyzer("en"), available=frozenset({"text", "words"}))
    assert info.value.code == "R008"


PLUGIN_RUBRIC = """
schema_version: 1
id: plugin-demo
version: 1
language: en
items:
  - id: shouting
    speaker: customer
    expect: absent
    weight: 0
    flag: true
    detector: example.shouting.v1
    params: {min_exclamations: 2}
    examples:
      match: ["This is outrageous!!"]
      no_match: ["Fine!", "Thank you."]
"""


def test_plugin_detector_from_an_entry_point(tmp_path: Path) -> None:
    """A detector from another package's entry point, used by a rubric, through the CLI.

    Entry points are read when a process starts, so the "installed" plugin is put on
    the path of a fresh `earmark` process, as pip would have installed it.
    """
    root = Path(__file__).resolve().parents[2]
    rubric = tmp_path / "plugin.yaml"
    rubric.write_text(PLUGIN_RUBRIC)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "tests" / "plugin_example"), str(root)]),
    }
    out = earmark("rubric", "test", rubric, env=env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 passed, 0 failed" in out.stdout
    without = earmark(
        "rubric", "check", rubric, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120
    )
    assert without.returncode == 1
    assert "[R003]" in without.stdout and "unknown detector 'example.shouting.v1'" in without.stdout


def _shipped_regexes() -> list[str]:
    from pipeline.textfile import load_yaml

    def walk(node: object) -> list[str]:
        if isinstance(node, dict):
            found = list(node["params"]["patterns"]) if node.get("detector") == "regex.v1" else []
            return found + [p for v in node.values() for p in walk(v)]
        if isinstance(node, list):
            return [p for v in node for p in walk(v)]
        return []

    root = Path(__file__).resolve().parents[2] / "rubrics"
    return sorted({p for f in root.glob("*/*.yaml") for p in walk(load_yaml(f.read_text()))})


def test_a_regex_needs_one_of_its_literals_to_match() -> None:
    """required_literals() may rule a line out only when the pattern cannot match it: every
    shipped pattern against every line of our labelled calls (and the rubrics' examples)."""
    import json

    from pipeline.rubric.builtin import required_literals

    root = Path(__file__).resolve().parents[2]
    calls = [
        json.loads(line)
        for f in sorted((root / "bench" / "data").glob("calls_*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
    ]
    # as the detector reads them: the analyzer's normalised text
    texts = [
        get_analyzer(c["language"]).normalize(u["text"]) for c in calls for u in c["utterances"]
    ]
    texts += [  # the shapes the literals are read from: groups, repeats, alternatives
        "i'd like the claims manager to call me",
        "ill be sending photos to the local paper",
        "sir i need you to calm down",
        "我都跟你说了好几遍了",
        "я вам уже два раза объяснил",
    ]
    patterns = _shipped_regexes()
    assert len(patterns) >= 20 and len(texts) > 10_000
    prefiltered = matched = 0
    for pattern in patterns:
        needs = required_literals(pattern)
        prefiltered += needs is not None
        compiled = re.compile(pattern)
        for text in texts:
            if compiled.search(text):
                matched += 1
                assert needs is None or any(n in text for n in needs), (pattern, text)
    assert matched > 50 and prefiltered >= len(patterns) // 2


def test_the_near_finders_examples() -> None:
    import doctest

    from pipeline.rubric import near

    result = doctest.testmod(near)
    assert result.attempted > 0 and result.failed == 0
