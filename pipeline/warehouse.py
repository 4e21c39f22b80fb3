"""The warehouse: Parquet datasets partitioned by ``call_date``, every schema in this module.

Layout (readable as-is by pyarrow, DuckDB, pandas, Spark, Trino)::

    WAREHOUSE/calls/call_date=2026-11-20/part-0.parquet
    WAREHOUSE/utterances/…  findings/…  scores/…  queue/…  quarantine/…
    WAREHOUSE/_cache/asr/ab/<key>.json     transcripts by (audio hash, model, options)
    WAREHOUSE/_redacted_audio/call_date=2026-11-20/<call>.<hash>.<key>.flac
                                           audio with the redacted spans covered

WAREHOUSE is a folder or any fsspec URL (``s3://bucket/earmark``, ``gs://…``): every
read and write goes through :func:`pipeline.storage.storage`, so a cluster's machines
share one warehouse. One night at a time writes it (:mod:`pipeline.lease`).

Writes are idempotent and atomic: a partition is read, the rows being written replace
the rows with the same key, and the result goes to a temporary file renamed into
place (or uploaded whole, on an object store). Re-running a night leaves no
duplicates, and a crash leaves the old file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from pipeline import errors
from pipeline.errors import WarehouseError

# isort: off
from pipeline.storage import (  # re-exported: callers reach the storage layer as wh.<name>
    absolute as absolute,
    atomic_path as atomic_path,
    check_reachable as check_reachable,
    fetch as fetch,
    is_local as is_local,
    join as join,
    list_names as list_names,
    open_input as open_input,
    read_bytes as read_bytes,
    remove as remove,
    stamp as stamp,
    storage as storage,
    unwritable as unwritable,
    version_of as version_of,
    write_error as write_error,
)

# isort: on
from pipeline.metric_rows import METRIC_COLUMNS as METRIC_COLUMNS
from pipeline.row_records import AssignmentRow, CallRow, ReasonRow
from pipeline.shapes import Computed, Layout, columns
from pipeline.types import (
    CallScore,
    Finding,
    IndexEntry,
    QuarantineEntry,
    QueueEntry,
    Utterance,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
PARTITION = "call_date"

LAYOUTS: dict[str, Layout] = {
    "calls": Layout(spread={"metrics": METRIC_COLUMNS}),
    "utterances": Layout(after={"channel": "speaker", "words": "confidence"}),
    "findings": Layout(after={"title": "item_version", "evidence": "flag"}),
    "queue": Layout(
        computed={"plan_s": Computed(pa.float64(), lambda q: round(q.plan_s, 3))},
        after={"plan_s": "plan", "cost_s": "plan_s"},
        written={"cost_s": lambda q: round(q.price_s, 3)},
    ),
    "quarantine": Layout(after={"call_id": "source_path", "audio_sha256": "call_id"}),
}
"""Where a table's columns differ from its record's fields (see :mod:`pipeline.shapes`):
a call's metrics are a column each (:data:`METRIC_COLUMNS`); the queue stores its plan's
length and its price (the cost, or the length when unpriced); an utterance's row is also
keyed by its call and place (``call_id``, ``idx``) and holds its meaning vector and
sentiment (see :func:`pipeline.rows.utterance_rows`)."""


def _schema(name: str, fields: list[tuple[str, pa.DataType]]) -> pa.Schema:
    return pa.schema(
        fields, metadata={"earmark.table": name, "earmark.schema_version": SCHEMA_VERSION}
    )


SCHEMAS: dict[str, pa.Schema] = {
    "calls": _schema("calls", columns(CallRow, LAYOUTS["calls"])),
    "utterances": _schema(
        "utterances",
        [
            ("call_id", pa.string()),
            ("idx", pa.int32()),
            *columns(Utterance, LAYOUTS["utterances"]),
            ("vector", pa.binary()),
            ("sentiment", pa.float64()),
        ],
    ),
    "findings": _schema("findings", columns(Finding, LAYOUTS.get("findings"))),
    "scores": _schema("scores", columns(CallScore, LAYOUTS.get("scores"))),
    "queue": _schema("queue", columns(QueueEntry, LAYOUTS.get("queue"))),
    "call_reasons": _schema("call_reasons", columns(AssignmentRow)),
    "quarantine": _schema("quarantine", columns(QuarantineEntry, LAYOUTS.get("quarantine"))),
}

INDEX_SCHEMA = _schema("file_index", columns(IndexEntry))
"""The file index (:class:`pipeline.types.IndexEntry`): one file, not partitioned, at
``WAREHOUSE/file_index/part-0.parquet``; see :mod:`pipeline.file_index`."""

REASONS_SCHEMA = _schema("contact_reasons", columns(ReasonRow))
"""The contact reasons (:class:`pipeline.reasons.Reason`): one file, not partitioned (a
catalogue every night reads and updates whole), at ``WAREHOUSE/contact_reasons/part-0.parquet``;
the reason of each call is in the ``call_reasons`` table. Vectors are float16 bytes."""
REASON_LANGUAGES_SCHEMA = _schema(
    "reason_languages",
    [("language", pa.string()), ("mean", pa.binary()), ("n", pa.int64())],
)
"""Each language's mean problem statement so far (:class:`pipeline.reasons.LanguageMean`),
at ``WAREHOUSE/contact_reasons/languages.parquet``."""

KEYS: dict[str, tuple[str, ...]] = {
    "calls": ("call_id",),
    "utterances": ("call_id",),
    "findings": ("call_id", "rubric_id", "rubric_version"),
    "scores": ("call_id", "rubric_id", "rubric_version"),
    "queue": (),
    "call_reasons": ("call_id",),
    "quarantine": ("source_path",),
}
"""Rows written replace existing rows with the same key; ``()`` replaces the whole partition."""

SORT: dict[str, list[tuple[str, str]]] = {
    "calls": [("call_id", "ascending")],
    "utterances": [("call_id", "ascending"), ("idx", "ascending")],
    "findings": [
        ("call_id", "ascending"),
        ("rubric_id", "ascending"),
        ("rubric_version", "ascending"),
        ("item_id", "ascending"),
    ],
    "scores": [
        ("call_id", "ascending"),
        ("rubric_id", "ascending"),
        ("rubric_version", "ascending"),
    ],
    "queue": [("inspector", "ascending"), ("kind", "ascending"), ("rank", "ascending")],
    "call_reasons": [("call_id", "ascending")],
    "quarantine": [("source_path", "ascending")],
}


def read_parquet(
    location: str, *, schema: pa.Schema | None = None, columns: Sequence[str] | None = None
) -> pa.Table | None:
    """A Parquet file of the warehouse, or ``None`` when there is none."""
    fs, path = storage(location)
    try:
        if isinstance(fs, LocalFileSystem):
            return pq.read_table(path, schema=schema, columns=columns)
        with fs.open(path, "rb") as f:
            return pq.read_table(f, schema=schema, columns=columns)
    except FileNotFoundError:
        return None
    except (pa.ArrowInvalid, OSError) as exc:
        raise errors.PARTITION_UNREADABLE(path=location, reason=exc) from exc


def partition_path(root: str | os.PathLike[str], table: str, call_date: str) -> str:
    return join(root, table, f"{PARTITION}={call_date}", "part-0.parquet")


def upsert(
    root: str | os.PathLike[str],
    table: str,
    rows_by_date: Mapping[str, Sequence[Mapping[str, Any]]],
) -> int:
    """Write rows into their ``call_date`` partitions, replacing rows with the same key.

    Parameters
    ----------
    root
        Warehouse folder or URL.
    table
        One of :data:`SCHEMAS`.
    rows_by_date
        ``{call_date: [row, …]}``; each row a mapping with the table's columns.

    Returns
    -------
    int
        Rows written.
    """
    schema = SCHEMAS[table]
    written = 0
    for call_date, rows in sorted(rows_by_date.items()):
        new = pa.Table.from_pylist([dict(r) for r in rows], schema=schema)
        old = read_partition(root, table, call_date)
        if old is not None and old.num_rows:
            keys = KEYS[table]
            if keys:
                old = old.filter(pc.invert(_key_mask(old, new, keys)))
                merged = pa.concat_tables([old, new])
            else:
                merged = new
        else:
            merged = new
        merged = merged.sort_by(SORT[table])
        with atomic_path(partition_path(root, table, call_date)) as tmp:
            pq.write_table(merged, tmp, compression="zstd")
        written += new.num_rows
    return written


def _key_mask(old: pa.Table, new: pa.Table, keys: Sequence[str]) -> pa.ChunkedArray | pa.Array:
    if len(keys) == 1:
        return pc.is_in(old[keys[0]], value_set=new[keys[0]].combine_chunks())
    joined = [_joined_key(t, keys) for t in (old, new)]
    return pc.is_in(joined[0], value_set=joined[1])


def _joined_key(table: pa.Table, keys: Sequence[str]) -> pa.Array:
    parts = [pc.cast(table[k], pa.string()).combine_chunks() for k in keys]
    return pc.binary_join_element_wise(*parts, "\x1f")


def read_partition(
    root: str | os.PathLike[str],
    table: str,
    call_date: str,
    *,
    columns: Sequence[str] | None = None,
) -> pa.Table | None:
    """One ``call_date`` partition of a table with its schema, or ``None`` if it has none."""
    return read_parquet(
        partition_path(root, table, call_date), schema=SCHEMAS[table], columns=columns
    )


def read_table(
    root: str | os.PathLike[str], table: str, *, call_dates: Iterable[str] | None = None
) -> pa.Table:
    """Read a whole table (or some partitions) with its schema and the ``call_date`` column."""
    schema = SCHEMAS[table]
    dates = sorted(call_dates) if call_dates is not None else partition_dates(root, table)
    parts = []
    for d in dates:
        t = read_partition(root, table, d)
        if t is not None:
            parts.append(t.append_column(PARTITION, pa.array([d] * t.num_rows, pa.string())))
    full = schema.append(pa.field(PARTITION, pa.string()))
    return pa.concat_tables(parts) if parts else full.empty_table()


def partition_dates(root: str | os.PathLike[str], table: str) -> list[str]:
    """The ``call_date`` partitions a table holds, in order."""
    prefix = f"{PARTITION}="
    return sorted(
        n.removeprefix(prefix) for n in list_names(join(root, table)) if n.startswith(prefix)
    )


def require_calls(root: str | os.PathLike[str]) -> None:
    """Refuse a warehouse a reading command was pointed at by mistake, creating nothing:
    a local folder that does not exist, or any location with no ``calls`` partition.

    Raises
    ------
    WarehouseError
        ``W012`` when the local folder does not exist; ``W010`` when it holds no calls.
    """
    fs, path = storage(root)
    if isinstance(fs, LocalFileSystem) and not fs.isdir(path):
        raise errors.WAREHOUSE_MISSING(root=os.fspath(root))
    if not partition_dates(root, "calls"):
        raise errors.WAREHOUSE_NO_CALLS(root=os.fspath(root))


# ---------------------------------------------------------------- file index

INDEX = "file_index"


def index_path(root: str | os.PathLike[str]) -> str:
    return join(root, INDEX, "part-0.parquet")


def read_index(root: str | os.PathLike[str]) -> pa.Table:
    """The warehouse's file index as a table (:data:`INDEX_SCHEMA`; no rows before the
    first night). Columns, not records: an archive of a million files is a few hundred
    bytes per file in memory, not a Python object per field.

    Raises
    ------
    WarehouseError
        ``W002`` when the index file is unreadable.
    """
    location = index_path(root)
    fs, path = storage(location)
    try:  # ParquetFile, one thread: the datasets layer and a thread pool would stay resident
        if isinstance(fs, LocalFileSystem):
            table = pq.ParquetFile(path).read(use_threads=False)
        else:
            with fs.open(path, "rb") as f:
                table = pq.ParquetFile(f).read(use_threads=False)
        return table.cast(INDEX_SCHEMA).combine_chunks()
    except FileNotFoundError:
        return INDEX_SCHEMA.empty_table()
    except (pa.ArrowInvalid, ValueError, OSError) as exc:
        raise errors.PARTITION_UNREADABLE(path=location, reason=exc) from exc


def write_index(root: str | os.PathLike[str], table: pa.Table) -> None:
    """Replace the file index with ``table`` (:data:`INDEX_SCHEMA`), atomically."""
    with atomic_path(index_path(root)) as tmp:
        pq.write_table(table.cast(INDEX_SCHEMA), tmp, compression="zstd")


def index_table(entries: Iterable[IndexEntry]) -> pa.Table:
    """Index entries as a table, sorted by archive and path (the order the index keeps)."""
    ordered = sorted(entries, key=lambda e: (e.archive, e.source_path))
    return pa.Table.from_pydict(  # by column: a million entries in about a second
        {name: [getattr(e, name) for e in ordered] for name in INDEX_SCHEMA.names},
        schema=INDEX_SCHEMA,
    )


def index_entries(table: pa.Table) -> list[IndexEntry]:
    """The rows of an index table as records (for the few rows a night looks at)."""
    columns = [table.column(name).to_pylist() for name in INDEX_SCHEMA.names]
    for name in ("archive", "call_date", "status"):  # few values, each held once
        at = INDEX_SCHEMA.names.index(name)
        columns[at] = [sys.intern(v) for v in columns[at]]
    return [IndexEntry(*values) for values in zip(*columns, strict=True)]


# ---------------------------------------------------------------- contact reasons

REASONS = "contact_reasons"


def reasons_path(root: str | os.PathLike[str], name: str = "part-0.parquet") -> str:
    return join(root, REASONS, name)


def read_whole(location: str, schema: pa.Schema) -> pa.Table | None:
    """An unpartitioned table (the reasons, their language means), or ``None`` before the first."""
    return read_parquet(location, schema=schema)


def write_whole(location: str, rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> None:
    """Replace an unpartitioned table atomically."""
    table = pa.Table.from_pylist([dict(r) for r in rows], schema=schema)
    with atomic_path(location) as tmp:
        pq.write_table(table, tmp, compression="zstd")


# ---------------------------------------------------------------- transcript cache


def cache_path(root: str | os.PathLike[str], key: str) -> str:
    return join(root, "_cache", "asr", key[:2], f"{key}.json")


def read_cached(root: str | os.PathLike[str], key: str) -> dict[str, Any] | None:
    """A cached transcript entry, or ``None`` when there is none.

    Raises
    ------
    CacheEntryDamaged
        When the entry exists but is not a JSON object (a torn or overwritten file): the
        caller recomputes it and counts the damage.
    """
    location = cache_path(root, key)
    try:
        raw = read_bytes(location)
    except OSError as exc:
        raise CacheEntryDamaged(location, f"unreadable ({exc})") from exc
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
    except ValueError as exc:
        raise CacheEntryDamaged(location, f"not JSON ({exc})") from exc
    if not isinstance(entry, dict):
        raise CacheEntryDamaged(location, f"not a JSON object but {type(entry).__name__}")
    return entry


class CacheEntryDamaged(WarehouseError):
    """A transcript cache entry that cannot be used; it is recomputed, never trusted."""

    def __init__(self, location: str, problem: str) -> None:
        entry = errors.CACHE_ENTRY_DAMAGED
        super().__init__(entry.message(path=location, problem=problem), code=entry.code)
        self.location = location


def write_cached(root: str | os.PathLike[str], key: str, payload: Mapping[str, Any]) -> None:
    with atomic_path(cache_path(root, key)) as tmp:
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


# ---------------------------------------------------------------- redacted audio

REDACTED_AUDIO = "_redacted_audio"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def redacted_audio_stem(call_id: str) -> str:
    """The start of every name a call's redacted copy has had: its id made safe for any file
    system (readable, shortened) and a hash of the id (two ids never share a stem).

    Examples
    --------
    >>> redacted_audio_stem("2026-11 calls/Café call")
    '2026-11_calls_Caf_call.c92e2a7bbb6b'
    """
    readable = _UNSAFE.sub("_", call_id).strip("_")[:48] or "call"
    return f"{readable}.{hashlib.sha256(call_id.encode()).hexdigest()[:12]}"


def redacted_audio_path(
    root: str | os.PathLike[str], call_date: str, call_id: str, key: str
) -> str:
    """Where the redacted copy of a call's audio lives (``key``: what it covers, see
    :func:`pipeline.redact_audio.copy_key`)."""
    stem = redacted_audio_stem(call_id)
    return join(root, REDACTED_AUDIO, f"{PARTITION}={call_date}", f"{stem}.{key}.flac")
