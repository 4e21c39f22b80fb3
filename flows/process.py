"""One recording's journey, as plain functions: decode → ASR → merge → rubric → score.

The Prefect tasks in :mod:`flows.nightly` call these; so do the tests, without Prefect.
Models (``lru_cache``) and compiled rubrics (:mod:`pipeline.rubric.loader`) are built
once per worker process and never cross a task boundary: what goes in is a :class:`Recording` and :class:`RunSettings`,
what comes out is a :class:`CallResult` of plain records.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from flows.env import configure_environment
from models.asr import WhisperTranscriber
from models.diarize import voice_encoder
from models.embed import E5Embedder, get_embedder
from models.nlp import get_analyzer
from pipeline import TARGET_SR
from pipeline import warehouse as wh
from pipeline.archive import archive_gone, unreachable
from pipeline.audio import decode, normalize_level, split_tracks
from pipeline.calltypes import choose_rubric, rubric_paths
from pipeline.config import AsrConfig, Config
from pipeline.cues import cues_digest
from pipeline.diarization import DIARIZE_VERSION, DiarizeOptions, diarize_report
from pipeline.errors import AudioError, ConfigError, EarmarkError
from pipeline.language import resolve_language
from pipeline.meaning import (
    SentimentAnchors,
    Vectors,
    call_sentiment,
    decode_vectors,
    encode_vectors,
    load_anchors,
)
from pipeline.metric_rows import as_metric_spans, as_row
from pipeline.metrics import METRICS_VERSION, measure_call
from pipeline.reasons import load_anchor_lines
from pipeline.redact import REDACT_VERSION, RedactOptions, redact_transcript
from pipeline.redact_cues import redaction_cues_file
from pipeline.roles import call_direction
from pipeline.rows import metrics_from_call_row
from pipeline.rubric.engine import CompiledRubric
from pipeline.rubric.loader import compiled_rubric
from pipeline.scoring import assess
from pipeline.transcript import (
    merge_channels,
    to_simplified,
    utterance_from_dict,
    utterance_to_dict,
)
from pipeline.types import CallScore, Finding, QuarantineEntry, Recording, Transcript

log = logging.getLogger("earmark")


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Everything a worker needs besides the recording: small and picklable."""

    config: Config
    warehouse: str


