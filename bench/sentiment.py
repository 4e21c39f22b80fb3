"""Customer sentiment against people's labels: does the reading find the unhappy customers?

The night reads each customer utterance's sentiment off its meaning vector
(``rubrics/sentiment.yaml``, :func:`pipeline.meaning.utterance_sentiment`), and the queue
counts a call as *unhappy* when ``unhappy_count`` of its customer utterances read
``unhappy_below`` or lower (:class:`pipeline.scoring.PriorityWeights`). Nobody labels
sentiment line by line, but people labelled whole calls and dialogues as dissatisfied or
not, so per set this prints, against the ``customer_dissatisfaction`` label:

- **AUC** of the call's lowest customer reading (threshold-free: how often an unhappy
  call reads lower than a content one);
- precision, recall and F1 of the queue's **unhappy** trigger;
- the share of content calls with a reading of ``unhappy_below`` or lower at all
  (a described problem, "I lost my card", is not a complaint).

Sets: our labelled calls (``bench/data/calls_tuned*.jsonl``, ``--blind`` adds the four
held-out sets, measured only at a session's start and end) and, when
``../shared/realtext/`` is there, its STC-3 (en, zh) and MAIA dialogues, in the half
``--half`` names (``tune`` is what the anchors were chosen on; ``check`` was not).

    .venv/bin/python bench/sentiment.py [--half check|tune] [--blind] [--anchors FILE]

Utterance vectors are kept in ``.state/bench/sentiment_vectors.npz`` (by text), so a
second run with other anchors takes seconds.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from benchenv import ROOT, state_path, use_checkout

use_checkout()

from detection import CALLS, TUNED, half_of, load_set, transcript_of  # noqa: E402

from models.embed import get_embedder  # noqa: E402
from pipeline.meaning import SENTIMENT_ANCHORS, load_anchors, utterance_sentiment  # noqa: E402
from pipeline.scoring import PriorityWeights  # noqa: E402
from pipeline.types import Transcript  # noqa: E402

REALTEXT = ROOT.parent / "shared" / "realtext"
REAL_SETS = ("stc3_en", "stc3_zh", "maia")
ITEM = "customer_dissatisfaction"
KEPT = state_path("sentiment_vectors.npz")
"""Utterance vectors by text, with the model's id beside them (another model: embedded anew)."""


@dataclass(frozen=True, slots=True)
class Call:
    language: str
    unhappy: bool
    """The label: the customer was dissatisfied."""
    customer: tuple[str, ...]
    """The customer's utterances, in order."""


def our_calls(names: Iterable[str]) -> dict[str, list[Call]]:
    sets: dict[str, list[Call]] = {}
    for name in names:
        for line in CALLS[name].read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            call = _call(transcript_of(obj), bool(obj["labels"][ITEM]))
            sets.setdefault(f"{name}.{call.language}", []).append(call)
    return sets


def real_calls(half: str) -> dict[str, list[Call]]:
    if not (REALTEXT / "sets.json").is_file():
        return {}
    sets: dict[str, list[Call]] = {}
    for name in REAL_SETS:
        transcripts, labels = load_set(REALTEXT, name)
        sets[name] = [
            _call(t, labels[(t.call_id, ITEM)])
            for t in transcripts
            if (t.call_id, ITEM) in labels and half_of(t.call_id) == half
        ]
    return sets


def _call(t: Transcript, unhappy: bool) -> Call:
    said = tuple(u.text for u in t.utterances if u.speaker == "customer" and u.text.strip())
    return Call(t.language, unhappy, said)


