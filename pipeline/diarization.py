"""Who said each word of a MONO call: the agent or the customer (numpy, no model).

A stereo call gives each party its own channel; a mono call gives the ASR one track
whose utterances are all ``"unknown"``. :func:`diarize_report` takes that track's samples and
transcript and gives every word a party, then re-splits the utterances where the
speaker changes:

1. **Windows.** The speech of the call (:func:`pipeline.acoustic.activity.speech_activity` on the
   mono track, without its hold music (:func:`pipeline.acoustic.hold_music.hold_music`), kept only
   where the ASR heard words) is cut into windows of ``window_s`` every ``hop_s``. A
   window never crosses a pause, so most windows hold one voice; none holds only music,
   which would otherwise make a "voice" of its own.
2. **Embeddings.** Each window becomes a voice vector: MFCC means and spreads,
   delta-MFCC spreads, spectral centroid/bandwidth/roll-off/flatness, and pitch
   (``librosa.yin``) median and spread over its voiced frames, standardised over the
   call (:mod:`pipeline.voice_features`; ``embedder="librosa"``, the default). With
   ``embedder="resemblyzer"`` the windows go through Resemblyzer's ``VoiceEncoder``
   instead (:mod:`models.diarize`, a :class:`pipeline.protocols.VoiceEncoder`), in
   batches, each at the encoder's training level (optional, needs ``resemblyzer`` and
   ``torch``: the ``voice`` extra).
3. **Two voices.** The windows are split into two clusters (k-means, seeded), kept only
   when two voices explain the speech's MFCC frames better than one by a BIC test with
   a heavier than textbook penalty (:func:`~pipeline.voice_features.voice_gain`). Runs
   of windows shorter than ``min_turn_s`` inside one stretch of speech take their
   neighbours' label (a voice does not change for half a second
   mid-sentence). Each word takes the label most of the windows over it carry
   (weighted by overlap).
4. **Which voice is the agent.** Each cluster is scored on cues of the agent's role:
   +1 for speaking first (agents answer inbound calls; only when the first word is in the
   first ``answer_s``) or, on a call whose metadata says
   ``direction = outbound``, +1 for the voice that did *not* speak first (the customer
   answers the phone: "hello?", "алло", "喂"); the cues of ``rubrics/cues/roles.yaml``
   (data with examples: who introduces themself as calling from a company, who answers
   with a bare "hello?", who asks "who is this?", who asks the other to verify
   themself); on an outbound call, +1.5 for the voice that says clearly more words (the
   agent pitches); +1 for each distinct opening
   phrase (``turn_phrases`` of the same file) ("thank you for calling", "my name is", "how can I help", "您好",
   "请问有什么可以帮您", "здравствуйте", "чем могу помочь", ...) in its turns that
   start in the first ``opening_s``, and +1 for each distinct closing phrase ("is there
   anything else", "还有什么可以帮您", "чем ещё могу помочь", ...) in its turns that
   end in the last ``closing_s``. The higher score is the agent; a tie goes to the
   first speaker.

**When the transcript comes back unchanged** (all ``"unknown"``; the reason is in
:attr:`DiarizeReport.reason`):

* ``"no words"``: no utterance has word timestamps;
* ``"already has speakers"``: an utterance already names a party (stereo calls);
* ``"too little speech"``: under ``min_speech_s`` of speech or ``min_windows`` windows;
* ``"one voice"``: two voices do not explain the speech better than one
  (:func:`~pipeline.voice_features.voice_gain` not above ``min_voice_gain``) or the smaller cluster holds under
  ``min_share`` of the windows. Two voices that sound alike (same sex, same line) are
  where this gate is least sure: it can call them one voice;
* ``"one voice in the words"``: every word ended up with the same voice.

Measured by ``bench/diarize.py`` on stereo calls mixed down to mono.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from pipeline import TARGET_SR
from pipeline.acoustic.activity import check_track, speech_activity
from pipeline.acoustic.hold_music import hold_music
from pipeline.errors import OPTIONS_INVALID
from pipeline.intervals import Interval, intersect, minus, union
from pipeline.option_checks import require_non_negative, require_phrases
from pipeline.protocols import VoiceEncoder
from pipeline.roles import Direction, Turn, cue_scores, has_phrase, turn_phrases
from pipeline.text import bare, simplified
from pipeline.types import Speaker, Transcript, Utterance, Word
from pipeline.voice_features import FloatArray, frame_features, librosa_vectors, voice_gain

DIARIZE_VERSION = 3
"""Bump when a change here changes diarized transcripts: make it part of the cache key."""

Embedder = Literal["librosa", "resemblyzer", "auto"]
_EMBEDDERS = ("librosa", "resemblyzer", "auto")
_WORD_PAD_S = 0.2
"""Speech this close to a word still belongs to it (ASR word edges are approximate)."""


@dataclass(frozen=True, slots=True)
class DiarizeOptions:
    """Knobs of :func:`diarize_report` (seconds unless named)."""

    window_s: float = 1.5
    """Length of a voice window."""
    hop_s: float = 0.75
    """Step between windows."""
    min_window_s: float = 0.4
    """Speech pieces shorter than this get no window of their own (neighbours label them)."""
    min_turn_s: float = 1.0
    """Shorter runs of one label inside a stretch of speech take their neighbours' label."""
    min_speech_s: float = 4.0
    """Less speech than this: too little to tell voices apart."""
    min_windows: int = 4
    """Fewer windows than this: too little to tell voices apart."""
    min_voice_gain: float = 0.0
    """Two voices need :func:`~pipeline.voice_features.voice_gain` above this (nats per frame; 0 is the BIC rule)."""
    bic_penalty: float = 1.9
    """Weight of the BIC penalty in :func:`~pipeline.voice_features.voice_gain`."""
    min_share: float = 0.08
    """The smaller cluster must hold at least this share of the windows."""
    opening_s: float = 30.0
    """Opening phrases count in turns that start this early."""
    closing_s: float = 30.0
    """Closing phrases count in turns that end this close to the end of the call."""
    opening_phrases: tuple[str, ...] = field(
        default_factory=lambda: turn_phrases().opening.all_phrases()
    )
    """What an agent says answering (default: ``rubrics/cues/roles.yaml``)."""
    closing_phrases: tuple[str, ...] = field(
        default_factory=lambda: turn_phrases().closing.all_phrases()
    )
    """What an agent says closing (default: ``rubrics/cues/roles.yaml``)."""
    embedder: Embedder = "librosa"
    """``"librosa"`` (no extra install), ``"resemblyzer"`` (needs it installed) or
    ``"auto"`` (Resemblyzer when importable, else librosa)."""
    seed: int = 0
    answer_s: float = 10.0
    """Who spoke first counts (it answered the phone) only when the first word starts
    this early."""
    outbound_talk_weight: float = 1.5
    """On an outbound call, the voice with clearly more words (``talk_margin`` times the
    other's) gets this much: the agent calls to pitch, explain or collect. It outweighs
    who spoke first, which real telephone audio often blurs (the customer's short
    "алло" heard in the agent's voice cluster, or not heard at all)."""
    talk_margin: float = 1.5
    direction: Direction = ""
    """The call's direction from its metadata (:func:`pipeline.roles.call_direction`):
    ``"outbound"`` gives the first-speaker point to the voice that answered second."""

    def __post_init__(self) -> None:
        require_non_negative(
            self,
            (
                "window_s",
                "hop_s",
                "min_window_s",
                "min_turn_s",
                "min_speech_s",
                "opening_s",
                "closing_s",
                "answer_s",
                "outbound_talk_weight",
                "talk_margin",
                "bic_penalty",
            ),
        )
        if not 0 < self.hop_s <= self.window_s:
            raise OPTIONS_INVALID(
                problem=f"DiarizeOptions.hop_s must be > 0 and <= window_s ({self.window_s}), "
                f"got {self.hop_s!r}"
            )
        if not 0 < self.min_window_s <= self.window_s:
            raise OPTIONS_INVALID(
                problem=f"DiarizeOptions.min_window_s must be > 0 and <= window_s ({self.window_s}), "
                f"got {self.min_window_s!r}"
            )
        if not (isinstance(self.min_windows, int) and self.min_windows >= 2):
            raise OPTIONS_INVALID(
                problem=f"DiarizeOptions.min_windows must be an int >= 2, got {self.min_windows!r}"
            )
        if not math.isfinite(self.min_voice_gain):
            raise OPTIONS_INVALID(
                problem=f"DiarizeOptions.min_voice_gain must be finite, got {self.min_voice_gain!r}"
            )
        if not 0.0 <= self.min_share < 0.5:
            raise OPTIONS_INVALID(
                problem=f"DiarizeOptions.min_share must be in [0, 0.5), got {self.min_share!r}"
            )
        require_phrases(self, "opening_phrases")
        require_phrases(self, "closing_phrases")
        if self.embedder not in _EMBEDDERS:
            raise OPTIONS_INVALID(
                problem=f"DiarizeOptions.embedder must be one of {', '.join(_EMBEDDERS)}, "
                f"got {self.embedder!r}"
            )


