"""bench/mine_lines.py: the line labels, and the mined blocks of the shipped rubrics."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import mine_lines
import numpy as np
from mine_lines import (
    BEGIN,
    LABELS,
    TWINS,
    WRITTEN,
    Judge,
    after_customer,
    labelled_lines,
    marks,
    meaning_params_of,
    top_mean,
    twins,
    with_mined,
    without_mined,
    written,
)

from models.nlp import get_analyzer
from pipeline.config import DEFAULT_RUBRICS
from pipeline.rubric.engine import prepare_call
from pipeline.rubric.meaning import MeaningParams
from pipeline.textfile import load_yaml
from pipeline.types import Transcript, Utterance

SPEAKER = {"unprofessional_conduct": "agent", "empathy": "agent"}
DOUBTED = {"h13-zh-015"}


def _items_in(folder: Path) -> list[tuple[str, str]]:
    """``(item, language)`` of each ``ITEM.LANGUAGE.tsv`` in ``folder``, sorted."""
    return sorted(tuple(p.name.split(".")[:2]) for p in folder.glob("*.tsv"))  # type: ignore[misc]


@pytest.mark.parametrize(("item", "language"), _items_in(LABELS))
def test_every_marked_line_is_a_line_of_the_items_speaker_in_a_call_labelled_true(
    item: str, language: str
) -> None:
    calls = {}
    for path in sorted((LABELS.parent).glob("calls_tuned*.jsonl")):
        for row in path.read_text(encoding="utf-8").splitlines():
            call = json.loads(row)
            calls[call["call_id"]] = call
    speaker = SPEAKER.get(item, "customer")
    for call_id, (sure, unsure) in marks(item, language).items():
        call = calls[call_id]
        assert call["language"] == language and call["labels"][item], call_id
        # a call its author labelled true has a line marked for sure; one call has only a
        # borderline line, where the marker doubted its author (its one candidate reads as
        # a sales push)
        assert sure or (call_id in DOUBTED and unsure), f"{call_id}: no line marked for sure"
        for i in sure | unsure:
            assert call["utterances"][i]["speaker"] == speaker, (call_id, i)


def _mined_items() -> list[tuple[str, str]]:
    """The labelled items whose shipped rubric has mined lines."""
    return [
        (item, language)
        for item, language in _items_in(LABELS)
        if BEGIN in _item_text(item, language)
    ]


def _item_text(item: str, language: str) -> str:
    text = Path(DEFAULT_RUBRICS[language]).read_text(encoding="utf-8")
    return text.split(f"  - id: {item}")[1].split("\n  - id: ")[0]


def test_the_items_with_mined_lines_are_the_ones_the_readme_names() -> None:
    conduct = [("unprofessional_conduct", language) for language in ("en", "ru", "zh")]
    zh_ru = [
        (item, lang) for item in ("customer_dissatisfaction", "empathy") for lang in ("ru", "zh")
    ]
    english = [(item, "en") for item in ("customer_dissatisfaction", "empathy")]
    assert sorted(_mined_items()) == sorted([*conduct, *zh_ru, *english])


@pytest.mark.parametrize(("item", "language"), _mined_items())
def test_the_shipped_mined_lines_are_the_labelled_ones(item: str, language: str) -> None:
    text = Path(DEFAULT_RUBRICS[language]).read_text(encoding="utf-8")
    written, mined = (
        meaning_params_of(without_mined(text, item), item),
        meaning_params_of(text, item),
    )
    examples = mined["examples"][len(written["examples"]) :]
    counters = mined["counter_examples"][len(written["counter_examples"]) :]
    known = set(written["examples"]) | set(written["counter_examples"])
    min_words = MeaningParams.model_validate(mined).min_words
    lines = labelled_lines(item, language, SPEAKER.get(item, "customer"), min_words)
    marked = [t for t in dict.fromkeys(x.text for x in lines if x.marked) if t not in known]
    others = {x.text for x in lines if not x.twin} - {x.text for x in lines if x.marked} - known
    hardest = counters[: min(300, len(others))]
    assert examples == marked  # every marked line, and nothing else
    assert set(hardest) <= others
    assert set(counters[len(hardest) :]) == {x.text for x in lines if x.twin} - set(hardest) - known
    assert len(set(counters)) == len(counters)


@pytest.mark.parametrize(("item", "language"), _items_in(TWINS))
def test_every_twin_rewrites_a_line_marked_for_sure(item: str, language: str) -> None:
    sure = {(call_id, i) for call_id, (lines, _) in marks(item, language).items() for i in lines}
    rewritten = twins(item, language)
    assert rewritten and set(rewritten) <= sure
    assert all(text.strip() for text in rewritten.values())


@pytest.mark.parametrize(("item", "language"), _items_in(WRITTEN))
def test_written_lines_have_both_labels_and_none_twice(item: str, language: str) -> None:
    lines = written(item, language)
    texts = [x.text for x in lines]
    assert len(set(texts)) == len(texts)
    # each file has both labels in numbers (a file of one label would only push the head)
    assert sum(x.marked for x in lines) >= 50 and sum(not x.marked for x in lines) >= 50
    assert all(x.twin == (not x.marked) for x in lines)  # a 0 line is never ranked away


def test_a_written_line_without_its_label_or_register_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mine_lines

    monkeypatch.setattr(mine_lines, "WRITTEN", tmp_path)
    (tmp_path / "kind.en.tsv").write_text("1\tchat\tfine\nyes\tcall\tnot a label\n")
    with pytest.raises(SystemExit, match=r"kind.en.tsv:2: expected"):
        written("kind", "en")
    (tmp_path / "kind.en.tsv").write_text("0\tphone\tnot a register\n")
    with pytest.raises(SystemExit, match=r"kind.en.tsv:1: expected"):
        written("kind", "en")


RUBRIC = """\
items:
  - id: kind
    detector: any.v1
    params:
      of:
        - detector: phrase.v1
          params:
            phrases:
              - "so sorry"
        - detector: meaning.v1
          params:
            examples:
              - "I'm sorry about that."
              # a comment inside the list stays
              - "That must be hard."
            counter_examples:
              - "Your number, please."
            threshold: 0.5
  - id: next
    detector: phrase.v1
    params:
      phrases:
        - "examples:"
