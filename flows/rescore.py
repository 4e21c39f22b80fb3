"""Re-apply a (changed) rubric to stored transcripts — no ASR, no audio.

``earmark rescore --warehouse W [--rubric FILE…] [--since DATE]`` reads ``calls`` and
``utterances`` per ``call_date`` partition, evaluates the rubric for each call's
language and writes ``findings`` and ``scores``, then rebuilds the queues.

Versions: findings and scores are keyed by (call, rubric id, rubric *version*). A
rubric with a new ``version`` adds rows next to the old version's, which are kept
for comparison; the queue always uses the newest version. Re-running the same
version replaces its rows (so an edit without a version bump overwrites).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flows.nightly import rebuild_queue
from models.nlp import get_analyzer
from pipeline import rows
from pipeline import warehouse as wh
from pipeline.config import Config
from pipeline.errors import ConfigError
from pipeline.rubric.engine import ALL_INPUTS, CompiledRubric, compile_rubric
from pipeline.rubric.schema import load_rubric
from pipeline.scoring import assess


@dataclass(frozen=True, slots=True)
class RescoreSummary:
    calls: int
    skipped: int
    dates: list[str]
    wall_s: float
    rubrics: list[str]

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall_s if self.wall_s else 0.0


def compile_rubrics(
    paths: Sequence[str], *, available: frozenset[str] = ALL_INPUTS
) -> dict[str, CompiledRubric]:
    """One compiled rubric per language; two files for one language is an error."""
    compiled: dict[str, CompiledRubric] = {}
    for path in paths:
        rubric = load_rubric(path)
        if rubric.language in compiled:
            raise ConfigError(
                f"two rubrics for language {rubric.language!r}: {compiled[rubric.language].rubric.source} and {path}",
                code="C013",
            )
        compiled[rubric.language] = compile_rubric(
            rubric, get_analyzer(rubric.language), available=available
        )
    return compiled


def rescore_partition(warehouse: str, date: str, rubric_paths: tuple[str, ...]) -> tuple[int, int]:
    """Rescore one ``call_date`` partition; returns (calls scored, calls skipped)."""
    compiled = compile_rubrics(rubric_paths)
    calls = [
        c
        for c in wh.read_table(warehouse, "calls", call_dates=[date]).to_pylist()
        if c["status"] == "ok"
    ]
    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for u in wh.read_table(warehouse, "utterances", call_dates=[date]).to_pylist():
        by_call[u["call_id"]].append(u)
    findings: list[dict[str, Any]] = []
    scores: list[dict[str, Any]] = []
    skipped = 0
    for call in calls:
        rubric = compiled.get(call["language"])
        if rubric is None:
            skipped += 1
            continue
        transcript = rows.transcript_from_rows(
            call["call_id"], call["language"], call["duration_s"], by_call[call["call_id"]]
        )
        values, spans = rows.metrics_from_call_row(call)
        call_findings, score = assess(rubric, transcript, metrics=values, metric_spans=spans)
        findings.extend(rows.finding_row(f) for f in call_findings)
        scores.append(rows.score_row(score))
    if scores:
        wh.upsert(warehouse, "findings", {date: findings})
        wh.upsert(warehouse, "scores", {date: scores})
    return len(scores), skipped


def rescore_flow(
    warehouse: str, rubric_paths: list[str], since: str | None, config: Config
) -> RescoreSummary:
    """Body of the Prefect flow: one task per partition, then the queues."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    started = time.monotonic()
    compile_rubrics(rubric_paths)  # refuse a broken rubric before touching anything
    dates = [d for d in wh.partition_dates(warehouse, "calls") if since is None or d >= since]
    part = task(
        rescore_partition, name="rescore-partition", cache_policy=NO_CACHE, persist_result=False
    )
    with wh.night_lock(warehouse):
        futures = [part.submit(warehouse, d, tuple(rubric_paths)) for d in dates]
        done = [f.result() for f in futures]
        rebuild_queue(warehouse, dates, config)
    return RescoreSummary(
        calls=sum(n for n, _ in done),
        skipped=sum(s for _, s in done),
        dates=dates,
        wall_s=time.monotonic() - started,
        rubrics=rubric_paths,
    )


def run_rescore(
    warehouse: str, config: Config, *, rubrics: Iterable[str] = (), since: str | None = None
) -> RescoreSummary:
    """Run the rescore flow on Prefect's local engine."""
    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    paths = list(rubrics) or [
        config.rubrics[lang] for lang in config.languages if lang in config.rubrics
    ]
    rescore = flow(
        rescore_flow,
        name="earmark-rescore",
        task_runner=ThreadPoolTaskRunner(max_workers=1),
        validate_parameters=False,
        persist_result=False,
    )
    return rescore(warehouse, paths, since, config)  # type: ignore[no-any-return]


def transcripts_from_jsonl(
    lines: Iterable[str],
) -> Iterable[tuple[int, Mapping[str, Any] | None, str]]:
    """Lazily parse ``rubric apply`` input: ``(line number, object or None, error)``."""
    import json

    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, None, f"not JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(obj, dict):
            yield n, None, f"expected a JSON object, got {type(obj).__name__}"
            continue
        yield n, obj, ""
