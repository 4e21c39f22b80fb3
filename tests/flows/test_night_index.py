"""What a night holds of the file index: the planned one for the hashing, then the
warehouse's, read again to record the outcome (never held while calls are processed)."""

from __future__ import annotations

from pathlib import Path

from flows.nightly import index_loader
from pipeline import warehouse as wh
from pipeline.file_index import apply_night, index_of
from pipeline.types import IndexEntry


def _entry(n: int) -> IndexEntry:
    return IndexEntry("/data", f"{n}.wav", n, n, f"{n:064x}", f"C{n}", "2026-11-20", "ok")


def test_the_planned_index_once_then_the_warehouse_one(tmp_path: Path) -> None:
    planned = index_of([_entry(1)])
    wh.write_index(tmp_path, planned.table)
    load = index_loader(str(tmp_path), planned)
    assert load() is planned
    recorded = apply_night(planned, entries=[_entry(2)])
    wh.write_index(tmp_path, recorded.table)  # what a step writes between two loads
    again = load()
    assert again is not planned and again == recorded
    assert [e.source_path for e in again.values()] == ["1.wav", "2.wav"]
