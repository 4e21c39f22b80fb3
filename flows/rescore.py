"""Re-apply a (changed) rubric to stored transcripts — no ASR, no audio.

``earmark rescore --warehouse W [--rubric FILE…] [--since DATE]`` reads ``calls`` and
``utterances`` per ``call_date`` partition, evaluates the rubric for each call's
language and writes ``findings`` and ``scores``, then rebuilds the queues.

Versions: findings and scores are keyed by (call, rubric id, rubric *version*). A
rubric with a new ``version`` adds rows next to the old version's, which are kept
for comparison; the queue always uses the newest version. Re-running the same
version replaces its rows (so an edit without a version bump overwrites).

Speed (``bench/rescore.py``): one Prefect task per partition, never per call. A
partition's transcripts are rebuilt from the Arrow columns, not from a dict per row
and per word; its calls are scored in chunks on one forked worker per CPU, which
inherit the compiled rubric and the tables instead of being sent them. The scoring
itself is :func:`pipeline.scoring.assess`, the nightly path, so both give the same
findings and scores.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
from threadpoolctl import threadpool_limits

from flows.env import prefect_server, uncached_task
from flows.rubrics import RubricKey, compile_by_id, rubric_of_call
from pipeline import rows
from pipeline import warehouse as wh
from pipeline.calltypes import rubric_paths
from pipeline.config import Config, usable_cores
from pipeline.lease import night_lock
from pipeline.meaning import Vectors
from pipeline.row_records import CallRow
from pipeline.rubric.detectors import fork_safe
from pipeline.rubric.engine import CompiledRubric
from pipeline.scoring import assess
from pipeline.stored import stored_calls
from pipeline.types import CallScore, Finding, Span, Transcript


@dataclass(frozen=True, slots=True)
class RescoreSummary:
    calls: int
    skipped: tuple[str, ...]
    """The language of each stored call no given rubric is for."""
    dates: list[str]
    wall_s: float
    rubrics: list[str]
    languages: tuple[str, ...] = ()
    """The languages of the rubrics given."""
    edited: tuple[str, ...] = ()
    """Items whose content changed while their ``version`` did not (:func:`edited_items`)."""

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall_s if self.wall_s else 0.0


CHUNK_CALLS = 200
"""Calls per unit of work: enough that handing a chunk to a worker costs nothing next to
scoring it, few enough that the workers share a partition evenly."""


@dataclass(frozen=True, slots=True)
class _Partition:
    """What scoring a partition's chunks needs; a forked worker inherits it, unpickled."""

    compiled: dict[RubricKey, CompiledRubric]
    calls: list[CallRow]
    utterances: pa.Table
    rows_of: dict[str, list[int]]
    """Each call's rows in ``utterances``."""


def rescore_partition(
    warehouse: str, date: str, rubric_paths: tuple[str, ...], *, workers: int | None = None
) -> tuple[int, tuple[str, ...]]:
    """Rescore one ``call_date`` partition; returns (calls scored, the language of each
    call skipped).

    Calls are scored in chunks of :data:`CHUNK_CALLS`, on ``workers`` forked processes
    (default: one per usable core, :func:`pipeline.config.usable_cores`) when there is more than one chunk. Chunks come
    back in order, so the rows written do not depend on how many workers scored them.
    Calls no given rubric is for (by language and the rubric id their call type chose)
    are skipped.
    """
    part, skipped = _read_partition(warehouse, date, compile_by_id(rubric_paths))
    n = len(part.calls)
    chunks = [(lo, min(lo + CHUNK_CALLS, n)) for lo in range(0, n, CHUNK_CALLS)]
    findings: list[rows.Row] = []
    scores: list[rows.Row] = []
    for chunk_findings, chunk_scores in _score_chunks(part, chunks, workers or usable_cores()):
        findings += chunk_findings
        scores += chunk_scores
    if scores:
        wh.upsert(warehouse, "findings", {date: findings})
        wh.upsert(warehouse, "scores", {date: scores})
    return len(scores), skipped


ItemKey = tuple[str, str, int, str, int]
"""(language, rubric id, rubric version, item id, item version): the three languages'
rubrics share ids and versions, not content."""


