"""Examples and counter-examples for a meaning item, from our labelled calls, line by line.

The calls of the tuned sets (``CALLS`` of ``bench/detection.py``: ``calls_tuned*.jsonl``)
carry labels per call. A person then marked, in every call labelled true, which lines carry
the item: ``bench/data/line_labels/<item>.<lang>.tsv``, one row per call,
``<call_id> TAB 4,6,9?`` (utterances counted from 0; ``?``: borderline, left out). From them:

- **examples**: the marked lines;
- **counter-examples**: the item speaker's other lines (of calls labelled false, and the
  unmarked lines of calls labelled true), ranked by the item's own head as the rubric has
  it without a mined block; the ``--hard`` lines it scores highest, the ones it would
  confuse, are kept (a head learns little from the easy rest);
- and **twins**, where ``line_labels/twins/<item>.<lang>.tsv`` has them
  (``<call_id> TAB <line> TAB <text>``): a marked line rewritten without the item (the
  same topic, facts and decision, said courteously), each a counter-example, so that the
  head learns the tone the item is about rather than the topics its examples talk about;
- and **written lines**, where ``line_labels/written/<item>.<lang>.tsv`` has them
  (``<label> TAB <register> TAB <text>``, label 1 or 0, register ``call``, ``chat`` or
  ``post``): lines written on their own, by writers who saw no rubric and no other data,
  in the registers real customers use besides the phone (chats, web forms, public posts
  to a company's account); label 1 an example, 0 a counter-example (all kept, never
  ranked), so that the head does not learn one author's or one medium's way of saying it.

    .venv/bin/python bench/mine_lines.py ITEM LANG [--hard 300] [--write]
    .venv/bin/python bench/mine_lines.py ITEM LANG --leave-one-out [--thresholds -0.5,0,0.5,1]
        [--nearest-weight 20] [--l2 2] [--after-customer 0.25] [--top 2] [--min-words 5]
        [--min-similarity 0.84]

Without ``--write`` it prints what it would add; with it, the block between the ``# mined``
markers of the item's ``meaning.v1`` examples and counter-examples in the shipped rubric of
``LANG`` is replaced (added the first time). The threshold is not touched.
``--leave-one-out`` measures what the lines are worth: for each tuned set, the item's F1 on
that set's calls with lines mined from the other sets only, beside the rubric without
mined lines, mean over the sets per threshold (README, "Detection quality").

The judge can be varied there, to measure another before anyone builds it: ``--nearest-weight``
(the item's own replaced), ``--l2`` (the head trained with this regularisation instead of
:func:`~pipeline.rubric.meaning.linear_head`'s), ``--after-customer W`` (each line's log-odds
less ``W`` times the head's log-odds of the customer line before it: a line that merely
echoes an angry customer's words is not rude by itself), ``--top K`` (a call's score is the
mean of its ``K`` highest line scores rather than the highest: one line that only sounds
firm does not make a call rude), ``--min-words N`` (the item's ``min_words`` replaced, for
the lines mined as well as for the lines judged, as a re-mined rubric would have it: a
fragment of a real call's recognised talk, "So in other words,", is near everything),
``--min-similarity S`` (the item's own replaced).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from benchenv import ROOT, use_checkout

use_checkout()

from detection import CALLS, transcript_of  # noqa: E402

from models.embed import E5Embedder, get_embedder  # noqa: E402
from models.nlp import get_analyzer  # noqa: E402
from pipeline.config import DEFAULT_RUBRICS  # noqa: E402
from pipeline.rubric.detectors import CallText  # noqa: E402
from pipeline.rubric.engine import CompiledItem, CompiledRubric, compile_rubric  # noqa: E402
from pipeline.rubric.meaning import (  # noqa: E402
    MeaningDetector,
    call_vectors,
    linear_head,
    words,
)
from pipeline.rubric.schema import parse_rubric  # noqa: E402
from pipeline.rubric.tune import item_margins, meaning_of  # noqa: E402
from pipeline.textfile import load_yaml  # noqa: E402

LABELS = ROOT / "bench" / "data" / "line_labels"
TWINS = LABELS / "twins"
WRITTEN = LABELS / "written"
REGISTERS = ("call", "chat", "post")
BEGIN = "# mined: bench/mine_lines.py from bench/data/line_labels (re-run it, do not edit)"
END = "# end mined"


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    marked: bool
    set_name: str
    twin: bool = False
    """A counter-example never ranked: a marked line rewritten without the item, or a
    written line labelled 0."""


def marks(item: str, language: str) -> dict[str, tuple[set[int], set[int]]]:
    """call id → (the lines marked for sure, the borderline ones)."""
    path = LABELS / f"{item}.{language}.tsv"
    out: dict[str, tuple[set[int], set[int]]] = {}
    for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not row.strip():
            continue
        call_id, _, numbers = row.partition("\t")
        marked = [m.strip() for m in numbers.split(",") if m.strip()]
        if not marked or not all(m.rstrip("?").isdigit() for m in marked):
            raise SystemExit(f"{path}:{n}: expected 'call_id<TAB>4,6,9?', got {row!r}")
        if call_id in out:
            raise SystemExit(f"{path}:{n}: {call_id} has a row already")
        sure = {int(m) for m in marked if not m.endswith("?")}
        out[call_id] = (sure, {int(m[:-1]) for m in marked if m.endswith("?")})
    return out


def iter_tsv(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """Lazily, ``(line number, row, its tab-separated fields)`` of each non-blank row of
    ``path``; nothing when there is no file."""
    if not path.is_file():
        return
    for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if row.strip():
            yield n, row, row.split("\t")


def twins(item: str, language: str) -> dict[tuple[str, int], str]:
    """(call id, line) → the line rewritten without the item (none without a file)."""
    path = TWINS / f"{item}.{language}.tsv"
    out = {}
    for n, row, fields in iter_tsv(path):
        if len(fields) != 3 or not fields[1].isdigit() or not fields[2].strip():
            raise SystemExit(f"{path}:{n}: expected 'call_id<TAB>4<TAB>text', got {row!r}")
        out[(fields[0], int(fields[1]))] = " ".join(fields[2].split())
    return out


def written(item: str, language: str) -> list[Line]:
    """The lines written for ``item`` on their own (none without a file)."""
    path = WRITTEN / f"{item}.{language}.tsv"
    out = []
    for n, row, fields in iter_tsv(path):
        if len(fields) != 3 or fields[0] not in ("0", "1") or fields[1] not in REGISTERS:
            raise SystemExit(f"{path}:{n}: expected '1|0<TAB>call|chat|post<TAB>text', got {row!r}")
        text = " ".join(fields[2].split())
        if not text:
            raise SystemExit(f"{path}:{n}: the line has no text")
        marked = fields[0] == "1"
        out.append(Line(text, marked, "written", twin=not marked))
    return out


def labelled_lines(item: str, language: str, speaker: str, min_words: int) -> list[Line]:
    """Every line of ``speaker`` in the tuned sets, marked or not (borderline left out),
    the twins of the marked ones, and the written lines."""
    marked = marks(item, language)
    rewritten = twins(item, language)
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
                lines.append(Line(" ".join(u["text"].split()), positive and i in sure, name))
                if (call["call_id"], i) in rewritten and positive and i in sure:
                    lines.append(Line(rewritten[(call["call_id"], i)], False, name, twin=True))
    return lines + written(item, language)  # short ones too: they shape the head


def item_lines(lines: list[str], item: str) -> range:
    """The lines of the rubric item ``item`` (from its ``- id:`` to the next item's)."""
    if f"  - id: {item}" not in lines:
        raise SystemExit(f"no item {item!r} in the rubric")
    start = lines.index(f"  - id: {item}")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("  - id: ")), len(lines)
    )
    return range(start, end)


