"""A call's speech in Whisper windows, each window encoded once.

Whisper's cost is its encoder, run once per 30-second window whatever the window holds.
faster-whisper's ``BatchedInferencePipeline`` runs its own VAD over a track and encodes
its windows; asked to detect the language, ``WhisperModel.detect_language`` runs the VAD
and the encoder over the same speech once more. Here each track's speech (found once, by
the caller's VAD) is cut into the same windows the batched pipeline makes
(``faster_whisper.vad.collect_chunks``); the language is read off the encoder output of
the first windows (:meth:`WindowDecoder.window_languages`), and those very windows
are then decoded without being encoded again. Decoding is the batched pipeline's:
greedy or beam search without temperature fallback, text without timestamp tokens, word
times from the cross-attention alignment, and each window's times mapped back to the
track by ``restore_speech_timestamps``, so a track comes out as the pipeline would give it.

A stereo call's windows can instead hold the conversation (:func:`conversation_speech`):
both tracks' stretches in time order, each from its own track; what is decoded in them
is given back to each track by :func:`pipeline.packing.unpack` over their pieces.

Only faster-whisper's public functions and ``WhisperModel``'s public methods are used;
nothing but :mod:`models.asr` imports this module.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from math import ceil
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.packing import Piece

FloatArray = npt.NDArray[np.float32]
WINDOW_S = 30
"""Whisper's window: the longest input of its encoder (3000 feature frames)."""
MIN_ENCODED_S = 10
"""The shortest encoder input of a window encoded to its speech (``trim``): on much
shorter inputs Whisper's accuracy falls (CTranslate2#2100: 1-3.5 s telephone utterances)."""
ENCODED_MARGIN_S = 2
"""Padding kept after a trimmed window's speech: cut at its last word, the decoder did not
know where to stop (15 s windows of bench/throughput.py's mixes: 109 inserted words
greedily, 229 with beam 5, against 0 with this margin, 5 s or the full 30 s)."""


CONVERSATION = -1
"""The ``track`` of a window whose stretches come from every track of a call."""


@dataclass(frozen=True, slots=True)
class Window:
    """One encoder window: speech stretches laid end to end.

    It keeps where its speech is, not a copy of it: a long call's windows would hold all its
    speech again for the whole call; :attr:`samples` cuts them when a batch is encoded.
    """

    track: int
    """Its track, or :data:`CONVERSATION` (a window of every track's speech)."""
    index: int
    """Its place among the track's (or the conversation's) windows."""
    sources: tuple[FloatArray, ...]
    """The tracks its stretches come from, whole (not copied)."""
    spans: tuple[tuple[int, int, int], ...]
    """Its speech stretches: ``(source, start, end)``, sample indices in ``sources[source]``."""
    offset_s: float
    """Where it starts in the speech-only time (silence cut out) of its track or call."""
    duration_s: float

    @property
    def samples(self) -> FloatArray:
        """Its speech, laid end to end."""
        parts = [self.sources[k][start:end] for k, start, end in self.spans]
        return parts[0] if len(parts) == 1 else np.concatenate(parts).astype(np.float32)

    def source_at(self, at_s: float, *, sr: int) -> tuple[int, int]:
        """Where the speech ``at_s`` seconds into the window was said: its source and the
        sample there (past the window's end: where its last stretch ends).

        Examples
        --------
        >>> x = np.zeros(100, dtype=np.float32)
        >>> w = Window(0, 0, (x,), ((0, 10, 20), (0, 50, 70)), 0.0, 3.0)
        >>> w.source_at(0.5, sr=10), w.source_at(1.5, sr=10), w.source_at(9.0, sr=10)
        ((0, 15), (0, 55), (0, 70))
        """
        at = round(at_s * sr)
        for k, start, end in self.spans:
            if at <= end - start:
                return k, start + max(0, at)
            at -= end - start
        k, _, end = self.spans[-1]
        return k, end

    def speech_s(self, sample: int, *, sr: int) -> float:
        """Where ``sample`` of a one-source window's source lies in the speech-only time
        of its track (:attr:`offset_s` and seconds into it): the inverse of
        :meth:`source_at`; a sample between two stretches is where the first one ends.

        Examples
        --------
        >>> x = np.zeros(100, dtype=np.float32)
        >>> w = Window(0, 0, (x,), ((0, 10, 20), (0, 50, 70)), 4.0, 3.0)
        >>> w.speech_s(15, sr=10), w.speech_s(30, sr=10), w.speech_s(55, sr=10), w.speech_s(90, sr=10)
        (4.5, 5.0, 5.5, 7.0)
        """
        at = 0
        for _, start, end in self.spans:
            if sample < end:
                return self.offset_s + (at + max(0, sample - start)) / sr
            at += end - start
        return self.offset_s + at / sr


