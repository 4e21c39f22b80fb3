"""Call audio analytics: who talked how much, silences, holds, overtalk, pace, agitation.

Pure functions over one 2-party call:

* :func:`speech_activity` finds the sound of one track (energy VAD, numpy only);
* :func:`hold_music` finds where a track plays hold music or tones instead of speech
  (:func:`spectral_stability` tells the two apart);
* :func:`prosody` measures loudness and pitch over a party's speech, and
  :func:`agitation_spans` / :func:`agitation_max` compare it with that party's own baseline;
* :func:`call_metrics` turns both parties' speech and the transcript into :class:`CallMetrics`;
* :func:`measure_call` runs all of it on the tracks of :func:`pipeline.audio.split_tracks`.

Definitions (every threshold is a field of :class:`MetricOptions`):

* **Speech** of a party is the activity of its track minus its hold music. A **gap** is a
  stretch where nobody speaks, between the first and the last speech of the call (the
  ringing before and the line after do not count). ``silence_s`` sums all gaps.
* **Hold music** is a stretch of a track's activity of at least ``music_hold_min_s`` with
  no spoken word of its party (on a mono call: of anyone, or of the agent when the
  diarized words say who spoke) that sounds like music or a tone, not speech
  (:func:`hold_music`). Recorders put it on either line: on the customer's, it is looked
  for only where the agent does not speak. It is a **hold** together with the gaps that
  touch it (the silence between "please hold" and the music, and before the agent comes
  back), unless it plays before anyone has spoken (queue music: neither talk nor hold).
  The hold lasts until the agent speaks: the customer's speech during the music ("hello?
  are you there?", on either line) stays their speech and does not split the hold.
* Every other gap of at least ``dead_air_min_s`` is exactly one of: a **hold**, when it
  lasts at least ``hold_min_s``, or lasts at least ``announced_hold_min_s`` and starts
  within ``hold_phrase_window_s`` after an agent utterance holding a hold phrase;
  otherwise **dead air**. Holds are not dead air, so ``dead_air_s + hold_s`` exceeds
  ``silence_s`` only by the customer's speech during music holds and by music holds that
  run to the end of the call.
* **Overtalk** is a stretch where both parties speak for at least ``overlap_min_s``. The
  party whose speech started later **interrupts** the other, unless that speech is a
  backchannel: a span (pauses under ``min_gap_s`` bridged) shorter than
  ``backchannel_max_s``, like "mhm" or "yeah". A backchannel is neither overtalk nor an
  interruption. Each overlapping pair of spans counts once, so a party who pauses and
  resumes over the other interrupts again. Hold music is not speech, so talking over
  it is not overtalk.
* **Words per minute** of a party: the words with timestamps in that party's utterances
  over that party's talk minutes.

Stereo and mono:

* **Stereo calls** (activity for ``"agent"`` and ``"customer"``, one track each) are
  measured exactly, up to the energy VAD's frame (20 ms) and the ASR's word edges.
* **Mono calls** (activity only for ``"unknown"``): silences, dead air and holds come from
  the single track, and hold phrases are matched in every utterance (the party of a
  word is at best estimated). When the transcript was diarized (its words name
  ``"agent"`` and ``"customer"``, see :mod:`models.diarize`) the track's speech is split
  between the parties at the word timestamps (:func:`split_mono_speech`), and talk per
  party, the talk ratio, words per minute, overtalk and interruptions are **estimates**:
  as good as the diarization, and overtalk only where the ASR put words of both parties
  at the same time (it usually transcribes one voice of an overlap, so mono overtalk and
  interruptions are a lower bound). Customer agitation stays NaN on mono: a stretch of
  the agent's voice given to the customer would look exactly like a rise in pitch.
  Without party words (diarization refused, every word ``"unknown"``) the per-party
  numbers are NaN, meaning "not measurable", never 0.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline import TARGET_SR
from pipeline.audio import Track
from pipeline.types import Span, Transcript, Word

METRICS_VERSION = 4
"""Bump when a change here changes what :func:`measure_call` returns for the same audio and
transcript: the cached transcript holds the call's metrics, so this is part of its key
(version 2: hold music and tones; per-party numbers on diarized mono calls; 4: words per minute count spoken words)."""

FloatArray = npt.NDArray[np.floating[Any]]
Interval = tuple[float, float]

NAN = float("nan")

DEFAULT_HOLD_PHRASES: tuple[str, ...] = (
    # English
    "please hold",
    "on hold",
    "hold the line",
    "bear with me",
    "one moment please",
    "just a moment",
    "give me a moment",
    # Chinese
    "请您稍等",
    "请稍等",
    "请稍候",
    "稍等一下",
    # Russian
    "оставайтесь на линии",
    "не кладите трубку",
    "подождите пожалуйста",
    "одну минуту",
    "минуточку",
)
"""Lower-case phrases an agent says before a hold, matched inside utterance text."""

DEFAULT_RETURN_PHRASES: tuple[str, ...] = (
    "thank you for holding",
    "thanks for holding",
    "thank you for waiting",
    "thanks for waiting",
    "sorry to keep you waiting",
    "感谢您的耐心等待",
    "谢谢您的等待",
    "让您久等了",
    "спасибо за ожидание",
    "спасибо что дождались",
)
"""What an agent says coming back from a hold: a silence just before one is a hold too,
even when the request itself was misheard."""

PITCH_FMIN_HZ = 65.0
PITCH_FMAX_HZ = 400.0
PITCH_FRAME = 1024
"""YIN frame at 16 kHz: 64 ms holds more than two periods of a 65 Hz voice."""
PITCH_HOP = 512
_MAX_VOICED_ZCR = 0.15
"""Zero crossings per sample above which a frame is a fricative or noise, not voice."""
_VOICED_RANGE_DB = 20.0
_MIN_VOICED_FRAMES = 3
_MIN_LOUDNESS_SPREAD_DB = 3.0
_MIN_PITCH_SPREAD_ST = 1.5
_MAD_TO_SD = 1.4826
_EPS_POWER = 1e-10
_SPAN_TOLERANCE_S = 0.05
_MIN_SCORED_WINDOW_S = 0.5
_MIN_SCORED_WINDOWS = 3
_AGITATION_JOIN_S = 1.0
_WORD_PAD_S = 0.3
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
_WORD_REACH_S = 1.0
"""On a mono call, speech this close to a word can be given that word's party."""
_MAX_WORD_S = 5.0
"""No ASR word lasts longer (bounds the search for the words near a stretch of speech)."""
_PARTIES = ("agent", "customer")


