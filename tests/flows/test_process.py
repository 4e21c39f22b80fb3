"""flows/process.py composes the journey from the real models: Whisper, the librosa voice
features, e5, the warehouse's caches. Real audio end to end (the wiring of each step is
tested on small adapters in tests/pipeline/test_journey.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from flows import nightly
from flows.process import RunSettings, process_recording
from pipeline import rows
from pipeline import warehouse as wh
from pipeline.archive import discover
from pipeline.config import Config

pytestmark = pytest.mark.slow


def test_a_mono_call_through_the_real_asr_stores_its_diarization(
    tmp_path: Path, data: Path
) -> None:
    y, sr = sf.read(data / "card_call_8k.wav", dtype="float32")
    (tmp_path / "archive").mkdir()
    sf.write(tmp_path / "archive" / "mono card.wav", y.mean(axis=1), sr, subtype="PCM_16")
    found = discover(tmp_path / "archive")
    settings = RunSettings(config=Config(languages=["en"]), warehouse=str(tmp_path / "wh"))
    result = process_recording(found.recordings[0], settings)
    assert result.quarantine is None and result.transcript is not None
    assert {u.speaker for u in result.transcript.utterances} == {"agent", "customer"}
    assert result.analysis is not None and result.analysis.metrics["talk_customer_s"]
    nightly.write_results(settings.warehouse, found.recordings, [result], [])
    (call,) = wh.read_table(settings.warehouse, "calls").to_pylist()
    diarization = rows.call_from_row(call).diarization
    assert diarization is not None and diarization.outcome == "diarized"
    assert diarization.embedder == "librosa" and (diarization.voice_gain or 0) > 1.0
    again = process_recording(found.recordings[0], settings)  # the cache keeps it whole
    assert again.asr_cached and again.analysis is not None
    assert again.analysis.diarization == diarization and again.transcript == result.transcript
