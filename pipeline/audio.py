"""Decode any common call-recording format into float32 channels at ``TARGET_SR``.

WAV (PCM, µ-law, A-law), FLAC, OGG and MP3 go through libsndfile (``soundfile``);
anything libsndfile refuses (an MP3 named ``.wav``, AAC, …) goes through FFmpeg's
libraries (PyAV). Channels are kept: in a stereo call each party has its own. What the
decoders print about frames they repair or skip is counted (``decode_warnings``), not shown.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from pipeline import TARGET_SR, errors
from pipeline.errors import AudioError
from pipeline.quiet import captured_stderr
from pipeline.types import Speaker

FloatArray = npt.NDArray[np.float32]
AgentChannel = Literal["left", "right"]

MIN_DURATION_S = 0.5
SILENCE_PEAK_DBFS = -55.0
MAX_CHANNELS = 2
BLOCK = 1 << 20
"""Samples per block where a whole-array temporary would double the memory."""


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """A decoded recording: ``samples`` has shape ``(channels, frames)`` at ``sr``."""

    samples: FloatArray
    sr: int
    original_sr: int
    codec: str
    decode_warnings: int = 0
    """Problems the decoder repaired or skipped (bad MP3 frames): lines libmpg123 printed,
    packets FFmpeg refused. Counted, never shown (see :mod:`pipeline.quiet`)."""

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return float(self.samples.shape[1]) / self.sr


@dataclass(frozen=True, slots=True)
class Track:
    """One party's audio: what the ASR transcribes separately."""

    speaker: Speaker
    channel: int
    samples: FloatArray


