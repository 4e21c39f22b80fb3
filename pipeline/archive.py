"""Find the recordings in an archive folder and join them with ``metadata.csv``.

Any nesting, any file names. A recording's identity is its content hash; its
``call_id`` comes from ``metadata.csv`` (joined on the ``file`` column, a path
relative to the archive root, or on ``call_id`` = file stem), else from its path.
Reading ``metadata.csv`` as real exports write it is :mod:`pipeline.metadata`'s job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.errors import InputError
from pipeline.metadata import (
    METADATA_FILE,
    MetadataOptions,
    MetadataTable,
    read_metadata,
)
from pipeline.types import MetadataIssue, QuarantineEntry, Recording

AUDIO_SUFFIXES = frozenset(
    {
        ".wav",
        ".mp3",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".m4a",
        ".aac",
        ".wma",
        ".au",
        ".aif",
        ".aiff",
        ".gsm",
        ".amr",
        ".webm",
    }
)
KNOWN_COLUMNS = ("call_id", "file", "agent_id", "team_id", "started_at", "direction", "customer_id")
_DATE_IN_PATH = re.compile(r"(20\d\d)[-_/]?(0[1-9]|1[0-2])[-_/]?(0[1-9]|[12]\d|3[01])")


@dataclass(frozen=True, slots=True)
class Discovery:
    """What an archive holds: recordings to process, problems to quarantine, other files,
    and the problems found in ``metadata.csv`` whose rows were still used."""

    recordings: list[Recording]
    quarantined: list[QuarantineEntry]
    ignored: list[str] = field(default_factory=list)
    metadata_issues: list[MetadataIssue] = field(default_factory=list)


UNREACHABLE = "I009"
"""The code of a recording the night could not read because its whole archive went away."""


def archive_gone(root: str | Path) -> bool:
    """Whether the archive folder itself is no longer there (unmounted, renamed, offline)."""
    try:
        return not Path(root).is_dir()
    except OSError:
        return True


def unreachable(root: str | Path, rel: str, call_id: str = "") -> QuarantineEntry:
    """A recording not processed because the archive vanished after it was listed.

    Not a fault of the recording: the night writes nothing for it (no ``calls`` or
    ``quarantine`` row replaces what an earlier night stored) and the next night, finding
    it again, processes it.
    """
    return QuarantineEntry(
        rel,
        UNREACHABLE,
        f"{rel}: the archive {root} is no longer reachable (unmounted?) after this night "
        "listed it; not processed, the next run retries it",
        call_id,
    )


def sha256_file(path: Path, *, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def iter_audio_files(root: Path) -> Iterator[Path]:
    """Lazily yield audio files under ``root`` in a stable (sorted) order."""
    for path in sorted(root.rglob("*")):
        if (
            path.is_file()
            and path.suffix.lower() in AUDIO_SUFFIXES
            and not path.name.startswith(".")
        ):
            yield path


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """An audio file of the archive as listed, before it is read: what the file index
    compares (size and mtime), and its call id, date and metadata."""

    source_path: str
    """Path relative to the archive root, with forward slashes."""
    path: str
    size_bytes: int
    mtime_ns: int
    call_id: str
    call_date: str
    metadata: dict[str, str] = field(default_factory=dict)
    metadata_issues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Listing:
    """Every file of an archive, listed without reading any recording."""

    files: list[ArchiveFile]
    quarantined: list[QuarantineEntry]
    """Refused ``metadata.csv`` rows."""
    ignored: list[str] = field(default_factory=list)
    metadata: ArchiveFile | None = None
    """The root's ``metadata.csv`` (its size and mtime), when there is one."""
    metadata_issues: list[MetadataIssue] = field(default_factory=list)


CHUNK_FILES = 50_000
"""Files per chunk of a listing: what a night holds of the archive's listing at once."""


def _archive_metadata(
    root: Path, given: MetadataOptions | None
) -> tuple[MetadataOptions, MetadataTable]:
    """How to read the archive's ``metadata.csv``, and what it holds (``I001`` when the
    archive folder does not exist)."""
    if not root.is_dir():
        raise InputError(f"{root}: archive folder not found", code="I001")
    options = given or MetadataOptions()
    return options, read_metadata(root / METADATA_FILE, options=options)


