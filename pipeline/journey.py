"""One recording's journey, in order, on models it gets through protocols.

1. :func:`heard`: decode → channels → language → ASR → merge → diarize → redact →
   metrics (:func:`hear_recording`), or the same analysis from the transcript cache;
2. :func:`understood`: the utterances' meaning vectors and the customer's sentiment;
3. :func:`scored`: the call type's rubric → findings → score.

:func:`follow_recording` runs the three; each returns a :class:`CallJourney`.

Every step is a function of ``pipeline``; the models and the stores come in as
:class:`Adapters`, each typed by a protocol of :mod:`pipeline.protocols`, so the whole
journey reads here and runs without a model library (the tests give it small real
adapters). ``flows/process.py`` builds the concrete adapters and calls
:func:`follow_recording`; nothing here knows Whisper, e5 or the warehouse.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pipeline import TARGET_SR, errors
from pipeline.analysis import STEREO, CallAnalysis, Diarization, RedactedSpan, transcript_key
from pipeline.audio import DecodedAudio, Track, decode, normalize_level, split_tracks
from pipeline.calltypes import choose_rubric
from pipeline.config import Config
from pipeline.diarization import DiarizeOptions, diarize_report
from pipeline.language import LanguageVerdict, resolve_language
from pipeline.meaning import SentimentAnchors, Vectors, call_sentiment
from pipeline.metric_rows import as_metric_spans, as_row
from pipeline.metrics import measure_call
from pipeline.protocols import (
    AnalysisCache,
    Embedder,
    HeardSpeech,
    LanguageIdentifier,
    Transcriber,
    VoiceEncoder,
)
from pipeline.redact import RedactOptions, redact_transcript
from pipeline.roles import call_direction
from pipeline.rubric.engine import CompiledRubric
from pipeline.scoring import assess
from pipeline.transcript import merge_channels, to_simplified
from pipeline.types import CallScore, ChannelTranscript, Finding, Recording, Transcript


@dataclass(frozen=True, slots=True)
class Adapters:
    """The models and the store one journey runs on (built once per worker in ``flows/``)."""

    identifier: LanguageIdentifier
    """Judges the call's language (the default ASR model)."""
    transcriber_for: Callable[[str], Transcriber]
    """The transcriber of a language (a model per language when configured)."""
    voice_encoder: VoiceEncoder | None
    """Voice vectors for a mono call's diarization; ``None``: librosa features."""
    embedder: Embedder
    """Meaning vectors of the utterances."""
    sentiment_anchors: Callable[[], SentimentAnchors]
    rubric_for: Callable[[str, str], CompiledRubric]
    """The compiled rubric of ``(path, language)``."""
    cache: AnalysisCache
    """The transcript cache (the heard part, by content)."""


@dataclass(frozen=True, slots=True)
class CallJourney:
    """Where one recording's journey ended, and what it produced on the way."""

    analysis: CallAnalysis
    transcript: Transcript | None
    """``None`` when the call was not transcribed (a language the center does not serve)."""
    heard_from_cache: bool
    hear_wall_s: float
    """Seconds spent hearing it (0 when it came from the cache)."""
    vectors: Vectors | None = None
    sentiment: tuple[float, ...] = ()
    """The customer's sentiment per utterance (NaN for the agent's)."""
    embed_wall_s: float = 0.0
    status: str = "ok"
    """``ok`` (scored), ``unsupported_language`` or ``no_rubric`` (transcribed, no rubric
    for its call type)."""
    status_reason: str = ""
    call_type: str = ""
    findings: tuple[Finding, ...] = ()
    score: CallScore | None = None


def follow_recording(recording: Recording, *, config: Config, adapters: Adapters) -> CallJourney:
    """Take one recording from its file to its score.

    Returns
    -------
    CallJourney
        ``status`` says where it stopped: ``ok`` (scored), ``unsupported_language`` (not
        transcribed) or ``no_rubric`` (transcribed, no rubric for its call type).

    Raises
    ------
    AudioError
        When the file cannot be decoded, or holds no speech (``A007``).
    """
    journey = heard(recording, config=config, adapters=adapters)
    if journey.transcript is None:
        return journey
    return scored(understood(journey, adapters), recording, config, adapters.rubric_for)


