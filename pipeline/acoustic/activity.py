"""Speech activity of one track: an energy VAD in numpy (no model).

:func:`speech_activity` is the only pass over a whole track that the call's measures
make; :func:`check_track` and :func:`runs` are shared with the hold-music and prosody
modules.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline import TARGET_SR
from pipeline.types import Span

FloatArray = npt.NDArray[np.floating[Any]]
EPS_POWER = 1e-10
"""Added to a power before its logarithm (silence is -100 dB, not -inf)."""
SPAN_TOLERANCE_S = 0.05
"""A speech span may end this far past its track (rounding of frame times)."""


def speech_activity(
    samples: FloatArray,
    *,
    sr: int = TARGET_SR,
    frame_s: float = 0.02,
    floor_percentile: float = 10.0,
    rise_db: float = 12.0,
    hysteresis_db: float = 6.0,
    range_db: float = 30.0,
    min_dbfs: float = -60.0,
    hangover_s: float = 0.04,
    min_speech_s: float = 0.2,
    min_gap_s: float = 0.3,
) -> tuple[Span, ...]:
    """Find where one party speaks, from the frame energy of their track.

    A frame enters speech when its RMS level is ``rise_db`` above the track's noise
    floor (the ``floor_percentile`` of frame levels), and speech lasts while the level
    stays within ``hysteresis_db`` of that, then ``hangover_s`` longer. Frames quieter
    than ``min_dbfs`` or more than ``range_db`` below the track's loud level (its 99th
    percentile: crosstalk, background voices) never enter. Pauses under ``min_gap_s``
    are bridged, then speech under ``min_speech_s`` is dropped.

    Parameters
    ----------
    samples
        One track, shape ``(frames,)``, float in [-1, 1].
    sr
        Sample rate of ``samples``.
    frame_s, floor_percentile, rise_db, hysteresis_db, range_db, min_dbfs
        Framing and thresholds, as above.
    hangover_s, min_speech_s, min_gap_s
        Smoothing, as above (seconds).

    Returns
    -------
    tuple of Span
        Time-ordered, disjoint speech spans in seconds.

    Raises
    ------
    ValueError
        When ``samples`` is not 1-D or holds NaN/inf, or an option is out of range.

    Examples
    --------
    >>> speech_activity(np.zeros(16000, dtype=np.float32), sr=16000)
    ()
    """
    x = check_track(samples, sr=sr)
    frame = round(frame_s * sr)
    if frame < 1 or not 0 <= floor_percentile <= 100:
        raise ValueError(f"frame_s={frame_s} and floor_percentile={floor_percentile} out of range")
    if min(hangover_s, min_speech_s, min_gap_s, rise_db, hysteresis_db, range_db) < 0:
        raise ValueError("hangover_s, min_speech_s, min_gap_s and the dB margins must be >= 0")
    n = x.size // frame
    if n == 0:
        return ()
    head = x[: n * frame].reshape(n, frame)
    db = 10.0 * np.log10(np.einsum("ij,ij->i", head, head) / frame + EPS_POWER)
    floor, loud = np.percentile(db, [floor_percentile, 99.0])
    high = max(floor + rise_db, loud - range_db, min_dbfs)
    starts, ends = runs(db >= high - hysteresis_db)
    highs = np.concatenate([[0], np.cumsum(db >= high)])
    keep = highs[ends] > highs[starts]
    starts, ends = starts[keep], np.minimum(ends[keep] + round(hangover_s / frame_s), n)
    starts, ends = bridge(starts, ends, min_gap=round(min_gap_s / frame_s))
    long_enough = (ends - starts) * frame_s >= min_speech_s - 1e-9
    step = frame / sr
    return tuple(
        Span(round(float(s) * step, 3), round(float(e) * step, 3))
        for s, e in zip(starts[long_enough], ends[long_enough], strict=True)
    )


def check_track(samples: FloatArray, *, sr: int) -> npt.NDArray[np.float32]:
    """``samples`` as one finite float32 track; ``ValueError`` otherwise."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected one track of shape (frames,), got shape {x.shape}")
    if sr <= 0:
        raise ValueError(f"sr must be > 0, got {sr}")
    if not np.isfinite(x).all():
        raise ValueError("the track holds NaN or infinite samples")
    return x


def runs(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Start and end (exclusive) indices of the True runs of ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def bridge(
    starts: npt.NDArray[np.intp], ends: npt.NDArray[np.intp], *, min_gap: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Merge runs separated by fewer than ``min_gap`` frames (or overlapping)."""
    if starts.size == 0:
        return starts, ends
    ends = np.maximum.accumulate(ends)
    split = starts[1:] - ends[:-1] >= max(min_gap, 1)
    return starts[np.concatenate([[True], split])], ends[np.concatenate([split, [True]])]
