"""The file index: what the warehouse already holds of the archive, so a night costs
what changed in it, not what it holds.

Each archive file the warehouse knows is an :class:`~pipeline.types.IndexEntry`
(archive root, path, size, mtime, sha256, call id, call date, status). A night:

1. lists the archive in chunks (one ``stat`` per file,
   :class:`pipeline.archive.ArchiveScan`);
2. :func:`plan_changes` compares each chunk with the index: a file at a known path with
   the same size and mtime is unchanged and not read; any other file in the selected
   dates is to be hashed;
3. :func:`resolve_changes` hashes those: the same content at the same path (only the
   mtime changed) is *touched*; the content of a known call whose file is gone, found
   at a new path, is *moved* (the call keeps its id and rows, only its path changes);
   anything else is a recording to process;
4. after the tables are written, :func:`apply_night` records the outcome; files gone
   from the archive are marked ``vanished`` (their rows stay; a quarantined file that
   vanished leaves the index, as nothing was stored for it).

The index is held as columns (:class:`FileIndex`, an Arrow table), the listing one
chunk at a time, and only the entries a night changes or looks at (the hashed files'
paths, contents and call ids, the vanished) become records: a night's memory does not
grow with the archive's size but by a few hundred bytes per indexed file. The Parquet
reading and writing is in :mod:`pipeline.warehouse` (``read_index`` / ``write_index``).
"""

from __future__ import annotations

import bisect
import dataclasses
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import warehouse as wh
from pipeline.archive import (
    ArchiveFile,
    ListedChunk,
    duplicate_id,
    path_order,
    read_recording,
    unreadable,
)
from pipeline.types import IndexEntry, QuarantineEntry, Recording

Key = tuple[str, str]
"""An index entry's key: (archive root, source path)."""


@dataclass(frozen=True, slots=True, eq=False)
class FileIndex:
    """The index in memory: a table of :data:`pipeline.warehouse.INDEX_SCHEMA`, sorted by
    archive and path. Columns, so holding it costs bytes per archive file, not records;
    the few entries a night looks at are read out as :class:`IndexEntry` records."""

    table: pa.Table

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileIndex) and self.table.equals(other.table)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and self.get(key) is not None

    def __getitem__(self, key: Key) -> IndexEntry:
        entry = self.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def get(self, key: Key) -> IndexEntry | None:
        """The entry of ``(archive, source_path)``, or ``None``."""
        found = self.matching("source_path", [key[1]], archive=key[0])
        return found[0] if found else None

    def values(self) -> Iterator[IndexEntry]:
        """Lazily yield every entry (an index of a large archive is better kept as it is)."""
        for batch in self.table.to_batches(max_chunksize=10_000):
            yield from wh.index_entries(pa.Table.from_batches([batch]))

    def matching(
        self, column: str, values: Iterable[str], *, archive: str | None = None
    ) -> list[IndexEntry]:
        """The entries whose ``column`` is one of ``values`` (of ``archive`` only, if given)."""
        mask = pc.is_in(self.table[column], value_set=pa.array(list(values), pa.string()))
        if archive is not None:
            mask = pc.and_(mask, pc.equal(self.table["archive"], archive))
        return wh.index_entries(self.table.filter(mask))

    def of_archive(self, root: str) -> pa.Table:
        """The rows of one archive root (the table itself, not a copy, when it holds no other)."""
        mine = pc.equal(self.table["archive"], root)
        return self.table if pc.all(mine).as_py() else self.table.filter(mine)


def index_of(entries: Iterable[IndexEntry]) -> FileIndex:
    """The in-memory index of some entries (tests, tools; a night reads the warehouse's
    with ``FileIndex(wh.read_index(warehouse))``)."""
    return FileIndex(wh.index_table(entries))


@dataclass(frozen=True, slots=True)
class DateRange:
    """Which call dates a run takes (ISO dates, both ends included; ``None``: open)."""

    first: str | None = None
    last: str | None = None

    def __contains__(self, date: object) -> bool:
        return isinstance(date, str) and (
            (self.first is None or date >= self.first) and (self.last is None or date <= self.last)
        )


