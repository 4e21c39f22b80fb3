"""Tables and rows derived from the records: the stored layouts have not changed, and
a record comes back from its row (through Parquet) as it went in."""

from __future__ import annotations

import doctest
import importlib
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import rows, shapes
from pipeline import warehouse as wh
from pipeline.metric_rows import METRIC_COLUMNS, METRICS
from pipeline.types import (
    SPEAKERS,
    CallMetrics,
    CallScore,
    CallSentiment,
    Column,
    Evidence,
    Finding,
    IndexEntry,
    Int32,
    NullableText,
    Partition,
    PlanSpan,
    QuarantineEntry,
    QueueEntry,
)

LAYOUTS = Path(__file__).parent.parent / "data" / "schemas"
TABLES = {
    **wh.SCHEMAS,
    "file_index": wh.INDEX_SCHEMA,
    "contact_reasons": wh.REASONS_SCHEMA,
    "reason_languages": wh.REASON_LANGUAGES_SCHEMA,
}


def _as_written(table: pa.Table) -> pa.Table:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    return pq.read_table(buffer)


ADDED = {
    "calls": ["diarization"],
    "findings": ["strength", "item_digest"],
    "quarantine": ["detail"],
}
"""Columns a table gained after its layout was stored, read as null from the partitions
written before (``calls.diarization``, the speaker split of a mono call;
``findings.strength``, how surely a detector fired; ``findings.item_digest``, what an item
looked for at its version; ``quarantine.detail``, what the
decoding libraries said about a recording)."""


@pytest.mark.parametrize("name", sorted(TABLES))
def test_derived_schema_writes_the_layout_stored_before(name: str) -> None:
    before = pq.read_schema(LAYOUTS / f"{name}.parquet")
    now = _as_written(TABLES[name].empty_table()).schema
    added = ADDED.get(name, [])
    assert set(added) <= set(now.names)
    kept = pa.schema([now.field(n) for n in now.names if n not in added], now.metadata)
    assert kept.equals(before, check_metadata=True), f"{name}: {kept} != {before}"


def test_every_table_has_its_stored_layout() -> None:
    assert {p.stem for p in LAYOUTS.glob("*.parquet")} == set(TABLES)


FINDING = Finding(
    "C1",
    "inbound",
    3,
    "greeting",
    2,
    True,
    "fail",
    0.75,
    (Evidence("agent", 1.5, 3.0, "hello there", "phrase"), Evidence("customer", 9.0, 9.5, "hi")),
    weight=10.0,
    critical=True,
    flag=True,
    title="Greets",
)
SCORE = CallScore("C1", "inbound", 3, 72.5, False, True, ("late greeting", "hold"), 140.0)
QUEUED = QueueEntry(
    "ines",
    "2026-11-20",
    4,
    "C1",
    "review",
    1.25,
    ("critical: rude",),
    (PlanSpan(7.0, 17.0), PlanSpan(70.0, 100.0, "read")),
    agent_id="A-1",
    team_id="T-1",
    cost_s=16.0,
)
QUARANTINED = QuarantineEntry("a/b c.wav", "A001", "empty file", "C9", "ab" * 32)


@pytest.mark.parametrize(
    ("table", "record", "write", "read"),
    [
        ("findings", FINDING, rows.finding_row, rows.finding_from_row),
        ("scores", SCORE, rows.score_row, rows.score_from_row),
        ("queue", QUEUED, rows.queue_row, rows.queue_entry_from_row),
        ("quarantine", QUARANTINED, rows.quarantine_row, shapes.from_row),
    ],
)
def test_record_row_record_round_trip_through_parquet(table, record, write, read) -> None:
    stored = _as_written(pa.Table.from_pylist([write(record)], schema=wh.SCHEMAS[table]))
    (row,) = stored.to_pylist()
    back = read(row) if read is not shapes.from_row else read(type(record), row)
    assert back == record