@dataclass(frozen=True, slots=True)
class VoiceWindow:
    """One window of speech and the voice cluster it fell in."""

    start_s: float
    end_s: float
    cluster: int


@dataclass(frozen=True, slots=True)
class DiarizeReport:
    """What :func:`diarize_report` decided and why."""

    transcript: Transcript
    """Utterances with parties, or the input unchanged."""
    reason: str
    """``"diarized"`` or why the input came back unchanged (see the module docstring)."""
    voice_gain: float = float("nan")
    """How much better two voices explain the speech than one (:func:`~pipeline.voice_features.voice_gain`)."""
    agent_cluster: int = -1
    agent_scores: tuple[float, float] = (0.0, 0.0)
    """Role-cue score of cluster 0 and cluster 1."""
    windows: tuple[VoiceWindow, ...] = ()
    embedder: str = ""


DEFAULT_OPTIONS = DiarizeOptions()
"""The default knobs (and the shipped role phrases), built once."""


def diarize_report(
    samples: npt.NDArray[np.floating[Any]],
    transcript: Transcript,
    *,
    sr: int = TARGET_SR,
    options: DiarizeOptions = DEFAULT_OPTIONS,
    encoder: VoiceEncoder | None = None,
) -> DiarizeReport:
    """Give each word of a mono call to the agent or the customer, and say why.

    Parameters
    ----------
    samples
        The mono track the transcript was made from, shape ``(frames,)``.
    transcript
        Its ASR transcript, all utterances ``"unknown"``, with word timestamps.
    sr
        Sample rate of ``samples``.
    options
        Windows, thresholds and role phrases (``options.embedder`` is the caller's
        business: it picks ``encoder``).
    encoder
        The voice encoder that turns windows into vectors (Resemblyzer in
        ``models/diarize.py``); ``None`` for the librosa features
        (:func:`pipeline.voice_features.librosa_vectors`).

    Returns
    -------
    DiarizeReport
        ``reason == "diarized"`` when the transcript was split into parties: utterances
        split where the speaker changes, each ``"agent"`` or ``"customer"`` (text rebuilt
        from the words, word timestamps kept); otherwise the transcript unchanged and
        why (see the module docstring for the rule).

    Raises
    ------
    ValueError
        When ``samples`` is not one finite track.
    """
    x = _mono_16k(samples, sr=sr)
    words = [w for u in transcript.utterances for w in u.words]
    if not words:
        return DiarizeReport(transcript, "no words")
    if any(u.speaker != "unknown" for u in transcript.utterances):
        return DiarizeReport(transcript, "already has speakers")
    bounds = speech_windows(x, words, options=options)
    if len(bounds) < options.min_windows or _speech_s(bounds) < options.min_speech_s:
        return DiarizeReport(transcript, "too little speech")
    embedder = encoder.name if encoder is not None else "librosa"
    frames = frame_features(x)
    vectors = encoder.embed(x, bounds) if encoder is not None else librosa_vectors(frames, bounds)
    labels = cluster_two(vectors, seed=options.seed)
    gain = voice_gain(frames, bounds, labels, penalty=options.bic_penalty)
    share = min(np.mean(labels == 0), np.mean(labels == 1))
    if gain <= options.min_voice_gain or share < options.min_share:
        return DiarizeReport(transcript, "one voice", voice_gain=gain, embedder=embedder)
    labels = smooth_labels(bounds, labels, min_turn_s=options.min_turn_s)
    windows = tuple(VoiceWindow(s, e, int(c)) for (s, e), c in zip(bounds, labels, strict=True))
    clusters = label_words(words, windows)
    if len(set(clusters)) < 2:
        return DiarizeReport(
            transcript, "one voice in the words", voice_gain=gain, embedder=embedder
        )
    scores = role_scores(
        words, clusters, duration_s=transcript.duration_s or words[-1].end_s, options=options
    )
    agent = agent_of(scores, first_cluster=clusters[0], direction=options.direction)
    speakers: list[Speaker] = ["agent" if c == agent else "customer" for c in clusters]
    return DiarizeReport(
        transcript=assign_speakers(transcript, speakers),
        reason="diarized",
        voice_gain=gain,
        agent_cluster=agent,
        agent_scores=scores,
        windows=windows,
        embedder=embedder,
    )


