"""The selective re-decoding benchmark's rule: which windows are decoded again, which
beam text is kept (no model: the rule reads decoded windows' scores and words)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from redecode import KEEP_WORDS, Layout, better, chosen, selected


def window(text: str, avg_logprob: float) -> list[dict[str, Any]]:
    """A decoded window as faster-whisper's segment dicts give it (one segment)."""
    return [{"text": text, "avg_logprob": avg_logprob}]


def ten_words(tag: str) -> str:
    return " ".join(f"{tag}{k}" for k in range(10))


@pytest.fixture
def layout() -> Layout:
    """Two tracks: track 0 has a confident and an unsure window, track 1 one unsure."""
    lay = Layout(groups=[(), ()])
    lay.greedy = [
        [window(ten_words("a"), -0.1), window(ten_words("b"), -0.6)],
        [window(ten_words("c"), -0.45)],
    ]
    lay.beam = [
        [window(ten_words("A"), -0.05), window(ten_words("B") + " more", -0.4)],
        [window(" ".join(ten_words("C").split()[:5]), -0.3)],  # half the words: dropped speech
    ]
    return lay


def test_windows_below_the_threshold_are_picked_in_every_track(layout: Layout) -> None:
    assert selected(layout, -0.4) == [(0, 1), (1, 0)]
    assert selected(layout, -0.5) == [(0, 1)]
    assert selected(layout, -0.05) == [(0, 0), (0, 1), (1, 0)]
    assert selected(layout, -1.0) == []


@pytest.mark.parametrize(
    ("greedy", "beam", "kept"),
    [
        (window("one two three", -0.5), window("one two three four", -0.4), True),
        (window("one two three", -0.5), window("one two three four", -0.6), False),  # scored lower
        (window(ten_words("g"), -0.5), window(ten_words("b")[: -len(" b9")], -0.3), True),  # 9/10
        (window(ten_words("g"), -0.5), window("only three words", -0.1), False),  # lost speech
        (window("", -0.9), window("", -0.8), True),  # nothing heard either way
    ],
)
def test_the_beam_is_kept_when_it_scores_higher_and_keeps_the_words(
    greedy: list[dict[str, Any]], beam: list[dict[str, Any]], kept: bool
) -> None:
    assert better(greedy, beam) is kept


def test_the_words_kept_share_is_most_of_them() -> None:
    assert 0.5 < KEEP_WORDS < 1.0


def test_only_picked_windows_that_the_beam_does_better_change(layout: Layout) -> None:
    out = chosen(layout, selected(layout, -0.4))
    assert out[0][0] is layout.greedy[0][0]  # not picked: confident
    assert out[0][1] is layout.beam[0][1]  # picked, beam better
    assert out[1][0] is layout.greedy[1][0]  # picked, beam lost half the words
    assert layout.greedy[0][1] is not out[0][1]  # the greedy outputs themselves untouched
    assert chosen(layout, []) == layout.greedy