@dataclass(frozen=True, slots=True)
class CallResult:
    """What processing one recording produced (or why it was quarantined)."""

    recording: Recording
    transcript: Transcript | None = None
    audio: dict[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    score: CallScore | None = None
    quarantine: QuarantineEntry | None = None
    asr_cached: bool = False
    asr_wall_s: float = 0.0
    vectors: Vectors | None = None
    """One meaning vector per utterance (``None`` when there are no utterances)."""
    sentiment: tuple[float, ...] = ()
    """The customer's sentiment per utterance (NaN for the agent's)."""
    embed_wall_s: float = 0.0
    cache_repaired: bool = False
    """Its cache entry was damaged: it was transcribed again and the entry rewritten."""
    status: str = "ok"
    """``ok`` (scored), ``quarantined``, ``unsupported_language`` (not transcribed, not
    scored) or ``no_rubric`` (transcribed, no rubric applies to its call type)."""
    status_reason: str = ""
    call_type: str = ""
    rubric_id: str = ""


def get_transcriber(config: AsrConfig, language: str | None = None) -> WhisperTranscriber:
    """The transcriber of ``language`` (its ``[asr.models]`` model), or of ``[asr] model``."""
    model = config.model_for(language) if language else config.model
    return _transcriber(config.model_dump_json(), model)


@lru_cache(maxsize=4)
def _transcriber(config_json: str, model: str) -> WhisperTranscriber:
    config = AsrConfig.model_validate_json(config_json)
    return WhisperTranscriber(config.model_copy(update={"model": model}))


def get_compiled_rubric(path: str, language: str) -> CompiledRubric:
    """Load, validate and compile a rubric once per process (per content of the file)."""
    compiled = compiled_rubric(path, analyzer_for=get_analyzer, embedder=get_embedder)
    if compiled.rubric.language != language:
        raise ConfigError(
            f"rubric {path} is written for {compiled.rubric.language!r} but configured for {language!r}",
            code="C011",
        )
    return compiled


@lru_cache(maxsize=1)
def get_sentiment_anchors() -> SentimentAnchors:
    return load_anchors(get_embedder())


def embed_transcript(transcript: Transcript, warehouse: str) -> tuple[Vectors | None, bool]:
    """The meaning vectors of a call's utterances, from the cache or the model (once per
    distinct transcript text and model), and whether they came from the cache."""
    if not transcript.utterances:
        return None, True
    embedder: E5Embedder = get_embedder()
    texts = [u.text for u in transcript.utterances]
    key = hashlib.sha256("\x1f".join(["vectors", embedder.model_id, *texts]).encode()).hexdigest()
    try:
        cached = wh.read_cached(warehouse, key)
        if cached is not None:
            vectors = decode_vectors([base64.b64decode(v) for v in cached.get("vectors", [])])
            if vectors is not None and len(vectors) == len(texts):
                return vectors, True
    except (wh.CacheEntryDamaged, TypeError, ValueError, AttributeError) as exc:
        where = wh.cache_path(warehouse, key)
        log.warning("%s: damaged vector cache entry (%s); embedding again", where, exc)
    vectors = embedder.embed(texts)
    encoded = encode_vectors(vectors, len(texts))
    wh.write_cached(
        warehouse,
        key,
        {
            "model": embedder.model_id,
            "vectors": [base64.b64encode(v or b"").decode() for v in encoded],
        },
    )
    return decode_vectors(encoded), False


def rubric_for(config: Config, language: str) -> CompiledRubric:
    """The default rubric of ``language`` (``[rubrics]``), compiled."""
    path = config.rubrics.get(language)
    if not path:
        raise ConfigError(f"no rubric configured for language {language!r}", code="C012")
    return get_compiled_rubric(path, language)


def check_rubrics(config: Config) -> None:
    """Load and compile every rubric the configuration can pick (defaults and call types),
    so a broken one stops the night before any compute.

    Raises
    ------
    RubricError
        A rubric file is invalid.
    ConfigError
        ``C011`` a rubric written for another language than the one it is configured for.
    """
    for language, paths in rubric_paths(config).items():
        for path in paths:
            get_compiled_rubric(path, language)
    if config.reasons.enabled:  # read after the night's work: a broken file stops it now
        load_anchor_lines()


def redact_options(config: Config) -> RedactOptions:
    return RedactOptions(patterns=tuple((k, v) for k, v in config.redact.patterns))


def transcript_key(recording: Recording, transcriber: WhisperTranscriber, config: Config) -> str:
    """Content address of a transcript: the hash of its :func:`cache_components`."""
    parts = cache_components(recording, transcriber.model_id, config)
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
        ("redact", f"{REDACT_VERSION}:{redaction_cues}:{config.redact.patterns!r}"),
        ("diarize", f"{DIARIZE_VERSION}:{config.diarize.embedder}"),
        ("metrics", str(METRICS_VERSION)),
        ("cues", cues_digest() + (f":{direction}" if direction else "")),
    )


def transcribe_recording(
    recording: Recording, settings: RunSettings
) -> tuple[Transcript, dict[str, Any], bool, bool]:
    """The call's transcript, from the content-addressed cache or from the ASR.

    Returns
    -------
    (transcript, audio facts, whether it came from the cache, whether a damaged cache
    entry was replaced)

    Raises
    ------
    AudioError
        When the file cannot be decoded or holds no speech (``A007``).
    """
    config = settings.config
    transcriber = get_transcriber(config.asr)
    key = transcript_key(recording, transcriber, config)
    found, damaged = _cached_transcript(recording, settings.warehouse, key)
    from_cache = found is not None
    if found is None:
        cached = _run_asr(recording, transcriber, config)
        wh.write_cached(settings.warehouse, key, cached)
        transcript = _transcript_of(recording, cached)
    else:
        cached, transcript = found
    if not transcript.utterances and cached.get("status") != "unsupported_language":
        raise AudioError(
            f"{recording.source_path}: no speech found in {cached['duration_s']:.1f} s "
            f"(voice activity {cached['speech_s']:.1f} s, all of it dropped as non-speech)",
            code="A007",
        )
    audio = {k: v for k, v in cached.items() if k != "utterances"}
    return transcript, audio, from_cache, damaged


def _transcript_of(recording: Recording, entry: Mapping[str, Any]) -> Transcript:
    return Transcript(
        call_id=recording.call_id,
        language=entry["language"],
        duration_s=entry["duration_s"],
        utterances=tuple(utterance_from_dict(u) for u in entry["utterances"]),
    )


