"""The file index: what a night reads of the archive, and what it recognises."""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
from pathlib import Path

import pytest
from runkit import fixture_archive
from s3kit import S3

from pipeline import warehouse as wh
from pipeline.archive import ArchiveFile, ArchiveScan, list_archive
from pipeline.file_index import (
    Changes,
    DateRange,
    FileIndex,
    Resolved,
    apply_night,
    entry_for,
    index_of,
    plan_changes,
    resolve_changes,
)
from pipeline.types import IndexEntry


def _archive(tmp_path: Path, data: Path) -> Path:
    files = {
        "2026-11-20/a.wav": "azure_whatstheweatherlike_mulaw.wav",
        "2026-11-20/b.wav": "osr_us_000_0034_8k.wav",
        "2026-11-21/c.wav": "wenet_aishell_BAC009S0724W0121.wav",
    }
    return fixture_archive(tmp_path / "archive", data, files)


EMPTY = index_of([])


def _night(
    root: Path, index: FileIndex, dates: DateRange | None = None, *, chunk_files: int = 2
) -> tuple[tuple[Changes, Resolved], FileIndex]:
    """What a night does with the index: list (in chunks of ``chunk_files``, so that
    every test crosses chunk boundaries), plan, hash, record every file as ``ok``."""
    scan = ArchiveScan(root)
    changes = plan_changes(
        str(root),
        scan.iter_chunks(chunk_files=chunk_files),
        index,
        describe=scan.describe,
        dates=dates or DateRange(),
    )
    resolved = resolve_changes(str(root), changes, index)
    entries = [
        entry_for(str(root), r, mtime_ns=resolved.mtime_ns[r.source_path], status="ok")
        for r in resolved.recordings
    ]
    after = apply_night(
        index,
        entries=entries + resolved.touched + resolved.refused,
        moved=resolved.moved,
        vanished=changes.vanished,
    )
    return (changes, resolved), after


def test_a_second_look_reads_no_unchanged_file(tmp_path: Path, data: Path) -> None:
    root = _archive(tmp_path, data)
    (changes, resolved), index = _night(root, EMPTY)
    assert resolved.hashed == 3 and len(resolved.recordings) == 3
    (changes, resolved), again = _night(root, index)
    assert changes.unchanged == 3 and not changes.todo
    assert resolved.hashed == 0 and again == index


