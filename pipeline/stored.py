"""Stored ``calls``, ``queue`` and ``quarantine`` partitions read back as records, one date
at a time.

The command line (``earmark queue show`` on an empty queue, ``rubric explain``), the night
and re-scoring (``calls``) and the review app (its queue and call pages) ask the same
questions of these tables; they all ask them here.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline import warehouse as wh
from pipeline.row_records import CallRow
from pipeline.rows import call_from_row, quarantine_from_row
from pipeline.types import QuarantineEntry

Root = str | os.PathLike[str]


def _of_call(table: pa.Table, call_id: str | None) -> pa.Table:
    return table if call_id is None else table.filter(pc.equal(table["call_id"], call_id))


def queue_inspectors(root: Root, date: str, *, call_id: str | None = None) -> tuple[str, ...]:
    """The inspectors with rows in ``date``'s stored queue (for ``call_id`` when given).

    Parameters
    ----------
    root
        Warehouse location.
    date
        The queue's ``call_date`` (``YYYY-MM-DD``).
    call_id
        Only the rows of this call; ``None`` for all.

    Returns
    -------
    tuple[str, ...]
        Sorted, each once; ``()`` when the date has no queue (or the call is not in it).

    Examples
    --------
    >>> queue_inspectors("/nonexistent-warehouse", "2026-11-02")
    ()
    """
    columns = ["inspector"] if call_id is None else ["inspector", "call_id"]
    part = wh.read_partition(root, "queue", date, columns=columns)
    if part is None:
        return ()
    return tuple(sorted(set(_of_call(part, call_id).column("inspector").to_pylist())))


def queued_inspectors(root: Root) -> dict[str, tuple[str, ...]]:
    """Each date with a stored queue, in order → :func:`queue_inspectors` of it (``()``
    for a queue stored empty)."""
    return {date: queue_inspectors(root, date) for date in wh.partition_dates(root, "queue")}


def quarantined(root: Root, date: str, *, call_id: str | None = None) -> list[QuarantineEntry]:
    """``date``'s ``quarantine`` rows as records, in stored order (of ``call_id`` when given).

    Parameters
    ----------
    root
        Warehouse location.
    date
        The ``call_date`` partition (``YYYY-MM-DD``); each record's ``call_date``.
    call_id
        Only this call's rows; ``None`` for all.

    Returns
    -------
    list[QuarantineEntry]
        ``[]`` when the date has no quarantine partition.
    """
    rows = partition_rows(root, "quarantine", date, call_id)
    return [quarantine_from_row(r, call_date=date) for r in rows]


def stored_calls(root: Root, date: str, *, call_id: str | None = None) -> list[CallRow]:
    """``date``'s ``calls`` rows as records, in stored order (of ``call_id`` when given);
    ``[]`` when the date has no ``calls`` partition. The parameters are
    :func:`quarantined`'s.

    Examples
    --------
    >>> stored_calls("/nonexistent-warehouse", "2026-11-02")
    []
    """
    return [call_from_row(r) for r in partition_rows(root, "calls", date, call_id)]


def partition_rows(
    root: Root, table: str, date: str, call_id: str | None = None
) -> list[dict[str, Any]]:
    """One ``date`` partition's rows of a table (of ``call_id`` when given), with the
    table's schema; ``[]`` when the date has none."""
    part = wh.read_partition(root, table, date)
    return [] if part is None else _of_call(part, call_id).to_pylist()