@dataclass(frozen=True, slots=True)
class Changes:
    """How the archive differs from the index, known from ``stat`` alone."""

    todo: list[ArchiveFile]
    """New or changed files in the selected dates: to be hashed."""
    unchanged: int
    """Files the index holds with the same size and mtime: not read."""
    vanished: list[IndexEntry]
    """Known files of this archive no longer in it (newly gone)."""
    outside: int = 0
    """New or changed files whose date is outside the selected dates (left for later)."""
    vanished_paths: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vanished_paths", frozenset(v.source_path for v in self.vanished))

    def gone(self, entry: IndexEntry, root: str) -> bool:
        """Whether ``entry``'s file is no longer where the index saw it: vanished before,
        or now (this archive), or missing on disk (another archive root)."""
        if entry.status == "vanished":
            return True
        if entry.archive == root:
            return entry.source_path in self.vanished_paths
        return not (Path(entry.archive) / entry.source_path).exists()


Describe = Callable[[str, int, int], ArchiveFile]
"""Describe a listed file from its path, size and mtime
(:meth:`pipeline.archive.ArchiveScan.describe`)."""


def plan_changes(
    root: str,
    chunks: Iterable[ListedChunk],
    index: FileIndex,
    *,
    describe: Describe,
    dates: DateRange = DateRange(),
    also: Collection[str] = (),
) -> Changes:
    """Compare a listing of archive ``root``, chunk by chunk, with the index, reading no file.

    Parameters
    ----------
    root
        The archive root, absolute, as stored in :attr:`IndexEntry.archive`.
    chunks
        The archive's listing (:meth:`pipeline.archive.ArchiveScan.iter_chunks`), in
        chunks of any size and order: only one is held at a time.
    index
        The index (:class:`FileIndex`).
    describe
        Makes the :class:`ArchiveFile` of a listed file that is not unchanged.
    dates
        Only new or changed files with a call date in this range are to be hashed.
    also
        Other paths of the archive the index may hold (``metadata.csv``): not vanished.
    """
    known = index.of_archive(root)
    compare = _Compare(known)
    todo: list[ArchiveFile] = []
    outside = 0
    for chunk in chunks:
        for at in compare.changed(chunk):
            f = describe(chunk.source_paths[at], chunk.sizes[at], chunk.mtimes_ns[at])
            if f.call_date in dates:
                todo.append(f)
            else:
                outside += 1
    todo.sort(key=lambda f: path_order(f.source_path))
    gone = known.filter(pa.array(compare.unseen(also)))
    return Changes(todo, compare.unchanged, wh.index_entries(gone), outside)


class _Compare:
    """The listing compared with one archive's index rows, chunk after chunk: the rows
    seen so far, and how many listed files were unchanged."""

    def __init__(self, known: pa.Table) -> None:
        self.paths = known["source_path"].combine_chunks()
        self.sizes = known["size_bytes"].to_numpy()
        self.mtimes = known["mtime_ns"].to_numpy()
        self.live = pc.not_equal(known["status"], "vanished").to_numpy(zero_copy_only=False)
        self.seen = np.zeros(known.num_rows, dtype=bool)
        self.unchanged = 0

    def changed(self, chunk: ListedChunk) -> list[int]:
        """Positions in ``chunk`` of the files that are new or changed."""
        if not len(self.paths):
            return list(range(len(chunk.source_paths)))
        at = pc.index_in(pa.array(chunk.source_paths, pa.string()), value_set=self.paths)
        hit = at.is_valid().to_numpy(zero_copy_only=False)
        row = at.fill_null(0).to_numpy()
        self.seen[row[hit]] = True
        same = (
            hit
            & self.live[row]
            & (self.sizes[row] == np.asarray(chunk.sizes, dtype=np.int64))
            & (self.mtimes[row] == np.asarray(chunk.mtimes_ns, dtype=np.int64))
        )
        self.unchanged += int(same.sum())
        return np.flatnonzero(~same).tolist()

    def unseen(self, also: Collection[str]) -> np.ndarray:
        """Live rows not listed (nor in ``also``): the newly vanished."""
        other = pc.is_in(self.paths, value_set=pa.array(list(also), pa.string()))
        unseen: np.ndarray = self.live & ~self.seen & ~other.to_numpy(zero_copy_only=False)
        return unseen


@dataclass(frozen=True, slots=True)
class Resolved:
    """What the hashed files are."""

    recordings: list[Recording]
    """New content: to be processed."""
    moved: list[tuple[IndexEntry, IndexEntry]] = field(default_factory=list)
    """(before, after): a known call at a new path; nothing to process."""
    touched: list[IndexEntry] = field(default_factory=list)
    """Same content at the same path, new mtime: nothing to process."""
    quarantined: list[QuarantineEntry] = field(default_factory=list)
    """Unreadable files and duplicate call ids."""
    refused: list[IndexEntry] = field(default_factory=list)
    """Index entries of the duplicate ids (not hashed again until they change; an
    unreadable file is tried again every night)."""
    mtime_ns: dict[str, int] = field(default_factory=dict)
    """Each recording's mtime, by source path (for its index entry)."""
    hashed: int = 0


