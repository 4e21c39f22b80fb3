"""Packing both channels' speech into one ASR stream, and giving each word back."""

from __future__ import annotations

import numpy as np

from pipeline.packing import GAP_S, pack, unpack
from pipeline.types import Segment, Word

SR = 100  # samples per second: easy arithmetic


def _tracks() -> tuple[list[np.ndarray], list[list[tuple[int, int]]]]:
    agent = np.full(1000, 1.0, dtype=np.float32)
    customer = np.full(1000, 2.0, dtype=np.float32)
    # agent speaks 0-2 s and 6-7 s, customer 3-5 s
    return [agent, customer], [[(0, 200), (600, 700)], [(300, 500)]]


def test_pack_lays_speech_end_to_end_in_time_order_with_gaps() -> None:
    tracks, speech = _tracks()
    packed = pack(tracks, speech, sr=SR)
    assert [(p.track, p.start_s, p.packed_start_s, p.duration_s) for p in packed.pieces] == [
        (0, 0.0, 0.0, 2.0),
        (1, 3.0, 2.0 + GAP_S, 2.0),
        (0, 6.0, 4.0 + 2 * GAP_S, 1.0),
    ]
    gap = int(GAP_S * SR)
    assert len(packed.samples) == 500 + 3 * gap
    assert set(packed.samples[200 + gap : 400 + gap]) == {2.0}  # the customer's stretch
    assert set(packed.samples[200 : 200 + gap]) == {0.0}


def _word(start: float, end: float, text: str) -> Word:
    return Word(start_s=start, end_s=end, text=text, probability=0.9)


def test_unpack_splits_a_segment_by_track_and_restores_track_time() -> None:
    tracks, speech = _tracks()
    pieces = pack(tracks, speech, sr=SR).pieces
    c0 = 2.0 + GAP_S  # the customer's stretch starts here in the packed stream
    segment = Segment(
        start_s=1.0,
        end_s=c0 + 1.5,
        text=" Hello there. Hi",
        words=(
            _word(1.0, 1.5, " Hello"),
            _word(1.5, 1.9, " there."),
            _word(c0 + 1.0, c0 + 1.5, " Hi"),
        ),
        avg_logprob=-0.2,
    )
    agent, customer = unpack([segment], pieces, tracks=2)
    assert [(s.start_s, s.end_s, s.text) for s in agent] == [(1.0, 1.9, "Hello there.")]
    assert [(s.start_s, s.end_s, s.text) for s in customer] == [(4.0, 4.5, "Hi")]
    assert customer[0].words[0].start_s == 4.0 and customer[0].avg_logprob == -0.2


def test_a_word_timed_in_a_gap_goes_to_the_nearer_stretch() -> None:
    tracks, speech = _tracks()
    pieces = pack(tracks, speech, sr=SR).pieces
    c0 = 2.0 + GAP_S
    early = Segment(
        start_s=c0 - 0.3, end_s=c0 + 0.4, text=" Yes", words=(_word(c0 - 0.3, c0 + 0.2, " Yes"),)
    )
    late = Segment(start_s=2.05, end_s=2.2, text=" okay", words=(_word(2.05, 2.2, " okay"),))
    agent, customer = unpack([early, late], pieces, tracks=2)
    assert [s.text for s in customer] == ["Yes"] and customer[0].words[0].start_s == 3.0  # clamped
    assert [s.text for s in agent] == ["okay"] and agent[0].end_s == 2.0


def test_a_segment_without_word_times_goes_where_its_middle_falls() -> None:
    tracks, speech = _tracks()
    pieces = pack(tracks, speech, sr=SR).pieces
    last = pieces[-1].packed_start_s
    agent, customer = unpack(
        [Segment(start_s=last, end_s=last + 0.8, text=" Bye")], pieces, tracks=2
    )
    assert customer == [] and [(s.start_s, s.end_s, s.text) for s in agent] == [(6.0, 6.8, "Bye")]


def test_no_speech_packs_to_nothing() -> None:
    packed = pack([np.zeros(100, dtype=np.float32)] * 2, [[], []], sr=SR)
    assert packed.pieces == () and len(packed.samples) == 0
    assert unpack([], packed.pieces, tracks=2) == [[], []]
