"""faster-whisper behind the :class:`pipeline.protocols.Transcriber` protocol.

Per channel: Silero VAD (shipped inside faster-whisper) keeps only speech regions,
so cost follows speech, not recording length. The VAD runs once per channel
(:meth:`WhisperTranscriber.hear`); its speech fills Whisper's 30-second windows, each
encoded once (:mod:`models.windows`): the language is read off the first windows' encoder
output and those windows are then decoded as they are, in batches, like faster-whisper's
``BatchedInferencePipeline`` would decode them. With ``[asr] windows = "conversation"`` a
stereo call's windows are filled with both channels' speech in time order, each stretch
from its own channel, and each decoded word is given back to its channel and its time
(:func:`models.windows.conversation_speech`, :func:`pipeline.packing.unpack`). With ``pack_channels`` the channels'
speech is packed into one stream (:mod:`pipeline.packing`) and transcribed in one
batched pass of faster-whisper's own pipeline. Word timestamps on; ``condition_on_previous_text=False`` so one misheard
phrase does not snowball. The model loads once per process (``lru_cache``); only our
own records leave here.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import functools
import hashlib
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from models.bundle import ModelSource, resolve_model
from models.windows import (
    WINDOW_S,
    ConversationSpeech,
    DecodeSettings,
    Encoded,
    TrackSpeech,
    Window,
    WindowDecoder,
    conversation_speech,
    iter_track_segments,
    iter_window_segments,
    track_speech,
)
from pipeline import TARGET_SR
from pipeline.config import AsrConfig, usable_cores
from pipeline.errors import ModelError
from pipeline.packing import pack, unpack
from pipeline.transcript import MAX_COMPRESSION_RATIO, drop_phantoms
from pipeline.types import ChannelTranscript, Segment, Word

_T = TypeVar("_T")

ASR_OPTIONS_VERSION = 11
"""Bump when a change here changes transcripts: it is part of the cache key."""
VAD_PARAMETERS = {"min_silence_duration_ms": 500, "speech_pad_ms": 300}
LANGUAGE_DETECTION_SEGMENTS = 4
MIN_LANGUAGE_WINDOW_S = 5.0
"""A window of speech shorter than this adds little but noise to the language's judgement
and is left out (unless it is the first)."""
LONG_TRACK_S = 20 * 60.0
"""Sequential decoding (``batch_size = 1``) takes channels longer than this in blocks, in
bounded memory (batched decoding holds one batch of windows at a time anyway)."""
PACKED_BLOCK_S = 10 * 60.0
VAD_BLOCK_S = 10 * 60.0
SPARE_POLL_S = 0.2
"""How often a helper waiting for a spare replica checks that its call still needs it."""
MIN_DECODE_BUDGET_S = 30.0
"""A track may always take this long to decode, however short it is."""
REDO_PAD_S = 0.2
"""Audio kept around a repetitive segment when it is decoded again."""
UNHEARD_S = 5.0
"""Speech of a window in which the decoder heard no word: more than this, and it skipped
that stretch, which is decoded again. Greedy decoding of long telephone windows now and
then ends a window early (15 s of the real call of ``bench/throughput.py``), starts it
late or leaves out its middle (a real mono Russian call: 14 s of the agent's offer at a
window's start, 22 s of another window's first 30 s)."""


UNHEARD_ROUNDS = 2
"""How many times a track window's unheard speech is decoded again (what the first
decoding again left unheard is decoded once more)."""


def pick_device(device: str) -> tuple[str, str]:
    """``auto`` → CUDA (float16) when a GPU is visible, else CPU (int8)."""
    if device != "auto":
        return device, "int8" if device == "cpu" else "float16"
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        return "cuda", "float16"
    return "cpu", "int8"


@lru_cache(maxsize=8)
def load_whisper(
    path: str,
    device: str,
    compute_type: str,
    cpu_threads: int,
    local_only: bool,
    num_workers: int = 1,
    replica: int = 0,
) -> Any:
    """Load a ``WhisperModel`` once per process and argument set.

    ``num_workers`` model replicas inside one model serve that many threads at once;
    earmark loads one-worker models instead, one ``replica`` per busy ``[asr] workers``
    thread (see :class:`Replicas`), so a night with one call holds one model.
    """
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            path,
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            num_workers=num_workers,
            local_files_only=local_only,
        )
    except Exception as exc:  # faster-whisper raises bare RuntimeError/OSError/HF errors
        hint = (
            f"; its files may be truncated or damaged: copy the model folder again (for the "
            f'bundled model = "base", delete {path} and earmark joins it again from the '
            "weight packages)"
            if local_only
            else ' (hub models need a network connection; use model = "base" offline)'
        )
        raise ModelError(f"cannot load ASR model {path!r}: {exc}{hint}", code="M004") from exc


class Replicas:
    """Model replicas loaded on demand, at most ``most``: a thread takes one for a whole
    call (``hold``) and gives it back; a new one is loaded only when every loaded one is
    busy. A night of one long call never holds the idle second model (200+ MB)."""

    def __init__(self, load: Callable[[int], Any], most: int) -> None:
        self._load = load
        self._most = max(1, most)
        self._loaded: list[Any] = []
        self._idle: list[Any] = []
        self._ready = threading.Condition()
        self._local = threading.local()

    def first(self) -> Any:
        """The first replica (loaded if none is): for a check before the night."""
        with self._ready:
            if not self._loaded:
                self._loaded.append(self._load(0))
                self._idle.append(self._loaded[0])
            return self._loaded[0]

    def current(self) -> Any:
        """The replica this thread holds, else the first one."""
        held = getattr(self._local, "model", None)
        return held if held is not None else self.first()

    @contextlib.contextmanager
    def hold(self) -> Iterator[Any]:
        """This thread's replica for the duration (re-entrant)."""
        held = getattr(self._local, "model", None)
        if held is not None:
            yield held
            return
        with self._ready:
            while not self._idle and len(self._loaded) >= self._most:
                self._ready.wait()
            model = self._take()
        with self._holding(model):
            yield model

    @contextlib.contextmanager
    def hold_spare(self, *, wanted: Callable[[], bool]) -> Iterator[Any]:
        """A replica no other thread holds, for the duration; while every one of the
        ``most`` replicas is busy, waits for one only as long as ``wanted()`` says the
        work is still there, else ``None``."""
        model = None
        with self._ready:
            while not self._idle and len(self._loaded) >= self._most and wanted():
                self._ready.wait(timeout=SPARE_POLL_S)
            if (self._idle or len(self._loaded) < self._most) and wanted():
                model = self._take()
            elif self._idle:
                self._ready.notify()  # woken for a replica it no longer wants: pass it on
        if model is None:
            yield None
            return
        with self._holding(model):
            yield model

    def _take(self) -> Any:
        """An idle replica, else a new one (called with ``_ready`` held, room checked)."""
        if self._idle:
            return self._idle.pop()
        model = self._load(len(self._loaded))
        self._loaded.append(model)
        return model

    @contextlib.contextmanager
    def _holding(self, model: Any) -> Iterator[None]:
        before = getattr(self._local, "model", None)
        self._local.model = model
        try:
            yield
        finally:
            self._local.model = before
            with self._ready:
                self._idle.append(model)
                self._ready.notify()

    @property
    def loaded(self) -> int:
        return len(self._loaded)

    @property
    def most(self) -> int:
        """The most replicas ever loaded."""
        return self._most


