"""Keep C libraries' chatter off the terminal, and count it.

libmpg123 (inside libsndfile) prints ``[src/libmpg123/layer3.c:…] error: part2_3_length …``
straight to file descriptor 2 for MP3 frames it repairs or skips, on files that decode
fine. Python cannot catch that with ``sys.stderr``: :func:`captured_stderr` points fd 2
at a temporary file around the decode instead, then counts the decoder's lines and
passes every other line (another thread's log record, say) on to the real stderr.

fd 2 belongs to the whole process, so captures are serialised by one lock: with the
thread-pool worker model, two recordings never decode at the same moment (decoding is a
second or two per call, beside minutes of ASR, which runs concurrently and does not
print). A process without a usable fd 2 decodes without capture.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

DECODER_LINE = re.compile(r"^\[?(src/)?libmpg123/|mpg123|^\[(mp3|mp3float|mpeg)\s*@")
"""A line a decoder printed (libmpg123 through libsndfile; FFmpeg's MP3 decoder)."""

_LOCK = threading.Lock()


@dataclass(slots=True)
class Captured:
    """What a :func:`captured_stderr` block printed, filled in when the block ends."""

    decoder_lines: list[str] = field(default_factory=list)
    passed_on: int = 0
    """Other lines, written on to the real stderr after the block, unchanged."""

    @property
    def count(self) -> int:
        return len(self.decoder_lines)


@contextlib.contextmanager
def captured_stderr() -> Iterator[Captured]:
    """Capture what C code writes to fd 2 while the block runs.

    Yields
    ------
    Captured
        Empty during the block; afterwards the decoder's lines (counted, not shown) and
        how many other lines were passed on to stderr.

    Examples
    --------
    >>> with captured_stderr() as noise:
    ...     _ = os.write(2, b"[src/libmpg123/layer3.c:1774] error: part2_3_length\\n")
    >>> noise.count
    1
    """
    captured = Captured()
    with _LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no fd 2 (a daemon): nothing to keep quiet
            yield captured
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield captured
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                _sort(sink.read().decode("utf-8", errors="replace"), captured)


def _sort(text: str, captured: Captured) -> None:
    """Count the decoder's lines; write everything else back exactly as it came (a
    progress bar's ``\r`` updates included)."""
    others: list[str] = []
    for chunk in re.split(r"(?<=\n)", text):
        if DECODER_LINE.search(chunk):
            captured.decoder_lines.append(chunk.strip())
        elif chunk:
            others.append(chunk)
    if others:
        captured.passed_on = sum(1 for chunk in others if chunk.strip())
        os.write(2, "".join(others).encode("utf-8", errors="replace"))
