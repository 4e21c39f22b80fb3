"""Detection quality on real labelled dialogues: precision, recall, F1 per set × item.

Reads ``../shared/realtext/`` (real customer-service dialogues with human labels; see its
README: nothing from it goes into the repository) when it is there, and skips cleanly
when it is not. Each set's dialogues go through the shipped rubric of their language by
the same path as ``earmark rubric apply`` (:func:`pipeline.scoring.assess`).

The dialogues are split in two halves by a hash of their id: ``--half tune`` is what
thresholds and examples were looked at against; ``--half check`` (the default) was not
used to choose anything, and is what the README reports.

The publishers' labels measure something close to our items, not the same (STC-3 rates
how satisfied the customer was at the *end*; MAIA's annotators often call an apology
neutral). ``--second DIR`` reads a second annotator's labels of the same dialogues by our
items' definitions (``DIR/<set>.jsonl``: ``{"call_id", "item_id", "present"}`` or
``{"call_id", "<item>": true|false}``; kept outside the repository, like the dialogues) and
adds two rows per set × item: ``<set>~2nd``, the rubric scored against them, and
``pub~2nd``, the publishers' labels scored against them: how far two careful readers agree.

    .venv/bin/python bench/detection.py [--half check|tune|all] [--realtext DIR] [--second DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.rubrics import compile_rubrics  # noqa: E402
from pipeline.config import DEFAULT_RUBRICS  # noqa: E402
from pipeline.scoring import assess  # noqa: E402
from pipeline.transcript import utterance_from_dict  # noqa: E402
from pipeline.types import Transcript  # noqa: E402

ITEMS = {
    "empathy": "empathy",
    "customer_dissatisfaction": "customer_dissatisfaction",
    "escalation_request": "escalation_request",
}
"""Label ids → rubric item ids (forbidden_language labels are too few and noisy: see
the realtext README; conduct is measured on our own held-out calls instead)."""


def half_of(call_id: str) -> str:
    return "tune" if int(hashlib.sha256(call_id.encode()).hexdigest(), 16) % 2 else "check"


def transcript_of(obj: dict[str, Any]) -> Transcript:
    """A labelled dialogue or call (JSON) as a transcript: text only, sure words."""
    utterances = tuple(
        utterance_from_dict({**u, "words": [], "confidence": 1.0, "channel": 0})
        for u in obj["utterances"]
    )
    return Transcript(obj["call_id"], obj["language"], float(obj["duration_s"]), utterances)


def load_set(folder: Path, name: str) -> tuple[list[Transcript], dict[tuple[str, str], bool]]:
    transcripts = [
        transcript_of(json.loads(line))
        for line in (folder / f"transcripts_{name}.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    labels = {}
    for line in (folder / f"labels_{name}.jsonl").read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        labels[(obj["call_id"], obj["item_id"])] = bool(obj["present"])
    return transcripts, labels


DATA = ROOT / "bench" / "data"
OWN = DATA / "conduct_heldout.jsonl"
"""Agent lines written for this project (en/zh/ru) and never used to choose an example or a
threshold: the held-out check of ``unprofessional_conduct``."""


def measure_own(path: Path = OWN) -> list[dict[str, object]]:
    """P/R/F1 per language on our own labelled lines, each a one-utterance call."""
    compiled = compile_rubrics([str(p) for p in DEFAULT_RUBRICS.values()])
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        obj = json.loads(line)
        utt = utterance_from_dict(
            {"speaker": obj["speaker"], "start_s": 0.0, "end_s": 3.0, "text": obj["text"]}
        )
        call = Transcript(f"own-{n}", obj["language"], 3.0, (utt,))
        findings, _ = assess(compiled[obj["language"]], call)
        got = next(f.detected for f in findings if f.item_id == obj["item"])
        truth = obj["present"]
        counts[(obj["language"], obj["item"])][
            (0 if got else 2) if truth else (1 if got else 3)
        ] += 1
    return [_row("own", lang, item, c) for (lang, item), c in sorted(counts.items())]


TUNED = ("tuned", *(f"tuned{k}" for k in range(2, 18)))
CALLS = {
    "calls": DATA / "calls_heldout.jsonl",
    "calls2": DATA / "calls_heldout2.jsonl",
    "calls3": DATA / "calls_heldout3.jsonl",
    "calls4": DATA / "calls_heldout4.jsonl",
    **{name: DATA / f"calls_{name}.jsonl" for name in TUNED},
}
"""Call transcripts (90 each, 30 per language) written and labelled by twenty-one authors who
saw neither the rubrics' examples nor the other sets. ``calls`` to ``calls4`` have never
been used to choose anything (measured at the start and the end of a session, not read).
``tuned`` to ``tuned17`` were each held out once, then their errors were read and examples
and thresholds chosen on them, and their lines marked one by one
(``bench/data/line_labels/``) became examples: their figures are optimistic, kept to
show the gap."""


def measure_calls(path: Path, name: str = "calls") -> list[dict[str, object]]:
    """P/R/F1 per language × item on our own labelled calls."""
    compiled = compile_rubrics([str(p) for p in DEFAULT_RUBRICS.values()])
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        call = transcript_of(obj)
        findings, _ = assess(compiled[call.language], call)
        detected = {f.item_id: f.detected for f in findings}
        for item, truth in obj["labels"].items():
            got = detected[item]
            counts[(call.language, item)][(0 if got else 2) if truth else (1 if got else 3)] += 1
    return [_row(name, lang, item, c) for (lang, item), c in sorted(counts.items())]


def _row(name: str, language: str, item: str, c: list[int]) -> dict[str, object]:
    tp, fp, fn, tn = c
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {
        "set": name,
        "language": language,
        "item": item,
        "n": tp + fp + fn + tn,
        "positives": tp + fn,
        "precision": round(p, 3),
        "recall": round(r, 3),
        "f1": round(f1, 3),
    }


Labels = dict[tuple[str, str], bool]


def load_second(folder: Path | None, name: str) -> Labels:
    """A second annotator's labels of set ``name`` (none when there is no file)."""
    path = folder / f"{name}.jsonl" if folder else None
    if path is None or not path.is_file():
        return {}
    labels: Labels = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        if "item_id" in obj:
            labels[(obj["call_id"], obj["item_id"])] = bool(obj["present"])
        for item in ITEMS:
            if isinstance(obj.get(item), bool):
                labels[(obj["call_id"], item)] = obj[item]
    return labels


