"""The nightly flow: archive in, warehouse tables and a ranked review queue out.

``earmark run`` calls :func:`run_night`, which runs the Prefect flow on the local
embedded engine (no server to start). One bad recording never ends the night: it
becomes a ``quarantine`` row. Re-running is cheap and safe: transcripts are cached by
content, partitions are rewritten atomically, keys replace rather than append.
"""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.process import CallResult, RunSettings, get_transcriber, process_recording, rubric_for
from models.bundle import resolve_model
from models.diarize import pick_embedder
from pipeline import rows
from pipeline import warehouse as wh
from pipeline.archive import UNREACHABLE, discover
from pipeline.config import Config
from pipeline.errors import AudioError, EarmarkError, InputError
from pipeline.metadata import METADATA_FILE, read_metadata
from pipeline.metadata import options_from_config as metadata_options
from pipeline.metrics import repeat_contacts
from pipeline.queue import (
    Candidate,
    build_inspector_queues,
    build_review_queue,
    check_pairings,
    config_team_languages,
    inspectors_from_config,
    pairings,
    policy_from_config,
)
from pipeline.redact_audio import (
    AudioRedactOptions,
    Span,
    copy_key,
    remove_stale_copies,
    spans_of,
    write_redacted_copy,
)
from pipeline.scoring import clock
from pipeline.types import MetadataIssue, QuarantineEntry, QueueEntry, Recording

log = logging.getLogger("earmark")

ProgressHook = Callable[[int, int, str], None]
_progress: ProgressHook | None = None


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
    cache_repaired: int = 0
    """Damaged transcript cache entries met, recomputed and rewritten."""
    deferred: list[QuarantineEntry] = field(default_factory=list)
    """Recordings not processed because the archive went away mid-night (``I009``):
    nothing is written for them, the next run processes them."""

    @property
    def throughput(self) -> float:
        """Audio seconds transcribed per wall second of ASR (0 when all came from cache)."""
        return self.asr_audio_s / self.asr_wall_s if self.asr_wall_s else 0.0


def set_progress_hook(hook: ProgressHook | None) -> None:
    """Called as ``hook(done, total, source_path)`` after each recording (the CLI's bar)."""
    global _progress
    _progress = hook


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


def _tasks() -> Any:
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    return task(
        process_recording, name="process-recording", cache_policy=NO_CACHE, persist_result=False
    )


def _audio_task() -> Any:
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    return task(
        write_redacted_audio, name="redact-audio", cache_policy=NO_CACHE, persist_result=False
    )


