"""A night killed with SIGKILL and run again gives the same tables as an uninterrupted
night: nothing duplicated, nothing missing, finished work not redone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest
import soundfile as sf
from runkit import EARMARK, ROOT, child_env, earmark, shifted_calls

from flows.process import RunSettings, process_recording
from pipeline.archive import discover
from pipeline.config import Config

pytestmark = pytest.mark.slow
TABLES = ("calls", "utterances", "findings", "scores", "queue", "quarantine")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, data: Path, stereo_call: Path) -> Path:
    root = shifted_calls(tmp_path_factory.mktemp("crash") / "archive", stereo_call, data, calls=4)
    (root / "junk.wav").write_bytes(b"RIFF....WAVEfmt ")
    return root


def _cmd(archive: Path, warehouse: Path) -> list[str]:
    return ["run", "--archive", str(archive), "--warehouse", str(warehouse), "--language", "en"]


def _tables(warehouse: Path) -> dict[str, list[dict]]:
    out = {}
    for t in TABLES:
        rows = (
            ds.dataset(warehouse / t, format="parquet", partitioning="hive").to_table().to_pylist()
        )
        out[t] = sorted(rows, key=lambda r: repr(sorted(r.items())))
    return out


def _transcripts(cache: Path) -> int:
    """Cached transcripts (the cache also holds each call's meaning vectors, written after)."""
    count = 0
    for entry in cache.rglob("*.json"):
        try:
            count += '"utterances"' in entry.read_text(encoding="utf-8")
        except OSError:  # being renamed into place
            continue
    return count


def test_sigkill_mid_night_then_rerun_equals_an_uninterrupted_night(
    archive: Path, tmp_path: Path
) -> None:
    clean = tmp_path / "clean"
    done = earmark(*_cmd(archive, clean), timeout=900)
    assert done.returncode == 0, done.stderr

    crashed = tmp_path / "crashed"
    proc = subprocess.Popen(
        [*EARMARK, *_cmd(archive, crashed)],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 600
    cache = crashed / "_cache" / "asr"
    while time.monotonic() < deadline and _transcripts(cache) < 2:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished_before_kill = _transcripts(cache)
    assert 2 <= finished_before_kill < 6, "the kill should land in the middle of the night"
    assert not (crashed / "calls").exists() or not list((crashed / "calls").rglob("*.parquet"))

    again = earmark(*_cmd(archive, crashed), timeout=900)
    assert again.returncode == 0, again.stderr
    assert f"({finished_before_kill} from cache)" in again.stdout
    assert _tables(crashed) == _tables(clean)


def test_a_file_that_disappears_mid_run_is_quarantined(archive: Path, tmp_path: Path) -> None:
    root = tmp_path / "a"
    shutil.copytree(archive, root)
    found = discover(root)
    victim = next(r for r in found.recordings if r.source_path == "call-1.wav")
    Path(victim.path).unlink()
    result = process_recording(
        victim, RunSettings(config=Config(languages=["en"]), warehouse=str(tmp_path / "wh"))
    )
    assert result.quarantine is not None
    assert result.quarantine.error_code == "A009" and "call-1.wav" in result.quarantine.reason


def test_unusual_sample_rate_is_decoded(data: Path, tmp_path: Path) -> None:
    import librosa

    y, sr = sf.read(data / "osr_us_000_0034_8k.wav", dtype="float32")
    odd = librosa.resample(y, orig_sr=sr, target_sr=11025)
    path = tmp_path / "odd.wav"
    sf.write(path, odd, 11025)
    (tmp_path / "arch").mkdir()
    shutil.move(path, tmp_path / "arch" / "odd.wav")
    rec = discover(tmp_path / "arch").recordings[0]
    result = process_recording(
        rec, RunSettings(config=Config(languages=["en"]), warehouse=str(tmp_path / "wh"))
    )
    assert result.transcript is not None and result.analysis is not None
    assert result.analysis.sample_rate == 11025
    assert "gold ring" in " ".join(u.text for u in result.transcript.utterances).lower()
