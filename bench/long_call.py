"""Peak memory and speed of one long recording, processed end to end.

Builds a stereo 8 kHz call of ``--minutes`` (default 60) from the real-speech payment
call in ``tests/data`` (48 s), repeated with long quiet stretches between the repeats, like a
long call with holds. Then runs earmark's per-call processing (decode, per-channel VAD + ASR,
merge, diarization when mono, redaction, metrics, rubric, score) in a fresh child process
and reports the child's peak RSS, its wall time and what came out.

Run: ``.venv/bin/python bench/long_call.py [--minutes 60] [--workers N] [--json out.json]``.
Results print as JSON and are written to ``.state/bench/long_call.json``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from benchenv import ROOT, state_path, use_checkout  # bench/benchenv.py
from figures import publish  # bench/figures.py, beside this script

use_checkout()

SPEECH = ROOT / "tests" / "data" / "card_call_8k.wav"
GAP_S = 150.0
NOISE_DBFS = -60.0


def build_call(path: Path, *, minutes: float, seed: int = 0) -> float:
    """Write the long call to ``path`` (PCM 16-bit stereo, 8 kHz); returns its duration."""
    speech, sr = sf.read(SPEECH, dtype="float32", always_2d=True)
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * sr)
    gap = int(GAP_S * sr)
    with sf.SoundFile(path, "w", samplerate=sr, channels=2, subtype="PCM_16") as out:
        written = 0
        while written < total:
            for block in (speech, _noise(rng, gap, sr)):
                block = block[: total - written]
                out.write(block)
                written += len(block)
    return total / sr


def _noise(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    level = 10 ** (NOISE_DBFS / 20)
    return (rng.standard_normal((n, 2)) * level).astype(np.float32)


def _process(path: str, warehouse: str, workers: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from flows.env import configure_environment

    configure_environment()
    from flows.process import RunSettings, process_recording
    from pipeline.archive import sha256_file
    from pipeline.config import AsrConfig, Config
    from pipeline.types import Recording

    p = Path(path)
    rec = Recording(p.stem, p.name, path, sha256_file(p), "2026-01-01", p.stat().st_size)
    started = time.monotonic()
    result = process_recording(
        rec,
        RunSettings(
            config=Config(languages=["en"], asr=AsrConfig(workers=workers)), warehouse=warehouse
        ),
    )
    wall = time.monotonic() - started
    transcript = result.transcript
    queue.put(
        {
            "wall_s": round(wall, 1),
            "asr_wall_s": round(result.asr_wall_s, 1),
            "quarantine": result.quarantine.reason if result.quarantine else None,
            "utterances": len(transcript.utterances) if transcript else 0,
            "speech_s": result.analysis.speech_s if result.analysis else None,
            "metrics_wall_s": result.analysis.metrics_wall_s if result.analysis else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    )


def _worker_count(workers: int) -> int:
    from pipeline.config import AsrConfig

    return AsrConfig(workers=workers).worker_count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument(
        "--workers", type=int, default=0, help="[asr] workers: model replicas (0: one per core)"
    )
    parser.add_argument("--json", type=Path, default=state_path("long_call.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        call = Path(tmp) / "long call.wav"
        duration = build_call(call, minutes=args.minutes)
        ctx = multiprocessing.get_context("spawn")  # a fresh process: its peak is this call's
        queue = ctx.Queue()
        child = ctx.Process(
            target=_process, args=(str(call), str(Path(tmp) / "wh"), args.workers, queue)
        )
        child.start()
        row = queue.get()
        child.join()
    summary = {
        "audio_s": round(duration, 1),
        "file_mb": round(duration * 8000 * 2 * 2 / 1e6, 1),
        **row,
        "x_realtime": round(duration / row["wall_s"], 2),
        "cpu_count": os.cpu_count(),
        "workers": _worker_count(args.workers),
    }
    publish(summary, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
