"""Our own records at every boundary: frozen, slotted, with units in the field names.

No dependency's result type crosses into ``pipeline``: adapters in ``models/`` convert
``faster_whisper`` segments into :class:`Segment` and :class:`Word` here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Speaker = Literal["agent", "customer", "unknown"]
SPEAKERS: tuple[Speaker, ...] = ("agent", "customer", "unknown")
Outcome = Literal["pass", "fail", "na"]
QueueKind = Literal["review", "control", "skim", "highlight", "trend"]
PlanKind = Literal["hear", "read"]
"""How an inspector takes in a stretch of a listening plan: *hear* the audio (conduct,
dissatisfaction, escalation, agitation, overtalk: the tone matters) or *read* the
transcript (a missed scripted item, a long silence: the words or their absence say it)."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its time span in the call."""

    start_s: float
    end_s: float
    text: str
    probability: float


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
    channel: int = 0


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
    """One rubric item evaluated on one call."""

    call_id: str
    rubric_id: str
    rubric_version: int
    item_id: str
    item_version: int
    detected: bool
    outcome: Outcome
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    weight: float = 0.0
    critical: bool = False
    flag: bool = False
    title: str = ""


@dataclass(frozen=True, slots=True)
class CallScore:
    """A call's score against one rubric, with the reasons an inspector reads."""

    call_id: str
    rubric_id: str
    rubric_version: int
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
    """A recording that could not be processed, and why."""

    source_path: str
    error_code: str
    reason: str
    call_id: str = ""
    audio_sha256: str = ""
    call_date: str = ""


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of a call to listen to."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class PlanSpan:
    """One stretch of a listening plan: to *hear* in the audio or to *read* in the transcript."""

    start_s: float
    end_s: float
    kind: PlanKind = "hear"

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One call in one inspector's queue for one day."""

    inspector: str
    date: str
    rank: int
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