def _cached_transcript(
    recording: Recording, warehouse: str, key: str
) -> tuple[tuple[dict[str, Any], Transcript] | None, bool]:
    """The cached entry and its transcript (``None`` when there is none or it is damaged),
    and whether it was damaged.

    A damaged entry (torn, overwritten, or missing fields) is a miss: the call is
    transcribed again and the entry rewritten. It is logged and counted (the night's
    summary says how many), never trusted and never a quarantine.
    """
    try:
        entry = wh.read_cached(warehouse, key)
        if entry is None:
            return None, False
        transcript = _transcript_of(recording, entry)
        float(entry["speech_s"])  # read below for the no-speech message
        return (entry, transcript), False
    except (wh.CacheEntryDamaged, KeyError, TypeError, ValueError, AttributeError) as exc:
        where = wh.cache_path(warehouse, key)
        log.warning("%s: damaged transcript cache entry (%s); transcribing again", where, exc)
        return None, True


def _run_asr(
    recording: Recording, transcriber: WhisperTranscriber, config: Config
) -> dict[str, Any]:
    audio = decode(recording.path, sr=TARGET_SR)
    tracks = split_tracks(audio, agent_channel=config.agent_channel)
    heard_tracks = [
        normalize_level(t.samples) if config.asr.normalize_level else t.samples for t in tracks
    ]
    probe = next((k for k, t in enumerate(tracks) if t.speaker == "agent"), 0)
    detection = config.language_detection
    heard = transcriber.hear(heard_tracks)  # the VAD once; its windows encoded once
    probabilities, encoded = transcriber.call_language(
        heard, probe=probe, segments=detection.segments
    )
    verdict = resolve_language(
        probabilities,
        served=config.languages,
        fallback=detection.fallback,
        min_probability=detection.min_probability,
    )
    language, probability = verdict.language, verdict.probability
    facts: dict[str, Any] = {
        "language": language,
        "language_probability": probability,
        "detected_language": verdict.detected,
        "duration_s": round(audio.duration_s, 3),
        "channels": audio.channels,
        "tracks": len(tracks),
        "sample_rate": audio.original_sr,
        "codec": audio.codec,
        "decode_warnings": audio.decode_warnings,
    }
    if not verdict.supported:  # not transcribed: nobody here could check it anyway
        return {
            **facts,
            "status": "unsupported_language",
            "asr_model": transcriber.model_id,
            "speech_s": 0.0,
            "utterances": [],
        }
    transcriber = get_transcriber(config.asr, language)
    channels = transcriber.transcribe_heard(heard, language=language, encoded=encoded)
    channel_transcripts = [
        (t.speaker, t.channel, ct) for t, ct in zip(tracks, channels, strict=True)
    ]
    transcript = merge_channels(
        recording.call_id,
        channel_transcripts,
        duration_s=round(audio.duration_s, 3),
        language=language,
    )
    if language == "zh":
        transcript = to_simplified(transcript)
    diarization = "stereo"
    if len(tracks) == 1:  # mono: give each word to the agent or the customer
        report = diarize_report(
            tracks[0].samples,
            transcript,
            sr=TARGET_SR,
            options=DiarizeOptions(
                embedder=config.diarize.embedder, direction=call_direction(recording.metadata)
            ),
            encoder=voice_encoder(config.diarize.embedder),
        )
        transcript, diarization = report.transcript, report.reason
    # redact before anything is stored: the cache, the tables, the logs
    transcript, redactions = redact_transcript(transcript, options=redact_options(config))
    # a diarized mono transcript names the parties: metrics split the one track by its words
    started = time.monotonic()
    measured = measure_call(tracks, transcript)
    metrics_wall_s = time.monotonic() - started
    return {
        **facts,
        "speech_s": round(sum(ct.speech_s for _, _, ct in channel_transcripts), 3),
        "dropped": [d for _, _, ct in channel_transcripts for d in ct.dropped],
        "asr_model": transcriber.model_id,
        "metrics": {k: (None if v != v else v) for k, v in as_row(measured).items()},  # NaN → null
        "metric_spans": [
            {"metric": name, "start_s": span.start_s, "end_s": span.end_s}
            for name, spans in sorted(as_metric_spans(measured).items())
            for span in spans
        ],
        "metrics_wall_s": round(metrics_wall_s, 4),
        "diarization": diarization,
        "redactions": [
            {"kind": r.kind, "start_s": r.start_s, "end_s": r.end_s} for r in redactions
        ],
        "utterances": [utterance_to_dict(u) for u in transcript.utterances],
    }


