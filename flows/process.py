"""The composition root of one recording's journey: concrete models and stores, wired.

The journey itself, decode → … → score, is :func:`pipeline.journey.follow_recording`;
this module builds the adapters it runs on (the Whisper transcriber, the voice encoder,
the e5 embedder with its vector cache, the compiled rubrics, the recording's
transcript-cache entry) and turns a bad recording into a quarantine entry. The Prefect
tasks in :mod:`flows.nightly` call :func:`process_recording`; so do the tests, without
Prefect. Models (``lru_cache``) and compiled rubrics (:mod:`pipeline.rubric.loader`) are
built once per worker process and never cross a task boundary: what goes in is a
:class:`Recording` and :class:`RunSettings`, what comes out is a :class:`CallResult` of
plain records.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from flows.env import configure_environment
from models.asr import WhisperTranscriber
from models.diarize import voice_encoder
from models.embed import get_embedder
from models.nlp import get_analyzer
from pipeline import errors
from pipeline import warehouse as wh
from pipeline.analysis import CallAnalysis, analysis_from_cache
from pipeline.archive import archive_gone, unreachable
from pipeline.calltypes import rubric_paths
from pipeline.config import AsrConfig, Config
from pipeline.errors import AudioError, EarmarkError
from pipeline.journey import Adapters, CallJourney, follow_recording
from pipeline.meaning import SentimentAnchors, Vectors, decode_vectors, encode_vectors, load_anchors
from pipeline.protocols import Arrays, CheckArrays, Embedder, MakeArrays
from pipeline.reasons import load_anchor_lines
from pipeline.rubric.engine import CompiledRubric
from pipeline.rubric.loader import compiled_rubric
from pipeline.types import CallScore, Finding, QuarantineEntry, Recording, Transcript

log = logging.getLogger("earmark")


@dataclass(frozen=True, slots=True)
class RunSettings:
    """Everything a worker needs besides the recording: small and picklable."""

    config: Config
    warehouse: str


@dataclass(frozen=True, slots=True)
class CallResult:
    """What processing one recording produced: its journey, or why it was quarantined."""

    recording: Recording
    journey: CallJourney | None = None
    quarantine: QuarantineEntry | None = None
    cache_repaired: bool = False
    """Its cache entry was damaged: it was transcribed again and the entry rewritten."""

    @property
    def status(self) -> str:
        """``ok`` (scored), ``quarantined``, ``unsupported_language`` (not transcribed, not
        scored) or ``no_rubric`` (transcribed, no rubric applies to its call type)."""
        return self.journey.status if self.journey else "quarantined"

    @property
    def analysis(self) -> CallAnalysis | None:
        return self.journey.analysis if self.journey else None

    @property
    def transcript(self) -> Transcript | None:
        return self.journey.transcript if self.journey else None

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.journey.findings if self.journey else ()

    @property
    def score(self) -> CallScore | None:
        return self.journey.score if self.journey else None

    @property
    def vectors(self) -> Vectors | None:
        """One meaning vector per utterance (``None`` when there are no utterances)."""
        return self.journey.vectors if self.journey else None

    @property
    def sentiment(self) -> tuple[float, ...]:
        """The customer's sentiment per utterance (NaN for the agent's)."""
        return self.journey.sentiment if self.journey else ()

    @property
    def asr_cached(self) -> bool:
        return self.journey.heard_from_cache if self.journey else False

    @property
    def asr_wall_s(self) -> float:
        return self.journey.hear_wall_s if self.journey else 0.0

    @property
    def embed_wall_s(self) -> float:
        return self.journey.embed_wall_s if self.journey else 0.0

    @property
    def status_reason(self) -> str:
        return self.journey.status_reason if self.journey else ""

    @property
    def call_type(self) -> str:
        return self.journey.call_type if self.journey else ""

    @property
    def rubric_id(self) -> str:
        return self.score.rubric_id if self.score else ""


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
        problem = f"{compiled.rubric.language!r} but configured for {language!r}"
        raise errors.RUBRIC_LANGUAGE_MISMATCH(path=path, problem=problem)
    return compiled


@lru_cache(maxsize=1)
def get_sentiment_anchors() -> SentimentAnchors:
    return load_anchors(get_embedder())


def cached_vectors(
    embedder: Embedder, texts: Sequence[str], warehouse: str
) -> tuple[Vectors, bool]:
    """The meaning vectors of a call's lines, from the cache or the model (once per distinct
    list of lines and model), and whether they came from the cache."""
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
    encoded = encode_vectors(embedder.embed(texts), len(texts))
    payload = {
        "model": embedder.model_id,
        "vectors": [base64.b64encode(v or b"").decode() for v in encoded],
    }
    wh.write_cached(warehouse, key, payload)
    vectors = decode_vectors(encoded)
    assert vectors is not None, "one vector per line was just encoded"
    return vectors, False


class CachedEmbedder:
    """An :class:`~pipeline.protocols.Embedder` whose vectors of a call's lines are kept in
    the warehouse's cache (as the ``utterances`` table stores them: float16)."""

    def __init__(self, embedder: Embedder, warehouse: str) -> None:
        self.embedder = embedder
        self.warehouse = warehouse

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def embed(self, texts: Sequence[str]) -> Vectors:
        return cached_vectors(self.embedder, texts, self.warehouse)[0]

    def embed_examples(self, texts: Sequence[str]) -> Vectors:
        return self.embedder.embed_examples(texts)

    def kept_arrays(self, key: str, make: MakeArrays, *, check: CheckArrays) -> Arrays:
        return self.embedder.kept_arrays(key, make, check=check)