def item_digests(compiled: Iterable[CompiledRubric]) -> dict[ItemKey, str]:
    """Each item's :meth:`~pipeline.rubric.schema.Item.digest`, by language, rubric and item."""
    return {
        (c.rubric.language, c.rubric.id, c.rubric.version, i.item.id, i.item.version): i.digest
        for c in compiled
        for i in c.items
    }


DIGESTED = ("call_id", "rubric_id", "rubric_version", "item_id", "item_version", "item_digest")
"""The findings' columns :func:`edited_items` reads."""


def edited_items(
    stored: pa.Table, language_of: Mapping[str, str], now: Mapping[ItemKey, str]
) -> list[str]:
    """The items whose content differs from what their stored findings were made with at
    the same rubric and item versions, in the same language (an edit that kept
    ``version:``, whose old rows a rescore replaces): ``"rubric vN 'item' vM (language)"``.
    ``language_of`` gives each stored call's language. Findings stored before digests
    were kept (``""``) tell nothing.

    Examples
    --------
    >>> old = pa.table({"call_id": ["c1", "c1", "c2"], "rubric_id": ["r", "r", "r"],
    ...                 "rubric_version": [2, 2, 2], "item_id": ["a", "b", "a"],
    ...                 "item_version": [1, 1, 1], "item_digest": ["d1", "", "z1"]})
    >>> now = {("en", "r", 2, "a", 1): "d2", ("en", "r", 2, "b", 1): "d3",
    ...        ("zh", "r", 2, "a", 1): "z1", ("en", "r", 3, "a", 1): "d4"}
    >>> edited_items(old, {"c1": "en", "c2": "zh"}, now)
    ["r v2 'a' v1 (en)"]
    """
    if not set(DIGESTED) <= set(stored.column_names):
        return []
    before: dict[ItemKey, set[str]] = defaultdict(set)
    columns = (stored.column(c).to_pylist() for c in DIGESTED)
    for call, rubric, version, item, item_version, digest in zip(*columns, strict=True):
        if digest:
            before[(language_of.get(call, ""), rubric, version, item, item_version)].add(digest)
    return [
        f"{rubric} v{version} {item!r} v{item_version} ({language})"
        for (language, rubric, version, item, item_version), digest in sorted(now.items())
        if before.get((language, rubric, version, item, item_version), {digest}) != {digest}
    ]


def _edited(warehouse: str, date: str, now: Mapping[ItemKey, str]) -> list[str]:
    """:func:`edited_items` of one ``call_date`` partition's stored findings."""
    stored = wh.read_partition(warehouse, "findings", date, columns=list(DIGESTED))
    calls = wh.read_partition(warehouse, "calls", date, columns=["call_id", "language"])
    if stored is None or calls is None:
        return []
    language_of = dict(zip(*(calls.column(c).to_pylist() for c in calls.column_names), strict=True))
    return edited_items(stored, language_of, now)


