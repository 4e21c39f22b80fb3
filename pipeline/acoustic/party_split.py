"""A mono call's speech split between the parties its diarized words name (an estimate)."""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Sequence

from pipeline.intervals import Interval, to_spans, union
from pipeline.types import Span, Transcript

PARTIES = ("agent", "customer")
_WORD_REACH_S = 1.0
"""On a mono call, speech this close to a word can be given that word's party."""
_MAX_WORD_S = 5.0
"""No ASR word lasts longer (bounds the search for the words near a stretch of speech)."""


def split_mono_speech(
    speech: Sequence[Span], transcript: Transcript
) -> dict[str, tuple[Span, ...]] | None:
    """Split the speech of a mono call between the parties its diarized words name.

    An estimate, as good as the diarization (:mod:`pipeline.diarization`) and the ASR's word
    edges. Inside each stretch of speech, time goes to the party of the nearest word
    (a redaction tag such as "[CARD]" or a note such as "(laughs)" included): where the
    party changes between two words the stretch is cut halfway between them, and where
    words of both parties overlap in time the overlap is both parties' (the only overtalk
    a mono call shows). Speech with no word within 1 s (a cough, a "mhm" the ASR did
    not write down) is nobody's.

    Parameters
    ----------
    speech
        The mono track's speech (:func:`~pipeline.acoustic.activity.speech_activity` minus hold music).
    transcript
        The diarized transcript: utterances of ``"agent"`` and ``"customer"``.

    Returns
    -------
    dict of str to tuple of Span, or None
        ``{"agent": ..., "customer": ...}``, time-ordered; ``None`` when no word names a
        party (the call was not diarized).

    Examples
    --------
    >>> from pipeline.types import Utterance, Word
    >>> words = lambda *ts: tuple(Word(a, b, " la", 0.9) for a, b in ts)
    >>> t = Transcript("c", "en", 10.0, (
    ...     Utterance("agent", 0.5, 2.0, "la la", words((0.5, 1.0), (1.5, 2.0))),
    ...     Utterance("customer", 3.0, 4.0, "la", words((3.0, 4.0)))))
    >>> split_mono_speech([Span(0.4, 4.2)], t)
    {'agent': (Span(start_s=0.4, end_s=2.5),), 'customer': (Span(start_s=2.5, end_s=4.2),)}
    """
    split = split_mono([(s.start_s, s.end_s) for s in speech], transcript)
    if split is None:
        return None
    return {party: to_spans(spans) for party, spans in zip(PARTIES, split, strict=True)}


def split_mono(
    speech: Sequence[Interval], transcript: Transcript
) -> tuple[list[Interval], list[Interval]] | None:
    words = sorted(
        (w.start_s, w.end_s, u.speaker)
        for u in transcript.utterances
        if u.speaker in PARTIES
        for w in u.words
    )
    if not words:
        return None
    starts = [w[0] for w in words]
    out: dict[str, list[Interval]] = {party: [] for party in PARTIES}
    for start, end in speech:
        first = bisect_left(starts, start - _WORD_REACH_S - _MAX_WORD_S)
        last = bisect_left(starts, end + _WORD_REACH_S)
        near = [w for w in words[first:last] if w[1] > start - _WORD_REACH_S]
        for party, lo, hi in _party_pieces(_party_runs(near), start=start, end=end):
            out[party].append((lo, hi))
    return union(out["agent"]), union(out["customer"])


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