def nightly_flow(archive: str, warehouse: str, config: Config) -> NightSummary:
    """Body of the Prefect flow (wrapped in :func:`run_night`)."""
    from prefect.futures import as_completed

    started = time.monotonic()
    # Fail before any compute on what would fail every call: rubrics, model files.
    for language in config.languages:
        rubric_for(config, language)
    get_transcriber(config.asr).model  # noqa: B018  (loads the model once, here)
    with wh.night_lock(warehouse):
        found = discover(archive, metadata=metadata_options(config))
        for issue in found.metadata_issues:  # the summary shows them; a warning would print each
            log.info("%s", issue)
        settings = RunSettings(config=config, warehouse=warehouse)
        process = _tasks()
        futures = [process.submit(rec, settings) for rec in found.recordings]
        results: list[CallResult] = []
        for n, future in enumerate(as_completed(futures), 1):
            result: CallResult = future.result()
            results.append(result)
            if _progress:
                _progress(n, len(futures), result.recording.source_path)
        results.sort(key=lambda r: r.recording.source_path)
        options = audio_redact_options(config)
        if options is not None:  # before the tables: a call is never listed without its copy
            _audio_task()(warehouse, copy_jobs(results), options)
        nights_before = wh.partition_dates(warehouse, "calls")
        problems = found.quarantined + [r.quarantine for r in results if r.quarantine]
        quarantined = [q for q in problems if q.error_code != UNREACHABLE]
        deferred = [q for q in problems if q.error_code == UNREACHABLE]
        if deferred:
            log.warning("%d recordings not reachable any more: retried next run", len(deferred))
        dates = write_results(
            warehouse,
            found.recordings,
            results,
            quarantined,
            repeat_days=config.repeat_contact_days,
        )
        queue = rebuild_queue(warehouse, dates, config)
        closed = _closed_months(nights_before, wh.partition_dates(warehouse, "calls"))
    _publish_artifact(queue)
    _publish_monthly(warehouse, config, closed)
    done = [r for r in results if r.transcript is not None]
    fresh = [r for r in done if not r.asr_cached]
    return NightSummary(
        processed=len(done),
        quarantined=quarantined,
        ignored=found.ignored,
        audio_s=sum(r.transcript.duration_s for r in done if r.transcript),
        asr_audio_s=sum(r.transcript.duration_s for r in fresh if r.transcript),
        asr_wall_s=sum(r.asr_wall_s for r in fresh),
        embed_wall_s=sum(r.embed_wall_s for r in fresh),
        cached=len(done) - len(fresh),
        wall_s=time.monotonic() - started,
        call_dates=sorted(dates),
        queue=queue,
        metadata_issues=found.metadata_issues,
        decode_warnings={
            r.recording.source_path: int(r.audio["decode_warnings"])
            for r in done
            if r.audio.get("decode_warnings")
        },
        cache_repaired=sum(r.cache_repaired for r in results),
        deferred=deferred,
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
            sample_rate=int(r.audio["sample_rate"]),
            spans=spans_of(r.audio.get("redactions") or ()),
        )
        for r in results
        if r.transcript is not None
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
        status = "ok" if result.transcript is not None else "quarantined"
        tables["calls"][rec.call_date].append(
            rows.call_row(rec, result.audio, result.transcript, status)
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
        if q.error_code == UNREACHABLE:
            continue
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
        call_dates=[d for d in wh.partition_dates(warehouse, "calls") if first <= d],
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


def rebuild_queue(warehouse: str, dates: Iterable[str], config: Config) -> list[QueueEntry]:
    """Rebuild each date's queues from everything the warehouse holds for it.

    Built from the stored tables, not this run's results, so a partial re-run still
    yields the whole day's queue. Without inspectors in the configuration the queue is
    one list of every call that needs review; with them, each inspector gets a queue
    within their budget (see :func:`pipeline.queue.build_inspector_queues`).
    """
    queue: list[QueueEntry] = []
    for date in sorted(dates):
        candidates = _candidates(warehouse, date)
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
        else:
            day = build_review_queue(candidates, date=date)
        wh.upsert(warehouse, "queue", {date: [rows.queue_row(q) for q in day]})
        queue.extend(day)
    return queue


def _candidates(warehouse: str, date: str) -> list[Candidate]:
    calls = {
        r["call_id"]: r for r in wh.read_table(warehouse, "calls", call_dates=[date]).to_pylist()
    }
    scores = [
        rows.score_from_row(r)
        for r in wh.read_table(warehouse, "scores", call_dates=[date]).to_pylist()
    ]
    latest = _latest_versions(scores)
    findings: dict[str, list[Any]] = defaultdict(list)
    for r in wh.read_table(warehouse, "findings", call_dates=[date]).to_pylist():
        if latest.get((r["call_id"], r["rubric_id"])) == r["rubric_version"]:
            findings[r["call_id"]].append(rows.finding_from_row(r))
    return [
        Candidate(
            score=s,
            findings=tuple(findings[s.call_id]),
            duration_s=calls[s.call_id]["duration_s"] or 0.0,
            agent_id=calls[s.call_id]["agent_id"] or "",
            team_id=calls[s.call_id]["team_id"] or "",
        )
        for s in scores
        if latest.get((s.call_id, s.rubric_id)) == s.rubric_version and s.call_id in calls
    ]


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
        "| rank | kind | call | agent | team | priority | listen | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for q in queue:
        why = "; ".join(q.reasons[:3]).replace("|", "/")
        lines.append(
            f"| {q.rank} | {q.kind} | {q.call_id} | {q.agent_id or '—'} | {q.team_id or '—'} "
            f"| {q.priority:.0f} | {clock(q.plan_s)} | {why} |"
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


def preflight(archive: str | Path, warehouse: str | Path, config: Config) -> None:
    """Refuse, before any flow starts, what would fail the whole night: a missing archive,
    a warehouse URL no installed file system serves, a broken rubric, a missing model
    (ASR, or the voice encoder asked for in ``[diarize]``), a ``metadata.csv`` that
    cannot be read at all (``I002``)."""
    if not Path(archive).is_dir():
        raise InputError(f"{archive}: archive folder not found", code="I001")
    read_metadata(Path(archive) / METADATA_FILE, options=metadata_options(config))
    wh.check_reachable(warehouse)
    for language in config.languages:
        rubric_for(config, language)
    resolve_model(config.asr.model)
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
    archive: str | Path, warehouse: str | Path, config: Config, *, dask_address: str | None = None
) -> NightSummary:
    """Run the nightly flow on Prefect's local engine (or a Dask cluster).

    The Prefect API server boots (:func:`flows.lifetime.prestart_api`) while the inputs
    are checked; it dies with this process, however this process ends. Not with Dask:
    workers on other machines could not reach a server on this one's loopback, so
    Prefect keeps its own arrangement there (set ``PREFECT_API_URL`` for a cluster).
    """
    from prefect import flow

    from flows.lifetime import ensure_api, prestart_api

    if not dask_address:
        prestart_api()
    preflight(archive, warehouse, config)
    if not dask_address:
        ensure_api()
    if dask_address and not config.asr.workers:  # Dask's --nworkers/--nthreads decide
        config = config.model_copy(update={"asr": config.asr.model_copy(update={"workers": 1})})

    night = flow(
        nightly_flow,
        name="earmark-nightly",
        task_runner=task_runner(config, dask_address=dask_address),
        validate_parameters=False,
        persist_result=False,
    )
    return night(str(archive), str(warehouse), config)  # type: ignore[no-any-return]


def scheduled_night(archive: str, warehouse: str, config_path: str | None = None) -> dict[str, Any]:
    """The deployment's entry point: JSON parameters in, a JSON summary out.

    Run by a Prefect runner (``earmark schedule``) or worker in a process of its own: that
    process ends when the runner does, even if the runner is SIGKILLed.
    """
    import multiprocessing
    import os

    from flows.lifetime import die_with_parent
    from pipeline.config import load_config

    # a runner starts each flow run in a child process (multiprocessing, or a command
    # with PREFECT__FLOW_RUN_ID set); called in-process (a test), nothing to watch
    if multiprocessing.parent_process() is not None or os.environ.get("PREFECT__FLOW_RUN_ID"):
        die_with_parent(os.getppid())

    summary = run_night(archive, warehouse, load_config(config_path))
    return {
        "processed": summary.processed,
        "quarantined": len(summary.quarantined),
        "queued": len(summary.queue),
        "dates": summary.call_dates,
    }
