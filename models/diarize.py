"""Who said each word of a MONO call: the voice-model side of diarization.

The method (windows, voice vectors, two clusters, roles from direction and content) is
:mod:`pipeline.diarization`, in numpy. This module adds what needs a model library:
Resemblyzer's speaker encoder (``embedder = "resemblyzer"``, the optional ``voice``
extra: ``resemblyzer`` and ``torch``) as a :class:`pipeline.protocols.VoiceEncoder`
(:func:`voice_encoder`, which the flow hands to the method), and, for scripts and
tests, :func:`diarize` / :func:`diarize_report`, which pick the encoder
``options.embedder`` asks for and run the method.

Measured by ``bench/diarize.py`` on stereo calls mixed down to mono.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline import TARGET_SR, diarization
from pipeline.diarization import DEFAULT_OPTIONS, DiarizeOptions, DiarizeReport
from pipeline.errors import ModelError
from pipeline.intervals import Interval
from pipeline.protocols import VoiceEncoder
from pipeline.types import Transcript
from pipeline.voice_features import EPS, FloatArray, Frames, frame_features, librosa_vectors

_RESEMBLYZER_LEVEL = 10 ** (-30 / 20)
"""RMS of Resemblyzer's training audio (``audio_norm_target_dBFS = -30``)."""
_RESEMBLYZER_BATCH = 128


def diarize(
    samples: npt.NDArray[np.floating[Any]],
    transcript: Transcript,
    *,
    sr: int = TARGET_SR,
    options: DiarizeOptions = DEFAULT_OPTIONS,
) -> Transcript:
    """Give each word of a mono call to the agent or the customer: the transcript of
    :func:`pipeline.diarization.diarize_report` (parameters as there, and
    ``options.embedder`` picks the voice encoder).

    Raises
    ------
    ValueError
        When ``samples`` is not one finite track.
    ModelError
        ``M010`` when ``embedder="resemblyzer"`` and Resemblyzer is not installed.

    Examples
    --------
    >>> audio = decode("call.wav")  # doctest: +SKIP
    >>> mono = diarize(audio.samples[0], transcript, sr=audio.sr)  # doctest: +SKIP
    >>> {u.speaker for u in mono.utterances}  # doctest: +SKIP
    {'agent', 'customer'}
    """
    return diarize_report(samples, transcript, sr=sr, options=options).transcript


def diarize_report(
    samples: npt.NDArray[np.floating[Any]],
    transcript: Transcript,
    *,
    sr: int = TARGET_SR,
    options: DiarizeOptions = DEFAULT_OPTIONS,
) -> DiarizeReport:
    """:func:`diarize`, with the reason, the voice gain and the role scores.

    Parameters and raises as :func:`diarize`.

    Returns
    -------
    DiarizeReport
        ``reason == "diarized"`` when the transcript was split into parties.
    """
    encoder = voice_encoder(options.embedder)
    return diarization.diarize_report(samples, transcript, sr=sr, options=options, encoder=encoder)


def voice_encoder(embedder: str) -> VoiceEncoder | None:
    """The voice encoder ``embedder`` asks for: Resemblyzer's, or ``None`` for the librosa
    features of :mod:`pipeline.voice_features` (see :func:`pick_embedder`).

    Raises
    ------
    ModelError
        ``M010`` when resemblyzer is asked for and not installed.
    """
    return ResemblyzerEncoder() if pick_embedder(embedder) == "resemblyzer" else None


class ResemblyzerEncoder:
    """Resemblyzer's speaker encoder as a :class:`pipeline.protocols.VoiceEncoder`
    (the model loads at the first :meth:`embed`, once per process)."""

    name = "resemblyzer"

    def embed(self, samples: npt.NDArray[np.float32], windows: Sequence[Interval]) -> FloatArray:
        return _resemblyzer_vectors(samples, windows)