def rubric_for(config: Config, language: str) -> CompiledRubric:
    """The default rubric of ``language`` (``[rubrics]``), compiled."""
    path = config.rubrics.get(language)
    if not path:
        raise errors.RUBRIC_NOT_CONFIGURED(language=language)
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


class TranscriptCache:
    """The warehouse's transcript cache, as the :class:`~pipeline.protocols.AnalysisCache`
    of one recording's journey.

    A damaged entry (torn, overwritten, of an unknown format or missing fields) is a miss:
    the call is heard again and the entry rewritten. It is logged and counted
    (:attr:`damaged`; the night's summary says how many), never trusted and never a
    quarantine.
    """

    def __init__(self, warehouse: str) -> None:
        self.warehouse = warehouse
        self.damaged = False

    def load(self, key: str) -> CallAnalysis | None:
        try:
            entry = wh.read_cached(self.warehouse, key)
            return None if entry is None else analysis_from_cache(entry)
        except (wh.CacheEntryDamaged, KeyError, TypeError, ValueError, AttributeError) as exc:
            where = wh.cache_path(self.warehouse, key)
            log.warning("%s: damaged transcript cache entry (%s); transcribing again", where, exc)
            self.damaged = True
            return None

    def store(self, key: str, analysis: CallAnalysis) -> None:
        wh.write_cached(self.warehouse, key, analysis.to_cache())


def journey_adapters(settings: RunSettings, cache: TranscriptCache) -> Adapters:
    """The concrete models and stores of a journey: Whisper (a model per language when
    configured), the voice encoder ``[diarize]`` asks for, e5 behind the vector cache."""
    config = settings.config
    return Adapters(
        identifier=get_transcriber(config.asr),
        transcriber_for=functools.partial(get_transcriber, config.asr),
        voice_encoder=voice_encoder(config.diarize.embedder),
        embedder=CachedEmbedder(get_embedder(), settings.warehouse),
        sentiment_anchors=get_sentiment_anchors,
        rubric_for=get_compiled_rubric,
        cache=cache,
    )


def process_recording(recording: Recording, settings: RunSettings) -> CallResult:
    """Follow one recording's journey; a bad recording becomes a quarantine entry.

    A call in a language the center does not serve comes back ``unsupported_language``
    (not transcribed); one whose call type has no rubric for its language ``no_rubric``
    (transcribed, not scored). Errors about the run itself (a missing model, a broken
    rubric) are raised: they would fail every call, so the night stops with a clear
    message instead.
    """
    configure_environment()  # a Dask worker on another machine starts without it
    try:
        cache = TranscriptCache(settings.warehouse)
        adapters = journey_adapters(settings, cache)
        journey = follow_recording(recording, config=settings.config, adapters=adapters)
    except AudioError as exc:
        root = recording.path.removesuffix(recording.source_path)
        if exc.code == "A009" and archive_gone(root):
            return CallResult(recording, quarantine=unreachable(root, recording.source_path))
        quarantine = _quarantine(recording, exc.code, exc.message, detail=exc.detail)
        return CallResult(recording, quarantine=quarantine)
    except (EarmarkError, MemoryError):
        raise
    except Exception as exc:  # one strange file must not end the night
        log.error("unexpected error on %s:\n%s", recording.source_path, traceback.format_exc())
        reason = f"{recording.source_path}: internal error {type(exc).__name__}: {exc}"
        return CallResult(recording, quarantine=_quarantine(recording, "E999", reason))
    return CallResult(recording, journey=journey, cache_repaired=cache.damaged)


def _quarantine(
    recording: Recording, code: str, reason: str, *, detail: str = ""
) -> QuarantineEntry:
    return QuarantineEntry(
        source_path=recording.source_path,
        error_code=code,
        reason=reason,
        call_id=recording.call_id,
        audio_sha256=recording.audio_sha256,
        call_date=recording.call_date,
        detail=detail,
    )