_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def bare(text: str) -> str:
    """Lower case, punctuation to single spaces, "ё" as "е": "Please, HOLD." → "please hold".

    The form phrase checks outside the rubric engine compare (hold phrases, role cues).
    """
    text = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    return _PUNCT.sub(" ", text).strip()


@dataclass(frozen=True, slots=True)
class MetricOptions:
    """Thresholds of :func:`call_metrics` (seconds unless named)."""

    dead_air_min_s: float = 5.0
    """A gap this long is dead air (or a hold)."""
    hold_min_s: float = 20.0
    """A gap this long is a hold even if nobody announced it."""
    announced_hold_min_s: float = 5.0
    """A gap this long is a hold when it follows an agent hold phrase."""
    hold_phrase_window_s: float = 30.0
    """How long after the hold phrase's utterance the gap may start."""
    hold_phrases: tuple[str, ...] = DEFAULT_HOLD_PHRASES
    overlap_min_s: float = 0.5
    """Shorter overlaps are turn-taking, not overtalk."""
    backchannel_max_s: float = 1.0
    """Speech shorter than this that starts over the other party is a backchannel."""
    agitation_baseline_s: float = 30.0
    """The customer's first this-many seconds of speech are one baseline candidate."""
    agitation_min_z: float = 3.0
    """Windows whose rise reaches this many robust SDs over the baseline are agitated."""
    music_hold_min_s: float = 6.0
    """A wordless stretch of music or tones this long on a track is a hold (:func:`hold_music`)."""
    music_min_stability: float = 0.9
    """:func:`spectral_stability` from which a wordless stretch is music or a tone, not speech."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"MetricOptions.{f.name} must be finite and >= 0, got {value!r}")
        if self.hold_min_s < self.dead_air_min_s:
            raise ValueError(
                f"MetricOptions.hold_min_s ({self.hold_min_s}) must be >= "
                f"dead_air_min_s ({self.dead_air_min_s})"
            )
        if self.announced_hold_min_s < self.dead_air_min_s:
            raise ValueError(
                f"MetricOptions.announced_hold_min_s ({self.announced_hold_min_s}) must be >= "
                f"dead_air_min_s ({self.dead_air_min_s})"
            )
        if self.music_hold_min_s <= 0 or self.music_min_stability > 1:
            raise ValueError(
                f"MetricOptions.music_hold_min_s must be > 0 and music_min_stability <= 1, "
                f"got {self.music_hold_min_s!r} and {self.music_min_stability!r}"
            )
        if not all(isinstance(p, str) and bare(p) for p in self.hold_phrases):
            raise ValueError(
                f"MetricOptions.hold_phrases must be non-empty texts, got {self.hold_phrases!r}"
            )


@dataclass(frozen=True, slots=True)
class CallMetrics:
    """What one call sounded like. Seconds unless named; NaN means "not measurable".

    ``*_count`` of dead air and holds are always whole numbers; ``overtalk_count`` and
    ``interruptions_*`` are whole numbers stored as floats so a mono call can say NaN.
    The ``*_spans`` fields say where each event happened, for an inspector to jump to.
    """

    handle_s: float
    talk_s: float
    """Time at least one party speaks."""
    talk_agent_s: float
    talk_customer_s: float
    talk_ratio_agent: float
    """Agent talk / (agent + customer talk)."""
    silence_s: float
    """All gaps between the first and the last speech."""
    dead_air_s: float
    longest_dead_air_s: float
    dead_air_count: int
    hold_count: int
    hold_s: float
    longest_hold_s: float
    overtalk_s: float
    overtalk_count: float
    interruptions_agent: float
    interruptions_customer: float
    wpm_agent: float
    wpm_customer: float
    customer_agitation_max: float
    """Highest rise of the customer's loudness or pitch over their baseline, in robust SDs."""
    dead_air_spans: tuple[Span, ...] = ()
    hold_spans: tuple[Span, ...] = ()
    overtalk_spans: tuple[Span, ...] = ()
    interruption_spans_agent: tuple[Span, ...] = ()
    interruption_spans_customer: tuple[Span, ...] = ()
    agitation_spans: tuple[Span, ...] = ()
    hold_music_spans: tuple[Span, ...] = ()
    """Where hold music or tones played (each lies inside one of ``hold_spans``)."""


@dataclass(frozen=True, slots=True)
class ProsodyWindow:
    """Loudness and pitch of a piece (at most about ``window_s``) of one speech span."""

    start_s: float
    end_s: float
    loudness_db: float
    """RMS level in dBFS over the window."""
    pitch_hz: float
    """Median YIN f0 over the window's voiced frames; NaN when too few are voiced."""


