"""The file index: what the warehouse already holds of the archive, so a night costs
what changed in it, not what it holds.

Each archive file the warehouse knows is an :class:`~pipeline.types.IndexEntry`
(archive root, path, size, mtime, sha256, call id, call date, status). A night:

1. lists the archive (one ``stat`` per file, :func:`pipeline.archive.list_archive`);
2. :func:`plan_changes`: a file at a known path with the same size and mtime is
   unchanged and not read; any other file in the selected dates is to be hashed;
3. :func:`resolve_changes` hashes those: the same content at the same path (only the
   mtime changed) is *touched*; the content of a known call whose file is gone, found
   at a new path, is *moved* (the call keeps its id and rows, only its path changes);
   anything else is a recording to process;
4. after the tables are written, :func:`apply_night` records the outcome; files gone
   from the archive are marked ``vanished`` (their rows stay; a quarantined file that
   vanished leaves the index, as nothing was stored for it).

Pure functions over plain records; the Parquet reading and writing is in
:mod:`pipeline.warehouse` (``read_index`` / ``write_index``).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.archive import ArchiveFile, duplicate_id, read_recording, unreadable
from pipeline.types import IndexEntry, QuarantineEntry, Recording

Index = dict[tuple[str, str], IndexEntry]
"""The index in memory: entries by (archive root, source path)."""


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
    unchanged: list[IndexEntry]
    vanished: list[IndexEntry]
    """Known files of this archive no longer in it (newly gone)."""
    outside: int = 0
    """New or changed files whose date is outside the selected dates (left for later)."""
    listed: frozenset[str] = frozenset()
    """Every source path in the archive now."""


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


def index_of(entries: Iterable[IndexEntry]) -> Index:
    """The in-memory index of stored entries."""
    return {(e.archive, e.source_path): e for e in entries}


def plan_changes(
    root: str,
    files: Sequence[ArchiveFile],
    index: Mapping[tuple[str, str], IndexEntry],
    *,
    dates: DateRange = DateRange(),
    also: Iterable[str] = (),
) -> Changes:
    """Compare a listing of archive ``root`` with the index, reading no file.

    Parameters
    ----------
    root
        The archive root, absolute, as stored in :attr:`IndexEntry.archive`.
    files
        The archive's listing (:func:`pipeline.archive.list_archive`).
    index
        The index (:func:`index_of`).
    dates
        Only new or changed files with a call date in this range are to be hashed.
    also
        Other paths of the archive the index may hold (``metadata.csv``): not vanished.
    """
    todo: list[ArchiveFile] = []
    unchanged: list[IndexEntry] = []
    outside = 0
    for f in files:
        known = index.get((root, f.source_path))
        if (
            known is not None
            and known.status != "vanished"
            and known.size_bytes == f.size_bytes
            and known.mtime_ns == f.mtime_ns
        ):
            unchanged.append(known)
        elif f.call_date in dates:
            todo.append(f)
        else:
            outside += 1
    listed = frozenset(f.source_path for f in files) | frozenset(also)
    vanished = [
        e
        for (archive, path), e in sorted(index.items())
        if archive == root and path not in listed and e.status != "vanished"
    ]
    return Changes(todo, unchanged, vanished, outside, listed)


def resolve_changes(
    root: str,
    changes: Changes,
    index: Mapping[tuple[str, str], IndexEntry],
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
    call. A call id already used by another file is refused (``I003``).
    """
    files = changes.todo if todo is None else todo
    movable: dict[tuple[int, str], list[IndexEntry]] = defaultdict(list)
    for e in index.values():
        if e.status != "quarantined" and _gone(e, root, changes.listed):
            movable[(e.size_bytes, e.audio_sha256)].append(e)
    taken = {  # ids of the calls whose files are still there (earlier chunks included)
        e.call_id: e.source_path
        for e in index.values()
        if e.archive == root and e.status == "ok" and e.source_path in changes.listed
    }
    out = Resolved(recordings=[])
    hashed = 0
    for n, f in enumerate(files, 1):
        try:
            rec = read_recording(f)
        except OSError as exc:
            out.quarantined.append(unreadable(f, exc, root=root))
            continue
        finally:
            hashed += 1
            if progress:
                progress(n, len(files))
        known = index.get((root, f.source_path))
        if (
            known is not None
            and known.audio_sha256 == rec.audio_sha256
            and known.status != "vanished"
        ):
            out.touched.append(dataclasses.replace(known, mtime_ns=f.mtime_ns))
            continue
        before = movable.get((rec.size_bytes, rec.audio_sha256))
        if before:
            old = before.pop(0)
            after = dataclasses.replace(
                old,
                archive=root,
                source_path=f.source_path,
                mtime_ns=f.mtime_ns,
                status="ok",
            )
            out.moved.append((old, after))
            taken[old.call_id] = f.source_path
            continue
        if rec.call_id in taken and taken[rec.call_id] != rec.source_path:
            out.quarantined.append(duplicate_id(rec, taken[rec.call_id]))
            out.refused.append(entry_for(root, rec, mtime_ns=f.mtime_ns, status="quarantined"))
            continue
        taken[rec.call_id] = rec.source_path
        out.recordings.append(rec)
        out.mtime_ns[rec.source_path] = f.mtime_ns
    return dataclasses.replace(out, hashed=hashed)


def _gone(entry: IndexEntry, root: str, listed: frozenset[str]) -> bool:
    if entry.status == "vanished":
        return True
    if entry.archive == root:
        return entry.source_path not in listed
    return not (Path(entry.archive) / entry.source_path).exists()


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
    index: Index,
    *,
    entries: Iterable[IndexEntry] = (),
    moved: Iterable[tuple[IndexEntry, IndexEntry]] = (),
    vanished: Iterable[IndexEntry] = (),
) -> Index:
    """The index after a night (or one backfill chunk): a new mapping, ``index`` unchanged.

    ``entries`` are processed, quarantined and touched files; ``moved`` replace their old
    path; ``vanished`` ones are marked so (a quarantined one is dropped).
    """
    out = dict(index)
    for old, new in moved:
        out.pop((old.archive, old.source_path), None)
        out[(new.archive, new.source_path)] = new
    for e in entries:
        out[(e.archive, e.source_path)] = e
    for e in vanished:
        key = (e.archive, e.source_path)
        if key not in out or out[key] != e:
            continue  # moved away, or seen again meanwhile
        if e.status == "quarantined":
            del out[key]
        else:
            out[key] = dataclasses.replace(e, status="vanished")
    return out