"""


def test_a_mined_block_lands_in_the_meaning_lists_and_writing_it_again_replaces_it() -> None:
    once = with_mined(RUBRIC, "kind", ["I get it, that's awful."], ["Hold on.", "One moment."])
    twice = with_mined(
        without_mined(once, "kind"),
        "kind",
        ["I get it, that's awful."],
        ["Hold on.", "One moment."],
    )
    assert once == twice
    assert without_mined(once, "kind") == RUBRIC
    meaning = load_yaml(once)["items"][0]["params"]["of"][1]["params"]
    assert meaning["examples"] == [
        "I'm sorry about that.",
        "That must be hard.",
        "I get it, that's awful.",
    ]
    assert meaning["counter_examples"] == ["Your number, please.", "Hold on.", "One moment."]
    assert meaning["threshold"] == 0.5
    assert load_yaml(once)["items"][1] == load_yaml(RUBRIC)["items"][1]


def test_a_block_without_its_end_marker_is_refused_rather_than_eating_the_item() -> None:
    once = with_mined(RUBRIC, "kind", ["I get it, that's awful."], ["Hold on."])
    broken = "\n".join(line for line in once.split("\n") if line.strip() != "# end mined")
    with pytest.raises(SystemExit, match="without"):
        without_mined(broken, "kind")
    with pytest.raises(SystemExit, match="no item"):
        without_mined(RUBRIC, "nothing_like_it")


def test_the_harness_examples_hold() -> None:
    import doctest

    assert doctest.testmod(mine_lines).failed == 0


def test_a_calls_top_k_score_is_the_mean_of_its_k_best_lines_and_nothing_exceeds_it() -> None:
    inf = float("inf")
    margins = [m for m, _, _ in top_mean([(0.5, 1, 0.9), (2.5, 0, 0.9), (-inf, 2, 0.7)], 2)]
    assert margins == [0.5, 1.5, -inf]
    # fewer lines than k: the mean of those there are; one line unsure: no lift from it
    assert [m for m, _, _ in top_mean([(2.0, 0, 0.9)], 3)] == [2.0]
    assert max(m for m, _, _ in top_mean([(2.0, 0, 0.9), (-inf, 0, 0.9)], 2)) == -inf
    assert top_mean([], 2) == []


class _Head:
    """What ``after_customer`` reads of a meaning detector: its head and its model."""

    head = (np.array([1.0, 0.0], dtype=np.float32), -0.5)
    embedder = None


def test_a_line_after_the_customer_loses_the_heads_log_odds_of_that_customers_line() -> None:
    said = [("customer", "you are useless"), ("agent", "I hear you"), ("agent", "one moment")]
    transcript = Transcript(
        "c1",
        "en",
        3.0,
        tuple(
            Utterance(speaker=who, start_s=i, end_s=i + 0.5, text=text)
            for i, (who, text) in enumerate(said)
        ),
    )
    vectors = np.array([[3.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    call = prepare_call(transcript, get_analyzer("en"), vectors=vectors)
    scored = [(1.0, 0, 0.9), (float("-inf"), 0, 0.5)]
    out = after_customer(_Head(), scored, call, [1, 2], 0.5)  # type: ignore[arg-type]
    # the customer's line scores 3 - 0.5 = 2.5 log-odds; a line judged out stays out
    assert out == [(1.0 - 0.5 * 2.5, 0, 0.9), (float("-inf"), 0, 0.5)]


def test_the_judge_replaces_only_the_item_params_it_is_given() -> None:
    detector = types.SimpleNamespace(
        params=MeaningParams(examples=["x"], method="linear", nearest_weight=40)
    )
    Judge(min_words=5, min_similarity=0.85).apply(detector)  # type: ignore[arg-type]
    params = detector.params
    assert (params.min_words, params.min_similarity, params.nearest_weight) == (5, 0.85, 40)


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.2", "nan"])
def test_a_min_similarity_outside_0_to_1_is_refused_naming_the_option(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The judge's copy of the item's params is not validated again: without the check,
    1.5 ran the whole leave-one-out (minutes) and printed F1s of a detector no rubric can
    have."""
    argv = ["mine_lines.py", "empathy", "en", "--leave-one-out", "--min-similarity", value]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as refused:
        mine_lines.main()
    assert refused.value.code == 2
    assert "--min-similarity is a cosine similarity above 0 and below 1" in capsys.readouterr().err
