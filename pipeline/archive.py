"""Find the recordings in an archive folder and join them with ``metadata.csv``.

Any nesting, any file names. A recording's identity is its content hash; its
``call_id`` comes from ``metadata.csv`` (joined on the ``file`` column, a path
relative to the archive root, or on ``call_id`` = file stem), else from its path.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError
from pipeline.types import QuarantineEntry, Recording

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
METADATA_FILE = "metadata.csv"
KNOWN_COLUMNS = ("call_id", "file", "agent_id", "team_id", "started_at", "direction", "customer_id")
_DATE_IN_PATH = re.compile(r"(20\d\d)[-_/]?(0[1-9]|1[0-2])[-_/]?(0[1-9]|[12]\d|3[01])")


@dataclass(frozen=True, slots=True)
class Discovery:
    """What an archive holds: recordings to process, problems to quarantine, other files."""

    recordings: list[Recording]
    quarantined: list[QuarantineEntry]
    ignored: list[str] = field(default_factory=list)


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


def discover(
    root: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Discovery:
    """List the archive's recordings with their hashes, metadata and call dates.

    Raises
    ------
    InputError
        ``I001`` when the archive folder does not exist.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: archive folder not found", code="I001")
    meta_by_file, meta_by_id, quarantined = read_metadata(root / METADATA_FILE)
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
    for n, path in enumerate(files, 1):
        rel = path.relative_to(root).as_posix()
        meta = meta_by_file.get(rel) or meta_by_id.get(path.stem) or {}
        call_id = meta.get("call_id") or rel.rsplit(".", 1)[0]
        try:
            digest = sha256_file(path)
            stat = path.stat()
        except OSError as exc:
            quarantined.append(
                QuarantineEntry(rel, "A009", f"cannot read file ({exc.strerror})", call_id)
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
        recordings.append(
            Recording(
                call_id=call_id,
                source_path=rel,
                path=str(path),
                audio_sha256=digest,
                call_date=_call_date(meta.get("started_at", ""), rel, stat.st_mtime),
                size_bytes=stat.st_size,
                metadata=meta,
            )
        )
        if progress:
            progress(n, len(files))
    return Discovery(recordings=recordings, quarantined=quarantined, ignored=ignored)


def read_metadata(
    path: Path,
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], list[QuarantineEntry]]:
    """Parse ``metadata.csv``: rows by ``file`` and by ``call_id``, and the rows refused.

    A malformed row (wrong field count, unparseable ``started_at``) is refused with its
    line number; the recording it describes is still processed, without metadata.
    """
    if not path.exists():
        return {}, {}, []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", code="I002"
        ) from exc
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    if "file" not in header and "call_id" not in header:
        raise InputError(f"{path}: needs a 'file' or 'call_id' column, got {header}", code="I002")
    by_file: dict[str, dict[str, str]] = {}
    by_id: dict[str, dict[str, str]] = {}
    refused: list[QuarantineEntry] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        where = f"{METADATA_FILE}:{line}"
        if len(row) != len(header):
            refused.append(
                QuarantineEntry(
                    where, "I004", f"row has {len(row)} fields, header has {len(header)}"
                )
            )
            continue
        meta = {k: v.strip() for k, v in zip(header, row, strict=True)}
        if meta.get("started_at") and _parse_time(meta["started_at"]) is None:
            refused.append(
                QuarantineEntry(
                    where, "I005", f"started_at {meta['started_at']!r} is not an ISO 8601 time"
                )
            )
            continue
        if meta.get("file"):
            by_file[meta["file"].replace("\\", "/").lstrip("./")] = meta
        if meta.get("call_id"):
            by_id[meta["call_id"]] = meta
    return by_file, by_id, refused


def _parse_time(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _call_date(started_at: str, rel: str, mtime: float) -> str:
    """The partition date: metadata's ``started_at``, else a date in the path, else mtime."""
    when = _parse_time(started_at) if started_at else None
    if when is not None:
        return when.date().isoformat()
    match = _DATE_IN_PATH.search(rel)
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3])).isoformat()
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(mtime, tz=dt.UTC).date().isoformat()
