"""The journey of one recording (pipeline/journey.py) on small real adapters.

Real audio, the real decoder, VAD, diarization (librosa voice features), redaction,
metrics, the real e5 embedder and a real compiled rubric. The transcriber is scripted
(:class:`ScriptedTranscriber`: words where the real VAD hears speech, or given lines):
it tests the wiring only; the real Whisper runs the same journey end to end in
``tests/flows/test_process.py`` (slow) and in every
test that goes through ``flows.process.process_recording``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from models.embed import get_embedder
from models.nlp import get_analyzer
from pipeline import TARGET_SR
from pipeline.acoustic.activity import speech_activity
from pipeline.analysis import CallAnalysis, analysis_from_cache
from pipeline.archive import discover
from pipeline.config import Config
from pipeline.errors import AudioError
from pipeline.journey import Adapters, follow_recording
from pipeline.meaning import load_anchors
from pipeline.protocols import Transcriber
from pipeline.rubric.engine import CompiledRubric
from pipeline.rubric.loader import compiled_rubric
from pipeline.types import ChannelTranscript, Recording, Segment, Word

RUBRIC = """
schema_version: 1
id: journey
version: 1
language: en
items:
  - id: greeting
    speaker: agent
    expect: present
    weight: 50
    detector: phrase.v1
    params: {phrases: ["thank you for calling"]}
  - id: no_long_dead_air
    expect: absent
    weight: 50
    detector: metric.v1
    speaker: any
    params: {metric: longest_dead_air_s, op: ">", value: 30}
