"""A quiet terminal: decoder chatter is captured and counted per call (issue 14, part 7)."""

from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf
from rowkit import analysis

from pipeline import rows
from pipeline import warehouse as wh
from pipeline.audio import decode
from pipeline.quiet import captured_stderr
from pipeline.types import Recording


def _mp3(data: Path, target: Path) -> Path:
    """A real 8 kHz recording (tests/data) encoded to MP3 by libsndfile."""
    speech, sr = sf.read(data / "osr_us_000_0034_8k.wav", dtype="float32")
    sf.write(target, speech[: sr * 6], sr, format="MP3", subtype="MPEG_LAYER_III")
    return target


def _damage(clean: Path, target: Path, *, seed: int = 7) -> Path:
    """Flip side-information bytes of every other frame in the middle half: the decoder
    repairs or skips those frames, and libmpg123 prints about each to fd 2."""
    raw = bytearray(clean.read_bytes())
    sync = [i for i in range(len(raw) - 8) if raw[i] == 0xFF and raw[i + 1] & 0xE0 == 0xE0]
    rng = random.Random(seed)
    for at in sync[len(sync) // 4 : 3 * len(sync) // 4 : 2]:
        for off in (4, 5, 6, 7):
            raw[at + off] ^= rng.randrange(1, 256)
    target.write_bytes(bytes(raw))
    return target


@pytest.fixture(scope="module")
def mp3s(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("mp3")
    clean = _mp3(data, folder / "clean.mp3")
    return clean, _damage(clean, folder / "noisy call.mp3")


def test_a_damaged_mp3_decodes_quietly_and_its_warnings_are_counted(
    mp3s: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    clean, noisy = mp3s
    good = decode(clean, sr=16_000)
    audio = decode(noisy, sr=16_000)
    out = capfd.readouterr()
    assert out.err == "" and out.out == ""
    assert good.decode_warnings == 0
    assert audio.decode_warnings > 0
    assert audio.duration_s == pytest.approx(good.duration_s, abs=0.1)  # decoded whole
    assert float(np.abs(audio.samples).max()) > 0.05


def test_without_capture_the_same_file_is_noisy(
    mp3s: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    """The fixture really makes libmpg123 print: what the capture above hides."""
    sf.read(mp3s[1], dtype="float32")
    assert "libmpg123" in capfd.readouterr().err


def test_decoding_in_worker_threads_counts_each_call_alone(
    mp3s: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    clean, noisy = mp3s
    alone = decode(noisy, sr=16_000).decode_warnings
    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(pool.map(lambda p: decode(p, sr=16_000).decode_warnings, [noisy, clean] * 4))
    assert counts == [alone, 0] * 4
    assert capfd.readouterr().err == ""


def test_other_output_during_a_capture_is_passed_on_not_lost(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with captured_stderr() as noise:
        os.write(2, b"[src/libmpg123/layer3.c:INT123_do_layer3():1774] error: part2_3_length\n")
        os.write(2, b"a log line from another thread\n")
        os.write(2, b"\rcalls:  50%|#####     | 1/2\rcalls: 100%|##########| 2/2")
    assert noise.count == 1 and noise.passed_on == 2
    assert capfd.readouterr().err == (
        "a log line from another thread\n\rcalls:  50%|#####     | 1/2\rcalls: 100%|##########| 2/2"
    )


def test_the_count_is_a_column_of_the_calls_table(mp3s: tuple[Path, Path]) -> None:
    noisy = mp3s[1]
    audio = decode(noisy, sr=16_000)
    rec = Recording("C1", noisy.name, str(noisy), "0" * 64, "2026-12-05", noisy.stat().st_size)
    row = rows.call_row(rec, analysis(decode_warnings=audio.decode_warnings), None, "ok")
    table = pa.Table.from_pylist([row], schema=wh.SCHEMAS["calls"])
    assert table["decode_warnings"].to_pylist() == [audio.decode_warnings]
    assert table.schema.field("decode_warnings").type == pa.int32()


def _aac(target: Path) -> Path:
    """Four seconds of tone as AAC in MP4 (libsndfile refuses it: FFmpeg decodes it)."""
    import av

    tone = (np.sin(np.arange(16_000 * 4) / 16_000 * 2 * np.pi * 300) * 0.3 * 32767).astype(np.int16)
    with av.open(str(target), "w") as out:
        stream = out.add_stream("aac", rate=16_000)
        stream.layout = "mono"
        for i in range(0, len(tone), 1024):
            frame = av.AudioFrame.from_ndarray(
                tone[None, i : i + 1024], format="s16", layout="mono"
            )
            frame.sample_rate = 16_000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return target


def test_packets_ffmpeg_refuses_are_skipped_and_counted(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    clean = _aac(tmp_path / "call.m4a")
    raw = bytearray(clean.read_bytes())
    for i in range(len(raw) // 3, 2 * len(raw) // 3, 97):
        raw[i] ^= 0xFF
    (tmp_path / "bad.m4a").write_bytes(bytes(raw))
    good, bad = decode(clean, sr=16_000), decode(tmp_path / "bad.m4a", sr=16_000)
    assert good.codec == bad.codec == "ffmpeg/aac"
    assert good.decode_warnings == 0 and bad.decode_warnings > 0
    assert 1.0 < bad.duration_s < good.duration_s  # the rest of the call is kept
    assert capfd.readouterr().err == ""


def test_samples_a_decoder_left_as_nan_are_silence_and_counted(tmp_path: Path) -> None:
    """A damaged frame can come back from a decoder as NaN (seen once from libmpg123 on
    the damaged MP3 above): the VAD, the ASR and every level would be NaN after it."""
    rng = np.random.default_rng(3)
    x = (0.3 * rng.standard_normal(8000 * 3)).astype(np.float32)
    x[4000:4100] = np.nan
    x[9000] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, x, 8000, subtype="FLOAT")
    audio = decode(path, sr=16_000)
    assert np.isfinite(audio.samples).all()
    assert audio.decode_warnings == 1
    assert float(np.abs(audio.samples).max()) > 0.5
    clean = tmp_path / "clean.wav"
    sf.write(clean, np.nan_to_num(x, nan=0.0, posinf=0.0), 8000, subtype="FLOAT")
    assert decode(clean, sr=16_000).decode_warnings == 0
