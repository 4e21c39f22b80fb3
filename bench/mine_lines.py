"""Examples and counter-examples for a meaning item, from our labelled calls, line by line.

The calls of ``bench/data/calls_tuned*.jsonl`` carry labels per call. A person then marked,
in every call labelled true, which lines carry the item: ``bench/data/line_labels/
<item>.<lang>.tsv``, one row per call, ``<call_id> TAB 4,6,9?`` (``?``: borderline, left
out). From them:

- **examples**: the marked lines;
- **counter-examples**: the item speaker's other lines (of calls labelled false, and the
  unmarked lines of calls labelled true), ranked by the item's own head as the rubric has
  it without a mined block; the ``--hard`` lines it scores highest, the ones it would
  confuse, are kept (a head learns little from the easy rest, and every line is embedded
  once per ``EARMARK_HOME``).

Lines by many authors teach the head what one author's examples cannot: measured
leaving each of the eight sets out in turn (README, "Detection quality").

    .venv/bin/python bench/mine_lines.py ITEM LANG [--hard 300] [--write]

Without ``--write`` it prints what it would add; with it, the block between the
``# mined`` markers of the item's ``meaning.v1`` examples and counter-examples in the
shipped rubric of ``LANG`` is replaced (added the first time). The threshold is not
touched: pick it with ``earmark rubric tune`` or ``bench/detection.py``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from benchenv import ROOT, use_checkout

use_checkout()

from detection import CALLS  # noqa: E402

from models.embed import get_embedder  # noqa: E402
from models.nlp import get_analyzer  # noqa: E402
from pipeline.config import DEFAULT_RUBRICS  # noqa: E402
from pipeline.rubric.engine import compile_rubric  # noqa: E402
from pipeline.rubric.meaning import words  # noqa: E402
from pipeline.rubric.schema import parse_rubric  # noqa: E402
from pipeline.rubric.tune import meaning_of  # noqa: E402
from pipeline.textfile import load_yaml  # noqa: E402

LABELS = ROOT / "bench" / "data" / "line_labels"
BEGIN = "# mined: bench/mine_lines.py from bench/data/line_labels (re-run it, do not edit)"
END = "# end mined"


@dataclass(frozen=True)
class Line:
    text: str
    marked: bool


def marks(item: str, language: str) -> dict[str, tuple[set[int], set[int]]]:
    """call id → (the lines marked for sure, the borderline ones)."""
    path = LABELS / f"{item}.{language}.tsv"
    out = {}
    for row in path.read_text(encoding="utf-8").splitlines():
        if row.strip():
            call_id, numbers = row.split("\t")
            marked = [n.strip() for n in numbers.split(",") if n.strip()]
            sure = {int(n) for n in marked if not n.endswith("?")}
            out[call_id] = (sure, {int(n[:-1]) for n in marked if n.endswith("?")})
    return out


def labelled_lines(item: str, language: str, speaker: str, min_words: int) -> list[Line]:
    """Every line of ``speaker`` in the tuned sets, marked or not (borderline left out)."""
    marked = marks(item, language)
    lines = []
    for name, path in CALLS.items():
        if not name.startswith("tuned") or not path.is_file():
            continue
        for row in path.read_text(encoding="utf-8").splitlines():
            call = json.loads(row)
            if call["language"] != language:
                continue
            positive = bool(call["labels"].get(item))
            if positive and call["call_id"] not in marked:
                raise SystemExit(f"{item}.{language}.tsv has no row for {call['call_id']}")
            sure, unsure = marked.get(call["call_id"], (set(), set()))
            for i, u in enumerate(call["utterances"]):
                if u["speaker"] != speaker or words(u["text"]) < min_words or i in unsure:
                    continue
                lines.append(Line(" ".join(u["text"].split()), positive and i in sure))
    return lines


def item_lines(lines: list[str], item: str) -> range:
    """The lines of the rubric item ``item`` (from its ``- id:`` to the next item's)."""
    start = lines.index(f"  - id: {item}")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("  - id: ")), len(lines)
    )
    return range(start, end)


