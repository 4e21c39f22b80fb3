"""Storage faults: each ends in a coded error naming the file, or a recovery, and loses
nothing (the previous partition stays readable, no temporary file is left)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from pipeline import lease, rows
from pipeline import warehouse as wh
from pipeline.errors import WarehouseError
from pipeline.types import QuarantineEntry

DATE = "2026-11-20"


def _rows(*names: str) -> dict[str, list[dict[str, Any]]]:
    entries = [QuarantineEntry(f"{n}.wav", "A001", "empty file", n, "", DATE) for n in names]
    return {DATE: [rows.quarantine_row(q) for q in entries]}


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob(".tmp-*")]


def _stored(root: Path) -> list[str]:
    table = wh.read_partition(root, "quarantine", DATE)
    assert table is not None
    return sorted(table["source_path"].to_pylist())


# ---------------------------------------------------------------- disk full


def test_disk_full_while_writing_a_partition_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh.upsert(tmp_path, "quarantine", _rows("a", "b"))
    before = Path(wh.partition_path(tmp_path, "quarantine", DATE)).read_bytes()
    real_write = wh.pq.write_table

    def half_then_enospc(table: pa.Table, where: Any, **kw: Any) -> None:
        real_write(table, where, **kw)  # the disk fills up half-way through the file
        size = os.path.getsize(where)
        with open(where, "r+b") as f:
            f.truncate(size // 2)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(wh.pq, "write_table", half_then_enospc)
    with pytest.raises(WarehouseError) as caught:
        wh.upsert(tmp_path, "quarantine", _rows("c"))
    assert caught.value.code == "W006"
    assert f"quarantine/call_date={DATE}/part-0.parquet: no space left" in str(caught.value)
    assert "previous version is intact" in str(caught.value)
    monkeypatch.undo()
    assert Path(wh.partition_path(tmp_path, "quarantine", DATE)).read_bytes() == before
    assert _stored(tmp_path) == ["a.wav", "b.wav"]
    assert _temporaries(tmp_path) == []


def test_disk_full_when_syncing_keeps_the_partition_and_the_cache_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh.upsert(tmp_path, "quarantine", _rows("a"))
    wh.write_cached(tmp_path, "ab" * 32, {"x": 1})

    def enospc(*_: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(wh.os, "fsync", enospc)
    with pytest.raises(WarehouseError, match=r"^\[W006\] .*part-0\.parquet: no space left"):
        wh.upsert(tmp_path, "quarantine", _rows("b"))
    with pytest.raises(WarehouseError, match=r"^\[W006\] .*abab\.json: no space left"):
        wh.write_cached(tmp_path, "ab" * 32, {"x": 2})
    monkeypatch.undo()
    assert _stored(tmp_path) == ["a.wav"]
    assert wh.read_cached(tmp_path, "ab" * 32) == {"x": 1}
    assert _temporaries(tmp_path) == []


def test_another_os_error_is_not_disguised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def eio(*_: Any, **__: Any) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(wh.pq, "write_table", eio)
    with pytest.raises(OSError) as caught:
        wh.upsert(tmp_path, "quarantine", _rows("a"))
    assert not isinstance(caught.value, WarehouseError) and caught.value.errno == errno.EIO
    assert _temporaries(tmp_path) == []


# ---------------------------------------------------------------- read-only warehouse


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A warehouse folder nothing can be created in, even by root.

    As root, permission bits do not stop writes, so the folder is made immutable
    (``chattr +i``, ext4/xfs/btrfs); as another user, ``chmod 555`` does it.
    """
    root = tmp_path / "wh"
    wh.upsert(root, "quarantine", _rows("a"))
    with lease.night_lock(root):  # a lock file left by earlier nights stays writable
        pass
    folders = [root, Path(wh.partition_path(root, "quarantine", DATE)).parent]
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None:
            pytest.skip("running as root without chattr: no way to make a folder read-only")
        done = [subprocess.run([chattr, "+i", str(f)], capture_output=True) for f in folders]
        if any(d.returncode for d in done):
            pytest.skip(f"chattr +i is not supported here: {done[0].stderr!r}")
        try:
            yield root
        finally:
            for f in folders:
                subprocess.run([chattr, "-i", str(f)], check=True)
    else:
        for f in folders:
            f.chmod(0o555)
        try:
            yield root
        finally:
            for f in folders:
                f.chmod(0o755)


