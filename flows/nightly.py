"""The nightly flow: archive in, warehouse tables and a ranked review queue out.

``earmark run`` calls :func:`run_night`, which runs the Prefect flow on the local
embedded engine (no server to start). One bad recording never ends the night: it
becomes a ``quarantine`` row. Re-running is cheap and safe: transcripts are cached by
content, partitions are rewritten atomically, keys replace rather than append.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import posixpath
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow

from flows.env import uncached_task
from flows.process import (
    CallResult,
    RunSettings,
    check_rubrics,
    get_transcriber,
    process_recording,
)
from flows.progress import Done, call_done, not_processed, progress_counter
from flows.reasons import ReasonsReport, night_reasons, publish_rising, trend_calls
from models.bundle import resolve_model
from models.diarize import pick_embedder
from pipeline import rows
from pipeline import warehouse as wh
from pipeline.archive import UNREACHABLE, ArchiveFile, ArchiveScan
from pipeline.config import Config
from pipeline.contacts import repeat_contacts
from pipeline.errors import AudioError, EarmarkError, InputError
from pipeline.file_index import (
    Changes,
    DateRange,
    FileIndex,
    apply_night,
    entry_for,
    plan_changes,
    resolve_changes,
)
from pipeline.lease import night_lock
from pipeline.metadata import METADATA_FILE, MetadataOptions, read_metadata
from pipeline.metadata import options_from_config as metadata_options
from pipeline.queue import (
    Candidate,
    build_inspector_queues,
    build_review_queue,
    check_pairings,
    config_team_languages,
    inspectors_from_config,
    item_windows,
    pairings,
    plan_options_from_config,
    policy_from_config,
    weights_from_config,
)
from pipeline.queue_trend import add_trend_calls
from pipeline.redact_audio import (
    AudioRedactOptions,
    Span,
    copy_key,
    remove_stale_copies,
    write_redacted_copy,
)
from pipeline.row_records import CallRow
from pipeline.rubric.schema import Rubric, load_rubric
from pipeline.scoring import clock, distinct_reasons
from pipeline.stored import stored_calls
from pipeline.triage import NOT_SCORED, Triage
from pipeline.types import IndexEntry, MetadataIssue, QuarantineEntry, QueueEntry, Recording

log = logging.getLogger("earmark")


@dataclass(frozen=True, slots=True)
class NightSummary:
    """What a night did, for the CLI's summary and the flow's return value."""

    processed: int
    quarantined: list[QuarantineEntry]
    ignored: list[str]
    audio_s: float
    asr_audio_s: float
    asr_wall_s: float
    cached: int
    wall_s: float
    call_dates: list[str]
    queue: list[QueueEntry] = field(default_factory=list)
    metadata_issues: list[MetadataIssue] = field(default_factory=list)
    """Problems in ``metadata.csv`` whose rows were still used (also in ``calls.metadata_issues``)."""
    decode_warnings: dict[str, int] = field(default_factory=dict)
    """Frames the decoder repaired or skipped, by recording (kept off the terminal)."""
    embed_wall_s: float = 0.0
    """Seconds spent embedding the new calls' utterances (the meaning model)."""
    unchanged: int = 0
    """Files the index already held, unchanged (not read)."""
    hashed: int = 0
    """New or changed files read and hashed."""
    moved: list[tuple[str, str]] = field(default_factory=list)
    """(old path, new path) of known calls found at a new path: not processed again."""
    touched: int = 0
    """Files whose mtime changed but not their content: not processed again."""
    vanished: list[str] = field(default_factory=list)
    """Known files gone from the archive (their rows are kept)."""
    outside: int = 0
    """New or changed files outside the selected dates, left for another run."""
    queues_kept: list[str] = field(default_factory=list)
    """Dates with new calls whose queue already existed and was left as it was."""
    cache_repaired: int = 0
    """Damaged transcript cache entries met, recomputed and rewritten."""
    deferred: list[QuarantineEntry] = field(default_factory=list)
    """Recordings not processed because the archive went away mid-night (``I009``):
    nothing is written or indexed for them, the next run processes them."""
    not_scored: list[Triage] = field(default_factory=list)
    """Calls stored but not scored: unsupported language, or no rubric for their type."""
    reasons: list[ReasonsReport] = field(default_factory=list)
    """What each step's contact-reason update did, what rose, and its wall time."""

    @property
    def reasons_wall_s(self) -> float:
        """Seconds spent on contact reasons (statements, assignment, tables, rising)."""
        return sum(r.wall_s for r in self.reasons)

    @property
    def throughput(self) -> float:
        """Audio seconds transcribed per wall second of ASR (0 when all came from cache)."""
        return self.asr_audio_s / self.asr_wall_s if self.asr_wall_s else 0.0


@dataclass(frozen=True, slots=True)
class CopyJob:
    """A processed call whose redacted audio copy is written (or kept, or removed).

    Small and picklable: what the ``redact-audio`` task gets instead of the transcripts.
    """

    call_id: str
    call_date: str
    path: str
    audio_sha256: str
    sample_rate: int
    spans: tuple[Span, ...]
    """The call's redacted spans; none: the call needs no copy (and keeps none)."""


