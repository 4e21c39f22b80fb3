"""Call audio analytics: who talked how much, silences, holds, overtalk, pace, agitation.

Pure functions over one 2-party call:

* :mod:`pipeline.acoustic.activity` finds the sound of one track (energy VAD, numpy only);
* :mod:`pipeline.acoustic.hold_music` finds where a track plays hold music or tones
  instead of speech;
* :mod:`pipeline.acoustic.prosody` measures loudness and pitch over a party's speech and
  compares it with that party's own baseline (agitation);
* :func:`call_metrics` (here) turns both parties' speech and the transcript into
  :class:`CallMetrics`: gaps, dead air, holds, overtalk, words per minute;
* :func:`measure_call` (here) runs all of it on the tracks of
  :func:`pipeline.audio.split_tracks`.

Rows for the warehouse and the rubric are in :mod:`pipeline.metric_rows`.

Definitions (every threshold is a field of
:class:`~pipeline.acoustic.options.MetricOptions`; hold phrases come from
``rubrics/cues/hold.yaml``):

* **Speech** of a party is the activity of its track minus its hold music. A **gap** is a
  stretch where nobody speaks, between the first and the last speech of the call (the
  ringing before and the line after do not count). ``silence_s`` sums all gaps.
* **Hold music** is a stretch of a track's activity of at least ``music_hold_min_s`` with
  no spoken word of its party (on a mono call: of anyone, or of the agent when the
  diarized words say who spoke) that sounds like music or a tone, not speech
  (:func:`~pipeline.acoustic.hold_music.hold_music`). Recorders put it on either line: on the customer's, it is looked
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
  ``"agent"`` and ``"customer"``, see :mod:`pipeline.diarization`) the track's speech is split
  between the parties at the word timestamps
  (:func:`~pipeline.acoustic.party_split.split_mono_speech`), and talk per
  party, the talk ratio, words per minute, overtalk and interruptions are **estimates**:
  as good as the diarization, and overtalk only where the ASR put words of both parties
  at the same time (it usually transcribes one voice of an overlap, so mono overtalk and
  interruptions are a lower bound). Customer agitation stays NaN on mono: a stretch of
  the agent's voice given to the customer would look exactly like a rise in pitch.
  Without party words (diarization refused, every word ``"unknown"``) the per-party
  numbers are NaN, meaning "not measurable", never 0.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import MISSING, fields
from typing import Any

from pipeline import TARGET_SR
from pipeline.acoustic.activity import SPAN_TOLERANCE_S, speech_activity
from pipeline.acoustic.hold_music import WORD_PAD_S, hold_music, spoken
from pipeline.acoustic.options import DEFAULT_OPTIONS, MetricOptions
from pipeline.acoustic.party_split import PARTIES, split_mono
from pipeline.acoustic.prosody import ProsodyWindow, agitation_max, agitation_spans, prosody
from pipeline.audio import Track
from pipeline.cues import hold_cues
from pipeline.intervals import (
    Interval,
    from_spans,
    intersect,
    longest,
    minus,
    to_spans,
    total,
    union,
)
from pipeline.text import bare
from pipeline.types import CallMetrics, Span, Transcript

METRICS_VERSION = 4
"""Bump when a change here changes what :func:`measure_call` returns for the same audio and
transcript: the cached transcript holds the call's metrics, so this is part of its key
(version 2: hold music and tones; per-party numbers on diarized mono calls; 4: words per minute count spoken words).
The hold phrases are data (``rubrics/cues/hold.yaml``): their digest is in the key too."""

NAN = float("nan")


# --- call metrics ----------------------------------------------------------------------


def call_metrics(
    activity: Mapping[str, Sequence[Span]],
    transcript: Transcript,
    *,
    duration_s: float,
    options: MetricOptions = DEFAULT_OPTIONS,
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
    speech = {party: minus(spans, played.get(party, [])) for party, spans in parties.items()}
    everyone = union([iv for spans in speech.values() for iv in spans])
    gaps = [(a[1], b[0]) for a, b in itertools.pairwise(everyone)]
    mono = "unknown" in parties
    split = split_mono(speech["unknown"], transcript) if mono else None
    # a music hold lasts until the agent speaks (on a mono call, as far as its words tell)
    returns = speech["agent"] if not mono else split[0] if split else speech["unknown"]
    music_holds, music_played = _music_holds(
        everyone, union([*itertools.chain(*played.values())]), returns=returns
    )
    speakers = {"unknown", *PARTIES} if mono else {"agent"}
    holds, dead = _classify_gaps(
        [g for g in gaps if not intersect(music_holds, [g])],
        _utterances_saying(transcript, options.hold_phrases, speakers=speakers),
        options,
        _utterances_saying(transcript, hold_cues().return_.all_phrases(), speakers=speakers),
    )
    holds = sorted(holds + music_holds)
    common: dict[str, Any] = {
        "handle_s": float(duration_s),
        "talk_s": total(everyone),
        "silence_s": total(gaps),
        "dead_air_s": total(dead),
        "longest_dead_air_s": longest(dead),
        "dead_air_count": len(dead),
        "hold_count": len(holds),
        "hold_s": total(holds),
        "longest_hold_s": longest(holds),
        "dead_air_spans": to_spans(dead),
        "hold_spans": to_spans(holds),
        "hold_music_spans": to_spans(music_played),
    }
    if not mono:
        return CallMetrics(
            **common,
            **_party_metrics(speech["agent"], speech["customer"], transcript, options),
            **_agitation_fields(customer_prosody, options),
        )
    if split is None:
        return CallMetrics(**common, **_not_measurable(common))
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
    sound = union([*speech, *played])
    touching = [
        (a[1], b[0])
        for a, b in itertools.pairwise(sound)
        if any(m[0] <= b[0] and a[1] <= m[1] for m in played)
    ]
    holds: list[Interval] = []
    for start, end in union([*played, *touching]):
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


def _not_measurable(common: Mapping[str, Any]) -> dict[str, Any]:
    """Every per-party number NaN: the numbers of :class:`CallMetrics` (its fields without
    a default) that ``common`` does not hold."""
    return {
        f.name: NAN for f in fields(CallMetrics) if f.name not in common and f.default is MISSING
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
        if not ok or s.start_s < 0 or s.end_s > duration_s + SPAN_TOLERANCE_S:
            raise ValueError(
                f"{party} speech span {s.start_s}..{s.end_s} s is reversed or outside "
                f"the call (0..{duration_s} s)"
            )
    return union([(float(s.start_s), float(min(s.end_s, duration_s))) for s in spans])


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


def _party_metrics(
    agent: list[Interval],
    customer: list[Interval],
    transcript: Transcript,
    options: MetricOptions,
) -> dict[str, Any]:
    talk_agent, talk_customer = total(agent), total(customer)
    overtalk, by_agent, by_customer = _overtalk(agent, customer, options)
    talk = talk_agent + talk_customer
    return {
        "talk_agent_s": talk_agent,
        "talk_customer_s": talk_customer,
        "talk_ratio_agent": talk_agent / talk if talk > 0 else NAN,
        "overtalk_s": total(overtalk),
        "overtalk_count": float(len(overtalk)),
        "interruptions_agent": float(len(by_agent)),
        "interruptions_customer": float(len(by_customer)),
        "wpm_agent": _wpm(transcript, "agent", talk_s=talk_agent),
        "wpm_customer": _wpm(transcript, "customer", talk_s=talk_customer),
        "overtalk_spans": to_spans(overtalk),
        "interruption_spans_agent": to_spans(by_agent),
        "interruption_spans_customer": to_spans(by_customer),
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


# --- everything at once ----------------------------------------------------------------


def measure_call(
    tracks: Sequence[Track],
    transcript: Transcript,
    *,
    sr: int = TARGET_SR,
    options: MetricOptions = DEFAULT_OPTIONS,
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
        speech = minus(from_spans(activity["customer"]), from_spans(music["customer"]))
        windows = prosody(customer.samples, sr=sr, spans=to_spans(speech))
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
            agent = from_spans(activity.get("agent", ()))
            others = minus(agent, from_spans(music.get("agent", ())))
        music[party] = hold_music(
            track.samples,
            sr=sr,
            activity=activity[party],
            words=words,
            listener=party == "customer",
            others=to_spans(others),
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
    if not any(speaker in PARTIES for _, speaker in words):
        return hold_music(
            track.samples, sr=sr, activity=activity, words=[w for w, _ in words], options=options
        )
    agent = union(
        [
            (w.start_s - WORD_PAD_S, w.end_s + WORD_PAD_S)
            for w in spoken([w for w, speaker in words if speaker == "agent"])
        ]
    )
    return hold_music(
        track.samples,
        sr=sr,
        activity=activity,
        words=[w for w, speaker in words if speaker != "agent"],
        listener=True,
        others=to_spans(agent),
        options=options,
    )
