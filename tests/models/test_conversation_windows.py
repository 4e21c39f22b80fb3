"""Conversation windows: both channels' speech in one stream of windows, in time order,
each stretch from its own channel, and every decoded word given back to its channel and
its real time. No model: the layout and the give-back are plain arithmetic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.windows import CONVERSATION, WINDOW_S, conversation_speech, track_speech
from pipeline.config import AsrConfig, load_config
from pipeline.errors import ConfigError
from pipeline.packing import unpack
from pipeline.types import Segment, Word

SR = 100  # samples per second: enough for the arithmetic, small arrays


def _tracks(seconds: int = 200) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.standard_normal(seconds * SR).astype(np.float32) for _ in range(2)]


def _random_speech(rng: np.random.Generator, end_s: int) -> list[tuple[int, int]]:
    """Sorted, non-overlapping stretches of one track (sample indices)."""
    speech: list[tuple[int, int]] = []
    at = int(rng.integers(0, 3 * SR))
    while at < end_s * SR:
        length = int(rng.integers(SR // 2, 40 * SR))  # some longer than a window
        speech.append((at, min(at + length, end_s * SR)))
        at += length + int(rng.integers(SR // 5, 8 * SR))
    return speech


@pytest.mark.parametrize("seed", range(20))
def test_every_stretch_is_laid_once_in_time_order_from_its_own_track(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tracks = _tracks()
    speech = [_random_speech(rng, 190), _random_speech(rng, 190)]  # the parties overlap
    call = conversation_speech(tracks, speech, sr=SR)
    assert all(w.track == CONVERSATION and w.duration_s <= WINDOW_S for w in call.windows)
    assert [w.index for w in call.windows] == list(range(len(call.windows)))
    spans = [span for w in call.windows for span in w.spans]
    for k in (0, 1):  # each track's speech, exactly, cut at window length at most
        mine = [(start, end) for j, start, end in spans if j == k]
        assert sum(e - s for s, e in mine) == sum(e - s for s, e in speech[k])
        assert all(any(a <= s and e <= b for a, b in speech[k]) for s, e in mine)
    assert [(s, j) for j, s, _ in spans] == sorted((s, j) for j, s, _ in spans)
    for w in call.windows:  # the window's audio is its stretches, each from its own track
        expected = np.concatenate([tracks[j][s:e] for j, s, e in w.spans])
        assert np.array_equal(w.samples, expected)
        assert all(source is track for source, track in zip(w.sources, tracks, strict=True))


def test_the_pieces_follow_the_windows_without_a_gap() -> None:
    rng = np.random.default_rng(5)
    tracks = _tracks()
    call = conversation_speech(tracks, [_random_speech(rng, 190) for _ in (0, 1)], sr=SR)
    spans = [span for w in call.windows for span in w.spans]
    assert len(call.pieces) == len(spans)
    at = 0.0
    for piece, (k, start, end) in zip(call.pieces, spans, strict=True):
        assert (piece.track, piece.start_s) == (k, start / SR)
        assert piece.packed_start_s == pytest.approx(at)
        at += (end - start) / SR
    for w in call.windows:  # a window starts where its first piece does
        first = next(p for p in call.pieces if p.packed_start_s >= w.offset_s - 1e-9)
        assert first.packed_start_s == pytest.approx(w.offset_s)


def test_overlapping_speech_is_placed_one_stretch_after_the_other() -> None:
    """Both parties talk at once from 10 s: the agent's stretch (it started first), then
    the customer's, whole, each from its own track."""
    tracks = _tracks(60)
    call = conversation_speech(tracks, [[(5 * SR, 15 * SR)], [(10 * SR, 20 * SR)]], sr=SR)
    assert [(p.track, p.start_s, p.packed_start_s) for p in call.pieces] == [
        (0, 5.0, 0.0),
        (1, 10.0, 10.0),
    ]


def test_a_short_call_fills_one_window_not_one_per_track() -> None:
    """Agent 15 s, customer 10 s: one window of the conversation, where each track alone
    fills a partly empty window of its own."""
    tracks = _tracks(60)
    speech = [[(0, 8 * SR), (20 * SR, 27 * SR)], [(9 * SR, 19 * SR)]]
    call = conversation_speech(tracks, speech, sr=SR)
    assert [w.duration_s for w in call.windows] == [25.0]
    assert [j for j, _, _ in call.windows[0].spans] == [0, 1, 0]
    assert [len(track_speech(k, tracks[k], speech[k], sr=SR).windows) for k in (0, 1)] == [1, 1]


