"""Where a track plays hold music or tones instead of speech (numpy only).

:func:`hold_music` finds wordless, steady-spectrum stretches of a track's activity;
:func:`spectral_stability` tells music and tones from speech the ASR missed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from pipeline import TARGET_SR
from pipeline.acoustic.activity import EPS_POWER, FloatArray, check_track, runs
from pipeline.acoustic.options import DEFAULT_OPTIONS, MetricOptions
from pipeline.intervals import Interval, intersect, minus, to_spans, total, union
from pipeline.text import bare
from pipeline.types import Span, Word

NAN = float("nan")
WORD_PAD_S = 0.3
"""Sound this close to a spoken word is that word's speech, not hold music."""
_SOUND_BRIDGE_S = 1.5
"""Pauses shorter than this inside wordless sound (between beeps, notes) keep one stretch."""
_MIN_SOUNDING_SHARE = 0.5
"""Hold music sounds at least this share of its stretch: keypad tones and sparse beeps
in a silence are the silence rules' business."""
_MAX_NOTE_WORDS = 4
_STRAY_JOIN_S = 3.0
_MAX_STRAY_WORDS = 2
"""Music stretches this close with at most this many words between them are one hold:
the words are Whisper's inventions on the music, not the agent coming back."""
_TALK_OVER_MUSIC_S = 10.0
"""The longest the customer talks over the music on their own line within one stretch."""
_STABILITY_FRAME_S = 0.064
_STABILITY_HOP_S = 0.02
_STABILITY_LAG_S = 0.04
_STABILITY_BAND_HZ = (100.0, 3800.0)
"""Telephone band: what an 8 kHz line carries, without mains hum."""
_STABILITY_RANGE_DB = 30.0
_MIN_STABILITY_PAIRS = 25
_MAX_STABILITY_PAIRS = 1500
"""A long hold is judged on this many evenly spread frame pairs (bounded time and memory)."""
_EDGE_REACH_S = 1.5
_EDGE_RUN = 5
"""Frames (100 ms) that make a run of speech next to the music, and the median filter."""


def hold_music(
    samples: FloatArray,
    *,
    sr: int = TARGET_SR,
    activity: Sequence[Span],
    words: Sequence[Word],
    listener: bool = False,
    others: Sequence[Span] = (),
    options: MetricOptions = DEFAULT_OPTIONS,
) -> tuple[Span, ...]:
    """Where one track plays hold music or tones instead of speech.

    The energy VAD cannot tell music from a voice: both are sound. Two cues can.

    1. **No words.** Whisper transcribes speech and (after its VAD and the phantom filter)
       leaves music and tones without words. A candidate is the track's activity more
       than 0.3 s away from every spoken word (Whisper's notes in brackets, "[Music]",
       and symbols such as "♪" are not spoken; nor is a redaction tag, "[CARD]", which
       the spectral test below still keeps as speech) and from ``others``, with pauses
       under 1.5 s bridged (between beeps, between notes), at least
       ``options.music_hold_min_s`` long and sounding for at least half of it (its words
       aside).
    2. **A stable spectrum.** Speech the ASR missed (another language, a mumble, a
       segment dropped as a phantom) is also wordless, so each candidate must sound like
       music or a tone: its :func:`spectral_stability` must reach
       ``options.music_min_stability``. Held notes and tones keep their partials from one
       frame to the next whatever their loudness does, while a voice moves its formants
       and alternates voiced and unvoiced sounds within 40 ms. Energy cues (the share of
       quiet frames, 4 Hz modulation) were rejected: amplitude-modulated music and beeps
       fool them, and spectral flatness does not separate voiced speech from music.
       Pitch stability would need YIN over the whole stretch for no better separation.

    Candidates less than 3 s apart with one or two words between them are one stretch
    (Whisper sometimes invents a word on music). On the ``listener``'s line (the
    customer's, when the recorder put the music there) candidates are also one stretch
    across up to 10 s of the listener's own speech ("hello? are you still there?"); that
    speech stays theirs, so the stretch comes back in pieces. Otherwise more words end
    the stretch, and a remainder shorter than ``options.music_hold_min_s`` stays talk.
    Finally each end of a stretch moves, by up to 1.5 s, to where the music meets the
    speech next to it (the first 100 ms whose spectrum moves like speech): Whisper's word
    edges next to music can be a second off.

    Parameters
    ----------
    samples
        One track, shape ``(frames,)``.
    sr
        Sample rate of ``samples``.
    activity
        The track's :func:`speech_activity`.
    words
        The words heard on this track, in time order (on a mono call: every word).
    listener
        This is the line of the party who hears the music (the customer's): their words
        over it do not end it.
    others
        Where the other party speaks: no hold there (the customer's radio under the
        agent's explanation). Empty for the agent's track, where the customer may well
        say "hello?" over the hold music.
    options
        ``music_hold_min_s`` and ``music_min_stability`` are read.

    Returns
    -------
    tuple of Span
        Time-ordered, disjoint stretches of music or tones.

    Raises
    ------
    ValueError
        When ``samples`` is not one finite track.

    Examples
    --------
    >>> hold_music(agent, sr=16000, activity=speech_activity(agent), words=[])  # doctest: +SKIP
    (Span(start_s=9.0, end_s=21.0),)
    """
    x = check_track(samples, sr=sr)
    duration = x.size / sr
    said = spoken(words)
    sound = union([(float(s.start_s), min(float(s.end_s), duration)) for s in activity])
    talk = union([(float(s.start_s), float(s.end_s)) for s in others])
    own = union([(w.start_s - WORD_PAD_S, w.end_s + WORD_PAD_S) for w in said])
    candidates = [
        stretch
        for region in minus([(0.0, duration)], union([*own, *talk]))
        for stretch in _stretches(intersect(sound, [region]), bridge_s=_SOUND_BRIDGE_S)
    ]
    threshold = options.music_min_stability
    music: list[Interval] = []
    for (start, end), pieces in _join_stretches(candidates, said, talk, listener=listener):
        wordless = total(minus([(start, end)], own))  # the listener's words are not music
        long_enough = end - start >= options.music_hold_min_s
        if not (long_enough and total(pieces) >= _MIN_SOUNDING_SHARE * wordless):
            continue
        if spectral_stability(x, sr=sr, spans=to_spans(pieces)) >= threshold:
            stretch = _music_edges(x, sr=sr, stretch=(start, end), threshold=threshold)
            around = minus([stretch], own) if listener else [stretch]
            music.extend(_music_edges(x, sr=sr, stretch=s, threshold=threshold) for s in around)
    return to_spans(union(music))