@dataclass(frozen=True, slots=True)
class ListedChunk:
    """Some of an archive's audio files as listed: three columns, no record per file."""

    source_paths: list[str]
    """Paths relative to the archive root, with forward slashes."""
    sizes: list[int]
    mtimes_ns: list[int]


def _suffix(name: str) -> str:
    """``os.path.splitext(name)[1].lower()`` for a name not starting with a dot, at a
    fraction of its cost (it runs once per file of the archive)."""
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


class ArchiveScan:
    """One listing of an archive: ``metadata.csv`` read, the files walked lazily in chunks
    (:meth:`iter_chunks`), and a listed file described only when asked (:meth:`describe`),
    so listing a large archive holds one chunk of it at a time, and costs one ``stat`` per
    file but no date or metadata work for the files a night leaves alone.

    A call's date is ``started_at`` from ``metadata.csv``, else a date in its path
    (``2026-11-20``, ``2026_11_20``, ``20261120``, ``2026/11/20``), else the file's
    modification time (in the metadata's time zone, UTC without one).

    Raises
    ------
    InputError
        ``I001`` when the archive folder does not exist; ``I002`` when ``metadata.csv``
        cannot be read at all.
    """

    def __init__(self, root: str | Path, *, metadata: MetadataOptions | None = None) -> None:
        self.root = Path(root)
        self.options, self.table = _archive_metadata(self.root, metadata)
        self.quarantined: list[QuarantineEntry] = list(self.table.refused)
        """Refused ``metadata.csv`` rows, and files that cannot be ``stat``-ed."""
        self.ignored: list[str] = []
        self._used: dict[int, tuple[MetadataIssue, ...]] = {}
        self._folder = str(self.root)

    def iter_chunks(self, *, chunk_files: int = CHUNK_FILES) -> Iterator[ListedChunk]:
        """Lazily yield the archive's audio files, ``chunk_files`` at a time, in no
        particular order; linked folders are not entered (as ``Path.rglob``), linked
        files are listed."""
        chunk = ListedChunk([], [], [])
        prefix = len(self._folder.rstrip(os.sep)) + 1
        folders = [self._folder]
        while folders:
            with os.scandir(folders.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                    elif entry.is_file():
                        self._list(entry, entry.path[prefix:].replace(os.sep, "/"), chunk)
                        if len(chunk.source_paths) >= chunk_files:
                            yield chunk
                            chunk = ListedChunk([], [], [])
        if chunk.source_paths:
            yield chunk

    def _list(self, entry: os.DirEntry[str], rel: str, chunk: ListedChunk) -> None:
        name = entry.name
        if name.startswith("."):
            return
        if _suffix(name) not in AUDIO_SUFFIXES:
            if name != METADATA_FILE:
                self.ignored.append(rel)
            return
        try:
            stat = entry.stat()
        except OSError as exc:
            self.quarantined.append(
                QuarantineEntry(rel, "A009", f"cannot read file ({exc.strerror})")
            )
            return
        chunk.source_paths.append(rel)
        chunk.sizes.append(stat.st_size)
        chunk.mtimes_ns.append(stat.st_mtime_ns)
        if self.table.by_file or self.table.by_id:  # the rows used, for metadata_issues()
            self.describe(rel, stat.st_size, stat.st_mtime_ns)

    def describe(self, rel: str, size_bytes: int, mtime_ns: int) -> ArchiveFile:
        """A listed file with its call id, call date and ``metadata.csv`` row."""
        stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        row = self.table.by_file.get(rel) or self.table.by_id.get(stem)
        meta = row.values if row else {}
        call_date, source = _call_date(
            row.started if row else None, rel, mtime_ns // 10**9, zone=self.options.zone
        )
        issues = _with_date_source(row.issues, call_date, source) if row else ()
        if row:
            self._used[row.line] = issues
        return ArchiveFile(
            source_path=rel,
            path=os.path.join(self._folder, rel.replace("/", os.sep)),
            size_bytes=size_bytes,
            mtime_ns=mtime_ns,
            call_id=meta.get("call_id") or rel.rsplit(".", 1)[0],
            call_date=call_date,
            metadata=meta,
            metadata_issues=tuple(str(i) for i in issues),
        )

    def metadata_file(self) -> ArchiveFile | None:
        """The root's ``metadata.csv`` (its size and mtime), when there is one."""
        try:
            stat = (self.root / METADATA_FILE).stat()
        except OSError:
            return None
        path = str(self.root / METADATA_FILE)
        return ArchiveFile(METADATA_FILE, path, stat.st_size, stat.st_mtime_ns, "", "")

    def metadata_issues(self) -> list[MetadataIssue]:
        """The problems of ``metadata.csv`` (once the chunks were all walked)."""
        return _all_issues(self.table, self._used)


def path_order(source_path: str) -> tuple[str, ...]:
    """The order of ``sorted(Path.rglob())``: by path parts."""
    return tuple(source_path.split("/"))


def list_archive(root: str | Path, *, metadata: MetadataOptions | None = None) -> Listing:
    """Every audio file of the archive with size, mtime, call id and call date, in path
    order; no file is read but ``metadata.csv``. A night lists through
    :class:`ArchiveScan` instead, one chunk at a time.

    Raises
    ------
    InputError
        As :class:`ArchiveScan`.
    """
    scan = ArchiveScan(root, metadata=metadata)
    files = [
        scan.describe(*listed)
        for chunk in scan.iter_chunks()
        for listed in zip(chunk.source_paths, chunk.sizes, chunk.mtimes_ns, strict=True)
    ]
    files.sort(key=lambda f: path_order(f.source_path))
    return Listing(
        files,
        scan.quarantined,
        sorted(scan.ignored),
        scan.metadata_file(),
        scan.metadata_issues(),
    )


def read_recording(listed: ArchiveFile) -> Recording:
    """Hash a listed file: the :class:`Recording` a night processes.

    Raises
    ------
    OSError
        When the file cannot be read.
    """
    return Recording(
        call_id=listed.call_id,
        source_path=listed.source_path,
        path=listed.path,
        audio_sha256=sha256_file(Path(listed.path)),
        call_date=listed.call_date,
        size_bytes=listed.size_bytes,
        metadata=listed.metadata,
        metadata_issues=listed.metadata_issues,
    )


def unreadable(
    listed: ArchiveFile, exc: OSError, *, root: str | Path | None = None
) -> QuarantineEntry:
    """The quarantine entry of a listed file that cannot be read; when the whole archive
    ``root`` went away, :func:`unreachable` instead (the next night retries it)."""
    if root is not None and archive_gone(root):
        return unreachable(root, listed.source_path, listed.call_id)
    return QuarantineEntry(
        listed.source_path,
        "A009",
        f"cannot read file ({exc.strerror})",
        listed.call_id,
        call_date=listed.call_date,
    )


def duplicate_id(recording: Recording, other_path: str) -> QuarantineEntry:
    """The quarantine entry of a recording whose call id another file already has."""
    return QuarantineEntry(
        recording.source_path,
        "I003",
        f"call_id {recording.call_id!r} is also used by {other_path!r}",
        recording.call_id,
        recording.audio_sha256,
        recording.call_date,
    )


def discover(
    root: str | Path,
    *,
    metadata: MetadataOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Discovery:
    """List the archive's recordings with their hashes, metadata and call dates (every
    file is read: the nightly flow reads only new and changed ones, see
    :func:`list_archive` and :mod:`pipeline.file_index`).

    Parameters
    ----------
    root
        The archive folder.
    metadata
        How to read its ``metadata.csv`` (see :class:`pipeline.metadata.MetadataOptions`);
        by default everything is recognised.
    progress
        Called as ``progress(done, total)`` after each recording is hashed.

    Raises
    ------
    InputError
        ``I001`` when the archive folder does not exist; ``I002`` when ``metadata.csv``
        cannot be read at all (see :func:`pipeline.metadata.read_metadata`).
    """
    root = Path(root)
    metadata, table = _archive_metadata(root, metadata)
    quarantined = list(table.refused)
    files = list(iter_audio_files(root))
    ignored = sorted(
        str(p.relative_to(root).as_posix())
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() not in AUDIO_SUFFIXES
        and p.name != METADATA_FILE
        and not p.name.startswith(".")
    )
    recordings: list[Recording] = []
    seen_ids: dict[str, str] = {}
    used: dict[int, tuple[MetadataIssue, ...]] = {}
    for n, path in enumerate(files, 1):
        rel = path.relative_to(root).as_posix()
        row = table.by_file.get(rel) or table.by_id.get(path.stem)
        meta = row.values if row else {}
        call_id = meta.get("call_id") or rel.rsplit(".", 1)[0]
        try:
            digest = sha256_file(path)
            stat = path.stat()
        except OSError as exc:
            quarantined.append(
                unreachable(root, rel, call_id)
                if archive_gone(root)
                else QuarantineEntry(rel, "A009", f"cannot read file ({exc.strerror})", call_id)
            )
            continue
        if call_id in seen_ids:
            quarantined.append(
                QuarantineEntry(
                    rel,
                    "I003",
                    f"call_id {call_id!r} is also used by {seen_ids[call_id]!r}",
                    call_id,
                    digest,
                )
            )
            continue
        seen_ids[call_id] = rel
        call_date, source = _call_date(
            row.started if row else None, rel, stat.st_mtime, zone=metadata.zone
        )
        issues = _with_date_source(row.issues, call_date, source) if row else ()
        if row:
            used[row.line] = issues
        recordings.append(
            Recording(
                call_id=call_id,
                source_path=rel,
                path=str(path),
                audio_sha256=digest,
                call_date=call_date,
                size_bytes=stat.st_size,
                metadata=meta,
                metadata_issues=tuple(str(i) for i in issues),
            )
        )
        if progress:
            progress(n, len(files))
    return Discovery(
        recordings=recordings,
        quarantined=quarantined,
        ignored=ignored,
        metadata_issues=_all_issues(table, used),
    )


def _with_date_source(
    issues: tuple[MetadataIssue, ...], call_date: str, source: str
) -> tuple[MetadataIssue, ...]:
    """Say where the call's date came from on an issue about its ``started_at``."""
    return tuple(
        replace(i, problem=f"{i.problem}; call date {call_date} taken from {source}")
        if i.field == "started_at"
        else i
        for i in issues
    )


def _all_issues(
    table: MetadataTable, used: dict[int, tuple[MetadataIssue, ...]]
) -> list[MetadataIssue]:
    """The file's issues, each row's (as reported on its call), and the rows no recording
    matched, in line order."""
    rows = {r.line: r for r in (*table.by_file.values(), *table.by_id.values())}
    out = [i for i in table.issues if i.line not in rows]
    for line, row in sorted(rows.items()):
        out.extend(used.get(line, row.issues))
        if line not in used:
            key = "file" if row.values.get("file") else "call_id"
            out.append(
                MetadataIssue(
                    line,
                    0,
                    key,
                    "I011",
                    f"no recording in the archive matches {key} {row.values[key]!r}",
                )
            )
    return sorted(out, key=lambda i: i.line)


def _call_date(
    started: dt.datetime | None, rel: str, mtime: float, *, zone: dt.tzinfo | None = None
) -> tuple[str, str]:
    """The partition date and where it came from: metadata's ``started_at``, else a date in
    the path, else the file's modification time (in ``zone``, UTC without one)."""
    if started is not None:
        return started.date().isoformat(), "started_at"
    match = _DATE_IN_PATH.search(rel)
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3])).isoformat(), "the path"
        except ValueError:
            pass
    when = dt.datetime.fromtimestamp(mtime, tz=zone or dt.UTC)
    return when.date().isoformat(), "the file's modification time"