# --- speech activity -------------------------------------------------------------------


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
    x = _check_track(samples, sr=sr)
    frame = round(frame_s * sr)
    if frame < 1 or not 0 <= floor_percentile <= 100:
        raise ValueError(f"frame_s={frame_s} and floor_percentile={floor_percentile} out of range")
    if min(hangover_s, min_speech_s, min_gap_s, rise_db, hysteresis_db, range_db) < 0:
        raise ValueError("hangover_s, min_speech_s, min_gap_s and the dB margins must be >= 0")
    n = x.size // frame
    if n == 0:
        return ()
    head = x[: n * frame].reshape(n, frame)
    db = 10.0 * np.log10(np.einsum("ij,ij->i", head, head) / frame + _EPS_POWER)
    floor, loud = np.percentile(db, [floor_percentile, 99.0])
    high = max(floor + rise_db, loud - range_db, min_dbfs)
    starts, ends = _runs(db >= high - hysteresis_db)
    highs = np.concatenate([[0], np.cumsum(db >= high)])
    keep = highs[ends] > highs[starts]
    starts, ends = starts[keep], np.minimum(ends[keep] + round(hangover_s / frame_s), n)
    starts, ends = _bridge(starts, ends, min_gap=round(min_gap_s / frame_s))
    long_enough = (ends - starts) * frame_s >= min_speech_s - 1e-9
    step = frame / sr
    return tuple(
        Span(round(float(s) * step, 3), round(float(e) * step, 3))
        for s, e in zip(starts[long_enough], ends[long_enough], strict=True)
    )


def _check_track(samples: FloatArray, *, sr: int) -> npt.NDArray[np.float32]:
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected one track of shape (frames,), got shape {x.shape}")
    if sr <= 0:
        raise ValueError(f"sr must be > 0, got {sr}")
    if not np.isfinite(x).all():
        raise ValueError("the track holds NaN or infinite samples")
    return x