def without_mined(text: str, item: str) -> str:
    """``text`` without the mined blocks of ``item`` (each must open and close)."""
    lines = text.split("\n")
    where = item_lines(lines, item)
    kept, inside = [], False
    for i in where:
        marker = lines[i].strip()
        if marker in (BEGIN, END) and (marker == BEGIN) == inside:
            raise SystemExit(f"{item}: a '{marker}' line without its pair at line {i + 1}")
        inside = marker == BEGIN or (inside and marker != END)
        if not inside and marker != END:
            kept.append(lines[i])
    if inside:
        raise SystemExit(f"{item}: a '{BEGIN}' line without '{END}'")
    return "\n".join(lines[: where.start] + kept + lines[where.stop :])


def list_end(lines: list[str], key_at: int) -> tuple[int, str]:
    """Where the list under ``lines[key_at]`` (``examples:``) ends, and its entries' indent."""
    indent = " " * (len(lines[key_at]) - len(lines[key_at].lstrip()) + 2)
    end = key_at + 1
    for i in range(key_at + 1, len(lines)):
        if lines[i].startswith(indent + "- "):
            end = i + 1
        elif lines[i].strip() and not lines[i].startswith(indent + "# "):
            break
    return end, indent


def with_mined(text: str, item: str, examples: list[str], counters: list[str]) -> str:
    """``text`` (without mined lines) with the mined block at the end of the item's
    meaning lists; checked by reading it back."""
    lines = text.split("\n")
    where = item_lines(lines, item)
    meaning = next(
        (i for i in where if lines[i].strip().removeprefix("- ") == "detector: meaning.v1"),
        None,
    )
    if meaning is None:
        raise SystemExit(f"{item} has no meaning.v1 detector")
    for key, new in (("counter_examples:", counters), ("examples:", examples)):
        at = next((i for i in range(meaning, where.stop) if lines[i].strip() == key), None)
        if at is None:
            raise SystemExit(f"{item}: its meaning.v1 has no '{key}' list written as a block")
        end, indent = list_end(lines, at)
        entries = [f"{indent}- {json.dumps(t, ensure_ascii=False)}" for t in new]
        lines[end:end] = [indent + BEGIN, *entries, indent + END]
    out = "\n".join(lines)
    before, after = meaning_params_of(text, item), meaning_params_of(out, item)
    grown = {
        "examples": before["examples"] + examples,
        "counter_examples": before["counter_examples"] + counters,
    }
    if after != {**before, **grown} or without_mined(out, item) != text:
        raise SystemExit(f"{item}: the mined lines did not land in its lists (a wrapped entry?)")
    return out


