"""Our own records at every boundary: frozen, slotted, with units in the field names.

No dependency's result type crosses into ``pipeline``: adapters in ``models/`` convert
``faster_whisper`` segments into :class:`Segment` and :class:`Word` here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, Literal, TypeVar, get_type_hints

Speaker = Literal["agent", "customer", "unknown"]
SPEAKERS: tuple[Speaker, ...] = ("agent", "customer", "unknown")
Outcome = Literal["pass", "fail", "na"]
QueueKind = Literal["review", "control", "skim", "highlight", "trend"]
PlanKind = Literal["hear", "read"]
"""How an inspector takes in a stretch of a listening plan: *hear* the audio (conduct,
dissatisfaction, escalation, agitation, overtalk: the tone matters) or *read* the
transcript (a missed scripted item, a long silence: the words or their absence say it)."""


@dataclass(frozen=True, slots=True)
class Column:
    """How a record's field is stored, where its Python type does not say it alone.

    The warehouse's Arrow schemas and row converters are derived from the records
    (:mod:`pipeline.shapes`): ``int`` is stored as int64 and ``float`` as float64 unless
    a field says otherwise with one of the aliases below.
    """

    arrow: str = ""
    """The name of a ``pyarrow`` type factory (``"int32"``, ``"float32"``)."""
    stored: bool = True
    """``False``: not a column (the partition a row is written to)."""
    empty_is_null: bool = False
    """``True``: an empty string is stored as null (a null reads back as ``""``)."""


Int16 = Annotated[int, Column("int16")]
Int32 = Annotated[int, Column("int32")]
Float32 = Annotated[float, Column("float32")]
NullableText = Annotated[str, Column(empty_is_null=True)]
"""Text whose column holds null where the field is empty (the ``calls`` table's metadata
and verdict columns, written that way before their record)."""
Partition = Annotated[str, Column(stored=False)]
"""The ``call_date`` a row is filed under: the warehouse's partition, not a column."""


@dataclass(frozen=True, slots=True)
class Metric:
    """What a metric field is to a reader: its label and unit, and where it happened."""

    label: str
    unit: Literal["s", "%", "n", "x"] = "x"
    """Seconds, a share, a count, or a plain number."""
    spans: str = ""
    """The field holding where it happened (the moments to listen to), if any."""
    longest: bool = False
    """Only the longest of those spans is where it happened."""
    column: str = ""
    """Its name in the ``calls`` table and to a rubric, when not the field's own."""


Tag = TypeVar("Tag")


def tagged(record: type, tag: type[Tag]) -> list[tuple[str, Tag]]:
    """``(field name, tag)`` of each field of a dataclass annotated with a ``tag`` instance.

    Examples
    --------
    >>> tagged(CallSentiment, Metric)[0]
    ('start', Metric(label='customer sentiment at the start', unit='x', spans='', longest=False, column='sentiment_start'))
    """
    hints = get_type_hints(record, include_extras=True)
    found = []
    for f in fields(record):
        extras: tuple[Any, ...] = getattr(hints[f.name], "__metadata__", ())
        found += [(f.name, e) for e in extras if isinstance(e, tag)]
    return found


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its time span in the call."""

    start_s: float
    end_s: float
    text: str
    probability: Float32


@dataclass(frozen=True, slots=True)
class Segment:
    """One ASR segment of one channel, with Whisper's own quality signals."""

    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0


@dataclass(frozen=True, slots=True)
class ChannelTranscript:
    """What the ASR heard on one channel of a recording."""

    segments: tuple[Segment, ...]
    language: str
    language_probability: float
    duration_s: float
    speech_s: float
    dropped: tuple[str, ...] = ()
    """Segments dropped as non-speech or phantom text, with the reason each was dropped."""


@dataclass(frozen=True, slots=True)
class Utterance:
    """A stretch of speech by one party, merged from the channel transcripts."""

    speaker: Speaker
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()
    confidence: float = 1.0
    channel: Int16 = 0


@dataclass(frozen=True, slots=True)
class Transcript:
    """A whole call as time-ordered utterances."""

    call_id: str
    language: str
    duration_s: float
    utterances: tuple[Utterance, ...]

    @property
    def asr_confidence(self) -> float:
        """Mean word probability over the call (1.0 when there are no words)."""
        probs = [w.probability for u in self.utterances for w in u.words]
        return sum(probs) / len(probs) if probs else 1.0


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a finding was seen: the moment an inspector should listen to."""

    speaker: Speaker
    start_s: float
    end_s: float
    text: str
    rule: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One rubric item evaluated on one call (a ``findings`` row)."""

    call_id: str
    rubric_id: str
    rubric_version: Int32
    item_id: str
    item_version: Int32
    detected: bool
    outcome: Outcome
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    weight: float = 0.0
    critical: bool = False
    flag: bool = False
    title: str = ""
    strength: float = 1.0
    """How surely the detector fired at its surest hit, 0–1 (``Hit.strength``; 0 when
    nothing was detected). Rows written before it was stored read 1."""
    item_digest: str = ""
    """What the item looked for at this ``item_version`` (:meth:`Item.digest
    <pipeline.rubric.schema.Item.digest>`), so ``rescore`` can tell an item edited without
    a new version. Rows written before it was stored read ``""``."""


