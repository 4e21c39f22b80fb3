"""How fast a changed rubric re-scores history: calls per second, no ASR.

Builds a warehouse of N synthetic English calls (30 utterances of ~12 words with word
timestamps each, drawn from realistic agent/customer lines), then times
``rescore_partition`` (read Parquet → evaluate the shipped English rubric → write
findings and scores) over it. Target: ≥ 500 calls/s on 2 cores.

Run: ``.venv/bin/python bench/rescore.py [--calls 2000]``; prints and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("EARMARK_HOME", str(ROOT / ".state"))

from flows.rescore import rescore_partition  # noqa: E402
from pipeline import rows  # noqa: E402
from pipeline import warehouse as wh  # noqa: E402
from pipeline.types import Recording, Transcript, Utterance, Word  # noqa: E402

AGENT = [
    "Thank you for calling Acme Telecom, my name is Sarah, how can I help you today?",
    "Can I have your account number and date of birth please?",
    "I'm sorry to hear that, let me take a look at your account for you.",
    "May I place you on a brief hold while I check with the billing team?",
    "Thank you for holding, I have good news about that charge.",
    "I've applied a credit of twelve dollars to your next bill.",
    "Is there anything else I can help you with today?",
    "Thanks for calling, have a great day.",
]
CUSTOMER = [
    "Hi, I was charged twice for my internet this month.",
    "Sure, it's four four one two, and I was born in March.",
    "This is the third time I'm calling about this, it's ridiculous.",
    "Okay, I'll wait.",
    "Great, thank you so much.",
    "No, that's everything, thanks.",
]


def synthetic_call(call_id: str, rng: random.Random) -> Transcript:
    utts, t = [], 0.5
    for n in range(30):
        speaker = "agent" if n % 2 == 0 else "customer"
        text = rng.choice(AGENT if speaker == "agent" else CUSTOMER)
        tokens = text.split()
        words = tuple(
            Word(round(t + i * 0.35, 2), round(t + i * 0.35 + 0.3, 2), " " + w, 0.93)
            for i, w in enumerate(tokens)
        )
        utts.append(
            Utterance(
                speaker, t, words[-1].end_s, text, words, 0.93, 0 if speaker == "agent" else 1
            )
        )  # type: ignore[arg-type]
        t = words[-1].end_s + rng.uniform(0.3, 2.0)
    return Transcript(call_id, "en", t + 1.0, tuple(utts))


def build(root: Path, n: int, date: str = "2026-11-20") -> None:
    rng = random.Random(7)
    calls, utterances = [], []
    for i in range(n):
        t = synthetic_call(f"C{i:06d}", rng)
        rec = Recording(t.call_id, f"{t.call_id}.wav", "", "0" * 64, date, 0)
        calls.append(rows.call_row(rec, {"duration_s": t.duration_s, "language": "en"}, t, "ok"))
        utterances.extend(rows.utterance_rows(t))
    wh.upsert(root, "calls", {date: calls})
    wh.upsert(root, "utterances", {date: utterances})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=ROOT / ".state" / "bench" / "rescore.json")
    args = parser.parse_args(argv)
    rubric = str(ROOT / "rubrics" / "en" / "inbound-support.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp), args.calls)
        rescore_partition(tmp, "2026-11-20", (rubric,))  # warm: spaCy tables, rubric compile
        started = time.monotonic()
        scored, _ = rescore_partition(tmp, "2026-11-20", (rubric,))
        wall = time.monotonic() - started
    result = {
        "calls": scored,
        "wall_s": round(wall, 2),
        "calls_per_s": round(scored / wall, 1),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
