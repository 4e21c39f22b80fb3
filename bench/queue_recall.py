"""Must-hear recall of the review queue at a listening budget, against random sampling.

For each labelled set (``bench/labelled_calls.py``: ``dev`` to tune on, ``heldout`` from
other templates and wordings): every call goes through what ``earmark rubric apply``
does (the shipped rubric of its language, :func:`pipeline.scoring.assess`), then what
``earmark queue build`` does for one inspector whose daily budget is 10 %, 20 % or 30 %
of the set's total audio (:func:`pipeline.queue.build_inspector_queues` with the default
policy: critical failures, a 5 % control sample (``--control-share``), the flagged calls
by priority, then skims of the rest; each item's window from the rubric). Each call costs its plan's price
(heard seconds plus read seconds at the reading speed). A must-hear call counts as
heard when the inspector's plan for it covers one of its labelled moments (an
``off_script`` call: when it is planned at all). Recall = heard / must-hear calls. The
baseline samples whole calls at random within the same budget (mean of 500 draws).
``flagged only`` is the same queue without skims: what detection and ranking alone give.
``--meaning`` embeds every utterance as the night does (meaning items, and the
customer's sentiment, which the queue ranks and plans by); slower, the model runs.

Also printed: the queue's share of calls and of audio, and recall at 20 % per kind of
must-hear call and per language, so a miss can be traced to detection or to ranking.

Run: ``.venv/bin/python bench/queue_recall.py [--out .state/bench/queue] [--regenerate]``;
prints a table and writes ``queue_recall.json`` next to the sets.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchenv import state_path, use_checkout  # bench/benchenv.py

use_checkout()

from labelled_calls import write_sets  # noqa: E402

from flows.rubrics import compile_rubrics  # noqa: E402
from pipeline.config import Config  # noqa: E402
from pipeline.queue import (  # noqa: E402
    Candidate,
    Inspector,
    QueuePolicy,
    build_inspector_queues,
    build_review_queue,
    item_windows,
)
from pipeline.scoring import assess  # noqa: E402
from pipeline.transcript import transcript_from_json  # noqa: E402
from pipeline.types import Transcript  # noqa: E402

BUDGETS = (0.10, 0.20, 0.30)


@dataclass(frozen=True, slots=True)
class Labelled:
    candidate: Candidate
    must_hear: bool
    kind: str
    language: str
    moments: tuple[tuple[float, float], ...]


def score_set(path: Path, *, meaning: bool = False) -> list[Labelled]:
    """Rubric apply on every line of a labelled JSONL file; with ``meaning``, as the night
    does: each utterance embedded, the vectors given to the rubric, the customer's sentiment."""
    config = Config()
    compiled = compile_rubrics([config.rubrics[lang] for lang in config.languages])
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        transcript = transcript_from_json(obj)
        rubric = compiled[transcript.language]
        vectors, feelings = None, ()
        if meaning:
            vectors, feelings = _meaning(transcript)
        findings, score = assess(rubric, transcript, vectors=vectors)
        candidate = Candidate(
            score,
            tuple(findings),
            transcript.duration_s,
            team_id="T",
            windows=item_windows(rubric.rubric, duration_s=transcript.duration_s),
            customer_sentiment=feelings,
        )
        label = obj["label"]
        moments = tuple((float(a), float(b)) for a, b in label["moments"])
        out.append(
            Labelled(candidate, label["must_hear"], label["kind"], transcript.language, moments)
        )
    return out


def _meaning(transcript: Transcript) -> tuple[Any, tuple[tuple[float, float, float], ...]]:
    """The night's vectors and the customer's sentiment per utterance (start, end, reading)."""
    from flows.process import get_sentiment_anchors
    from models.embed import get_embedder
    from pipeline.meaning import call_sentiment

    vectors = get_embedder().embed([u.text for u in transcript.utterances])
    feel = call_sentiment(transcript, vectors, get_sentiment_anchors())
    if feel is None:
        return vectors, ()
    return vectors, tuple(
        (u.start_s, u.end_s, r)
        for r, u in zip(feel.per_utterance, transcript.utterances, strict=True)
        if not math.isnan(r)
    )


def heard_by_queue(
    calls: Sequence[Labelled], budget_s: float, *, skim: bool = True, control_share: float = 0.05
) -> set[str]:
    """Must-hear call ids whose moments the inspector's queue (within ``budget_s``) covers."""
    policy = QueuePolicy(
        rotation="off", coverage_per_week=0, skim=skim, control_share=control_share
    )
    queue = build_inspector_queues(
        [c.candidate for c in calls],
        date="2026-12-01",
        inspectors=[Inspector("bench", ("T",), budget_s)],
        policy=policy,
    )
    assert sum(q.price_s for q in queue if q.kind != "highlight") <= budget_s + 1e-6
    by_id = {c.candidate.score.call_id: c for c in calls}
    heard = set()
    for q in queue:
        c = by_id[q.call_id]
        if q.kind == "highlight" or not c.must_hear:
            continue
        if not c.moments or any(
            s.start_s < b and a < s.end_s for s in q.plan for a, b in c.moments
        ):
            heard.add(q.call_id)
    return heard