def meaning_params_of(text: str, item: str) -> dict[str, Any]:
    found = [it for it in load_yaml(text)["items"] if it["id"] == item]
    return _meaning_params(found[0]["detector"], found[0].get("params", {}))


def _meaning_params(detector: str, params: dict[str, Any]) -> dict[str, Any]:
    if detector == "meaning.v1":
        return params
    nested = [params[k] for k in ("find", "unless") if k in params]
    subs: list[Any] = [*params.get("of", []), *nested]  # type: ignore[misc]
    found = [_meaning_params(s["detector"], s.get("params", {})) for s in subs]
    return next((p for p in found if p), {})


def compiled(text: str, path: Path, language: str) -> CompiledRubric:
    rubric = parse_rubric(load_yaml(text), source=str(path))
    return compile_rubric(rubric, get_analyzer(language), embedder=get_embedder())


def item_of(rubric: CompiledRubric, item: str) -> CompiledItem:
    return next(c for c in rubric.items if c.item.id == item)


def mine(
    detector: MeaningDetector, lines: Sequence[Line], embedder: E5Embedder, hard: int
) -> tuple[list[str], list[str]]:
    """The marked lines the item lacks; its head's ``hard`` likeliest other lines, then the
    twins."""
    if detector.head is None:
        raise SystemExit("the item is not judged by method: linear")
    known = set(detector.examples) | set(detector.params.counter_examples)
    positive = {x.text for x in lines if x.marked}
    examples = [t for t in dict.fromkeys(x.text for x in lines if x.marked) if t not in known]
    negatives = [
        t
        for t in dict.fromkeys(x.text for x in lines if not x.twin)
        if t not in positive and t not in known
    ]
    weights, bias = detector.head
    scores = embedder.embed_examples(negatives) @ weights + bias
    hardest = [negatives[i] for i in np.argsort(-scores, kind="stable")[:hard]]
    taken = positive | known | set(hardest)
    return examples, hardest + [
        t for t in dict.fromkeys(x.text for x in lines if x.twin) if t not in taken
    ]