def _runs(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Start and end (exclusive) indices of the True runs of ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _bridge(
    starts: npt.NDArray[np.intp], ends: npt.NDArray[np.intp], *, min_gap: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Merge runs separated by fewer than ``min_gap`` frames (or overlapping)."""
    if starts.size == 0:
        return starts, ends
    ends = np.maximum.accumulate(ends)
    split = starts[1:] - ends[:-1] >= max(min_gap, 1)
    return starts[np.concatenate([[True], split])], ends[np.concatenate([split, [True]])]


# --- hold music and tones --------------------------------------------------------------


def hold_music(
    samples: FloatArray,
    *,
    sr: int = TARGET_SR,
    activity: Sequence[Span],
    words: Sequence[Word],
    listener: bool = False,
    others: Sequence[Span] = (),
    options: MetricOptions = MetricOptions(),
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
    x = _check_track(samples, sr=sr)
    duration = x.size / sr
    spoken = _spoken(words)
    sound = _union([(float(s.start_s), min(float(s.end_s), duration)) for s in activity])
    talk = _union([(float(s.start_s), float(s.end_s)) for s in others])
    own = _union([(w.start_s - _WORD_PAD_S, w.end_s + _WORD_PAD_S) for w in spoken])
    candidates = [
        stretch
        for region in _minus([(0.0, duration)], _union([*own, *talk]))
        for stretch in _stretches(intersect(sound, [region]), bridge_s=_SOUND_BRIDGE_S)
    ]
    threshold = options.music_min_stability
    music: list[Interval] = []
    for (start, end), pieces in _join_stretches(candidates, spoken, talk, listener=listener):
        wordless = _total(_minus([(start, end)], own))  # the listener's words are not music
        long_enough = end - start >= options.music_hold_min_s
        if not (long_enough and _total(pieces) >= _MIN_SOUNDING_SHARE * wordless):
            continue
        if spectral_stability(x, sr=sr, spans=_spans(pieces)) >= threshold:
            stretch = _music_edges(x, sr=sr, stretch=(start, end), threshold=threshold)
            around = _minus([stretch], own) if listener else [stretch]
            music.extend(_music_edges(x, sr=sr, stretch=s, threshold=threshold) for s in around)
    return _spans(_union(music))


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
    x = _check_track(samples, sr=sr)
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
    level = 10 * np.log10(np.mean(np.square(now), axis=1) + _EPS_POWER)
    level_later = 10 * np.log10(np.mean(np.square(later), axis=1) + _EPS_POWER)
    floor = np.percentile(level, 95) - _STABILITY_RANGE_DB
    norms = np.linalg.norm(now, axis=1) * np.linalg.norm(later, axis=1)
    similarity = np.einsum("ij,ij->i", now, later) / np.maximum(norms, _EPS_POWER)
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
    run_starts, run_ends = _runs(speechy & loud)
    times = (starts + frame / 2) / sr
    return [
        (float(times[a]), float(times[b - 1] + hop / sr))
        for a, b in zip(run_starts, run_ends, strict=True)
        if b - a >= _EDGE_RUN
    ]


def _spoken(words: Sequence[Word]) -> list[Word]:
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


def _minus(intervals: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """``intervals`` without ``holes`` (both sorted and disjoint)."""
    out: list[Interval] = []
    j = 0
    for start, end in intervals:
        while j < len(holes) and holes[j][1] <= start:
            j += 1
        k = j
        while k < len(holes) and holes[k][0] < end:
            if holes[k][0] > start:
                out.append((start, holes[k][0]))
            start = max(start, holes[k][1])
            k += 1
        if end > start:
            out.append((start, end))
    return out


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Where both sorted, disjoint interval lists are."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if end > start:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


# --- call metrics ----------------------------------------------------------------------


def call_metrics(
    activity: Mapping[str, Sequence[Span]],
    transcript: Transcript,
    *,
    duration_s: float,
    options: MetricOptions = MetricOptions(),
    customer_prosody: Sequence[ProsodyWindow] | None = None,
    music: Mapping[str, Sequence[Span]] | None = None,
) -> CallMetrics:
    """Measure one call from both parties' speech and its transcript.

    Parameters
    ----------
    activity
        Sound per party: ``{"agent": ..., "customer": ...}`` for a stereo call,
        ``{"unknown": ...}`` for a mono one (see the module docstring for what a mono
        call measures and what is NaN).
    transcript
        The call's utterances: hold phrases are found in the agent's text, words per
        minute come from the words' timestamps, and on a mono call the words' parties
        split the speech (:func:`split_mono_speech`).
    duration_s
        Length of the recording (the handle time).
    options
        Thresholds.
    customer_prosody
        The customer's :func:`prosody`, for agitation; without it agitation is NaN.
    music
        Hold music or tones per party (:func:`hold_music`), keyed like ``activity``:
        taken out of that party's speech and counted as holds.

    Returns
    -------
    CallMetrics

    Raises
    ------
    ValueError
        When ``activity`` has other parties, ``music`` names a party ``activity`` does
        not, or a span is reversed or outside the call.

    Examples
    --------
    >>> t = Transcript(call_id="c", language="en", duration_s=30.0, utterances=())
    >>> m = call_metrics({"agent": [Span(0, 5)], "customer": [Span(12, 20)]}, t, duration_s=30.0)
    >>> m.dead_air_s, m.talk_ratio_agent
    (7.0, 0.38461538461538464)
    >>> sound = {"agent": [Span(0, 5), Span(6, 16), Span(17, 20)], "customer": []}
    >>> m = call_metrics(sound, t, duration_s=30.0, music={"agent": [Span(6, 16)]})
    >>> m.hold_spans, m.talk_agent_s
    ((Span(start_s=5.0, end_s=17.0),), 8.0)
    """
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be finite and > 0, got {duration_s!r}")
    parties = _check_activity(activity, duration_s=duration_s)
    played = _check_music(music or {}, parties=parties, duration_s=duration_s)
    speech = {party: _minus(spans, played.get(party, [])) for party, spans in parties.items()}
    everyone = _union([iv for spans in speech.values() for iv in spans])
    gaps = [(a[1], b[0]) for a, b in itertools.pairwise(everyone)]
    mono = "unknown" in parties
    split = _split_mono(speech["unknown"], transcript) if mono else None
    # a music hold lasts until the agent speaks (on a mono call, as far as its words tell)
    returns = speech["agent"] if not mono else split[0] if split else speech["unknown"]
    music_holds, music_played = _music_holds(
        everyone, _union([*itertools.chain(*played.values())]), returns=returns
    )
    speakers = {"unknown", *_PARTIES} if mono else {"agent"}
    holds, dead = _classify_gaps(
        [g for g in gaps if not intersect(music_holds, [g])],
        _utterances_saying(transcript, options.hold_phrases, speakers=speakers),
        options,
        _utterances_saying(transcript, DEFAULT_RETURN_PHRASES, speakers=speakers),
    )
    holds = sorted(holds + music_holds)
    common: dict[str, Any] = {
        "handle_s": float(duration_s),
        "talk_s": _total(everyone),
        "silence_s": _total(gaps),
        "dead_air_s": _total(dead),
        "longest_dead_air_s": _longest(dead),
        "dead_air_count": len(dead),
        "hold_count": len(holds),
        "hold_s": _total(holds),
        "longest_hold_s": _longest(holds),
        "dead_air_spans": _spans(dead),
        "hold_spans": _spans(holds),
        "hold_music_spans": _spans(music_played),
    }
    if not mono:
        return CallMetrics(
            **common,
            **_party_metrics(speech["agent"], speech["customer"], transcript, options),
            **_agitation_fields(customer_prosody, options),
        )
    if split is None:
        return CallMetrics(**common, **_MONO_PARTY_METRICS)
    return CallMetrics(
        **common,
        **_party_metrics(*split, transcript, options),
        **_agitation_fields(None, options),
    )


def _music_holds(
    speech: Sequence[Interval], music: Sequence[Interval], *, returns: Sequence[Interval]
) -> tuple[list[Interval], list[Interval]]:
    """Holds made of music (with the gaps that touch it), and the music inside them.

    Music before anyone has spoken is the queue, not a hold. A hold lasts until speech
    in ``returns`` (the agent's; on a mono call anyone's): pieces of music with only the
    customer's speech between them are one hold.
    """
    if not speech:
        return [], []
    played = [m for m in music if m[0] >= speech[0][0]]
    sound = _union([*speech, *played])
    touching = [
        (a[1], b[0])
        for a, b in itertools.pairwise(sound)
        if any(m[0] <= b[0] and a[1] <= m[1] for m in played)
    ]
    holds: list[Interval] = []
    for start, end in _union([*played, *touching]):
        if holds and not intersect(returns, [(holds[-1][1], start)]):
            holds[-1] = (holds[-1][0], end)
        else:
            holds.append((start, end))
    return holds, played


def _check_music(
    music: Mapping[str, Sequence[Span]],
    *,
    parties: Mapping[str, Sequence[Interval]],
    duration_s: float,
) -> dict[str, list[Interval]]:
    if not set(music) <= set(parties):
        raise ValueError(
            f"music must be keyed by the parties of activity ({sorted(parties)}), "
            f"got {sorted(music)}"
        )
    return {
        party: _check_spans(party, spans, duration_s=duration_s) for party, spans in music.items()
    }


_MONO_PARTY_METRICS: dict[str, Any] = {
    name: NAN
    for name in (
        "talk_agent_s",
        "talk_customer_s",
        "talk_ratio_agent",
        "overtalk_s",
        "overtalk_count",
        "interruptions_agent",
        "interruptions_customer",
        "wpm_agent",
        "wpm_customer",
        "customer_agitation_max",
    )
}


def _check_activity(
    activity: Mapping[str, Sequence[Span]], *, duration_s: float
) -> dict[str, list[Interval]]:
    """Each party's speech as sorted, merged intervals clipped to the call."""
    keys = set(activity)
    if keys not in ({"agent", "customer"}, {"unknown"}):
        raise ValueError(
            f"activity must have parties 'agent' and 'customer' (stereo) or only 'unknown' "
            f"(mono), got {sorted(keys)}"
        )
    return {
        party: _check_spans(party, spans, duration_s=duration_s)
        for party, spans in activity.items()
    }


def _check_spans(party: str, spans: Sequence[Span], *, duration_s: float) -> list[Interval]:
    for s in spans:
        ok = math.isfinite(s.start_s) and math.isfinite(s.end_s) and s.start_s <= s.end_s
        if not ok or s.start_s < 0 or s.end_s > duration_s + _SPAN_TOLERANCE_S:
            raise ValueError(
                f"{party} speech span {s.start_s}..{s.end_s} s is reversed or outside "
                f"the call (0..{duration_s} s)"
            )
    return _union([(float(s.start_s), float(min(s.end_s, duration_s))) for s in spans])


def _union(intervals: Sequence[Interval]) -> list[Interval]:
    """Sorted, merged intervals (touching ones merge too)."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        elif end > start:
            merged.append((start, end))
    return merged


def _total(intervals: Sequence[Interval]) -> float:
    return round(sum(e - s for s, e in intervals), 3)


def _longest(intervals: Sequence[Interval]) -> float:
    return round(max((e - s for s, e in intervals), default=0.0), 3)


def _spans(intervals: Sequence[Interval]) -> tuple[Span, ...]:
    return tuple(Span(round(s, 3), round(e, 3)) for s, e in intervals)


def _utterances_saying(
    transcript: Transcript, phrases: Sequence[str], *, speakers: Collection[str]
) -> list[Interval]:
    """Times of the utterances of ``speakers`` that hold one of ``phrases``."""
    wanted = [bare(p) for p in phrases]
    return [
        (u.start_s, u.end_s)
        for u in transcript.utterances
        if u.speaker in speakers and any(p in bare(u.text) for p in wanted)
    ]


RETURN_WINDOW_S = 5.0


def _classify_gaps(
    gaps: Sequence[Interval],
    announcements: Sequence[Interval],
    options: MetricOptions,
    returns: Sequence[Interval] = (),
) -> tuple[list[Interval], list[Interval]]:
    """Split the gaps worth reporting into (holds, dead air)."""
    holds: list[Interval] = []
    dead: list[Interval] = []
    for start, end in gaps:
        length = round(end - start, 6)  # 12.84 - 7.84 is 4.999999999999999
        announced = length >= options.announced_hold_min_s and any(
            a_start <= start <= a_end + options.hold_phrase_window_s
            for a_start, a_end in announcements
        )
        announced = announced or (
            length >= options.announced_hold_min_s
            and any(end - 1.0 <= r_start <= end + RETURN_WINDOW_S for r_start, _ in returns)
        )
        if announced or length >= options.hold_min_s:
            holds.append((start, end))
        elif length >= options.dead_air_min_s:
            dead.append((start, end))
    return holds, dead


def split_mono_speech(
    speech: Sequence[Span], transcript: Transcript
) -> dict[str, tuple[Span, ...]] | None:
    """Split the speech of a mono call between the parties its diarized words name.

    An estimate, as good as the diarization (:mod:`models.diarize`) and the ASR's word
    edges. Inside each stretch of speech, time goes to the party of the nearest word
    (a redaction tag such as "[CARD]" or a note such as "(laughs)" included): where the
    party changes between two words the stretch is cut halfway between them, and where
    words of both parties overlap in time the overlap is both parties' (the only overtalk
    a mono call shows). Speech with no word within 1 s (a cough, a "mhm" the ASR did
    not write down) is nobody's.

    Parameters
    ----------
    speech
        The mono track's speech (:func:`speech_activity` minus hold music).
    transcript
        The diarized transcript: utterances of ``"agent"`` and ``"customer"``.

    Returns
    -------
    dict of str to tuple of Span, or None
        ``{"agent": ..., "customer": ...}``, time-ordered; ``None`` when no word names a
        party (the call was not diarized).

    Examples
    --------
    >>> words = lambda *ts: tuple(Word(a, b, " la", 0.9) for a, b in ts)
    >>> t = Transcript("c", "en", 10.0, (
    ...     Utterance("agent", 0.5, 2.0, "la la", words((0.5, 1.0), (1.5, 2.0))),
    ...     Utterance("customer", 3.0, 4.0, "la", words((3.0, 4.0)))))
    >>> split_mono_speech([Span(0.4, 4.2)], t)
    {'agent': (Span(start_s=0.4, end_s=2.5),), 'customer': (Span(start_s=2.5, end_s=4.2),)}
    """
    split = _split_mono([(s.start_s, s.end_s) for s in speech], transcript)
    if split is None:
        return None
    return {party: _spans(spans) for party, spans in zip(_PARTIES, split, strict=True)}


def _split_mono(
    speech: Sequence[Interval], transcript: Transcript
) -> tuple[list[Interval], list[Interval]] | None:
    words = sorted(
        (w.start_s, w.end_s, u.speaker)
        for u in transcript.utterances
        if u.speaker in _PARTIES
        for w in u.words
    )
    if not words:
        return None
    starts = [w[0] for w in words]
    out: dict[str, list[Interval]] = {party: [] for party in _PARTIES}
    for start, end in speech:
        first = bisect_left(starts, start - _WORD_REACH_S - _MAX_WORD_S)
        last = bisect_left(starts, end + _WORD_REACH_S)
        near = [w for w in words[first:last] if w[1] > start - _WORD_REACH_S]
        for party, lo, hi in _party_pieces(_party_runs(near), start=start, end=end):
            out[party].append((lo, hi))
    return _union(out["agent"]), _union(out["customer"])


def _party_runs(words: Sequence[tuple[float, float, str]]) -> list[tuple[str, float, float]]:
    """``(party, start, end)`` per run of consecutive words of one party."""
    runs: list[tuple[str, float, float]] = []
    for party, run in itertools.groupby(words, key=lambda w: w[2]):
        ws = list(run)
        runs.append((party, ws[0][0], max(w[1] for w in ws)))
    return runs


def _party_pieces(
    runs: Sequence[tuple[str, float, float]], *, start: float, end: float
) -> list[tuple[str, float, float]]:
    """Cut one stretch of speech ``start..end`` between its runs of words."""
    if not runs:
        return []
    lows, highs = [start], []
    for (_, _, prev_end), (_, next_start, _) in itertools.pairwise(runs):
        if prev_end <= next_start:  # a pause or none: cut halfway
            lows.append((prev_end + next_start) / 2)
            highs.append(lows[-1])
        else:  # the next party starts before this one stops: both speak
            lows.append(next_start)
            highs.append(prev_end)
    highs.append(end)
    return [
        (party, max(lo, start), min(hi, end))
        for (party, _, _), lo, hi in zip(runs, lows, highs, strict=True)
        if min(hi, end) > max(lo, start)
    ]


def _party_metrics(
    agent: list[Interval],
    customer: list[Interval],
    transcript: Transcript,
    options: MetricOptions,
) -> dict[str, Any]:
    talk_agent, talk_customer = _total(agent), _total(customer)
    overtalk, by_agent, by_customer = _overtalk(agent, customer, options)
    talk = talk_agent + talk_customer
    return {
        "talk_agent_s": talk_agent,
        "talk_customer_s": talk_customer,
        "talk_ratio_agent": talk_agent / talk if talk > 0 else NAN,
        "overtalk_s": _total(overtalk),
        "overtalk_count": float(len(overtalk)),
        "interruptions_agent": float(len(by_agent)),
        "interruptions_customer": float(len(by_customer)),
        "wpm_agent": _wpm(transcript, "agent", talk_s=talk_agent),
        "wpm_customer": _wpm(transcript, "customer", talk_s=talk_customer),
        "overtalk_spans": _spans(overtalk),
        "interruption_spans_agent": _spans(by_agent),
        "interruption_spans_customer": _spans(by_customer),
    }


def _overtalk(
    agent: list[Interval], customer: list[Interval], options: MetricOptions
) -> tuple[list[Interval], list[Interval], list[Interval]]:
    """Overlaps that count, and those that are interruptions by the agent / the customer."""
    overtalk: list[Interval] = []
    by: dict[str, list[Interval]] = {"agent": [], "customer": []}
    i = j = 0
    while i < len(agent) and j < len(customer):
        a, c = agent[i], customer[j]
        start, end = max(a[0], c[0]), min(a[1], c[1])
        if end - start > 0:
            later = _interrupter(a, c)
            span = a if later == "agent" else c
            backchannel = span[1] - span[0] < options.backchannel_max_s
            if end - start >= options.overlap_min_s and not backchannel:
                overtalk.append((start, end))
                if a[0] != c[0]:
                    by[later].append((start, end))
        if a[1] <= c[1]:
            i += 1
        else:
            j += 1
    return overtalk, by["agent"], by["customer"]


def _interrupter(agent: Interval, customer: Interval) -> str:
    """The party who started later; on a tie, the one with the shorter span."""
    if agent[0] != customer[0]:
        return "agent" if agent[0] > customer[0] else "customer"
    return "agent" if agent[1] < customer[1] else "customer"


def _wpm(transcript: Transcript, speaker: str, *, talk_s: float) -> float:
    """Spoken words per talk minute; NaN without talk or without any word timestamps.

    Words are counted as spoken, not as the ASR wrote them: a number counts one word per
    digit ("4-5-3-2", "4532" and "4.532" are all four), so a card number read out swings
    the rate by nothing whichever way the model formats it (it did by 25 %, depending on
    the CPU's instruction set).
    """
    if talk_s <= 0 or not any(u.words for u in transcript.utterances):
        return NAN
    words = sum(
        spoken_words(w.text) for u in transcript.utterances if u.speaker == speaker for w in u.words
    )
    return words / (talk_s / 60.0)


def spoken_words(token: str) -> int:
    """How many words an ASR token stands for when spoken: its digits one by one, else
    one word if it has a letter (a lone punctuation token is none).

    Examples
    --------
    >>> [spoken_words(t) for t in ("card", "4-5-3-2", "4.532.", "814", "—", "你好")]
    [1, 4, 4, 3, 0, 1]
    """
    digits = sum(c.isdigit() for c in token)
    if digits:
        return digits
    return 1 if any(c.isalnum() for c in token) else 0


def _agitation_fields(
    windows: Sequence[ProsodyWindow] | None, options: MetricOptions
) -> dict[str, Any]:
    if windows is None:
        return {"customer_agitation_max": NAN, "agitation_spans": ()}
    return {
        "customer_agitation_max": agitation_max(windows, options=options),
        "agitation_spans": agitation_spans(windows, options=options),
    }


# --- rows for the warehouse and the rubric ---------------------------------------------


def as_row(metrics: CallMetrics) -> dict[str, float | int]:
    """The scalar fields of ``metrics``, named as the fields (spans left out)."""
    return {
        f.name: getattr(metrics, f.name)
        for f in fields(metrics)
        if not isinstance(getattr(metrics, f.name), tuple)
    }


METRIC_ALIASES: dict[str, str] = {
    "agent_overtalk_count": "interruptions_agent",
    "customer_overtalk_count": "interruptions_customer",
}
"""Extra names a rubric's ``metric.v1`` may use, and the field each one reads."""


def as_metric_values(metrics: CallMetrics) -> dict[str, float]:
    """The numbers a rubric ``metric.v1`` threshold reads: every scalar field, plus aliases.

    Examples
    --------
    >>> t = Transcript(call_id="c", language="en", duration_s=60.0, utterances=())
    >>> activity = {"agent": [Span(0, 10), Span(30, 40)], "customer": [Span(8, 18)]}
    >>> values = as_metric_values(call_metrics(activity, t, duration_s=60.0))
    >>> values["longest_dead_air_s"], values["dead_air_count"], values["customer_overtalk_count"]
    (12.0, 1.0, 1.0)
    """
    values = {name: float(v) for name, v in as_row(metrics).items()}
    values.update({alias: values[name] for alias, name in METRIC_ALIASES.items()})
    return values


def as_metric_spans(metrics: CallMetrics) -> dict[str, tuple[Span, ...]]:
    """Where each metric of :func:`as_metric_values` happened: the evidence to listen to."""
    spans = {
        "dead_air_s": metrics.dead_air_spans,
        "dead_air_count": metrics.dead_air_spans,
        "longest_dead_air_s": _longest_span(metrics.dead_air_spans),
        "hold_s": metrics.hold_spans,
        "hold_count": metrics.hold_spans,
        "longest_hold_s": _longest_span(metrics.hold_spans),
        "overtalk_s": metrics.overtalk_spans,
        "overtalk_count": metrics.overtalk_spans,
        "interruptions_agent": metrics.interruption_spans_agent,
        "interruptions_customer": metrics.interruption_spans_customer,
        "customer_agitation_max": metrics.agitation_spans,
    }
    spans.update({alias: spans[name] for alias, name in METRIC_ALIASES.items()})
    return {name: s for name, s in spans.items() if s}


def _longest_span(spans: tuple[Span, ...]) -> tuple[Span, ...]:
    return (max(spans, key=lambda s: s.duration_s),) if spans else ()


# --- prosody and agitation -------------------------------------------------------------


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
        Where the party speaks (:func:`speech_activity`).
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
    x = _check_track(samples, sr=sr)
    if not (math.isfinite(window_s) and window_s > 0):
        raise ValueError(f"window_s must be > 0, got {window_s!r}")
    if sr != TARGET_SR:
        import librosa

        x = librosa.resample(x, orig_sr=sr, target_sr=TARGET_SR, res_type="soxr_hq")
    bounds = _window_bounds(spans, length=x.size, window_s=window_s)
    if not bounds:
        return ()
    times, f0, voiced = _pitch_frames(x, [(s, e) for s, e in _union(bounds)])
    out = []
    for start, end in bounds:
        a, b = round(start * TARGET_SR), round(end * TARGET_SR)
        power = float(np.mean(np.square(x[a:b], dtype=np.float64))) if b > a else 0.0
        inside = voiced & (times >= start) & (times < end)
        pitch = float(np.median(f0[inside])) if inside.sum() >= _MIN_VOICED_FRAMES else NAN
        out.append(ProsodyWindow(start, end, round(10 * math.log10(power + _EPS_POWER), 2), pitch))
    return tuple(out)


def _window_bounds(spans: Sequence[Span], *, length: int, window_s: float) -> list[Interval]:
    duration = length / TARGET_SR
    bounds: list[Interval] = []
    for s in spans:
        if s.start_s < 0 or s.end_s > duration + _SPAN_TOLERANCE_S or s.end_s < s.start_s:
            raise ValueError(
                f"span {s.start_s}..{s.end_s} s is outside the track (0..{duration:.3f} s)"
            )
    for start, end in _union([(s.start_s, min(s.end_s, duration)) for s in spans]):
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
    power_db = 10 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=1) + _EPS_POWER)
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
        & (zcr < _MAX_VOICED_ZCR)
        & (power_db >= np.percentile(power_db, 90) - _VOICED_RANGE_DB)
        & (f0 > PITCH_FMIN_HZ * 1.01)
        & (f0 < PITCH_FMAX_HZ * 0.99)
    )
    return times, f0, voiced