def random_recall(calls: Sequence[Labelled], budget_s: float, *, draws: int = 500) -> float:
    """Mean must-hear recall of whole calls drawn at random within ``budget_s``."""
    rng = random.Random(13)
    wanted = sum(c.must_hear for c in calls)
    total = 0.0
    for _ in range(draws):
        order = list(calls)
        rng.shuffle(order)
        left, hit = budget_s, 0
        for c in order:
            if c.candidate.duration_s <= left:
                left -= c.candidate.duration_s
                hit += c.must_hear
        total += hit / wanted
    return total / draws


def evaluate_set(calls: Sequence[Labelled], *, control_share: float) -> dict[str, Any]:
    audio = sum(c.candidate.duration_s for c in calls)
    must = {c.candidate.score.call_id: c for c in calls if c.must_hear}
    queue = build_review_queue([c.candidate for c in calls], date="2026-12-01")
    result: dict[str, Any] = {
        "calls": len(calls),
        "must_hear": len(must),
        "audio_min": round(audio / 60, 1),
        "queue_share_calls": round(len(queue) / len(calls), 3),
        "queue_share_audio_priced": round(sum(q.price_s for q in queue) / audio, 3),
        "queue_must_hear_recall": round(sum(q.call_id in must for q in queue) / len(must), 3),
        "recall": {},
        "flagged_only": {},
        "random": {},
    }
    for b in BUDGETS:
        taken = heard_by_queue(calls, b * audio, control_share=control_share)
        result["recall"][f"{b:.0%}"] = round(len(taken) / len(must), 3)
        flagged = heard_by_queue(calls, b * audio, skim=False, control_share=control_share)
        result["flagged_only"][f"{b:.0%}"] = round(len(flagged) / len(must), 3)
        result["random"][f"{b:.0%}"] = round(random_recall(calls, b * audio), 3)
    taken = heard_by_queue(calls, 0.2 * audio, control_share=control_share)
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in must.values():
        for key in (f"kind:{c.kind}", f"lang:{c.language}"):
            per[key][0] += c.candidate.score.call_id in taken
            per[key][1] += 1
    result["recall_at_20%"] = {k: f"{h}/{n}" for k, (h, n) in sorted(per.items())}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(state_path("queue")))
    parser.add_argument("--per-language", type=int, default=100)
    parser.add_argument("--regenerate", action="store_true", help="write the sets again")
    parser.add_argument(
        "--meaning",
        action="store_true",
        help="embed the utterances as the night does: meaning items and customer sentiment",
    )
    parser.add_argument(
        "--control-share",
        type=float,
        default=0.05,
        help="the policy's random control sample, heard (default 0.05, as [queue])",
    )
    args = parser.parse_args()
    out = Path(args.out)
    paths = {s: out / f"{s}.jsonl" for s in ("dev", "heldout")}
    if args.regenerate or not all(p.exists() for p in paths.values()):
        paths = write_sets(out, per_language=args.per_language)
    report = {
        split: evaluate_set(score_set(path, meaning=args.meaning), control_share=args.control_share)
        for split, path in paths.items()
    }
    head = "  ".join(f"{'budget ' + f'{b:.0%}':>28}" for b in BUDGETS)
    print(f"{'':19}{head}")
    print(f"{'set':8} {'calls':>5} {'must':>4}" + "  queue flagged random" * len(BUDGETS))
    for split, r in report.items():
        cells = "".join(
            f"  {r['recall'][k]:>5.2f} {r['flagged_only'][k]:>7.2f} {r['random'][k]:>6.2f}"
            for k in (f"{b:.0%}" for b in BUDGETS)
        )
        print(f"{split:8} {r['calls']:>5} {r['must_hear']:>4}{cells}")
    for split, r in report.items():
        print(
            f"{split}: {r['queue_share_calls']:.0%} of calls are flagged, their plans cost "
            f"{r['queue_share_audio_priced']:.0%} of the audio; must-hear calls flagged "
            f"{r['queue_must_hear_recall']:.0%}; heard at 20 %: {r['recall_at_20%']}"
        )
    report["control_share"] = args.control_share  # type: ignore[assignment]
    report["meaning"] = args.meaning  # type: ignore[assignment]
    (out / "queue_recall.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