def test_index_entries_round_trip_through_the_index_file(tmp_path: Path) -> None:
    entries = [
        IndexEntry(str(tmp_path), "x/é 1.wav", 10, 2**40, "ab" * 32, "c1", "2026-11-20", "ok"),
        IndexEntry(str(tmp_path), "y.wav", 0, 1, "", "c2", "2026-11-21", "quarantined"),
    ]
    wh.write_index(tmp_path, wh.index_table(entries))
    assert wh.index_entries(wh.read_index(tmp_path)) == entries
    assert [shapes.from_row(IndexEntry, shapes.to_row(e)) for e in entries] == entries


def test_queue_row_stores_the_plan_length_and_price() -> None:
    row = rows.queue_row(QUEUED)
    assert (row["plan_s"], row["cost_s"]) == (40.0, 16.0)
    assert row["plan"][1] == {"start_s": 70.0, "end_s": 100.0, "kind": "read"}
    unpriced = rows.queue_row(QueueEntry("i", "d", 1, "c", "control", 0.0, (), QUEUED.plan))
    assert unpriced["cost_s"] == unpriced["plan_s"] == 40.0  # an unpriced plan costs its length


def test_rows_of_older_writes_read_with_the_fields_defaults() -> None:
    legacy = {
        **rows.queue_row(QUEUED),
        "cost_s": None,
        "agent_id": None,
        "reasons": None,
        "plan": [{"start_s": 0.0, "end_s": 9.0}],
    }
    q = rows.queue_entry_from_row(legacy)
    assert (q.cost_s, q.agent_id, q.reasons) == (-1.0, "", ())
    assert q.plan == (PlanSpan(0.0, 9.0, "hear"),) and q.price_s == 9.0
    f = rows.finding_from_row({**rows.finding_row(FINDING), "title": None, "evidence": None})
    assert (f.title, f.evidence, f.weight) == ("", (), 10.0)
    unrated = {k: v for k, v in rows.finding_row(FINDING).items() if k != "strength"}
    assert rows.finding_from_row(unrated).strength == 1.0  # flagged before strength was kept


def test_the_partition_is_not_a_column() -> None:
    entry = QuarantineEntry("a.wav", "A001", "empty", call_date="2026-11-20")
    assert "call_date" not in rows.quarantine_row(entry)
    assert "call_date" not in wh.SCHEMAS["quarantine"].names


def test_a_layout_placing_a_column_after_none_is_refused() -> None:
    with pytest.raises(ValueError, match="no column to follow"):
        shapes.columns(CallScore, shapes.Layout(after={"score": "grade"}))
    cols = shapes.columns(CallScore, shapes.Layout(after={"score": "priority"}))
    assert [name for name, _ in cols][-2:] == ["priority", "score"]


def test_a_field_type_with_no_column_type_is_refused() -> None:
    @dataclass(frozen=True)
    class Odd:
        when: complex

    with pytest.raises(TypeError, match="no Arrow type"):
        shapes.columns(Odd)


def test_a_column_annotation_inside_an_optional_is_read() -> None:
    """``Int32 | None``, ``NullableText | None``, ``Partition | None``: the annotation says
    how the field is stored whether it is outside the ``| None`` or inside it."""

    @dataclass(frozen=True)
    class Optional_:
        count: Int32 | None = None
        note: NullableText | None = None
        kept: Annotated[str | None, Column(empty_is_null=True)] = None
        day: Partition | None = None
        plain: str | None = None

    assert shapes.columns(Optional_) == [
        ("count", pa.int32()),
        ("note", pa.string()),
        ("kept", pa.string()),
        ("plain", pa.string()),
    ]
    record = Optional_(count=3, note="", kept="", day="2026-12-01", plain="")
    row = shapes.to_row(record)
    assert row == {"count": 3, "note": None, "kept": None, "plain": ""}
    assert shapes.from_row(Optional_, row) == Optional_(count=3, plain="")
    written = Optional_(note="seen", kept="too")
    assert shapes.from_row(Optional_, shapes.to_row(written)) == written


