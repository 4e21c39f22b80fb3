"""Throughput of earmark's per-call processing against plain faster-whisper, same model.

For each recording: earmark end to end (decode, per-channel VAD + ASR, merge, rubric,
score; transcript cache disabled) and faster-whisper's own ``WhisperModel.transcribe()``
on the same file (same weights and compute type, VAD on, its other options left at their
defaults: beam 5, language detected, as a plain script would call it). Reports audio seconds per
wall second for both, their ratio, WER against the reference transcripts where known,
peak RSS, and the share of earmark's wall time spent outside the ASR model (decoding
the file, diarization, redaction, metrics, rubric, scoring).

The set: two stereo 8 kHz calls laid out from the real speech in ``tests/data`` (turns on
alternating channels, so the reference text is known) and the same two mixed down to
mono, the real recordings themselves, and the synthetic sample calls (no reference text).

Run: ``make bench`` or ``.venv/bin/python bench/throughput.py [FILES…] [--workers N]``.
By default earmark runs as the night does, ``[asr] workers = 0``: one call per core at
once (one thread each); ``--workers 1`` measures one worker with every core. Plain
faster-whisper always runs one file at a time on a model with every core.
Results print as a table and are written as JSON (default ``.state/bench/throughput.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EARMARK_HOME", str(ROOT / ".state"))

from flows.env import configure_environment  # noqa: E402

configure_environment()

from flows.process import RunSettings, get_transcriber, process_recording  # noqa: E402
from models.asr import load_whisper  # noqa: E402
from pipeline.archive import sha256_file  # noqa: E402
from pipeline.audio import decode  # noqa: E402
from pipeline.config import AsrConfig, Config  # noqa: E402
from pipeline.evaluation import word_error_rate as wer  # noqa: E402
from pipeline.types import Recording  # noqa: E402

DATA = ROOT / "tests" / "data"
DEFAULT_FILES = [
    DATA / "osr_us_000_0034_8k.wav",
    DATA / "azure_katiesteve_mono.wav",
    DATA / "faster_whisper_stereo_diarization.wav",
    *sorted((ROOT / "samples" / "archive").rglob("*.wav")),
]


MIXES = {  # stereo 8 kHz calls of real speech: (channel, file) turns, 1 s apart
    "mix-a": [
        (0, "osr_us_000_0034_8k.wav"),
        (1, "faster_whisper_jfk.flac"),
        (0, "azure_katiesteve_mono.wav"),
        (1, "azure_whatstheweatherlike_mulaw.wav"),
    ],
    "mix-b": [
        (0, "azure_whatstheweatherlike_mulaw.wav"),
        (1, "azure_katiesteve_mono.wav"),
        (0, "faster_whisper_jfk.flac"),
        (1, "osr_us_000_0034_8k.wav"),
    ],
}


def references() -> dict[str, str]:
    manifest = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))
    refs = {e["file"]: e["reference_transcript"] for e in manifest}
    for name, turns in MIXES.items():
        text = " ".join(refs[f] for _, f in turns)
        refs[f"{name}-stereo-8k.wav"] = refs[f"{name}-mono-8k.wav"] = text
    return refs


def write_mixes(folder: Path) -> list[Path]:
    """The stereo mixes, and each mixed down to mono, as 8 kHz 16-bit WAV files."""
    out = []
    for name, turns in MIXES.items():
        blocks = []
        for channel, file in turns:
            x = decode(DATA / file, sr=8000).samples.mean(axis=0)
            block = np.zeros((len(x) + 8000, 2), dtype=np.float32)
            block[: len(x), channel] = x
            blocks.append(block)
        stereo = np.concatenate(blocks)
        for layout, samples in (("stereo", stereo), ("mono", stereo.mean(axis=1))):
            path = folder / f"{name}-{layout}-8k.wav"
            sf.write(path, samples, 8000, subtype="PCM_16")
            out.append(path)
    return out


def recording(path: Path) -> Recording:
    """A recording with a fresh hash, so no cached transcript is reused."""
    digest = sha256_file(path) + str(time.time_ns())
    return Recording(path.stem, path.name, str(path), digest, "2026-01-01", path.stat().st_size)


def run_earmark(files: list[Path], config: Config, warehouse: str) -> tuple[list[Any], float]:
    """Every file through earmark's per-call processing, ``[asr] workers`` at a time."""
    settings = RunSettings(config=config, warehouse=warehouse)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=config.asr.worker_count) as pool:
        results = list(pool.map(lambda f: _timed(f, settings), files))
    return results, time.monotonic() - started


