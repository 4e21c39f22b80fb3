"""What ``tolerance: 1`` (a phrase found with one interior word heard as another) gains and costs.

Each shipped inbound rubric is compared with itself without its ``tolerance`` params:

- ``--warehouse DIR``: the bundled samples as a night stored them (``earmark run
  --archive samples/archive --warehouse DIR``: real ASR of synthetic voices), scored
  both ways against ``samples/labels.json`` (the items ``tests/flows/test_samples.py``
  counts), with each finding that changed and its evidence;
- the call sets ``bench/data/calls_*.jsonl`` (written dialogues, no labels for scripted
  items): per language × item, the agent lines a near match newly finds (the exact
  phrases found nothing on that line), and the calls the item newly passes on; ``--show N``
  prints N of those lines per item to read.

    .venv/bin/python bench/near_phrases.py [--warehouse DIR] [--show N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.detection import transcript_of  # noqa: E402
from models.embed import get_embedder  # noqa: E402
from models.nlp import get_analyzer  # noqa: E402
from pipeline.config import DEFAULT_RUBRICS  # noqa: E402
from pipeline.rubric.engine import (  # noqa: E402
    CompiledRubric,
    compile_rubric,
    eligible_utterances,
    prepare_call,
)
from pipeline.rubric.schema import parse_rubric  # noqa: E402
from pipeline.textfile import load_yaml  # noqa: E402
from pipeline.types import Transcript  # noqa: E402

CALL_SETS = sorted((ROOT / "bench" / "data").glob("calls_*.jsonl"))


def without_tolerance(raw: Any) -> Any:
    """A rubric document with every ``tolerance`` param taken out (exact phrases only)."""
    if isinstance(raw, dict):
        return {k: without_tolerance(v) for k, v in raw.items() if k != "tolerance"}
    if isinstance(raw, list):
        return [without_tolerance(v) for v in raw]
    return raw


def both_ways(path: Path) -> tuple[CompiledRubric, CompiledRubric, list[str]]:
    """The rubric as shipped, without its tolerances, and the ids of the items that differ."""
    raw = load_yaml(path.read_text(encoding="utf-8"))
    exact_raw = without_tolerance(raw)
    shipped = parse_rubric(raw, source=str(path))
    exact = parse_rubric(exact_raw, source=str(path))
    changed = [a.id for a, b in zip(shipped.items, exact.items, strict=True) if a != b]
    analyzer, embedder = get_analyzer(shipped.language), get_embedder()
    return (
        compile_rubric(shipped, analyzer, embedder=embedder),
        compile_rubric(exact, analyzer, embedder=embedder),
        changed,
    )


def samples(warehouse: Path, rubrics: dict[str, tuple[CompiledRubric, CompiledRubric]]) -> None:
    from flows.rescore import iter_stored_calls

    raw = json.loads((ROOT / "samples" / "labels.json").read_text(encoding="utf-8"))
    labels = {path.removeprefix("archive/"): label for path, label in raw.items()}
    counts = {"exact": [0, 0, 0, 0], "tolerance": [0, 0, 0, 0]}  # tp fp fn tn
    changes = []
    for stored in iter_stored_calls(str(warehouse)):
        call = stored.call
        label = labels.get(call.source_path)
        if not label or not label.get("items") or call.language not in rubrics:
            continue
        found = {}
        shipped, exact = rubrics[call.language]
        for name, compiled in (("exact", exact), ("tolerance", shipped)):
            findings, _ = stored.assess(compiled)
            found[name] = {f.item_id: f for f in findings}
            for item, truth in label["items"].items():
                if item in found[name]:
                    got = found[name][item].detected
                    counts[name][(0 if got else 2) if truth else (1 if got else 3)] += 1
        for item, f in found["tolerance"].items():
            if f.detected != found["exact"][item].detected:
                truth = label["items"].get(item)
                rules = "; ".join(e.rule for e in f.evidence)
                changes.append(f"  {call.call_id} {item}: {f.detected} (truth {truth})  {rules}")
    for name, (tp, fp, fn, tn) in counts.items():
        n = tp + fp + fn + tn
        print(
            f"samples, {name:9}: accuracy {(tp + tn) / n:.3f}, precision {tp / (tp + fp):.3f}, "
            f"recall {tp / (tp + fn):.3f} (tp {tp} fp {fp} fn {fn} tn {tn}, {n} call × item)"
        )
    print("\n".join(changes))


def call_sets(
    rubrics: dict[str, tuple[CompiledRubric, CompiledRubric]],
    changed: dict[str, list[str]],
    show: int,
) -> None:
    by_language: dict[str, list[Transcript]] = defaultdict(list)
    for path in CALL_SETS:
        for line in path.read_text(encoding="utf-8").splitlines():
            t = transcript_of(json.loads(line))
            by_language[t.language].append(t)
    rng = random.Random(13)
    for language, (shipped, exact) in rubrics.items():
        lines: Counter[str] = Counter()
        new_lines: dict[str, list[str]] = defaultdict(list)
        new_calls: Counter[str] = Counter()
        items = {c.item.id: (c, e) for c, e in zip(shipped.items, exact.items, strict=True)}
        for t in by_language[language]:
            call = prepare_call(t, shipped.analyzer)
            for item_id in changed[language]:
                near, plain = items[item_id]
                eligible = eligible_utterances(
                    t, speaker=near.item.speaker, window=near.item.window
                )
                lines[item_id] += len(eligible)
                before = {h.utterance for h in plain.detector.find(call, eligible)}
                after = {h.utterance: h for h in near.detector.find(call, eligible)}
                added = [u for u in after if u not in before]
                new_lines[item_id] += [
                    f"{t.call_id}: {t.utterances[u].text[:90]!r}  [{after[u].rule}]" for u in added
                ]
                new_calls[item_id] += bool(added) and not before
        for item_id in changed[language]:
            print(
                f"{language} {item_id:22} {len(by_language[language])} calls, "
                f"{lines[item_id]} eligible lines: {len(new_lines[item_id])} newly found, "
                f"{new_calls[item_id]} calls newly pass"
            )
            for text in rng.sample(new_lines[item_id], min(show, len(new_lines[item_id]))):
                print(f"    {text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, help="a night's warehouse of samples/archive")
    parser.add_argument("--show", type=int, default=0, help="lines to print per item")
    args = parser.parse_args()
    rubrics, changed = {}, {}
    for language, path in DEFAULT_RUBRICS.items():
        shipped, exact, items = both_ways(Path(path))
        rubrics[language], changed[language] = (shipped, exact), items
        print(f"{language}: items with a tolerance: {', '.join(items) or 'none'}")
    if args.warehouse:
        samples(args.warehouse, rubrics)
    call_sets(rubrics, changed, args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
