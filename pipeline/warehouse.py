"""The warehouse: Parquet datasets partitioned by ``call_date``, every schema in this module.

Layout (readable as-is by pyarrow, DuckDB, pandas, Spark, Trino)::

    WAREHOUSE/calls/call_date=2026-11-20/part-0.parquet
    WAREHOUSE/utterances/…  findings/…  scores/…  queue/…  quarantine/…
    WAREHOUSE/_cache/asr/ab/<key>.json     transcripts by (audio hash, model, options)
    WAREHOUSE/_redacted_audio/call_date=2026-11-20/<call>.<hash>.<key>.flac
                                           audio with the redacted spans covered

WAREHOUSE is a folder or any fsspec URL (``s3://bucket/earmark``, ``gs://…``): every
read and write goes through :func:`storage`, so a cluster's machines share one warehouse.

Writes are idempotent and atomic: a partition is read, the rows being written replace
the rows with the same key, and the result goes to a temporary file renamed into
place (or uploaded whole, on an object store). Re-running a night leaves no
duplicates, and a crash leaves the old file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import posixpath
import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from pipeline.errors import WarehouseError
from pipeline.types import IndexEntry

log = logging.getLogger(__name__)

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
_plan_span = pa.struct([("start_s", pa.float64()), ("end_s", pa.float64()), ("kind", pa.string())])
"""A stretch of a listening plan: ``kind`` is ``hear`` or ``read`` (see pipeline.queue)."""
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
    # the customer's sentiment, from the meaning vectors (see pipeline.meaning)
    "sentiment_start",
    "sentiment_end",
    "sentiment_min",
    "sentiment_change",
)
"""Metrics stored in ``calls``: audio (see :mod:`pipeline.metrics`) and the customer's
sentiment (see :mod:`pipeline.meaning`); NaN where not measurable."""


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
            ("status_reason", pa.string()),
            ("call_type", pa.string()),
            ("rubric_id", pa.string()),
            ("asr_model", pa.string()),
            ("asr_confidence", pa.float64()),
            ("speech_s", pa.float64()),
            ("dropped_segments", pa.list_(pa.string())),
            *[(name, pa.float64()) for name in METRIC_COLUMNS],
            ("metric_spans", pa.list_(_named_span)),
            ("redactions", pa.list_(_redaction)),
            ("repeat_contacts", pa.int32()),
            ("embed_model", pa.string()),
            ("decode_warnings", pa.int32()),
            ("metadata_issues", pa.list_(pa.string())),
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
            ("vector", pa.binary()),
            ("sentiment", pa.float64()),
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
            ("plan", pa.list_(_plan_span)),
            ("plan_s", pa.float64()),
            ("cost_s", pa.float64()),
            ("agent_id", pa.string()),
            ("team_id", pa.string()),
        ],
    ),
    "call_reasons": _schema(
        "call_reasons",
        [
            ("call_id", pa.string()),
            ("reason_id", pa.string()),
            ("similarity", pa.float64()),
            ("opened", pa.bool_()),
            ("language", pa.string()),
            ("text", pa.string()),
            ("start_s", pa.float64()),
            ("end_s", pa.float64()),
            ("vector", pa.binary()),
            ("repeat_of", pa.string()),
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

INDEX_SCHEMA = _schema(
    "file_index",
    [
        ("archive", pa.string()),
        ("source_path", pa.string()),
        ("size_bytes", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("audio_sha256", pa.string()),
        ("call_id", pa.string()),
        ("call_date", pa.string()),
        ("status", pa.string()),
    ],
)
"""The file index (:class:`pipeline.types.IndexEntry`): one file, not partitioned, at
``WAREHOUSE/file_index/part-0.parquet``; see :mod:`pipeline.file_index`."""

_example = pa.struct(
    [
        ("call_id", pa.string()),
        ("call_date", pa.string()),
        ("language", pa.string()),
        ("text", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("similarity", pa.float64()),
        ("vector", pa.binary()),
    ]
)
REASONS_SCHEMA = _schema(
    "contact_reasons",
    [
        ("reason_id", pa.string()),
        ("label", pa.string()),
        ("languages", pa.list_(pa.string())),
        ("language_counts", pa.map_(pa.string(), pa.int64())),
        ("n_calls", pa.int64()),
        ("centroid", pa.binary()),
        ("created", pa.string()),
        ("last_seen", pa.string()),
        ("examples", pa.list_(_example)),
    ],
)
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


def storage(root: str | os.PathLike[str]) -> tuple[AbstractFileSystem, str]:
    """The fsspec file system a warehouse (or one of its files) is on, and its path there.

    A plain path is the local disk; ``s3://bucket/prefix``, ``gs://bucket/prefix`` and any
    other fsspec URL work once its package is installed (``s3fs`` ships with earmark).
    Credentials and endpoints come from the usual places: ``AWS_*`` variables (including
    ``AWS_ENDPOINT_URL`` for MinIO and other S3-compatible stores), ``~/.aws``, or
    ``FSSPEC_S3_*`` variables; so Dask workers started with the same environment reach
    the same warehouse.

    Raises
    ------
    WarehouseError
        ``W003`` for an unknown protocol or one whose package is not installed.
    """
    url = os.fspath(root)
    try:
        return url_to_fs(url)  # type: ignore[no-any-return]
    except (ImportError, ValueError) as exc:
        raise WarehouseError(f"{url}: cannot open this warehouse ({exc})", code="W003") from exc


def check_reachable(root: str | os.PathLike[str]) -> None:
    """Refuse a remote warehouse that cannot be reached, before any work starts (a local
    folder is created when first written).

    Raises
    ------
    WarehouseError
        ``W003`` (see :func:`storage`); ``W004`` when its bucket does not exist or
        cannot be reached (no credentials, no network, a wrong endpoint).
    """
    fs, path = storage(root)
    if isinstance(fs, LocalFileSystem):
        return
    bucket = path.split("/", 1)[0]
    try:
        fs.invalidate_cache(bucket)
        fs.info(bucket)
    except FileNotFoundError as exc:
        raise _unwritable(os.fspath(root), exc, f"no bucket {bucket!r}") from exc
    except Exception as exc:
        raise _unwritable(os.fspath(root), exc, "cannot reach the warehouse") from exc


def is_local(root: str | os.PathLike[str]) -> bool:
    """Whether the warehouse is a folder on this machine's disk."""
    return isinstance(storage(root)[0], LocalFileSystem)