def decode(path: str | Path, *, sr: int = TARGET_SR) -> DecodedAudio:
    """Decode a recording, keep its channels and resample them to ``sr``.

    Parameters
    ----------
    path
        A local audio file.
    sr
        Target sample rate; resampling is explicit (soxr high quality), never implied.

    Returns
    -------
    DecodedAudio
        float32 samples of shape ``(channels, frames)``.

    Raises
    ------
    AudioError
        ``A001`` empty file, ``A002`` not decodable audio, ``A003`` no audio frames,
        ``A004`` truncated WAV, ``A005`` too short, ``A006`` silent, ``A008`` too many channels.

    Examples
    --------
    >>> audio = decode("tests/data/stereo_8k.wav")  # doctest: +SKIP
    >>> audio.channels, audio.sr  # doctest: +SKIP
    (2, 16000)
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(f"{path}: cannot read file ({exc.strerror})", code="A009") from exc
    if size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)", code="A001")
    _check_wav_container(path, size)
    samples, original_sr, codec, warnings = _read_any(path, sr=sr)
    if _finite(samples) and not warnings:
        warnings = 1  # a damage no decoder message reported (one it did report is counted)
    if samples.shape[0] > MAX_CHANNELS:
        raise AudioError(
            f"{path}: {samples.shape[0]} channels; earmark expects mono or stereo (one party per channel)",
            code="A008",
        )
    if samples.shape[1] == 0:
        raise AudioError(f"{path}: header only, the file holds no audio frames", code="A003")
    duration_s = samples.shape[1] / sr
    if duration_s < MIN_DURATION_S:
        raise AudioError(
            f"{path}: too short to hold a call ({duration_s:.2f} s < {MIN_DURATION_S} s)",
            code="A005",
        )
    peak = _peak(samples)
    peak_dbfs = 20 * np.log10(max(peak, 1e-12))
    if peak_dbfs < SILENCE_PEAK_DBFS:
        raise AudioError(
            f"{path}: silent recording (peak level {peak_dbfs:.0f} dBFS over {duration_s:.1f} s)",
            code="A006",
        )
    return DecodedAudio(
        samples=samples, sr=sr, original_sr=original_sr, codec=codec, decode_warnings=warnings
    )


def split_tracks(audio: DecodedAudio, *, agent_channel: AgentChannel = "left") -> list[Track]:
    """One track per party: stereo gives agent and customer, mono gives ``unknown``.

    A "stereo" file whose two channels carry the same signal is a mono recording in
    disguise; it is treated as mono so the same speech is not transcribed twice.
    """
    if audio.channels == 1 or _same_signal(audio.samples[0], audio.samples[1]):
        return [Track(speaker="unknown", channel=0, samples=audio.samples[0])]
    agent = 0 if agent_channel == "left" else 1
    return [
        Track(speaker="agent", channel=agent, samples=audio.samples[agent]),
        Track(speaker="customer", channel=1 - agent, samples=audio.samples[1 - agent]),
    ]


def _same_signal(a: FloatArray, b: FloatArray) -> bool:
    return all(
        np.allclose(a[i : i + BLOCK], b[i : i + BLOCK], atol=1e-3) for i in range(0, len(a), BLOCK)
    )


def _peak(samples: FloatArray) -> float:
    """Largest absolute sample, a block at a time (no full-size temporary)."""
    n = samples.shape[1]
    return max(
        (float(np.abs(samples[:, i : i + BLOCK]).max()) for i in range(0, n, BLOCK)), default=0.0
    )


def _finite(samples: FloatArray) -> int:
    """Set samples that are not numbers to silence, in place; 1 when there were any (a
    damaged frame a decoder filled with NaN: the VAD, ASR and every level would be NaN).

    Examples
    --------
    >>> x = np.array([[0.5, np.nan, -np.inf, 0.25]], dtype=np.float32)
    >>> _finite(x), x.tolist()
    (1, [[0.5, 0.0, 0.0, 0.25]])
    """
    bad = ~np.isfinite(samples)
    if not bad.any():
        return 0
    samples[bad] = 0.0
    return 1


def _read_any(path: Path, *, sr: int) -> tuple[FloatArray, int, str, int]:
    """Samples at ``sr`` as ``(channels, frames)``, the file's own rate, its codec, and how
    many problems the decoder worked around (its messages kept off the terminal)."""
    import soundfile as sf

    with captured_stderr() as noise:
        try:
            with sf.SoundFile(str(path)) as f:
                samples = _read_resampled(f, sr=sr)
                rate, codec = int(f.samplerate), f"{f.format}/{f.subtype}"
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            sf_exc: Exception | None = exc
        else:
            sf_exc = None
    if sf_exc is None:
        return samples, rate, codec, noise.count
    try:
        samples, rate, codec, skipped = _read_with_ffmpeg(path)
    except AudioError:
        raise
    except Exception as av_exc:
        undecodable = errors.AUDIO_UNDECODABLE(
            path=path,
            problem="not a decodable audio file: neither libsndfile nor ffmpeg can read it",
        )
        undecodable.detail = f"libsndfile: {sf_exc}; ffmpeg: {av_exc}"
        raise undecodable from av_exc
    return _resample(samples, orig_sr=rate, sr=sr), rate, codec, skipped


def _read_resampled(f: Any, *, sr: int) -> FloatArray:
    """Read and resample a block at a time into one preallocated array.

    Memory stays near the size of the result: a one-hour stereo call at 16 kHz is
    460 MB, where reading whole, transposing and resampling held three times that.
    Streaming soxr gives the same samples as resampling in one go.
    """
    import soxr

    channels, rate = int(f.channels), int(f.samplerate)
    if channels > MAX_CHANNELS or f.frames == 0:  # refused by the caller, with the reason
        return np.zeros((channels, 0), dtype=np.float32)
    stream = (
        soxr.ResampleStream(rate, sr, channels, dtype="float32", quality="HQ")
        if rate != sr
        else None
    )
    out = np.empty((channels, int(np.ceil(f.frames * sr / rate)) + 1), dtype=np.float32)
    at = 0
    for block in f.blocks(blocksize=rate * 30, dtype="float32", always_2d=True):
        y = stream.resample_chunk(block) if stream is not None else block
        out, at = _put(out, at, y)
    if stream is not None:
        out, at = _put(
            out, at, stream.resample_chunk(np.zeros((0, channels), np.float32), last=True)
        )
    return out[:, :at]


def _put(out: FloatArray, at: int, y: npt.NDArray[np.float32]) -> tuple[FloatArray, int]:
    """Write ``y`` (frames × channels) at ``at``, growing ``out`` if a header undercounted."""
    if at + len(y) > out.shape[1]:
        out = np.concatenate([out, np.empty((out.shape[0], len(y)), np.float32)], axis=1)
    out[:, at : at + len(y)] = y.T
    return out, at + len(y)


def _read_with_ffmpeg(path: Path) -> tuple[FloatArray, int, str, int]:
    """Decode with FFmpeg's libraries; a packet the decoder refuses is skipped and counted
    (FFmpeg's own log stays off, PyAV's default)."""
    import av

    skipped = 0
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise AudioError(f"{path}: the file has no audio stream", code="A002")
        stream = container.streams.audio[0]
        chunks: list[np.ndarray] = []
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                skipped += 1
                continue
            for frame in frames:
                array = frame.to_ndarray()
                if frame.format.is_planar:
                    chunks.append(array.astype(np.float32, copy=False))
                else:
                    chunks.append(array.reshape(-1, frame.layout.nb_channels).T.astype(np.float32))
        rate = int(stream.rate or 0)
        codec = f"ffmpeg/{stream.codec_context.name}"
        fmt = stream.codec_context.format.name if stream.codec_context.format else ""
    if not chunks or rate <= 0:
        raise AudioError(f"{path}: no audio frames could be decoded", code="A003")
    samples = np.concatenate(chunks, axis=1)
    if fmt.startswith("s16"):
        samples = samples / 32768.0
    elif fmt.startswith("s32"):
        samples = samples / 2147483648.0
    elif fmt.startswith("u8"):
        samples = (samples - 128.0) / 128.0
    return np.ascontiguousarray(samples, dtype=np.float32), rate, codec, skipped


def _check_wav_container(path: Path, size: int) -> None:
    """Refuse a WAV whose data chunk is shorter than its header promises."""
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                available = size - pos - 8
                if chunk_size == 0 and available == 0:
                    raise AudioError(
                        f"{path}: header only, the WAV holds no audio data", code="A003"
                    )
                if chunk_size not in (0, 0xFFFFFFFF) and available < chunk_size:
                    raise AudioError(
                        f"{path}: truncated WAV, the header declares {chunk_size} bytes of audio "
                        f"but the file holds {available}",
                        code="A004",
                    )
                return
            pos += 8 + chunk_size + (chunk_size & 1)
        raise AudioError(f"{path}: header only, the WAV has no data chunk", code="A003")


def _resample(samples: FloatArray, *, orig_sr: int, sr: int) -> FloatArray:
    """One channel at a time into a preallocated array (soxr high quality)."""
    if orig_sr == sr:
        return samples
    import soxr

    first = soxr.resample(samples[0], orig_sr, sr, quality="HQ")
    out = np.empty((samples.shape[0], len(first)), dtype=np.float32)
    out[0] = first
    for c in range(1, samples.shape[0]):
        out[c] = soxr.resample(samples[c], orig_sr, sr, quality="HQ")
    return out


LEVEL_TARGET_DBFS = -20.0
"""Speech level :func:`normalize_level` brings a track to (RMS of its louder frames)."""
LEVEL_FRAME = 400
"""25 ms at 16 kHz: frames whose RMS decides a track's speech level."""


