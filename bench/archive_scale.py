"""Does a night cost the new calls, not the archive? Time and peak memory of a night
over a large archive with some new calls, against a night over the new calls alone.

1. Writes an archive of N tiny recordings (``--archive-calls``, 0.25 s of 8 kHz noise
   each, unique content, one folder per day) and M new ones (``--new-calls``).
2. *Seed* (not timed): one night over the N files fills the warehouse: tables, file
   index, and the transcript cache.
3. *Archive night*: the M new files are added to the archive, and a night runs over it.
4. *Alone night*: a night over an archive of the M new files only, on a new warehouse.

Every night is the real ``earmark`` night (:func:`flows.nightly.run_night`: Prefect,
the file index, rubric scoring, Parquet writes), each in its own process, whose peak
RSS is read from ``getrusage`` as the night returns, before the benchmark times the
index read, listing and index write again on their own (that time is not counted in the
process's wall time either). **One thing is faked, in this benchmark only:** the ASR.
``pipeline.journey.hear_recording`` is replaced by :func:`fake_asr`, which returns a tiny
English call's analysis at once, so the transcript cache is filled through the same code path a
night uses (key, write, read back) without running Whisper N times. The ASR's cost is
the same for the M new calls in both measured nights; what is compared is everything
else, which is what grows with the archive.

Goal: archive night <= 1.2x the alone night (wall time inside the flow, and of the
whole process), peak memory flat.

Run: ``.venv/bin/python bench/archive_scale.py [--archive-calls 100000] [--new-calls 1000]``;
prints and writes JSON to ``.state/bench/archive_scale-N.json``. Needs about 10 KB of
disk per recording (``--dir``, default ``.state/bench/archive_scale``, removed after
unless ``--keep`` or ``--reuse``). The seed night is most of the run (about 13 ms a
call on 2 idle cores): ``--reuse`` keeps the archive and the seeded warehouse and starts
the next run from them (each measured night then works on a hard-linked copy of it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchenv import ROOT, state_path, use_checkout  # bench/benchenv.py

use_checkout()

SR = 8000
SAMPLES = SR // 4


def wav_bytes(seed: int) -> bytes:
    """0.25 s of 16-bit mono noise, different for every seed (so every hash differs)."""
    import numpy as np

    pcm = np.random.default_rng(seed).integers(-2000, 2000, SAMPLES, dtype=np.int16).tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, SR, SR * 2, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm


def write_calls(folder: Path, *, first: int, count: int, days: int, day0: int) -> None:
    """``count`` recordings numbered from ``first``, spread over ``days`` day folders."""
    import datetime as dt

    start = dt.date(2026, 1, 1) + dt.timedelta(days=day0)
    for n in range(first, first + count):
        day = (start + dt.timedelta(days=(n - first) * days // count)).isoformat()
        target = folder / day / f"call-{n:07d}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(wav_bytes(n))


# ---------------------------------------------------------------- the fake (benchmark only)


def fake_asr(recording: Any, *, config: Any, adapters: Any) -> Any:
    """BENCHMARK-ONLY stand-in for ``pipeline.journey.hear_recording``: a fixed two-line
    English call, as the real one's analysis. No audio is decoded."""
    from rescore import stored_analysis  # bench/rescore.py, beside this script

    from pipeline.types import Transcript, Utterance, Word

    lines = [
        ("agent", 0.0, "thank you for calling acme how can i help"),
        ("customer", 2.0, "my bill is wrong again"),
    ]
    utterances = []
    for speaker, start, text in lines:
        words = tuple(
            Word(start + 0.2 * i, start + 0.2 * i + 0.18, w, 0.9)
            for i, w in enumerate(text.split())
        )
        utterances.append(
            Utterance(
                speaker,  # type: ignore[arg-type]
                start,
                words[-1].end_s,
                text,
                words,
                0.9,
                0 if speaker == "agent" else 1,
            )
        )
    transcript = Transcript(recording.call_id, "en", 4.0, tuple(utterances))
    return stored_analysis(transcript, asr_model=adapters.identifier.model_id)


def night(archive: str, warehouse: str) -> dict[str, Any]:
    """One real night with the fake ASR, in this process; its numbers."""
    from flows.env import configure_environment
    from pipeline import journey

    configure_environment()
    journey.hear_recording = fake_asr  # BENCHMARK-ONLY fake, see above
    from flows.nightly import run_night
    from pipeline.config import Config

    started = time.monotonic()
    summary = run_night(archive, warehouse, Config(languages=["en"]))
    night_wall_s = time.monotonic() - started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the night's own
    # the part of a night that grows with the archive, timed again on its own: list the
    # archive and compare it with the index, read and write the index
    from flows.nightly import plan_archive
    from pipeline import warehouse as wh
    from pipeline.file_index import DateRange, FileIndex

    t0 = time.monotonic()
    index = FileIndex(wh.read_index(warehouse))
    t1 = time.monotonic()
    plan_archive(archive, index, dates=DateRange())
    t2 = time.monotonic()
    wh.write_index(warehouse, index.table)
    t3 = time.monotonic()
    return {
        "process_wall_s": None,
        "night_wall_s": round(night_wall_s, 2),
        "index_read_s": round(t1 - t0, 2),
        "list_and_plan_s": round(t2 - t1, 2),
        "index_write_s": round(t3 - t2, 2),
        "flow_wall_s": round(summary.wall_s, 2),
        "processed": summary.processed,
        "unchanged": summary.unchanged,
        "hashed": summary.hashed,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }


def run_night_process(archive: Path, warehouse: Path) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, __file__, "--night", str(archive), str(warehouse)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"night failed:\n{done.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    retimed_s = out["index_read_s"] + out["list_and_plan_s"] + out["index_write_s"]
    out["process_wall_s"] = round(time.monotonic() - started - retimed_s, 2)  # the night's
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive-calls", type=int, default=100_000)
    parser.add_argument("--new-calls", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=100, help="day folders of the archive")
    parser.add_argument("--dir", default=str(state_path("archive_scale")))
    parser.add_argument("--keep", action="store_true", help="keep the archive and warehouses")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the archive and seeded warehouse, and start from them when they are there",
    )
    parser.add_argument(
        "--night", nargs=2, metavar=("ARCHIVE", "WAREHOUSE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.night:
        print(json.dumps(night(*args.night)))
        return

    work = Path(args.dir) / f"{args.archive_calls}-{args.new_calls}-{args.days}"
    seed = _seeded(work, args) if args.reuse else None
    if seed is None:
        seed = _seed(work, args)
    archive, alone = work / "archive", work / "alone"
    shutil.rmtree(work / "wh-alone", ignore_errors=True)
    alone_night = run_night_process(alone, work / "wh-alone")
    print(f"alone night: {alone_night}", file=sys.stderr)
    shutil.rmtree(work / "wh-archive", ignore_errors=True)  # the seeded warehouse, linked:
    shutil.copytree(work / "wh-seed", work / "wh-archive", copy_function=os.link)  # writes
    shutil.copytree(alone, archive, dirs_exist_ok=True)  # replace files, never write into one
    try:  # the new day arrives in the archive
        archive_night = run_night_process(archive, work / "wh-archive")
    finally:  # and leaves it: the archive is the seeded one again (for --reuse)
        for new in alone.rglob("*.wav"):
            (archive / new.relative_to(alone)).unlink(missing_ok=True)
    print(f"archive night: {archive_night}", file=sys.stderr)

    report = {
        "archive_calls": args.archive_calls,
        "new_calls": args.new_calls,
        "days": args.days,
        "seed_night": seed,
        "alone_night": alone_night,
        "archive_night": archive_night,
        "ratio_flow_wall": round(archive_night["flow_wall_s"] / alone_night["flow_wall_s"], 3),
        "ratio_process_wall": round(
            archive_night["process_wall_s"] / alone_night["process_wall_s"], 3
        ),
        "ratio_peak_rss": round(archive_night["peak_rss_mb"] / alone_night["peak_rss_mb"], 3),
        "fake": "ASR replaced by bench/archive_scale.py:fake_asr (benchmark only)",
        "load_average": os.getloadavg(),
        "cores": os.cpu_count(),
    }
    out = state_path(f"archive_scale-{args.archive_calls}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    if not (args.keep or args.reuse):
        shutil.rmtree(work, ignore_errors=True)


def _seed(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Write the archive and the new calls, and fill a warehouse with the archive (not timed)."""
    shutil.rmtree(work, ignore_errors=True)
    started = time.monotonic()
    write_calls(work / "archive", first=0, count=args.archive_calls, days=args.days, day0=0)
    write_calls(
        work / "alone", first=args.archive_calls, count=args.new_calls, days=1, day0=args.days
    )
    written_s = time.monotonic() - started
    print(
        f"wrote {args.archive_calls} + {args.new_calls} recordings in {written_s:.0f} s",
        file=sys.stderr,
    )
    seed = run_night_process(work / "archive", work / "wh-seed")
    print(f"seed night: {seed}", file=sys.stderr)
    (work / "seed.json").write_text(json.dumps(seed))
    return seed


def _seeded(work: Path, args: argparse.Namespace) -> dict[str, Any] | None:
    """The seed night of an earlier ``--reuse`` run, if its archive and warehouse are there."""
    done = work / "seed.json"
    if not (done.exists() and (work / "wh-seed").is_dir() and (work / "alone").is_dir()):
        return None
    print(f"reusing the archive and seeded warehouse in {work}", file=sys.stderr)
    seed: dict[str, Any] = json.loads(done.read_text())
    return seed


if __name__ == "__main__":
    main()