def process_recording(recording: Recording, settings: RunSettings) -> CallResult:
    """Transcribe, evaluate and score one recording; a bad recording becomes a quarantine entry.

    A call in a language the center does not serve comes back ``unsupported_language``
    (not transcribed); one whose call type has no rubric for its language ``no_rubric``
    (transcribed, not scored). Errors about the run itself (a missing model, a broken
    rubric) are raised: they would fail every call, so the night stops with a clear
    message instead.
    """
    configure_environment()  # a Dask worker on another machine starts without it
    started = time.monotonic()
    try:
        transcript, audio, cached, damaged = transcribe_recording(recording, settings)
        asr_wall_s = 0.0 if cached else time.monotonic() - started
        if audio.get("status") == "unsupported_language":
            return CallResult(
                recording,
                audio=audio,
                asr_cached=cached,
                asr_wall_s=asr_wall_s,
                status="unsupported_language",
                status_reason=unsupported_reason(audio, settings.config),
                cache_repaired=damaged,
            )
        embedding = time.monotonic()
        vectors, _ = embed_transcript(transcript, settings.warehouse)
        embed_wall_s = time.monotonic() - embedding
        sentiment = call_sentiment(transcript, vectors, get_sentiment_anchors())
        audio = {
            **audio,
            "embed_model": get_embedder().model_id,
            "metrics": {
                **audio.get("metrics", {}),
                **{
                    k: (None if v != v else v)
                    for k, v in (sentiment.as_metrics() if sentiment else {}).items()
                },
            },
        }
        choice = choose_rubric(settings.config, recording.metadata, transcript.language)
        if choice.path is None:
            return CallResult(
                recording,
                transcript=transcript,
                audio=audio,
                asr_cached=cached,
                asr_wall_s=asr_wall_s,
                vectors=vectors,
                sentiment=sentiment.per_utterance if sentiment else (),
                embed_wall_s=embed_wall_s,
                status="no_rubric",
                status_reason=choice.reason,
                call_type=choice.call_type,
                cache_repaired=damaged,
            )
        values, spans = metrics_from_call_row(
            {**audio.get("metrics", {}), "metric_spans": audio.get("metric_spans")}
        )
        findings_list, score = assess(
            get_compiled_rubric(choice.path, transcript.language),
            transcript,
            metrics=values,
            metric_spans=spans,
            vectors=vectors,
        )
    except AudioError as exc:
        root = recording.path.removesuffix(recording.source_path)
        if exc.code == "A009" and archive_gone(root):
            return CallResult(
                recording,
                quarantine=unreachable(root, recording.source_path),
                status="quarantined",
            )
        return CallResult(
            recording,
            quarantine=_quarantine(recording, exc.code, exc.message),
            status="quarantined",
        )
    except (EarmarkError, MemoryError):
        raise
    except Exception as exc:  # one strange file must not end the night
        log.error("unexpected error on %s:\n%s", recording.source_path, traceback.format_exc())
        reason = f"{recording.source_path}: internal error {type(exc).__name__}: {exc}"
        return CallResult(
            recording, quarantine=_quarantine(recording, "E999", reason), status="quarantined"
        )
    return CallResult(
        recording,
        transcript=transcript,
        audio=audio,
        findings=tuple(findings_list),
        score=score,
        asr_cached=cached,
        asr_wall_s=asr_wall_s,
        vectors=vectors,
        sentiment=sentiment.per_utterance if sentiment else (),
        embed_wall_s=embed_wall_s,
        cache_repaired=damaged,
        call_type=choice.call_type,
        rubric_id=score.rubric_id,
    )


def unsupported_reason(audio: dict[str, Any], config: Config) -> str:
    """Why a call was not scored: its language, how sure the detection was, what is served."""
    return (
        f"language {audio.get('language')!r} (probability {audio.get('language_probability', 0):.2f})"
        f" is not served (languages: {', '.join(config.languages)})"
    )


def _quarantine(recording: Recording, code: str, reason: str) -> QuarantineEntry:
    return QuarantineEntry(
        source_path=recording.source_path,
        error_code=code,
        reason=reason,
        call_id=recording.call_id,
        audio_sha256=recording.audio_sha256,
        call_date=recording.call_date,
    )
