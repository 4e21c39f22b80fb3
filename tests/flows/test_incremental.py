"""A night costs what changed: the real night, the real model, real audio, real Parquet.

One seed night transcribes a small archive; each test then starts from its own copy of
the archive and of the seed's transcript cache, so its first night is all from the cache.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from prockit import alive, descendants
from runkit import EARMARK, child_env, earmark, fixture_archive

from flows.nightly import run_night, run_queue_build
from pipeline import lease
from pipeline import warehouse as wh
from pipeline.config import Config
from pipeline.file_index import DateRange

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TABLES = ("calls", "utterances", "findings", "scores", "queue", "quarantine")

# every call fails ``thanked`` (nobody says it), so every call needs review and is queued
RUBRIC = """
schema_version: 1
id: incremental
version: 1
language: en
items:
  - id: thanked
    speaker: agent
    expect: present
    weight: 100
    detector: phrase.v1
    params: {phrases: ["thank you for calling acme"]}
"""


def _config(tmp: Path) -> Config:
    (tmp / "r.yaml").write_text(RUBRIC)
    return Config(languages=["en"], rubrics={"en": str(tmp / "r.yaml")})


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory, data: Path) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("seed")
    files = {
        "2026-11-20/a.wav": "azure_whatstheweatherlike_mulaw.wav",
        "2026-11-20/b.flac": "faster_whisper_jfk.flac",
        "2026-11-21/c.wav": "osr_us_000_0034_8k.wav",
    }
    archive = fixture_archive(tmp / "archive", data, files)
    warehouse = tmp / "warehouse"
    summary = run_night(archive, warehouse, _config(tmp))
    assert summary.processed == 3 and summary.cached == 0
    return {"archive": archive, "warehouse": warehouse}


def _fresh(seed: dict[str, Path], tmp: Path) -> tuple[Path, Path, Config]:
    """A copy of the seed archive and a warehouse with the seed's transcripts, after a night."""
    archive, warehouse = tmp / "archive", tmp / "warehouse"
    shutil.copytree(seed["archive"], archive)
    shutil.copytree(seed["warehouse"] / "_cache", warehouse / "_cache")
    config = _config(tmp)
    first = run_night(archive, warehouse, config)
    assert first.processed == 3 and first.cached == 3
    return archive, warehouse, config