def embed_windows(
    x: npt.NDArray[np.float32],
    windows: Sequence[Interval],
    *,
    embedder: str = "librosa",
    frames: Frames | None = None,
) -> FloatArray:
    """One voice vector per window.

    Librosa features are standardised over the call (they come in different units).
    Resemblyzer's d-vectors are kept as the encoder gives them: unit length, so k-means
    on them follows the angle between voices, the cosine distance the encoder was trained
    for; standardising their 256 dimensions would weigh the near-constant ones like the
    telling ones (measured by ``bench/diarize.py``: 0.76 of the words right instead of
    0.63, one more call of two alike voices split).

    Parameters
    ----------
    x
        The mono track at 16 kHz.
    windows
        ``(start_s, end_s)`` per window.
    embedder
        ``"librosa"`` (spectral and pitch statistics) or ``"resemblyzer"``.
    frames
        :func:`frame_features` of ``x`` when already computed.

    Returns
    -------
    ndarray
        Shape ``(len(windows), dims)``: librosa columns with mean 0 and (unless constant)
        SD 1; Resemblyzer rows of length 1 (a silent window gets the call's mean direction).
    """
    if embedder == "resemblyzer":
        return _resemblyzer_vectors(x, windows)
    return librosa_vectors(frames or frame_features(x), windows)


def pick_embedder(embedder: str) -> str:
    """The embedder that will run for ``embedder`` (``auto`` → resemblyzer when installed).

    Raises
    ------
    ModelError
        ``M010`` when resemblyzer is asked for and not installed.
    """
    if embedder == "librosa":
        return "librosa"
    if _resemblyzer_available():
        return "resemblyzer"
    if embedder == "auto":
        return "librosa"
    raise ModelError(
        "[diarize] embedder = 'resemblyzer' needs the optional voice extra (make extras, or "
        "README 'Models'); or use embedder = 'librosa'",
        code="M010",
    )


def _resemblyzer_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("resemblyzer") is not None


@lru_cache(maxsize=1)
def _voice_encoder() -> Any:
    """Resemblyzer's speaker encoder (its weights ship inside the wheel), loaded once."""
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device="cpu", verbose=False)


def _resemblyzer_vectors(x: npt.NDArray[np.float32], windows: Sequence[Interval]) -> FloatArray:
    """Resemblyzer d-vectors (256-d) per window, in batches through the encoder.

    Each window becomes one of the encoder's 1.6 s "partial utterances", prepared the way
    its training audio was: the level set to -30 dBFS (the encoder reads power mel
    spectra, so level is part of its input) and the window repeated to fill 1.6 s
    (``VoiceEncoder.embed_utterance`` pads with zeros, a silence it never heard in
    training, worth 1.2 s of a 0.4 s window).
    """
    import torch
    from resemblyzer.audio import wav_to_mel_spectrogram
    from resemblyzer.hparams import mel_window_step, partials_n_frames, sampling_rate

    encoder = _voice_encoder()
    length = partials_n_frames * sampling_rate * mel_window_step // 1000  # 1.6 s at 16 kHz
    mels = []
    for start, end in windows:
        piece = x[round(start * TARGET_SR) : round(end * TARGET_SR)].astype(np.float64)
        rms = math.sqrt(float(np.mean(np.square(piece)))) if piece.size else 0.0
        piece = piece * (_RESEMBLYZER_LEVEL / rms) if rms > EPS else np.zeros(length)
        piece = np.resize(piece, length).astype(np.float32)  # repeats the window
        mels.append(wav_to_mel_spectrogram(piece)[:partials_n_frames])
    rows = []
    with torch.no_grad():
        for i in range(0, len(mels), _RESEMBLYZER_BATCH):
            batch = torch.from_numpy(np.stack(mels[i : i + _RESEMBLYZER_BATCH]))
            rows.append(encoder(batch).cpu().numpy())
    vectors = np.asarray(np.concatenate(rows), dtype=np.float64)
    silent = ~np.isfinite(vectors).all(axis=1)  # a silent window has no direction
    if silent.any():
        mean = vectors[~silent].mean(axis=0) if (~silent).any() else np.zeros(vectors.shape[1])
        vectors[silent] = mean / max(float(np.linalg.norm(mean)), EPS)
    return vectors