@dataclass(frozen=True, slots=True)
class Judge:
    """How the leave-one-out judges a line, where it differs from the rubric's item."""

    nearest_weight: float | None = None
    l2: float | None = None
    after_customer: float = 0.0
    top: int = 1
    min_words: int | None = None
    min_similarity: float | None = None

    def apply(self, detector: MeaningDetector) -> None:
        """Make the compiled ``detector`` judge this way (it is the harness's own copy)."""
        update = {
            name: value
            for name, value in (
                ("nearest_weight", self.nearest_weight),
                ("min_words", self.min_words),
                ("min_similarity", self.min_similarity),
            )
            if value is not None
        }
        if update:
            detector.params = detector.params.model_copy(update=update)
        if self.l2 is not None:
            if detector.head is None or detector.counter_vectors is None:
                raise SystemExit("--l2 is for an item judged by method: linear")
            detector.head = linear_head(
                detector.example_vectors, detector.counter_vectors, l2=self.l2
            )
        if self.after_customer:
            if detector.head is None:
                raise SystemExit("--after-customer is for an item judged by method: linear")
            own = detector.scores
            weight = self.after_customer

            def scores(call: CallText, utterances: Sequence[int]) -> list[tuple[float, int, float]]:
                return after_customer(detector, own(call, utterances), call, utterances, weight)

            detector.scores = scores  # type: ignore[method-assign]
        if self.top > 1:
            each = detector.scores
            top = self.top

            def call_scores(
                call: CallText, utterances: Sequence[int]
            ) -> list[tuple[float, int, float]]:
                return top_mean(each(call, utterances), top)

            detector.scores = call_scores  # type: ignore[method-assign]


def top_mean(scored: list[tuple[float, int, float]], k: int) -> list[tuple[float, int, float]]:
    """``scored`` whose highest margin is the mean of the ``k`` highest (of all there are
    when fewer), and no margin above it: the call's score, as ``item_margins`` takes it.

    >>> [m for m, _, _ in top_mean([(1.0, 0, 0.9), (3.0, 0, 0.9), (-1.0, 0, 0.9)], 2)]
    [1.0, 2.0, -1.0]
    """
    if not scored:
        return scored
    order = sorted(range(len(scored)), key=lambda i: -scored[i][0])
    mean = sum(scored[i][0] for i in order[:k]) / len(order[:k])
    return [
        (mean if i == order[0] else min(margin, mean), best, near)
        for i, (margin, best, near) in enumerate(scored)
    ]


def after_customer(
    detector: MeaningDetector,
    scored: list[tuple[float, int, float]],
    call: CallText,
    utterances: Sequence[int],
    weight: float,
) -> list[tuple[float, int, float]]:
    """``scored`` with each margin less ``weight`` times the head's log-odds of the nearest
    utterance before it of another speaker, where those are above even (a calm line before
    it takes nothing off, nor adds; none before: as it was)."""
    assert detector.head is not None
    weights, bias = detector.head
    said = call.transcript.utterances
    vectors = call_vectors(call, detector.embedder)
    out = []
    for i, (margin, best, near) in zip(utterances, scored, strict=True):
        before = next((j for j in range(i - 1, -1, -1) if said[j].speaker != said[i].speaker), None)
        if before is not None and margin > float("-inf"):
            margin -= weight * max(0.0, float(vectors[before] @ weights + bias))
        out.append((margin, best, near))
    return out