def test_a_read_only_warehouse_is_refused_when_the_night_takes_its_lock(read_only: Path) -> None:
    with pytest.raises(WarehouseError) as caught, lease.night_lock(read_only):
        pass
    assert caught.value.code == "W004"
    assert str(read_only) in str(caught.value) and "read-only" in str(caught.value)


def test_a_read_only_partition_folder_gives_a_coded_error_and_keeps_the_partition(
    read_only: Path,
) -> None:
    with pytest.raises(WarehouseError) as caught:
        wh.upsert(read_only, "quarantine", _rows("b"))
    assert caught.value.code == "W004"
    assert f"call_date={DATE}/part-0.parquet: the warehouse is read-only" in str(caught.value)
    assert _stored(read_only) == ["a.wav"]
    assert _temporaries(read_only) == []


# ---------------------------------------------------------------- corrupted partition


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b"garbage " * 64, id="garbage"),
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b"", id="empty"),
    ],
)
def test_a_corrupted_partition_is_named_and_never_overwritten(tmp_path: Path, damage: Any) -> None:
    wh.upsert(tmp_path, "quarantine", _rows("a"))
    path = Path(wh.partition_path(tmp_path, "quarantine", DATE))
    bad = damage(path.read_bytes())
    path.write_bytes(bad)
    for read in (
        lambda: wh.read_partition(tmp_path, "quarantine", DATE),
        lambda: wh.read_table(tmp_path, "quarantine"),
        lambda: wh.upsert(tmp_path, "quarantine", _rows("b")),
    ):
        with pytest.raises(WarehouseError) as caught:
            read()
        assert caught.value.code == "W002"
        message = str(caught.value)
        assert str(path) in message and "unreadable partition" in message
        assert "move it aside" in message
    assert path.read_bytes() == bad  # the night stops; the damaged file is left as evidence
    assert _temporaries(tmp_path) == []


# ---------------------------------------------------------------- clock jumps and the lease


def _lock(url: str) -> tuple[Any, str]:
    import s3fs

    return s3fs.S3FileSystem(), wh.join(url, lease.LOCK_NAME)


def _read(fs: Any, lock: str) -> dict[str, Any]:
    fs.invalidate_cache(lock)
    return dict(json.loads(fs.cat_file(lock)))


def test_a_live_nights_clock_jumping_back_does_not_shorten_its_lease(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = s3.bucket()
    fs, lock = _lock(url)
    with lease.night_lock(url, lease_s=1.0):
        monkeypatch.setattr(lease, "wall_clock", lambda: time.time() - 3600)  # NTP step back 1 h
        time.sleep(0.7)  # three renewals
        held = _read(fs, lock)
        assert held["expires"] > time.time(), "others would see a live lock as expired"
        assert held["expires"] <= time.time() + 1.0
    assert not fs.exists(lock)  # released normally: the night did not lose its lock


def test_a_live_lock_that_looks_expired_after_a_clock_jump_is_not_taken(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = s3.bucket()
    holding, release = threading.Event(), threading.Event()
    outcome: list[str] = []

    def live_night() -> None:
        try:
            with lease.night_lock(url, lease_s=1.0):
                holding.set()
                release.wait(10)
            outcome.append("ok")
        except WarehouseError as exc:
            outcome.append(exc.code)

    night = threading.Thread(target=live_night)
    night.start()
    assert holding.wait(10)
    # the second night's clock runs 1.5 s ahead: the live lease looks expired 0.5 s ago
    monkeypatch.setattr(lease, "wall_clock", lambda: time.time() + 1.5)
    with (
        pytest.raises(WarehouseError, match=r"\[W001\] .*renewing its lease"),
        lease.night_lock(url),
    ):
        pass
    release.set()
    night.join(10)
    assert outcome == ["ok"], "the live night must keep its lock"


@pytest.mark.parametrize(
    "expires",
    [
        pytest.param(lambda: time.time() + 10 * 365 * 86400, id="ten-years-ahead"),
        pytest.param(lambda: time.time() - 0.5, id="just-expired"),
    ],
)
def test_a_dead_nights_lock_is_taken_over_whatever_its_clock_said(s3: Any, expires: Any) -> None:
    url = s3.bucket()
    fs, lock = _lock(url)
    dead = {"holder": "jumped-host pid 9", "expires": expires(), "lease_s": 1.0}
    fs.pipe_file(lock, json.dumps(dead).encode())
    started = time.monotonic()
    with lease.night_lock(url, lease_s=1.0):
        assert _read(fs, lock)["holder"] != dead["holder"]
    assert time.monotonic() - started < 5  # watched for one renewal, not forever
