"""The bundled samples (what `make run` processes) against their ground truth.

samples/labels.json says, per call, which rubric behaviours happen, where the holds and
dead air are, and which file must be quarantined. This is the rubric's hit/miss on our
own fixtures, measured with the real model; the thresholds are below what we measure
(see the issue notes), so a regression fails.
"""

from __future__ import annotations

import json

import pyarrow.dataset as ds
import pytest
from runkit import ROOT, earmark

pytestmark = pytest.mark.slow
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    warehouse = tmp_path_factory.mktemp("samples") / "wh"
    out = earmark("run", "--archive", SAMPLES / "archive", "--warehouse", warehouse, timeout=1200)
    assert out.returncode == 0, out.stderr
    assert "8 calls processed" in out.stdout and "1 quarantined" in out.stdout
    return {
        t: ds.dataset(warehouse / t, format="parquet", partitioning="hive").to_table().to_pylist()
        for t in ("calls", "findings", "queue", "quarantine")
    }


@pytest.fixture(scope="module")
def labels() -> dict[str, dict]:
    raw = json.loads((SAMPLES / "labels.json").read_text(encoding="utf-8"))
    return {path.removeprefix("archive/"): label for path, label in raw.items()}


def test_languages_are_detected(night: dict, labels: dict) -> None:
    calls = {c["source_path"]: c for c in night["calls"]}
    for path, label in labels.items():
        if label.get("items"):
            assert calls[path]["language"] == label["language"], path


def test_rubric_hits_and_misses_against_the_labels(night: dict, labels: dict) -> None:
    by_path = {c["call_id"]: c["source_path"] for c in night["calls"]}
    detected = {(by_path[f["call_id"]], f["item_id"]): f["detected"] for f in night["findings"]}
    counts = {"en": [0, 0, 0, 0], "zh/ru": [0, 0, 0, 0]}  # tp, fp, fn, tn
    for path, label in labels.items():
        for item, truth in (label.get("items") or {}).items():
            if (path, item) not in detected:
                continue  # hold_requested is a label, not an item
            got = detected[(path, item)]
            c = counts["en" if label["language"] == "en" else "zh/ru"]
            c[0 if truth and got else 1 if got else 2 if truth else 3] += 1
    assert [sum(c) for c in counts.values()] == [54, 18]  # 8 calls × 9 items
    rates = {}
    for group, (tp, fp, fn, tn) in counts.items():
        # nothing detected at all is a precision of 0, not a ZeroDivisionError
        rates[group] = (tp + tn) / (tp + fp + fn + tn), tp / max(1, tp + fp), tp / (tp + fn)
        print(f"samples {group}: accuracy, precision, recall {rates[group]} ({tp} {fp} {fn} {tn})")
    # English, whose espeak voice Whisper base hears: measured 0.96 / 0.96 / 0.96 with the
    # defaults before and after beam 3 and VAD 0.3 (one miss, one false hit)
    accuracy, precision, recall = rates["en"]
    assert accuracy >= 0.92 and precision >= 0.9 and recall >= 0.9
    # espeak's Mandarin and Russian voices Whisper base barely understands ("您" heard as
    # "灵"), so which items come through moves with any decoding setting: 0.83 / 1.00 /
    # 0.75 greedy with VAD 0.5, 0.61 / 0.86 / 0.50 with beam 3 and VAD 0.3 (on four real
    # Mandarin clips, ../shared/audio, both settings give the same text). A floor.
    accuracy, precision, recall = rates["zh/ru"]
    assert accuracy >= 0.5 and precision >= 0.75 and recall >= 0.33


def test_silences_are_measured_within_a_second_or_ten_percent(night: dict, labels: dict) -> None:
    calls = {c["source_path"]: c for c in night["calls"]}
    for path, label in labels.items():
        if not label.get("items"):
            continue
        truth = sum(s["end_s"] - s["start_s"] for s in label["silences"])
        row = calls[path]
        measured = row["hold_s"] + row["dead_air_s"]
        assert abs(measured - truth) <= max(1.0, 0.1 * truth), (path, measured, truth)
        if label["language"] == "en":  # English hold phrases survive ASR: the kind is right too
            hold = sum(s["end_s"] - s["start_s"] for s in label["silences"] if s["kind"] == "hold")
            assert abs(row["hold_s"] - hold) <= max(1.0, 0.1 * hold), (path, row["hold_s"], hold)
        assert row["repeat_contacts"] == 0  # every sample call has its own customer


def test_overtalk_call(night: dict) -> None:
    cafe = next(c for c in night["calls"] if c["source_path"] == "2026-11-21/Café call.wav")
    assert abs(cafe["overtalk_s"] - 2.5) <= 1.0
    assert cafe["interruptions_agent"] + cafe["interruptions_customer"] == 1


def test_broken_file_is_quarantined_and_the_rude_call_heads_the_queue(night: dict) -> None:
    assert [(q["source_path"], q["error_code"]) for q in night["quarantine"]] == [
        ("2026-11-21/broken.wav", "A002")
    ]
    first = next(q for q in night["queue"] if q["date"] == "2026-11-20" and q["rank"] == 1)
    assert first["call_id"] == "CALL-0002"
    # for the agent's conduct: "there is nothing I can do about it" (unprofessional_conduct,
    # by meaning) or "that's not my problem" (forbidden_language, a phrase the 8 kHz µ-law
    # line lets through on some CPUs' instruction sets and not on others)
    # (the items by their titles: "Agent uses profanity, insults or dismissive language",
    # "Agent blames, talks down to, dismisses or mocks the customer")
    conduct = ("Agent uses profanity", "Agent blames, talks down to")
    assert any(c in r for c in conduct for r in first["reasons"])
