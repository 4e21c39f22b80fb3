"""The progress the night and the backfill report while recordings are done."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

from flows.progress import Done, progress_counter, set_progress_hook, shown_on


def test_the_hook_is_told_the_running_count_of_recordings_done() -> None:
    seen: list[tuple[int, int, str]] = []
    set_progress_hook(lambda done, total, what: seen.append((done, total, what.label)))
    try:
        advance = progress_counter(3)
        advance(Done(1, "CALL-1", "transcribed", 34.0))
        advance(Done(0, ""))  # nothing done: nothing to show
        advance(Done(2, "2 moved: not processed again"))
    finally:
        set_progress_hook(None)
    assert seen == [(1, 3, "CALL-1"), (3, 3, "2 moved: not processed again")]


def test_a_hook_set_after_the_count_started_sees_the_count_so_far() -> None:
    seen: list[tuple[int, int, str]] = []
    advance = progress_counter(2)
    advance(Done(1, "CALL-1", "transcribed"))  # no hook yet
    set_progress_hook(lambda done, total, what: seen.append((done, total, what.label)))
    try:
        advance(Done(1, "CALL-2", "from cache"))
    finally:
        set_progress_hook(None)
    assert seen == [(2, 2, "CALL-2")]


def test_off_a_terminal_each_call_done_is_one_line() -> None:
    log = io.StringIO()  # a file, as when stderr is redirected: not a terminal
    with shown_on(log, desc="calls"):
        advance = progress_counter(3)
        advance(Done(1, "CALL-4", "transcribed", 34.2))
        advance(Done(1, "CALL-5", "quarantined [A002]"))
        advance(Done(1, "CALL-6", "from cache", 75.0))
    assert log.getvalue().splitlines() == [
        "[1/3] CALL-4 done (transcribed, 0:34 of audio)",
        "[2/3] CALL-5 done (quarantined [A002])",
        "[3/3] CALL-6 done (from cache, 1:15 of audio)",
    ]
    advance(Done(1, "CALL-7", "transcribed"))  # the block is over: nothing more is shown
    assert len(log.getvalue().splitlines()) == 3


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_calls_done_move_a_bar_with_its_eta() -> None:
    screen = _Terminal()
    with shown_on(screen, desc="calls"):
        advance = progress_counter(4)
        advance(Done(1, "CALL-4", "transcribed", 34.2))
        advance(Done(1, "CALL-5", "transcribed", 34.2))
    shown = screen.getvalue()
    assert "calls:" in shown and "2/4" in shown and "<" in shown  # tqdm's elapsed<ETA
    assert "CALL-4 done" not in shown  # a bar, not lines


class _GoneReader(io.StringIO):
    """A log whose reader went away (``earmark run 2>&1 | head``): every write fails."""

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_log_whose_reader_went_away_does_not_stop_the_night() -> None:
    with shown_on(_GoneReader(), desc="night"):
        advance = progress_counter(3)
        for n in (1, 2, 3):  # the first fails quietly, the rest are not even tried
            advance(Done(1, f"CALL-{n}", "transcribed", 30.0))


class _Writes(io.StringIO):
    """A log that keeps each write as it came (a file's writes from several threads)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_calls_done_on_several_threads_give_whole_lines_counted_in_order() -> None:
    """A night's calls finish on worker threads: two at once once wrote "[7/7] …" and
    "[6/7] …" into one line (a print is two writes), so a log lost a call."""
    log = _Writes()
    total = 8 * 50
    with shown_on(log, desc="calls"):
        advance = progress_counter(total)
        with ThreadPoolExecutor(8) as pool:
            for k in range(total):
                pool.submit(advance, Done(1, f"CALL-{k}", "transcribed"))
    lines = [w for w in log.writes if w.strip()]
    assert all(w.startswith("[") and w.endswith(")\n") for w in lines), lines[:3]
    assert [int(w[1:].split("/", 1)[0]) for w in lines] == list(range(1, total + 1))