def resolve_changes(
    root: str,
    changes: Changes,
    index: FileIndex,
    *,
    todo: Sequence[ArchiveFile] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Resolved:
    """Hash the files to look at and tell new content from moved and touched files.

    Parameters
    ----------
    root, changes, index
        As for :func:`plan_changes`, whose result ``changes`` is.
    todo
        The files to hash (default: all of ``changes.todo``; a backfill passes one chunk).
    progress
        Called as ``progress(done, total)`` after each file hashed.

    Notes
    -----
    A move is the same size and sha256 as a known call (status ``ok`` or ``vanished``)
    whose file is no longer where the index saw it: gone from this archive's listing, or
    missing on disk for another archive root. A copy (the old file still there) is a new
    call. A call id already used by another file is refused (``I003``). Only the index
    entries these files could be are read out of the index.
    """
    files = changes.todo if todo is None else todo
    out = Resolved(recordings=[])
    hashed: list[tuple[ArchiveFile, Recording]] = []
    for n, f in enumerate(files, 1):
        try:
            hashed.append((f, read_recording(f)))
        except OSError as exc:
            out.quarantined.append(unreadable(f, exc, root=root))
        finally:
            if progress:
                progress(n, len(files))
    known = {e.source_path: e for e in index.matching("source_path", _paths(hashed), archive=root)}
    movable = _movable(root, changes, index, [rec for _, rec in hashed])
    taken = {  # ids of the calls whose files are still there (earlier chunks included)
        e.call_id: e.source_path
        for e in index.matching("call_id", {rec.call_id for _, rec in hashed}, archive=root)
        if e.status == "ok" and not changes.gone(e, root)
    }
    for f, rec in hashed:
        _resolve(root, f, rec, known.get(f.source_path), movable, taken, out)
    return dataclasses.replace(out, hashed=len(files))


def _paths(hashed: Iterable[tuple[ArchiveFile, Recording]]) -> list[str]:
    return [f.source_path for f, _ in hashed]


def _movable(
    root: str, changes: Changes, index: FileIndex, recordings: Sequence[Recording]
) -> dict[tuple[int, str], list[IndexEntry]]:
    """Known calls with the content of one of ``recordings`` whose file is gone, by
    (size, sha256), in index order."""
    movable: dict[tuple[int, str], list[IndexEntry]] = defaultdict(list)
    for e in index.matching("audio_sha256", {rec.audio_sha256 for rec in recordings}):
        if e.status != "quarantined" and changes.gone(e, root):
            movable[(e.size_bytes, e.audio_sha256)].append(e)
    return movable


def _resolve(
    root: str,
    f: ArchiveFile,
    rec: Recording,
    known: IndexEntry | None,
    movable: dict[tuple[int, str], list[IndexEntry]],
    taken: dict[str, str],
    out: Resolved,
) -> None:
    """Record what one hashed file is: touched, moved, a duplicate id, or new."""
    if known is not None and known.audio_sha256 == rec.audio_sha256 and known.status != "vanished":
        out.touched.append(dataclasses.replace(known, mtime_ns=f.mtime_ns))
        return
    before = movable.get((rec.size_bytes, rec.audio_sha256))
    if before:
        old = before.pop(0)
        after = dataclasses.replace(
            old, archive=root, source_path=f.source_path, mtime_ns=f.mtime_ns, status="ok"
        )
        out.moved.append((old, after))
        taken[old.call_id] = f.source_path
        return
    if rec.call_id in taken and taken[rec.call_id] != rec.source_path:
        out.quarantined.append(duplicate_id(rec, taken[rec.call_id]))
        out.refused.append(entry_for(root, rec, mtime_ns=f.mtime_ns, status="quarantined"))
        return
    taken[rec.call_id] = rec.source_path
    out.recordings.append(rec)
    out.mtime_ns[rec.source_path] = f.mtime_ns


def entry_for(root: str, rec: Recording, *, mtime_ns: int, status: str) -> IndexEntry:
    """The index entry of a processed (``ok``) or quarantined recording."""
    assert status in ("ok", "quarantined"), status
    return IndexEntry(
        archive=root,
        source_path=rec.source_path,
        size_bytes=rec.size_bytes,
        mtime_ns=mtime_ns,
        audio_sha256=rec.audio_sha256,
        call_id=rec.call_id,
        call_date=rec.call_date,
        status="ok" if status == "ok" else "quarantined",
    )


def apply_night(
    index: FileIndex,
    *,
    entries: Iterable[IndexEntry] = (),
    moved: Iterable[tuple[IndexEntry, IndexEntry]] = (),
    vanished: Iterable[IndexEntry] = (),
) -> FileIndex:
    """The index after a night (or one backfill chunk): a new index, ``index`` unchanged.

    ``entries`` are processed, quarantined and touched files; ``moved`` replace their old
    path; ``vanished`` ones are marked so (a quarantined one is dropped). Only the rows
    that change are made records; the others stay columns.
    """
    changed: dict[Key, IndexEntry | None] = {}  # None: the row goes
    for old, new in moved:
        changed[(old.archive, old.source_path)] = None
        changed[(new.archive, new.source_path)] = new
    for e in entries:
        changed[(e.archive, e.source_path)] = e
    vanished = list(vanished)
    now = {(e.archive, e.source_path): e for e in _rows(index, [_key(e) for e in vanished])}
    for e in vanished:
        key = _key(e)
        if (changed[key] if key in changed else now.get(key)) != e:
            continue  # moved away, or seen again meanwhile
        changed[key] = (
            None if e.status == "quarantined" else dataclasses.replace(e, status="vanished")
        )
    if not changed:
        return index
    drop = np.flatnonzero(_key_mask(index.table, changed).to_numpy())
    added = wh.index_table(e for e in changed.values() if e is not None)
    return FileIndex(_merged(index.table, drop.tolist(), added))


def _merged(table: pa.Table, drop: Sequence[int], added: pa.Table) -> pa.Table:
    """``table`` without its rows ``drop``, with the rows of ``added`` where their keys
    sort (both tables sorted by archive and path): slices of the two, so the rows kept
    are not copied (a night changes a few rows of a large index)."""
    archive, path = table["archive"], table["source_path"]

    def key(row: int) -> Key:
        return (archive[row].as_py(), path[row].as_py())

    keys = zip(added["archive"].to_pylist(), added["source_path"].to_pylist(), strict=True)
    events = [
        (bisect.bisect_left(range(table.num_rows), k, key=key), 0, j) for j, k in enumerate(keys)
    ]
    events += [(row, 1, row) for row in drop]  # at one row: the insertion first, then the drop
    pieces: list[list[Any]] = []  # [table, start, length], runs merged
    cursor = 0
    for row, drops, j in sorted(events):
        _extend(pieces, table, cursor, row - cursor)
        cursor = row + drops
        if not drops:
            _extend(pieces, added, j, 1)
    _extend(pieces, table, cursor, table.num_rows - cursor)
    if not pieces:
        return table.schema.empty_table()
    return pa.concat_tables([t.slice(start, length) for t, start, length in pieces])


def _extend(pieces: list[list[Any]], table: pa.Table, start: int, length: int) -> None:
    """Add rows ``start`` to ``start + length`` of ``table``, to the last piece if they follow it."""
    if length <= 0:
        return
    if pieces and pieces[-1][0] is table and pieces[-1][1] + pieces[-1][2] == start:
        pieces[-1][2] += length
    else:
        pieces.append([table, start, length])


def _key(entry: IndexEntry) -> Key:
    return (entry.archive, entry.source_path)


def _rows(index: FileIndex, keys: Iterable[Key]) -> list[IndexEntry]:
    """The entries of ``keys`` the index holds."""
    return [
        e
        for archive, paths in _by_archive(keys).items()
        for e in index.matching("source_path", paths, archive=archive)
    ]


def _by_archive(keys: Iterable[Key]) -> dict[str, list[str]]:
    by_archive: dict[str, list[str]] = defaultdict(list)
    for archive, path in keys:
        by_archive[archive].append(path)
    return by_archive


def _key_mask(table: pa.Table, keys: Iterable[Key]) -> pa.ChunkedArray:
    """Which rows of an index table have one of ``keys``."""
    mask = pa.chunked_array([pa.array(np.zeros(table.num_rows, dtype=bool))])
    for archive, paths in _by_archive(keys).items():
        rows = pc.and_(
            pc.equal(table["archive"], archive),
            pc.is_in(table["source_path"], value_set=pa.array(paths, pa.string())),
        )
        mask = pc.or_(mask, rows)
    return mask
