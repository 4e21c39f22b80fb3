from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline import TARGET_SR
from pipeline.audio import decode, split_tracks
from pipeline.errors import AudioError


@pytest.mark.parametrize(
    ("name", "channels", "original_sr"),
    [
        ("osr_us_000_0034_8k.wav", 1, 8000),
        ("azure_whatstheweatherlike_mulaw.wav", 1, 16000),
        ("faster_whisper_stereo_diarization.wav", 2, 16000),
        ("faster_whisper_jfk.flac", 2, 44100),
    ],
)
def test_decodes_real_recordings_keeping_channels(
    data: Path, name: str, channels: int, original_sr: int
) -> None:
    audio = decode(data / name)
    assert audio.channels == channels
    assert audio.sr == TARGET_SR
    assert audio.original_sr == original_sr
    assert audio.samples.dtype == np.float32
    assert 0.05 < float(np.max(np.abs(audio.samples))) <= 1.0


@pytest.mark.parametrize(
    ("fmt", "subtype", "suffix"),
    [
        ("WAV", "ULAW", ".wav"),
        ("WAV", "ALAW", ".wav"),
        ("MP3", "MPEG_LAYER_III", ".mp3"),
        ("OGG", "VORBIS", ".ogg"),
        ("FLAC", "PCM_16", ".flac"),
    ],
)
def test_decodes_telephony_codecs_at_8k(
    data: Path, tmp_path: Path, fmt: str, subtype: str, suffix: str
) -> None:
    y, sr = sf.read(data / "osr_us_000_0034_8k.wav", dtype="float32")
    path = tmp_path / f"call{suffix}"
    sf.write(path, np.stack([y, y * 0.5], axis=1), sr, format=fmt, subtype=subtype)
    audio = decode(path)
    assert audio.channels == 2
    assert audio.original_sr == 8000
    assert abs(audio.duration_s - len(y) / sr) < 0.2
    # the codec and the resampling to 16 kHz keep the signal's level on each channel
    rms = np.sqrt(np.mean(audio.samples**2, axis=1))
    original = np.sqrt(np.mean(y**2))
    assert rms[0] == pytest.approx(original, rel=0.2)
    assert rms[1] == pytest.approx(original * 0.5, rel=0.2)


def test_mp3_named_wav_is_decoded(data: Path, tmp_path: Path) -> None:
    y, sr = sf.read(data / "osr_us_000_0034_8k.wav", dtype="float32")
    path = tmp_path / "really_an_mp3.wav"
    sf.write(path, y, sr, format="MP3")
    audio = decode(path)
    assert audio.channels == 1 and audio.duration_s > 30


def _truncated(data: Path, tmp_path: Path) -> Path:
    raw = (data / "osr_us_000_0034_8k.wav").read_bytes()
    path = tmp_path / "x.wav"
    path.write_bytes(raw[: len(raw) // 3])
    return path


def _header_only(data: Path, tmp_path: Path) -> Path:
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 8000, subtype="PCM_16")
    return path


def _silent(data: Path, tmp_path: Path) -> Path:
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros(8000 * 5, dtype=np.float32), 8000, subtype="PCM_16")
    return path


def _short(data: Path, tmp_path: Path) -> Path:
    path = tmp_path / "x.wav"
    sf.write(path, np.full(800, 0.3, dtype=np.float32), 8000, subtype="PCM_16")
    return path


def _empty(data: Path, tmp_path: Path) -> Path:
    path = tmp_path / "x.wav"
    path.write_bytes(b"")
    return path


def _text(data: Path, tmp_path: Path) -> Path:
    path = tmp_path / "x.wav"
    path.write_text("this is not audio at all, just a note someone saved with the wrong name\n")
    return path


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (_empty, "A001", "empty file"),
        (_text, "A002", "not a decodable audio file"),
        (_header_only, "A003", "header only"),
        (_truncated, "A004", "truncated"),
        (_short, "A005", "too short"),
        (_silent, "A006", "silent"),
    ],
)
def test_bad_files_raise_coded_errors_naming_the_file(
    data: Path, tmp_path: Path, make, code: str, words: str
) -> None:
    path = make(data, tmp_path)
    with pytest.raises(AudioError, match=words) as info:
        decode(path)
    assert info.value.code == code
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="cannot read file") as info:
        decode(tmp_path / "gone.wav")
    assert info.value.code == "A009"


def test_stereo_split_follows_agent_channel(data: Path) -> None:
    audio = decode(data / "faster_whisper_stereo_diarization.wav")
    left = split_tracks(audio, agent_channel="left")
    right = split_tracks(audio, agent_channel="right")
    assert [(t.speaker, t.channel) for t in left] == [("agent", 0), ("customer", 1)]
    assert [(t.speaker, t.channel) for t in right] == [("agent", 1), ("customer", 0)]


def test_mono_and_duplicated_stereo_are_one_unknown_track(data: Path, tmp_path: Path) -> None:
    y, sr = sf.read(data / "osr_us_000_0034_8k.wav", dtype="float32")
    dup = tmp_path / "dup.wav"
    sf.write(dup, np.stack([y, y], axis=1), sr)
    for path in (data / "osr_us_000_0034_8k.wav", dup):
        tracks = split_tracks(decode(path))
        assert [(t.speaker, t.channel) for t in tracks] == [("unknown", 0)]


def test_non_ascii_name_with_spaces(data: Path, tmp_path: Path) -> None:
    path = tmp_path / "Café Ünïcode call 电话.wav"
    shutil.copy(data / "osr_us_000_0034_8k.wav", path)
    assert decode(path).channels == 1


def test_block_by_block_decoding_equals_resampling_in_one_go(data: Path, tmp_path: Path) -> None:
    """Decoding streams 30 s blocks through soxr: the samples must be the one-shot ones."""
    import soxr

    raw, rate = sf.read(data / "osr_us_000_0034_8k.wav", dtype="float32", always_2d=True)
    stereo = np.concatenate([raw, raw[::-1]], axis=1)  # two different channels, 35 s
    path = tmp_path / "two.wav"
    sf.write(path, stereo, rate, subtype="FLOAT")
    audio = decode(path)
    expected = np.stack(
        [soxr.resample(stereo[:, c], rate, TARGET_SR, quality="HQ") for c in (0, 1)]
    )
    assert audio.samples.shape == expected.shape and audio.original_sr == 8000
    np.testing.assert_allclose(audio.samples, expected, atol=1e-6)
