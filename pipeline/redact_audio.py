"""Redacted copies of call audio: a tone (or silence) over every redacted span.

:func:`pipeline.redact.redact_transcript` keeps the time span of everything it tags
(``calls.redactions``). The review app must not play those moments either, so the
nightly flow writes a copy of each call that has any: every channel (the agent's
channel may carry the customer's card number as echo) is covered from each span's
start to its end, padded on both sides because word timestamps are approximate, with
short fades inside the padding so the covering does not click.

A copy is named by what it hides (:func:`copy_key`: call, audio hash, spans) and
stamped, in the FLAC's comment, with how it hides it (:attr:`AudioRedactOptions.stamp`):
a night re-run skips copies that are current and rewrites those that are not.
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pipeline import warehouse as wh
from pipeline.archive import sha256_file
from pipeline.audio import FloatArray, decode
from pipeline.errors import AudioError, ConfigError
from pipeline.intervals import union

COPY_VERSION = 1
"""Bump when the same spans and options would give different audio."""

AudioMode = Literal["tone", "silence"]
Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class AudioRedactOptions:
    """How :func:`redact_samples` covers a span.

    Attributes
    ----------
    mode
        ``"tone"`` (a steady beep: the listener knows something was removed) or ``"silence"``.
    pad_s
        Seconds covered before each span's start and after its end.
    fade_s
        Cross-fade between the call and the cover, taken from the padding (never from
        the span itself, which is always fully covered).
    tone_hz
        The tone's frequency; keep it below half the sample rate (above, it aliases into
        another pitch, or silence, but the original is gone all the same).
    tone_dbfs
        The tone's peak level in dB below full scale.
    """

    mode: AudioMode = "tone"
    pad_s: float = 0.25
    fade_s: float = 0.01
    tone_hz: float = 1000.0
    tone_dbfs: float = -20.0

    def __post_init__(self) -> None:
        if self.mode not in ("tone", "silence"):
            raise ConfigError(
                f"audio redaction mode must be 'tone' or 'silence', got {self.mode!r}", code="C034"
            )
        if min(self.pad_s, self.fade_s) < 0 or not math.isfinite(self.pad_s + self.fade_s):
            raise ConfigError(
                f"audio redaction padding and fade must be >= 0 s, got {self.pad_s} and "
                f"{self.fade_s}",
                code="C035",
            )
        if self.tone_hz <= 0 or self.tone_dbfs > 0:
            raise ConfigError(
                f"the redaction tone needs a frequency > 0 Hz and a level <= 0 dBFS, got "
                f"{self.tone_hz} Hz at {self.tone_dbfs} dBFS",
                code="C036",
            )

    @property
    def stamp(self) -> str:
        """What a copy made with these options says about itself (its FLAC comment)."""
        how = (
            f"tone {self.tone_hz:g} Hz {self.tone_dbfs:g} dBFS"
            if self.mode == "tone"
            else "silence"
        )
        padding = f"pad {self.pad_s:g} s, fade {self.fade_s:g} s"
        return f"earmark redacted audio v{COPY_VERSION}: {how}, {padding}"


def spans_of(redactions: Iterable[Mapping[str, Any]]) -> tuple[Span, ...]:
    """The ``(start_s, end_s)`` of ``calls.redactions`` rows (or the transcript cache's)."""
    return tuple((float(r["start_s"]), float(r["end_s"])) for r in redactions)


def copy_key(call_id: str, audio_sha256: str, spans: Iterable[Span]) -> str:
    """The content address of a call's redacted copy: what is covered, in which audio.

    Examples
    --------
    >>> copy_key("c1", "ab" * 32, [(1.0, 2.0)]) == copy_key("c1", "ab" * 32, [(1.0, 2.0)])
    True
    >>> copy_key("c1", "ab" * 32, [(1.0, 2.0)]) == copy_key("c1", "ab" * 32, [(1.0, 2.5)])
    False
    """
    times = sorted((float(s), float(e)) for s, e in spans)
    text = json.dumps([COPY_VERSION, call_id, audio_sha256, times])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def redact_samples(
    samples: FloatArray, *, sr: int, spans: Iterable[Span], options: AudioRedactOptions
) -> FloatArray:
    """Cover every span, padded, on every channel with a tone or silence.

    Parameters
    ----------
    samples
        ``(channels, frames)`` audio; it is not modified.
    sr
        Its sample rate.
    spans
        ``(start_s, end_s)`` to hide; unordered, overlapping, zero-length or partly
        outside the audio are all fine.
    options
        Mode, padding, fade and tone.

    Returns
    -------
    FloatArray
        A copy in which every sample within ``[start_s - pad_s + fade_s, end_s + pad_s -
        fade_s]`` of a span is the cover alone (all of each span itself, whatever the
        padding), samples farther than ``pad_s`` from every span are unchanged, and the
        ones between cross-fade.

    Examples
    --------
    >>> y = np.ones((2, 8000), dtype=np.float32)
    >>> out = redact_samples(y, sr=8000, spans=[(0.4, 0.5)], options=AudioRedactOptions("silence"))
    >>> float(out[:, 3200:4000].max()), float(out[:, :1000].min()), float(out[:, 6000:].min())
    (0.0, 1.0, 1.0)
    """
    out = np.array(samples, dtype=np.float32, copy=True)
    frames = out.shape[1]
    for outer, inner in _covered(spans, sr=sr, frames=frames, pad_s=options.pad_s):
        _cover(out, outer, inner, sr=sr, options=options)
    return out


def _covered(
    spans: Iterable[Span], *, sr: int, frames: int, pad_s: float
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Merged ``(outer, inner)`` sample ranges: padded, and the spans' own extent."""

    def clip(sample: float) -> int:
        return min(frames, max(0, int(sample)))

    ranges = sorted(
        (
            (clip(math.floor((s - pad_s) * sr)), clip(math.ceil((max(s, e) + pad_s) * sr))),
            (clip(math.floor(s * sr)), clip(math.ceil(max(s, e) * sr))),
        )
        for s, e in spans
        if math.isfinite(s) and math.isfinite(e)
    )
    # an empty outer range is wholly outside the audio: union drops it
    outers = [(int(a), int(b)) for a, b in union([outer for outer, _ in ranges])]
    firsts = [a for a, _ in outers]
    inners: dict[int, tuple[int, int]] = {}
    for outer, inner in ranges:
        if outer[0] < outer[1]:
            k = bisect_right(firsts, outer[0]) - 1
            first, last = inners.get(k, inner)
            inners[k] = (min(first, inner[0]), max(last, inner[1]))
    return [(outer, inners[k]) for k, outer in enumerate(outers)]


def _cover(
    out: FloatArray,
    outer: tuple[int, int],
    inner: tuple[int, int],
    *,
    sr: int,
    options: AudioRedactOptions,
) -> None:
    """Cover ``out[:, outer]`` in place, fading in and out within the padding only."""
    first, last = outer
    n = last - first
    fade = math.ceil(options.fade_s * sr)
    fade_in = max(0, min(fade, inner[0] - first))
    fade_out = max(0, min(fade, last - inner[1]))
    gain = np.ones(n, dtype=np.float64)
    if fade_in:
        gain[:fade_in] = _ramp(fade_in)
    if fade_out:
        gain[n - fade_out :] = _ramp(fade_out)[::-1]
    if options.mode == "tone":
        t = np.arange(n, dtype=np.float64) / sr
        cover = 10 ** (options.tone_dbfs / 20) * np.sin(2 * np.pi * options.tone_hz * t)
    else:
        cover = np.zeros(n, dtype=np.float64)
    segment = out[:, first:last].astype(np.float64)
    out[:, first:last] = (segment * (1 - gain) + cover * gain).astype(np.float32)


def _ramp(n: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A raised-cosine rise from (almost) 0 to (almost) 1 over ``n`` samples."""
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)


# ---------------------------------------------------------------- the copy on disk


def is_current(location: str, options: AudioRedactOptions) -> bool:
    """Whether the warehouse file at ``location`` is a copy made with ``options`` (its name
    says what it covers). Only the FLAC header is read, also from an object store."""
    import soundfile as sf

    try:
        with wh.open_input(location) as raw, sf.SoundFile(raw) as f:
            return bool(f.comment == options.stamp)
    except FileNotFoundError:
        return False
    except (sf.LibsndfileError, RuntimeError, OSError):
        return False  # damaged: written again


def write_redacted_copy(
    source: str | Path,
    target: str,
    *,
    audio_sha256: str,
    sample_rate: int,
    spans: Sequence[Span],
    options: AudioRedactOptions,
) -> bool:
    """Decode ``source``, cover ``spans`` and write ``target`` (FLAC), unless it is current.

    Parameters
    ----------
    source
        The recording in the archive.
    target
        Where the copy goes in the warehouse (see
        :func:`pipeline.warehouse.redacted_audio_path`); written to a temporary file and
        renamed (or uploaded) into place.
    audio_sha256
        The hash the spans were found in: a recording changed since is not copied.
    sample_rate
        The recording's own rate (``calls.sample_rate``); the copy keeps it and its channels.
    spans
        ``(start_s, end_s)`` to cover.
    options
        How to cover them.

    Returns
    -------
    bool
        ``True`` when written, ``False`` when ``target`` was already current.

    Raises
    ------
    AudioError
        ``A009`` when the recording cannot be read, ``A010`` when it changed since it
        was transcribed, or the decoder's errors (see :func:`pipeline.audio.decode`).
    """
    if is_current(target, options):
        return False
    try:
        digest = sha256_file(Path(source))
    except OSError as exc:
        raise AudioError(f"{source}: cannot read file ({exc.strerror})", code="A009") from exc
    if digest != audio_sha256:
        raise AudioError(
            f"{source}: the recording changed since it was transcribed; no redacted copy written",
            code="A010",
        )
    audio = decode(source, sr=sample_rate)
    covered = redact_samples(audio.samples, sr=audio.sr, spans=spans, options=options)
    with wh.atomic_path(target) as tmp:
        _write_flac(tmp, covered, sr=audio.sr, codec=audio.codec, comment=options.stamp)
    return True


def _write_flac(path: Path, samples: FloatArray, *, sr: int, codec: str, comment: str) -> None:
    import soundfile as sf

    deep = any(k in codec.upper() for k in ("PCM_24", "PCM_32", "FLOAT", "DOUBLE"))
    subtype = "PCM_24" if deep else "PCM_16"
    with sf.SoundFile(
        str(path), "w", samplerate=sr, channels=samples.shape[0], format="FLAC", subtype=subtype
    ) as f:
        f.comment = comment
        f.write(samples.T)


def remove_stale_copies(folder: str, *, stems: Collection[str], keep: Collection[str]) -> int:
    """Delete the copies in the warehouse ``folder`` of the calls named by ``stems``
    (:func:`pipeline.warehouse.redacted_audio_stem`) except those named in ``keep``.

    Returns
    -------
    int
        How many files were deleted.
    """
    removed = 0
    for name in wh.list_names(folder):
        if name.endswith(".flac") and name not in keep and name.rsplit(".", 2)[0] in stems:
            wh.remove(wh.join(folder, name))
            removed += 1
    return removed