@dataclass(frozen=True, slots=True)
class CallScore:
    """A call's score against one rubric, with the reasons an inspector reads."""

    call_id: str
    rubric_id: str
    rubric_version: Int32
    score: float
    critical_failed: bool
    needs_review: bool
    reasons: tuple[str, ...]
    priority: float


@dataclass(frozen=True, slots=True)
class Recording:
    """A recording found in the archive, before any decoding."""

    call_id: str
    source_path: str
    """Path relative to the archive root, with forward slashes."""
    path: str
    """Absolute path (or URL) to read it from."""
    audio_sha256: str
    call_date: str
    """ISO date (YYYY-MM-DD): the warehouse partition."""
    size_bytes: int
    metadata: dict[str, str] = field(default_factory=dict)
    metadata_issues: tuple[str, ...] = ()
    """What was wrong in this call's ``metadata.csv`` row (see :class:`MetadataIssue`)."""


@dataclass(frozen=True, slots=True)
class MetadataIssue:
    """A problem in ``metadata.csv`` that did not stop its row from being used.

    ``line`` 0 is the whole file; ``column`` 0 the whole row (or a column found by name).
    """

    line: int
    column: int
    field: str
    code: str
    problem: str

    def __str__(self) -> str:
        where = "metadata.csv" + (f":{self.line}" if self.line else "")
        if self.field:
            where += f" column {self.column} ({self.field})" if self.column else f" ({self.field})"
        return f"{where}: [{self.code}] {self.problem}"


IndexStatus = Literal["ok", "quarantined", "vanished"]


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One archive file as the warehouse's file index last saw it.

    A night hashes a file only when it is new or its size or mtime changed; a file whose
    content (size and sha256) turns up at a new path is the same call, moved.
    """

    archive: str
    """The archive root the file was found under (absolute)."""
    source_path: str
    """Path relative to ``archive``, with forward slashes."""
    size_bytes: int
    mtime_ns: int
    audio_sha256: str
    call_id: str
    call_date: str
    status: IndexStatus
    """``ok``: its rows are in the tables; ``quarantined``: its reason is; ``vanished``:
    the file is gone from the archive (its rows are kept)."""


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A recording that could not be processed, and why (a ``quarantine`` row)."""

    source_path: str
    error_code: str
    reason: str
    call_id: str = ""
    audio_sha256: str = ""
    call_date: Partition = ""
    detail: str = ""
    """What the decoding libraries said, kept in the table for whoever investigates; the
    terminal shows only ``reason``."""


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of a call to listen to."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class PlanSpan(Span):
    """One stretch of a listening plan: to *hear* in the audio or to *read* in the transcript."""

    kind: PlanKind = "hear"


@dataclass(frozen=True, slots=True)
class Diarization:
    """How the words of a call got their parties."""

    outcome: str
    """``stereo`` (a channel per party), ``diarized`` (a mono call split into two voices),
    or why a mono call's words stayed ``unknown`` (``one voice``, ``too little speech``…:
    see :mod:`pipeline.diarization`)."""
    embedder: str = ""
    """The voice features of a mono call (``librosa`` or ``resemblyzer``); ``""`` otherwise."""
    voice_gain: float | None = None
    """How much better two voices explained the speech than one (``None``: not measured)."""

    def describe(self) -> str:
        """One line for people: ``"diarized (resemblyzer, voice gain 4.20)"``."""
        details = [d for d in (self.embedder, _gain(self.voice_gain)) if d]
        return self.outcome + (f" ({', '.join(details)})" if details else "")


@dataclass(frozen=True, slots=True)
class RedactedSpan:
    """Where a sensitive span was redacted, and its kind (never its text)."""

    kind: str
    start_s: float
    end_s: float


