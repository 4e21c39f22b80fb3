"""Pack the speech of both channels into one stream for the ASR, then give it back.

Whisper's encoder always reads 30-second windows, so the cost of a call is the number
of windows, not the seconds of speech in them. Transcribing the agent and the
customer channel separately fills two sets of half-empty windows; on a short call
that doubles the work. Here the speech stretches of every channel (found by the
VAD on each channel, so one party's voice never leaks into the other's words) are
laid end to end in time order, with a short silence between stretches, and
transcribed once. Each word then goes back to the channel and time it came from,
by where its middle falls.

Pure functions: no model here (``models/asr.py`` runs the VAD and the ASR).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.types import Segment, Word

GAP_S = 2.0
"""Silence between packed stretches: keeps words from running across a boundary. The
batched pipeline's own VAD cuts it out again, so it costs no encoder time."""

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Piece:
    """One speech stretch of one track, and where it lies in the packed stream."""

    track: int
    start_s: float
    """Start in the track (seconds)."""
    packed_start_s: float
    duration_s: float

    @property
    def packed_end_s(self) -> float:
        return self.packed_start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class Packed:
    samples: FloatArray
    pieces: tuple[Piece, ...]


def pack(
    tracks: Sequence[FloatArray], speech: Sequence[Sequence[tuple[int, int]]], *, sr: int
) -> Packed:
    """Lay every track's speech stretches end to end, in time order.

    Parameters
    ----------
    tracks
        The tracks' samples (mono each, same ``sr``).
    speech
        For each track, its speech stretches as ``(start, end)`` sample indices.
    sr
        Sample rate.
    """
    order = sorted(
        ((start, k, end) for k, stretches in enumerate(speech) for start, end in stretches),
        key=lambda x: (x[0], x[1]),
    )
    gap = np.zeros(int(GAP_S * sr), dtype=np.float32)
    parts: list[FloatArray] = []
    pieces: list[Piece] = []
    at = 0
    for start, k, end in order:
        chunk = tracks[k][start:end].astype(np.float32, copy=False)
        if not len(chunk):
            continue
        pieces.append(Piece(k, start / sr, at / sr, len(chunk) / sr))
        parts.extend((chunk, gap))
        at += len(chunk) + len(gap)
    samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return Packed(samples, tuple(pieces))


def unpack(
    segments: Sequence[Segment], pieces: Sequence[Piece], *, tracks: int
) -> list[list[Segment]]:
    """Split the packed stream's segments back into each track's segments, in track time.

    A segment whose words come from several stretches becomes one segment per run of
    words from the same track; it keeps Whisper's quality signals. A segment without
    word timings goes where its middle falls.
    """
    starts = [p.packed_start_s for p in pieces]
    out: list[list[Segment]] = [[] for _ in range(tracks)]
    for segment in segments:
        for piece, words in _runs(segment, pieces, starts):
            out[piece.track].append(_moved(segment, piece, words))
    for track in out:
        track.sort(key=lambda s: s.start_s)
    return out


def _piece_at(t: float, pieces: Sequence[Piece], starts: Sequence[float]) -> Piece:
    """The stretch that packed time ``t`` falls in; in a gap, the nearer of its two sides
    (Whisper often times a stretch's first word a little early)."""
    k = max(0, bisect.bisect_right(starts, t) - 1)
    piece = pieces[k]
    if t > piece.packed_end_s and k + 1 < len(pieces):
        after = pieces[k + 1]
        if after.packed_start_s - t < t - piece.packed_end_s:
            return after
    return piece


def _runs(
    segment: Segment, pieces: Sequence[Piece], starts: Sequence[float]
) -> list[tuple[Piece, tuple[Word, ...]]]:
    if not pieces:
        return []
    if not segment.words:
        return [(_piece_at((segment.start_s + segment.end_s) / 2, pieces, starts), ())]
    runs: list[tuple[Piece, list[Word]]] = []
    for word in segment.words:
        piece = _piece_at((word.start_s + word.end_s) / 2, pieces, starts)
        if runs and runs[-1][0] is piece:
            runs[-1][1].append(word)
        else:
            runs.append((piece, [word]))
    return [(piece, tuple(words)) for piece, words in runs]


def _to_track(t: float, piece: Piece) -> float:
    inside = min(max(t, piece.packed_start_s), piece.packed_end_s)
    return round(inside - piece.packed_start_s + piece.start_s, 3)


def _moved(segment: Segment, piece: Piece, words: tuple[Word, ...]) -> Segment:
    moved = tuple(
        Word(
            start_s=_to_track(w.start_s, piece),
            end_s=_to_track(w.end_s, piece),
            text=w.text,
            probability=w.probability,
        )
        for w in words
    )
    if moved:
        text = "".join(w.text for w in words).strip()
        start, end = moved[0].start_s, moved[-1].end_s
    else:
        text = segment.text.strip()
        start, end = _to_track(segment.start_s, piece), _to_track(segment.end_s, piece)
    return Segment(
        start_s=start,
        end_s=end,
        text=text,
        words=moved,
        avg_logprob=segment.avg_logprob,
        no_speech_prob=segment.no_speech_prob,
        compression_ratio=segment.compression_ratio,
    )