def agitation_scores(
    windows: Sequence[ProsodyWindow],
    *,
    options: MetricOptions = MetricOptions(),
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
    options: MetricOptions = MetricOptions(),
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
    return _spans(joined)


def agitation_max(
    windows: Sequence[ProsodyWindow],
    *,
    options: MetricOptions = MetricOptions(),
) -> float:
    """The highest :func:`agitation_scores` of the party (NaN when none is measurable)."""
    scores = [z for z in agitation_scores(windows, options=options) if math.isfinite(z)]
    return max(scores) if scores else NAN


# --- everything at once ----------------------------------------------------------------


def measure_call(
    tracks: Sequence[Track],
    transcript: Transcript,
    *,
    sr: int = TARGET_SR,
    options: MetricOptions = MetricOptions(),
) -> CallMetrics:
    """Speech activity and hold music of each track, the customer's prosody, then
    :func:`call_metrics`.

    The energy VAD frames are the only pass over a whole track; hold music is confirmed
    on its candidate stretches only, and YIN runs on the customer's speech only.

    Parameters
    ----------
    tracks
        :func:`pipeline.audio.split_tracks` of the call: agent and customer, or unknown.
    transcript
        The call's transcript; on a mono call, diarized or all ``"unknown"``.
    sr
        Sample rate of the tracks.
    options
        Thresholds.

    Returns
    -------
    CallMetrics

    Raises
    ------
    ValueError
        When there are no tracks or two tracks of the same party.
    """
    speakers = [t.speaker for t in tracks]
    if not speakers or len(set(speakers)) != len(speakers):
        raise ValueError(f"expected one track per party, got {speakers}")
    duration_s = max(t.samples.shape[-1] for t in tracks) / sr
    activity: dict[str, tuple[Span, ...]] = {
        t.speaker: speech_activity(t.samples, sr=sr) for t in tracks
    }
    music = _music_of_tracks(tracks, activity, transcript, sr=sr, options=options)
    customer = next((t for t in tracks if t.speaker == "customer"), None)
    windows = None
    if customer is not None:
        speech = _minus(_intervals(activity["customer"]), _intervals(music["customer"]))
        windows = prosody(customer.samples, sr=sr, spans=_spans(speech))
    return call_metrics(
        activity,
        transcript,
        duration_s=duration_s,
        options=options,
        customer_prosody=windows,
        music=music,
    )


def _music_of_tracks(
    tracks: Sequence[Track],
    activity: Mapping[str, Sequence[Span]],
    transcript: Transcript,
    *,
    sr: int,
    options: MetricOptions,
) -> dict[str, tuple[Span, ...]]:
    """:func:`hold_music` of each track: the agent's (or the mono track's) first, so the
    customer's is looked for only where the agent does not speak.

    Recorders put the hold music on either leg: on the agent's (the agent's phone plays
    it) or on the customer's (the customer is who hears it).
    """
    music: dict[str, tuple[Span, ...]] = {}
    for track in sorted(tracks, key=lambda t: t.speaker == "customer"):
        party = track.speaker
        if party == "unknown":
            music[party] = _mono_music(track, activity[party], transcript, sr=sr, options=options)
            continue
        words = [w for u in transcript.utterances if u.speaker == party for w in u.words]
        others: list[Interval] = []
        if party == "customer":
            agent = _intervals(activity.get("agent", ()))
            others = _minus(agent, _intervals(music.get("agent", ())))
        music[party] = hold_music(
            track.samples,
            sr=sr,
            activity=activity[party],
            words=words,
            listener=party == "customer",
            others=_spans(others),
            options=options,
        )
    return music


def _mono_music(
    track: Track,
    activity: Sequence[Span],
    transcript: Transcript,
    *,
    sr: int,
    options: MetricOptions,
) -> tuple[Span, ...]:
    """:func:`hold_music` of a mono track: when the words name their parties, the customer
    may talk over the music and only the agent's words end it; otherwise every word does."""
    words = [(w, u.speaker) for u in transcript.utterances for w in u.words]
    if not any(speaker in _PARTIES for _, speaker in words):
        return hold_music(
            track.samples, sr=sr, activity=activity, words=[w for w, _ in words], options=options
        )
    agent = _union(
        [
            (w.start_s - _WORD_PAD_S, w.end_s + _WORD_PAD_S)
            for w in _spoken([w for w, speaker in words if speaker == "agent"])
        ]
    )
    return hold_music(
        track.samples,
        sr=sr,
        activity=activity,
        words=[w for w, speaker in words if speaker != "agent"],
        listener=True,
        others=_spans(agent),
        options=options,
    )


def _intervals(spans: Sequence[Span]) -> list[Interval]:
    return [(s.start_s, s.end_s) for s in spans]


# --- contacts across calls ---------------------------------------------------------------


def repeat_contacts(calls: Sequence[tuple[str, str, str]], *, days: float = 7.0) -> dict[str, int]:
    """How many earlier contacts the same customer made within ``days`` before each call.

    A classic contact-center quality signal: a customer who calls again soon was not
    helped the first time.

    Parameters
    ----------
    calls
        ``(call_id, customer_id, started_at)`` with ISO 8601 times; calls without a
        customer or a time are left out of the result.
    days
        The look-back window.

    Examples
    --------
    >>> repeat_contacts([("a", "C1", "2026-11-01T09:00:00+00:00"),
    ...                  ("b", "C1", "2026-11-03T09:00:00+00:00"),
    ...                  ("c", "C1", "2026-11-20T09:00:00+00:00")])
    {'a': 0, 'b': 1, 'c': 0}
    """
    by_customer: dict[str, list[tuple[dt.datetime, str]]] = {}
    for call_id, customer, started_at in calls:
        when = contact_time(started_at)
        if customer and when is not None:
            by_customer.setdefault(customer, []).append((when, call_id))
    window = dt.timedelta(days=days)
    counts: dict[str, int] = {}
    for contacts in by_customer.values():
        contacts.sort()
        for i, (when, call_id) in enumerate(contacts):
            counts[call_id] = sum(1 for earlier, _ in contacts[:i] if when - earlier <= window)
    return counts


def contact_time(started_at: str | None) -> dt.datetime | None:
    """A call's ``started_at`` as an aware time, or ``None`` (missing, unparsable or
    without a time zone: such calls are not counted as repeat contacts)."""
    try:
        when = dt.datetime.fromisoformat((started_at or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None
