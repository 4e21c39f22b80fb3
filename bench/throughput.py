"""Throughput of earmark's per-call processing against plain faster-whisper, same model.

For each recording: earmark end to end (decode, per-channel VAD + ASR, merge, rubric,
score; transcript cache disabled) and faster-whisper's own ``WhisperModel.transcribe()``
on the same file (same weights and compute type, VAD on, its other options left at their
defaults: beam 5, language detected, as a plain script would call it). Reports audio seconds per
wall second for both, their ratio, WER against the reference transcripts where known,
peak RSS, and the share of earmark's wall time spent outside ASR.

The set: two stereo 8 kHz calls laid out from the real speech in ``tests/data`` (turns on
alternating channels, so the reference text is known) and the same two mixed down to
mono, the real recordings themselves, and the synthetic sample calls (no reference text).

Run: ``make bench`` or ``.venv/bin/python bench/throughput.py [FILES…] [--json out.json]``.
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
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EARMARK_HOME", str(ROOT / ".state"))

from flows.env import configure_environment  # noqa: E402

configure_environment()

from flows.process import RunSettings, get_transcriber, process_recording  # noqa: E402
from pipeline.archive import sha256_file  # noqa: E402
from pipeline.audio import decode  # noqa: E402
from pipeline.config import Config  # noqa: E402
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


def bench_file(path: Path, config: Config, warehouse: str) -> dict[str, object]:
    rec = Recording(
        path.stem,
        path.name,
        str(path),
        sha256_file(path) + str(time.time_ns()),
        "2026-01-01",
        path.stat().st_size,
    )
    started = time.monotonic()
    result = process_recording(rec, RunSettings(config=config, warehouse=warehouse))
    earmark_s = time.monotonic() - started
    if result.transcript is None:
        return {
            "file": path.name,
            "skipped": result.quarantine.reason if result.quarantine else "?",
        }
    ours = " ".join(u.text for u in result.transcript.utterances)
    transcriber = get_transcriber(config.asr)
    started = time.monotonic()
    # faster-whisper's own defaults (beam 5; it detects the language itself, as earmark does)
    segments, _ = transcriber.model.transcribe(str(path), vad_filter=True)
    plain = " ".join(s.text for s in segments)
    plain_s = time.monotonic() - started
    duration = result.transcript.duration_s
    row: dict[str, object] = {
        "file": path.name,
        "audio_s": round(duration, 2),
        "earmark_wall_s": round(earmark_s, 2),
        "earmark_asr_s": round(result.asr_wall_s, 2),
        "plain_wall_s": round(plain_s, 2),
        "earmark_x_realtime": round(duration / earmark_s, 2),
        "plain_x_realtime": round(duration / plain_s, 2),
    }
    ref = references().get(path.name)
    if ref:
        row["wer_earmark"] = round(wer(ref, ours), 3)
        row["wer_plain"] = round(wer(ref, plain), 3)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--json", type=Path, default=ROOT / ".state" / "bench" / "throughput.json")
    args = parser.parse_args(argv)
    config = Config()
    get_transcriber(config.asr).model  # noqa: B018  (load once, outside the timings)
    with tempfile.TemporaryDirectory() as tmp:
        files = args.files or [
            *write_mixes(Path(tmp)),
            *(f for f in DEFAULT_FILES if f.exists() and f.stat().st_size > 1000),
        ]
        rows = [bench_file(f, config, str(Path(tmp) / "warehouse")) for f in files]
    done = [r for r in rows if "audio_s" in r]
    audio = sum(float(r["audio_s"]) for r in done)  # type: ignore[arg-type]
    ours = sum(float(r["earmark_wall_s"]) for r in done)  # type: ignore[arg-type]
    asr = sum(float(r["earmark_asr_s"]) for r in done)  # type: ignore[arg-type]
    plain = sum(float(r["plain_wall_s"]) for r in done)  # type: ignore[arg-type]
    summary = {
        "files": len(done),
        "audio_s": round(audio, 1),
        "earmark_x_realtime": round(audio / ours, 2),
        "plain_x_realtime": round(audio / plain, 2),
        "ratio": round(plain / ours, 2),
        "share_outside_asr": round(1 - asr / ours, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_count": os.cpu_count(),
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
