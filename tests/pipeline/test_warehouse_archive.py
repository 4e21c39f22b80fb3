from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest
from runkit import fixture_archive

from pipeline import lease
from pipeline import warehouse as wh
from pipeline.archive import discover
from pipeline.errors import InputError, WarehouseError
from pipeline.metadata import read_metadata


def _score(call: str, version: int = 1, score: float = 50.0) -> dict:
    return {
        "call_id": call,
        "rubric_id": "r",
        "rubric_version": version,
        "score": score,
        "critical_failed": False,
        "needs_review": True,
        "reasons": ["x"],
        "priority": 1.0,
    }


def test_upsert_replaces_by_key_and_keeps_other_versions(tmp_path: Path) -> None:
    wh.upsert(tmp_path, "scores", {"2026-11-20": [_score("a"), _score("b")]})
    wh.upsert(tmp_path, "scores", {"2026-11-20": [_score("a", score=90.0)]})
    wh.upsert(tmp_path, "scores", {"2026-11-20": [_score("a", version=2)]})
    rows = wh.read_table(tmp_path, "scores").to_pylist()
    assert sorted((r["call_id"], r["rubric_version"], r["score"]) for r in rows) == [
        ("a", 1, 90.0),
        ("a", 2, 50.0),
        ("b", 1, 50.0),
    ]


def test_tables_read_back_with_pyarrow_hive_and_duckdb(tmp_path: Path) -> None:
    wh.upsert(tmp_path, "scores", {"2026-11-20": [_score("a")], "2026-11-21": [_score("b")]})
    table = ds.dataset(tmp_path / "scores", format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("call_id").to_pylist()) == ["a", "b"]
    assert table.schema.field("reasons").type == wh.SCHEMAS["scores"].field("reasons").type
    glob = str(tmp_path / "scores" / "**" / "*.parquet")
    got = duckdb.sql(
        f"select call_id, cast(call_date as varchar) from read_parquet('{glob}', hive_partitioning=true) order by 1"
    ).fetchall()
    assert got == [("a", "2026-11-20"), ("b", "2026-11-21")]
    meta = ds.dataset(tmp_path / "scores", format="parquet").schema.metadata
    assert meta[b"earmark.schema_version"] == b"1"


def test_one_file_per_partition_and_no_temp_left(tmp_path: Path) -> None:
    for _ in range(3):
        wh.upsert(tmp_path, "scores", {"2026-11-20": [_score("a")]})
    files = sorted(p.name for p in (tmp_path / "scores").rglob("*"))
    assert files == ["call_date=2026-11-20", "part-0.parquet"]


def test_failed_write_leaves_previous_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh.upsert(tmp_path, "scores", {"2026-11-20": [_score("a")]})

    def disk_full(table: object, where: str, **kwargs: object) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wh.pq, "write_table", disk_full)
    with pytest.raises(WarehouseError, match=r"\[W006\] .*part-0.parquet: no space left"):
        wh.upsert(tmp_path, "scores", {"2026-11-20": [_score("b")]})
    monkeypatch.undo()
    assert [r["call_id"] for r in wh.read_table(tmp_path, "scores").to_pylist()] == ["a"]
    assert not list((tmp_path / "scores").rglob(".tmp-*"))


def test_second_night_is_refused_while_first_holds_lock(tmp_path: Path) -> None:
    entered, release = threading.Event(), threading.Event()

    def first() -> None:
        with lease.night_lock(tmp_path):
            entered.set()
            release.wait(5)

    t = threading.Thread(target=first)
    t.start()
    entered.wait(5)
    try:
        # flock is per open file description, so a second open in this process conflicts too
        with (
            pytest.raises(WarehouseError, match="another earmark run") as info,
            lease.night_lock(tmp_path),
        ):
            pass
        assert info.value.code == "W001"
    finally:
        release.set()
        t.join()
    with lease.night_lock(tmp_path):
        pass


