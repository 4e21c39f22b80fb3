"""The progress a night or a backfill reports as its recordings are done.

The flows tell a hook (:func:`set_progress_hook`) of each call done; the CLI shows it
(:func:`shown_on`): on a terminal a progress bar with its ETA, otherwise one short line
per call, so a night logged to a file says where it is.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

from flows.process import CallResult
from pipeline.file_index import Resolved
from pipeline.text import clock


@dataclass(frozen=True, slots=True)
class Done:
    """What the progress hook is told: ``files`` more of the night's files are done."""

    files: int
    label: str
    """The call's id, or what the files were (``2 moved``)."""
    outcome: str = ""
    """``transcribed``, ``from cache``, ``quarantined [A002]``…; empty for listed files."""
    audio_s: float = 0.0

    def __str__(self) -> str:
        if not self.outcome:
            return self.label
        audio = f", {clock(self.audio_s)} of audio" if self.audio_s else ""
        return f"{self.label} done ({self.outcome}{audio})"


ProgressHook = Callable[[int, int, Done], None]
"""Called as ``hook(done, total, what)``: ``done`` of ``total`` files are done."""

_progress: ProgressHook | None = None


def progress_hook() -> ProgressHook | None:
    """The hook set by :func:`set_progress_hook` (``None``: no progress shown)."""
    return _progress


def set_progress_hook(hook: ProgressHook | None) -> None:
    """Called as ``hook(done, total, what)`` as recordings are done (the CLI's display)."""
    global _progress
    _progress = hook


def progress_counter(total: int) -> Callable[[Done], None]:
    """``advance(what)``: ``what.files`` more of ``total`` files are done; the progress
    hook (when one is set) is told the running count."""
    done = 0
    lock = threading.Lock()  # calls finish on several threads: one count, one line at a time

    def advance(what: Done) -> None:
        nonlocal done
        with lock:
            done += what.files
            hook = progress_hook()
            if hook and what.files:
                hook(done, total, what)

    return advance


def call_done(result: CallResult) -> Done:
    """How one processed recording ended, in a few words.

    Examples
    --------
    >>> from pipeline.types import QuarantineEntry, Recording
    >>> rec = Recording("CALL-7", "b.wav", "/a/b.wav", "", "2026-01-01", 9)
    >>> q = QuarantineEntry("b.wav", "A002", "not audio", call_id="CALL-7")
    >>> str(call_done(CallResult(rec, quarantine=q)))
    'CALL-7 done (quarantined [A002])'
    """
    call_id = result.recording.call_id
    if result.quarantine is not None:
        return Done(1, call_id, f"quarantined [{result.quarantine.error_code}]")
    analysis = result.analysis
    audio_s = analysis.duration_s if analysis else 0.0
    if result.status == "unsupported_language" and analysis:
        outcome = f"not transcribed: language {analysis.detected_language}"
    else:
        outcome = "from cache" if result.asr_cached else "transcribed"
        if result.status == "no_rubric":
            outcome += ", no rubric for its type"
    return Done(1, call_id, outcome, audio_s)


def not_processed(resolved: Resolved) -> Done:
    """The hashed files that are not processed: moved or touched known calls, unreadable
    files and duplicate call ids (``2 moved, 1 unreadable or refused``)."""
    counts = (
        (len(resolved.moved), "moved"),
        (len(resolved.touched), "unchanged content"),
        (len(resolved.quarantined), "unreadable or refused"),
    )
    files = sum(n for n, _ in counts)
    label = ", ".join(f"{n} {what}" for n, what in counts if n)
    return Done(files, f"{label}: not processed again" if files else "")


@contextlib.contextmanager
def shown_on(stream: TextIO, *, desc: str) -> Iterator[None]:
    """Show the flows' progress on ``stream`` while the block runs: a progress bar with
    its ETA on a terminal, else one line per call done (``[3/8] CALL-4 done (…)``)."""
    if stream.isatty():
        with _bar(stream, desc=desc):
            yield
        return

    def line(done: int, total: int, what: Done) -> None:
        try:
            stream.write(f"[{done}/{total}] {what}\n")  # one write: a line never split
            stream.flush()
        except OSError:  # the log's reader went away: showing progress never stops a night
            set_progress_hook(None)

    set_progress_hook(line)
    try:
        yield
    finally:
        set_progress_hook(None)


@contextlib.contextmanager
def _bar(stream: TextIO, *, desc: str) -> Iterator[None]:
    from tqdm import tqdm

    bar = tqdm(total=0, unit="call", desc=desc, file=stream)

    def progress(done: int, total: int, what: Done) -> None:
        bar.total = total
        bar.set_postfix_str(what.label[-40:], refresh=False)
        bar.update(done - bar.n)

    set_progress_hook(progress)
    try:
        yield
    finally:
        bar.close()
        set_progress_hook(None)