@dataclass(frozen=True, slots=True)
class TrackSpeech:
    """A track's speech stretches (faster-whisper's ``{"start", "end"}`` sample indices)
    and the windows they fill."""

    clips: tuple[dict[str, int], ...]
    windows: tuple[Window, ...]

    @property
    def speech_samples(self) -> int:
        return sum(c["end"] - c["start"] for c in self.clips)


def track_speech(
    track: int,
    samples: FloatArray,
    speech: Sequence[tuple[int, int]],
    *,
    sr: int,
    window_s: int = WINDOW_S,
) -> TrackSpeech:
    """Cut one track's speech into windows of at most ``window_s`` seconds, in order.

    A stretch longer than a window is cut into window-long pieces first: the encoder reads
    at most ``WINDOW_S`` seconds, and what lay beyond would be lost without a trace.

    Examples
    --------
    >>> x = np.zeros(50 * 16000, dtype=np.float32)
    >>> [round(w.duration_s, 1) for w in track_speech(0, x, [(0, 47 * 16000)], sr=16000).windows]
    [30.0, 17.0]
    """
    clips = _cut(speech, longest=window_s * sr)
    stretches = [(0, start, end) for start, end in clips]
    windows = _windows(track, (samples,), stretches, longest=window_s * sr, sr=sr)
    return TrackSpeech(tuple({"start": s, "end": e} for s, e in clips), windows)


@dataclass(frozen=True, slots=True)
class ConversationSpeech:
    """A call's windows filled with every track's speech in time order, and where each
    stretch lies in them (:class:`pipeline.packing.Piece`, in the windows' speech-only
    time) to give each word back to its track and its real time."""

    windows: tuple[Window, ...]
    pieces: tuple[Piece, ...]


def conversation_speech(
    tracks: Sequence[FloatArray],
    speech: Sequence[Sequence[tuple[int, int]]],
    *,
    sr: int,
    window_s: int = WINDOW_S,
) -> ConversationSpeech:
    """Fill windows with the speech stretches of every track, in order of their start.

    Each stretch is taken from its own track (one party's voice only); stretches that
    overlap in time are placed one after the other. The decoder hears the conversation
    (the agent, then the customer's reply…), and a call fills one partly empty last
    window instead of one per track.

    Examples
    --------
    >>> a, b = np.zeros(40 * 100, dtype=np.float32), np.zeros(40 * 100, dtype=np.float32)
    >>> call = conversation_speech([a, b], [[(0, 1000), (2000, 2500)], [(1200, 1900)]], sr=100)
    >>> [(p.track, p.start_s, p.packed_start_s) for p in call.pieces]
    [(0, 0.0, 0.0), (1, 12.0, 10.0), (0, 20.0, 17.0)]
    >>> [w.spans for w in call.windows]
    [((0, 0, 1000), (1, 1200, 1900), (0, 2000, 2500))]
    """
    longest = window_s * sr
    stretches = sorted(
        ((start, k, end) for k, s in enumerate(speech) for start, end in _cut(s, longest=longest)),
        key=lambda x: (x[0], x[1]),
    )
    spans = [(k, a, b) for a, k, b in stretches]
    windows = _windows(CONVERSATION, tuple(tracks), spans, longest=longest, sr=sr)
    pieces, at = [], 0
    for window in windows:
        for k, start, end in window.spans:
            pieces.append(Piece(k, start / sr, at / sr, (end - start) / sr))
            at += end - start
    return ConversationSpeech(windows, tuple(pieces))