def _stamps(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Every file of the warehouse (but the lock) with its inode and mtime."""
    return {
        str(p.relative_to(warehouse)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in warehouse.rglob("*")
        if p.is_file() and p.name != lease.LOCK_NAME
    }


def _rows(warehouse: Path, table: str) -> list[dict]:
    if not (warehouse / table).exists():
        return []
    found = ds.dataset(warehouse / table, format="parquet", partitioning="hive").to_table()
    return sorted(found.to_pylist(), key=lambda r: repr(sorted(r.items())))


def test_a_night_on_an_unchanged_archive_touches_nothing(seed: dict, tmp_path: Path) -> None:
    archive, warehouse, config = _fresh(seed, tmp_path)
    before = _stamps(warehouse)
    assert any(k.startswith("calls/") for k in before) and "file_index/part-0.parquet" in before
    again = run_night(archive, warehouse, config)
    assert (again.processed, again.cached, again.hashed, again.unchanged) == (0, 0, 0, 3)
    assert again.call_dates == [] and again.queue == []
    assert _stamps(warehouse) == before


def test_a_moved_file_is_not_transcribed_again(seed: dict, tmp_path: Path) -> None:
    archive, warehouse, config = _fresh(seed, tmp_path)
    call = next(r for r in _rows(warehouse, "calls") if r["source_path"] == "2026-11-20/b.flac")
    (archive / "kept").mkdir()
    (archive / "2026-11-20" / "b.flac").rename(archive / "kept" / "b moved.flac")
    cache = sorted((warehouse / "_cache").rglob("*.json"))
    before = _stamps(warehouse)
    night = run_night(archive, warehouse, config)
    assert night.moved == [("2026-11-20/b.flac", "kept/b moved.flac")]
    assert (night.processed, night.cached, night.vanished) == (0, 0, [])
    assert sorted((warehouse / "_cache").rglob("*.json")) == cache
    moved = next(r for r in _rows(warehouse, "calls") if r["call_id"] == call["call_id"])
    assert moved["source_path"] == "kept/b moved.flac"
    assert moved["call_date"] == call["call_date"] and moved["audio_sha256"] == call["audio_sha256"]
    after = _stamps(warehouse)
    changed = sorted(k for k in after if after[k] != before.get(k))
    assert changed == ["calls/call_date=2026-11-20/part-0.parquet", "file_index/part-0.parquet"]


def test_a_night_never_rebuilds_a_past_queue(seed: dict, tmp_path: Path) -> None:
    archive, warehouse, config = _fresh(seed, tmp_path)
    queue = warehouse / "queue" / "call_date=2026-11-20" / "part-0.parquet"
    stamp = (queue.stat().st_ino, queue.stat().st_mtime_ns)
    # a late call for 2026-11-20 and a call of a new day (their audio is in the cache)
    shutil.copy(archive / "2026-11-20" / "a.wav", archive / "2026-11-20" / "late.wav")
    (archive / "2026-11-22").mkdir()
    shutil.copy(archive / "2026-11-21" / "c.wav", archive / "2026-11-22" / "d.wav")
    night = run_night(archive, warehouse, config)
    assert (night.processed, night.cached) == (2, 2)
    assert night.call_dates == ["2026-11-20", "2026-11-22"]
    assert night.queues_kept == ["2026-11-20"]
    assert (queue.stat().st_ino, queue.stat().st_mtime_ns) == stamp
    assert {q.call_id for q in night.queue} == {"2026-11-22/d"}
    assert "2026-11-20/late" in {r["call_id"] for r in _rows(warehouse, "calls")}
    # on purpose: queue build takes the late call in
    rebuilt = run_queue_build(str(warehouse), ["2026-11-20"], config)
    assert {q.call_id for q in rebuilt} == {"2026-11-20/a", "2026-11-20/b", "2026-11-20/late"}


def test_run_date_takes_one_day_and_leaves_the_rest(seed: dict, tmp_path: Path) -> None:
    archive, warehouse, config = _fresh(seed, tmp_path)
    for day in ("2026-11-22", "2026-11-23"):
        (archive / day).mkdir()
        shutil.copy(archive / "2026-11-21" / "c.wav", archive / day / "c.wav")
    night = run_night(archive, warehouse, config, dates=DateRange("2026-11-23", "2026-11-23"))
    assert night.processed == 1 and night.outside == 1 and night.call_dates == ["2026-11-23"]
    later = run_night(archive, warehouse, config)  # the nightly: picks up what is left
    assert later.processed == 1 and later.call_dates == ["2026-11-22"]


def test_a_vanished_file_is_reported_and_its_rows_kept(seed: dict, tmp_path: Path) -> None:
    archive, warehouse, config = _fresh(seed, tmp_path)
    (archive / "2026-11-21" / "c.wav").unlink()
    night = run_night(archive, warehouse, config)
    assert night.vanished == ["2026-11-21/c.wav"] and night.processed == 0
    assert "2026-11-21/c" in {r["call_id"] for r in _rows(warehouse, "calls")}
    statuses = {e.source_path: e.status for e in wh.index_entries(wh.read_index(warehouse))}
    assert statuses["2026-11-21/c.wav"] == "vanished"


# ---------------------------------------------------------------- backfill


def _backfill(archive: Path, warehouse: Path, tmp: Path) -> list[str]:
    return [
        "backfill",
        "--archive",
        str(archive),
        "--warehouse",
        str(warehouse),
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--config",
        str(tmp / "earmark.toml"),
        "--chunk-calls",
        "1",
        "--batch-calls",
        "1",
    ]


def test_backfill_resumes_after_kill_9(seed: dict, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    for n in range(1, 9):  # eight days, one call each (audio in the seed's cache)
        day = archive / f"2026-11-{n:02d}"
        day.mkdir(parents=True)
        source = ("2026-11-20/a.wav", "2026-11-21/c.wav")[n % 2]
        shutil.copy(seed["archive"] / source, day / f"call {n}.wav")
    (tmp_path / "r.yaml").write_text(RUBRIC)
    (tmp_path / "earmark.toml").write_text('languages = ["en"]\n[rubrics]\nen = "r.yaml"\n')
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    for warehouse in (clean, crashed):
        shutil.copytree(seed["warehouse"] / "_cache", warehouse / "_cache")

    done = earmark(*_backfill(archive, clean, tmp_path), cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "8 calls processed" in done.stdout

    proc = subprocess.Popen(
        [*EARMARK, *_backfill(archive, crashed, tmp_path)],
        cwd=tmp_path,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    indexed = 0
    while time.monotonic() < deadline and indexed < 2 and proc.poll() is None:
        time.sleep(0.05)
        try:
            indexed = wh.read_index(crashed).num_rows
        except wh.WarehouseError:  # being replaced as we read it
            continue
    children = descendants(proc.pid)  # its Prefect server among them
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= indexed < 8, f"the kill should land mid-backfill ({indexed} files indexed)"
    gone_by = time.monotonic() + 15
    while alive(children) and time.monotonic() < gone_by:
        time.sleep(0.2)
    assert not alive(children), "a process of the killed backfill outlived it"

    again = earmark(*_backfill(archive, crashed, tmp_path), cwd=tmp_path, timeout=900)
    assert again.returncode == 0, again.stderr
    unchanged = int(again.stdout.split(" unchanged")[0].rsplit(", ", 1)[-1])
    assert unchanged >= indexed  # the chunks done before the kill were not done again
    for table in TABLES:
        assert _rows(crashed, table) == _rows(clean, table), table
    archive_root = str(archive.resolve())
    assert {
        (e.archive, e.source_path, e.status) for e in wh.index_entries(wh.read_index(crashed))
    } == {(archive_root, f"2026-11-{n:02d}/call {n}.wav", "ok") for n in range(1, 9)}
