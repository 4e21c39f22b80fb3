"""A call's Whisper windows, encoded once: the real base model on real speech."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models import asr
from models.asr import WhisperTranscriber, _segment
from models.windows import Encoded, WindowDecoder
from pipeline.audio import decode
from pipeline.config import AsrConfig
from pipeline.evaluation import word_error_rate as wer

pytestmark = pytest.mark.slow

TURNS = [  # (channel, file): real speech laid on a stereo timeline, 1 s between turns
    (0, "azure_katiesteve_mono.wav"),
    (1, "azure_whatstheweatherlike_mulaw.wav"),
    (0, "osr_us_000_0034_8k.wav"),
    (1, "faster_whisper_jfk.flac"),
    (0, "azure_katiesteve_mono.wav"),
]


@pytest.fixture(scope="module")
def transcriber() -> WhisperTranscriber:
    return WhisperTranscriber(AsrConfig(workers=1))


@pytest.fixture(scope="module")
def call(data: Path) -> tuple[list[np.ndarray], list[str]]:
    """The two tracks of a stereo call (16 kHz) and each track's reference text."""
    refs = {
        e["file"]: e["reference_transcript"]
        for e in json.loads((data / "manifest.json").read_text())
    }
    blocks, texts = [], ["", ""]
    for channel, name in TURNS:
        x = decode(data / name).samples.mean(axis=0)
        block = np.zeros((2, len(x) + 16000), dtype=np.float32)
        block[channel, : len(x)] = x
        blocks.append(block)
        texts[channel] += " " + refs[name]
    stereo = np.concatenate(blocks, axis=1)
    return [stereo[0], stereo[1]], texts


@pytest.fixture()
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of windows of every encoder pass (the real encoder still runs)."""
    passes: list[int] = []
    real = WindowDecoder.encode

    def counted(self: WindowDecoder, windows: list) -> Encoded:
        passes.append(len(windows))
        return real(self, windows)

    monkeypatch.setattr(WindowDecoder, "encode", counted)
    return passes


def test_each_track_comes_out_as_the_batched_pipeline_gives_it(
    transcriber: WhisperTranscriber, call: tuple[list[np.ndarray], list[str]]
) -> None:
    """Same segments, words and times as faster-whisper's BatchedInferencePipeline with
    earmark's options on the same track: the windows are decoded the way it decodes them."""
    tracks, _ = call
    ours = transcriber.transcribe_tracks(tracks, language="en")
    with transcriber.replicas.hold():
        for track, channel in zip(tracks, ours, strict=True):
            segments, _ = transcriber._start(track, "en")
            theirs = [_segment(s) for s in segments]
            assert channel.segments and list(channel.segments) == theirs


def test_the_language_windows_are_encoded_once(
    transcriber: WhisperTranscriber,
    call: tuple[list[np.ndarray], list[str]],
    encodes: list[int],
) -> None:
    tracks, refs = call
    heard = transcriber.hear(tracks)
    windows = [len(s.windows) for s in heard.speech]
    assert windows[0] >= 2  # the agent's 67 s of speech: more than one window
    probabilities, encoded = transcriber.call_language(heard, probe=0, segments=2)
    assert probabilities[0][0] == "en" and probabilities[0][1] > 0.8
    assert abs(sum(p for _, p in probabilities) - 1.0) < 0.01
    assert sum(encodes) == 2  # the language is read off the first two windows
    channels = transcriber.transcribe_heard(heard, language="en", encoded=encoded)
    assert sum(encodes) == sum(windows)  # and they are not encoded again
    for channel, ref in zip(channels, refs, strict=True):
        assert wer(ref, " ".join(s.text for s in channel.segments)) < 0.15
    assert "country" in " ".join(s.text for s in channels[1].segments).lower()
    assert "sandy beach" not in " ".join(s.text for s in channels[1].segments).lower()


def test_windows_another_model_encoded_are_encoded_again(
    transcriber: WhisperTranscriber,
    call: tuple[list[np.ndarray], list[str]],
    encodes: list[int],
) -> None:
    tracks, _ = call
    heard = transcriber.hear(tracks[1:])
    _, encoded = transcriber.call_language(heard, probe=0)
    elsewhere = [Encoded(b.windows, None, "another-model") for b in encoded]
    before = sum(encodes)
    channel = transcriber.transcribe_heard(heard, language="en", encoded=elsewhere)[0]
    assert sum(encodes) - before == len(heard.speech[0].windows)
    assert channel == transcriber.transcribe_heard(heard, language="en", encoded=encoded)[0]


def test_decoding_past_its_budget_stops_between_batches(
    call: tuple[list[np.ndarray], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A track that takes longer than its budget keeps the windows decoded so far and
    says where it stopped."""
    tracks, _ = call
    whole = WhisperTranscriber(AsrConfig(batch_size=2)).transcribe(tracks[0], language="en")
    monkeypatch.setattr(asr, "MIN_DECODE_BUDGET_S", 0.0)
    hurried = WhisperTranscriber(AsrConfig(batch_size=2, max_decode_s_per_audio_s=1e-6))
    assert len(hurried.hear(tracks[:1]).speech[0].windows) == 3
    stopped = hurried.transcribe(tracks[0], language="en")
    assert len(stopped.dropped) == 1 and "over the 0s budget" in stopped.dropped[0]
    assert not whole.dropped
    assert 0 < len(stopped.segments) < len(whole.segments)
    assert stopped.segments == whole.segments[: len(stopped.segments)]  # the first batch


def test_a_lone_calls_tracks_take_the_idle_replica(
    call: tuple[list[np.ndarray], list[str]],
) -> None:
    """With two workers and one call, the call's second track runs on the second replica
    (the second core), and comes out as it does on one."""
    tracks, _ = call
    alone = WhisperTranscriber(AsrConfig(workers=1, cpu_threads=1))
    both = WhisperTranscriber(AsrConfig(workers=2, cpu_threads=1))
    assert both.transcribe_tracks(tracks, language="en") == alone.transcribe_tracks(
        tracks, language="en"
    )
    assert both.replicas.loaded == 2 and alone.replicas.loaded == 1