def process_batch(recordings: list[Recording], settings: RunSettings) -> list[CallResult]:
    """Process a batch of recordings one after the other (one Prefect task per batch: a
    night of thousands of calls is tens of tasks, not thousands)."""
    return [process_recording(rec, settings) for rec in recordings]


MAX_BATCH_CALLS = 50


def batch_size(calls: int, workers: int, *, most: int = MAX_BATCH_CALLS) -> int:
    """Calls per task: about four batches per worker, so the workers share the night
    evenly, and never more than ``most``."""
    return max(1, min(most, -(-calls // max(1, 4 * workers))))


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one pass over a set of changed files did (a night, or a backfill chunk)."""

    results: list[CallResult]
    quarantined: list[QuarantineEntry]
    dates: set[str]
    queue: list[QueueEntry]
    queues_kept: list[str]
    moved: list[tuple[str, str]]
    touched: int
    hashed: int
    closed_months: list[str] = field(default_factory=list)
    """Months whose first night this step wrote (their monthly check is published)."""
    deferred: list[QuarantineEntry] = field(default_factory=list)
    """Not processed because the archive went away (``I009``): retried next run."""
    reasons: ReasonsReport = field(default_factory=ReasonsReport)


def night_step(
    warehouse: str,
    config: Config,
    plan: ArchivePlan,
    load_index: Callable[[], FileIndex],
    *,
    todo: list[ArchiveFile],
    first: bool = True,
    batch_calls: int | None = None,
    advance: Callable[[Done], None] | None = None,
) -> tuple[StepResult, FileIndex]:
    """Hash ``todo``, process what is new, write the tables, the new dates' queues and the
    index: the unit a night runs once and a backfill runs per chunk.

    ``load_index`` is called twice: for the hashing, and to record the outcome; between
    the two the step holds no index (a night reads it again, :func:`index_loader`, so the
    models and transcripts never share memory with the index of a large archive).
    ``first``: this step also records what the listing found besides audio (refused
    ``metadata.csv`` rows, vanished files). Returns the step's outcome and the index
    after it (already written to the warehouse).
    """
    root = plan.root
    resolved = resolve_changes(root, plan.changes, load_index(), todo=todo)
    pyarrow.default_memory_pool().release_unused()
    if advance:
        advance(not_processed(resolved))
    settings = RunSettings(config=config, warehouse=warehouse)
    recordings = resolved.recordings
    if recordings:
        get_transcriber(config.asr).model  # noqa: B018  (loads the model once, here)
    size = batch_calls or batch_size(len(recordings), config.asr.worker_count)
    results = _process_batches(recordings, settings, size, advance)
    options = audio_redact_options(config)
    if (
        options is not None and results
    ):  # before the tables: a call is never listed without its copy
        uncached_task(write_redacted_audio, "redact-audio")(warehouse, copy_jobs(results), options)
    problems = (
        (plan.refused_rows if first else [])
        + resolved.quarantined
        + [r.quarantine for r in results if r.quarantine]
    )
    quarantined = [q for q in problems if q.error_code != UNREACHABLE]
    deferred = [q for q in problems if q.error_code == UNREACHABLE]
    if deferred:
        log.warning("%d recordings not reachable any more: retried next run", len(deferred))
    results = [r for r in results if not (r.quarantine and r.quarantine.error_code == UNREACHABLE)]
    nights_before = wh.partition_dates(warehouse, "calls")
    dates = write_results(
        warehouse, recordings, results, quarantined, repeat_days=config.repeat_contact_days
    )
    move_calls(warehouse, [(old, new) for old, new in resolved.moved])
    reasons = night_reasons(warehouse, results, config)  # before the queues: trend entries
    queue, kept = build_new_queues(warehouse, dates, config)
    entries = [
        entry_for(
            root,
            r.recording,
            mtime_ns=resolved.mtime_ns[r.recording.source_path],
            status="quarantined" if r.quarantine else "ok",  # unsupported/no_rubric: done
        )
        for r in results
    ]
    entries += resolved.touched + resolved.refused
    if first and plan.metadata_entry is not None:
        entries.append(plan.metadata_entry)
    index = load_index()
    after = apply_night(
        index,
        entries=entries,
        moved=resolved.moved,
        vanished=plan.changes.vanished if first else (),
    )
    if after != index:
        wh.write_index(warehouse, after.table)
    step = StepResult(
        results=results,
        quarantined=quarantined,
        dates=dates,
        queue=queue,
        queues_kept=kept,
        moved=[(old.source_path, new.source_path) for old, new in resolved.moved],
        touched=len(resolved.touched),
        hashed=resolved.hashed,
        closed_months=_closed_months(nights_before, wh.partition_dates(warehouse, "calls"))
        if dates
        else [],
        deferred=deferred,
        reasons=reasons,
    )
    return step, after


def _process_batches(
    recordings: list[Recording],
    settings: RunSettings,
    size: int,
    advance: Callable[[Done], None] | None,
) -> list[CallResult]:
    from prefect.futures import as_completed

    if not recordings:
        return []
    process = uncached_task(process_batch, "process-batch")
    batches = [recordings[i : i + size] for i in range(0, len(recordings), size)]
    futures = [process.submit(batch, settings) for batch in batches]
    results: list[CallResult] = []
    for future in as_completed(futures):
        done: list[CallResult] = future.result()
        results.extend(done)
        if advance:
            for result in done:
                advance(call_done(result))
    results.sort(key=lambda r: r.recording.source_path)
    return results


@dataclass(frozen=True, slots=True)
class ArchivePlan:
    """The archive listed and compared with the file index (no recording read yet)."""

    root: str
    changes: Changes
    ignored: list[str]
    refused_rows: list[QuarantineEntry]
    """Refused ``metadata.csv`` rows: recorded when the file changed since the index saw it."""
    metadata_entry: IndexEntry | None
    metadata_issues: list[MetadataIssue] = field(default_factory=list)
    """Problems in ``metadata.csv`` whose rows were still used: reported when it changed."""


def plan_archive(
    archive: str | Path,
    index: FileIndex,
    *,
    dates: DateRange,
    metadata: MetadataOptions | None = None,
) -> ArchivePlan:
    """List ``archive`` chunk by chunk and compare it with the index (see
    :mod:`pipeline.file_index`)."""
    root = str(Path(archive).resolve())
    scan = ArchiveScan(root, metadata=metadata)
    meta = scan.metadata_file()
    changes = plan_changes(
        root,
        scan.iter_chunks(),
        index,
        describe=scan.describe,
        dates=dates,
        also=[meta.source_path] if meta else [],
    )
    entry = None
    refused: list[QuarantineEntry] = scan.quarantined
    if meta is not None:
        entry = IndexEntry(
            archive=root,
            source_path=meta.source_path,
            size_bytes=meta.size_bytes,
            mtime_ns=meta.mtime_ns,
            audio_sha256="",
            call_id="",
            call_date="",
            status="quarantined" if scan.quarantined else "ok",
        )
        if index.get((root, meta.source_path)) == entry:
            entry, refused = None, []  # seen as it is: its refused rows are recorded
    issues = scan.metadata_issues() if entry is not None else []
    pyarrow.default_memory_pool().release_unused()  # the compare's buffers, before the models
    return ArchivePlan(root, changes, sorted(scan.ignored), refused, entry, issues)


def nightly_flow(
    archive: str, warehouse: str, config: Config, dates: DateRange | None = None
) -> NightSummary:
    """Body of the Prefect flow (wrapped in :func:`run_night`): the archive's new and
    changed files in ``dates`` (default: every date) are processed; everything else the
    file index already holds is left alone."""
    started = time.monotonic()
    # Fail before any compute on what would fail every call: rubrics (model files: preflight).
    check_rubrics(config)
    with night_lock(warehouse):
        plan, load_index = _night_plan(archive, warehouse, dates, config)
        for issue in plan.metadata_issues:  # the summary shows them; a warning would print each
            log.info("%s", issue)
        advance = progress_counter(len(plan.changes.todo))
        step, _ = night_step(
            warehouse, config, plan, load_index, todo=plan.changes.todo, advance=advance
        )
    _publish_artifact(step.queue)
    publish_rising(step.reasons)
    _publish_monthly(warehouse, config, step.closed_months)
    return summarize(plan, [step], started=started)


def _night_plan(
    archive: str, warehouse: str, dates: DateRange | None, config: Config
) -> tuple[ArchivePlan, Callable[[], FileIndex]]:
    """The night's plan (made before the flow when the index has not changed since) and
    the loader of its index."""
    planned = _planned.pop((archive, warehouse, dates), None)
    if planned is not None and planned[0] == wh.stamp(wh.index_path(warehouse)):
        _, index, plan = planned  # listed just before the flow; the index is as read then
    else:
        index = FileIndex(wh.read_index(warehouse))
        plan = plan_archive(
            archive, index, dates=dates or DateRange(), metadata=metadata_options(config)
        )
    return plan, index_loader(warehouse, index)


def index_loader(warehouse: str, index: FileIndex) -> Callable[[], FileIndex]:
    """``index`` the first time, then the warehouse's index, read again: what a night's
    step holds while its calls are processed is not the index (see :func:`night_step`)."""
    held = [index]

    def load() -> FileIndex:
        return held.pop() if held else FileIndex(wh.read_index(warehouse))

    return load


def summarize(plan: ArchivePlan, steps: list[StepResult], *, started: float) -> NightSummary:
    """One summary of a night's (or a backfill's) steps."""
    results = [r for s in steps for r in s.results]
    done = [r for r in results if r.transcript is not None]
    fresh = [r for r in done if not r.asr_cached]
    moved_from = {old for s in steps for old, _ in s.moved}
    return NightSummary(
        processed=len(done),
        quarantined=[q for s in steps for q in s.quarantined],
        ignored=plan.ignored,
        audio_s=sum(r.transcript.duration_s for r in done if r.transcript),
        asr_audio_s=sum(r.transcript.duration_s for r in fresh if r.transcript),
        asr_wall_s=sum(r.asr_wall_s for r in fresh),
        embed_wall_s=sum(r.embed_wall_s for r in fresh),
        cached=len(done) - len(fresh),
        wall_s=time.monotonic() - started,
        call_dates=sorted({d for s in steps for d in s.dates}),
        queue=[q for s in steps for q in s.queue],
        unchanged=plan.changes.unchanged,
        hashed=sum(s.hashed for s in steps),
        moved=[m for s in steps for m in s.moved],
        touched=sum(s.touched for s in steps),
        vanished=[e.source_path for e in plan.changes.vanished if e.source_path not in moved_from],
        outside=plan.changes.outside,
        queues_kept=sorted({d for s in steps for d in s.queues_kept}),
        metadata_issues=plan.metadata_issues,
        decode_warnings={
            r.recording.source_path: r.analysis.decode_warnings
            for r in results
            if r.analysis and r.analysis.decode_warnings
        },
        cache_repaired=sum(r.cache_repaired for r in results),
        reasons=[s.reasons for s in steps],
        deferred=[q for s in steps for q in s.deferred],
        not_scored=[
            Triage(
                r.recording.call_id,
                r.recording.call_date,
                r.recording.source_path,
                r.status,
                r.status_reason,
                language=r.analysis.language,
                language_probability=r.analysis.language_probability,
                duration_s=r.analysis.duration_s,
            )
            for r in results
            if r.status in NOT_SCORED and r.analysis
        ],
    )


def audio_redact_options(config: Config) -> AudioRedactOptions | None:
    """How to cover redacted spans in the audio copies; ``None`` when they are off."""
    if config.redact.audio == "off":
        return None
    return AudioRedactOptions(mode=config.redact.audio, pad_s=config.redact.audio_pad_s)


def copy_jobs(results: Iterable[CallResult]) -> list[CopyJob]:
    """One job per transcribed call (quarantined ones have no spans and no copy)."""
    return [
        CopyJob(
            call_id=r.recording.call_id,
            call_date=r.recording.call_date,
            path=r.recording.path,
            audio_sha256=r.recording.audio_sha256,
            sample_rate=r.analysis.sample_rate,
            spans=tuple((s.start_s, s.end_s) for s in r.analysis.redactions),
        )
        for r in results
        if r.transcript is not None and r.analysis
    ]


def write_redacted_audio(
    warehouse: str, jobs: Iterable[CopyJob], options: AudioRedactOptions
) -> dict[str, int]:
    """Write a redacted copy of every call with spans, unless a current one exists.

    Each copy's name says what it covers (:func:`pipeline.redact_audio.copy_key`); a
    call's copies covering other spans (its transcript was redone) are removed. A copy
    that cannot be written is logged, never fatal: the review app then refuses to play
    that call rather than play the original.

    Returns
    -------
    dict[str, int]
        How many copies were ``written``, already ``current``, ``failed`` and ``removed``.
    """
    counts: Counter[str] = Counter()
    stems: dict[str, set[str]] = defaultdict(set)
    keep: dict[str, set[str]] = defaultdict(set)
    for job in jobs:
        key = copy_key(job.call_id, job.audio_sha256, job.spans)
        target = wh.redacted_audio_path(warehouse, job.call_date, job.call_id, key)
        folder, name = posixpath.split(target)
        stems[folder].add(wh.redacted_audio_stem(job.call_id))
        if not job.spans:
            continue
        keep[folder].add(name)
        try:
            written = write_redacted_copy(
                job.path,
                target,
                audio_sha256=job.audio_sha256,
                sample_rate=job.sample_rate,
                spans=job.spans,
                options=options,
            )
        except AudioError as exc:
            counts["failed"] += 1
            log.warning("call %s: no redacted audio copy: %s", job.call_id, exc)
            continue
        counts["written" if written else "current"] += 1
    for folder, names in stems.items():
        counts["removed"] += remove_stale_copies(folder, stems=names, keep=keep[folder])
    summary = {k: counts[k] for k in ("written", "current", "failed", "removed")}
    log.info("redacted audio copies: %s", ", ".join(f"{n} {k}" for k, n in summary.items()))
    return summary


def write_results(
    warehouse: str,
    recordings: Iterable[Recording],
    results: Iterable[CallResult],
    quarantined: Iterable[QuarantineEntry],
    *,
    repeat_days: float = 7.0,
) -> set[str]:
    """Upsert every table's rows into their ``call_date`` partitions; returns the dates."""
    tables: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    by_path = {r.recording.source_path: r for r in results}
    for rec in recordings:
        result = by_path.get(rec.source_path)
        if result is None or (result.quarantine and result.quarantine.error_code == UNREACHABLE):
            continue  # not processed (the archive went away): keep what is stored
        tables["calls"][rec.call_date].append(
            rows.call_row(
                rec,
                result.analysis,
                result.transcript,
                result.status,
                status_reason=result.status_reason,
                call_type=result.call_type,
                rubric_id=result.rubric_id,
            )
        )
        if result.transcript is not None:
            tables["utterances"][rec.call_date].extend(
                rows.utterance_rows(result.transcript, result.vectors, result.sentiment)
            )
            tables["findings"][rec.call_date].extend(rows.finding_row(f) for f in result.findings)
            if result.score is not None:
                tables["scores"][rec.call_date].append(rows.score_row(result.score))
    _add_repeat_contacts(warehouse, tables["calls"], days=repeat_days)
    today = dt.datetime.now(tz=dt.UTC).date().isoformat()
    for q in quarantined:
        if q.error_code != UNREACHABLE:
            tables["quarantine"][q.call_date or today].append(rows.quarantine_row(q))
    for table in ("calls", "utterances", "findings", "scores", "quarantine"):
        if tables[table]:
            wh.upsert(warehouse, table, tables[table])
    return {d for t in ("calls", "quarantine") for d in tables[t]}


def _add_repeat_contacts(
    warehouse: str, calls_by_date: dict[str, list[dict[str, Any]]], *, days: float
) -> None:
    """Set ``repeat_contacts`` on this night's call rows, counting earlier stored calls too."""
    if not calls_by_date:
        return
    first = (
        dt.date.fromisoformat(min(calls_by_date)) - dt.timedelta(days=int(days) + 1)
    ).isoformat()
    stored = wh.read_table(
        warehouse,
        "calls",
        call_dates=[  # a look-back: later partitions do not count (a backfill has many)
            d for d in wh.partition_dates(warehouse, "calls") if first <= d <= max(calls_by_date)
        ],
    )
    contacts = {
        c: (c, cust or "", when or "")
        for c, cust, when in zip(
            stored["call_id"].to_pylist(),
            stored["customer_id"].to_pylist(),
            stored["started_at"].to_pylist(),
            strict=True,
        )
    }
    tonight = [row for rows_ in calls_by_date.values() for row in rows_]
    contacts.update(
        {
            r["call_id"]: (r["call_id"], r["customer_id"] or "", r["started_at"] or "")
            for r in tonight
        }
    )
    counts = repeat_contacts(list(contacts.values()), days=days)
    for row in tonight:
        row["repeat_contacts"] = counts.get(row["call_id"])


def build_new_queues(
    warehouse: str, dates: Iterable[str], config: Config
) -> tuple[list[QueueEntry], list[str]]:
    """Build the queues of the dates that have none yet; returns them and the dates kept.

    A night never rebuilds a queue that exists: inspectors may be working it. Calls that
    arrive late for such a date are in the tables; ``earmark queue build --date D``
    rebuilds that date's queue on purpose.
    """
    existing = set(wh.partition_dates(warehouse, "queue"))
    new = sorted(d for d in dates if d not in existing)
    kept = sorted(d for d in dates if d in existing)
    if kept:
        log.info("queues kept as they were for %s (late calls: earmark queue build)", kept)
    return rebuild_queue(warehouse, new, config), kept


def move_calls(warehouse: str, moved: Iterable[tuple[IndexEntry, IndexEntry]]) -> None:
    """Point the ``calls`` rows of moved files at their new path (nothing else changes)."""
    by_date: dict[str, dict[str, str]] = defaultdict(dict)
    for old, new in moved:
        by_date[old.call_date][old.call_id] = new.source_path
    for date, paths in sorted(by_date.items()):
        moved_calls = [
            rows.call_to_row(replace(c, source_path=paths[c.call_id]))
            for c in stored_calls(warehouse, date)
            if c.call_id in paths
        ]
        if moved_calls:
            wh.upsert(warehouse, "calls", {date: moved_calls})


def rebuild_queue(warehouse: str, dates: Iterable[str], config: Config) -> list[QueueEntry]:
    """Rebuild each date's queues from everything the warehouse holds for it.

    Built from the stored tables, not this run's results, so a partial re-run still
    yields the whole day's queue. Without inspectors in the configuration the queue is
    one list of every call that needs review; with them, each inspector gets a queue
    within their budget (see :func:`pipeline.queue.build_inspector_queues`).
    """
    queue: list[QueueEntry] = []
    for date in sorted(dates):
        candidates = _candidates(warehouse, date, config)
        if config.inspectors:
            inspectors = inspectors_from_config(config)
            policy = policy_from_config(config)
            langs = config_team_languages(config, warehouse=warehouse, date=date)
            check_pairings(
                pairings(inspectors, date=date, policy=policy, team_languages=langs),
                _agents_by_team(warehouse, date),
                max_agents=policy.max_agents,
            )
            day = build_inspector_queues(
                candidates,
                date=date,
                inspectors=inspectors,
                policy=policy,
                reviewed_this_week=_reviewed_this_week(warehouse, date),
                team_languages=langs,
            )
            owners = {
                team: name
                for name, teams in pairings(
                    inspectors, date=date, policy=policy, team_languages=langs
                ).items()
                for team in teams
            }
            budgets = {i.name: i.budget_s for i in inspectors}
        else:
            day = build_review_queue(
                candidates,
                date=date,
                weights=weights_from_config(config),
                options=plan_options_from_config(config),
            )
            owners, budgets = {}, {}
        day = add_trend_calls(
            day,
            trend_calls(warehouse, date, config),
            date=date,
            owners=owners,
            budgets=budgets,
            options=plan_options_from_config(config),
        )
        wh.upsert(warehouse, "queue", {date: [rows.queue_row(q) for q in day]})
        queue.extend(day)
    return queue


def _candidates(warehouse: str, date: str, config: Config) -> list[Candidate]:
    calls = {c.call_id: c for c in stored_calls(warehouse, date)}
    scores = [
        rows.score_from_row(r)
        for r in wh.read_table(warehouse, "scores", call_dates=[date]).to_pylist()
    ]
    # only calls scored tonight as "ok", by the rubric their call type chose (a call scored
    # earlier by another rubric, or now unsupported, keeps those rows but is not queued)
    scores = [
        s
        for s in scores
        if s.call_id in calls
        and (calls[s.call_id].status or "ok") == "ok"
        and calls[s.call_id].rubric_id in ("", s.rubric_id)
    ]
    latest = _latest_versions(scores)
    findings: dict[str, list[Any]] = defaultdict(list)
    for r in wh.read_table(warehouse, "findings", call_dates=[date]).to_pylist():
        if latest.get((r["call_id"], r["rubric_id"])) == r["rubric_version"]:
            findings[r["call_id"]].append(rows.finding_from_row(r))
    rubrics = _configured_rubrics(config)
    feelings = _customer_sentiment(warehouse, date, calls)
    out = []
    for s in scores:
        if latest.get((s.call_id, s.rubric_id)) != s.rubric_version or s.call_id not in calls:
            continue
        call = calls[s.call_id]
        duration_s = call.duration_s or 0.0
        rubric = rubrics.get(call.language or "")
        same = rubric is not None and rubric.id == s.rubric_id
        confidence = call.asr_confidence
        out.append(
            Candidate(
                score=s,
                findings=tuple(findings[s.call_id]),
                duration_s=duration_s,
                agent_id=call.agent_id,
                team_id=call.team_id,
                windows=item_windows(rubric, duration_s=duration_s) if rubric and same else {},
                asr_confidence=1.0 if confidence is None else confidence,
                agitation_z=_nan_if_none(call.metrics.get("customer_agitation_max")),
                customer_sentiment=feelings.get(s.call_id, ()),
            )
        )
    return out


def _customer_sentiment(
    warehouse: str, date: str, calls: dict[str, CallRow]
) -> dict[str, tuple[tuple[float, float, float], ...]]:
    """(start_s, end_s, sentiment) of each call's customer utterances with a reading; the
    utterances are read only when some call of the date has a sentiment at all."""
    if not any(math.isfinite(_nan_if_none(c.metrics.get("sentiment_min"))) for c in calls.values()):
        return {}
    table = wh.read_partition(
        warehouse,
        "utterances",
        date,
        columns=["call_id", "idx", "speaker", "start_s", "end_s", "sentiment"],
    )
    found: dict[str, list[tuple[float, float, float, int]]] = defaultdict(list)
    for r in table.to_pylist() if table is not None else ():
        feel = r["sentiment"]
        if r["speaker"] == "customer" and feel is not None and feel == feel:
            found[r["call_id"]].append((r["start_s"], r["end_s"], feel, r["idx"]))
    return {
        call_id: tuple((a, b, f) for a, b, f, _ in sorted(rows_, key=lambda m: (m[0], m[3])))
        for call_id, rows_ in found.items()
    }


def _configured_rubrics(config: Config) -> dict[str, Rubric]:
    """The configured rubric per language, for the items' windows (a rubric that no longer
    loads is logged and its calls' missed items are planned over the whole call)."""
    out: dict[str, Rubric] = {}
    for language, path in config.rubrics.items():
        try:
            out[language] = load_rubric(path)
        except EarmarkError as exc:
            log.warning("queue plans without item windows for %s calls: %s", language, exc)
    return out


def _nan_if_none(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _recent_dates(warehouse: str, table: str, date: str, days: int) -> list[str]:
    first = (dt.date.fromisoformat(date) - dt.timedelta(days=days)).isoformat()
    return [d for d in wh.partition_dates(warehouse, table) if first <= d <= date]


def _agents_by_team(warehouse: str, date: str) -> dict[str, set[str]]:
    """Agents seen per team over the 30 days up to ``date``."""
    teams: dict[str, set[str]] = defaultdict(set)
    table = wh.read_table(
        warehouse, "calls", call_dates=_recent_dates(warehouse, "calls", date, 30)
    )
    for team, agent in zip(
        table["team_id"].to_pylist(), table["agent_id"].to_pylist(), strict=True
    ):
        if team and agent:
            teams[team].add(agent)
    return teams


def _reviewed_this_week(warehouse: str, date: str) -> dict[str, int]:
    """Calls per agent already queued for review in the 6 days before ``date``."""
    counts: dict[str, int] = defaultdict(int)
    dates = [d for d in _recent_dates(warehouse, "queue", date, 6) if d < date]
    for r in wh.read_table(warehouse, "queue", call_dates=dates).to_pylist():
        if r["kind"] in ("review", "control") and r["agent_id"]:
            counts[r["agent_id"]] += 1
    return counts


def _latest_versions(scores: Iterable[Any]) -> dict[tuple[str, str], int]:
    latest: dict[tuple[str, str], int] = {}
    for s in scores:
        key = (s.call_id, s.rubric_id)
        latest[key] = max(latest.get(key, 0), s.rubric_version)
    return latest


def queue_markdown(queue: Iterable[QueueEntry]) -> str:
    lines = [
        "| rank | kind | call | agent | team | priority | cost | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for q in queue:
        why = "; ".join(distinct_reasons(q.reasons)[:3]).replace("|", "/")
        lines.append(
            f"| {q.rank} | {q.kind} | {q.call_id} | {q.agent_id or '—'} | {q.team_id or '—'} "
            f"| {q.priority:.0f} | {clock(q.price_s)} | {why} |"
        )
    return "\n".join(lines)


def _publish_artifact(queue: list[QueueEntry]) -> None:
    """One markdown artifact per inspector per night (shown in the Prefect UI)."""
    from prefect.artifacts import create_markdown_artifact

    groups: dict[tuple[str, str], list[QueueEntry]] = defaultdict(list)
    for q in queue:
        groups[(q.inspector, q.date)].append(q)
    for (inspector, date), entries in sorted(groups.items()):
        key = re.sub(r"[^a-z0-9-]+", "-", f"queue-{inspector}-{date}".lower()).strip("-")
        try:
            create_markdown_artifact(
                markdown=f"## {inspector} — {date}\n\n" + queue_markdown(entries),
                key=key,
                description=f"earmark queue for {inspector} on {date}",
            )
        except Exception as exc:  # an artifact is a convenience; the queue table is the record
            log.warning("could not publish the queue artifact %s: %s", key, exc)


def _closed_months(before: list[str], after: list[str]) -> list[str]:
    from review.report import closed_months  # the review app's stack loads only when needed

    return closed_months(before, after)


def _publish_monthly(warehouse: str, config: Config, months: list[str]) -> None:
    """After the first night of a month: each team's monthly check of the month before
    as a markdown artifact (``earmark report`` writes the full HTML)."""
    from prefect.artifacts import create_markdown_artifact

    from review.report import monthly_digests

    for month in months:
        try:
            digests = monthly_digests(warehouse, config, month)
        except EarmarkError as exc:  # e.g. a remote warehouse: no review database to read
            log.warning("no monthly check for %s: %s", month, exc)
            continue
        for team, markdown in digests.items():
            key = re.sub(r"[^a-z0-9-]+", "-", f"monthly-{team}-{month}".lower()).strip("-")
            try:
                create_markdown_artifact(
                    markdown=markdown, key=key, description=f"monthly check {team} {month}"
                )
            except Exception as exc:  # a convenience, as the queue artifacts are
                log.warning("could not publish the monthly artifact %s: %s", key, exc)


def queue_build_flow(warehouse: str, dates: list[str], config: Config) -> list[QueueEntry]:
    """Body of ``earmark queue build``: rebuild the queues and publish them."""
    queue = rebuild_queue(warehouse, dates, config)
    _publish_artifact(queue)
    return queue


def run_queue_build(warehouse: str, dates: list[str], config: Config) -> list[QueueEntry]:
    """Rebuild the queues of ``dates``: a Prefect flow when a Prefect server is configured
    (the queues become its artifacts), else directly (no temporary server to start)."""
    from flows.env import prefect_server

    with night_lock(warehouse):
        if not prefect_server():
            return rebuild_queue(warehouse, dates, config)
        from prefect import flow

        build = flow(
            queue_build_flow,
            name="earmark-queue-build",
            validate_parameters=False,
            persist_result=False,
        )
        return build(warehouse, dates, config)  # type: ignore[no-any-return]


def preflight(archive: str | Path, warehouse: str | Path, config: Config) -> None:
    """Refuse, before any flow starts, what would fail the whole night: a missing archive,
    a warehouse URL no installed file system serves, a broken rubric, a missing model
    (ASR, or the voice encoder asked for in ``[diarize]``), a ``metadata.csv`` that
    cannot be read at all (``I002``)."""
    if not Path(archive).is_dir():
        raise InputError(f"{archive}: archive folder not found", code="I001")
    read_metadata(Path(archive) / METADATA_FILE, options=metadata_options(config))
    wh.check_reachable(warehouse)
    check_rubrics(config)
    resolve_model(config.asr.model)
    for model in config.asr.models.values():
        resolve_model(model)
    pick_embedder(config.diarize.embedder)


def task_runner(config: Config, *, dask_address: str | None = None) -> Any:
    """Threads on one machine (the model is shared), or a Dask cluster across machines.

    With Dask every worker process loads the model once and writes its transcripts to
    the warehouse's cache, so the warehouse must be on storage all workers reach: an
    object store URL (``s3://…``) or a shared folder.
    """
    if dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address)
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=config.asr.worker_count)


def run_night(
    archive: str | Path,
    warehouse: str | Path,
    config: Config,
    *,
    dask_address: str | None = None,
    dates: DateRange | None = None,
) -> NightSummary:
    """Run the nightly flow on Prefect's local engine (or a Dask cluster), on the new and
    changed files of ``dates`` (default: every date).

    No process of it outlives it (see :func:`prefect_flow`).
    """
    preflight(archive, warehouse, config)
    dates = dates or DateRange()
    quiet = _nothing_new(archive, warehouse, dates, config)
    if quiet is not None:  # no flow, no Prefect, no model: the archive is as indexed
        return quiet
    night, config = prefect_flow(nightly_flow, "earmark-nightly", config, dask_address)
    return night(str(archive), str(warehouse), config, dates)  # type: ignore[no-any-return]


def prefect_flow(
    body: Callable[..., Any], name: str, config: Config, dask_address: str | None
) -> tuple[Any, Config]:
    """``body`` as a Prefect flow on the local engine or a Dask cluster, and the config to
    run it with (on Dask, one ASR worker per Dask thread unless configured).

    Locally the Prefect API server is earmark's own, which dies with this process
    (:mod:`flows.lifetime`); Dask workers on other machines could not reach a server on
    this one's loopback, so Prefect keeps its own arrangement there (set
    ``PREFECT_API_URL`` for a cluster).
    """
    from prefect import flow

    from flows.lifetime import ensure_api, prestart_api

    if not dask_address:
        prestart_api()
        ensure_api()
    elif not config.asr.workers:  # Dask's --nworkers/--nthreads decide
        config = config.model_copy(update={"asr": config.asr.model_copy(update={"workers": 1})})
    wrapped = flow(
        body,
        name=name,
        task_runner=task_runner(config, dask_address=dask_address),
        validate_parameters=False,
        persist_result=False,
    )
    return wrapped, config


def _nothing_new(
    archive: str | Path, warehouse: str | Path, dates: DateRange, config: Config
) -> NightSummary | None:
    """The summary of a night with nothing to do, or ``None`` when there is work.

    Read without the lock: the flow takes it and looks again before writing anything.
    """
    started = time.monotonic()
    stamp = wh.stamp(wh.index_path(warehouse))
    index = FileIndex(wh.read_index(warehouse))
    plan = plan_archive(archive, index, dates=dates, metadata=metadata_options(config))
    if plan.changes.todo or plan.changes.vanished or plan.metadata_entry is not None:
        _planned[(str(archive), str(warehouse), dates)] = (stamp, index, plan)
        return None
    return summarize(plan, [], started=started)


_planned: dict[
    tuple[str, str, DateRange | None], tuple[tuple[str, int] | None, FileIndex, ArchivePlan]
] = {}
"""The plan :func:`_nothing_new` made, for the flow it starts (in this process): a large
archive is then listed once a night, not twice. The flow uses it only if the index it
has not been rewritten since (its stamp: mtime or ETag, and size), so a large index is
not read, nor held, twice."""


def scheduled_night(
    archive: str, warehouse: str, config_path: str | None = None, since: str | None = None
) -> dict[str, Any]:
    """The deployment's entry point: JSON parameters in, a JSON summary out.

    Each run takes what arrived since the last one by itself: the warehouse's file index
    is the watermark (``since``: also ignore new files dated before it). Run by a Prefect
    runner (``earmark schedule``) or worker in a process of its own: that process ends
    when the runner does, even if the runner is SIGKILLed.
    """
    import multiprocessing
    import os

    from flows.lifetime import die_with_parent
    from pipeline.config import load_config

    # a runner starts each flow run in a child process (multiprocessing, or a command
    # with PREFECT__FLOW_RUN_ID set); called in-process (a test), nothing to watch
    if multiprocessing.parent_process() is not None or os.environ.get("PREFECT__FLOW_RUN_ID"):
        die_with_parent(os.getppid())

    summary = run_night(archive, warehouse, load_config(config_path), dates=DateRange(since))
    return {
        "processed": summary.processed,
        "quarantined": len(summary.quarantined),
        "queued": len(summary.queue),
        "dates": summary.call_dates,
        "unchanged": summary.unchanged,
        "moved": len(summary.moved),
        "vanished": summary.vanished,
    }