def _cut(speech: Sequence[tuple[int, int]], *, longest: int) -> list[tuple[int, int]]:
    """Stretches longer than ``longest`` samples cut into pieces of at most that."""
    return [
        (at, min(at + longest, end)) for start, end in speech for at in range(start, end, longest)
    ]


def _windows(
    track: int,
    sources: tuple[FloatArray, ...],
    stretches: Sequence[tuple[int, int, int]],
    *,
    longest: int,
    sr: int,
) -> tuple[Window, ...]:
    """``(source, start, end)`` stretches laid end to end in windows of at most
    ``longest`` samples, in order (as faster-whisper's ``collect_chunks`` fills them)."""
    groups: list[list[tuple[int, int, int]]] = []
    filled = longest
    for k, start, end in stretches:
        if filled + end - start > longest:
            groups.append([])
            filled = 0
        groups[-1].append((k, start, end))
        filled += end - start
    windows, offset = [], 0
    for spans in groups:
        length = sum(end - start for _, start, end in spans)
        windows.append(Window(track, len(windows), sources, tuple(spans), offset / sr, length / sr))
        offset += length
    return tuple(windows)


@dataclass(frozen=True, slots=True)
class Encoded:
    """Windows and their encoder output (a CTranslate2 ``StorageView``), and which
    weights encoded them (``model_key``): another model cannot decode them."""

    windows: tuple[Window, ...]
    output: Any
    model_key: str


@dataclass(frozen=True, slots=True)
class DecodeSettings:
    """The batched pipeline's decoding options that earmark sets."""

    beam_size: int
    initial_prompt: str | None = None
    hotwords: str | None = None
    prepend_punctuations: str = "\"'“¿([{-"
    append_punctuations: str = "\"'.。,，!！?？:：”)]}、"


class WindowDecoder:
    """Encode windows, read their language, decode them into faster-whisper segments.

    Parameters
    ----------
    model
        A ``faster_whisper.WhisperModel``.
    model_key
        Names its weights and compute type (a replica of the same weights has the same key).
    trim
        Encode a batch's features cut to its longest window's speech (whole seconds, at
        least ``MIN_ENCODED_S``, ``ENCODED_MARGIN_S`` of padding after the longest
        window's speech) instead of padded to ``WINDOW_S``: the encoder then runs
        on fewer positions (CTranslate2 accepts Whisper features shorter than 3000 frames).
    """

    def __init__(self, model: Any, model_key: str, *, trim: bool = False) -> None:
        self.model = model
        self.model_key = model_key
        self.trim = trim

    def encode(self, windows: Sequence[Window]) -> Encoded:
        """One encoder pass over ``windows`` (one batch)."""
        from faster_whisper.audio import pad_or_trim

        extract = self.model.feature_extractor
        frames = self.encoded_frames(windows)
        features = np.stack([pad_or_trim(extract(w.samples)[..., :-1], frames) for w in windows])
        return Encoded(tuple(windows), self.model.encode(features), self.model_key)

    def encoded_frames(self, windows: Sequence[Window]) -> int:
        """Feature frames the encoder reads for ``windows``: ``WINDOW_S`` seconds' worth,
        or (``trim``) the longest window's speech and ``ENCODED_MARGIN_S``, in whole
        seconds, at least ``MIN_ENCODED_S``.

        Word alignment reads ``ceil(duration_s)`` seconds of each window, never more."""
        seconds = WINDOW_S
        if self.trim:
            longest = max(ceil(w.duration_s + ENCODED_MARGIN_S) for w in windows)
            seconds = min(WINDOW_S, max(MIN_ENCODED_S, longest))
        return int(seconds * self.model.frames_per_second)

    def window_languages(self, encoded: Encoded) -> list[list[tuple[str, float]]]:
        """Every language with its probability, for each encoded window."""
        if not self.model.model.is_multilingual:
            return [[("en", 1.0)] for _ in encoded.windows]
        return [
            [(token[2:-2], p) for token, p in probs]  # "<|en|>" → "en"
            for probs in self.model.model.detect_language(encoded.output)
        ]

    def decode(
        self, encoded: Encoded, *, language: str, settings: DecodeSettings, last_speech_s: float
    ) -> tuple[list[list[dict[str, Any]]], float]:
        """Text and word times of every encoded window (times in the track's speech-only
        time), and the end of the last word heard (the next batch's ``last_speech_s``)."""
        from faster_whisper.tokenizer import Tokenizer

        model = self.model
        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        results = model.model.generate(
            encoded.output,
            [self._prompt(tokenizer, settings)] * len(encoded.windows),
            beam_size=settings.beam_size,
            max_length=model.max_length,
            suppress_blank=True,
            suppress_tokens=_suppressed(tokenizer),
            return_scores=True,
            return_no_speech_prob=True,
            sampling_temperature=0.0,
        )
        fps = model.frames_per_second
        outputs = [
            _window_output(w, r, tokenizer, fps=fps)
            for w, r in zip(encoded.windows, results, strict=True)
        ]
        sizes = [int(ceil(w.duration_s) * fps) for w in encoded.windows]
        last = model.add_word_timestamps(
            outputs,
            tokenizer,
            encoded.output,
            sizes,
            settings.prepend_punctuations,
            settings.append_punctuations,
            last_speech_s,
        )
        return outputs, last_speech_s if last is None else float(last)

    def _prompt(self, tokenizer: Any, settings: DecodeSettings) -> list[int]:
        previous = tokenizer.encode(settings.initial_prompt) if settings.initial_prompt else []
        return list(
            self.model.get_prompt(
                tokenizer,
                previous_tokens=previous,
                without_timestamps=True,
                hotwords=settings.hotwords,
            )
        )


