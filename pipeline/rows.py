"""Records ↔ warehouse rows (plain dicts that fit :data:`pipeline.warehouse.SCHEMAS`).

Every table but ``utterances`` stores one record per row and converts through
:mod:`pipeline.shapes` (derived from the record's fields); a ``calls`` row
(:class:`~pipeline.row_records.CallRow`) is gathered here from a recording and its analysis.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from pipeline.analysis import CallAnalysis
from pipeline.archive import KNOWN_COLUMNS
from pipeline.meaning import Vectors, decode_vectors, encode_vectors
from pipeline.metric_rows import METRIC_ALIASES
from pipeline.row_records import CallRow, MetricSpan
from pipeline.shapes import from_row, to_row
from pipeline.transcript import utterance_from_dict, words_from_columns
from pipeline.types import (
    SPEAKERS,
    CallScore,
    Finding,
    QuarantineEntry,
    QueueEntry,
    Recording,
    Span,
    Transcript,
    Utterance,
)
from pipeline.warehouse import LAYOUTS, METRIC_COLUMNS

Row = dict[str, Any]


def call_row(
    rec: Recording,
    analysis: CallAnalysis | None,
    transcript: Transcript | None,
    status: str,
    *,
    status_reason: str = "",
    call_type: str = "",
    rubric_id: str = "",
) -> Row:
    """A ``calls`` row (``analysis`` is ``None`` for a quarantined recording). ``status``:
    ``ok``, ``quarantined``, ``unsupported_language`` or ``no_rubric``, with
    ``status_reason`` saying why when it is not ``ok``."""
    meta = rec.metadata
    call = CallRow(
        call_id=rec.call_id,
        source_path=rec.source_path,
        audio_sha256=rec.audio_sha256,
        size_bytes=rec.size_bytes,
        agent_id=meta.get("agent_id", ""),
        team_id=meta.get("team_id", ""),
        started_at=meta.get("started_at", ""),
        direction=meta.get("direction", ""),
        customer_id=meta.get("customer_id", ""),
        metadata={k: v for k, v in meta.items() if k not in KNOWN_COLUMNS},
        status=status,
        status_reason=status_reason,
        call_type=call_type,
        rubric_id=rubric_id,
        asr_confidence=round(transcript.asr_confidence, 4) if transcript else None,
        metadata_issues=rec.metadata_issues,
    )
    return call_to_row(call if analysis is None else _heard(call, analysis))


def _heard(call: CallRow, a: CallAnalysis) -> CallRow:
    """``call`` with the columns the analysis of a call fills."""
    return dataclasses.replace(
        call,
        duration_s=a.duration_s,
        channels=a.channels,
        sample_rate=a.sample_rate,
        codec=a.codec,
        language=a.language,
        language_probability=a.language_probability,
        asr_model=a.asr_model,
        speech_s=a.speech_s,
        dropped_segments=a.dropped,
        metrics={k: v for k in METRIC_COLUMNS if (v := a.metrics.get(k)) is not None},
        metric_spans=tuple(
            MetricSpan(name, s.start_s, s.end_s)
            for name, spans in sorted(a.metric_spans.items())
            for s in spans
        ),
        redactions=a.redactions,
        diarization=a.diarization,
        embed_model=a.embed_model,
        decode_warnings=a.decode_warnings,
    )


def call_to_row(call: CallRow) -> Row:
    """The ``calls`` row of a :class:`CallRow` (its metrics a column each)."""
    return to_row(call, LAYOUTS["calls"])


def call_from_row(row: Mapping[str, Any]) -> CallRow:
    """The :class:`CallRow` a ``calls`` row holds (a column it lacks reads as the
    field's default: ``None``, or nothing measured)."""
    return from_row(CallRow, row, LAYOUTS["calls"])


def call_metadata(call: CallRow) -> dict[str, str]:
    """The call's ``metadata.csv`` values as :func:`call_row` was given them, for the call
    types to match: its id and the values with a column of their own (an empty one left
    out), then the rest."""
    own = {
        "call_id": call.call_id,
        "agent_id": call.agent_id,
        "team_id": call.team_id,
        "started_at": call.started_at,
        "direction": call.direction,
        "customer_id": call.customer_id,
    }
    return {**{k: v for k, v in own.items() if v}, **call.metadata}


def call_metrics(call: CallRow) -> tuple[dict[str, float], dict[str, tuple[Span, ...]]]:
    """The metric values and evidence spans a stored call carries (for re-scoring), each
    metric also under its aliases (:data:`pipeline.metric_rows.METRIC_ALIASES`)."""
    values = {name: float(v) for name, v in call.metrics.items()}
    if values:
        values.update(
            {alias: values[name] for alias, name in METRIC_ALIASES.items() if name in values}
        )
    spans: dict[str, list[Span]] = {}
    for s in call.metric_spans:
        spans.setdefault(s.metric, []).append(Span(s.start_s, s.end_s))
    return values, {k: tuple(v) for k, v in spans.items()}


def utterance_rows(
    transcript: Transcript,
    vectors: Vectors | None = None,
    sentiment: Sequence[float] = (),
) -> list[Row]:
    """``utterances`` rows of a call, with its meaning vectors and sentiment when given."""
    n = len(transcript.utterances)
    stored = encode_vectors(vectors, n)
    feeling = [None if v != v else v for v in sentiment] if len(sentiment) == n else [None] * n
    return [
        {
            "call_id": transcript.call_id,
            "idx": i,
            **to_row(u),
            "vector": stored[i],
            "sentiment": feeling[i],
        }
        for i, u in enumerate(transcript.utterances)
    ]


def transcript_from_rows(
    call_id: str, language: str, duration_s: float, rows: list[Mapping[str, Any]]
) -> Transcript:
    """Rebuild a transcript from ``utterances`` rows (for re-scoring without ASR)."""
    utterances = tuple(
        utterance_from_dict(
            {
                **r,
                "words": [
                    [w["start_s"], w["end_s"], w["text"], w["probability"]]
                    for w in r["words"] or []
                ],
            }
        )
        for r in sorted(rows, key=lambda r: r["idx"])
    )
    return Transcript(
        call_id=call_id, language=language, duration_s=duration_s, utterances=utterances
    )


def transcripts_from_table(
    calls: Sequence[tuple[str, str, float]], utterances: pa.Table
) -> list[Transcript]:
    """Rebuild many calls' transcripts from ``utterances`` rows, column by column.

    The same transcripts as :func:`transcript_from_rows` on each call's rows, without
    a dict per row and per word in between: re-scoring reads whole partitions.

    Parameters
    ----------
    calls
        ``(call_id, language, duration_s)`` of each call, in the order wanted.
    utterances
        Rows of the ``utterances`` table, in any order; rows of other calls are ignored.

    Returns
    -------
    list of Transcript
        One per call, its utterances in ``idx`` order (none when it has no rows).

    Raises
    ------
    ValueError
        A speaker other than ``agent``, ``customer`` or ``unknown``.
    """
    table = utterances.sort_by([("call_id", "ascending"), ("idx", "ascending")])
    built = _utterances(table)
    if built is None:  # nulls or unknown speakers: the row-by-row path converts or refuses them
        by_call: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for r in table.to_pylist():
            by_call[r["call_id"]].append(r)
        return [transcript_from_rows(c, lang, d, by_call[c]) for c, lang, d in calls]
    runs = _call_runs(table.column("call_id").to_pylist())
    return [
        Transcript(c, lang, d, tuple(built[slice(*runs.get(c, (0, 0)))])) for c, lang, d in calls
    ]


def vectors_from_table(call_ids: Sequence[str], utterances: pa.Table) -> list[Vectors | None]:
    """Each call's stored meaning vectors (``None`` where any utterance lacks one)."""
    if "vector" not in utterances.column_names:
        return [None] * len(call_ids)
    table = utterances.select(["call_id", "idx", "vector"]).sort_by(
        [("call_id", "ascending"), ("idx", "ascending")]
    )
    column = table.column("vector").to_pylist()
    runs = _call_runs(table.column("call_id").to_pylist())
    return [decode_vectors(column[slice(*runs[c])]) if c in runs else None for c in call_ids]


def _call_runs(call_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Each call's ``(start, stop)`` rows in a table sorted by call: one slice per call."""
    runs: dict[str, tuple[int, int]] = {}
    for i, call_id in enumerate(call_ids):
        runs[call_id] = (runs.get(call_id, (i, i))[0], i + 1)
    return runs


_UTTERANCE_COLUMNS = ("speaker", "start_s", "end_s", "text", "confidence", "channel")
_SPEAKERS = frozenset(SPEAKERS)


def _utterances(table: pa.Table) -> list[Utterance] | None:
    """Every row of an ``utterances`` table as an :class:`Utterance`, words included;
    ``None`` when a value is missing or a speaker is unknown (no earmark write does that)."""
    lists = table.column("words").combine_chunks()
    structs = lists.flatten()
    fields = structs.flatten()  # start_s, end_s, text, probability
    columns = [table.column(name) for name in _UTTERANCE_COLUMNS]
    if any(a.null_count for a in (*columns, lists, structs, *fields)):
        return None
    speakers, *values = (c.to_pylist() for c in columns)
    if not _SPEAKERS.issuperset(speakers):
        return None
    words = words_from_columns(*(f.to_pylist() for f in fields))
    offsets = lists.offsets.to_pylist()
    base = offsets[0] if offsets else 0
    per_row = [tuple(words[a - base : b - base]) for a, b in itertools.pairwise(offsets)]
    start_s, end_s, text, confidence, channel = values
    return list(map(Utterance, speakers, start_s, end_s, text, per_row, confidence, channel))


def finding_row(f: Finding) -> Row:
    return to_row(f, LAYOUTS["findings"])


def finding_from_row(r: Mapping[str, Any]) -> Finding:
    return from_row(Finding, r)


def score_row(s: CallScore) -> Row:
    return to_row(s)


def score_from_row(r: Mapping[str, Any]) -> CallScore:
    return from_row(CallScore, r)


def queue_row(q: QueueEntry) -> Row:
    """A ``queue`` row: the entry with its plan's length, and its price as ``cost_s``."""
    return to_row(q, LAYOUTS["queue"])


def queue_entry_from_row(r: Mapping[str, Any]) -> QueueEntry:
    """The entry of a ``queue`` row (an unpriced row's ``cost_s`` reads as ``-1``, its
    plan's spans as heard)."""
    return from_row(QueueEntry, r)


def quarantine_row(q: QuarantineEntry) -> Row:
    return to_row(q, LAYOUTS["quarantine"])


def quarantine_from_row(r: Mapping[str, Any], *, call_date: str = "") -> QuarantineEntry:
    """The entry of a ``quarantine`` row read from the ``call_date`` partition (the date is
    the partition's name, not a column)."""
    return dataclasses.replace(from_row(QuarantineEntry, r), call_date=call_date)