"""

Lines = dict[int, list[tuple[float, float, str]]]
"""Per track: ``(start_s, end_s, text)`` of each line the scripted transcriber says."""


@dataclass(frozen=True)
class Heard:
    """The speech of a call as the scripted identifier hears it: its tracks."""

    tracks: tuple[npt.NDArray[np.float32], ...]


@dataclass
class ScriptedTranscriber:
    """A :class:`~pipeline.protocols.Transcriber` and language identifier that hears no
    words: it says ``lines`` per track, or one "la" per 0.4 s of the speech the real
    energy VAD finds. Counts its calls (the cache must spare them)."""

    probabilities: list[tuple[str, float]] = field(default_factory=lambda: [("en", 0.97)])
    lines: Lines | None = None
    model_id: str = "scripted@test"
    calls: list[str] = field(default_factory=list)
    encoded: list[str] = field(default_factory=list)

    def language_probabilities(
        self, samples: npt.NDArray[np.float32], *, segments: int = 4
    ) -> list[tuple[str, float]]:
        self.calls.append("language")
        return self.probabilities

    def detect_language(
        self, samples: npt.NDArray[np.float32], *, candidates: Sequence[str]
    ) -> tuple[str, float]:
        return max(self.probabilities, key=lambda p: p[1])

    def transcribe(self, samples: npt.NDArray[np.float32], *, language: str) -> ChannelTranscript:
        return self.transcribe_tracks([samples], language=language)[0]

    def hear(self, tracks: Sequence[npt.NDArray[np.float32]]) -> Heard:
        return Heard(tuple(tracks))

    def call_language(
        self, heard: Heard, *, probe: int, segments: int
    ) -> tuple[list[tuple[str, float]], list[str]]:
        self.encoded = [f"windows of track {probe}"]
        return self.language_probabilities(heard.tracks[probe]), self.encoded

    def transcribe_heard(
        self, heard: Heard, *, language: str, encoded: Sequence[str] = ()
    ) -> list[ChannelTranscript]:
        assert list(encoded) == self.encoded  # language identification's windows, handed on
        return self.transcribe_tracks(heard.tracks, language=language)

    def transcribe_tracks(
        self, tracks: Sequence[npt.NDArray[np.float32]], *, language: str
    ) -> list[ChannelTranscript]:
        self.calls.append(f"transcribe:{language}")
        heard = []
        for k, x in enumerate(tracks):
            said = self.lines.get(k, []) if self.lines is not None else _speech_lines(x)
            segments = tuple(_segment(*line) for line in said)
            speech_s = sum(s.end_s - s.start_s for s in segments)
            heard.append(ChannelTranscript(segments, language, 0.97, x.size / TARGET_SR, speech_s))
        return heard


def _speech_lines(x: npt.NDArray[np.float32]) -> list[tuple[float, float, str]]:
    lines = []
    for span in speech_activity(x, sr=TARGET_SR):
        n = max(1, int((span.end_s - span.start_s) / 0.4))
        lines.append((span.start_s, span.end_s, " ".join(["la"] * n)))
    return lines


def _segment(start_s: float, end_s: float, text: str) -> Segment:
    tokens = text.split()
    step = (end_s - start_s) / len(tokens)
    words = tuple(
        Word(start_s + i * step, start_s + (i + 0.9) * step, f" {t}", 0.9)
        for i, t in enumerate(tokens)
    )
    return Segment(start_s, end_s, " " + text, words)


class MemoryCache:
    """An :class:`~pipeline.protocols.AnalysisCache` in a dict, kept as the JSON it
    would be on disk (so what the next run reads is the cache's form, not the object)."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}

    def load(self, key: str) -> CallAnalysis | None:
        return analysis_from_cache(self.entries[key]) if key in self.entries else None

    def store(self, key: str, analysis: CallAnalysis) -> None:
        self.entries[key] = analysis.to_cache()


@pytest.fixture(scope="module")
def rubric_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rubric") / "journey.yaml"
    path.write_text(RUBRIC)
    return path


def _adapters(transcriber: ScriptedTranscriber, cache: MemoryCache) -> Adapters:
    embedder = get_embedder()

    def rubric_for(path: str, language: str) -> CompiledRubric:
        return compiled_rubric(path, analyzer_for=get_analyzer, embedder=get_embedder)

    def transcriber_for(language: str) -> Transcriber:
        return transcriber

    return Adapters(
        identifier=transcriber,
        transcriber_for=transcriber_for,
        voice_encoder=None,
        embedder=embedder,
        sentiment_anchors=lambda: load_anchors(embedder),
        rubric_for=rubric_for,
        cache=cache,
    )


def _recording(tmp_path: Path, samples: np.ndarray, sr: int) -> Recording:
    (tmp_path / "archive").mkdir()
    sf.write(tmp_path / "archive" / "call.wav", samples, sr, subtype="PCM_16")
    return discover(tmp_path / "archive").recordings[0]


def _config(rubric: Path, **kw: object) -> Config:
    return Config(languages=["en"], rubrics={"en": str(rubric)}, **kw)  # type: ignore[arg-type]


def test_a_mono_call_is_diarized_measured_embedded_and_scored(
    tmp_path: Path, data: Path, rubric_file: Path
) -> None:
    y, sr = sf.read(data / "card_call_8k.wav", dtype="float32")
    rec = _recording(tmp_path, y.mean(axis=1), sr)
    transcriber, cache = ScriptedTranscriber(), MemoryCache()
    journey = follow_recording(
        rec, config=_config(rubric_file), adapters=_adapters(transcriber, cache)
    )
    a = journey.analysis
    assert journey.status == "ok" and not journey.heard_from_cache
    assert (a.channels, a.tracks, a.sample_rate, a.served) == (1, 1, 8000, True)
    assert a.diarization is not None and a.diarization.outcome == "diarized"
    assert a.diarization.embedder == "librosa" and (a.diarization.voice_gain or 0) > 1.0
    assert journey.transcript is not None
    assert {u.speaker for u in journey.transcript.utterances} == {"agent", "customer"}
    # the metrics split the one track by the diarized words
    assert a.metrics["talk_agent_s"] and a.metrics["talk_customer_s"]
    assert journey.vectors is not None
    assert journey.vectors.shape == (len(journey.transcript.utterances), 384)
    assert a.embed_model == get_embedder().model_id
    assert {f.item_id for f in journey.findings} == {"greeting", "no_long_dead_air"}
    assert journey.score is not None and journey.score.rubric_id == "journey"
    assert transcriber.calls == ["language", "transcribe:en"]
    (entry,) = cache.entries.values()
    assert entry["diarization"]["outcome"] == "diarized"

    again = follow_recording(
        rec, config=_config(rubric_file), adapters=_adapters(transcriber, cache)
    )
    assert again.heard_from_cache and again.hear_wall_s == 0.0
    assert transcriber.calls == ["language", "transcribe:en"]  # not heard again
    assert again.transcript == journey.transcript and again.score == journey.score
    assert again.analysis.diarization == a.diarization


def test_a_stereo_call_keeps_its_channels_and_is_redacted_before_the_cache(
    tmp_path: Path, stereo_call: Path, rubric_file: Path
) -> None:
    y, sr = sf.read(stereo_call, dtype="float32")
    rec = _recording(tmp_path, y, sr)
    lines: Lines = {
        0: [(0.5, 3.0, "thank you for calling how can I help")],
        1: [(12.0, 16.0, "my card is 4532 0151 1283 0366")],
    }
    cache = MemoryCache()
    journey = follow_recording(
        rec,
        config=_config(rubric_file),
        adapters=_adapters(ScriptedTranscriber(lines=lines), cache),
    )
    assert journey.analysis.diarization is not None
    assert journey.analysis.diarization.outcome == "stereo"
    assert journey.transcript is not None
    said = {u.speaker: u.text for u in journey.transcript.utterances}
    assert said["customer"] == "my card is [CARD]"
    assert [r.kind for r in journey.analysis.redactions] == ["CARD"]
    assert "4532" not in str(cache.entries)
    greeting = next(f for f in journey.findings if f.item_id == "greeting")
    assert greeting.outcome == "pass"


def test_a_language_not_served_is_neither_transcribed_nor_scored(
    tmp_path: Path, stereo_call: Path, rubric_file: Path
) -> None:
    y, sr = sf.read(stereo_call, dtype="float32")
    rec = _recording(tmp_path, y, sr)
    transcriber, cache = (
        ScriptedTranscriber(probabilities=[("pl", 0.93), ("en", 0.05)]),
        MemoryCache(),
    )
    journey = follow_recording(
        rec, config=_config(rubric_file), adapters=_adapters(transcriber, cache)
    )
    assert journey.status == "unsupported_language" and journey.transcript is None
    assert "language 'pl' (probability 0.93) is not served (languages: en)" in journey.status_reason
    assert transcriber.calls == ["language"]
    assert not journey.analysis.served and journey.analysis.diarization is None
    assert journey.analysis.asr_model == "scripted@test"
    (entry,) = cache.entries.values()
    assert analysis_from_cache(entry) == journey.analysis


def test_a_call_without_speech_is_an_audio_error_naming_the_file(
    tmp_path: Path, stereo_call: Path, rubric_file: Path
) -> None:
    y, sr = sf.read(stereo_call, dtype="float32")
    rec = _recording(tmp_path, y, sr)
    mute = ScriptedTranscriber(lines={})
    with pytest.raises(
        AudioError, match=r"call\.wav: no speech found in 22\.0 s \(voice activity 0\.0 s"
    ) as caught:
        follow_recording(rec, config=_config(rubric_file), adapters=_adapters(mute, MemoryCache()))
    assert caught.value.code == "A007"


def test_a_call_type_without_a_rubric_is_transcribed_not_scored(
    tmp_path: Path, stereo_call: Path
) -> None:
    y, sr = sf.read(stereo_call, dtype="float32")
    rec = _recording(tmp_path, y, sr)
    lines: Lines = {0: [(0.5, 3.0, "hello there")]}
    journey = follow_recording(
        rec,
        config=Config(languages=["en"], rubrics={}),
        adapters=_adapters(ScriptedTranscriber(lines=lines), MemoryCache()),
    )
    assert journey.status == "no_rubric" and journey.score is None and not journey.findings
    assert journey.transcript is not None and journey.vectors is not None
