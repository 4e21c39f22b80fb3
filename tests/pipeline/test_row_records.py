"""The records of the ``calls``, ``call_reasons`` and ``contact_reasons`` rows
(:mod:`pipeline.row_records`): each row reads back, through Parquet, as the record it was
written from, and the record writes the same row again."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rowkit import analysis

from pipeline import reason_store, rows, shapes
from pipeline import warehouse as wh
from pipeline.reasons import Assignment, Example, Reason, Statement
from pipeline.row_records import CallRow, MetricSpan
from pipeline.types import Diarization, Recording, RedactedSpan, Span

REC = Recording(
    "c1",
    "a/c1.wav",
    "/tmp/a/c1.wav",
    "ab" * 32,
    "2026-12-01",
    10,
    metadata={"agent_id": "A-1", "team_id": "", "queue": "billing", "brand": "x"},
    metadata_issues=("metadata.csv:3: [M004] odd date",),
)
_SPAN = {"start_s": 3.0, "end_s": 6.0}
HEARD = analysis(  # a mono call, split into two voices, with a phone number redacted
    channels=1,
    tracks=1,
    decode_warnings=1,
    dropped=["phantom"],
    diarization={"outcome": "diarized", "embedder": "librosa", "voice_gain": 1.5},
    redactions=[{"kind": "PHONE", **_SPAN}],
    metrics={"talk_agent_s": 10.0, "hold_s": 4.0, "wpm_customer": None},
    metric_spans=[
        {"metric": "overtalk_s", "start_s": 1.0, "end_s": 2.0},
        {"metric": "hold_s", "start_s": 4.0, "end_s": 8.0},
    ],
)


def _stored(row: dict[str, object], schema: pa.Schema) -> dict[str, object]:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([row], schema=schema), buffer)
    buffer.seek(0)
    (back,) = pq.read_table(buffer).to_pylist()
    return back


@pytest.mark.parametrize("heard", [True, False])
def test_a_calls_row_reads_back_as_its_record_and_writes_the_same_row(heard: bool) -> None:
    analysis = HEARD if heard else None
    row = rows.call_row(REC, analysis, None, "ok" if heard else "quarantined")
    stored = _stored(row, wh.SCHEMAS["calls"])
    call = rows.call_from_row(stored)
    assert shapes.to_row(call, wh.LAYOUTS["calls"]) == row
    assert call.metadata == {"queue": "billing", "brand": "x"}  # the rest have columns
    assert (call.agent_id, call.team_id, stored["team_id"]) == ("A-1", "", None)  # "" as null
    assert call.metadata_issues == REC.metadata_issues
    if heard:
        assert call.metrics == {"talk_agent_s": 10.0, "hold_s": 4.0}  # not measured: absent
        assert stored["wpm_customer"] is None and stored["talk_agent_s"] == 10.0
        assert call.metric_spans == (
            MetricSpan("hold_s", 4.0, 8.0),
            MetricSpan("overtalk_s", 1.0, 2.0),
        )
        assert (call.diarization, call.redactions) == (HEARD.diarization, HEARD.redactions)
        assert (call.channels, call.decode_warnings, call.dropped_segments) == (1, 1, ("phantom",))
    else:
        assert call == CallRow(
            call_id="c1",
            source_path="a/c1.wav",
            audio_sha256="ab" * 32,
            size_bytes=10,
            agent_id="A-1",
            metadata={"queue": "billing", "brand": "x"},
            status="quarantined",
            metadata_issues=REC.metadata_issues,
        )


def test_the_metrics_a_stored_call_carries_read_back_for_rescoring() -> None:
    row = _stored(rows.call_row(REC, HEARD, None, "ok"), wh.SCHEMAS["calls"])
    call = rows.call_from_row(row)
    values, spans = rows.call_metrics(call)
    assert values == {"talk_agent_s": 10.0, "hold_s": 4.0}
    assert spans == {"hold_s": (Span(4.0, 8.0),), "overtalk_s": (Span(1.0, 2.0),)}
    assert call.diarization == HEARD.diarization
    assert rows.call_from_row({"call_id": "c1"}).diarization is None  # stored before the column


MEASURED = {
    "handle_s": 61.5,
    "talk_s": 40.25,
    "talk_agent_s": 22.0,
    "talk_customer_s": 18.25,
    "talk_ratio_agent": 0.55,
    "silence_s": 6.0,
    "dead_air_s": 4.0,
    "longest_dead_air_s": 2.5,
    "dead_air_count": 2.0,
    "hold_count": 1.0,
    "hold_s": 15.0,
    "longest_hold_s": 15.0,
    "overtalk_s": 0.5,
    "overtalk_count": 1.0,
    "interruptions_agent": 1.0,
    "interruptions_customer": 0.0,
    "wpm_agent": 160.0,
    "wpm_customer": 140.0,
    "customer_agitation_max": 1.8,
    "sentiment_start": 0.1,
    "sentiment_end": 0.5,
    "sentiment_min": -0.2,
    "sentiment_change": 0.4,
}
"""Every metric of ``calls``, measured."""
GOLDEN = CallRow(  # every field set, though no call would have all (a rubric and no_rubric)
    call_id="c1",
    source_path="2026-12-01/c1.wav",
    audio_sha256="ab" * 32,
    size_bytes=48_000,
    duration_s=61.5,
    channels=1,
    sample_rate=8000,
    codec="pcm_s16le",
    language="en",
    language_probability=0.98,
    agent_id="A-1",
    team_id="T-1",
    started_at="2026-12-01T09:30:00",
    direction="inbound",
    customer_id="K-9",
    metadata={"queue": "billing", "brand": "x"},
    status="no_rubric",
    status_reason="call type 'collections' has no rubric for en",
    call_type="collections",
    rubric_id="inbound-support",
    asr_model="whisper-base",
    asr_confidence=0.91,
    speech_s=40.25,
    dropped_segments=("phantom: 'Thanks for watching'",),
    metrics=MEASURED,
    metric_spans=(MetricSpan("hold_s", 10.0, 25.0), MetricSpan("overtalk_s", 3.0, 3.5)),
    redactions=(RedactedSpan("PHONE", 30.0, 33.5),),
    diarization=Diarization("diarized", "resemblyzer", 4.25),
    repeat_contacts=2,
    embed_model="e5-small",
    decode_warnings=1,
    metadata_issues=("metadata.csv:3: [M004] odd date",),
)
GOLDEN_ROW = {
    "call_id": "c1",
    "source_path": "2026-12-01/c1.wav",
    "audio_sha256": "ab" * 32,
    "size_bytes": 48_000,
    "duration_s": 61.5,
    "channels": 1,
    "sample_rate": 8000,
    "codec": "pcm_s16le",
    "language": "en",
    "language_probability": 0.98,
    "agent_id": "A-1",
    "team_id": "T-1",
    "started_at": "2026-12-01T09:30:00",
    "direction": "inbound",
    "customer_id": "K-9",
    "metadata": [("brand", "x"), ("queue", "billing")],
    "status": "no_rubric",
    "status_reason": "call type 'collections' has no rubric for en",
    "call_type": "collections",
    "rubric_id": "inbound-support",
    "asr_model": "whisper-base",
    "asr_confidence": 0.91,
    "speech_s": 40.25,
    "dropped_segments": ["phantom: 'Thanks for watching'"],
    **MEASURED,  # a column each
    "metric_spans": [
        {"metric": "hold_s", "start_s": 10.0, "end_s": 25.0},
        {"metric": "overtalk_s", "start_s": 3.0, "end_s": 3.5},
    ],
    "redactions": [{"kind": "PHONE", "start_s": 30.0, "end_s": 33.5}],
    "diarization": {"outcome": "diarized", "embedder": "resemblyzer", "voice_gain": 4.25},
    "repeat_contacts": 2,
    "embed_model": "e5-small",
    "decode_warnings": 1,
    "metadata_issues": ["metadata.csv:3: [M004] odd date"],
}
BARE = CallRow(call_id="c2", source_path="b.wav", audio_sha256="", size_bytes=0, status="ok")
"""A call with none of its optional fields set."""
BARE_ROW = {
    "call_id": "c2",
    "source_path": "b.wav",
    "audio_sha256": "",
    "size_bytes": 0,
    **dict.fromkeys(
        ["duration_s", "channels", "sample_rate", "codec", "language", "language_probability"]
    ),
    **dict.fromkeys(["agent_id", "team_id", "started_at", "direction", "customer_id"]),
    "metadata": [],
    "status": "ok",
    **dict.fromkeys(["status_reason", "call_type", "rubric_id", "asr_model", "asr_confidence"]),
    "speech_s": None,
    "dropped_segments": [],
    **dict.fromkeys(MEASURED),  # every metric column, null
    "metric_spans": [],
    "redactions": [],
    "diarization": None,
    "repeat_contacts": None,
    "embed_model": None,
    "decode_warnings": None,
    "metadata_issues": [],
}


@pytest.mark.parametrize(("call", "row"), [(GOLDEN, GOLDEN_ROW), (BARE, BARE_ROW)])
def test_a_golden_calls_row(call: CallRow, row: dict[str, object]) -> None:
    """The stored ``calls`` row of a record, written out column by column: a change to
    ``CallRow`` or the layout that changes what is stored shows here first."""
    assert rows.call_to_row(call) == row
    assert list(rows.call_to_row(call)) == wh.SCHEMAS["calls"].names  # in the table's order
    back = rows.call_from_row(_stored(row, wh.SCHEMAS["calls"]))
    assert back == call
    assert rows.call_to_row(back) == row


def test_only_a_dict_field_is_spread_over_columns() -> None:
    @dataclass(frozen=True)
    class Counts:
        name: str
        n: dict[str, int] = field(default_factory=dict)

    layout = shapes.Layout(spread={"n": ("a", "b")})
    assert shapes.columns(Counts, layout) == [
        ("name", pa.string()),
        ("a", pa.int64()),
        ("b", pa.int64()),
    ]
    row = shapes.to_row(Counts("x", {"a": 1, "c": 3}), layout)
    assert row == {"name": "x", "a": 1, "b": None}  # a name not listed is not stored
    assert shapes.from_row(Counts, row, layout) == Counts("x", {"a": 1})
    with pytest.raises(TypeError, match="only a dict field is spread"):
        shapes.columns(Counts, shapes.Layout(spread={"name": ("a",)}))


def _statement(call_id: str, vector: list[float], language: str = "en") -> Statement:
    v = np.asarray(vector, dtype=np.float32)  # float16-exact: the stored vectors are
    return Statement(call_id, "2026-12-01", language, f"{call_id} says", 1.5, 4.0, v)


def test_a_reason_and_an_assignment_read_back_through_their_tables() -> None:
    said = _statement("c1", [0.5, -1.0, 0.25])
    reason = Reason(
        "R0007",
        "card declined",
        np.asarray([0.5, -0.5, 0.0], dtype=np.float32),
        language_counts={"fr": 1, "en": 2},
        created="2026-11-30",
        last_seen="2026-12-01",
        examples=(Example(said, 0.875), Example(_statement("c2", [1.0, 0.0, 0.0], "fr"), 0.5)),
    )
    back = reason_store.reason_from_row(_stored(reason_store.reason_row(reason), wh.REASONS_SCHEMA))
    assert back == reason and (back.languages, back.n_calls) == (("en", "fr"), 3)
    assert np.array_equal(back.centroid, reason.centroid)
    assert np.array_equal(back.examples[0].statement.vector, said.vector)
    for a in (
        Assignment(said, "R0007", 0.875, opened=True),
        Assignment(said, "R0007", 0.5, False, "c0"),
    ):
        row = _stored(reason_store.assignment_row(a), wh.SCHEMAS["call_reasons"])
        assert row["repeat_of"] == (a.repeat_of or None)  # no repeat is stored null
        read = reason_store.assignment_from_row(row, "2026-12-01")
        assert read == a and np.array_equal(read.statement.vector, said.vector)
