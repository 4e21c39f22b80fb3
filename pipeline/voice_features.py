"""A voice's features, in numpy and librosa (no model): what diarization clusters.

:func:`frame_features` computes MFCC, delta-MFCC, spectral shape, level and YIN pitch
every 10 ms of a track; :func:`librosa_vectors` pools them into one voice vector per
window; :func:`voice_gain` tells whether two voices explain the speech better than one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline import TARGET_SR
from pipeline.acoustic.prosody import (
    MAX_VOICED_ZCR,
    PITCH_FMAX_HZ,
    PITCH_FMIN_HZ,
    PITCH_FRAME,
    pitch_and_voicing,
)
from pipeline.intervals import Interval

FloatArray = npt.NDArray[np.float64]
_FRAME = 512
"""MFCC/spectral frame at 16 kHz: 32 ms."""
_HOP = 160
"""10 ms between feature frames."""
N_MFCC = 20
_FMAX_HZ = 3800.0
"""Telephone band: an 8 kHz recording holds nothing above 4 kHz."""
_ACTIVE_RANGE_DB = 30.0
"""Frames this far below a window's loudest are pauses inside it and are not pooled."""
_VOICED_RANGE_DB = 20.0
EPS = 1e-10


@dataclass(frozen=True, slots=True)
class Frames:
    """Per-10 ms acoustic features of a whole track (see :func:`frame_features`)."""

    values: FloatArray
    """Rows: MFCC 0-19, delta-MFCC 0-19, centroid, bandwidth, roll-off (kHz), log
    flatness, level (dB); one column per frame."""
    f0_hz: FloatArray
    voiced: npt.NDArray[np.bool_]

    @property
    def count(self) -> int:
        return int(self.values.shape[1])

    @property
    def mfcc(self) -> FloatArray:
        return self.values[:N_MFCC]

    @property
    def level_db(self) -> FloatArray:
        return np.asarray(self.values[-1], dtype=np.float64)


def frame_features(x: npt.NDArray[np.float32]) -> Frames:
    """MFCC, delta-MFCC, spectral shape, level and YIN pitch every 10 ms of a 16 kHz track.

    Parameters
    ----------
    x
        The mono track at 16 kHz.

    Returns
    -------
    Frames
        Features up to 3.8 kHz (what a telephone line carries), f0 and a voicing guess.
    """
    import librosa

    stft = librosa.stft(x, n_fft=_FRAME, hop_length=_HOP, win_length=_FRAME, center=True)
    power = np.abs(stft) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=TARGET_SR, n_mels=40, fmin=60.0, fmax=_FMAX_HZ)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=N_MFCC)
    delta = librosa.feature.delta(mfcc, width=9, mode="nearest")
    freq = librosa.fft_frequencies(sr=TARGET_SR, n_fft=_FRAME)
    band = freq <= _FMAX_HZ
    mag = np.sqrt(power[band])
    shape = [
        librosa.feature.spectral_centroid(S=mag, freq=freq[band]) / 1000,
        librosa.feature.spectral_bandwidth(S=mag, freq=freq[band]) / 1000,
        librosa.feature.spectral_rolloff(S=mag, freq=freq[band], sr=TARGET_SR) / 1000,
        np.log(librosa.feature.spectral_flatness(S=mag) + EPS),
        10 * np.log10(power.mean(axis=0, keepdims=True) + EPS),
    ]
    values = np.vstack([mfcc, delta, *shape]).astype(np.float64)
    f0, voiced = _pitch_track(x, n_frames=values.shape[1])
    return Frames(values=values, f0_hz=f0, voiced=voiced)


def _standardise(raw: FloatArray) -> FloatArray:
    """Columns to mean 0, SD 1; a missing value (an unvoiced window's pitch) to its column's
    median, or 0 when the whole column is missing."""
    known = ~np.isnan(raw)
    medians = np.array(
        [np.median(col[ok]) if ok.any() else 0.0 for col, ok in zip(raw.T, known.T, strict=True)]
    )
    columns = np.where(known, raw, medians)
    sd = columns.std(axis=0)
    return np.asarray((columns - columns.mean(axis=0)) / np.where(sd > EPS, sd, 1.0))


def librosa_vectors(frames: Frames, windows: Sequence[Interval]) -> FloatArray:
    """One voice vector per window from the track's :func:`frame_features`: MFCC means
    and spreads, delta spreads, spectral shape and pitch, standardised over the call
    (they come in different units): columns with mean 0 and (unless constant) SD 1."""
    return _standardise(_raw_vectors(frames, windows))


def _raw_vectors(frames: Frames, windows: Sequence[Interval]) -> FloatArray:
    """MFCC means and spreads, delta spreads, spectral shape and pitch per window."""
    rows = []
    for start, end in windows:
        a, b = frame_range(start, end, n_frames=frames.count)
        level = frames.level_db[a:b]
        spectral = frames.values[:-1, a:b][:, level >= level.max() - _ACTIVE_RANGE_DB]
        mfcc = spectral[1:N_MFCC]
        deltas = spectral[N_MFCC + 1 : 2 * N_MFCC]
        shape = spectral[2 * N_MFCC :]
        log_f0 = np.log(frames.f0_hz[a:b][frames.voiced[a:b]])
        rows.append(
            np.concatenate(
                [
                    mfcc.mean(axis=1),
                    mfcc.std(axis=1),
                    deltas.std(axis=1),
                    shape.mean(axis=1),
                    _pitch_stats(log_f0),
                ]
            )
        )
    return np.asarray(rows, dtype=np.float64)


