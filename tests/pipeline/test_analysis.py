"""The cached analysis of a call: one typed record, its cache form, and old entries."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pipeline import rows
from pipeline import warehouse as wh
from pipeline.analysis import (
    CACHE_FORMAT,
    CallAnalysis,
    Diarization,
    RedactedSpan,
    analysis_from_cache,
)
from pipeline.stored import stored_calls
from pipeline.types import Recording, Span, Utterance, Word

# A served call's entry as earmark wrote it before the record (no "format", the
# diarization a bare string): flows/process.py _run_asr at 84c184e.
OLD_ENTRY = {
    "language": "en",
    "language_probability": 0.98,
    "detected_language": "en",
    "duration_s": 44.31,
    "channels": 1,
    "tracks": 1,
    "sample_rate": 8000,
    "codec": "pcm_s16le",
    "decode_warnings": 0,
    "speech_s": 30.5,
    "dropped": ["0.0-0.4 no_speech 0.93"],
    "asr_model": "base@abc|int8",
    "metrics": {"talk_agent_s": 12.5, "dead_air_s": 3.0, "hold_count": 0, "wpm_agent": None},
    "metric_spans": [
        {"metric": "dead_air_s", "start_s": 10.0, "end_s": 13.0},
        {"metric": "dead_air_count", "start_s": 10.0, "end_s": 13.0},
    ],
    "metrics_wall_s": 0.12,
    "diarization": "one voice",
    "redactions": [{"kind": "CARD", "start_s": 5.0, "end_s": 7.5}],
    "utterances": [
        {
            "speaker": "unknown",
            "channel": 0,
            "start_s": 1.0,
            "end_s": 2.0,
            "text": "hello there",
            "confidence": 0.9,
            "words": [[1.0, 1.4, " hello", 0.9], [1.5, 2.0, " there", 0.8]],
        }
    ],
}
OLD_UNSERVED = {
    "language": "pl",
    "language_probability": 0.93,
    "detected_language": "pl",
    "duration_s": 20.0,
    "channels": 2,
    "tracks": 2,
    "sample_rate": 8000,
    "codec": "pcm_mulaw",
    "decode_warnings": 0,
    "status": "unsupported_language",
    "asr_model": "base@abc|int8",
    "speech_s": 0.0,
    "utterances": [],
}


def _analysis() -> CallAnalysis:
    return CallAnalysis(
        language="zh",
        language_probability=0.91,
        detected_language="zh",
        served=True,
        duration_s=30.0,
        channels=2,
        tracks=2,
        sample_rate=8000,
        codec="pcm_alaw",
        decode_warnings=2,
        asr_model="base@abc|int8",
        speech_s=21.5,
        dropped=("phantom",),
        utterances=(
            Utterance("agent", 0.5, 2.0, "您好", (Word(0.5, 2.0, "您好", 0.875),), 0.875, 0),
        ),
        diarization=Diarization("diarized", "resemblyzer", 4.25),
        redactions=(RedactedSpan("PHONE", 3.0, 6.0),),
        metrics={"talk_agent_s": 10.0, "wpm_customer": None},
        metric_spans={"overtalk_s": (Span(1.0, 2.0), Span(4.0, 4.5))},
        metrics_wall_s=0.05,
    )


def test_the_record_survives_its_cache_form() -> None:
    a = _analysis()
    entry = json.loads(json.dumps(a.to_cache(), ensure_ascii=False))
    assert entry["format"] == CACHE_FORMAT
    assert analysis_from_cache(entry) == a


def test_an_old_entry_loads_as_the_record() -> None:
    a = analysis_from_cache(OLD_ENTRY)
    assert a.served and a.diarization == Diarization("one voice")
    assert a.transcript("c9").utterances[0].words[1] == Word(1.5, 2.0, " there", 0.8)
    assert a.transcript("c9").call_id == "c9"
    assert a.metric_values() == {"talk_agent_s": 12.5, "dead_air_s": 3.0, "hold_count": 0.0}
    assert a.metric_spans["dead_air_s"] == (Span(10.0, 13.0),)
    assert a.redactions == (RedactedSpan("CARD", 5.0, 7.5),)
    assert a.dropped == ("0.0-0.4 no_speech 0.93",)
    assert analysis_from_cache(a.to_cache()) == a  # rewritten in the new form, same record


def test_an_old_unserved_entry_loads_without_a_diarization() -> None:
    a = analysis_from_cache(OLD_UNSERVED)
    assert not a.served and a.diarization is None and a.utterances == ()
    assert a.to_cache()["status"] == "unsupported_language"


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ({**OLD_ENTRY, "format": 99}, ValueError),
        ({k: v for k, v in OLD_ENTRY.items() if k != "sample_rate"}, KeyError),
        ({**OLD_ENTRY, "diarization": {"outcome": "diarized"}}, KeyError),
        (
            {**OLD_ENTRY, "metric_spans": [{"metric": "x", "start_s": "soon"}]},
            (KeyError, ValueError),
        ),
    ],
    ids=["future-format", "field-missing", "diarization-incomplete", "bad-span"],
)
def test_an_entry_of_another_shape_is_refused(entry: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        analysis_from_cache(entry)


def test_sentiment_joins_the_metrics_with_nan_as_unmeasured() -> None:
    a = _analysis().with_meaning("e5@test", {"sentiment_start": 0.5, "sentiment_end": math.nan})
    assert a.embed_model == "e5@test"
    assert a.metrics["sentiment_start"] == 0.5 and a.metrics["sentiment_end"] is None
    assert a.metric_values()["sentiment_start"] == 0.5 and "sentiment_end" not in a.metric_values()


@pytest.mark.parametrize(
    ("diarization", "line"),
    [
        (Diarization("stereo"), "stereo"),
        (Diarization("diarized", "resemblyzer", 4.2), "diarized (resemblyzer, voice gain 4.20)"),
        (Diarization("too little speech", "librosa", None), "too little speech (librosa)"),
    ],
)
def test_a_diarization_reads_as_one_line(diarization: Diarization, line: str) -> None:
    assert diarization.describe() == line


def test_the_diarization_reaches_the_calls_table_and_reads_back(tmp_path: Path) -> None:
    rec = Recording("c1", "a/c1.wav", "/tmp/a/c1.wav", "ab" * 32, "2026-12-01", 10)
    a = _analysis()
    row = rows.call_row(rec, a, a.transcript("c1"), "ok")
    assert row["diarization"] == {
        "outcome": "diarized",
        "embedder": "resemblyzer",
        "voice_gain": 4.25,
    }
    wh.upsert(tmp_path, "calls", {"2026-12-01": [row]})
    (stored,) = stored_calls(tmp_path, "2026-12-01")
    assert stored.diarization == a.diarization
    assert row["redactions"] == [{"kind": "PHONE", "start_s": 3.0, "end_s": 6.0}]
    quarantined = rows.call_row(rec, None, None, "quarantined")
    assert quarantined["diarization"] is None
    assert rows.call_from_row(quarantined).diarization is None
    assert quarantined["duration_s"] is None and quarantined["metric_spans"] == []
