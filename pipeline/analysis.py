"""The analysis of one call as one typed record, its transcript-cache key and form.

:class:`CallAnalysis` is what hearing a call produced (decode → language → ASR → merge →
diarize → redact → metrics, see :mod:`pipeline.journey`) and, once the journey has read
its meaning, the embedding model and the sentiment metrics. The heard part is cached by
content (``WAREHOUSE/_cache/asr``): :meth:`CallAnalysis.to_cache` and
:func:`analysis_from_cache` are the only places that know the entry's JSON keys.

Cache entries written before this record (no ``format`` key, ``diarization`` a bare
string) still load: their shape is the same but for that field. An entry of an unknown
format, or one missing a field, raises ``KeyError``/``TypeError``/``ValueError``: the
caller counts it as damaged and hears the call again.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pipeline.config import Config
from pipeline.cues import cues_digest
from pipeline.diarization import DIARIZE_VERSION
from pipeline.metric_rows import METRIC_ALIASES
from pipeline.metrics import METRICS_VERSION
from pipeline.redact import REDACT_VERSION
from pipeline.redact_cues import redaction_cues_file
from pipeline.roles import call_direction
from pipeline.transcript import utterance_from_dict, utterance_to_dict
from pipeline.types import Diarization as Diarization  # re-exported: parts of CallAnalysis
from pipeline.types import Recording, Span, Transcript, Utterance
from pipeline.types import RedactedSpan as RedactedSpan

CACHE_FORMAT = 2
"""The shape of a cache entry. 1 (no ``format`` key): ``diarization`` is the outcome
string alone; 2: ``diarization`` is an object (outcome, embedder, voice gain)."""

STEREO = "stereo"
"""The diarization outcome of a call with a channel per party: nothing to split."""


def speakers_line(diarization: Diarization | None) -> str:
    """How a call's words got their parties, for an inspector or ``rubric explain``."""
    if diarization is None:
        return "not recorded (not transcribed, or processed before earmark kept it)"
    if diarization.outcome == STEREO:
        return "a channel per party"
    if diarization.outcome == "diarized":
        return f"one channel, split into agent and customer: {diarization.describe()}"
    return f"one channel, not split: {diarization.describe()}"


_NOT_SPLIT = {
    "one voice": "only one voice was heard",
    "one voice in the words": "only one voice was heard while words were said",
    "too little speech": "too little speech to tell two voices apart",
    "no words": "nothing was said",
}


def speakers_in_words(diarization: Diarization | None) -> str:
    """How a call's words got their parties, for an inspector: :func:`speakers_line`
    without the voice features' name and score (a lead sees those).

    Examples
    --------
    >>> speakers_in_words(Diarization("diarized", "librosa", 1.52))
    'one recording for both parties: agent and customer told apart by their voices (check who speaks where it matters)'
    >>> speakers_in_words(Diarization("one voice", "librosa", -0.2))
    'one recording for both parties, not split into agent and customer: only one voice was heard'
    """
    if diarization is None or diarization.outcome == STEREO:
        return speakers_line(diarization)
    if diarization.outcome == "diarized":
        return (
            "one recording for both parties: agent and customer told apart by their voices "
            "(check who speaks where it matters)"
        )
    why = _NOT_SPLIT.get(diarization.outcome, diarization.outcome)
    return f"one recording for both parties, not split into agent and customer: {why}"


@dataclass(frozen=True, slots=True)
class CallAnalysis:
    """Everything the journey learned about one call, besides the rubric's verdict."""

    language: str
    """The language it was transcribed in (for an unserved call, the one detected)."""
    language_probability: float
    detected_language: str
    served: bool
    """``False``: a language the center does not serve; not transcribed, not scored."""
    duration_s: float
    channels: int
    tracks: int
    sample_rate: int
    """Of the file as recorded (the audio is heard at 16 kHz)."""
    codec: str
    decode_warnings: int
    asr_model: str
    speech_s: float = 0.0
    dropped: tuple[str, ...] = ()
    """ASR segments dropped as non-speech or phantom text, with why."""
    utterances: tuple[Utterance, ...] = ()
    """Redacted, with parties."""
    diarization: Diarization | None = None
    """``None`` when the call was not transcribed."""
    redactions: tuple[RedactedSpan, ...] = ()
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    """The ``calls`` metric columns by name; ``None``: not measurable on this call."""
    metric_spans: Mapping[str, tuple[Span, ...]] = field(default_factory=dict)
    """Where each metric happened (the evidence a ``metric.v1`` item cites)."""
    metrics_wall_s: float = 0.0
    embed_model: str = ""
    """The meaning model its utterance vectors came from (set after the cache)."""

    def transcript(self, call_id: str) -> Transcript:
        """The call's transcript (the cache is keyed by audio: the call id is the caller's)."""
        return Transcript(call_id, self.language, self.duration_s, self.utterances)

    def metric_values(self) -> dict[str, float]:
        """The numbers a rubric's ``metric.v1`` items read: measured metrics and aliases."""
        values = {k: float(v) for k, v in self.metrics.items() if v is not None}
        values.update({a: values[n] for a, n in METRIC_ALIASES.items() if n in values})
        return values

    def with_meaning(self, embed_model: str, metrics: Mapping[str, float]) -> CallAnalysis:
        """This analysis with its meaning read: the model and the sentiment metrics."""
        return replace(
            self, embed_model=embed_model, metrics={**self.metrics, **_nullable(metrics)}
        )

    def to_cache(self) -> dict[str, Any]:
        """The JSON object of the cache entry (the heard part; meaning is cached by text)."""
        return {
            "format": CACHE_FORMAT,
            "language": self.language,
            "language_probability": self.language_probability,
            "detected_language": self.detected_language,
            "status": "ok" if self.served else "unsupported_language",
            "duration_s": self.duration_s,
            "channels": self.channels,
            "tracks": self.tracks,
            "sample_rate": self.sample_rate,
            "codec": self.codec,
            "decode_warnings": self.decode_warnings,
            "asr_model": self.asr_model,
            "speech_s": self.speech_s,
            "dropped": list(self.dropped),
            "diarization": _diarization_entry(self.diarization),
            "redactions": [_redaction_entry(r) for r in self.redactions],
            "metrics": dict(self.metrics),
            "metric_spans": [
                {"metric": name, "start_s": s.start_s, "end_s": s.end_s}
                for name, spans in sorted(self.metric_spans.items())
                for s in spans
            ],
            "metrics_wall_s": self.metrics_wall_s,
            "utterances": [utterance_to_dict(u) for u in self.utterances],
        }


