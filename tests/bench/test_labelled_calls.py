"""The queue benchmark's labelled calls: valid input, known labels, disjoint wordings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pipeline.transcript import transcript_from_json

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from labelled_calls import MUST_HEAR, write_sets


def _load(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_sets_are_rubric_apply_input_with_labels_and_moments(tmp_path: Path) -> None:
    paths = write_sets(tmp_path, per_language=30, seed=1)
    for split in ("dev", "heldout"):
        calls = _load(paths[split])
        assert {c["language"] for c in calls} == {"en", "zh", "ru"}
        for c in calls:
            t = transcript_from_json(c)
            assert t.utterances and t.duration_s >= t.utterances[-1].end_s
            label = c["label"]
            assert label["must_hear"] == (label["kind"] in MUST_HEAR)
            moments = {tuple(m) for m in label["moments"]}
            said = {(u.start_s, u.end_s) for u in t.utterances}
            assert moments <= said
            assert bool(moments) == (label["kind"] in MUST_HEAR and label["kind"] != "off_script")
        share = sum(c["label"]["must_hear"] for c in calls) / len(calls)
        assert 0.25 < share < 0.5


def test_held_out_wording_is_never_seen_in_dev(tmp_path: Path) -> None:
    paths = write_sets(tmp_path, per_language=30, seed=2)
    texts = {
        split: {u["text"] for c in _load(paths[split]) for u in c["utterances"]}
        for split in ("dev", "heldout")
    }
    assert texts["dev"] and texts["heldout"]
    assert not texts["dev"] & texts["heldout"]


def test_same_seed_same_calls(tmp_path: Path) -> None:
    a = write_sets(tmp_path / "a", per_language=10, seed=3)
    b = write_sets(tmp_path / "b", per_language=10, seed=3)
    assert a["heldout"].read_bytes() == b["heldout"].read_bytes()