def absolute(root: str | os.PathLike[str]) -> str:
    """``root`` with a local path made absolute (for a deployment or a server); URLs as given."""
    fs, path = storage(root)
    return str(Path(path).resolve()) if isinstance(fs, LocalFileSystem) else os.fspath(root)


def join(root: str | os.PathLike[str], *parts: str) -> str:
    """A location inside the warehouse: ``root/part/…`` (``root`` may be a URL)."""
    return "/".join([os.fspath(root).rstrip("/"), *parts])


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
        raise WarehouseError(
            f"{location}: unreadable partition ({exc}). The night stops here rather than "
            "overwrite it: move it aside (restore it from a backup if there is one) and run "
            "again; the calls of the archive are rewritten from the transcript cache",
            code="W002",
        ) from exc


def read_bytes(location: str) -> bytes | None:
    """A file's bytes, or ``None`` when there is none."""
    fs, path = storage(location)
    try:
        return fs.cat_file(path)  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None


def open_input(location: str) -> IO[bytes]:
    """A file of the warehouse opened for reading (seekable; remote files are read in
    small ranges, so reading a header does not fetch the whole object)."""
    fs, path = storage(location)
    if isinstance(fs, LocalFileSystem):
        return fs.open(path, "rb")  # type: ignore[no-any-return]
    return fs.open(path, "rb", block_size=64 * 1024, cache_type="bytes")  # type: ignore[no-any-return]


def stamp(location: str) -> tuple[str, int] | None:
    """What changes when a file is rewritten (its mtime or ETag, and size); ``None`` if absent."""
    fs, path = storage(location)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return None
    return _version(info), int(info.get("size") or 0)


def _version(info: Mapping[str, Any]) -> str:
    """What identifies one version of a file in an fsspec ``info``: its ETag on an object
    store, its mtime on a disk."""
    return str(info.get("ETag") or info.get("mtime") or info.get("LastModified") or "")


def list_names(folder: str) -> list[str]:
    """The names of the files in a warehouse folder (``[]`` if it does not exist), sorted."""
    fs, path = storage(folder)
    fs.invalidate_cache(path)  # other processes (Dask workers, other nights) write here too
    try:
        entries = fs.ls(path, detail=False)
    except FileNotFoundError:
        return []
    return sorted(posixpath.basename(str(e).rstrip("/")) for e in entries)


def remove(location: str) -> None:
    """Delete a file of the warehouse (nothing if it is already gone)."""
    fs, path = storage(location)
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(path)