def spectral_stability(samples: FloatArray, *, sr: int = TARGET_SR, spans: Sequence[Span]) -> float:
    """How much the spectrum stays the same over 40 ms, in the median over ``spans``.

    Each 64 ms Hann frame (every 20 ms, 100-3800 Hz magnitude spectrum) is compared with
    the frame 40 ms later by cosine similarity; pairs with a frame more than 30 dB below
    the loud frames are left out, and at most 1500 pairs, evenly spread, are measured.
    Measured on ``tests/data`` and synthetic hold sounds (6-20 s stretches): speech
    0.66-0.80; chords, melodies with or without drums, beeps and tones 0.93-1.0, also
    through 8 kHz µ-law and with noise 20 dB down; white noise about 0.79.

    Parameters
    ----------
    samples
        One track, shape ``(frames,)``.
    sr
        Sample rate of ``samples`` (at least 8 kHz).
    spans
        Where to measure.

    Returns
    -------
    float
        In [0, 1]; NaN when the spans hold under 0.5 s of measurable frames.

    Examples
    --------
    >>> t = np.arange(16000 * 8) / 16000
    >>> tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    >>> spectral_stability(tone, sr=16000, spans=[Span(0.0, 8.0)])
    1.0
    """
    x = check_track(samples, sr=sr)
    frame, hop, lag = _stability_frames(sr)
    starts = np.concatenate(
        [np.zeros(0, dtype=np.intp)]
        + [
            np.arange(
                round(s.start_s * sr), min(round(s.end_s * sr), x.size) - frame - lag + 1, hop
            )
            for s in spans
        ]
    )
    starts = starts[starts >= 0]
    if starts.size < _MIN_STABILITY_PAIRS:
        return NAN
    if starts.size > _MAX_STABILITY_PAIRS:
        starts = starts[
            np.linspace(0, starts.size - 1, _MAX_STABILITY_PAIRS).round().astype(np.intp)
        ]
    similarity, loud = _pair_similarity(x, sr=sr, starts=starts)
    return round(float(np.median(similarity[loud])), 4)


def _stability_frames(sr: int) -> tuple[int, int, int]:
    """Frame length, hop and lag of :func:`spectral_stability`, in samples."""
    frame, hop, lag = (
        round(v * sr) for v in (_STABILITY_FRAME_S, _STABILITY_HOP_S, _STABILITY_LAG_S)
    )
    return frame, hop, lag