def holding_a_replica(method: Callable[..., _T]) -> Callable[..., _T]:
    """Run a transcriber method with one model replica held by the calling thread."""

    @functools.wraps(method)
    def wrapper(self: WhisperTranscriber, *args: Any, **kwargs: Any) -> _T:
        with self.replicas.hold():
            return method(self, *args, **kwargs)

    return wrapper


class WhisperTranscriber:
    """Transcribe 16 kHz mono channels with faster-whisper, one call at a time.

    Parameters
    ----------
    config
        Model name/path, device, compute type, beam size, batch size, threads.
    source
        An already resolved model (resolved from ``config.model`` when omitted).
    """

    def __init__(self, config: AsrConfig, source: ModelSource | None = None) -> None:
        self.config = config
        self.source = source or resolve_model(config.model)
        self.device, default_compute = pick_device(config.device)
        self.compute_type = config.compute_type if self.device == "cpu" else default_compute
        self.replicas = Replicas(self._load_replica, config.worker_count)

    @property
    def model_id(self) -> str:
        c = self.config
        biasing = hashlib.sha256(f"{c.hotwords}\x00{c.initial_prompt}".encode()).hexdigest()[:8]
        return (
            f"{self.source.name}@{self.source.sha256[:12] or self.source.path}|{self.compute_type}"
            f"|beam{c.beam_size}|batch{c.batch_size}|vad{c.vad_threshold:g}|words"
            f"|opts{ASR_OPTIONS_VERSION}"
            + ("|packed" if c.pack_channels else "")
            + ("|conv" if c.windows == "conversation" else "")
            + (f"|win{c.window_s}" if c.window_s != WINDOW_S else "")
            + ("|speechenc" if c.encoder_input == "speech" else "")
            + ("|level" if c.normalize_level else "")
            + (f"|bias{biasing}" if c.hotwords or c.initial_prompt else "")
        )

    @property
    def vad_parameters(self) -> dict[str, float]:
        """Silero VAD settings: earmark's pauses and padding, the configured threshold."""
        return {**VAD_PARAMETERS, "threshold": self.config.vad_threshold}

    @property
    def cpu_threads(self) -> int:
        """Threads per model: the configured count, else the cores shared among the workers."""
        if self.config.cpu_threads:
            return self.config.cpu_threads
        return max(1, usable_cores() // self.config.worker_count)

    @property
    def model(self) -> Any:
        """The model replica the calling thread holds (the first one outside a call)."""
        return self.replicas.current()

    def _load_replica(self, replica: int) -> Any:
        return load_whisper(
            self.source.path,
            self.device,
            self.compute_type,
            self.cpu_threads,
            self.source.is_local,
            1,
            replica,
        )

    @holding_a_replica
    def detect_language(
        self, samples: npt.NDArray[np.float32], *, candidates: Sequence[str]
    ) -> tuple[str, float]:
        """The likeliest of ``candidates``, judged on several VAD speech windows.

        Whisper's detection on a few seconds of telephone audio is unreliable, so it is
        taken over up to ``LANGUAGE_DETECTION_SEGMENTS`` 30-second windows of speech
        and restricted to the center's languages.
        """
        if len(candidates) == 1:
            return candidates[0], 1.0
        all_probs = self.language_probabilities(samples)
        allowed = {lang: p for lang, p in all_probs if lang in candidates}
        total = sum(allowed.values()) or 1.0
        language = max(candidates, key=lambda lang: allowed.get(lang, 0.0))
        return language, round(allowed.get(language, 0.0) / total, 4)

    def language_probabilities(
        self, samples: npt.NDArray[np.float32], *, segments: int = LANGUAGE_DETECTION_SEGMENTS
    ) -> list[tuple[str, float]]:
        """Every Whisper language with its probability, averaged over windows of speech
        (see :meth:`call_language`); empty when the channel holds no speech."""
        probabilities, _ = self.call_language(self.hear([samples]), probe=0, segments=segments)
        return probabilities

    def hear(self, tracks: Sequence[npt.NDArray[np.float32]]) -> HeardCall:
        """Each track's speech, found once by the VAD, and the Whisper windows it fills
        (each track's, and the conversation's): language detection and transcription both
        start from it."""
        speech = [self._speech(t) for t in tracks]
        window_s = self.config.window_s
        return HeardCall(
            tuple(tracks),
            tuple(
                track_speech(k, t, speech[k], sr=TARGET_SR, window_s=window_s)
                for k, t in enumerate(tracks)
            ),
            conversation_speech(tracks, speech, sr=TARGET_SR, window_s=window_s),
        )

    @holding_a_replica
    def call_language(
        self, heard: HeardCall, *, probe: int, segments: int = LANGUAGE_DETECTION_SEGMENTS
    ) -> tuple[list[tuple[str, float]], list[Encoded]]:
        """Every Whisper language with its probability, judged on the ``probe`` track (on
        the conversation's windows, when the call is decoded in them: every party heard).

        Whisper's detection on a few seconds of telephone audio is unreliable, so it is
        taken over the track's first ``segments`` windows of speech (up to 30 s each; one
        under ``MIN_LANGUAGE_WINDOW_S`` left out unless it is the first), averaged,
        weighted by each window's speech. (faster-whisper's own ``detect_language`` returns the last
        window's probabilities only.) The windows are encoded once: the encoded batches are
        returned for :meth:`transcribe_heard` to decode without encoding them again.

        Returns
        -------
        (list of (language, probability), encoded batches)
            Likeliest language first; empty when the track holds no speech.
        """
        windows = self._call_windows(heard, probe)[: self._language_windows(segments)]
        if not windows:
            return [], []
        decoder = self._decoder()
        batches = [decoder.encode(b) for b in _batches(windows, self._batch_size)]
        heard_windows = [
            (window, probs)
            for batch in batches
            for window, probs in zip(batch.windows, decoder.window_languages(batch), strict=True)
        ]
        counted = [
            (window.duration_s, probs)
            for k, (window, probs) in enumerate(heard_windows)
            if k == 0 or window.duration_s >= MIN_LANGUAGE_WINDOW_S
        ]
        return _averaged(counted), batches

    @holding_a_replica
    def transcribe(self, samples: npt.NDArray[np.float32], *, language: str) -> ChannelTranscript:
        """Transcribe one channel; phantom segments are dropped, decoding time is capped."""
        return self.transcribe_heard(self.hear([samples]), language=language)[0]

    @holding_a_replica
    def transcribe_tracks(
        self, tracks: Sequence[npt.NDArray[np.float32]], *, language: str
    ) -> list[ChannelTranscript]:
        """Transcribe every track of a call (see :meth:`transcribe_heard`)."""
        return self.transcribe_heard(self.hear(tracks), language=language)

    @holding_a_replica
    def transcribe_heard(
        self, heard: HeardCall, *, language: str, encoded: Sequence[Encoded] = ()
    ) -> list[ChannelTranscript]:
        """Transcribe every track of a call, one :class:`ChannelTranscript` per track.

        Batched (``batch_size`` > 1), each track's windows are decoded in batches, and
        ``encoded`` batches (from :meth:`call_language`, when this model encoded them) are
        decoded as they are. With ``pack_channels`` the tracks' speech is packed into one
        stream and transcribed in one pass; each track's speech is still found by its own
        VAD, so a word is only ever heard on the channel it was said on. With
        ``batch_size = 1``, each track is decoded sequentially (temperature fallback).
        """
        if len(heard.tracks) > 1 and self.config.pack_channels:
            return self._transcribe_packed(heard, language)
        if self.config.batch_size == 1:
            return [self._transcribe_sequential(t, language) for t in heard.tracks]
        mine = [b for b in encoded if b.model_key == self._model_key]
        if self._in_conversation(heard):
            return self._transcribe_conversation(heard, language, mine)
        jobs = [
            functools.partial(self._transcribe_windows, samples, speech, language, mine)
            for samples, speech in zip(heard.tracks, heard.speech, strict=True)
        ]
        return self._on_spare_replicas(jobs)

    def _on_spare_replicas(self, jobs: Sequence[Callable[[], _T]]) -> list[_T]:
        """Run ``jobs`` (a call's tracks) on this thread's replica and on any replica no
        other call holds, as soon as one is free: when the night has fewer calls left than
        workers (its last long call, or a night of one call), the idle cores take the
        call's other tracks. Never more replicas than ``[asr] workers``; a helper stops
        waiting once this thread has taken every track."""
        pending = list(range(len(jobs)))[::-1]
        results: dict[int, _T] = {}
        lock = threading.Lock()

        def drain() -> None:
            while True:
                with lock:
                    if not pending:
                        return
                    k = pending.pop()
                results[k] = jobs[k]()

        def on_spare() -> None:
            with self.replicas.hold_spare(wanted=lambda: bool(pending)) as model:
                if model is not None:
                    drain()

        helpers = [_HELPERS.submit(on_spare) for _ in jobs[1 : self.replicas.most]]
        drain()
        for helper in helpers:
            helper.result()
        return [results[k] for k in range(len(jobs))]

    def _transcribe_windows(
        self,
        samples: npt.NDArray[np.float32],
        speech: TrackSpeech,
        language: str,
        encoded: Sequence[Encoded],
    ) -> ChannelTranscript:
        """One track, its windows in batches (those already encoded first), the decoding
        time capped at ``max_decode_s_per_audio_s``."""
        duration_s = len(samples) / TARGET_SR
        budget_s = max(MIN_DECODE_BUDGET_S, duration_s * self.config.max_decode_s_per_audio_s)
        decoder = self._decoder()
        settings = self._decode_settings
        started = time.monotonic()
        outputs: list[list[dict[str, Any]]] = []
        last_speech_s = 0.0
        for batch in self._iter_encoded(decoder, speech.windows, encoded):
            decoded, last_speech_s = decoder.decode(
                batch, language=language, settings=settings, last_speech_s=last_speech_s
            )
            outputs.extend(decoded)
            if time.monotonic() - started > budget_s and len(outputs) < len(speech.windows):
                break
        raw = [_segment(s) for s in iter_track_segments(outputs, speech, sr=TARGET_SR)]
        capped: list[str] = []
        if len(outputs) < len(speech.windows):
            end_s = raw[-1].end_s if raw else 0.0
            capped.append(f"decoding stopped at {end_s:.1f}s: over the {budget_s:.0f}s budget")
        else:
            raw = self._redo_failed_track_windows(samples, speech, outputs, raw, language)
        speech_s = speech.speech_samples / TARGET_SR
        return _channel(raw, capped, language=language, duration_s=duration_s, speech_s=speech_s)

    def _iter_encoded(
        self, decoder: WindowDecoder, windows: Sequence[Window], encoded: Sequence[Encoded]
    ) -> Iterator[Encoded]:
        """The windows encoded in batches, lazily (a long track never holds more than one
        batch's encoder output); batches already encoded are taken as they are."""
        for batch in self._batches_to_decode(windows, encoded):
            yield batch if isinstance(batch, Encoded) else decoder.encode(batch)

    def _batches_to_decode(
        self, windows: Sequence[Window], encoded: Sequence[Encoded]
    ) -> list[Encoded | Sequence[Window]]:
        """``windows`` in batches: first the ``encoded`` ones that start them, as they are,
        then the rest, to encode."""
        done = 0
        batches: list[Encoded | Sequence[Window]] = []
        for batch in encoded:
            if done < len(windows) and batch.windows[0] is windows[done]:
                done += len(batch.windows)
                batches.append(batch)
        return batches + _batches(windows[done:], self._batch_size)

    def _in_conversation(self, heard: HeardCall) -> bool:
        """Whether ``heard`` is decoded in conversation windows (a call of several tracks)."""
        return len(heard.tracks) > 1 and self.config.windows == "conversation"

    def _call_windows(self, heard: HeardCall, probe: int) -> tuple[Window, ...]:
        """The windows the call is decoded in that hold the ``probe`` track's speech."""
        if self._in_conversation(heard):
            return heard.conversation.windows
        return heard.speech[probe].windows

    def _transcribe_conversation(
        self, heard: HeardCall, language: str, encoded: Sequence[Encoded]
    ) -> list[ChannelTranscript]:
        """Every track's speech in the conversation's windows (one stream), in batches on
        this replica and any spare one; each word given back to its track and its time."""
        call = heard.conversation
        duration_s = max(len(t) for t in heard.tracks) / TARGET_SR
        budget_s = max(MIN_DECODE_BUDGET_S, duration_s * self.config.max_decode_s_per_audio_s)
        deadline = time.monotonic() + budget_s
        jobs = [  # the first batch is always decoded, as a track's is
            functools.partial(self._decode_batch, batch, language, deadline if k else math.inf)
            for k, batch in enumerate(self._batches_to_decode(call.windows, encoded))
        ]
        decoded = list(itertools.takewhile(bool, self._on_spare_replicas(jobs)))
        outputs = [window for batch in decoded for window in batch]
        raw = [_segment(s) for s in iter_window_segments(outputs)]
        capped: list[str] = []
        if len(outputs) < len(call.windows):
            capped.append(
                f"decoding stopped after {len(outputs)} of {len(call.windows)} "
                f"windows: over the {budget_s:.0f}s budget"
            )
        else:
            raw = self._redo_failed_windows(call, raw, language)
        return _given_back(
            heard, unpack(raw, call.pieces, tracks=len(heard.tracks)), capped, language
        )

    def _decode_batch(
        self, batch: Encoded | Sequence[Window], language: str, deadline: float
    ) -> list[list[dict[str, Any]]]:
        """One batch of windows decoded (encoded first if it is not yet) by this thread's
        replica; nothing once past ``deadline`` (``time.monotonic``)."""
        if time.monotonic() > deadline:
            return []
        decoder = self._decoder()
        encoded = batch if isinstance(batch, Encoded) else decoder.encode(batch)
        decoded, _ = decoder.decode(
            encoded,
            language=language,
            settings=self._decode_settings,
            last_speech_s=encoded.windows[0].offset_s,
        )
        return decoded

    def _transcribe_sequential(
        self, samples: npt.NDArray[np.float32], language: str
    ) -> ChannelTranscript:
        """faster-whisper's sequential decoding; a channel longer than ``LONG_TRACK_S``
        goes through :meth:`_decode_long`, whose memory does not grow with its length."""
        duration_s = len(samples) / TARGET_SR
        if duration_s > LONG_TRACK_S:
            raw, capped, speech_s = self._decode_long(samples, language)
        else:
            raw, capped, speech_s = self._decode(samples, language, duration_s=duration_s)
        return _channel(raw, capped, language=language, duration_s=duration_s, speech_s=speech_s)

    def _transcribe_packed(self, heard: HeardCall, language: str) -> list[ChannelTranscript]:
        """Every track's speech packed into one stream (:mod:`pipeline.packing`), one pass."""
        tracks = heard.tracks
        speech = [[(c["start"], c["end"]) for c in s.clips] for s in heard.speech]
        packed = pack(tracks, speech, sr=TARGET_SR)
        duration_s = max(len(t) for t in tracks) / TARGET_SR
        raw, capped, _ = self._decode(packed.samples, language, duration_s=duration_s)
        return _given_back(heard, unpack(raw, packed.pieces, tracks=len(tracks)), capped, language)

    @property
    def _decode_settings(self) -> DecodeSettings:
        return DecodeSettings(
            beam_size=self.config.beam_size,
            initial_prompt=self.config.initial_prompt or None,
            hotwords=self.config.hotwords or None,
        )

    @property
    def _batch_size(self) -> int:
        return max(1, self.config.batch_size)

    @property
    def _model_key(self) -> str:
        return f"{self.source.path}|{self.device}|{self.compute_type}"

    def _decoder(self) -> WindowDecoder:
        trim = self.config.encoder_input == "speech"
        return WindowDecoder(self.model, self._model_key, trim=trim)

    def _language_windows(self, segments: int) -> int:
        """Windows that hold as much speech as ``segments`` 30-second ones."""
        return math.ceil(segments * WINDOW_S / self.config.window_s)

    def _speech(self, samples: npt.NDArray[np.float32]) -> list[tuple[int, int]]:
        """Speech stretches (sample indices), the VAD run a block at a time.

        Silero runs on every 512-sample window of its input at once; on a whole hour that
        holds half a gigabyte. Blocks cost a stretch split at a block edge, which is
        joined again.
        """
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        options = VadOptions(
            **self.vad_parameters, max_speech_duration_s=float(self.config.window_s)
        )
        block = int(VAD_BLOCK_S * TARGET_SR)
        longest = int(options.max_speech_duration_s * TARGET_SR)
        out: list[tuple[int, int]] = []
        for at in range(0, len(samples), block):
            for c in get_speech_timestamps(samples[at : at + block], options):
                start, end = c["start"] + at, c["end"] + at
                joins = out and start <= out[-1][1] and start == at  # cut by the block edge
                if joins and end - out[-1][0] <= longest:
                    out[-1] = (out[-1][0], end)
                else:
                    out.append((start, end))
        return out

    def _decode_long(
        self, samples: npt.NDArray[np.float32], language: str
    ) -> tuple[list[Segment], list[str], float]:
        """A long channel in bounded memory: its speech, packed, in blocks of ``PACKED_BLOCK_S``."""
        speech = self._speech(samples)
        raw: list[Segment] = []
        capped: list[str] = []
        for group in _groups(speech, max_samples=int(PACKED_BLOCK_S * TARGET_SR)):
            packed = pack([samples], [group], sr=TARGET_SR)
            duration_s = len(packed.samples) / TARGET_SR
            segments, stopped, _ = self._decode(packed.samples, language, duration_s=duration_s)
            raw.extend(unpack(segments, packed.pieces, tracks=1)[0])
            capped.extend(stopped)
        return raw, capped, sum(end - start for start, end in speech) / TARGET_SR

    def _decode(
        self, samples: npt.NDArray[np.float32], language: str, *, duration_s: float
    ) -> tuple[list[Segment], list[str], float]:
        """Segments, why decoding stopped early (if it did), and the seconds of speech."""
        budget_s = max(MIN_DECODE_BUDGET_S, duration_s * self.config.max_decode_s_per_audio_s)
        segments_iter, info = self._start(samples, language)
        started = time.monotonic()
        raw: list[Segment] = []
        capped: list[str] = []
        for seg in segments_iter:
            raw.append(_segment(seg))
            if time.monotonic() - started > budget_s:
                capped.append(
                    f"decoding stopped at {seg.end:.1f}s: over the {budget_s:.0f}s budget"
                )
                break
        if self.config.batch_size > 1 and not capped:
            raw = self._redo_repetitive(samples, raw, language)
        return raw, capped, float(info.duration_after_vad)

    def _redo_repetitive(
        self, samples: npt.NDArray[np.float32], raw: list[Segment], language: str
    ) -> list[Segment]:
        """Segments that came out as a repetition loop, decoded again one window at a time.

        Batched decoding has no temperature fallback: on noisy telephone speech a window
        can come back as one phrase repeated ("было было было…", compression ratio far
        above 2.4), and the whole window (up to 30 s, e.g. a call's opening) would then be
        dropped as a phantom. Sequential decoding retries such a window at higher
        temperatures; what is still repetitive is dropped as before.
        """
        out: list[Segment] = []
        for seg in raw:
            if seg.compression_ratio <= MAX_COMPRESSION_RATIO:
                out.append(seg)
                continue
            start = max(0, int((seg.start_s - REDO_PAD_S) * TARGET_SR))
            end = min(len(samples), int((seg.end_s + REDO_PAD_S) * TARGET_SR))
            out.extend(self._decode_again(samples[start:end], language, start / TARGET_SR))
        return out

    def _redo_failed_track_windows(
        self,
        samples: npt.NDArray[np.float32],
        speech: TrackSpeech,
        outputs: Sequence[list[dict[str, Any]]],
        raw: Sequence[Segment],
        language: str,
    ) -> list[Segment]:
        """:meth:`_redo_failed_windows` for a track's windows (``raw``: one segment each,
        in track time; ``outputs``: the decoded windows, their words in the track's
        speech-only time), in time order: a looping window goes to
        :meth:`_redo_repetitive`; speech a window's decoder left unheard is decoded again
        from the track (:meth:`_hear_unheard`), and the window's segment is cut there."""
        out: list[Segment] = []
        for window, decoded, seg in zip(speech.windows, outputs, raw, strict=True):
            if seg.compression_ratio > MAX_COMPRESSION_RATIO:
                out.extend(self._redo_repetitive(samples, [seg], language))
                continue
            words = [(w["start"], w["end"]) for s in decoded for w in s.get("words") or ()]
            cuts = [window.source_at(a, sr=TARGET_SR)[1] for a, _ in _unheard(window, words)]
            out.extend(_split(seg, [start / TARGET_SR for start in cuts]))
            out.extend(self._hear_unheard(samples, window, words, language))
        return sorted(out, key=_start)

    def _hear_unheard(
        self,
        samples: npt.NDArray[np.float32],
        window: Window,
        words: Sequence[tuple[float, float]],
        language: str,
    ) -> list[Segment]:
        """The speech of a track's ``window`` in which none of ``words`` (in the track's
        speech-only time) was heard, decoded again from the track, in track time, up to
        ``UNHEARD_ROUNDS`` times: sequential decoding too now and then stops early in a
        stretch (it moves on to the end of its 30 s once a segment ends with a single
        timestamp; the real Russian call's introduction: "Здравствуйте. Здравствуйте."
        then 10 s unheard), so what it leaves unheard is decoded once more. ``words`` is
        left as it was: the segments heard again are all this returns."""
        again: list[Segment] = []
        heard_s = list(words)  # the words of the window and of each round, speech-only time
        tried: set[tuple[float, float]] = set()
        for _ in range(UNHEARD_ROUNDS):
            gaps = [gap for gap in _unheard(window, heard_s) if gap not in tried]
            for gap in gaps:
                tried.add(gap)
                start, end = (window.source_at(t, sr=TARGET_SR)[1] for t in gap)
                heard = self._decode_again(samples[start:end], language, start / TARGET_SR)
                again.extend(heard)
                heard_s += _speech_times(window, heard)
            if not gaps:
                break
        return again

    def _redo_failed_windows(
        self, call: ConversationSpeech, raw: list[Segment], language: str
    ) -> list[Segment]:
        """:meth:`_redo_repetitive` for conversation windows (one segment each, in the
        windows' speech-only time): a looping window is decoded again as a whole, so each
        stretch keeps its context and every word still goes back to its track; a window
        in which the decoder left more than ``UNHEARD_S`` of speech unheard (at its start,
        its end or between its words) is kept, and that speech decoded again."""
        out: list[Segment] = []
        for window, seg in zip(call.windows, raw, strict=True):
            if seg.compression_ratio > MAX_COMPRESSION_RATIO:
                out.extend(self._decode_again(window.samples, language, window.offset_s))
                continue
            unheard = _unheard(window, [(w.start_s, w.end_s) for w in seg.words])
            out.extend(_split(seg, [window.offset_s + heard_s for heard_s, _ in unheard]))
            for heard_s, next_s in unheard:
                cut = window.samples[int(heard_s * TARGET_SR) : int(next_s * TARGET_SR)]
                out.extend(self._decode_again(cut, language, window.offset_s + heard_s))
        return out

    def _decode_again(
        self, samples: npt.NDArray[np.float32], language: str, offset_s: float
    ) -> list[Segment]:
        """``samples`` decoded sequentially (temperature fallback), times moved ``offset_s``
        later (where they were cut from)."""
        again, _ = self.model.transcribe(
            samples, **self._options(language), hallucination_silence_threshold=2.0
        )
        return [_shifted(_segment(s), offset_s) for s in again]

    def _options(self, language: str) -> dict[str, Any]:
        c = self.config
        return {
            "language": language,
            "beam_size": c.beam_size,
            "word_timestamps": True,
            "vad_filter": True,
            "vad_parameters": self.vad_parameters,
            "condition_on_previous_text": False,
            "hotwords": c.hotwords or None,
            "initial_prompt": c.initial_prompt or None,
        }

    def _start(self, samples: npt.NDArray[np.float32], language: str) -> tuple[Any, Any]:
        c = self.config
        common = self._options(language)
        if c.batch_size > 1:
            from faster_whisper import BatchedInferencePipeline

            return BatchedInferencePipeline(self.model).transcribe(
                samples, batch_size=c.batch_size, **common
            )  # type: ignore[no-any-return]
        return self.model.transcribe(samples, hallucination_silence_threshold=2.0, **common)  # type: ignore[no-any-return]


_HELPERS = ThreadPoolExecutor(thread_name_prefix="earmark-asr-track")
"""Threads that run a call's other tracks on spare replicas (they hold no model when idle)."""


@dataclasses.dataclass(frozen=True, slots=True)
class HeardCall:
    """A call's tracks (16 kHz mono each) and each track's speech and Whisper windows."""

    tracks: tuple[npt.NDArray[np.float32], ...]
    speech: tuple[TrackSpeech, ...]
    conversation: ConversationSpeech
    """Every track's speech in the call's windows, in time order."""


def _unheard(window: Window, words: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The stretches of ``window``'s speech (seconds into it) longer than ``UNHEARD_S``
    in which none of ``words`` (``(start_s, end_s)`` in the speech-only time of the
    window's track or call) was heard.

    Examples
    --------
    >>> window = Window(0, 1, (), ((0, 0, 480000),), offset_s=60.0, duration_s=30.0)
    >>> _unheard(window, [(61.0, 61.5), (62.0, 70.0), (73.0, 74.0), (80.0, 81.0)])
    [(14.0, 20.0), (21.0, 30.0)]
    >>> _unheard(window, [])
    [(0.0, 30.0)]
    """
    gaps: list[tuple[float, float]] = []
    heard_s = 0.0
    for start_s, end_s in [*sorted(words), (window.offset_s + window.duration_s,) * 2]:
        start_s, end_s = start_s - window.offset_s, end_s - window.offset_s
        if start_s - heard_s > UNHEARD_S:
            gaps.append((round(heard_s, 3), round(start_s, 3)))
        heard_s = max(heard_s, end_s)
    return gaps


def _speech_times(window: Window, segments: Sequence[Segment]) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of the words of ``segments`` (in track time) in the speech-only
    time of ``window``'s track, as :func:`_unheard` takes them."""
    return [
        (
            window.speech_s(round(w.start_s * TARGET_SR), sr=TARGET_SR),
            window.speech_s(round(w.end_s * TARGET_SR), sr=TARGET_SR),
        )
        for seg in segments
        for w in seg.words
    ]


def _split(seg: Segment, at_s: Sequence[float]) -> list[Segment]:
    """``seg`` cut at the times ``at_s`` (ascending) into runs of its words, each keeping
    its quality signals (a segment without words is kept whole).

    Examples
    --------
    >>> words = tuple(Word(t, t + 0.5, f" w{t:g}", 0.9) for t in (1.0, 2.0, 9.0))
    >>> seg = Segment(0.0, 30.0, " w1 w2 w9", words, avg_logprob=-0.3)
    >>> [(s.start_s, s.end_s, s.text) for s in _split(seg, [5.0])]
    [(1.0, 2.5, ' w1 w2'), (9.0, 9.5, ' w9')]
    """
    if not seg.words or not at_s:
        return [seg]
    runs: list[list[Word]] = [[] for _ in range(len(at_s) + 1)]
    for word in seg.words:
        runs[bisect.bisect_right(at_s, (word.start_s + word.end_s) / 2)].append(word)
    return [
        dataclasses.replace(
            seg,
            start_s=run[0].start_s,
            end_s=run[-1].end_s,
            text="".join(w.text for w in run),
            words=tuple(run),
        )
        for run in runs
        if run
    ]


def _start(seg: Segment) -> float:
    return seg.start_s


def _batches(items: Sequence[_T], size: int) -> list[Sequence[_T]]:
    return [items[at : at + size] for at in range(0, len(items), size)]


def _averaged(
    weighted: Sequence[tuple[float, Sequence[tuple[str, float]]]],
) -> list[tuple[str, float]]:
    """Probabilities averaged over windows weighted by their seconds, likeliest first."""
    total: dict[str, float] = {}
    for seconds, probs in weighted:
        for language, p in probs:
            total[language] = total.get(language, 0.0) + p * seconds
    weight = sum(seconds for seconds, _ in weighted) or 1.0
    ranked = ((language, round(p / weight, 4)) for language, p in total.items())
    return sorted(ranked, key=lambda lp: -lp[1])


def _groups(speech: Sequence[tuple[int, int]], *, max_samples: int) -> list[list[tuple[int, int]]]:
    """Consecutive speech stretches, grouped so each group holds at most ``max_samples``."""
    groups: list[list[tuple[int, int]]] = []
    size = max_samples
    for start, end in speech:
        if size + (end - start) > max_samples:
            groups.append([])
            size = 0
        groups[-1].append((start, end))
        size += end - start
    return groups


def _channel(
    raw: Sequence[Segment],
    capped: Sequence[str],
    *,
    language: str,
    duration_s: float,
    speech_s: float,
) -> ChannelTranscript:
    kept, dropped = drop_phantoms(raw)
    return ChannelTranscript(
        segments=tuple(kept),
        language=language,
        language_probability=1.0,
        duration_s=duration_s,
        speech_s=round(speech_s, 3),
        dropped=tuple(dropped + list(capped)),
    )


def _given_back(
    heard: HeardCall,
    per_track: Sequence[Sequence[Segment]],
    capped: Sequence[str],
    language: str,
) -> list[ChannelTranscript]:
    """Each track's transcript from its share of one stream's segments (given back by
    :func:`pipeline.packing.unpack`); why decoding stopped early is said once, on track 0."""
    return [
        _channel(
            segments,
            capped if k == 0 else (),
            language=language,
            duration_s=len(track) / TARGET_SR,
            speech_s=speech.speech_samples / TARGET_SR,
        )
        for k, (track, speech, segments) in enumerate(
            zip(heard.tracks, heard.speech, per_track, strict=True)
        )
    ]


def _shifted(seg: Segment, offset_s: float) -> Segment:
    """``seg`` moved ``offset_s`` later (it was decoded from a piece cut at that time)."""
    return dataclasses.replace(
        seg,
        start_s=round(seg.start_s + offset_s, 3),
        end_s=round(seg.end_s + offset_s, 3),
        words=tuple(
            dataclasses.replace(
                w, start_s=round(w.start_s + offset_s, 3), end_s=round(w.end_s + offset_s, 3)
            )
            for w in seg.words
        ),
    )


def _segment(seg: Any) -> Segment:
    words = tuple(
        Word(
            start_s=round(w.start, 3),
            end_s=round(w.end, 3),
            text=w.word,
            probability=round(w.probability, 4),
        )
        for w in (seg.words or ())
    )
    return Segment(
        start_s=round(seg.start, 3),
        end_s=round(seg.end, 3),
        text=seg.text,
        words=words,
        avg_logprob=float(seg.avg_logprob),
        no_speech_prob=float(seg.no_speech_prob),
        compression_ratio=float(seg.compression_ratio),
    )