def leave_one_out(
    text: str, path: Path, args: argparse.Namespace, lines: Sequence[Line]
) -> dict[str, list[float]]:
    """Mean F1 over the tuned sets per threshold: as the rubric is without mined lines,
    and with lines mined from the other sets."""
    thresholds = [float(t) for t in args.thresholds.split(",")]
    judge = Judge(
        args.nearest_weight,
        args.l2,
        args.after_customer,
        args.top,
        args.min_words,
        args.min_similarity,
    )
    base = compiled(text, path, args.language)
    detector = meaning_of(item_of(base, args.item))  # mines as --write would
    if judge != Judge():
        base = compiled(text, path, args.language)
        judge.apply(meaning_of(item_of(base, args.item)))
    sets = sorted({x.set_name for x in lines} - {"written"})
    scores: dict[str, list[list[float]]] = {"without lines": [], "with the others' lines": []}
    for held in sets:
        calls = [
            json.loads(row)
            for row in CALLS[held].read_text(encoding="utf-8").splitlines()
            if json.loads(row)["language"] == args.language
        ]
        truth = np.array([bool(c["labels"][args.item]) for c in calls])
        transcripts = [transcript_of(c) for c in calls]
        others = [x for x in lines if x.set_name != held]
        examples, counters = mine(detector, others, get_embedder(), args.hard)
        mined = compiled(with_mined(text, args.item, examples, counters), path, args.language)
        judge.apply(meaning_of(item_of(mined, args.item)))
        for name, rubric in (("without lines", base), ("with the others' lines", mined)):
            margins = np.array(item_margins(rubric, args.item, transcripts))
            scores[name].append([_f1(margins >= t, truth) for t in thresholds])
    for name, rows in scores.items():
        means = np.mean(rows, axis=0)
        print(
            f"{name:24}",
            "  ".join(f"{t:+.2f}: {m:.3f}" for t, m in zip(thresholds, means, strict=True)),
        )
    return {name: list(np.mean(rows, axis=0)) for name, rows in scores.items()}


def _f1(found: np.ndarray, truth: np.ndarray) -> float:
    tp = int((found & truth).sum())
    return (
        2 * tp / (2 * tp + int((found & ~truth).sum()) + int((~found & truth).sum())) if tp else 0.0
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("item")
    parser.add_argument("language", choices=sorted(DEFAULT_RUBRICS))
    parser.add_argument("--hard", type=int, default=300, help="counter-examples kept")
    parser.add_argument("--write", action="store_true", help="write them into the rubric")
    parser.add_argument("--leave-one-out", action="store_true", help="measure, write nothing")
    parser.add_argument("--thresholds", default="-1,-0.5,0,0.25,0.5,1,1.5,2")
    judged = parser.add_argument_group("the judge, with --leave-one-out (module docstring)")
    judged.add_argument("--nearest-weight", type=float, help="instead of the item's")
    judged.add_argument("--l2", type=float, help="the head's regularisation, instead of 0.5")
    judged.add_argument("--after-customer", type=float, default=0.0, metavar="W")
    judged.add_argument(
        "--top", type=int, default=1, metavar="K", help="lines a call's score is the mean of"
    )
    judged.add_argument(
        "--min-words", type=int, metavar="N", help="instead of the item's, mined lines too"
    )
    judged.add_argument("--min-similarity", type=float, metavar="S", help="instead of the item's")
    args = parser.parse_args()
    if args.min_words is not None and not args.leave_one_out:
        parser.error("--min-words measures (--leave-one-out); to ship it, set the item's min_words")
    if args.min_similarity is not None and not 0 < args.min_similarity < 1:
        # the item's min_similarity is checked so (gt 0, lt 1); the judge's copy of it is not
        parser.error(
            "--min-similarity is a cosine similarity above 0 and below 1, as the item's "
            f"min_similarity; got {args.min_similarity:g}"
        )
    path = Path(DEFAULT_RUBRICS[args.language])
    text = without_mined(path.read_text(encoding="utf-8"), args.item)
    item = item_of(compiled(text, path, args.language), args.item)
    detector = meaning_of(item)
    min_words = detector.params.min_words if args.min_words is None else args.min_words
    lines = labelled_lines(args.item, args.language, item.item.speaker, min_words)
    if args.leave_one_out:
        leave_one_out(text, path, args, lines)
        return 0
    examples, counters = mine(detector, lines, get_embedder(), args.hard)
    print(
        f"{args.item} {args.language}: {len(examples)} examples, {len(counters)} counter-examples"
    )
    if args.write:
        path.write_text(with_mined(text, args.item, examples, counters), encoding="utf-8")
        print(f"written to {path}; then `make vectors`, and check the item's threshold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
