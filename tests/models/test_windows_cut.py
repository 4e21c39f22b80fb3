"""A stretch of speech longer than Whisper's window is cut, never trimmed: the encoder
reads 30 s, and what lay beyond was lost without a trace."""

from __future__ import annotations

import doctest

import numpy as np

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