def _timed(path: Path, settings: RunSettings) -> tuple[Any, float]:
    started = time.monotonic()
    result = process_recording(recording(path), settings)
    return result, time.monotonic() - started


def time_asr(transcriber: Any) -> list[float]:
    """Count the seconds spent inside the ASR model (language detection and decoding):
    everything else in a call's wall time is earmark's own overhead."""
    busy = [0.0]

    def timed(method: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return method(*args, **kwargs)
            finally:
                busy[0] += time.monotonic() - started

        return wrapper

    transcriber.transcribe = timed(transcriber.transcribe)
    transcriber.language_probabilities = timed(transcriber.language_probabilities)
    return busy


def run_plain(path: Path, model: Any) -> tuple[str, float]:
    """faster-whisper's own defaults (beam 5; it detects the language itself, as earmark
    does), with VAD on, on a model that has every core."""
    started = time.monotonic()
    segments, _ = model.transcribe(str(path), vad_filter=True)
    text = " ".join(s.text for s in segments)
    return text, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument(
        "--workers", type=int, default=0, help="earmark's [asr] workers (default 0: one per core)"
    )
    parser.add_argument("--json", type=Path, default=ROOT / ".state" / "bench" / "throughput.json")
    args = parser.parse_args(argv)
    config = Config(asr=AsrConfig(workers=args.workers))
    transcriber = get_transcriber(config.asr)
    cores = os.cpu_count() or 1
    plain_model = load_whisper(
        transcriber.source.path, transcriber.device, transcriber.compute_type, cores, True
    )
    refs = references()
    asr_busy = time_asr(transcriber)
    with tempfile.TemporaryDirectory() as tmp:
        files = args.files or [
            *write_mixes(Path(tmp)),
            *(f for f in DEFAULT_FILES if f.exists() and f.stat().st_size > 1000),
        ]
        # warm both (model load, spaCy, numba) on the first file, outside the timings
        run_earmark(files[:1], config, str(Path(tmp) / "warm"))
        run_plain(files[0], plain_model)
        asr_busy[0] = 0.0
        results, earmark_wall = run_earmark(files, config, str(Path(tmp) / "warehouse"))
        asr_s = asr_busy[0]
        plains = [run_plain(f, plain_model) for f in files]
    rows: list[dict[str, Any]] = []
    for path, (result, wall), (plain, plain_s) in zip(files, results, plains, strict=True):
        if result.transcript is None:
            rows.append({"file": path.name, "skipped": result.quarantine.reason})
            continue
        duration = result.transcript.duration_s
        row: dict[str, Any] = {
            "file": path.name,
            "audio_s": round(duration, 2),
            "earmark_wall_s": round(wall, 2),
            "plain_wall_s": round(plain_s, 2),
            "plain_x_realtime": round(duration / plain_s, 2),
        }
        if path.name in refs:
            ours = " ".join(u.text for u in result.transcript.utterances)
            row["wer_earmark"] = round(wer(refs[path.name], ours), 3)
            row["wer_plain"] = round(wer(refs[path.name], plain), 3)
        rows.append(row)
    done = [r for r in rows if "audio_s" in r]
    audio = sum(r["audio_s"] for r in done)
    plain_wall = sum(r["plain_wall_s"] for r in done)
    scored = [r for r in done if "wer_earmark" in r]
    summary = {
        "files": len(done),
        "audio_s": round(audio, 1),
        "workers": config.asr.worker_count,
        "earmark_x_realtime": round(audio / earmark_wall, 2),
        "plain_x_realtime": round(audio / plain_wall, 2),
        "ratio": round(plain_wall / earmark_wall, 2),
        "mean_wer_earmark": round(sum(r["wer_earmark"] for r in scored) / len(scored), 3),
        "mean_wer_plain": round(sum(r["wer_plain"] for r in scored) / len(scored), 3),
        "share_outside_asr": round(1 - asr_s / sum(r["earmark_wall_s"] for r in done), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_count": cores,
    }
    for r in rows:
        print(json.dumps(r, ensure_ascii=False))
    print(json.dumps(summary))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"summary": summary, "files": rows}, indent=1, ensure_ascii=False)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