def _mono_16k(samples: npt.NDArray[np.floating[Any]], *, sr: int) -> npt.NDArray[np.float32]:
    x = check_track(samples, sr=sr)
    if sr != TARGET_SR:
        import librosa

        x = librosa.resample(x, orig_sr=sr, target_sr=TARGET_SR, res_type="soxr_hq")
    return np.ascontiguousarray(x, dtype=np.float32)


def _speech_s(bounds: Sequence[Interval]) -> float:
    return sum(e - s for s, e in union(bounds))


# --- windows ---------------------------------------------------------------------------


def speech_windows(
    x: npt.NDArray[np.float32], words: Sequence[Word], *, options: DiarizeOptions
) -> list[Interval]:
    """Windows over the speech the ASR heard words in, none crossing a pause.

    Speech is where the energy VAD of the track and the (padded) word spans agree; where
    the VAD misses most of a stretch of words (a quiet party, a noisy line), that
    stretch's word spans alone.

    Parameters
    ----------
    x
        The mono track at 16 kHz.
    words
        The transcript's words.
    options
        ``window_s``, ``hop_s`` and ``min_window_s``.

    Returns
    -------
    list of (start_s, end_s)
        Time-ordered windows, each between ``min_window_s`` and ``window_s`` long.
    """
    duration_s = x.size / TARGET_SR
    heard = union(
        [(max(0.0, w.start_s - _WORD_PAD_S), min(duration_s, w.end_s + _WORD_PAD_S)) for w in words]
    )
    activity = speech_activity(x, sr=TARGET_SR)
    # who talks over the music is not known yet: no word ends it, the words stay speech
    held = hold_music(x, activity=activity, words=words, listener=True)
    music = [(s.start_s, s.end_s) for s in held]
    vad = minus([(s.start_s, s.end_s) for s in activity], music)
    regions: list[Interval] = []
    for start, end in heard:
        voiced = intersect(vad, [(start, end)])
        covered = sum(e - s for s, e in voiced) >= 0.5 * (end - start)
        regions.extend(voiced if covered else [(start, end)])
    return [
        window
        for start, end in minus(regions, music)
        for window in _cut(start, end, window_s=options.window_s, hop_s=options.hop_s)
        if window[1] - window[0] >= options.min_window_s - 1e-9
    ]


