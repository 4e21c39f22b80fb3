"""The progress the night and the backfill report while recordings are done."""

from __future__ import annotations

from flows.nightly import progress_counter, set_progress_hook


def test_the_hook_is_told_the_running_count_of_recordings_done() -> None:
    seen: list[tuple[int, int, str]] = []
    set_progress_hook(lambda done, total, path: seen.append((done, total, path)))
    try:
        advance = progress_counter(3)
        advance(1, "a.wav")
        advance(0, "listed only")  # nothing done: nothing to show
        advance(2, "c.wav")
    finally:
        set_progress_hook(None)
    assert seen == [(1, 3, "a.wav"), (3, 3, "c.wav")]


def test_a_hook_set_after_the_count_started_sees_the_count_so_far() -> None:
    seen: list[tuple[int, int, str]] = []
    advance = progress_counter(2)
    advance(1, "a.wav")  # no hook yet
    set_progress_hook(lambda done, total, path: seen.append((done, total, path)))
    try:
        advance(1, "b.wav")
    finally:
        set_progress_hook(None)
    assert seen == [(2, 2, "b.wav")]