def normalize_level(
    samples: npt.NDArray[np.float32], *, target_dbfs: float = LEVEL_TARGET_DBFS
) -> npt.NDArray[np.float32]:
    """One track scaled so its speech sits at ``target_dbfs``, never clipping.

    The speech level is the RMS of the louder half of 25 ms frames (pauses and line
    noise do not count). The gain is limited so the peak stays below full scale, and a
    silent track comes back unchanged.

    Parameters
    ----------
    samples
        One track, float32 in [-1, 1].
    target_dbfs
        The speech level wanted, dB relative to full scale.

    Returns
    -------
    numpy.ndarray
        A scaled copy (float32).

    Examples
    --------
    >>> quiet = (0.01 * np.sin(np.arange(16_000) / 5)).astype(np.float32)
    >>> round(float(np.max(np.abs(normalize_level(quiet)))), 2)
    0.14
    """
    n = len(samples) // LEVEL_FRAME
    if n == 0:
        return samples.astype(np.float32, copy=True)
    frames = samples[: n * LEVEL_FRAME].astype(np.float64).reshape(n, LEVEL_FRAME)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = rms[rms >= np.median(rms)]
    level = float(np.sqrt(np.mean(loud**2))) if len(loud) else 0.0
    peak = float(np.max(np.abs(samples)))
    if level <= 1e-6 or peak <= 1e-6:
        return samples.astype(np.float32, copy=True)
    gain = min(10 ** (target_dbfs / 20) / level, 0.99 / peak)
    return (samples * gain).astype(np.float32)
