"""The warehouse: Parquet datasets partitioned by ``call_date``, every schema in this module.

Layout (readable as-is by pyarrow, DuckDB, pandas, Spark, Trino)::

    WAREHOUSE/calls/call_date=2026-11-20/part-0.parquet
    WAREHOUSE/utterances/…  findings/…  scores/…  queue/…  quarantine/…
    WAREHOUSE/_cache/asr/ab/<key>.json     transcripts by (audio hash, model, options)
    WAREHOUSE/_redacted_audio/call_date=2026-11-20/<call>.<hash>.<key>.flac
                                           audio with the redacted spans covered

Writes are idempotent and atomic: a partition is read, the rows being written replace
the rows with the same key, and the result goes to a temporary file renamed into
place. Re-running a night leaves no duplicates, and a crash leaves the old file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.errors import WarehouseError

SCHEMA_VERSION = "1"
PARTITION = "call_date"

_word = pa.struct(
    [
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("text", pa.string()),
        ("probability", pa.float32()),
    ]
)
_evidence = pa.struct(
    [
        ("speaker", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("text", pa.string()),
        ("rule", pa.string()),
    ]
)
_span = pa.struct([("start_s", pa.float64()), ("end_s", pa.float64())])
_redaction = pa.struct([("kind", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64())])
_named_span = pa.struct(
    [("metric", pa.string()), ("start_s", pa.float64()), ("end_s", pa.float64())]
)

METRIC_COLUMNS = (
    "handle_s",
    "talk_s",
    "talk_agent_s",
    "talk_customer_s",
    "talk_ratio_agent",
    "silence_s",
    "dead_air_s",
    "longest_dead_air_s",
    "dead_air_count",
    "hold_count",
    "hold_s",
    "longest_hold_s",
    "overtalk_s",
    "overtalk_count",
    "interruptions_agent",
    "interruptions_customer",
    "wpm_agent",
    "wpm_customer",
    "customer_agitation_max",
)
"""Audio metrics stored in ``calls`` (see :mod:`pipeline.metrics`); NaN where not measurable."""


def _schema(name: str, fields: list[tuple[str, pa.DataType]]) -> pa.Schema:
    return pa.schema(
        fields, metadata={"earmark.table": name, "earmark.schema_version": SCHEMA_VERSION}
    )


SCHEMAS: dict[str, pa.Schema] = {
    "calls": _schema(
        "calls",
        [
            ("call_id", pa.string()),
            ("source_path", pa.string()),
            ("audio_sha256", pa.string()),
            ("size_bytes", pa.int64()),
            ("duration_s", pa.float64()),
            ("channels", pa.int16()),
            ("sample_rate", pa.int32()),
            ("codec", pa.string()),
            ("language", pa.string()),
            ("language_probability", pa.float64()),
            ("agent_id", pa.string()),
            ("team_id", pa.string()),
            ("started_at", pa.string()),
            ("direction", pa.string()),
            ("customer_id", pa.string()),
            ("metadata", pa.map_(pa.string(), pa.string())),
            ("status", pa.string()),
            ("asr_model", pa.string()),
            ("asr_confidence", pa.float64()),
            ("speech_s", pa.float64()),
            ("dropped_segments", pa.list_(pa.string())),
            *[(name, pa.float64()) for name in METRIC_COLUMNS],
            ("metric_spans", pa.list_(_named_span)),
            ("redactions", pa.list_(_redaction)),
            ("repeat_contacts", pa.int32()),
        ],
    ),
    "utterances": _schema(
        "utterances",
        [
            ("call_id", pa.string()),
            ("idx", pa.int32()),
            ("speaker", pa.string()),
            ("channel", pa.int16()),
            ("start_s", pa.float64()),
            ("end_s", pa.float64()),
            ("text", pa.string()),
            ("confidence", pa.float64()),
            ("words", pa.list_(_word)),
        ],
    ),
    "findings": _schema(
        "findings",
        [
            ("call_id", pa.string()),
            ("rubric_id", pa.string()),
            ("rubric_version", pa.int32()),
            ("item_id", pa.string()),
            ("item_version", pa.int32()),
            ("title", pa.string()),
            ("detected", pa.bool_()),
            ("outcome", pa.string()),
            ("confidence", pa.float64()),
            ("weight", pa.float64()),
            ("critical", pa.bool_()),
            ("flag", pa.bool_()),
            ("evidence", pa.list_(_evidence)),
        ],
    ),
    "scores": _schema(
        "scores",
        [
            ("call_id", pa.string()),
            ("rubric_id", pa.string()),
            ("rubric_version", pa.int32()),
            ("score", pa.float64()),
            ("critical_failed", pa.bool_()),
            ("needs_review", pa.bool_()),
            ("reasons", pa.list_(pa.string())),
            ("priority", pa.float64()),
        ],
    ),
    "queue": _schema(
        "queue",
        [
            ("inspector", pa.string()),
            ("date", pa.string()),
            ("rank", pa.int32()),
            ("call_id", pa.string()),
            ("kind", pa.string()),
            ("priority", pa.float64()),
            ("reasons", pa.list_(pa.string())),
            ("plan", pa.list_(_span)),
            ("plan_s", pa.float64()),
            ("agent_id", pa.string()),
            ("team_id", pa.string()),
        ],
    ),
    "quarantine": _schema(
        "quarantine",
        [
            ("source_path", pa.string()),
            ("call_id", pa.string()),
            ("audio_sha256", pa.string()),
            ("error_code", pa.string()),
            ("reason", pa.string()),
        ],
    ),
}

KEYS: dict[str, tuple[str, ...]] = {
    "calls": ("call_id",),
    "utterances": ("call_id",),
    "findings": ("call_id", "rubric_id", "rubric_version"),
    "scores": ("call_id", "rubric_id", "rubric_version"),
    "queue": (),
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
    "quarantine": [("source_path", "ascending")],
}


def partition_path(root: str | Path, table: str, call_date: str) -> Path:
    return Path(root) / table / f"{PARTITION}={call_date}" / "part-0.parquet"


def upsert(
    root: str | Path, table: str, rows_by_date: Mapping[str, Sequence[Mapping[str, Any]]]
) -> int:
    """Write rows into their ``call_date`` partitions, replacing rows with the same key.

    Parameters
    ----------
    root
        Warehouse folder.
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
        path = partition_path(root, table, call_date)
        old = read_partition(path, schema)
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
        _atomic_write(merged, path)
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


