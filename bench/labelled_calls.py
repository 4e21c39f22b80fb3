"""Labelled synthetic call transcripts for the queue benchmark: which calls must be heard.

Writes two JSON-lines files in the format of ``earmark rubric apply --transcripts``
(``call_id``, ``language``, ``duration_s``, ``utterances``), one call a line, with an
extra ``label`` object that ``rubric apply`` ignores::

    {"call_id": "dev-en-0007", "language": "en", "duration_s": 243.5, "utterances": [...],
     "label": {"must_hear": true, "kind": "dissatisfaction", "moments": [[88.1, 91.9]]}}

``moments`` are the must-hear lines (start, end); an inspector has heard the call when
their plan covers one of them (``off_script`` calls have none: any plan will do).

Calls are built from templates (``bench/data/labelled_lines.yaml``), in English, Chinese
and Russian. Kinds:

- must be heard: ``profanity`` and ``unprofessional`` (the agent's conduct: swearing;
  blaming, condescending, dismissing, sarcasm), ``dissatisfaction`` (the customer says
  they are unhappy, in varied words), ``escalation`` (asks for a manager, threatens to
  complain or leave), ``off_script`` (a critical miss: no greeting, no identification,
  no verification, no closing: the agent ran the call off the script);
- need not be heard: ``fine`` (every scripted item) and ``minor_miss`` (one of greeting,
  self-identification or closing missing), some with harmless words that sound like a
  signal ("my manager at work asked me to call", "no complaints").

The **dev** set (to tune the queue on) and the **held-out** set are drawn from
DIFFERENT template families: every line a call is made of (greetings, complaints,
conduct, filler) has two disjoint wordings, ``A`` for dev and ``B`` for held-out, so
held-out numbers say how the queue does on wording it was not tuned on.

Run: ``python bench/labelled_calls.py [--out .state/bench/queue]`` (deterministic: ``--seed``).
"""

from __future__ import annotations

import argparse
import functools
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

MUST_HEAR = ("profanity", "unprofessional", "dissatisfaction", "escalation", "off_script")
NEED_NOT = ("fine", "minor_miss")
MIX: Mapping[str, float] = {
    "fine": 0.34,
    "minor_miss": 0.30,
    "profanity": 0.05,
    "unprofessional": 0.08,
    "dissatisfaction": 0.09,
    "escalation": 0.08,
    "off_script": 0.06,
}
"""Share of each kind: about a third of the calls must be heard."""

LINES = Path(__file__).resolve().parent / "data" / "labelled_lines.yaml"
"""Each language: slot -> family -> lines. ``A`` makes the dev set, ``B`` the held-out set."""


@functools.cache
def _lines() -> dict[str, dict[str, dict[str, list[str]]]]:
    return yaml.safe_load(LINES.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _pick(rng: random.Random, lang: str, slot: str, family: str) -> str:
    return rng.choice(_lines()[lang][slot][family])


def make_call(
    rng: random.Random, *, call_id: str, lang: str, kind: str, family: str
) -> dict[str, Any]:
    """One call of ``kind`` in ``lang`` from template family ``family`` (a dict ready to dump)."""
    missing: set[str] = set()
    if kind == "minor_miss":
        missing = {rng.choice(["greeting", "self_id", "closing"])}
    elif kind == "off_script":
        missing = {"greeting", "self_id", "verify", "closing", "empathy"}
    lines: list[tuple[str, str]] = []  # (speaker, text); times are laid out below
    opening = [s for s in ("greeting", "self_id") if s not in missing]
    lines += [("agent", _pick(rng, lang, s, family)) for s in opening]
    lines.append(("customer", _pick(rng, lang, "issue", family)))
    if "verify" not in missing:
        lines.append(("agent", _pick(rng, lang, "verify", family)))
        lines.append(("customer", _pick(rng, lang, "details", family)))
    middle = [
        (
            "agent" if i % 2 == 0 else "customer",
            _pick(rng, lang, f"{'agent' if i % 2 == 0 else 'customer'}_filler", family),
        )
        for i in range(rng.randint(14, 34))
    ]
    events: list[tuple[str, str]] = []
    if kind in ("dissatisfaction", "escalation"):
        events += [("customer", _pick(rng, lang, kind, family)) for _ in range(rng.randint(1, 2))]
    elif kind in ("profanity", "unprofessional"):
        events.append(("agent", _pick(rng, lang, kind, family)))
    for e in events:
        middle.insert(rng.randint(1, len(middle)), e)
    if kind in NEED_NOT and rng.random() < 0.3:
        middle.insert(
            rng.randint(1, len(middle)), ("customer", _pick(rng, lang, "harmless", family))
        )
    if "empathy" not in missing and (kind != "fine" or rng.random() < 0.9):
        middle.insert(rng.randint(1, len(middle)), ("agent", _pick(rng, lang, "empathy", family)))
    lines += middle
    if "closing" not in missing:
        lines.append(("agent", _pick(rng, lang, "closing", family)))
    timed = _timed(rng, lines)
    moments = [
        [u["start_s"], u["end_s"]]
        for u, line in zip(timed["utterances"], lines, strict=True)
        if any(line is e for e in events)
    ]
    return {
        "call_id": call_id,
        "language": lang,
        **timed,
        "label": {"must_hear": kind in MUST_HEAR, "kind": kind, "moments": moments},
    }


def _timed(rng: random.Random, lines: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Lay the lines out in time: speech at ~2.6 words (or ~5 characters) a second,
    pauses of 0.4–6 s between turns, the odd longer silence while the agent looks."""
    t = rng.uniform(0.3, 1.5)
    utts = []
    for speaker, text in lines:
        units = len(text.split()) if " " in text else max(1, len(text) // 2)
        length = max(1.2, units / rng.uniform(2.2, 3.0))
        utts.append(
            {
                "speaker": speaker,
                "start_s": round(t, 2),
                "end_s": round(t + length, 2),
                "text": text,
            }
        )
        t += length + (rng.uniform(4, 12) if rng.random() < 0.08 else rng.uniform(0.4, 2.5))
    return {"duration_s": round(t + rng.uniform(1, 4), 2), "utterances": utts}


def iter_calls(*, split: str, per_language: int, seed: int) -> Iterator[dict[str, Any]]:
    """The calls of one set (``dev`` from family A, ``heldout`` from family B), lazily."""
    family = {"dev": "A", "heldout": "B"}[split]
    rng = random.Random(f"{seed}-{split}")
    kinds = list(MIX)
    for lang in ("en", "zh", "ru"):
        counts = {k: round(MIX[k] * per_language) for k in kinds}
        plan = [k for k in kinds for _ in range(counts[k])]
        rng.shuffle(plan)
        for n, kind in enumerate(plan):
            yield make_call(
                rng, call_id=f"{split}-{lang}-{n:04d}", lang=lang, kind=kind, family=family
            )


def write_sets(out: Path, *, per_language: int = 100, seed: int = 13) -> dict[str, Path]:
    """Write ``dev.jsonl`` and ``heldout.jsonl`` under ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in ("dev", "heldout"):
        path = out / f"{split}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for call in iter_calls(split=split, per_language=per_language, seed=seed):
                f.write(json.dumps(call, ensure_ascii=False) + "\n")
        paths[split] = path
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default=".state/bench/queue", help="folder for dev.jsonl, heldout.jsonl"
    )
    parser.add_argument("--per-language", type=int, default=100, help="calls per language per set")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    for split, path in write_sets(
        Path(args.out), per_language=args.per_language, seed=args.seed
    ).items():
        print(f"{split}: {path}")


if __name__ == "__main__":
    main()