def vectors_of(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Each text's meaning vector, embedded once and kept on disk."""
    model = get_embedder().model_id
    kept: dict[str, np.ndarray] = {}
    if KEPT.is_file():
        with np.load(KEPT) as npz:
            if "model" in npz.files and str(npz["model"]) == model:
                kept = dict(zip(npz["texts"].tolist(), npz["vectors"], strict=True))
    missing = sorted({t for t in texts if t not in kept})
    if missing:
        for text, vector in zip(missing, get_embedder().embed(missing), strict=True):
            kept[text] = vector
        KEPT.parent.mkdir(parents=True, exist_ok=True)
        names = list(kept)
        part = KEPT.with_suffix(".part.npz")
        np.savez(
            part, model=model, texts=np.array(names), vectors=np.stack([kept[t] for t in names])
        )
        part.replace(KEPT)
    return kept


def measure(calls: Sequence[Call], readings: dict[str, float], w: PriorityWeights) -> dict:
    lowest = [min((readings[t] for t in c.customer), default=0.0) for c in calls]
    truth = [c.unhappy for c in calls]
    fired = [  # as QueueEntry.unhappy reads the stored readings
        w.unhappy_count > 0
        and sum(readings[t] <= w.unhappy_below for t in c.customer) >= w.unhappy_count
        for c in calls
    ]
    tp = sum(f and t for f, t in zip(fired, truth, strict=True))
    fp = sum(f and not t for f, t in zip(fired, truth, strict=True))
    fn = sum(t and not f for f, t in zip(fired, truth, strict=True))
    content = [low for low, t in zip(lowest, truth, strict=True) if not t]
    return {
        "n": len(calls),
        "unhappy": sum(truth),
        "auc": round(_auc([-x for x in lowest], truth), 3),
        "precision": round(tp / (tp + fp), 3) if tp + fp else float("nan"),
        "recall": round(tp / (tp + fn), 3) if tp + fn else float("nan"),
        "f1": round(2 * tp / (2 * tp + fp + fn), 3) if tp else 0.0,
        "content_low": round(sum(x <= w.unhappy_below for x in content) / len(content), 3)
        if content
        else float("nan"),
    }


def _auc(scores: Sequence[float], truth: Sequence[bool]) -> float:
    """The probability that a positive scores above a negative (ties count half)."""
    pos = [s for s, t in zip(scores, truth, strict=True) if t]
    neg = [s for s, t in zip(scores, truth, strict=True) if not t]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--half", choices=["check", "tune"], default="check")
    parser.add_argument("--blind", action="store_true", help="also the four held-out sets")
    parser.add_argument("--anchors", type=Path, default=SENTIMENT_ANCHORS)
    args = parser.parse_args()
    names = [*TUNED, *(["calls", "calls2", "calls3", "calls4"] if args.blind else [])]
    sets = {**our_calls(names), **real_calls(args.half)}
    texts = [t for calls in sets.values() for c in calls for t in c.customer]
    kept = vectors_of(texts)
    unique = sorted(set(texts))
    matrix = np.stack([kept[t] for t in unique]) if unique else np.zeros((0, 384), np.float32)
    anchors = load_anchors(get_embedder(), args.anchors)
    readings = dict(zip(unique, utterance_sentiment(matrix, anchors).tolist(), strict=True))
    w = PriorityWeights()
    print(
        f"anchors {args.anchors.name}, half {args.half}; unhappy trigger: "
        f"{w.unhappy_count} customer lines <= {w.unhappy_below}"
    )
    print(f"{'set':16} {'n':>4} {'unh':>4}  {'AUC':>5}  {'P':>5}  {'R':>5}  {'F1':>5}  content<=")
    pooled: dict[str, list[Call]] = {}
    for name, calls in sets.items():
        group = "tuned" if name.startswith("tuned") else name.split(".")[0]
        lang = name.split(".")[1] if "." in name else ""
        pooled.setdefault(f"{group}.{lang}" if lang else group, []).extend(calls)
    for name, calls in pooled.items():
        m = measure(calls, readings, w)
        print(
            f"{name:16} {m['n']:>4} {m['unhappy']:>4}  {m['auc']:>5}  {m['precision']:>5}  "
            f"{m['recall']:>5}  {m['f1']:>5}  {m['content_low']}"
        )


if __name__ == "__main__":
    main()