def transcript_key(recording: Recording, model_id: str, config: Config) -> str:
    """Content address of a call's analysis: the hash of its :func:`cache_components`."""
    parts = cache_components(recording, model_id, config)
    return hashlib.sha256("|".join(f"{c}={v}" for c, v in parts).encode()).hexdigest()


def cache_components(
    recording: Recording, model_id: str, config: Config
) -> tuple[tuple[str, str], ...]:
    """``(component, version)`` of everything a cached transcript entry depends on: what
    was heard (audio, model, languages, channels), then each step whose output the entry
    holds beside the words: redaction (its version, cue file and patterns), diarization,
    the audio metrics and the hold and role cue files they read."""
    redaction_cues = cues_digest((redaction_cues_file(),))
    direction = call_direction(recording.metadata)
    return (
        ("audio", recording.audio_sha256),
        ("asr", model_id),
        ("asr_models", repr(sorted(config.asr.models.items()))),
        ("languages", ",".join(config.languages)),
        ("language_detection", config.language_detection.model_dump_json()),
        ("agent_channel", str(config.agent_channel)),
        ("redact", f"{REDACT_VERSION}:{redaction_cues}:{_redact_settings(config)}"),
        ("diarize", f"{DIARIZE_VERSION}:{config.diarize.embedder}"),
        ("metrics", str(METRICS_VERSION)),
        ("cues", cues_digest() + (f":{direction}" if direction else "")),
    )


def _redact_settings(config: Config) -> str:
    redact = config.redact
    return f"{redact.patterns!r}:{redact.after_card_s:g}"


def analysis_from_cache(entry: Mapping[str, Any]) -> CallAnalysis:
    """The record of a cache entry (format 1 or 2).

    Raises
    ------
    KeyError, TypeError, ValueError
        An entry of another format, or with a field missing or of the wrong type: the
        caller treats it as damaged (a miss that is counted).
    """
    fmt = entry.get("format", 1)
    if fmt not in (1, CACHE_FORMAT):
        raise ValueError(f"cache entry format {fmt!r}, this earmark reads 1 and {CACHE_FORMAT}")
    served = entry.get("status") != "unsupported_language"
    return CallAnalysis(
        language=str(entry["language"]),
        language_probability=float(entry["language_probability"]),
        detected_language=str(entry.get("detected_language") or entry["language"]),
        served=served,
        duration_s=float(entry["duration_s"]),
        channels=int(entry["channels"]),
        tracks=int(entry["tracks"]),
        sample_rate=int(entry["sample_rate"]),
        codec=str(entry["codec"]),
        decode_warnings=int(entry.get("decode_warnings") or 0),
        asr_model=str(entry["asr_model"]),
        speech_s=float(entry["speech_s"]),
        dropped=tuple(str(d) for d in entry.get("dropped", ())),
        utterances=tuple(utterance_from_dict(u) for u in entry["utterances"]),
        diarization=_diarization_of(entry["diarization"]) if served else None,
        redactions=tuple(RedactedSpan(**r) for r in entry.get("redactions", ())),
        metrics={str(k): _number(v) for k, v in entry.get("metrics", {}).items()},
        metric_spans=_spans_of(entry.get("metric_spans", ())),
        metrics_wall_s=float(entry.get("metrics_wall_s", 0.0)),
    )


def _diarization_entry(d: Diarization | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"outcome": d.outcome, "embedder": d.embedder, "voice_gain": d.voice_gain}


def _diarization_of(value: Any) -> Diarization:
    if isinstance(value, str):  # format 1: the outcome alone
        return Diarization(value)
    gain = value["voice_gain"]
    return Diarization(str(value["outcome"]), str(value["embedder"]), _number(gain))


def _redaction_entry(r: RedactedSpan) -> dict[str, Any]:
    return {"kind": r.kind, "start_s": r.start_s, "end_s": r.end_s}


def _spans_of(rows: Any) -> dict[str, tuple[Span, ...]]:
    spans: dict[str, list[Span]] = {}
    for s in rows:
        spans.setdefault(str(s["metric"]), []).append(Span(float(s["start_s"]), float(s["end_s"])))
    return {k: tuple(v) for k, v in spans.items()}


def _number(v: Any) -> float | None:
    return None if v is None else float(v)


def _nullable(metrics: Mapping[str, float]) -> dict[str, float | None]:
    """NaN (not measurable) as ``None``, the form the cache and the tables keep."""
    return {k: (None if math.isnan(v) else v) for k, v in metrics.items()}
