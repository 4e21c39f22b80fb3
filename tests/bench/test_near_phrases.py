"""bench/near_phrases.py: each shipped rubric against itself without its tolerances."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from near_phrases import both_ways, without_tolerance
from rubrickit import rubric_doc, rubric_item

from pipeline.rubric.engine import prepare_call
from pipeline.types import Transcript, Utterance


def test_without_tolerance_takes_out_every_tolerance_and_nothing_else() -> None:
    inner = {"detector": "lemma.v1", "params": {"phrases": ["a b c"], "tolerance": 1}}
    doc = {"items": [{"id": "x", "params": {"of": [inner], "tolerance": 1}, "version": 2}]}
    assert without_tolerance(doc) == {
        "items": [
            {
                "id": "x",
                "params": {"of": [{"detector": "lemma.v1", "params": {"phrases": ["a b c"]}}]},
                "version": 2,
            }
        ]
    }


def test_both_ways_names_the_items_with_a_tolerance_and_scores_them_exactly(
    tmp_path: Path,
) -> None:
    near = rubric_item("lemma.v1", {"phrases": ["date of birth"], "tolerance": 1}, id="near")
    exact = rubric_item("lemma.v1", {"phrases": ["account number"]}, id="exact")
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(rubric_doc(near, exact)), encoding="utf-8")
    shipped, plain, changed = both_ways(path)
    assert changed == ["near"]
    utt = Utterance("agent", 0.0, 3.0, "and your date on birth please")
    call = prepare_call(Transcript("c", "en", 3.0, (utt,)), shipped.analyzer)
    assert shipped.items[0].detector.find(call, [0])
    assert not plain.items[0].detector.find(call, [0])