def _pair_similarity(
    x: npt.NDArray[np.float32], *, sr: int, starts: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Cosine similarity of the band spectra of the frames at ``starts`` and 40 ms later,
    and whether both frames are within 30 dB of the loud ones."""
    frame, _, lag = _stability_frames(sr)
    freqs = np.fft.rfftfreq(frame, 1 / sr)
    band = (freqs >= _STABILITY_BAND_HZ[0]) & (freqs <= _STABILITY_BAND_HZ[1])
    window = np.hanning(frame).astype(np.float32)
    index = starts[:, None] + np.arange(frame)
    now, later = (
        np.abs(np.fft.rfft(x[index + shift] * window, axis=1))[:, band] for shift in (0, lag)
    )
    level = 10 * np.log10(np.mean(np.square(now), axis=1) + EPS_POWER)
    level_later = 10 * np.log10(np.mean(np.square(later), axis=1) + EPS_POWER)
    floor = np.percentile(level, 95) - _STABILITY_RANGE_DB
    norms = np.linalg.norm(now, axis=1) * np.linalg.norm(later, axis=1)
    similarity = np.einsum("ij,ij->i", now, later) / np.maximum(norms, EPS_POWER)
    return similarity, (level >= floor) & (level_later >= floor)


def _music_edges(
    x: npt.NDArray[np.float32], *, sr: int, stretch: Interval, threshold: float
) -> Interval:
    """Where the music of ``stretch`` meets the speech next to it.

    The stretch ends 0.3 s from the ASR's words, and Whisper's word edges next to music
    can be a second off. Within 1.5 s of each end (a quarter of the stretch at most), the
    edge moves to the nearest 100 ms of sound whose spectrum moves like speech (40 ms
    similarity under ``threshold``, medians over 100 ms); without such sound the edge
    stays (the music meets silence there, which the hold takes in anyway).
    """
    start, end = stretch
    reach = min(_EDGE_REACH_S, (end - start) / 4)
    speech = _speech_runs(x, sr=sr, start_s=start - reach, end_s=start + reach, threshold=threshold)
    if speech:
        start = speech[-1][1]
    speech = _speech_runs(x, sr=sr, start_s=end - reach, end_s=end + reach, threshold=threshold)
    if speech:
        end = speech[0][0]
    return (start, end) if end > start else stretch


def _speech_runs(
    x: npt.NDArray[np.float32], *, sr: int, start_s: float, end_s: float, threshold: float
) -> list[Interval]:
    """Stretches of at least 100 ms between ``start_s`` and ``end_s`` that sound like speech,
    not like music or silence."""
    frame, hop, lag = _stability_frames(sr)
    first = max(0, round(start_s * sr) - frame // 2)
    starts = np.arange(first, min(round(end_s * sr), x.size - frame - lag) - frame // 2, hop)
    if starts.size < _EDGE_RUN:
        return []
    similarity, loud = _pair_similarity(x, sr=sr, starts=starts)
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(similarity, _EDGE_RUN), axis=1)
    speechy = np.zeros(similarity.size, dtype=bool)
    speechy[_EDGE_RUN // 2 : _EDGE_RUN // 2 + smooth.size] = smooth < threshold
    run_starts, run_ends = runs(speechy & loud)
    times = (starts + frame / 2) / sr
    return [
        (float(times[a]), float(times[b - 1] + hop / sr))
        for a, b in zip(run_starts, run_ends, strict=True)
        if b - a >= _EDGE_RUN
    ]


def spoken(words: Sequence[Word]) -> list[Word]:
    """The words that were said, in time order: not Whisper's notes in brackets ("[Music]",
    "(upbeat music)", at most four words each) and not bare symbols ("♪", "...")."""
    out = []
    note_words = 0  # words left in the note being read
    for w in words:
        text = w.text.strip()
        if text[:1] in "[(":
            note_words = _MAX_NOTE_WORDS
        if note_words > 0:
            note_words = 0 if text[-1:] in "])" else note_words - 1
        elif bare(text):
            out.append(w)
    return sorted(out, key=lambda w: w.start_s)


def _stretches(
    pieces: Sequence[Interval], *, bridge_s: float
) -> list[tuple[Interval, list[Interval]]]:
    """Pieces joined across pauses under ``bridge_s``: each stretch with its pieces."""
    out: list[tuple[Interval, list[Interval]]] = []
    for piece in pieces:
        if out and piece[0] - out[-1][0][1] < bridge_s:
            (start, _), members = out[-1]
            out[-1] = ((start, piece[1]), [*members, piece])
        else:
            out.append((piece, [piece]))
    return out


def _join_stretches(
    stretches: Sequence[tuple[Interval, list[Interval]]],
    words: Sequence[Word],
    others: Sequence[Interval],
    *,
    listener: bool,
) -> list[tuple[Interval, list[Interval]]]:
    """Join wordless stretches that a stray word or two (or, on the listener's line, their
    own speech), and nobody else, separates."""
    starts = [w.start_s for w in words]
    joined: list[tuple[Interval, list[Interval]]] = []
    for (start, end), pieces in stretches:
        if joined:
            (first, last), members = joined[-1]
            said = bisect_left(starts, start) - bisect_left(starts, last)
            stray = 0 < said <= _MAX_STRAY_WORDS and start - last < _STRAY_JOIN_S
            talk_over = listener and said > 0 and start - last < _TALK_OVER_MUSIC_S
            if (stray or talk_over) and not intersect(others, [(last, start)]):
                joined[-1] = ((first, end), [*members, *pieces])
                continue
        joined.append(((start, end), list(pieces)))
    return joined