def heard(recording: Recording, *, config: Config, adapters: Adapters) -> CallJourney:
    """The heard part of the journey, from the cache or from the audio (then cached)."""
    started = time.monotonic()
    key = transcript_key(recording, adapters.identifier.model_id, config)
    analysis = adapters.cache.load(key)
    from_cache = analysis is not None
    if analysis is None:
        fresh = hear_recording(recording, config=config, adapters=adapters)
        adapters.cache.store(key, fresh)
        analysis = fresh
    wall_s = 0.0 if from_cache else time.monotonic() - started
    if not analysis.served:
        reason = unsupported_reason(analysis, config)
        return CallJourney(
            analysis, None, from_cache, wall_s, status="unsupported_language", status_reason=reason
        )
    if not analysis.utterances:
        raise errors.AUDIO_NO_SPEECH(
            path=recording.source_path,
            problem=f"{analysis.duration_s:.1f} s (voice activity {analysis.speech_s:.1f} s, "
            "all of it dropped as non-speech)",
        )
    return CallJourney(analysis, analysis.transcript(recording.call_id), from_cache, wall_s)


def hear_recording(recording: Recording, *, config: Config, adapters: Adapters) -> CallAnalysis:
    """Decode, split into parties, identify the language, transcribe, merge, diarize a mono
    call, redact and measure: the analysis the cache keeps."""
    audio = decode(recording.path, sr=TARGET_SR)
    tracks = split_tracks(audio, agent_channel=config.agent_channel)
    heard_tracks = [
        normalize_level(t.samples) if config.asr.normalize_level else t.samples for t in tracks
    ]
    speech = adapters.identifier.hear(heard_tracks)  # the VAD once; its windows encoded once
    verdict, encoded = identify_language(speech, tracks, config=config, adapters=adapters)
    facts = _facts(audio, tracks, verdict, asr_model=adapters.identifier.model_id)
    if not verdict.supported:  # not transcribed: nobody here could check it anyway
        return facts
    transcriber = adapters.transcriber_for(verdict.language)
    heard_channels = transcriber.transcribe_heard(
        speech, language=verdict.language, encoded=encoded
    )
    transcript = merged(recording.call_id, tracks, heard_channels, audio, verdict.language)
    transcript, diarization = diarized(tracks, transcript, recording, config, adapters)
    # redact before anything is stored: the cache, the tables, the logs
    options = RedactOptions(
        patterns=tuple((k, v) for k, v in config.redact.patterns),
        after_card_s=config.redact.after_card_s,
    )
    transcript, redactions = redact_transcript(transcript, options=options)
    started = time.monotonic()
    measured = measure_call(tracks, transcript)  # a diarized mono call: split by its words
    return replace(
        facts,
        asr_model=transcriber.model_id,
        speech_s=round(sum(ct.speech_s for ct in heard_channels), 3),
        dropped=tuple(d for ct in heard_channels for d in ct.dropped),
        utterances=transcript.utterances,
        diarization=diarization,
        redactions=tuple(RedactedSpan(r.kind, r.start_s, r.end_s) for r in redactions),
        metrics={k: (None if v != v else v) for k, v in as_row(measured).items()},
        metric_spans=as_metric_spans(measured),
        metrics_wall_s=round(time.monotonic() - started, 4),
    )


def identify_language(
    speech: HeardSpeech, tracks: Sequence[Track], *, config: Config, adapters: Adapters
) -> tuple[LanguageVerdict, Sequence[Any]]:
    """The call's language, judged on the agent's track (the first track of a mono call),
    and the windows encoded to judge it (the transcriber decodes them as they are)."""
    probe = next((k for k, t in enumerate(tracks) if t.speaker == "agent"), 0)
    detection = config.language_detection
    probabilities, encoded = adapters.identifier.call_language(
        speech, probe=probe, segments=detection.segments
    )
    verdict = resolve_language(
        probabilities,
        served=config.languages,
        fallback=detection.fallback,
        min_probability=detection.min_probability,
    )
    return verdict, encoded