def _gain(g: float | None) -> str:
    return "" if g is None or math.isnan(g) else f"voice gain {g:.2f}"


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One call in one inspector's queue for one day (a ``queue`` row)."""

    inspector: str
    date: str
    rank: Int32
    call_id: str
    kind: QueueKind
    priority: float
    reasons: tuple[str, ...]
    plan: tuple[PlanSpan, ...]
    agent_id: str = ""
    team_id: str = ""
    cost_s: float = -1.0
    """What the plan costs the inspector's budget: heard seconds plus read seconds priced
    at the reading speed (see :class:`pipeline.queue.PlanOptions`); ``-1`` (a row written
    before plans were priced) means the plan's length."""

    @property
    def plan_s(self) -> float:
        """The plan's length in seconds of the call, heard and read."""
        return sum(s.duration_s for s in self.plan)

    @property
    def price_s(self) -> float:
        """The plan's cost to the budget (its length when it was not priced)."""
        return self.plan_s if self.cost_s < 0 else self.cost_s


def _m(label: str, unit: Literal["s", "%", "n", "x"], spans: str = "", **more: Any) -> Metric:
    return Metric(label, unit, spans, **more)


@dataclass(frozen=True, slots=True)
class CallMetrics:
    """What one call sounded like (see :mod:`pipeline.metrics`). Seconds unless named; NaN
    means "not measurable".

    ``*_count`` of dead air and holds are always whole numbers; ``overtalk_count`` and
    ``interruptions_*`` are whole numbers stored as floats so a mono call can say NaN.
    The ``*_spans`` fields say where each event happened, for an inspector to jump to.
    Each measured field carries its :class:`Metric`: the ``calls`` columns, the rubric's
    ``metric.v1`` values and spans, and the call page's labels are read from them.
    """

    handle_s: Annotated[float, _m("handle time", "s")]
    talk_s: Annotated[float, _m("talk", "s")]
    """Time at least one party speaks."""
    talk_agent_s: Annotated[float, _m("agent talk", "s")]
    talk_customer_s: Annotated[float, _m("customer talk", "s")]
    talk_ratio_agent: Annotated[float, _m("agent talk ratio", "%")]
    """Agent talk / (agent + customer talk)."""
    silence_s: Annotated[float, _m("silence", "s")]
    """All gaps between the first and the last speech."""
    dead_air_s: Annotated[float, _m("dead air", "s", "dead_air_spans")]
    longest_dead_air_s: Annotated[
        float, _m("longest dead air", "s", "dead_air_spans", longest=True)
    ]
    dead_air_count: Annotated[int, _m("dead-air gaps", "n", "dead_air_spans")]
    hold_count: Annotated[int, _m("holds", "n", "hold_spans")]
    hold_s: Annotated[float, _m("hold", "s", "hold_spans")]
    longest_hold_s: Annotated[float, _m("longest hold", "s", "hold_spans", longest=True)]
    overtalk_s: Annotated[float, _m("overtalk", "s", "overtalk_spans")]
    overtalk_count: Annotated[float, _m("overtalk moments", "n", "overtalk_spans")]
    interruptions_agent: Annotated[
        float, _m("agent interruptions", "n", "interruption_spans_agent")
    ]
    interruptions_customer: Annotated[
        float, _m("customer interruptions", "n", "interruption_spans_customer")
    ]
    wpm_agent: Annotated[float, _m("agent words/min", "n")]
    wpm_customer: Annotated[float, _m("customer words/min", "n")]
    customer_agitation_max: Annotated[float, _m("customer agitation (max)", "x", "agitation_spans")]
    """Highest rise of the customer's loudness or pitch over their baseline, in robust SDs."""
    dead_air_spans: tuple[Span, ...] = ()
    hold_spans: tuple[Span, ...] = ()
    overtalk_spans: tuple[Span, ...] = ()
    interruption_spans_agent: tuple[Span, ...] = ()
    interruption_spans_customer: tuple[Span, ...] = ()
    agitation_spans: tuple[Span, ...] = ()
    hold_music_spans: tuple[Span, ...] = ()
    """Where hold music or tones played (each lies inside one of ``hold_spans``)."""


@dataclass(frozen=True, slots=True)
class CallSentiment:
    """The customer's sentiment over a call, each in [-1, 1] (NaN: nothing to read); see
    :mod:`pipeline.meaning`."""

    per_utterance: tuple[float, ...]
    """One value per utterance of the call; NaN for the agent's and for empty lines."""
    start: Annotated[float, _m("customer sentiment at the start", "x", column="sentiment_start")]
    end: Annotated[float, _m("customer sentiment at the end", "x", column="sentiment_end")]
    lowest: Annotated[float, _m("customer sentiment (lowest)", "x", column="sentiment_min")]
    change: Annotated[float, _m("customer sentiment change", "x", column="sentiment_change")]
    """``end - start``: above 0 the customer left happier than they came."""

    def as_metrics(self) -> dict[str, float]:
        """For ``metric.v1`` items and the ``calls`` table."""
        return {m.column: getattr(self, name) for name, m in tagged(CallSentiment, Metric)}