def without_mined(text: str, item: str) -> str:
    """``text`` without the mined blocks of ``item``."""
    lines = text.split("\n")
    where = item_lines(lines, item)
    start, end = where.start, where.stop
    kept, inside = [], False
    for line in lines[start:end]:
        inside = inside or line.strip() == BEGIN
        if not inside:
            kept.append(line)
        inside = inside and line.strip() != END
    return "\n".join(lines[:start] + kept + lines[end:])


def list_end(lines: list[str], key_at: int) -> tuple[int, str]:
    """Where the list under ``lines[key_at]`` (``examples:``) ends, and its entries' indent."""
    indent = " " * (len(lines[key_at]) - len(lines[key_at].lstrip()) + 2)
    end = key_at + 1
    for i in range(key_at + 1, len(lines)):
        if lines[i].startswith(indent + "- ") or lines[i].startswith(indent + "# "):
            end = i + 1 if lines[i].startswith(indent + "- ") else end
        elif lines[i].strip():
            break
    return end, indent


def with_mined(text: str, item: str, examples: list[str], counters: list[str]) -> str:
    """``text`` with the mined block at the end of the item's meaning lists."""
    lines = text.split("\n")
    where = item_lines(lines, item)
    meaning = next(
        i for i in where if lines[i].strip().removeprefix("- ") == "detector: meaning.v1"
    )
    for key, new in (("counter_examples:", counters), ("examples:", examples)):
        at = next(i for i in range(meaning, where.stop) if lines[i].strip() == key)
        end, indent = list_end(lines, at)
        entries = [f"{indent}- {json.dumps(t, ensure_ascii=False)}" for t in new]
        lines[end:end] = [indent + BEGIN, *entries, indent + END]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("item")
    parser.add_argument("language", choices=sorted(DEFAULT_RUBRICS))
    parser.add_argument("--hard", type=int, default=300, help="counter-examples kept")
    parser.add_argument("--write", action="store_true", help="write them into the rubric")
    args = parser.parse_args()
    path = Path(DEFAULT_RUBRICS[args.language])
    text = without_mined(path.read_text(encoding="utf-8"), args.item)
    rubric = parse_rubric(load_yaml(text), source=str(path))
    embedder = get_embedder()
    compiled = compile_rubric(rubric, get_analyzer(args.language), embedder=embedder)
    it = next(c for c in compiled.items if c.item.id == args.item)
    detector = meaning_of(it)
    if detector.head is None:
        raise SystemExit(f"{args.item} is not judged by method: linear")
    lines = labelled_lines(args.item, args.language, it.item.speaker, detector.params.min_words)
    known = set(detector.examples)
    examples = [t for t in dict.fromkeys(x.text for x in lines if x.marked) if t not in known]
    positive = {x.text for x in lines if x.marked}
    negatives = [t for t in dict.fromkeys(x.text for x in lines) if t not in positive]
    weights, bias = detector.head
    scores = embedder.embed_examples(negatives) @ weights + bias
    counters = [negatives[i] for i in np.argsort(-scores, kind="stable")[: args.hard]]
    print(
        f"{args.item} {args.language}: {len(examples)} examples, {len(counters)} of "
        f"{len(negatives)} other lines as counter-examples (head's log-odds "
        f"{scores.max():+.2f} to {np.sort(scores)[::-1][len(counters) - 1]:+.2f})"
    )
    if args.write:
        new = with_mined(text, args.item, examples, counters)
        params = meaning_of(
            next(
                c
                for c in compile_rubric(
                    parse_rubric(load_yaml(new), source=str(path)),
                    get_analyzer(args.language),
                    embedder=embedder,
                ).items
                if c.item.id == args.item
            )
        ).params
        if len(params.examples) != len(detector.examples) + len(examples):
            raise SystemExit(f"{path}: the mined lines did not land in {args.item}'s examples")
        path.write_text(new, encoding="utf-8")
        print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