def merged(
    call_id: str,
    tracks: Sequence[Track],
    heard: Sequence[ChannelTranscript],
    audio: DecodedAudio,
    language: str,
) -> Transcript:
    """The channels' transcripts as one call (Chinese in Simplified characters)."""
    transcript = merge_channels(
        call_id,
        [(t.speaker, t.channel, ct) for t, ct in zip(tracks, heard, strict=True)],
        duration_s=round(audio.duration_s, 3),
        language=language,
    )
    return to_simplified(transcript) if language == "zh" else transcript


def diarized(
    tracks: Sequence[Track],
    transcript: Transcript,
    recording: Recording,
    config: Config,
    adapters: Adapters,
) -> tuple[Transcript, Diarization]:
    """A mono call's words given to the agent or the customer; a stereo call as it is."""
    if len(tracks) != 1:
        return transcript, Diarization(STEREO)
    direction = call_direction(recording.metadata)
    report = diarize_report(
        tracks[0].samples,
        transcript,
        sr=TARGET_SR,
        options=DiarizeOptions(embedder=config.diarize.embedder, direction=direction),
        encoder=adapters.voice_encoder,
    )
    gain = None if math.isnan(report.voice_gain) else round(float(report.voice_gain), 3)
    return report.transcript, Diarization(report.reason, report.embedder, gain)


def understood(journey: CallJourney, adapters: Adapters) -> CallJourney:
    """The journey with its utterances' meaning vectors and the customer's sentiment."""
    assert journey.transcript is not None, "only a transcribed call has a meaning"
    started = time.monotonic()
    texts = [u.text for u in journey.transcript.utterances]
    vectors = adapters.embedder.embed(texts) if texts else None
    wall_s = time.monotonic() - started
    sentiment = (
        call_sentiment(journey.transcript, vectors, adapters.sentiment_anchors())
        if vectors is not None
        else None
    )
    analysis = journey.analysis.with_meaning(
        adapters.embedder.model_id, sentiment.as_metrics() if sentiment else {}
    )
    per_utterance = sentiment.per_utterance if sentiment else ()
    return replace(
        journey, analysis=analysis, vectors=vectors, sentiment=per_utterance, embed_wall_s=wall_s
    )


def scored(
    journey: CallJourney,
    recording: Recording,
    config: Config,
    rubric_for: Callable[[str, str], CompiledRubric],
) -> CallJourney:
    """The journey with the findings and score of its call type's rubric (or ``no_rubric``)."""
    assert journey.transcript is not None, "only a transcribed call is scored"
    language = journey.transcript.language
    choice = choose_rubric(config, recording.metadata, language)
    if choice.path is None:
        return replace(
            journey, status="no_rubric", status_reason=choice.reason, call_type=choice.call_type
        )
    findings, score = assess(
        rubric_for(choice.path, language),
        journey.transcript,
        metrics=journey.analysis.metric_values(),
        metric_spans=journey.analysis.metric_spans,
        vectors=journey.vectors,
    )
    return replace(journey, findings=tuple(findings), score=score, call_type=choice.call_type)


def unsupported_reason(analysis: CallAnalysis, config: Config) -> str:
    """Why a call was not scored: its language, how sure the detection was, what is served."""
    return (
        f"language {analysis.language!r} (probability {analysis.language_probability:.2f})"
        f" is not served (languages: {', '.join(config.languages)})"
    )


def _facts(
    audio: DecodedAudio, tracks: Sequence[Track], verdict: LanguageVerdict, *, asr_model: str
) -> CallAnalysis:
    """What decoding and language identification tell, before a word is heard."""
    return CallAnalysis(
        language=verdict.language,
        language_probability=verdict.probability,
        detected_language=verdict.detected,
        served=verdict.supported,
        duration_s=round(audio.duration_s, 3),
        channels=audio.channels,
        tracks=len(tracks),
        sample_rate=audio.original_sr,
        codec=audio.codec,
        decode_warnings=audio.decode_warnings,
        asr_model=asr_model,
    )
