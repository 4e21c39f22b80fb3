"""The sample calls' table (``samples/calls.yaml``) against what was made from it.

The recordings, ``labels.json`` and ``metadata.csv`` are committed outputs of
``samples/make_samples.py``; a change to the table that was not regenerated fails here.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
sys.path.insert(0, str(SAMPLES))

from make_samples import (  # noqa: E402
    BROKEN_ROW,
    CALLS,
    FORMAT_INFO,
    ITEM_IDS,
    METADATA_COLUMNS,
    Say,
    Silence,
    _step,
)


def _labels() -> dict[str, Any]:
    return json.loads((SAMPLES / "labels.json").read_text(encoding="utf-8"))


def test_every_call_is_labelled_as_its_table_entry_says() -> None:
    labels = _labels()
    assert len(CALLS) == 8 and len(labels) == 9  # and the broken file
    for call in CALLS:
        label = labels[f"archive/{call.file}"]
        desc, rate, channels = FORMAT_INFO[call.fmt]
        assert (label["call_id"], label["language"]) == (call.call_id, call.language)
        assert (label["format"], label["sample_rate"], label["channels"]) == (desc, rate, channels)
        assert label["description"] == call.description
        assert label["items"] == call.items and list(call.items) == list(ITEM_IDS)
        turns = [(s.speaker, s.text) for s in call.script if isinstance(s, Say)]
        assert [(t["speaker"], t["text"]) for t in label["turns"]] == turns
        silences = [s.kind for s in call.script if isinstance(s, Silence)]
        assert [s["kind"] for s in label["silences"]] == silences
    assert labels[f"archive/{BROKEN_ROW['file']}"]["call_id"] == BROKEN_ROW["call_id"]


def test_metadata_csv_holds_each_call_then_the_broken_file() -> None:
    with (SAMPLES / "archive" / "metadata.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = [{c: str(getattr(call, c)) for c in METADATA_COLUMNS} for call in CALLS]
    assert rows == [*expected, BROKEN_ROW]


@pytest.mark.parametrize(
    ("step", "want"),
    [
        ({"agent": "Hello.", "gap": -2.5}, Say("agent", "Hello.", gap=-2.5)),
        ({"customer": "你好。", "spoken": "ni3 hao3."}, Say("customer", "你好。", "ni3 hao3.")),
        ({"hold": 10}, Silence(10.0, "hold")),
        ({"dead_air": 15.0}, Silence(15.0, "dead_air")),
    ],
)
def test_script_steps(step: dict[str, Any], want: Say | Silence) -> None:
    assert _step(step) == want


@pytest.mark.parametrize("step", [{"agent": "Hi.", "pause": 1.0}, {"narrator": "Once upon"}])
def test_a_step_that_is_neither_a_turn_nor_a_silence_is_refused(step: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"calls\.yaml: a script step is not a turn or a silence"):
        _step(step)