def _segment(words: list[tuple[float, float, str]]) -> Segment:
    return Segment(
        start_s=words[0][0],
        end_s=words[-1][1],
        text="".join(f" {t}" for _, _, t in words),
        words=tuple(Word(start_s=s, end_s=e, text=f" {t}", probability=0.9) for s, e, t in words),
        avg_logprob=-0.2,
        no_speech_prob=0.01,
        compression_ratio=1.3,
    )


def test_each_word_goes_back_to_its_track_and_its_real_time() -> None:
    """Agent 2-8 s, customer 9-13 s, agent 20-24 s: in the window at 0-6, 6-10, 10-14 s."""
    tracks = _tracks(60)
    call = conversation_speech(tracks, [[(200, 800), (2000, 2400)], [(900, 1300)]], sr=SR)
    window = _segment([(0.5, 1.0, "hello"), (6.5, 7.0, "hi"), (11.0, 11.5, "bye")])
    agent, customer = unpack([window], call.pieces, tracks=2)
    assert [(w.text, w.start_s, w.end_s) for s in agent for w in s.words] == [
        (" hello", 2.5, 3.0),
        (" bye", 21.0, 21.5),
    ]
    assert [(w.text, w.start_s, w.end_s) for s in customer for w in s.words] == [(" hi", 9.5, 10.0)]
    assert [s.text for s in agent] == ["hello", "bye"]  # one segment per stretch
    assert all(s.avg_logprob == -0.2 for s in agent + customer)  # the window's signals


def test_a_word_across_two_stretches_goes_to_the_one_holding_most_of_it() -> None:
    tracks = _tracks(60)
    call = conversation_speech(tracks, [[(200, 800)], [(900, 1300)]], sr=SR)  # boundary at 6 s
    mostly_agent = _segment([(5.6, 6.2, "yes")])  # 0.4 s before the boundary, 0.2 s after
    mostly_customer = _segment([(5.9, 6.5, "no")])
    agent, customer = unpack([mostly_agent, mostly_customer], call.pieces, tracks=2)
    assert [w.text for s in agent for w in s.words] == [" yes"]
    assert [w.text for s in customer for w in s.words] == [" no"]
    yes, no = agent[0].words[0], customer[0].words[0]
    assert (yes.start_s, yes.end_s) == (7.6, 8.0)  # clipped to the agent's stretch
    assert (no.start_s, no.end_s) == (9.0, 9.5)


def test_the_layout_is_a_setting_and_a_typo_in_it_is_a_coded_error(tmp_path: Path) -> None:
    assert AsrConfig().windows == "channel"
    good = tmp_path / "earmark.toml"
    good.write_text('[asr]\nwindows = "conversation"\n', encoding="utf-8")
    assert load_config(good).asr.windows == "conversation"
    bad = tmp_path / "typo.toml"
    bad.write_text('[asr]\nwindows = "conversations"\n', encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"\[C002\] .*typo\.toml: asr\.windows: .*'conversations'"
    ):
        load_config(bad)


@pytest.mark.parametrize(
    ("line", "bad"),
    [
        ("window_s = 5", "asr.window_s: .*greater than or equal to 10"),
        ('encoder_input = "trim"', "asr.encoder_input: .*'trim'"),
    ],
)
def test_window_length_and_encoder_input_are_settings_checked_with_a_code(
    tmp_path: Path, line: str, bad: str
) -> None:
    assert (AsrConfig().window_s, AsrConfig().encoder_input) == (30, "padded")
    good = tmp_path / "earmark.toml"
    good.write_text('[asr]\nwindow_s = 15\nencoder_input = "speech"\n', encoding="utf-8")
    assert (load_config(good).asr.window_s, load_config(good).asr.encoder_input) == (15, "speech")
    typo = tmp_path / "typo.toml"
    typo.write_text(f"[asr]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"\[C00\d\] .*typo\.toml: {bad}"):
        load_config(typo)