def _cut(start: float, end: float, *, window_s: float, hop_s: float) -> list[Interval]:
    """Windows of ``window_s`` every ``hop_s`` over one region; the last one ends at ``end``."""
    if end - start <= window_s:
        return [(round(start, 3), round(end, 3))]
    n = math.ceil((end - start - window_s) / hop_s) + 1
    starts = [min(start + i * hop_s, end - window_s) for i in range(n)]
    return [(round(s, 3), round(s + window_s, 3)) for s in starts]


# --- clustering ------------------------------------------------------------------------


def cluster_two(features: FloatArray, *, seed: int = 0) -> npt.NDArray[np.intp]:
    """Split windows into two voices with k-means (10 seeded restarts).

    Parameters
    ----------
    features
        Voice vectors (:func:`~pipeline.voice_features.librosa_vectors` or a
        :class:`~pipeline.protocols.VoiceEncoder`'s), shape ``(windows, dims)``.
    seed
        k-means seed.

    Returns
    -------
    ndarray of int
        0 or 1 per window.
    """
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters=2, n_init=10, random_state=seed).fit_predict(features)
    return np.asarray(labels, dtype=np.intp)


def smooth_labels(
    windows: Sequence[Interval], labels: npt.NDArray[np.intp], *, min_turn_s: float
) -> npt.NDArray[np.intp]:
    """Give runs shorter than ``min_turn_s`` inside one stretch of speech their neighbours' label.

    A run's length is the time its windows own (a window owns the part of it no later
    window overlaps). A run that starts or ends a stretch of speech (the next window is
    after a pause) is a turn in its own right and is kept, however short.
    """
    out = np.asarray(labels, dtype=np.intp).copy()
    n = len(windows)
    if n < 3 or min_turn_s <= 0:
        return out
    owned = [
        (min(e, windows[i + 1][0]) if i + 1 < n else e) - s for i, (s, e) in enumerate(windows)
    ]
    joined = [windows[i + 1][0] < windows[i][1] for i in range(n - 1)]
    i = 0
    while i < n:
        j = i
        while j + 1 < n and out[j + 1] == out[i]:
            j += 1
        inside = i > 0 and j < n - 1 and joined[i - 1] and joined[j]
        if inside and out[i - 1] == out[j + 1] and sum(owned[i : j + 1]) < min_turn_s:
            out[i : j + 1] = out[i - 1]
        i = j + 1
    return out


