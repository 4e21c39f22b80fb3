"""Redacted audio copies: the spans are gone on every channel, the rest is untouched."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import warehouse as wh
from pipeline.archive import sha256_file
from pipeline.audio import decode
from pipeline.config import load_config
from pipeline.errors import AudioError, ConfigError
from pipeline.redact_audio import (
    AudioRedactOptions,
    copy_key,
    is_current,
    redact_samples,
    remove_stale_copies,
    spans_of,
    write_redacted_copy,
)

SR = 8000
CARD_CALL = Path(__file__).resolve().parents[1] / "data" / "card_call_8k.wav"


def noise(channels: int = 2, seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.5, 0.5, (channels, int(seconds * SR))).astype(np.float32)


def mask(spans: list[tuple[float, float]], frames: int, *, grow_s: float) -> np.ndarray:
    """Samples within ``grow_s`` of a span (negative: that far inside it)."""
    out = np.zeros(frames, dtype=bool)
    for s, e in spans:
        first = max(0, math.ceil((s - grow_s) * SR))
        last = max(0, min(frames, math.floor((max(s, e) + grow_s) * SR)))
        out[first:last] = True
    return out


spans_strategy = st.lists(
    st.tuples(st.floats(-0.5, 3.5), st.floats(0.0, 1.0)).map(lambda p: (p[0], p[0] + p[1])),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(
    spans=spans_strategy,
    mode=st.sampled_from(["tone", "silence"]),
    pad_s=st.floats(0.0, 0.5),
    fade_s=st.floats(0.0, 0.05),
)
def test_spans_are_covered_and_the_rest_is_untouched(
    spans: list[tuple[float, float]], mode: str, pad_s: float, fade_s: float
) -> None:
    options = AudioRedactOptions(mode, pad_s=pad_s, fade_s=fade_s)  # type: ignore[arg-type]
    a, b = noise(seed=1), noise(seed=2)
    out_a = redact_samples(a, sr=SR, spans=spans, options=options)
    out_b = redact_samples(b, sr=SR, spans=spans, options=options)
    frames = a.shape[1]
    # farther than the padding from every span: bit for bit the input
    outside = ~mask(spans, frames, grow_s=pad_s + 1 / SR)
    assert np.array_equal(out_a[:, outside], a[:, outside])
    # inside each span (a sample's margin for rounding): only the cover, on every channel,
    # the same whatever the recording was
    inside = mask(spans, frames, grow_s=-1 / SR)
    assert np.array_equal(out_a[:, inside], out_b[:, inside])
    assert np.array_equal(out_a[0, inside], out_a[1, inside])
    if mode == "silence":
        assert not out_a[:, inside].any()
    assert out_a.dtype == np.float32 and out_a.shape == a.shape


def test_the_tone_is_1_khz_at_minus_20_dbfs_on_both_channels() -> None:
    y = noise()
    out = redact_samples(y, sr=SR, spans=[(1.0, 2.0)], options=AudioRedactOptions())
    covered = out[:, int(1.0 * SR) : int(2.0 * SR)]
    assert np.array_equal(covered[0], covered[1])
    spectrum = np.abs(np.fft.rfft(covered[0]))
    assert np.fft.rfftfreq(covered.shape[1], 1 / SR)[spectrum.argmax()] == pytest.approx(
        1000, abs=2
    )
    assert 20 * np.log10(np.abs(covered).max()) == pytest.approx(-20, abs=0.1)


def test_fades_stay_in_the_padding_and_do_not_click() -> None:
    y = np.full((1, 3 * SR), 0.5, dtype=np.float32)  # a loud DC level: a hard cut would jump 0.5
    options = AudioRedactOptions("silence", pad_s=0.25, fade_s=0.01)
    out = redact_samples(y, sr=SR, spans=[(1.0, 2.0)], options=options)[0]
    assert np.abs(np.diff(out)).max() < 0.5 * np.pi / (0.01 * SR)  # a raised cosine's steepest step
    assert not out[int(0.76 * SR) : int(2.24 * SR)].any()
    assert (out[: int(0.75 * SR)] == 0.5).all() and (out[int(2.25 * SR) + 1 :] == 0.5).all()


def test_spans_at_the_edges_outside_and_empty() -> None:
    y = noise(seconds=2.0)
    options = AudioRedactOptions("silence", pad_s=0.1)
    out = redact_samples(y, sr=SR, spans=[(0.0, 0.2), (1.9, 5.0), (9.0, 9.5)], options=options)
    assert not out[:, : int(0.29 * SR)].any() and not out[:, int(1.81 * SR) :].any()
    assert np.array_equal(
        out[:, int(0.31 * SR) : int(1.79 * SR)], y[:, int(0.31 * SR) : int(1.79 * SR)]
    )
    # a word of no duration (Whisper gives some) is still padded and covered
    out = redact_samples(y, sr=SR, spans=[(1.0, 1.0)], options=options)
    assert not out[:, int(0.91 * SR) : int(1.09 * SR)].any()
    assert np.array_equal(redact_samples(y, sr=SR, spans=[], options=options), y)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"mode": "beep"}, "C034"),
        ({"pad_s": -0.1}, "C035"),
        ({"fade_s": math.nan}, "C035"),
        ({"tone_hz": 0.0}, "C036"),
        ({"tone_dbfs": 3.0}, "C036"),
    ],
)
def test_bad_options_are_coded_errors(kwargs: dict[str, object], code: str) -> None:
    with pytest.raises(ConfigError, match=rf"\[{code}\]"):
        AudioRedactOptions(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'audio = "beep"',
            r"redact\.audio: Input should be 'tone', 'silence' or 'off', got 'beep'",
        ),
        ("audio_pad_s = -1", r"redact\.audio_pad_s: .*greater than or equal to 0, got -1"),
        ("after_card_s = -5", r"redact\.after_card_s: .*greater than or equal to 0, got -5"),
        ('after_card_s = "soon"', r"redact\.after_card_s: .*number.*'soon'"),
    ],
)
def test_config_names_the_file_and_the_bad_value(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "earmark.toml"
    path.write_text(f"[redact]\n{line}\n")
    with pytest.raises(ConfigError, match=r"\[C002\] .*earmark\.toml: " + expected):
        load_config(path)


def test_config_default_is_a_tone_with_a_quarter_second_of_padding(tmp_path: Path) -> None:
    path = tmp_path / "earmark.toml"
    path.write_text('[redact]\naudio = "silence"\naudio_pad_s = 0.5\nafter_card_s = 30\n')
    redact = load_config(path).redact
    assert (redact.audio, redact.audio_pad_s, redact.after_card_s) == ("silence", 0.5, 30.0)
    default = load_config(None).redact
    assert (default.audio, default.audio_pad_s, default.after_card_s) == ("tone", 0.25, 60.0)


def test_copy_key_names_what_is_covered() -> None:
    sha = "ab" * 32
    key = copy_key("c1", sha, [(1.0, 2.0), (3.0, 4.0)])
    assert key == copy_key("c1", sha, [(3.0, 4.0), (1.0, 2.0)])  # order does not matter
    for other in (
        copy_key("c2", sha, [(1.0, 2.0), (3.0, 4.0)]),
        copy_key("c1", "cd" * 32, [(1.0, 2.0), (3.0, 4.0)]),
        copy_key("c1", sha, [(1.0, 2.0)]),
        copy_key("c1", sha, [(1.0, 2.0), (3.0, 4.5)]),
    ):
        assert other != key
    rows = [
        {"kind": "CARD", "start_s": 1.0, "end_s": 2.0},
        {"kind": "CVV", "start_s": 3, "end_s": 4},
    ]
    assert spans_of(rows) == ((1.0, 2.0), (3.0, 4.0))


# ---------------------------------------------------------------- the copy on disk (real audio)

SPANS = ((12.0, 15.5), (20.25, 21.0))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "archive" / "payment call.wav"
    path.parent.mkdir()
    shutil.copyfile(CARD_CALL, path)
    return path


def _write(source: Path, target: Path, options: AudioRedactOptions) -> bool:
    return write_redacted_copy(
        source,
        str(target),
        audio_sha256=sha256_file(CARD_CALL),
        sample_rate=SR,
        spans=SPANS,
        options=options,
    )


@pytest.mark.parametrize("mode", ["tone", "silence"])
def test_copy_of_a_real_call_keeps_format_and_everything_but_the_spans(
    source: Path, tmp_path: Path, mode: str
) -> None:
    options = AudioRedactOptions(mode)  # type: ignore[arg-type]
    target = Path(wh.redacted_audio_path(tmp_path / "wh", "2026-11-20", "call 1", "k" * 20))
    assert _write(source, target, options)
    info = sf.info(str(target))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("FLAC", "PCM_16", SR, 2)
    original, copy = decode(source, sr=SR).samples, decode(target, sr=SR).samples
    assert copy.shape == original.shape
    outside = ~mask(list(SPANS), copy.shape[1], grow_s=options.pad_s + 1 / SR)
    assert np.array_equal(copy[:, outside], original[:, outside])
    inside = mask(list(SPANS), copy.shape[1], grow_s=-1 / SR)
    expected = 0.0 if mode == "silence" else 0.1 / np.sqrt(2)
    rms = np.sqrt(np.mean(copy[:, inside].astype(np.float64) ** 2, axis=1))
    assert rms == pytest.approx([expected, expected], abs=1e-3)
    assert not list(target.parent.glob(".tmp-*"))


def test_a_current_copy_is_kept_and_a_stale_one_rewritten(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "wh" / "copy.flac"
    assert _write(source, target, AudioRedactOptions())
    stamp = target.stat().st_mtime_ns
    assert not _write(source, target, AudioRedactOptions())  # current: not even decoded
    assert target.stat().st_mtime_ns == stamp and is_current(str(target), AudioRedactOptions())
    assert not is_current(str(target), AudioRedactOptions("silence"))
    assert _write(source, target, AudioRedactOptions("silence"))
    assert is_current(str(target), AudioRedactOptions("silence"))
    target.write_bytes(b"fLaC damaged")
    assert not is_current(str(target), AudioRedactOptions("silence"))


def test_a_changed_or_missing_recording_gets_no_copy(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "wh" / "copy.flac"
    with source.open("ab") as f:
        f.write(b"\0\0")
    with pytest.raises(AudioError, match=r"\[A010\] .*changed since it was transcribed"):
        _write(source, target, AudioRedactOptions())
    source.unlink()
    with pytest.raises(AudioError, match=r"\[A009\]"):
        _write(source, target, AudioRedactOptions())
    assert not target.parent.exists() or not any(target.parent.iterdir())


def test_stale_copies_of_the_same_calls_are_removed(tmp_path: Path) -> None:
    paths = {
        name: Path(wh.redacted_audio_path(tmp_path, "2026-11-20", call, key))
        for name, call, key in [
            ("keep", "a/b", "1" * 20),
            ("old", "a/b", "2" * 20),
            ("twin", "a_b", "3" * 20),  # same readable name, another call
            ("other", "c", "4" * 20),
        ]
    }
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    folder = paths["keep"].parent
    stems = {wh.redacted_audio_stem("a/b")}
    assert remove_stale_copies(str(folder), stems=stems, keep={paths["keep"].name}) == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        paths[k].name for k in ("keep", "twin", "other")
    )
    assert remove_stale_copies(str(tmp_path / "nowhere"), stems=stems, keep=()) == 0