def _suppressed(tokenizer: Any) -> list[int]:
    """faster-whisper's default ``suppress_tokens=[-1]``: its non-speech symbols."""
    from faster_whisper.transcribe import get_suppressed_tokens

    return list(get_suppressed_tokens(tokenizer, [-1]))


def _window_output(
    window: Window, result: Any, tokenizer: Any, *, fps: int
) -> list[dict[str, Any]]:
    """One window's text as one segment spanning the window (no timestamp tokens)."""
    from faster_whisper.transcribe import get_compression_ratio

    tokens = result.sequences_ids[0]
    text = tokenizer.decode(tokens)
    return [
        {
            "text": text,
            "avg_logprob": result.scores[0] * len(tokens) / (len(tokens) + 1),
            "no_speech_prob": result.no_speech_prob,
            "tokens": tokens,
            "start": window.offset_s,
            "end": window.offset_s + window.duration_s,
            "compression_ratio": get_compression_ratio(text),
            "seek": int(window.offset_s * fps),  # in frames, as add_word_timestamps reads it
        }
    ]


def iter_track_segments(
    outputs: Sequence[list[dict[str, Any]]], speech: TrackSpeech, *, sr: int
) -> Iterator[Any]:
    """faster-whisper ``Segment`` objects of one track's decoded windows, in track time.
    A lazy iterator (faster-whisper's ``restore_speech_timestamps`` maps them)."""
    from faster_whisper.transcribe import restore_speech_timestamps

    restored: Iterator[Any] = restore_speech_timestamps(
        iter_window_segments(outputs), list(speech.clips), sr
    )
    return restored


def iter_window_segments(outputs: Sequence[list[dict[str, Any]]]) -> Iterator[Any]:
    """faster-whisper ``Segment`` objects of decoded windows, in their speech-only time
    (a lazy iterator)."""
    from faster_whisper.transcribe import Segment, Word

    for k, window in enumerate(outputs):
        for s in window:
            yield Segment(
                id=k,
                seek=s["seek"],
                start=round(s["start"], 3),
                end=round(s["end"], 3),
                text=s["text"],
                tokens=s["tokens"],
                avg_logprob=s["avg_logprob"],
                compression_ratio=s["compression_ratio"],
                no_speech_prob=s["no_speech_prob"],
                words=[Word(**w) for w in s.get("words", [])],
                temperature=0.0,
            )
