"""Start-up of the commands that run no ASR, on the samples warehouse: wall and CPU seconds.

Issue 15 asks that ``rescore``, ``queue build``, ``queue show``, ``rubric explain``,
``rubric apply`` and ``calibration report`` start in <= 3 s on the bundled samples. Each
command runs as a user runs it, in a fresh ``python -m flows.cli`` process on a copy of the
samples warehouse, ``--rounds`` times. Reported per command: wall and CPU (user + sys, from
the child's ``getrusage``) seconds, the minimum and the median over the rounds, and the
load average before each round (the machine's other work slows every figure down; the
minimum is the figure to compare).

``EARMARK_HOME`` is a fresh folder: the first round of the first command fills what
earmark keeps there (the rubrics' example vectors, the trained linear heads), as a first
run on a new machine does; that *cold* round is reported apart and not counted in the
minimum and median (the *warm* rounds, as every later run).

The samples warehouse is built once when missing (``earmark run`` on ``samples/archive``,
the real ASR: about 90 s on 2 cores) into ``--warehouse`` (default ``.state/warehouse``).
``rubric apply`` reads the warehouse's calls written out as JSON lines, without their
stored vectors, so it embeds every utterance with the meaning model: that work, which
grows with the input, is also timed on its own (``rubric_apply_embedding``).

Run: ``.venv/bin/python bench/startup.py [--rounds 5] [--only rescore,queue-build]``;
prints and writes JSON to ``.state/bench/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchenv import ROOT, state_path, use_checkout  # bench/benchenv.py
from figures import publish  # bench/figures.py, beside this script

use_checkout(home=False)

from pipeline import rows  # noqa: E402
from pipeline import warehouse as wh  # noqa: E402
from pipeline.transcript import utterance_to_dict  # noqa: E402

GOAL_S = 3.0


def commands(warehouse: Path, transcripts: Path, call_id: str) -> dict[str, list[str]]:
    """The commands measured, by name: ``earmark`` arguments."""
    w = str(warehouse)
    return {
        "rescore": ["rescore", "--warehouse", w],
        "queue-build": ["queue", "build", "--warehouse", w],
        "queue-show": ["queue", "show", "--warehouse", w],
        "rubric-explain": ["rubric", "explain", "--call", call_id, "--warehouse", w],
        "rubric-apply": ["rubric", "apply", "--transcripts", str(transcripts)],
        "calibration-report": ["calibration", "report", "--warehouse", w],
    }


def ensure_samples_warehouse(warehouse: Path) -> None:
    """Build the samples warehouse with the real night when it has no calls yet."""
    if wh.partition_dates(str(warehouse), "calls"):
        return
    print(f"building the samples warehouse in {warehouse} (real ASR, once)", file=sys.stderr)
    archive = ROOT / "samples" / "archive"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "run",
            "--archive",
            str(archive),
            "--warehouse",
            str(warehouse),
        ],
        check=True,
        cwd=ROOT,
        env=_env(ROOT / ".state"),
        stdout=subprocess.DEVNULL,
    )


def write_transcripts(warehouse: Path, out: Path) -> str:
    """The warehouse's scored calls as ``rubric apply`` input; returns one call id."""
    calls = [c for c in wh.read_table(str(warehouse), "calls").to_pylist() if c["status"] == "ok"]
    utterances = wh.read_table(str(warehouse), "utterances")
    keys = [(c["call_id"], c["language"], c["duration_s"]) for c in calls]
    with out.open("w", encoding="utf-8") as f:
        for transcript in rows.transcripts_from_table(keys, utterances):
            obj = {
                "call_id": transcript.call_id,
                "language": transcript.language,
                "duration_s": transcript.duration_s,
                "utterances": [utterance_to_dict(u) for u in transcript.utterances],
            }
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return str(calls[0]["call_id"])


EMBED_TIMER = """
import json, sys, time
from models.embed import E5Embedder
texts = [u["text"] for line in open(sys.argv[1], encoding="utf-8")
         for u in json.loads(line)["utterances"]]
wall, cpu = time.perf_counter(), time.process_time()
E5Embedder().embed(texts)
print(json.dumps({"utterances": len(texts), "wall_s": round(time.perf_counter() - wall, 3),
                  "cpu_s": round(time.process_time() - cpu, 3)}))
"""


def embedding_work(transcripts: Path, home: Path) -> dict[str, float]:
    """What ``rubric apply`` spends embedding its input (no vectors are stored with it): the
    meaning model loaded and run on every utterance once, in a fresh process. Work that
    grows with the input, not start-up."""
    out = subprocess.run(
        [sys.executable, "-c", EMBED_TIMER, str(transcripts)],
        cwd=ROOT,
        env=_env(home),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "EARMARK_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("PREFECT_API_URL", None)  # as on a fresh machine: no Prefect server to report to
    return env


def run_once(args: list[str], home: Path) -> dict[str, float]:
    """One command in a fresh process: wall and CPU seconds, and the load average before."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", *args],
            cwd=ROOT,
            env=_env(home),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        _, status, usage = os.wait4(child.pid, 0)  # this child's own CPU time
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            stderr.seek(0)
            said = stderr.read().decode(errors="replace")
            raise SystemExit(f"earmark {' '.join(args)} failed ({child.returncode}):\n{said}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "load": round(load, 2)}


def summary(rounds: list[dict[str, float]]) -> dict[str, object]:
    walls = [r["wall_s"] for r in rounds]
    cpus = [r["cpu_s"] for r in rounds]
    return {
        "wall_min_s": min(walls),
        "wall_median_s": round(statistics.median(walls), 3),
        "cpu_min_s": min(cpus),
        "cpu_median_s": round(statistics.median(cpus), 3),
        "loads": [r["load"] for r in rounds],
        "within_goal": min(walls) <= GOAL_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="warm rounds per command (5)")
    parser.add_argument("--warehouse", type=Path, default=ROOT / ".state" / "warehouse")
    parser.add_argument("--only", help="comma-separated command names (default: all)")
    args = parser.parse_args()
    ensure_samples_warehouse(args.warehouse)
    with tempfile.TemporaryDirectory(prefix="earmark-startup-") as tmp:
        work = Path(tmp) / "warehouse"
        shutil.copytree(args.warehouse, work)  # rescore and queue build write to theirs
        transcripts = Path(tmp) / "transcripts.jsonl"
        measured = commands(work, transcripts, write_transcripts(work, transcripts))
        if args.only:
            wanted = args.only.split(",")
            measured = {name: argv for name, argv in measured.items() if name in wanted}
        home = Path(tmp) / "home"
        figures: dict[str, object] = {}
        cold: dict[str, object] = {}
        for name, argv in measured.items():
            cold[name] = run_once(argv, home)  # fills EARMARK_HOME for the ones after it
            figures[name] = summary([run_once(argv, home) for _ in range(args.rounds)])
            print(name, json.dumps(figures[name]), file=sys.stderr)
        embedding = embedding_work(transcripts, home)
    publish(
        {
            "goal_s": GOAL_S,
            "rounds": args.rounds,
            "cpu_count": os.cpu_count(),
            "warm": figures,
            "cold_first_round": cold,
            "rubric_apply_embedding": embedding,
        },
        state_path("startup.json"),
    )


if __name__ == "__main__":
    main()