def _pitch_track(
    x: npt.NDArray[np.float32], *, n_frames: int
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """YIN f0 and a voicing guess every 20 ms, repeated onto the 10 ms feature grid.

    YIN is most of the cost of :func:`frame_features`; a voice's pitch statistics over
    a 1.5 s window do not need a finer grid than 20 ms.
    """

    hop = 2 * _HOP
    padded = np.pad(x, PITCH_FRAME // 2)
    f0, power_db, zcr = pitch_and_voicing(padded, hop=hop)
    voiced = (
        (zcr < MAX_VOICED_ZCR)
        & (power_db >= np.percentile(power_db, 95) - _VOICED_RANGE_DB)
        & (f0 > PITCH_FMIN_HZ * 1.01)
        & (f0 < PITCH_FMAX_HZ * 0.99)
    )
    f0_out = np.full(n_frames, PITCH_FMIN_HZ)
    voiced_out = np.zeros(n_frames, dtype=bool)
    n = min(n_frames, 2 * f0.size)
    f0_out[:n], voiced_out[:n] = np.repeat(f0, 2)[:n], np.repeat(voiced, 2)[:n]
    return f0_out, voiced_out


def _pitch_stats(log_f0: FloatArray) -> FloatArray:
    """Median and spread (IQR) of log f0; NaN (imputed later) with too few voiced frames."""
    if log_f0.size < 5:
        return np.array([np.nan, np.nan])
    q25, q50, q75 = np.percentile(log_f0, [25, 50, 75])
    return np.array([q50, q75 - q25])


def frame_range(start_s: float, end_s: float, *, n_frames: int) -> tuple[int, int]:
    a = min(max(0, round(start_s * TARGET_SR / _HOP)), n_frames - 1)
    b = min(max(a + 1, round(end_s * TARGET_SR / _HOP)), n_frames)
    return a, b


def voice_gain(
    frames: Frames,
    windows: Sequence[Interval],
    labels: npt.NDArray[np.intp],
    *,
    penalty: float = 1.9,
    max_frames: int = 3000,
) -> float:
    """ΔBIC per frame of "two voices" over "one voice" on the windows' MFCC frames.

    The classic speaker-change test (Chen & Gopalakrishnan, 1998): one full-covariance
    Gaussian over the MFCCs (1-19) of all speech frames against one per cluster, minus
    ``penalty`` times the BIC cost of the second Gaussian's parameters, per frame.
    Frames under windows of both clusters, and the quietest tenth, are left out. At most
    ``max_frames`` evenly spaced frames are used, so a long call is judged on the same
    footing as the calls the threshold was set on (the gain of splitting one voice in
    two does not fall with length, but the BIC penalty per frame does).

    Parameters
    ----------
    frames
        :func:`frame_features` of the track.
    windows
        ``(start_s, end_s)`` per window.
    labels
        The cluster (0 or 1) of each window.
    penalty
        Weight of the BIC penalty (1 is the textbook value; above 1 guards short calls,
        where two Gaussians overfit one voice).
    max_frames
        Frames the test is run on at most.

    Returns
    -------
    float
        Nats per frame; > 0 favours two voices, 0 when a cluster has too few frames.
        Measured by ``bench/diarize.py`` (defaults): -1.0 to -0.10 for one voice (41
        tracks of 8-90 s, synthetic and real), 1.1 to 1.9 for two clearly different
        voices, 0.06 for two real voices in one room, -0.02 to 0.16 for two alike
        synthetic voices (same sex), where the gate is least sure.
    """
    owner = np.full(frames.count, -1)
    for (start, end), label in zip(windows, labels, strict=True):
        a, b = frame_range(start, end, n_frames=frames.count)
        span = owner[a:b]
        span[span == -1] = label
        span[(span >= 0) & (span != label)] = -2
    covered = owner >= 0
    if not covered.any():
        return 0.0
    keep = np.flatnonzero(
        covered & (frames.level_db >= np.percentile(frames.level_db[covered], 10))
    )
    if keep.size > max_frames:
        keep = keep[np.linspace(0, keep.size - 1, max_frames).round().astype(np.intp)]
    mfcc = frames.mfcc[1:, keep].T
    dims = mfcc.shape[1]
    parts = [mfcc[owner[keep] == c] for c in (0, 1)]
    if min(len(p) for p in parts) <= 2 * dims:
        return 0.0
    n = len(keep)
    gain = 0.5 * (n * _logdet(mfcc) - sum(len(p) * _logdet(p) for p in parts))
    cost = 0.5 * (dims + dims * (dims + 1) / 2) * math.log(n)
    return round(float((gain - penalty * cost) / n), 4)


def _logdet(x: FloatArray) -> float:
    cov = np.cov(x, rowvar=False) + 1e-6 * np.eye(x.shape[1])
    return float(np.linalg.slogdet(cov)[1])
