"""Loudness and pitch of a party's speech, and how far they rise over the party's own
baseline (agitation).

:func:`prosody` measures windows of speech (``librosa.yin`` for pitch);
:func:`agitation_scores`, :func:`agitation_spans` and :func:`agitation_max` compare them
with the party's calm part. :func:`pitch_and_voicing` is shared with diarization.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline import TARGET_SR
from pipeline.acoustic.activity import EPS_POWER, SPAN_TOLERANCE_S, FloatArray, check_track
from pipeline.acoustic.options import DEFAULT_OPTIONS, MetricOptions
from pipeline.intervals import Interval, to_spans, union
from pipeline.types import Span

NAN = float("nan")
PITCH_FMIN_HZ = 65.0
PITCH_FMAX_HZ = 400.0
PITCH_FRAME = 1024
"""YIN frame at 16 kHz: 64 ms holds more than two periods of a 65 Hz voice."""
PITCH_HOP = 512
MAX_VOICED_ZCR = 0.15
"""Zero crossings per sample above which a frame is a fricative or noise, not voice."""
_VOICED_RANGE_DB = 20.0
_MIN_VOICED_FRAMES = 3
_MIN_LOUDNESS_SPREAD_DB = 3.0
_MIN_PITCH_SPREAD_ST = 1.5
_MAD_TO_SD = 1.4826
_MIN_SCORED_WINDOW_S = 0.5
_MIN_SCORED_WINDOWS = 3
_AGITATION_JOIN_S = 1.0


@dataclass(frozen=True, slots=True)
class ProsodyWindow:
    """Loudness and pitch of a piece (at most about ``window_s``) of one speech span."""

    start_s: float
    end_s: float
    loudness_db: float
    """RMS level in dBFS over the window."""
    pitch_hz: float
    """Median YIN f0 over the window's voiced frames; NaN when too few are voiced."""


def prosody(
    samples: FloatArray,
    *,
    sr: int = TARGET_SR,
    spans: Sequence[Span],
    window_s: float = 2.0,
) -> tuple[ProsodyWindow, ...]:
    """Loudness and pitch of one party's speech, in windows of about ``window_s``.

    Each span is cut into equal windows of about ``window_s``. Pitch is
    ``librosa.yin`` (65-400 Hz, 1024-sample frames at 16 kHz) run on the speech only;
    a frame is voiced when it is within 20 dB of the party's loud speech, crosses
    zero rarely and its f0 is inside the search range. A window's pitch is the
    median over its voiced frames.

    Parameters
    ----------
    samples
        One track, shape ``(frames,)``; 16 kHz expected (other rates are resampled).
    sr
        Sample rate of ``samples``.
    spans
        Where the party speaks (:func:`~pipeline.acoustic.activity.speech_activity`).
    window_s
        Target window length.

    Returns
    -------
    tuple of ProsodyWindow
        Time-ordered.

    Raises
    ------
    ValueError
        When ``samples`` is not one finite track, or a span lies outside it.
    """
    x = check_track(samples, sr=sr)
    if not (math.isfinite(window_s) and window_s > 0):
        raise ValueError(f"window_s must be > 0, got {window_s!r}")
    if sr != TARGET_SR:
        import librosa

        x = librosa.resample(x, orig_sr=sr, target_sr=TARGET_SR, res_type="soxr_hq")
    bounds = _window_bounds(spans, length=x.size, window_s=window_s)
    if not bounds:
        return ()
    times, f0, voiced = _pitch_frames(x, [(s, e) for s, e in union(bounds)])
    out = []
    for start, end in bounds:
        a, b = round(start * TARGET_SR), round(end * TARGET_SR)
        power = float(np.mean(np.square(x[a:b], dtype=np.float64))) if b > a else 0.0
        inside = voiced & (times >= start) & (times < end)
        pitch = float(np.median(f0[inside])) if inside.sum() >= _MIN_VOICED_FRAMES else NAN
        out.append(ProsodyWindow(start, end, round(10 * math.log10(power + EPS_POWER), 2), pitch))
    return tuple(out)


def _window_bounds(spans: Sequence[Span], *, length: int, window_s: float) -> list[Interval]:
    duration = length / TARGET_SR
    bounds: list[Interval] = []
    for s in spans:
        if s.start_s < 0 or s.end_s > duration + SPAN_TOLERANCE_S or s.end_s < s.start_s:
            raise ValueError(
                f"span {s.start_s}..{s.end_s} s is outside the track (0..{duration:.3f} s)"
            )
    for start, end in union([(s.start_s, min(s.end_s, duration)) for s in spans]):
        n = max(1, round((end - start) / window_s))
        edges = np.linspace(start, end, n + 1)
        bounds.extend(
            (round(float(a), 3), round(float(b), 3)) for a, b in itertools.pairwise(edges)
        )
    return bounds


def pitch_and_voicing(
    x: npt.NDArray[np.float32], *, hop: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """YIN f0 (65–400 Hz, 64 ms frames at 16 kHz, not centred) with each frame's level in
    dB and zero-crossing rate: what a voicing decision needs. Shared with diarization."""
    import librosa

    f0 = librosa.yin(
        x,
        fmin=PITCH_FMIN_HZ,
        fmax=PITCH_FMAX_HZ,
        sr=TARGET_SR,
        frame_length=PITCH_FRAME,
        hop_length=hop,
        center=False,
    ).astype(np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(x, PITCH_FRAME)[::hop][: f0.size]
    power_db = 10 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=1) + EPS_POWER)
    zcr = np.mean(np.signbit(frames[:, 1:]) != np.signbit(frames[:, :-1]), axis=1)
    return f0, power_db, zcr


