"""``earmark backfill``: process a range of dates of an archive in chunks, resumably.

The same steps as a night (:func:`flows.nightly.night_step`) and so the same tables,
run once per chunk of whole dates (about ``chunk_calls`` calls each): a chunk's
tables, queues and file index entries are written before the next chunk starts, so a
backfill killed at any point (``kill -9`` included) continues where it stopped when it
is run again; the chunk it was in is done again from the transcript cache. Calls go to
Prefect tasks in batches (``batch_calls`` per task), so a backfill of a million calls
is tens of thousands of tasks, not a million, on the local runner or on Dask.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from flows.nightly import (
    NightSummary,
    StepResult,
    night_step,
    plan_archive,
    prefect_flow,
    preflight,
    summarize,
)
from flows.process import rubric_for
from flows.progress import progress_counter
from pipeline import warehouse as wh
from pipeline.archive import ArchiveFile
from pipeline.config import Config
from pipeline.file_index import DateRange, FileIndex
from pipeline.lease import night_lock
from pipeline.metadata import options_from_config as metadata_options

log = logging.getLogger("earmark")

CHUNK_CALLS = 500
BATCH_CALLS = 20


def chunk_by_date(files: Sequence[ArchiveFile], *, chunk_calls: int) -> list[list[ArchiveFile]]:
    """Group files into chunks of whole dates, in date order, of about ``chunk_calls``
    files each (a date is never split: its queue is built once its calls are all in).

    Examples
    --------
    >>> from pipeline.archive import ArchiveFile
    >>> f = [ArchiveFile(f"{d}/{n}.wav", "", 1, 1, f"{d}-{n}", d) for d in ("2026-01-02", "2026-01-01") for n in range(2)]
    >>> [[x.source_path for x in c] for c in chunk_by_date(f, chunk_calls=3)]
    [['2026-01-01/0.wav', '2026-01-01/1.wav'], ['2026-01-02/0.wav', '2026-01-02/1.wav']]
    >>> [len(c) for c in chunk_by_date(f, chunk_calls=4)], [len(c) for c in chunk_by_date(f, chunk_calls=1)]
    ([4], [2, 2])
    """
    by_date: dict[str, list[ArchiveFile]] = {}
    for f in files:
        by_date.setdefault(f.call_date, []).append(f)
    chunks: list[list[ArchiveFile]] = []
    current: list[ArchiveFile] = []
    for date in sorted(by_date):
        if current and len(current) + len(by_date[date]) > chunk_calls:
            chunks.append(current)
            current = []
        current.extend(by_date[date])
    if current:
        chunks.append(current)
    return chunks


def backfill_flow(
    archive: str,
    warehouse: str,
    config: Config,
    dates: DateRange,
    chunk_calls: int = CHUNK_CALLS,
    batch_calls: int = BATCH_CALLS,
) -> NightSummary:
    """Body of the Prefect flow (wrapped in :func:`run_backfill`)."""
    started = time.monotonic()
    for language in config.languages:
        rubric_for(config, language)
    steps: list[StepResult] = []
    with night_lock(warehouse):
        index = FileIndex(wh.read_index(warehouse))
        plan = plan_archive(archive, index, dates=dates, metadata=metadata_options(config))
        chunks = chunk_by_date(plan.changes.todo, chunk_calls=chunk_calls) or [[]]
        advance = progress_counter(len(plan.changes.todo))
        for n, chunk in enumerate(chunks):
            step, index = night_step(  # a backfill holds its index from chunk to chunk
                warehouse,
                config,
                plan,
                lambda held=index: held,
                todo=chunk,
                first=n == 0,
                batch_calls=batch_calls,
                advance=advance,
            )
            steps.append(step)
            if chunk:
                log.info(
                    "backfill chunk %d/%d: %s to %s, %d file(s), done",
                    n + 1,
                    len(chunks),
                    chunk[0].call_date,
                    chunk[-1].call_date,
                    len(chunk),
                )
    return summarize(plan, steps, started=started)


def run_backfill(
    archive: str | Path,
    warehouse: str | Path,
    config: Config,
    *,
    dates: DateRange,
    chunk_calls: int = CHUNK_CALLS,
    batch_calls: int = BATCH_CALLS,
    dask_address: str | None = None,
) -> NightSummary:
    """Backfill ``dates`` of ``archive`` on Prefect's local engine (or a Dask cluster);
    no process of it outlives it (see :func:`flows.nightly.prefect_flow`)."""
    preflight(archive, warehouse, config)
    backfill, config = prefect_flow(backfill_flow, "earmark-backfill", config, dask_address)
    return backfill(  # type: ignore[no-any-return]
        str(archive), str(warehouse), config, dates, chunk_calls, batch_calls
    )
