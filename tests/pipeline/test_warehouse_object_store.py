"""The warehouse on an object store: the same tables, cache, copies and lock on S3.

Every test talks to a real S3 API (moto's server on loopback, see ``tests/conftest.py``)
through s3fs, as earmark does in production; nothing here is mocked.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import s3fs
from s3kit import S3

from pipeline import lease
from pipeline import warehouse as wh
from pipeline.archive import sha256_file
from pipeline.errors import WarehouseError
from pipeline.redact_audio import (
    AudioRedactOptions,
    is_current,
    remove_stale_copies,
    write_redacted_copy,
)

DATE = "2026-11-20"


def _score(call: str, score: float = 50.0) -> dict:
    return {
        "call_id": call,
        "rubric_id": "r",
        "rubric_version": 1,
        "score": score,
        "critical_failed": False,
        "needs_review": True,
        "reasons": ["x"],
        "priority": 1.0,
    }


def _objects(url: str) -> list[str]:
    fs = s3fs.S3FileSystem()
    fs.invalidate_cache()
    root = url.removeprefix("s3://")
    return sorted(p.removeprefix(root + "/") for p in fs.find(root))


def test_tables_read_back_the_same_as_on_a_local_disk(s3: S3, tmp_path: Path) -> None:
    url = f"{s3.bucket()}/earmark"
    for root in (url, tmp_path):
        wh.upsert(root, "scores", {DATE: [_score("a"), _score("b")], "2026-11-21": [_score("c")]})
        wh.upsert(root, "scores", {DATE: [_score("a", score=90.0)]})
    assert wh.partition_dates(url, "scores") == [DATE, "2026-11-21"]
    assert wh.read_table(url, "scores").equals(wh.read_table(tmp_path, "scores"))
    assert wh.read_table(url, "calls").num_rows == 0
    assert wh.read_partition(url, "scores", "2026-01-01") is None
    assert _objects(url) == [
        f"scores/call_date={DATE}/part-0.parquet",
        "scores/call_date=2026-11-21/part-0.parquet",
    ]  # one object per partition: no temporary left behind


def test_transcript_cache_round_trip_and_damaged_entry(s3: S3) -> None:
    url = s3.bucket()
    assert wh.read_cached(url, "ab" * 32) is None
    wh.write_cached(url, "ab" * 32, {"words": ["ça", "好"]})
    assert wh.read_cached(url, "ab" * 32) == {"words": ["ça", "好"]}
    s3fs.S3FileSystem().pipe_file(wh.cache_path(url, "cd" * 32), b"{trunc")
    with pytest.raises(wh.CacheEntryDamaged, match=r"\[W008\]"):
        wh.read_cached(url, "cd" * 32)


def test_a_failed_upload_leaves_the_previous_partition(
    s3: S3, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = s3.bucket()
    wh.upsert(url, "scores", {DATE: [_score("a")]})

    def network_down(lpath: str, rpath: str, **kwargs: object) -> None:
        raise ConnectionError("connection reset by peer")

    fs, _ = wh.storage(url)  # fsspec hands every caller this same instance
    monkeypatch.setattr(fs, "put_file", network_down)
    with pytest.raises(ConnectionError):
        wh.upsert(url, "scores", {DATE: [_score("b")]})
    monkeypatch.undo()
    assert wh.read_table(url, "scores")["call_id"].to_pylist() == ["a"]


def test_redacted_copies_are_written_checked_and_pruned_on_s3(
    s3: S3, data: Path, tmp_path: Path
) -> None:
    url = s3.bucket()
    source = data / "card_call_8k.wav"
    target = wh.redacted_audio_path(url, DATE, "call 1", "k" * 20)
    options = AudioRedactOptions()
    copy = {
        "audio_sha256": sha256_file(source),
        "sample_rate": 8000,
        "spans": [(1.0, 2.0)],
        "options": options,
    }
    assert write_redacted_copy(source, target, **copy)  # type: ignore[arg-type]
    assert is_current(target, options) and not is_current(target, AudioRedactOptions("silence"))
    assert not write_redacted_copy(source, target, **copy)  # type: ignore[arg-type]
    local = wh.fetch(target, tmp_path / "copy.flac")  # what the review app plays
    assert local.read_bytes() == s3fs.S3FileSystem().cat_file(target)
    old = wh.redacted_audio_path(url, DATE, "call 1", "o" * 20)
    s3fs.S3FileSystem().pipe_file(old, b"an older copy")
    folder = wh.join(url, wh.REDACTED_AUDIO, f"call_date={DATE}")
    stems = {wh.redacted_audio_stem("call 1")}
    assert remove_stale_copies(folder, stems=stems, keep={target.rsplit("/", 1)[1]}) == 1
    assert _objects(url) == [target.removeprefix(url + "/")]


def test_a_second_night_is_refused_and_the_lock_is_released(s3: S3) -> None:
    url = s3.bucket()
    with lease.night_lock(url):
        held = json.loads(s3fs.S3FileSystem().cat_file(wh.join(url, lease.LOCK_NAME)))
        assert held["expires"] > time.time() + lease.LEASE_S - 60
        with (
            pytest.raises(WarehouseError, match=r"another earmark run .*pid") as info,
            lease.night_lock(url),
        ):
            pass
        assert info.value.code == "W001"
    assert _objects(url) == []
    with lease.night_lock(url):  # released: the next night gets it
        pass


def _nights_at_once(url: str, n: int) -> list[str]:
    """Start ``n`` nights on ``url`` at the same instant; what each got (``"ran"`` or the
    error code). The one that runs holds the lock until all the others have been refused."""
    start, done = threading.Barrier(n), threading.Event()
    outcomes: list[str] = []

    def night() -> None:
        start.wait()
        try:
            with lease.night_lock(url):
                outcomes.append("ran")
                done.wait(10)
        except WarehouseError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=night) for _ in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while outcomes.count("W001") < n - 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    done.set()
    for t in threads:
        t.join()
    return sorted(outcomes)


def test_only_one_of_many_nights_starting_at_once_gets_the_lock(s3: S3) -> None:
    assert _nights_at_once(s3.bucket(), 8) == ["W001"] * 7 + ["ran"]


def test_a_live_night_renews_its_lease_and_a_dead_one_is_taken_over(s3: S3) -> None:
    url = s3.bucket()
    fs = s3fs.S3FileSystem()
    lock = wh.join(url, lease.LOCK_NAME)
    with lease.night_lock(url, lease_s=1.0):
        first = json.loads(fs.cat_file(lock))["expires"]
        time.sleep(0.7)
        assert json.loads(fs.cat_file(lock))["expires"] > first
    dead = {"holder": "night-host pid 4242", "expires": time.time() - 2 * lease.LEASE_S}
    fs.pipe_file(lock, json.dumps(dead).encode())
    with lease.night_lock(url):
        assert json.loads(fs.cat_file(lock))["holder"] != dead["holder"]
    fs.pipe_file(lock, json.dumps({**dead, "expires": time.time() + 600}).encode())
    with (
        pytest.raises(WarehouseError, match=r"night-host pid 4242, lease renewed until"),
        lease.night_lock(url),
    ):
        pass


def test_unreachable_warehouses_are_clear_errors(s3: S3) -> None:
    with pytest.raises(WarehouseError, match=r"\[W003\] nosuch://x: cannot open"):
        wh.storage("nosuch://x")
    with (
        pytest.raises(WarehouseError, match=r"\[W004\] s3://no-such-bucket/wh: cannot write"),
        lease.night_lock("s3://no-such-bucket/wh"),
    ):
        pass


def test_of_many_nights_finding_an_abandoned_lock_one_takes_it_over(s3: S3) -> None:
    url = s3.bucket()
    dead = {"holder": "night-host pid 4242", "expires": time.time() - 2 * lease.LEASE_S}
    s3fs.S3FileSystem().pipe_file(wh.join(url, lease.LOCK_NAME), json.dumps(dead).encode())
    assert _nights_at_once(url, 6) == ["W001"] * 5 + ["ran"]


def test_a_night_whose_lock_was_taken_over_fails_instead_of_passing_as_done(s3: S3) -> None:
    url = s3.bucket()
    fs = s3fs.S3FileSystem()
    lock = wh.join(url, lease.LOCK_NAME)
    other = {"holder": "other-host pid 7", "expires": time.time() + 600}
    with pytest.raises(WarehouseError, match=r"\[W005\] .*lost its lock"):  # noqa: SIM117
        with lease.night_lock(url, lease_s=1.0):
            fs.pipe_file(lock, json.dumps(other).encode())  # e.g. after a long pause
            time.sleep(0.6)
    assert json.loads(fs.cat_file(lock))["holder"] == other["holder"]  # not deleted


def test_a_missing_bucket_or_store_is_refused_before_any_work(s3: S3, tmp_path: Path) -> None:
    wh.check_reachable(s3.bucket())
    wh.check_reachable(tmp_path / "not yet")  # a local folder is made when first written
    with pytest.raises(WarehouseError, match=r"\[W004\] s3://no-such-bucket/wh: no bucket"):
        wh.check_reachable("s3://no-such-bucket/wh")
    from flows.cli import main

    assert main(["queue", "show", "--warehouse", "s3://no-such-bucket/wh"]) == 4