def label_words(words: Sequence[Word], windows: Sequence[VoiceWindow]) -> list[int]:
    """The cluster of each word: the one its overlapping windows carry most (by overlap).

    A word no window overlaps takes the cluster of the nearest window.
    """
    starts = np.array([w.start_s for w in windows])
    ends = np.array([w.end_s for w in windows])
    clusters = np.array([w.cluster for w in windows])
    out = []
    for word in words:
        overlap = np.minimum(ends, word.end_s) - np.maximum(starts, word.start_s)
        if (overlap > 0).any():
            votes = [overlap[(overlap > 0) & (clusters == c)].sum() for c in (0, 1)]
            out.append(int(np.argmax(votes)))
        else:
            gap = np.maximum(starts - word.end_s, word.start_s - ends)
            out.append(int(clusters[int(np.argmin(gap))]))
    return out


# --- roles -----------------------------------------------------------------------------


def _turns(words: Sequence[Word], clusters: Sequence[int]) -> list[tuple[int, float, float, str]]:
    """``(cluster, start_s, end_s, bare text)`` per run of words in one cluster."""
    out = []
    for cluster, run in itertools.groupby(zip(words, clusters, strict=True), key=lambda p: p[1]):
        ws = [w for w, _ in run]
        out.append(
            (cluster, ws[0].start_s, ws[-1].end_s, bare(simplified("".join(w.text for w in ws))))
        )
    return out


