"""bench/mine_lines.py: the line labels, and the mined blocks of the shipped rubrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from mine_lines import BEGIN, END, LABELS, labelled_lines, marks, with_mined, without_mined

from pipeline.config import DEFAULT_RUBRICS
from pipeline.rubric.meaning import MeaningParams
from pipeline.rubric.schema import load_rubric
from pipeline.textfile import load_yaml

SPEAKER = {"unprofessional_conduct": "agent", "empathy": "agent"}


def _label_files() -> list[tuple[str, str]]:
    return sorted(tuple(p.name.split(".")[:2]) for p in LABELS.glob("*.tsv"))  # type: ignore[misc]


def _mined(language: str, item: str) -> tuple[list[str], list[str]]:
    """The lines of the item's mined blocks in the shipped rubric: (examples, counters)."""
    lines = Path(DEFAULT_RUBRICS[language]).read_text(encoding="utf-8").split("\n")
    start = lines.index(f"  - id: {item}")
    blocks: list[list[str]] = []
    for line in lines[start:]:
        if line.startswith("  - id: ") and line != f"  - id: {item}":
            break
        if line.strip() == BEGIN:
            blocks.append([])
        elif line.strip() == END:
            blocks[-1].append(END)
        elif blocks and blocks[-1][-1:] != [END]:
            blocks[-1].append(json.loads(line.strip().removeprefix("- ")))
    assert len(blocks) in (0, 2), f"{item} in {language}: examples and counters, or none"
    if not blocks:
        return [], []
    examples, counters = (b[:-1] for b in blocks)  # as the rubric lists them
    return examples, counters


@pytest.mark.parametrize(("item", "language"), _label_files())
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
        assert sure, f"{call_id}: no line marked for sure"
        for i in sure | unsure:
            assert call["utterances"][i]["speaker"] == speaker, (call_id, i)


@pytest.mark.parametrize(("item", "language"), _label_files())
def test_the_shipped_mined_lines_are_the_labelled_ones(item: str, language: str) -> None:
    examples, counters = _mined(language, item)
    if not examples:
        pytest.skip(f"{item} in {language} has no mined lines")
    lines = labelled_lines(item, language, SPEAKER.get(item, "customer"), min_words=3)
    marked = {x.text for x in lines if x.marked}
    others = {x.text for x in lines if not x.marked} - marked
    assert set(examples) <= marked
    assert set(counters) <= others
    # and the rubric reads them as the item's examples and counter-examples
    item_ = load_rubric(DEFAULT_RUBRICS[language]).item(item)
    found = [MeaningParams.model_validate(p) for p in _meaning_params(item_.params, item_.detector)]
    assert len(found) == 1
    assert found[0].examples[-len(examples) :] == examples
    assert found[0].counter_examples[-len(counters) :] == counters


def _meaning_params(params: dict, detector: str) -> list[dict]:  # type: ignore[type-arg]
    if detector == "meaning.v1":
        return [params]
    subs = params.get("of", []) + [params[k] for k in ("find", "unless") if k in params]
    return [p for s in subs for p in _meaning_params(s.get("params", {}), s["detector"])]


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