def _read_partition(
    warehouse: str, date: str, compiled: dict[RubricKey, CompiledRubric]
) -> tuple[_Partition, tuple[str, ...]]:
    """The partition's scored calls that a rubric is for, and the languages of those it
    has for none."""
    calls = [c for c in stored_calls(warehouse, date) if c.status == "ok"]
    scored = [c for c in calls if rubric_of_call(c, compiled) is not None]
    utterances = wh.read_table(warehouse, "utterances", call_dates=[date])
    rows_of: dict[str, list[int]] = defaultdict(list)
    for i, call_id in enumerate(utterances.column("call_id").to_pylist()):
        rows_of[call_id].append(i)
    skipped = tuple(sorted(c.language or "" for c in calls if rubric_of_call(c, compiled) is None))
    return _Partition(compiled, scored, utterances, rows_of), skipped


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A heard call as the warehouse keeps it, ready to score: its row, its transcript
    rebuilt from its utterances, their stored vectors and the metrics it carries."""

    call: CallRow
    transcript: Transcript
    vectors: Vectors | None
    metrics: dict[str, float]
    metric_spans: dict[str, tuple[Span, ...]]

    def assess(self, rubric: CompiledRubric) -> tuple[list[Finding], CallScore]:
        """Its findings and score by ``rubric`` (:func:`pipeline.scoring.assess`)."""
        return assess(
            rubric,
            self.transcript,
            metrics=self.metrics,
            metric_spans=self.metric_spans,
            vectors=self.vectors,
        )


def rebuild_calls(calls: Sequence[CallRow], utterances: pa.Table) -> list[StoredCall]:
    """The stored ``calls`` ready to score: their transcripts rebuilt from the
    ``utterances`` columns (:func:`pipeline.rows.transcripts_from_table`), with their
    vectors and metrics (each call must have been heard: a language and a duration)."""
    transcripts = rows.transcripts_from_table([_transcript_key(c) for c in calls], utterances)
    vectors = rows.vectors_from_table([c.call_id for c in calls], utterances)
    return [
        StoredCall(call, transcript, vecs, *rows.call_metrics(call))
        for call, transcript, vecs in zip(calls, transcripts, vectors, strict=True)
    ]


def _transcript_key(call: CallRow) -> tuple[str, str, float]:
    assert call.language is not None and call.duration_s is not None, call.call_id
    return call.call_id, call.language, call.duration_s


def iter_stored_calls(
    warehouse: str, *, since: str | None = None, call: str | None = None
) -> Iterator[StoredCall]:
    """Lazily, partition by partition, the warehouse's scored calls (``status`` ok) with
    their stored utterance vectors and metrics, as :func:`score_calls` reads them: the
    meaning model is needed only for a call stored without vectors.

    Parameters
    ----------
    since
        Only call dates from this one (``YYYY-MM-DD``), as ``rescore --since``.
    call
        Only this call id.
    """
    for date in wh.partition_dates(warehouse, "calls"):
        if since is not None and date < since:
            continue
        calls = [c for c in stored_calls(warehouse, date, call_id=call) if c.status == "ok"]
        if calls:
            utterances = wh.read_table(warehouse, "utterances", call_dates=[date])
            yield from rebuild_calls(calls, utterances)


def score_chunk(part: _Partition, lo: int, hi: int) -> tuple[list[rows.Row], list[rows.Row]]:
    """Findings and score rows of the partition's calls ``lo:hi`` (see :func:`score_calls`).

    On one BLAS thread: a call's meaning items multiply a few dozen utterance vectors by a
    few hundred example vectors, too small a product to share between threads, and the
    workers already use every core (two BLAS threads in each of two workers made a
    rescore seven times slower on 2 cores).
    """
    calls = part.calls[lo:hi]
    table = part.utterances.take([i for c in calls for i in part.rows_of.get(c.call_id, ())])
    with _collector_paused(), threadpool_limits(limits=1, user_api="blas"):
        return score_calls(part.compiled, calls, table)


def score_calls(
    compiled: Mapping[RubricKey, CompiledRubric],
    calls: Sequence[CallRow],
    utterances: pa.Table,
) -> tuple[list[rows.Row], list[rows.Row]]:
    """Findings and score rows of stored calls: their transcripts rebuilt from the
    ``utterances`` columns, then the one path every command takes
    (:func:`pipeline.scoring.assess`).

    Parameters
    ----------
    compiled
        The rubrics by (language, rubric id); each call must have one
        (:func:`rubric_of_call`).
    calls
        Stored calls (:func:`pipeline.stored.stored_calls`).
    utterances
        Their ``utterances`` rows.
    """
    findings: list[rows.Row] = []
    scores: list[rows.Row] = []
    for stored in rebuild_calls(calls, utterances):
        rubric = rubric_of_call(stored.call, compiled)
        assert rubric is not None, "calls without a rubric are filtered out before scoring"
        call_findings, score = stored.assess(rubric)
        findings.extend(rows.finding_row(f) for f in call_findings)
        scores.append(rows.score_row(score))
    return findings, scores


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a chunk is scored.

    A chunk builds hundreds of thousands of small records (words, utterances, tokens,
    findings) that form no reference cycles, and the collector would pass over them
    again and again as they pile up. Reference counting frees them when the chunk is
    done, before the collector resumes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _score_chunks(
    part: _Partition, chunks: list[tuple[int, int]], workers: int
) -> list[tuple[list[rows.Row], list[rows.Row]]]:
    """Each chunk's rows, in chunk order: in this process, or on forked workers.

    Forked workers inherit the compiled rubrics and the Arrow tables instead of being
    sent them; only the chunk bounds go out and only rows come back. No fork where the
    platform has none, inside a daemon process (a Dask worker), which may not have
    children, or for a detector that did not say a forked copy of it works (a torch
    model's thread pool hangs in a fork; it uses every core on its own anyway).
    """
    if workers < 2 or len(chunks) < 2 or not _can_fork() or not _forkable(part.compiled):
        return [score_chunk(part, lo, hi) for lo, hi in chunks]
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        mp_context=multiprocessing.get_context("fork"),
        initializer=_adopt,
        initargs=(part,),
    )
    with pool:
        return list(pool.map(_score_adopted, *zip(*chunks, strict=True)))


_adopted: _Partition | None = None
"""The partition a forked worker scores (set by :func:`_adopt` as the worker starts)."""


def _adopt(part: _Partition) -> None:
    global _adopted
    from flows.lifetime import die_with_parent

    die_with_parent(os.getppid())  # a SIGKILLed rescore leaves no forked worker behind
    _adopted = part


def _score_adopted(lo: int, hi: int) -> tuple[list[rows.Row], list[rows.Row]]:
    assert _adopted is not None, "a worker scores the partition it was started with"
    return score_chunk(_adopted, lo, hi)


def _forkable(compiled: Mapping[RubricKey, CompiledRubric]) -> bool:
    return all(
        fork_safe(d)
        for rubric in compiled.values()
        for item in rubric.items
        for d in (item.detector, item.na_detector)
        if d is not None
    )


def _can_fork() -> bool:
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


def rescore_flow(
    warehouse: str,
    rubric_paths: list[str],
    since: str | None,
    config: Config,
    in_prefect: bool = True,
) -> RescoreSummary:
    """Body of the Prefect flow: one task per partition, then the queues (``in_prefect``
    false: the same partitions one after the other, no Prefect)."""
    started = time.monotonic()
    compiled = compile_by_id(rubric_paths)  # refuse a broken rubric before touching anything
    languages = tuple(sorted({lang for lang, _ in compiled}))
    digests = item_digests(compiled.values())
    dates = [d for d in wh.partition_dates(warehouse, "calls") if since is None or d >= since]
    with night_lock(warehouse):
        edited = tuple(
            dict.fromkeys(item for d in dates for item in _edited(warehouse, d, digests))
        )
        if in_prefect:
            part = uncached_task(rescore_partition, "rescore-partition")
            futures = [part.submit(warehouse, d, tuple(rubric_paths)) for d in dates]
            done = [f.result() for f in futures]
        else:
            done = [rescore_partition(warehouse, d, tuple(rubric_paths)) for d in dates]
        from flows.nightly import rebuild_queue  # not for rubric apply/explain: ASR stack

        rebuild_queue(warehouse, dates, config)
    return RescoreSummary(
        calls=sum(n for n, _ in done),
        skipped=tuple(lang for _, skipped in done for lang in skipped),
        edited=edited,
        dates=dates,
        wall_s=time.monotonic() - started,
        rubrics=rubric_paths,
        languages=languages,
    )


def run_rescore(
    warehouse: str, config: Config, *, rubrics: Iterable[str] = (), since: str | None = None
) -> RescoreSummary:
    """Run the rescore flow on Prefect when a Prefect server is configured
    (:func:`flows.env.prefect_server`), else directly: no temporary server to start."""
    paths = list(rubrics) or [p for ps in rubric_paths(config).values() for p in ps]
    if not prefect_server():
        return rescore_flow(warehouse, paths, since, config, in_prefect=False)
    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    rescore = flow(
        rescore_flow,
        name="earmark-rescore",
        task_runner=ThreadPoolTaskRunner(max_workers=1),
        validate_parameters=False,
        persist_result=False,
    )
    return rescore(warehouse, paths, since, config)  # type: ignore[no-any-return]