def role_scores(
    words: Sequence[Word],
    clusters: Sequence[int],
    *,
    duration_s: float,
    options: DiarizeOptions = DEFAULT_OPTIONS,
) -> tuple[float, float]:
    """How much each cluster sounds like the agent (see the module docstring for the cues).

    Parameters
    ----------
    words
        The call's words in time order.
    clusters
        0 or 1 per word.
    duration_s
        Length of the call (closing phrases count near its end).
    options
        Phrases and the opening/closing windows.

    Returns
    -------
    tuple of float
        Score of cluster 0 and of cluster 1.
    """
    scores = [0.0, 0.0]
    if not words:
        return (0.0, 0.0)
    # the agent answers an inbound call; on an outbound one the customer answers. Only
    # when the transcript starts at the start: words lost before (a dropped phantom
    # segment) leave who picked up unknown
    if words[0].start_s < options.answer_s:
        scores[1 - clusters[0] if options.direction == "outbound" else clusters[0]] += 1.0
    if options.direction == "outbound":  # the caller pitches: the agent talks most
        said = [clusters.count(0), clusters.count(1)]
        if max(said) >= options.talk_margin * min(said):
            scores[0 if said[0] > said[1] else 1] += options.outbound_talk_weight
    turns = _turns(words, clusters)
    cued = cue_scores([Turn(*t) for t in turns], opening_s=options.opening_s)
    scores = [scores[0] + cued[0], scores[1] + cued[1]]
    found: list[set[str]] = [set(), set()]
    for cluster, start_s, end_s, text in turns:
        if start_s < options.opening_s:
            found[cluster] |= {f"open:{p}" for p in options.opening_phrases if has_phrase(text, p)}
        if end_s > duration_s - options.closing_s:
            found[cluster] |= {f"close:{p}" for p in options.closing_phrases if has_phrase(text, p)}
    return (scores[0] + len(found[0]), scores[1] + len(found[1]))


def agent_of(scores: tuple[float, float], *, first_cluster: int, direction: Direction = "") -> int:
    """The agent's cluster: the higher role score; a tie goes to whoever spoke first (on an
    outbound call, to whoever spoke second)."""
    if scores[0] == scores[1]:
        return 1 - first_cluster if direction == "outbound" else first_cluster
    return 0 if scores[0] > scores[1] else 1


# --- output ----------------------------------------------------------------------------


def assign_speakers(transcript: Transcript, speakers: Sequence[Speaker]) -> Transcript:
    """Split each utterance where its words change speaker.

    Parameters
    ----------
    transcript
        The mono transcript.
    speakers
        One party per word, in the order of ``u.words`` over ``transcript.utterances``.

    Returns
    -------
    Transcript
        New utterances, each one party's run of words: times from the first and last
        word, text joined from the words, confidence the mean word probability.
        Utterances without words take the party of the nearest word in time.
    """
    words = [w for u in transcript.utterances for w in u.words]
    if len(speakers) != len(words):
        raise ValueError(f"{len(speakers)} speakers for {len(words)} words")
    it = iter(speakers)
    out: list[Utterance] = []
    for u in transcript.utterances:
        if not u.words:
            out.append(dataclasses.replace(u, speaker=_nearest_speaker(u, words, speakers)))
            continue
        pairs = [(w, next(it)) for w in u.words]
        for speaker, run in itertools.groupby(pairs, key=lambda p: p[1]):
            out.append(_utterance(u, speaker, tuple(w for w, _ in run)))
    out.sort(key=lambda u: (u.start_s, u.channel))
    return dataclasses.replace(transcript, utterances=tuple(out))


def _utterance(source: Utterance, speaker: Speaker, words: tuple[Word, ...]) -> Utterance:
    return Utterance(
        speaker=speaker,
        start_s=round(words[0].start_s, 3),
        end_s=round(words[-1].end_s, 3),
        text="".join(w.text for w in words).strip(),
        words=words,
        confidence=round(sum(w.probability for w in words) / len(words), 4),
        channel=source.channel,
    )


def _nearest_speaker(u: Utterance, words: Sequence[Word], speakers: Sequence[Speaker]) -> Speaker:
    middle = (u.start_s + u.end_s) / 2
    i = min(range(len(words)), key=lambda k: abs((words[k].start_s + words[k].end_s) / 2 - middle))
    return speakers[i]