def test_transcript_cache_round_trip_and_damaged_entry(tmp_path: Path) -> None:
    wh.write_cached(tmp_path, "ab" * 32, {"x": 1})
    assert wh.read_cached(tmp_path, "ab" * 32) == {"x": 1}
    damaged = Path(wh.cache_path(tmp_path, "cd" * 32))
    damaged.parent.mkdir(parents=True)
    damaged.write_text("{trunc")
    with pytest.raises(
        wh.CacheEntryDamaged, match=r"\[W008\] .*cdcd.*\.json: damaged cache entry, not JSON"
    ):
        wh.read_cached(tmp_path, "cd" * 32)
    damaged.write_text("[1, 2]")
    with pytest.raises(wh.CacheEntryDamaged, match="not a JSON object but list"):
        wh.read_cached(tmp_path, "cd" * 32)


def _archive(tmp_path: Path, data: Path) -> Path:
    files = {
        "2026-11-20/queue a/Café call 1.wav": "osr_us_000_0034_8k.wav",
        "misc/C-77.wav": "azure_whatstheweatherlike_mulaw.wav",
        "misc/x.flac": "faster_whisper_jfk.flac",
    }
    root = fixture_archive(tmp_path / "arch", data, files)
    (root / "notes.txt").write_text("not audio")
    (root / "metadata.csv").write_text(
        "call_id,file,agent_id,team_id,started_at,direction,wrapup_code\n"
        'C-1,2026-11-20/queue a/Café call 1.wav,A-101,TEAM-01,2026-11-19T23:30:00+00:00,inbound,"billing, late"\n'
        "C-77,,A-102,TEAM-02,2026-11-21T08:00:00Z,outbound,x\n"
        "C-9,missing.wav,A-1,T,not-a-date,inbound,x\n"
        "C-10,too,few\n"
        "C-11,a.wav,A,T,2026-11-20,in,x,one too many\n",
        encoding="utf-8",
    )
    return root


def test_discover_joins_metadata_by_file_then_stem(tmp_path: Path, data: Path) -> None:
    found = discover(_archive(tmp_path, data))
    by_id = {r.call_id: r for r in found.recordings}
    assert set(by_id) == {"C-1", "C-77", "misc/x"}
    c1 = by_id["C-1"]
    assert c1.source_path == "2026-11-20/queue a/Café call 1.wav"
    assert c1.call_date == "2026-11-19"  # started_at wins over the folder's date
    assert c1.metadata["wrapup_code"] == "billing, late"  # unknown columns are kept
    assert by_id["C-77"].metadata["agent_id"] == "A-102" and by_id["C-77"].call_date == "2026-11-21"
    assert len(c1.audio_sha256) == 64
    assert found.ignored == ["notes.txt"]
    reasons = {q.source_path: (q.error_code, q.reason) for q in found.quarantined}
    assert reasons == {"metadata.csv:6": ("I004", "row has 8 fields, header has 7")}
    # a bad date is reported by line and column; the row matches no recording either;
    # a short row keeps the fields it has
    issues = [(i.line, i.column, i.code) for i in found.metadata_issues]
    assert issues == [(4, 5, "I005"), (4, 0, "I011"), (5, 4, "I013"), (5, 0, "I011")]
    assert "the missing team_id, started_at, direction, wrapup_code taken as empty" in str(
        found.metadata_issues[2]
    )
    assert "not-a-date" in found.metadata_issues[0].problem


def test_discover_is_stable_and_content_addressed(tmp_path: Path, data: Path) -> None:
    root = _archive(tmp_path, data)
    a = discover(root)
    os.utime(root / "misc" / "x.flac", (0, 0))
    b = discover(root)
    assert [(r.call_id, r.audio_sha256) for r in a.recordings] == [
        (r.call_id, r.audio_sha256) for r in b.recordings
    ]


def test_missing_archive_and_bad_metadata(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="archive folder not found"):
        discover(tmp_path / "nope")
    bad = tmp_path / "metadata.csv"
    bad.write_text("agent,team\nx,y\n")
    with pytest.raises(InputError, match="needs a 'file' or 'call_id' column"):
        read_metadata(bad)