def test_calls_metric_columns_come_from_the_metric_records() -> None:
    audio = [f for f in CallMetrics.__dataclass_fields__ if "_spans" not in f]
    sentiment = CallSentiment((0.1,), 0.1, 0.5, -0.2, 0.4).as_metrics()
    assert (*audio, *sentiment) == METRIC_COLUMNS
    assert all(m.label and m.unit in "s%nx" for m in METRICS.values())
    calls = wh.SCHEMAS["calls"]
    assert all(calls.field(name).type == pa.float64() for name in METRIC_COLUMNS)
    assert sentiment == {
        "sentiment_start": 0.1,
        "sentiment_end": 0.5,
        "sentiment_min": -0.2,
        "sentiment_change": 0.4,
    }
    assert not math.isnan(sentiment["sentiment_change"])


@pytest.mark.parametrize("module", ["pipeline.shapes", "pipeline.types", "pipeline.periods"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0


_text = st.text(max_size=12)
_number = st.floats(allow_nan=False, allow_infinity=False, width=64)
_int32 = st.integers(-(2**31), 2**31 - 1)
_evidence = st.builds(Evidence, st.sampled_from(SPEAKERS), _number, _number, _text, _text)
_plan = st.builds(PlanSpan, _number, _number, st.sampled_from(("hear", "read")))
_records = {
    "findings": st.builds(
        Finding,
        _text,
        _text,
        _int32,
        _text,
        _int32,
        st.booleans(),
        st.sampled_from(("pass", "fail", "na")),
        _number,
        st.lists(_evidence, max_size=3).map(tuple),
        weight=_number,
        critical=st.booleans(),
        flag=st.booleans(),
        title=_text,
    ),
    "scores": st.builds(
        CallScore,
        _text,
        _text,
        _int32,
        _number,
        st.booleans(),
        st.booleans(),
        st.lists(_text, max_size=3).map(tuple),
        _number,
    ),
    "queue": st.builds(
        QueueEntry,
        _text,
        _text,
        _int32,
        _text,
        st.sampled_from(("review", "control", "skim", "highlight", "trend")),
        _number,
        st.lists(_text, max_size=3).map(tuple),
        st.lists(_plan, max_size=3).map(tuple),
        agent_id=_text,
        team_id=_text,
        cost_s=st.integers(0, 10**7).map(lambda ms: ms / 1000),  # stored to the ms
    ),
    "quarantine": st.builds(QuarantineEntry, _text, _text, _text, _text, _text),
}
_readers = {
    "findings": rows.finding_from_row,
    "scores": rows.score_from_row,
    "queue": rows.queue_entry_from_row,
    "quarantine": lambda r: shapes.from_row(QuarantineEntry, r),
}
_writers = {
    "findings": rows.finding_row,
    "scores": rows.score_row,
    "queue": rows.queue_row,
    "quarantine": rows.quarantine_row,
}


@pytest.mark.parametrize("table", sorted(_records))
def test_any_record_comes_back_from_its_stored_row(table: str) -> None:
    @settings(max_examples=60, deadline=None)
    @given(st.lists(_records[table], max_size=5))
    def check(records: list[object]) -> None:
        written = [_writers[table](r) for r in records]
        stored = _as_written(pa.Table.from_pylist(written, schema=wh.SCHEMAS[table]))
        assert [_readers[table](r) for r in stored.to_pylist()] == records

    check()


def test_a_partition_written_before_a_column_was_added_reads_its_default(tmp_path: Path) -> None:
    before = pq.read_schema(LAYOUTS / "findings.parquet")
    row = {k: v for k, v in rows.finding_row(FINDING).items() if k in before.names}
    path = Path(wh.partition_path(tmp_path, "findings", "2026-11-20"))
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([row], schema=before), path)
    table = wh.read_partition(tmp_path, "findings", "2026-11-20")
    assert table is not None and table.column("strength").null_count == 1
    read = rows.finding_from_row(table.to_pylist()[0])
    assert read.strength == 1.0 and read.evidence == FINDING.evidence