def test_new_changed_touched_files(tmp_path: Path, data: Path) -> None:
    root = _archive(tmp_path, data)
    _, index = _night(root, EMPTY)
    shutil.copy(data / "card_call_8k.wav", root / "2026-11-21" / "new.wav")
    shutil.copy(data / "azure_katiesteve_mono.wav", root / "2026-11-20" / "b.wav")  # changed
    stat = (root / "2026-11-21" / "c.wav").stat()
    os.utime(root / "2026-11-21" / "c.wav", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    (_, resolved), after = _night(root, index)
    assert resolved.hashed == 3
    assert sorted(r.source_path for r in resolved.recordings) == [
        "2026-11-20/b.wav",
        "2026-11-21/new.wav",
    ]
    assert [t.source_path for t in resolved.touched] == ["2026-11-21/c.wav"]
    touched = after[(str(root), "2026-11-21/c.wav")]
    assert touched.mtime_ns == stat.st_mtime_ns + 10**9
    assert touched.audio_sha256 == index[(str(root), "2026-11-21/c.wav")].audio_sha256


def test_a_moved_file_keeps_its_call_and_a_copy_is_a_new_call(tmp_path: Path, data: Path) -> None:
    root = _archive(tmp_path, data)
    _, index = _night(root, EMPTY)
    before = index[(str(root), "2026-11-20/a.wav")]
    (root / "moved").mkdir()
    (root / "2026-11-20" / "a.wav").rename(root / "moved" / "renamed a.wav")
    shutil.copy(root / "2026-11-20" / "b.wav", root / "moved" / "copy of b.wav")
    (_, resolved), after = _night(root, index)
    moved = resolved.moved
    assert [(o.source_path, n.source_path) for o, n in moved] == [
        ("2026-11-20/a.wav", "moved/renamed a.wav")
    ]
    assert [r.source_path for r in resolved.recordings] == ["moved/copy of b.wav"]
    assert all(e.status == "ok" for e in after.values())  # moved, not vanished
    new = after[(str(root), "moved/renamed a.wav")]
    assert (new.call_id, new.call_date, new.audio_sha256) == (
        before.call_id,
        before.call_date,
        before.audio_sha256,
    )
    assert (str(root), "2026-11-20/a.wav") not in after


def test_vanished_files_are_reported_and_marked(tmp_path: Path, data: Path) -> None:
    root = _archive(tmp_path, data)
    _, index = _night(root, EMPTY)
    key = (str(root), "2026-11-21/c.wav")
    index = apply_night(index, entries=[dataclasses.replace(index[key], status="quarantined")])
    (root / "2026-11-20" / "b.wav").unlink()
    (root / "2026-11-21" / "c.wav").unlink()
    (changes, _), after = _night(root, index)
    assert sorted(v.source_path for v in changes.vanished) == [
        "2026-11-20/b.wav",
        "2026-11-21/c.wav",
    ]
    assert after[(str(root), "2026-11-20/b.wav")].status == "vanished"
    assert key not in after  # nothing was stored for a quarantined file
    (changes, _), again = _night(root, after)
    assert not changes.vanished and again == after


def test_a_vanished_file_that_comes_back_is_the_same_call(tmp_path: Path, data: Path) -> None:
    root = _archive(tmp_path, data)
    _, index = _night(root, EMPTY)
    (root / "2026-11-20" / "a.wav").rename(tmp_path / "away.wav")
    _, index = _night(root, index)
    shutil.copy(tmp_path / "away.wav", root / "2026-11-20" / "back.wav")
    (_, resolved), after = _night(root, index)
    assert not resolved.recordings and len(resolved.moved) == 1
    assert after[(str(root), "2026-11-20/back.wav")].status == "ok"


def test_dates_limit_what_is_read(tmp_path: Path, data: Path) -> None:
    root = _archive(tmp_path, data)
    (changes, resolved), index = _night(root, EMPTY, DateRange("2026-11-21", "2026-11-21"))
    assert [r.source_path for r in resolved.recordings] == ["2026-11-21/c.wav"]
    assert changes.outside == 2
    (changes, resolved), _ = _night(root, index, DateRange("2026-11-20"))
    assert len(resolved.recordings) == 2 and changes.outside == 0
    assert "2026-11-20" in DateRange(None, "2026-11-20") and "2026-11-21" not in DateRange(
        None, "2026-11-20"
    )


def test_a_duplicate_call_id_is_refused_once(tmp_path: Path, data: Path) -> None:
    root = _archive(tmp_path, data)
    (root / "metadata.csv").write_text(
        "call_id,file\nSAME,2026-11-20/a.wav\nSAME,2026-11-20/b.wav\n", encoding="utf-8"
    )
    (_, resolved), index = _night(root, EMPTY)
    assert [q.error_code for q in resolved.quarantined] == ["I003"]
    assert index[(str(root), "2026-11-20/b.wav")].status == "quarantined"
    (_, resolved), _ = _night(root, index)
    assert resolved.hashed == 0 and not resolved.quarantined


def _entry(n: int) -> IndexEntry:
    return IndexEntry(
        archive="/data/calls",
        source_path=f"2026-11-20/call {n}.wav",
        size_bytes=1000 + n,
        mtime_ns=1_700_000_000_000_000_000 + n,
        audio_sha256=f"{n:064x}",
        call_id=f"C-{n}",
        call_date="2026-11-20",
        status="ok",
    )


def test_index_schema_is_the_record() -> None:
    assert wh.INDEX_SCHEMA.names == [f.name for f in dataclasses.fields(IndexEntry)]


def test_index_round_trip_local(tmp_path: Path) -> None:
    assert wh.read_index(tmp_path).num_rows == 0
    entries = [_entry(n) for n in (3, 1, 2)]
    wh.write_index(tmp_path, wh.index_table(entries))
    assert wh.index_entries(wh.read_index(tmp_path)) == sorted(entries, key=lambda e: e.source_path)
    index = FileIndex(wh.read_index(tmp_path))
    assert index[("/data/calls", "2026-11-20/call 1.wav")] == _entry(1)
    assert ("/elsewhere", "2026-11-20/call 1.wav") not in index


def test_index_round_trip_s3(s3: S3) -> None:
    url = f"{s3.bucket()}/earmark"
    entries = [_entry(n) for n in range(5)]
    wh.write_index(url, wh.index_table(entries))
    assert wh.index_entries(wh.read_index(url)) == entries


def test_a_damaged_index_is_a_coded_error(tmp_path: Path) -> None:
    path = Path(wh.index_path(tmp_path))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not parquet")
    with pytest.raises(wh.WarehouseError, match=r"\[W002\].*file_index"):
        wh.read_index(tmp_path)


def _small_archive(root: Path) -> None:
    """Twelve files of distinct content over three day folders (only hashed, never
    decoded: the file index reads bytes)."""
    for n in range(12):
        day = root / f"2026-11-{20 + n % 3}"
        day.mkdir(parents=True, exist_ok=True)
        (day / f"call-{n:02d}.wav").write_bytes(f"recording {n} ".encode() * (10 + n))


def _outcome(changes: Changes, resolved: Resolved, after: FileIndex) -> tuple[object, ...]:
    return (
        [f.source_path for f in changes.todo],
        changes.unchanged,
        [v.source_path for v in changes.vanished],
        changes.outside,
        [r.source_path for r in resolved.recordings],
        [(o.source_path, n.source_path) for o, n in resolved.moved],
        [t.source_path for t in resolved.touched],
        list(after.values()),
    )


def test_a_chunked_compare_equals_the_whole_compare(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    _small_archive(root)
    _, index = _night(root, EMPTY, chunk_files=1000)
    day = root / "2026-11-20"
    (root / "2026-11-21" / "call-01.wav").rename(root / "2026-11-22" / "moved-01.wav")
    (root / "new folder").mkdir()
    (day / "call-03.wav").rename(root / "new folder" / "moved-03.wav")
    (root / "2026-11-22" / "call-02.wav").unlink()  # vanished
    (day / "call-06.wav").unlink()  # vanished
    (day / "call-09.wav").write_bytes(b"changed content")  # changed
    stat = (day / "call-00.wav").stat()
    os.utime(day / "call-00.wav", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched
    (day / "new-1.wav").write_bytes(b"a new call")
    shutil.copy(root / "2026-11-21" / "call-04.wav", root / "2026-11-22" / "copy-04.wav")
    outcomes = {}
    for size in (1, 2, 5, 1000):
        (changes, resolved), after = _night(root, index, chunk_files=size)
        outcomes[size] = _outcome(changes, resolved, after)
    assert len(set(map(repr, outcomes.values()))) == 1, outcomes
    todo, unchanged, vanished, outside, recordings, moved, touched, entries = outcomes[1]
    assert unchanged == 6 and outside == 0
    assert vanished == [  # the plan's: the moved ones are among them until hashed
        "2026-11-20/call-03.wav",
        "2026-11-20/call-06.wav",
        "2026-11-21/call-01.wav",
        "2026-11-22/call-02.wav",
    ]
    assert moved == [
        ("2026-11-21/call-01.wav", "2026-11-22/moved-01.wav"),
        ("2026-11-20/call-03.wav", "new folder/moved-03.wav"),
    ]
    assert recordings == [
        "2026-11-20/call-09.wav",
        "2026-11-20/new-1.wav",
        "2026-11-22/copy-04.wav",
    ]
    assert touched == ["2026-11-20/call-00.wav"]
    assert todo == sorted(todo, key=lambda p: p.split("/"))
    statuses = {e.source_path: e.status for e in entries}
    assert statuses["2026-11-22/call-02.wav"] == statuses["2026-11-20/call-06.wav"] == "vanished"
    assert "2026-11-21/call-01.wav" not in statuses and len(statuses) == 14


def test_a_plan_describes_only_new_and_changed_files(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    _small_archive(root)
    _, index = _night(root, EMPTY)
    (root / "2026-11-21" / "new.wav").write_bytes(b"new")
    (root / "2026-11-22" / "call-05.wav").write_bytes(b"changed")
    scan = ArchiveScan(root)
    described: list[str] = []

    def describe(path: str, size: int, mtime_ns: int) -> ArchiveFile:
        described.append(path)
        return scan.describe(path, size, mtime_ns)

    changes = plan_changes(str(root), scan.iter_chunks(chunk_files=3), index, describe=describe)
    assert sorted(described) == ["2026-11-21/new.wav", "2026-11-22/call-05.wav"]
    assert changes.unchanged == 11 and not changes.vanished


def test_a_listing_comes_in_chunks_of_every_audio_file(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    _small_archive(root)
    (root / "notes.txt").write_text("not audio")
    (root / "2026-11-20" / ".hidden.wav").write_bytes(b"hidden")
    scan = ArchiveScan(root)
    chunks = list(scan.iter_chunks(chunk_files=5))
    assert [len(c.source_paths) for c in chunks] == [5, 5, 2]
    listed = sorted(p for c in chunks for p in c.source_paths)
    assert listed == [f.source_path for f in list_archive(root).files]
    assert len(listed) == 12 and scan.ignored == ["notes.txt"]
    sizes = {p: s for c in chunks for p, s in zip(c.source_paths, c.sizes, strict=True)}
    assert sizes["2026-11-20/call-00.wav"] == (root / "2026-11-20" / "call-00.wav").stat().st_size


@pytest.mark.parametrize("seed", range(5))
def test_apply_night_equals_a_record_by_record_update(seed: int) -> None:
    """The columnar update (slices of the old table, the changed rows in their sorted
    place) against the same update done on a dict of records."""
    rng = random.Random(seed)
    entries = [
        dataclasses.replace(_entry(n), archive=rng.choice(["/a", "/b"]), status="ok")
        for n in rng.sample(range(200), 60)
    ]
    index = index_of(entries)
    picked = rng.sample(entries, 30)
    moved = [(e, dataclasses.replace(e, source_path=f"moved/{e.source_path}")) for e in picked[:8]]
    updated = [dataclasses.replace(e, mtime_ns=1) for e in picked[8:16]]
    new = [
        dataclasses.replace(_entry(n), archive="/a") for n in range(300, 300 + rng.randint(0, 9))
    ]
    vanished = [*picked[16:], dataclasses.replace(picked[0], mtime_ns=7)]  # last: not as held
    vanished[0] = dataclasses.replace(vanished[0], status="quarantined")
    index = apply_night(index, entries=[vanished[0]])
    expected = {(e.archive, e.source_path): e for e in index.values()}
    for old, moved_to in moved:
        del expected[(old.archive, old.source_path)]
        expected[(moved_to.archive, moved_to.source_path)] = moved_to
    for e in updated + new:
        expected[(e.archive, e.source_path)] = e
    for e in vanished:
        key = (e.archive, e.source_path)
        if expected.get(key) == e:
            if e.status == "quarantined":
                del expected[key]
            else:
                expected[key] = dataclasses.replace(e, status="vanished")
    after = apply_night(index, entries=updated + new, moved=moved, vanished=vanished)
    assert list(after.values()) == sorted(
        expected.values(), key=lambda e: (e.archive, e.source_path)
    )
    assert len(after) == len(expected) and after != index
    assert apply_night(after) is after


def test_another_archive_root_in_the_index(tmp_path: Path) -> None:
    """An index holding two archives: planning one leaves the other's entries alone; a
    call whose file left the other archive and turns up in this one is moved."""
    first, second = tmp_path / "first", tmp_path / "second"
    _small_archive(first)
    _, index = _night(first, EMPTY)
    (second / "2026-11-23").mkdir(parents=True)
    (first / "2026-11-20" / "call-00.wav").rename(second / "2026-11-23" / "from-first.wav")
    (second / "2026-11-23" / "own.wav").write_bytes(b"the second archive's own call")
    (changes, resolved), after = _night(second, index)
    assert changes.unchanged == 0 and not changes.vanished
    assert [(o.archive, n.archive, n.source_path) for o, n in resolved.moved] == [
        (str(first), str(second), "2026-11-23/from-first.wav")
    ]
    assert [r.source_path for r in resolved.recordings] == ["2026-11-23/own.wav"]
    assert sum(e.archive == str(first) for e in after.values()) == 11
    (changes, _), _ = _night(first, after)
    assert changes.unchanged == 11 and not changes.vanished and not changes.todo
