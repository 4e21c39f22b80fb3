"""How fast a changed rubric re-scores history: calls per second, no ASR.

Builds a warehouse of N synthetic English calls (30 utterances of ~12 words with word
timestamps each), then times ``rescore_partition`` over it: read the Parquet tables,
rebuild the transcripts, evaluate the shipped English rubric, write findings and
scores, on as many worker processes as the rescore flow uses. Target: ≥ 500 calls/s
on 2 cores.

The calls are drawn from agent and customer lines with names, amounts, dates, account
numbers, fillers and the odd misheard word filled in, so that utterances rarely repeat
and the vocabulary is in the thousands, as in a real archive. Their stored meaning
vectors are the model's (:func:`template_vectors`). Before the clock starts
the rubric is compiled, as the rescore flow does once before its partitions (loading
the spaCy pipeline); the per-word caches start empty, as they do in ``earmark
rescore``. Not timed: loading spaCy, and the queue rebuild and Prefect start-up that
``earmark rescore`` adds once per run.

Run: ``.venv/bin/python bench/rescore.py [--calls 2000] [--workers N]``; prints and
writes JSON (with the load average, since other work on the machine slows it down, and
the CPU seconds of the scoring processes per call, which it slows down less). The JSON
also holds a digest of the findings and scores written (``findings_sha256``,
``scores_sha256``): a change meant to make re-scoring faster, not different, leaves both
as they were on the checkout before it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from benchenv import ROOT, state_path, use_checkout  # bench/benchenv.py
from figures import publish  # bench/figures.py, beside this script

use_checkout()

from flows.rescore import compile_by_id, rescore_partition  # noqa: E402
from pipeline import rows  # noqa: E402
from pipeline import warehouse as wh  # noqa: E402
from pipeline.analysis import CallAnalysis, Diarization  # noqa: E402
from pipeline.config import usable_cores  # noqa: E402
from pipeline.types import Recording, Speaker, Transcript, Utterance, Word  # noqa: E402

DATE = "2026-11-20"
AGENT = [
    "Thank you for calling {company}, my name is {name}, how can I help you today?",
    "Good {daypart}, {company}, this is {name} speaking.",
    "Can I have your account number and date of birth please?",
    "Could you confirm the first line of your address for me?",
    "I'm sorry to hear that, let me take a look at your account for you.",
    "I understand how frustrating that must be, {customer}.",
    "May I place you on a brief hold while I check with the {team} team?",
    "Thank you for holding, I have good news about that charge.",
    "Thanks for waiting, I can see the payment of {amount} on the {date}.",
    "I've applied a credit of {amount} to your next bill.",
    "The engineer can come on the {date} between {hour} and {hour2}.",
    "I've sent a confirmation to the email address we have on file.",
    "Is there anything else I can help you with today?",
    "Thanks for calling, have a great day.",
    "Right, so your reference number is {digits}.",
    "Let me just pull that up, it's loading now.",
]
CUSTOMER = [
    "Hi, I was charged twice for my {product} this month.",
    "Sure, it's {digits}, and I was born on the {date}.",
    "This is the third time I'm calling about this, it's ridiculous.",
    "My {product} keeps dropping every evening since {weekday}.",
    "It's {street}, flat {small}.",
    "Okay, I'll wait.",
    "Great, thank you so much.",
    "No, that's everything, thanks.",
    "I never got the letter you sent on the {date}.",
    "Can you tell me why the bill went up by {amount}?",
    "I want to speak to your manager.",
    "Yeah, that works for me.",
]
FILL = {
    "company": ["Acme Telecom", "Northwind Bank", "Contoso Energy", "Globex", "Initech Mobile"],
    "name": [
        "Sarah",
        "James",
        "Emma",
        "David",
        "Laura",
        "Priya",
        "Tomasz",
        "Chen",
        "Aisha",
        "Mateo",
        "Olga",
        "Kwame",
        "Niamh",
        "Yusuf",
        "Ingrid",
        "Diego",
        "Hannah",
        "Ravi",
        "Zoe",
        "Marcus",
    ],
    "customer": ["Mr Patel", "Mrs Jones", "Ms Okafor", "Mr Novak", "Mrs Garcia", "Dr Lee"],
    "daypart": ["morning", "afternoon", "evening"],
    "team": ["billing", "technical", "collections", "moves"],
    "product": ["internet", "phone bill", "broadband", "energy bill", "mobile plan", "card"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "street": ["12 Mill Lane", "4 Station Road", "77 Harbour View", "230 Elm Street"],
}
FILLERS = ["um", "uh", "so", "okay", "yeah", "right", "well", "actually"]
MISHEARD = ["at", "the", "and", "cat", "line", "mine", "fold", "call", "hold", "bill"]


def _fill(template: str, rng: random.Random) -> str:
    slots = {key: rng.choice(values) for key, values in FILL.items()}
    return template.format(
        **slots,
        amount=f"${rng.randint(3, 250)}.{rng.randint(0, 99):02d}",
        date=f"{rng.randint(1, 28)}th of {rng.choice(['March', 'June', 'November'])}",
        digits=str(rng.randint(1000, 99_999_999)),
        hour=f"{rng.randint(8, 11)}am",
        hour2=f"{rng.randint(1, 6)}pm",
        small=rng.randint(1, 40),
    )


def _heard(text: str, rng: random.Random) -> list[str]:
    """The words as an ASR returns them: fillers, a dropped or misheard word now and then."""
    words = []
    for word in text.split():
        roll = rng.random()
        if roll < 0.03:
            continue
        if roll < 0.06:
            word = rng.choice(MISHEARD)
        if rng.random() < 0.05:
            words.append(rng.choice(FILLERS) + ",")
        words.append(word)
    return words or text.split()


def synthetic_call(call_id: str, rng: random.Random, lines: list[str] | None = None) -> Transcript:
    """A call of 30 turns; ``lines``, when given, collects the template of each."""
    utts, t = [], 0.5
    for n in range(30):
        speaker: Speaker = "agent" if n % 2 == 0 else "customer"
        template = rng.choice(AGENT if speaker == "agent" else CUSTOMER)
        if lines is not None:
            lines.append(template)
        heard = _heard(_fill(template, rng), rng)
        words = tuple(
            Word(round(t + i * 0.35, 2), round(t + i * 0.35 + 0.3, 2), " " + w, 0.93)
            for i, w in enumerate(heard)
        )
        text = "".join(w.text for w in words).strip()
        channel = 0 if speaker == "agent" else 1
        utts.append(Utterance(speaker, t, words[-1].end_s, text, words, 0.93, channel))
        t = words[-1].end_s + rng.uniform(0.3, 2.0)
    return Transcript(call_id, "en", t + 1.0, tuple(utts))


def stored_analysis(t: Transcript, *, asr_model: str = "synthetic") -> CallAnalysis:
    """What a night heard of a synthetic call: a clean stereo 8 kHz recording (also the
    fake ASR of ``bench/archive_scale.py``)."""
    return CallAnalysis(
        language=t.language,
        language_probability=1.0,
        detected_language=t.language,
        served=True,
        duration_s=t.duration_s,
        channels=2,
        tracks=2,
        sample_rate=8000,
        codec="pcm_s16le",
        decode_warnings=0,
        asr_model=asr_model,
        speech_s=sum(u.end_s - u.start_s for u in t.utterances),
        utterances=t.utterances,
        diarization=Diarization("stereo"),
    )


RENDERINGS = 6
"""Each template is embedded this many times, filled in differently."""


def template_vectors() -> dict[str, np.ndarray]:
    """The meaning model's vectors of :data:`RENDERINGS` fillings of every template.

    What a call's stored vectors hold decides what scoring them costs: a linear head
    leaves out the lines far below its threshold before comparing them with every example
    (:meth:`pipeline.rubric.meaning.MeaningDetector._may_fire`), so random rows would
    measure another mix of work than a night's. Embedding every one of the bench's
    60,000 lines would take 20 minutes; a line gets the vector of one filling of its own
    template instead (a name or an amount moves a line's vector little).
    """
    from models.embed import get_embedder

    rng = random.Random(11)
    templates = AGENT + CUSTOMER
    texts = [_fill(t, rng) for t in templates for _ in range(RENDERINGS)]
    vectors = get_embedder().embed(texts)
    return {t: vectors[k * RENDERINGS : (k + 1) * RENDERINGS] for k, t in enumerate(templates)}


def build(
    root: Path, n: int, date: str = DATE, vectors: dict[str, np.ndarray] | None = None
) -> dict[str, int]:
    """Write ``n`` calls to a warehouse; how many utterances and distinct words they hold.

    ``vectors`` (:func:`template_vectors`) are stored as the night's meaning vectors;
    without them, random unit rows (for benches that do not score meaning)."""
    rng = random.Random(7)
    pick = np.random.default_rng(7)
    calls, utterances, vocabulary = [], [], set[str]()
    for i in range(n):
        lines: list[str] = []
        t = synthetic_call(f"C{i:06d}", rng, lines)
        rec = Recording(t.call_id, f"{t.call_id}.wav", "", "0" * 64, date, 0)
        calls.append(rows.call_row(rec, stored_analysis(t), t, "ok"))
        if vectors is None:
            v = pick.normal(size=(len(t.utterances), 384)).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
        else:
            v = np.stack([vectors[line][pick.integers(RENDERINGS)] for line in lines])
        utterances.extend(rows.utterance_rows(t, v))
        vocabulary.update(w.text for u in t.utterances for w in u.words)
    wh.upsert(root, "calls", {date: calls})
    wh.upsert(root, "utterances", {date: utterances})
    distinct = len({u["text"] for u in utterances})
    return {
        "utterances": len(utterances),
        "distinct_utterances": distinct,
        "words": len(vocabulary),
    }


def _cpu_s() -> float:
    """CPU seconds (user and system) of this process and of its children that ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def digest(warehouse: Path, table: str) -> str:
    """SHA-256 of a table's rows as they read back, in their stored order."""
    rows = wh.read_table(str(warehouse), table, call_dates=[DATE]).to_pylist()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--workers", type=int, help="processes (default: one per CPU)")
    parser.add_argument("--json", type=Path, default=state_path("rescore.json"))
    args = parser.parse_args(argv)
    rubric = str(ROOT / "rubrics" / "en" / "inbound-support.yaml")
    options = {} if args.workers is None else {"workers": args.workers}
    with tempfile.TemporaryDirectory() as tmp:
        data = build(Path(tmp), args.calls, vectors=template_vectors())
        compile_by_id((rubric,))  # as the flow does before its partitions
        load = os.getloadavg()[0]
        cpu = _cpu_s()
        started = time.monotonic()
        scored, _ = rescore_partition(tmp, DATE, (rubric,), **options)
        wall = time.monotonic() - started
        cpu = _cpu_s() - cpu
        digests = {f"{table}_sha256": digest(Path(tmp), table) for table in ("findings", "scores")}
    result = {
        "calls": scored,
        "wall_s": round(wall, 2),
        "calls_per_s": round(scored / wall, 1),
        "cpu_ms_per_call": round(1000 * cpu / scored, 3),
        "workers": args.workers or usable_cores(),
        "cpu_count": os.cpu_count(),
        "load_avg_1m_before": round(load, 2),
        **data,
        **digests,
    }
    publish(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