def _count(counts: list[int], truth: bool, got: bool) -> None:
    counts[(0 if got else 2) if truth else (1 if got else 3)] += 1


def measure(folder: Path, half: str, second: Path | None = None) -> dict[str, object]:
    sets = json.loads((folder / "sets.json").read_text(encoding="utf-8"))
    compiled = compile_rubrics([str(p) for p in DEFAULT_RUBRICS.values()])
    table = []
    started = time.perf_counter()
    utterances = 0
    for spec in sets:
        name = spec["set"]
        transcripts, labels = load_set(folder, name)
        other = load_second(second, name)
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tp fp fn tn
        against: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for t in transcripts:
            if half != "all" and half_of(t.call_id) != half:
                continue
            utterances += len(t.utterances)
            findings, _ = assess(compiled[t.language], t)
            detected = {f.item_id: f.detected for f in findings}
            for label_id, item_id in ITEMS.items():
                if item_id not in detected:
                    continue
                got = detected[item_id]
                truth = labels.get((t.call_id, label_id))
                second_truth = other.get((t.call_id, label_id))
                if truth is not None:
                    _count(counts[label_id], truth, got)
                if second_truth is None:
                    continue
                _count(against[(f"{name}~2nd", label_id)], second_truth, got)
                if truth is not None:
                    _count(against[("pub~2nd", label_id)], second_truth, truth)
        for item, c in sorted(counts.items()):
            table.append(_row(name, spec["language"], item, c))
        for (row, item), c in sorted(against.items()):
            table.append(_row(row, spec["language"], item, c))
    wall = time.perf_counter() - started
    return {
        "half": half,
        "rows": table,
        "utterances": utterances,
        "wall_s": round(wall, 1),
        "ms_per_utterance": round(1000 * wall / max(utterances, 1), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=["check", "tune", "all"], default="check")
    parser.add_argument("--realtext", type=Path, default=ROOT.parent / "shared" / "realtext")
    parser.add_argument("--second", type=Path, help="a second annotator's labels, per set")
    args = parser.parse_args()
    own = measure_own()
    if (args.realtext / "sets.json").is_file():
        result = measure(args.realtext, args.half, args.second)
    else:
        print(f"real labelled dialogues skipped: none at {args.realtext}")
        result = {"half": args.half, "rows": [], "utterances": 0, "wall_s": 0.0}
    calls = [
        row for name, path in CALLS.items() if path.is_file() for row in measure_calls(path, name)
    ]
    result["rows"] = [*result["rows"], *own, *calls]  # type: ignore[misc]
    print(f"{'set':14} {'lang':4} {'item':26} {'n':>5} {'pos':>4} {'P':>6} {'R':>6} {'F1':>6}")
    for r in result["rows"]:  # type: ignore[attr-defined]
        print(
            f"{r['set']:14} {r['language']:4} {r['item']:26} {r['n']:5} {r['positives']:4} "
            f"{r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f}"
        )
    print(f"{result['utterances']} real utterances in {result['wall_s']} s")
    out = ROOT / ".state" / "bench" / "detection.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
