"""The rows of the tables that store no pipeline record as it is: ``calls``,
``call_reasons`` and ``contact_reasons``.

A ``calls`` row gathers a recording, what hearing it found (:class:`~pipeline.analysis.
CallAnalysis`) and what the night did with it; a reason's rows keep its vectors as
float16 bytes. Each row is one record here, and its table's columns are derived from it
(:mod:`pipeline.shapes`, :data:`pipeline.warehouse.SCHEMAS`): :func:`pipeline.rows.call_row`
and :mod:`pipeline.reason_store` convert the pipeline's records to and from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.types import Diarization, Int16, Int32, NullableText, RedactedSpan


@dataclass(frozen=True, slots=True)
class MetricSpan:
    """Where one metric of a call happened (``calls.metric_spans``)."""

    metric: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRow:
    """One ``calls`` row: a recording, what hearing it found, and the night's verdict.

    The columns of the analysis are ``None`` (null) for a recording that was not heard (a
    quarantined one); an empty metadata value or verdict is stored as null too.
    """

    call_id: str
    source_path: str
    audio_sha256: str
    size_bytes: int
    duration_s: float | None = None
    channels: Int16 | None = None
    sample_rate: Int32 | None = None
    """Of the file as recorded."""
    codec: str | None = None
    language: str | None = None
    """The language it was transcribed in (for an unserved call, the one detected)."""
    language_probability: float | None = None
    agent_id: NullableText = ""
    """From ``metadata.csv``, as are the team, the start, the direction and the customer."""
    team_id: NullableText = ""
    started_at: NullableText = ""
    direction: NullableText = ""
    customer_id: NullableText = ""
    metadata: dict[str, str] = field(default_factory=dict)
    """The metadata columns that have no column of their own."""
    status: str
    """``ok``, ``quarantined``, ``unsupported_language`` or ``no_rubric``."""
    status_reason: NullableText = ""
    """Why, when the status is not ``ok``."""
    call_type: NullableText = ""
    rubric_id: NullableText = ""
    asr_model: str | None = None
    asr_confidence: float | None = None
    """Mean word probability over the call."""
    speech_s: float | None = None
    dropped_segments: tuple[str, ...] = ()
    """ASR segments dropped as non-speech or phantom text, with why."""
    metrics: dict[str, float] = field(default_factory=dict)
    """The measured metrics by column name (one column each: see
    :data:`pipeline.warehouse.LAYOUTS`); a metric not measured is absent."""
    metric_spans: tuple[MetricSpan, ...] = ()
    redactions: tuple[RedactedSpan, ...] = ()
    diarization: Diarization | None = None
    """``None``: not transcribed, or stored before the column."""
    repeat_contacts: Int32 | None = None
    """The customer's calls in the repeat window (set when the night's rows are written)."""
    embed_model: NullableText = ""
    decode_warnings: Int32 | None = None
    metadata_issues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignmentRow:
    """One ``call_reasons`` row: a call's reason (:class:`pipeline.reasons.Assignment`),
    with the statement it was assigned by (the call date is the partition)."""

    call_id: str
    reason_id: str
    similarity: float
    opened: bool = False
    language: str = ""
    text: str = ""
    start_s: float
    end_s: float
    vector: bytes | None = None
    """The statement's vector as float16 bytes."""
    repeat_of: NullableText = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExampleRow:
    """One example call of a reason, in its ``contact_reasons`` row."""

    call_id: str
    call_date: str
    language: str = ""
    text: str = ""
    start_s: float
    end_s: float
    similarity: float
    vector: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReasonRow:
    """One ``contact_reasons`` row (:class:`pipeline.reasons.Reason`)."""

    reason_id: str
    label: str = ""
    languages: tuple[str, ...] = ()
    language_counts: dict[str, int] = field(default_factory=dict)
    n_calls: int = 0
    centroid: bytes | None = None
    """The raw mean of the members' vectors, as float16 bytes."""
    created: str = ""
    last_seen: str = ""
    examples: tuple[ExampleRow, ...] = ()