def fetch(location: str, dest: Path | None) -> Path:
    """A local file with the bytes of ``location``: the file itself when the warehouse is
    local, else a download to ``dest`` (skipped when ``dest`` exists: callers name it by
    content, as the redacted copies are named)."""
    fs, path = storage(location)
    if isinstance(fs, LocalFileSystem):
        return Path(path)
    if dest is None:
        raise ValueError(f"{location}: a remote file needs a local destination")
    if not dest.is_file():
        with atomic_path(dest) as tmp:
            fs.get_file(path, str(tmp))
    return dest


@contextlib.contextmanager
def atomic_path(location: str | os.PathLike[str]) -> Iterator[Path]:
    """A local temporary file to write ``location`` through, so it is never seen half-written.

    On success the file is synced and renamed onto ``location`` (local warehouse) or
    uploaded to it (object stores publish an object whole or not at all); on any error
    it is removed and ``location`` keeps its old content.

    Raises
    ------
    WarehouseError
        ``W006`` when the disk is full, ``W004`` when the warehouse is read-only or not
        writable by this user: the message names the file; nothing was changed.
    """
    fs, path = storage(location)
    local = isinstance(fs, LocalFileSystem)
    folder = Path(path).parent if local else None
    tmp = ""
    try:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=posixpath.splitext(path)[1], dir=folder)
        os.close(fd)
        yield Path(tmp)
        if local:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        else:
            fs.put_file(tmp, path)
    except OSError as exc:
        coded = write_error(os.fspath(location), exc)
        if coded is exc:
            raise
        raise coded from exc
    finally:
        if tmp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def write_error(location: str, exc: OSError) -> OSError | WarehouseError:
    """The coded error for a failed warehouse write (a full disk, a read-only warehouse),
    or ``exc`` itself for any other failure."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return WarehouseError(
            f"{location}: no space left on the device; the file was not changed "
            "(its previous version is intact). Free some space and run again: "
            "finished transcripts are cached and not redone",
            code="W006",
        )
    if exc.errno in _READ_ONLY:
        return WarehouseError(
            f"{location}: the warehouse is read-only or not writable by this user "
            f"({os.strerror(exc.errno or 0)}); nothing was changed. "
            "Make it writable or point --warehouse elsewhere",
            code="W004",
        )
    return exc


# ---------------------------------------------------------------- tables


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


# ---------------------------------------------------------------- file index

INDEX = "file_index"


def index_path(root: str | os.PathLike[str]) -> str:
    return join(root, INDEX, "part-0.parquet")


def read_index(root: str | os.PathLike[str]) -> list[IndexEntry]:
    """The warehouse's file index (empty before the first night).

    Raises
    ------
    WarehouseError
        ``W002`` when the index file is unreadable.
    """
    table = read_parquet(index_path(root), schema=INDEX_SCHEMA)
    if table is None:
        return []
    columns = [table.column(name).to_pylist() for name in INDEX_SCHEMA.names]
    for name in ("archive", "call_date", "status"):  # few values, each held once
        at = INDEX_SCHEMA.names.index(name)
        columns[at] = [sys.intern(v) for v in columns[at]]
    return [IndexEntry(*values) for values in zip(*columns, strict=True)]


def write_index(root: str | os.PathLike[str], entries: Iterable[IndexEntry]) -> None:
    """Replace the file index, atomically (sorted by archive and path)."""
    ordered = sorted(entries, key=lambda e: (e.archive, e.source_path))
    table = pa.Table.from_pydict(  # by column: a million entries in about a second
        {name: [getattr(e, name) for e in ordered] for name in INDEX_SCHEMA.names},
        schema=INDEX_SCHEMA,
    )
    with atomic_path(index_path(root)) as tmp:
        pq.write_table(table, tmp, compression="zstd")


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
        super().__init__(f"{location}: damaged cache entry, {problem}", code="W008")
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


# ---------------------------------------------------------------- the night's lock

LOCK_NAME = ".earmark.lock"
LEASE_S = 15 * 60.0
"""On an object store, a lock not renewed for this long is abandoned (its night died) and
the next night takes it over; a live night renews it five times per lease."""


@contextlib.contextmanager
def night_lock(root: str | os.PathLike[str], *, lease_s: float = LEASE_S) -> Iterator[None]:
    """Hold the warehouse's write lock; a second night on the same warehouse is refused.

    On a local disk this is ``flock`` on ``WAREHOUSE/.earmark.lock``, released by the
    kernel if the process dies. On an object store it is that object, created only if it
    does not exist (S3's conditional ``If-None-Match`` put), renewed while the night runs
    and deleted at its end; one left by a killed night is taken over after ``lease_s``.

    Raises
    ------
    WarehouseError
        ``W001`` while another run holds the lock; ``W004`` when the warehouse cannot be
        written; ``W005`` at the end of a night whose object lock lapsed or was taken over.
    """
    fs, path = storage(root)
    if isinstance(fs, LocalFileSystem):
        with _file_lock(os.fspath(root), Path(path)):
            yield
    else:
        with _object_lock(os.fspath(root), fs, posixpath.join(path, LOCK_NAME), lease_s):
            yield


def _busy(root: str, holder: str) -> WarehouseError:
    return WarehouseError(
        f"{root}: another earmark run ({holder}) is writing this warehouse; "
        "wait for it to finish or point --warehouse elsewhere",
        code="W001",
    )


def _unwritable(
    root: str, exc: BaseException, what: str = "cannot write the warehouse"
) -> WarehouseError:
    return WarehouseError(f"{root}: {what} ({type(exc).__name__}: {exc})", code="W004")


@contextlib.contextmanager
def _file_lock(root: str, folder: Path) -> Iterator[None]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        f = open(folder / LOCK_NAME, "a+")  # noqa: SIM115 (held open for the whole night)
    except OSError as exc:
        coded = write_error(root, exc)
        raise (coded if isinstance(coded, WarehouseError) else _unwritable(root, exc)) from exc
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise _busy(root, f.read().strip() or "another process") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        _probe_writable(root, folder)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _probe_writable(root: str, folder: Path) -> None:
    """Refuse a read-only warehouse before the night spends hours on ASR, not at its end
    (an existing lock file can stay writable in a folder where nothing can be created)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        coded = write_error(root, exc)
        raise (coded if isinstance(coded, WarehouseError) else _unwritable(root, exc)) from exc


@contextlib.contextmanager
def _object_lock(root: str, fs: AbstractFileSystem, path: str, lease_s: float) -> Iterator[None]:
    """The lease lock of an object store. Every change is conditional on S3: created only
    if absent (``If-None-Match``), taken over, renewed and deleted only if it is still
    the version read (``If-Match`` on its ETag), so two nights never both hold it."""
    holder = f"{socket.gethostname()} pid {os.getpid()}"
    # The lease is wall-clock time (other machines read it), but measured here from one
    # wall-clock reading plus the monotonic clock: a jump of this machine's clock during
    # the night neither shortens the lease (others would take a live lock) nor stretches
    # it (a dead night would keep it).
    wall0, mono0 = wall_clock(), time.monotonic()

    def body() -> bytes:
        now = wall0 + (time.monotonic() - mono0)
        lease = {"holder": holder, "expires": now + lease_s, "lease_s": lease_s}
        return json.dumps(lease).encode()

    etag = _acquire(root, fs, path, body)
    stop, lost = threading.Event(), threading.Event()

    def renew() -> None:
        nonlocal etag
        failing_since = time.monotonic()
        while not stop.wait(lease_s / 5):
            try:
                etag = _put_if(fs, path, body(), etag)
                failing_since = time.monotonic()
            except _Conflict:
                lost.set()
                log.error("%s: this night's lock was taken over by another run", root)
                return
            except Exception as exc:  # a blip: the lease outlasts several renewals
                log.warning("%s: could not renew the lock (%s)", root, exc)
                if time.monotonic() - failing_since > lease_s:
                    lost.set()
                    return

    renewer = threading.Thread(target=renew, name="earmark-lock", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join(timeout=60)
        if not lost.is_set():
            try:
                _delete_if(fs, path, etag)
            except Exception as exc:  # the lease lapses by itself; the night's result stands
                log.warning(
                    "%s: could not release the lock (%s); it lapses in %.0f s", root, exc, lease_s
                )
    if lost.is_set():
        raise WarehouseError(
            f"{root}: this night lost its lock (not renewed for {lease_s:.0f} s or taken over); "
            "another run may have written the warehouse meanwhile: run the night again",
            code="W005",
        )


class _Conflict(Exception):
    """The lock object is not the version this run read (another run changed it)."""


def _acquire(root: str, fs: AbstractFileSystem, path: str, body: Callable[[], bytes]) -> str:
    """Create the lock, or take over an abandoned one; returns the lock's ETag."""
    for _ in range(5):
        try:
            try:
                return _put_if(fs, path, body(), None)
            except _Conflict:
                held, etag = _read_lock(fs, path)
            if held is None:
                continue  # released meanwhile
            expires, lease = _lease_of(held)
            now = wall_clock()
            until = time.strftime("%H:%M:%S UTC", time.gmtime(min(expires, 2**31)))
            if now < expires <= now + 1.5 * lease:
                raise _busy(root, f"{held.get('holder', '?')}, lease renewed until {until}")
            if (expires > now or now - expires < lease) and _renewed(fs, path, etag, lease):
                # expired a moment ago or implausibly far ahead: a clock jumped (ours or
                # the holder's). Renewed while watched: the night is alive.
                raise _busy(root, f"{held.get('holder', '?')}, renewing its lease")
            log.warning("%s: taking over the lock of %s, abandoned", root, held.get("holder"))
            try:
                return _put_if(fs, path, body(), etag)
            except _Conflict:
                continue  # another run took it over first
        except WarehouseError:
            raise
        except Exception as exc:  # no bucket, no credentials, no network: say which
            raise _unwritable(root, exc) from exc
    raise _busy(root, "several runs starting at once")


wall_clock: Callable[[], float] = time.time
"""The wall clock the lease lock reads (a test moves it to simulate a clock jump)."""


def _lease_of(held: Mapping[str, Any]) -> tuple[float, float]:
    """A lock's expiry time and lease length (older locks have no length: the default)."""
    try:
        expires = float(held.get("expires") or 0.0)
        lease = float(held.get("lease_s") or LEASE_S)
    except (TypeError, ValueError):
        return 0.0, LEASE_S
    return expires, min(max(lease, 0.05), LEASE_S)


def _renewed(fs: AbstractFileSystem, path: str, etag: str, lease: float) -> bool:
    """Whether the lock changes within 1.5 renewal intervals (a live night renews it five
    times per lease), timed by the monotonic clock, which no clock jump moves."""
    deadline = time.monotonic() + 1.5 * lease / 5
    while time.monotonic() < deadline:
        time.sleep(min(0.05 * lease, 1.0))
        try:
            if _etag(fs, path) != etag:
                return True
        except FileNotFoundError:
            return False  # released: the caller's conditional takeover fails, then creates it
    return False


def _conditional(fs: AbstractFileSystem) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return any(p in ("s3", "s3a") for p in protocols)


def _is_conflict(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc.__context__
    code = (getattr(cause, "response", None) or {}).get("Error", {}).get("Code")
    return isinstance(exc, FileExistsError) or code in (
        "PreconditionFailed",
        "ConditionalRequestConflict",
    )


def _put_if(fs: AbstractFileSystem, path: str, data: bytes, etag: str | None) -> str:
    """Write the lock only if absent (``etag`` None) or still at ``etag``; its new ETag.

    Raises
    ------
    _Conflict
        When it exists (creating) or changed (replacing).
    """
    try:
        if etag is None:
            fs.pipe_file(path, data, mode="create")
        elif _conditional(fs):
            fs.pipe_file(path, data, IfMatch=etag)
        else:  # a store without conditional writes: read, compare, write
            if _read_lock(fs, path)[1] != etag:
                raise _Conflict
            fs.pipe_file(path, data)
    except _Conflict:
        raise
    except Exception as exc:
        if _is_conflict(exc):
            raise _Conflict from exc
        raise
    return _etag(fs, path)


def _delete_if(fs: AbstractFileSystem, path: str, etag: str) -> None:
    bucket, _, key = path.partition("/")
    if _conditional(fs):
        try:
            fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=etag)
        except Exception as exc:
            if not _is_conflict(exc):
                raise
        fs.invalidate_cache(path)
    elif _read_lock(fs, path)[1] == etag:
        fs.rm_file(path)


def _etag(fs: AbstractFileSystem, path: str) -> str:
    fs.invalidate_cache(path)
    return _version(fs.info(path))


def _read_lock(fs: AbstractFileSystem, path: str) -> tuple[dict[str, Any] | None, str]:
    """The lock's content and ETag; ``(None, "")`` when there is none. A damaged one
    reads as abandoned."""
    try:
        etag = _etag(fs, path)
        raw = fs.cat_file(path)
    except FileNotFoundError:
        return None, ""
    try:
        held = json.loads(raw)
    except ValueError:
        held = None
    if not isinstance(held, dict):
        held = {"holder": "a damaged lock", "expires": 0.0}
    return held, etag
