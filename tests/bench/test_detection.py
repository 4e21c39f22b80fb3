"""bench/detection.py: real dialogues scored against the publishers' and a second annotator's labels."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from detection import load_second, measure


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _dialogue(call_id: str, text: str) -> dict[str, object]:
    utterance = {"speaker": "customer", "start_s": 0.0, "end_s": 3.0, "text": text}
    return {"call_id": call_id, "language": "en", "duration_s": 3.0, "utterances": [utterance]}


def test_a_second_annotators_labels_are_read_in_either_shape(tmp_path: Path) -> None:
    _write_jsonl(
        tmp_path / "chats.jsonl",
        [
            {"call_id": "a", "item_id": "empathy", "present": True},
            {"call_id": "b", "customer_dissatisfaction": False, "ended_dissatisfied": None},
        ],
    )
    assert load_second(tmp_path, "chats") == {
        ("a", "empathy"): True,
        ("b", "customer_dissatisfaction"): False,
    }
    assert load_second(tmp_path, "other") == {} and load_second(None, "chats") == {}


def test_rows_against_the_second_annotator_and_the_publishers_agreement(tmp_path: Path) -> None:
    realtext, second = tmp_path / "realtext", tmp_path / "second"
    realtext.mkdir()
    second.mkdir()
    (realtext / "sets.json").write_text(json.dumps([{"set": "chats", "language": "en"}]))
    _write_jsonl(
        realtext / "transcripts_chats.jsonl",
        [
            _dialogue("angry", "This is ridiculous, I have been waiting for three weeks."),
            _dialogue("calm", "Could you tell me when the engineer is coming?"),
            _dialogue("unlabelled", "I want to speak to your manager, now."),
        ],
    )
    # the publisher calls the calm one dissatisfied and has no label for the third
    _write_jsonl(
        realtext / "labels_chats.jsonl",
        [
            {"call_id": "angry", "item_id": "customer_dissatisfaction", "present": True},
            {"call_id": "calm", "item_id": "customer_dissatisfaction", "present": True},
        ],
    )
    _write_jsonl(
        second / "chats.jsonl",
        [
            {"call_id": "angry", "customer_dissatisfaction": True},
            {"call_id": "calm", "customer_dissatisfaction": False},
            {"call_id": "unlabelled", "item_id": "escalation_request", "present": True},
        ],
    )
    rows = {(r["set"], r["item"]): r for r in measure(realtext, "all", second)["rows"]}
    assert rows[("chats", "customer_dissatisfaction")]["recall"] == 0.5
    assert rows[("chats~2nd", "customer_dissatisfaction")]["f1"] == 1.0
    assert rows[("pub~2nd", "customer_dissatisfaction")]["precision"] == 0.5
    # an item only the second annotator labelled is measured against them alone
    assert rows[("chats~2nd", "escalation_request")]["recall"] == 1.0
    assert ("chats", "escalation_request") not in rows