def _pitch_frames(
    x: npt.NDArray[np.float32], spans: Sequence[Interval]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """YIN on the speech only: frame centre times, f0 and a voicing guess per frame.

    The spans are joined into one signal so YIN runs once; frames that straddle two
    spans are dropped.
    """

    kept = [(s, e) for s, e in spans if round(e * TARGET_SR) - round(s * TARGET_SR) >= PITCH_FRAME]
    if not kept:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
    pieces = [x[round(s * TARGET_SR) : round(e * TARGET_SR)] for s, e in kept]
    joined = np.concatenate(pieces)
    f0, power_db, zcr = pitch_and_voicing(joined, hop=PITCH_HOP)
    offsets = np.cumsum([0] + [p.size for p in pieces])
    frame_at = np.arange(f0.size) * PITCH_HOP
    piece = np.searchsorted(offsets, frame_at, side="right") - 1
    times = (
        np.asarray([s for s, _ in kept])[piece]
        + (frame_at - offsets[piece] + PITCH_FRAME / 2) / TARGET_SR
    )
    voiced = (
        (frame_at + PITCH_FRAME <= offsets[piece + 1])
        & (zcr < MAX_VOICED_ZCR)
        & (power_db >= np.percentile(power_db, 90) - _VOICED_RANGE_DB)
        & (f0 > PITCH_FMIN_HZ * 1.01)
        & (f0 < PITCH_FMAX_HZ * 0.99)
    )
    return times, f0, voiced


def agitation_scores(
    windows: Sequence[ProsodyWindow],
    *,
    options: MetricOptions = DEFAULT_OPTIONS,
) -> tuple[float, ...]:
    """How far each window's loudness or pitch rises above the party's own baseline.

    The baseline of each measure is the lower of two medians: over the party's first
    ``options.agitation_baseline_s`` of speech, and over the whole call (so a caller who
    starts angry and calms down is still measured against the calm part). Rises are in
    robust standard deviations (1.4826 × MAD over the call, at least 3 dB for loudness
    and 1.5 semitones for pitch). A window's score is the largest of the loudness rise,
    the pitch rise, and their sum over √2 (a rise in both at once is stronger evidence
    than either alone, and on calm speech that sum is as spread as each rise). Windows
    under 0.5 s, and calls with fewer than 3 measurable windows, score NaN.

    Parameters
    ----------
    windows
        One party's :func:`prosody`.
    options
        ``agitation_baseline_s`` is read.

    Returns
    -------
    tuple of float
        One score per window.
    """
    if not windows:
        return ()
    lengths = np.array([w.end_s - w.start_s for w in windows])
    long_enough = lengths >= _MIN_SCORED_WINDOW_S
    first = np.cumsum(lengths) - lengths < options.agitation_baseline_s  # speech before it
    loud = np.where(long_enough, [w.loudness_db for w in windows], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        pitch = np.where(long_enough, 12 * np.log2([w.pitch_hz for w in windows]), np.nan)
    z_loud = _robust_z(loud, first, min_spread=_MIN_LOUDNESS_SPREAD_DB)
    z_pitch = _robust_z(pitch, first, min_spread=_MIN_PITCH_SPREAD_ST)
    both = (z_loud + z_pitch) / math.sqrt(2)
    return tuple(round(float(z), 2) for z in np.fmax(np.fmax(z_loud, z_pitch), both))


def _robust_z(
    values: npt.NDArray[np.float64], first: npt.NDArray[np.bool_], *, min_spread: float
) -> npt.NDArray[np.float64]:
    ok = np.isfinite(values)
    if ok.sum() < _MIN_SCORED_WINDOWS:
        return np.full(values.shape, np.nan)
    everything = float(np.median(values[ok]))
    early = values[ok & first]
    base = min(everything, float(np.median(early))) if early.size else everything
    spread = max(_MAD_TO_SD * float(np.median(np.abs(values[ok] - everything))), min_spread)
    return (values - base) / spread


def agitation_spans(
    windows: Sequence[ProsodyWindow],
    *,
    options: MetricOptions = DEFAULT_OPTIONS,
) -> tuple[Span, ...]:
    """Where the party's score (:func:`agitation_scores`) reaches ``options.agitation_min_z``.

    Agitated windows less than 1 s apart are joined into one span.

    Examples
    --------
    >>> agitation_spans(prosody(customer, sr=16000, spans=speech))  # doctest: +SKIP
    (Span(start_s=61.2, end_s=66.8),)
    """
    scores = agitation_scores(windows, options=options)
    hot = [
        (w.start_s, w.end_s)
        for w, z in zip(windows, scores, strict=True)
        if z >= options.agitation_min_z
    ]
    joined: list[Interval] = []
    for start, end in hot:
        if joined and start - joined[-1][1] < _AGITATION_JOIN_S:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return to_spans(joined)


def agitation_max(
    windows: Sequence[ProsodyWindow],
    *,
    options: MetricOptions = DEFAULT_OPTIONS,
) -> float:
    """The highest :func:`agitation_scores` of the party (NaN when none is measurable)."""
    scores = [z for z in agitation_scores(windows, options=options) if math.isfinite(z)]
    return max(scores) if scores else NAN
