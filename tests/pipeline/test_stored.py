"""Stored calls, queue and quarantine partitions read back as records (the readers the
command line, the night, re-scoring and the review app share)."""

from __future__ import annotations

import doctest
from pathlib import Path

from pipeline import rows, stored
from pipeline import warehouse as wh
from pipeline.row_records import CallRow
from pipeline.types import Diarization, PlanSpan, QuarantineEntry, QueueEntry

DATE = "2026-11-02"


def _queued(inspector: str, call_id: str, rank: int) -> QueueEntry:
    return QueueEntry(inspector, DATE, rank, call_id, "review", 100.0, ("x",), (PlanSpan(0, 5),))


def test_queue_inspectors_of_a_date_and_of_a_call(tmp_path: Path) -> None:
    root = str(tmp_path)
    queue = [_queued("omar", "c1", 1), _queued("lena", "c2", 1), _queued("lena", "c1", 2)]
    wh.upsert(root, "queue", {DATE: [rows.queue_row(q) for q in queue]})
    wh.upsert(root, "queue", {"2026-11-03": []})  # a night that queued nothing
    assert stored.queue_inspectors(root, DATE) == ("lena", "omar")
    assert stored.queue_inspectors(root, DATE, call_id="c2") == ("lena",)
    assert stored.queue_inspectors(root, DATE, call_id="c9") == ()
    assert stored.queue_inspectors(root, "2026-11-04") == ()
    assert stored.queued_inspectors(root) == {DATE: ("lena", "omar"), "2026-11-03": ()}


def test_quarantined_entries_come_back_as_written_with_their_date(tmp_path: Path) -> None:
    root = str(tmp_path)
    entries = [
        QuarantineEntry("a b/bad.wav", "A002", "not audio", "c1", "ff" * 32, DATE, "detail"),
        QuarantineEntry("quiet.wav", "A004", "no speech", "c2"),
    ]
    wh.upsert(root, "quarantine", {DATE: [rows.quarantine_row(q) for q in entries]})
    quiet = QuarantineEntry("quiet.wav", "A004", "no speech", "c2", call_date=DATE)
    back = stored.quarantined(root, DATE)
    assert sorted(back, key=lambda q: q.source_path) == [entries[0], quiet]
    assert stored.quarantined(root, DATE, call_id="c2") == [quiet]
    assert stored.quarantined(root, DATE, call_id="c9") == []
    assert stored.quarantined(root, "2026-11-04") == []


def test_stored_calls_come_back_as_the_records_written(tmp_path: Path) -> None:
    root = str(tmp_path)
    heard = CallRow(
        call_id="c1",
        source_path="a/c1.wav",
        audio_sha256="ab" * 32,
        size_bytes=10,
        language="en",
        agent_id="A-1",
        status="ok",
        metrics={"hold_s": 4.0},
        diarization=Diarization("stereo"),
    )
    quarantined = CallRow(
        call_id="c2", source_path="b.wav", audio_sha256="", size_bytes=0, status="quarantined"
    )
    wh.upsert(root, "calls", {DATE: [rows.call_to_row(c) for c in (heard, quarantined)]})
    back = stored.stored_calls(root, DATE)
    assert sorted(back, key=lambda c: c.call_id) == [heard, quarantined]
    assert stored.stored_calls(root, DATE, call_id="c2") == [quarantined]
    assert stored.stored_calls(root, DATE, call_id="c9") == []
    assert stored.stored_calls(root, "2026-11-04") == []


def test_docstring_examples_run() -> None:
    result = doctest.testmod(stored)
    assert result.attempted > 0 and result.failed == 0
