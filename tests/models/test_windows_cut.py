"""A stretch of speech longer than Whisper's window is cut, never trimmed: the encoder
reads 30 s, and what lay beyond was lost without a trace."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import models.windows
from models.windows import WINDOW_S, track_speech

SR = 16000


def test_a_long_stretch_fills_several_windows_and_keeps_every_second() -> None:
    samples = np.random.default_rng(0).standard_normal(120 * SR).astype(np.float32)
    speech = [(2 * SR, int(48.5 * SR)), (60 * SR, 125 * SR // 2)]  # 46.5 s, then 2.5 s
    heard = track_speech(0, samples, speech, sr=SR)
    assert all(w.duration_s <= WINDOW_S for w in heard.windows)
    assert sum(w.duration_s for w in heard.windows) == sum((e - s) / SR for s, e in speech)
    assert sum(len(w.samples) for w in heard.windows) == heard.speech_samples == 49 * SR


def test_the_examples_in_the_docstrings_hold() -> None:
    result = doctest.testmod(models.windows)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("window_s", [WINDOW_S, 15, 10])
def test_windows_are_faster_whispers_chunks_without_holding_a_copy(window_s: int) -> None:
    """The windows cut the speech as faster-whisper's ``collect_chunks`` does (what the
    batched pipeline decodes; shorter windows as its ``max_duration``), but keep only
    where it is: a slice, not a copy."""
    from faster_whisper.vad import collect_chunks

    rng = np.random.default_rng(1)
    samples = rng.standard_normal(400 * SR).astype(np.float32)
    for _ in range(40):
        speech: list[tuple[int, int]] = []
        for start in np.sort(rng.choice(np.arange(0, 390 * SR, SR // 10), 30, replace=False)):
            if not speech or start >= speech[-1][1]:
                speech.append((int(start), int(start + rng.integers(SR // 10, 28 * SR))))
        speech = [(s, min(e, len(samples))) for s, e in speech if s < len(samples)]
        speech = [(s, e) for k, (s, e) in enumerate(speech) if k == 0 or s >= speech[k - 1][1]]
        speech = [
            (a, b)
            for s, e in speech
            for a in range(s, e, window_s * SR)
            for b in [min(e, a + window_s * SR)]
        ]
        ours = track_speech(0, samples, speech, sr=SR, window_s=window_s).windows
        assert all(w.duration_s <= window_s for w in ours)
        clips = [{"start": s, "end": e} for s, e in speech]
        chunks, meta = collect_chunks(samples, clips, SR, max_duration=window_s)
        theirs = [(c, m) for c, m in zip(chunks, meta, strict=True) if len(c)]
        assert len(ours) == len(theirs)
        for w, (chunk, m) in zip(ours, theirs, strict=True):
            assert np.array_equal(w.samples, chunk)
            assert (w.offset_s, w.duration_s) == (m["offset"], m["duration"])
            assert w.sources == (samples,) and w.sources[0] is samples
