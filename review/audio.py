"""Serving recordings to the browser's audio player: one byte range at a time.

The player seeks by asking for ``Range: bytes=N-``; without ``206 Partial Content``
a browser cannot jump to a finding (Starlette's ``FileResponse`` serves the ranges). Only a path listed in the ``calls`` table is ever
served, and only once it resolves (symlinks included) to a file inside the archive.
A call with redacted spans is played from its redacted copy in the warehouse, never
from the archive, unless audio redaction is switched off (``[redact] audio = "off"``).
"""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
from pathlib import Path
from typing import Literal

from fastapi import HTTPException
from fastapi.responses import FileResponse

from pipeline import warehouse as wh
from pipeline.redact_audio import copy_key
from review.data import CallRef

_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
}


def resolve_recording(archive: Path, source_path: str) -> Path:
    """The file to serve for a ``calls.source_path``, refusing anything outside ``archive``.

    Parameters
    ----------
    archive
        The archive root, already resolved.
    source_path
        The path stored in the ``calls`` table (relative to the archive).

    Raises
    ------
    HTTPException
        403 when the path is absolute or resolves outside the archive; 404 when the
        file is missing.
    """
    if not source_path or Path(source_path).is_absolute() or "\x00" in source_path:
        raise HTTPException(403, "this recording's path is not inside the archive")
    path = (archive / source_path).resolve()
    if not path.is_relative_to(archive):
        raise HTTPException(403, "this recording's path is not inside the archive")
    if not path.is_file():
        raise HTTPException(404, "the recording is not in the archive any more")
    return path


AudioStatus = Literal["original", "redacted", "unredacted", "withheld"]
"""What the player gets: the recording (nothing redacted), the redacted copy, the recording
with its redacted moments (audio redaction off), or nothing (the copy is missing)."""


def withheld_message(ref: CallRef) -> str:
    """Why a call with redactions but no redacted copy is not played."""
    return (
        f"this recording is withheld: it holds {len(ref.redactions)} redacted moment(s) "
        "(card, phone or personal data) and its redacted copy has not been written; run the "
        'night again with [redact] audio = "tone" or "silence" to write it'
    )


def redacted_copy(warehouse: str, ref: CallRef) -> tuple[str, str] | None:
    """Where the call's redacted copy covering exactly its stored spans is, once written,
    and its version on an object store (its ETag; ``""`` on a local disk).

    On a local disk only a file really inside the warehouse's copies folder counts (a
    symlink pointing out of it does not).
    """
    key = copy_key(ref.call_id, ref.audio_sha256, ref.redactions)
    location = wh.redacted_audio_path(warehouse, ref.call_date, ref.call_id, key)
    if wh.is_local(warehouse):
        path = Path(wh.storage(location)[1]).resolve()
        folder = Path(wh.storage(wh.join(warehouse, wh.REDACTED_AUDIO))[1]).resolve()
        return (str(path), "") if path.is_relative_to(folder) and path.is_file() else None
    version = wh.stamp(location)
    return (location, repr(version)) if version is not None else None


def audio_status(warehouse: str, ref: CallRef, *, audio_mode: str) -> AudioStatus:
    """Which audio :func:`resolve_audio` serves for ``ref`` (``audio_mode``: ``[redact] audio``)."""
    if not ref.redactions:
        return "original"
    if redacted_copy(warehouse, ref) is not None:
        return "redacted"
    return "unredacted" if audio_mode == "off" else "withheld"


def resolve_audio(
    archive: Path, warehouse: str, ref: CallRef, *, audio_mode: str, cache: Path | None
) -> Path:
    """The file to play for a call: its redacted copy whenever it has redacted spans.

    Parameters
    ----------
    archive
        The archive root, already resolved.
    warehouse
        The warehouse folder or URL (where the redacted copies are).
    ref
        The call, with its redacted spans.
    audio_mode
        ``[redact] audio``: only ``"off"`` lets the original of a call with redactions play.
    cache
        A private local folder the copies of a remote warehouse are downloaded to, named
        by their ETag too (a copy rewritten with other options is fetched again);
        ``None`` for a local warehouse.

    Raises
    ------
    HTTPException
        409 when the call has redactions and no copy (see :func:`withheld_message`), and
        those of :func:`resolve_recording`.
    """
    if not ref.redactions:
        return resolve_recording(archive, ref.source_path)
    copy = redacted_copy(warehouse, ref)
    if copy is not None:
        location, version = copy
        if cache is None:
            return wh.fetch(location, None)
        name = f"{hashlib.sha256(version.encode()).hexdigest()[:16]}.{posixpath.basename(location)}"
        return wh.fetch(location, cache / name)
    if audio_mode == "off":
        return resolve_recording(archive, ref.source_path)
    raise HTTPException(409, withheld_message(ref))


def audio_response(path: Path) -> FileResponse:
    """``path`` for the player: Starlette's ``FileResponse`` answers ``Range`` requests
    (206 with ``Content-Range``; 416 with ``bytes */SIZE`` past the end; 400 when
    malformed) and ``HEAD``, and streams the file in chunks."""
    media = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    return FileResponse(
        path,
        media_type=media or "application/octet-stream",
        headers={"Cache-Control": "private, max-age=3600"},
    )