def read_partition(path: Path, schema: pa.Schema) -> pa.Table | None:
    if not path.exists():
        return None
    try:
        return pq.read_table(path, schema=schema)
    except (pa.ArrowInvalid, OSError) as exc:
        raise WarehouseError(f"{path}: unreadable partition ({exc})", code="W002") from exc


def _atomic_write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_table(
    root: str | Path, table: str, *, call_dates: Iterable[str] | None = None
) -> pa.Table:
    """Read a whole table (or some partitions) with its schema and the ``call_date`` column."""
    schema = SCHEMAS[table]
    dates = sorted(call_dates) if call_dates is not None else partition_dates(root, table)
    parts = []
    for d in dates:
        t = read_partition(partition_path(root, table, d), schema)
        if t is not None:
            parts.append(t.append_column(PARTITION, pa.array([d] * t.num_rows, pa.string())))
    full = schema.append(pa.field(PARTITION, pa.string()))
    return pa.concat_tables(parts) if parts else full.empty_table()


def partition_dates(root: str | Path, table: str) -> list[str]:
    """The ``call_date`` partitions a table holds, in order."""
    base = Path(root) / table
    if not base.exists():
        return []
    return sorted(
        p.name.split("=", 1)[1] for p in base.iterdir() if p.name.startswith(f"{PARTITION}=")
    )


# ---------------------------------------------------------------- transcript cache


def cache_path(root: str | Path, key: str) -> Path:
    return Path(root) / "_cache" / "asr" / key[:2] / f"{key}.json"


def read_cached(root: str | Path, key: str) -> dict[str, Any] | None:
    path = cache_path(root, key)
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # a damaged entry is recomputed, not trusted


def write_cached(root: str | Path, key: str, payload: Mapping[str, Any]) -> None:
    path = cache_path(root, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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


def redacted_audio_path(root: str | Path, call_date: str, call_id: str, key: str) -> Path:
    """Where the redacted copy of a call's audio lives (``key``: what it covers, see
    :func:`pipeline.redact_audio.copy_key`)."""
    stem = redacted_audio_stem(call_id)
    return Path(root) / REDACTED_AUDIO / f"{PARTITION}={call_date}" / f"{stem}.{key}.flac"


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write a file to; on success it is synced and
    renamed onto ``path``, on any error removed, so ``path`` is never seen half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def night_lock(root: str | Path) -> Iterator[None]:
    """Hold the warehouse's write lock; a second night on the same warehouse is refused."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    lock = root / ".earmark.lock"
    with open(lock, "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise WarehouseError(
                f"{root}: another earmark run ({holder}) is writing this warehouse; "
                "wait for it to finish or point --warehouse elsewhere",
                code="W001",
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
