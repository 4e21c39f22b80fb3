"""Hold music and tones: real speech, synthesized hold sounds placed at known times.

The agent is JFK (``faster_whisper_jfk.flac``), the customer an Open Speech Repository
reader (``osr_us_000_0034_8k.wav``): the pieces of :mod:`callkit`. The hold sounds are
synthesized (seeded): a synth-pad chord with a slow swell, a plucked melody over a bass,
the same with drums, a continuous dual tone and a beeping tone. The energy VAD hears all
of them as sound; the metrics must call them holds, not talk.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from callkit import (
    DATA,
    SR,
    Audio,
    Call,
    close,
    cut_pieces,
    line_noise,
    recordings,
    speech_call,
    unlabelled,
)

from pipeline.acoustic.activity import speech_activity
from pipeline.acoustic.hold_music import hold_music, spectral_stability
from pipeline.acoustic.options import MetricOptions
from pipeline.audio import Track, decode
from pipeline.errors import ConfigError
from pipeline.metrics import CallMetrics, call_metrics, measure_call
from pipeline.types import Span, Transcript, Utterance, Word

MUSIC_RMS_DBFS = -26.0
"""About 10 dB under the voices, as hold music usually sits on a line."""

# This file's own call (not callkit's overtalk call), 56 s, from callkit's pieces.
# Nobody says a hold phrase: only the music makes these holds.
#   agent                         customer
#   1.00- 2.80 fellow            | 3.30- 5.84 ring
#   6.50- 7.52 ask_not
#   --- hold 7.52-20.10: music 7.80-19.80 ---
#  20.10-22.22 country           | 23.00-25.94 shell
#  26.50-29.32 ask_what          | 30.00-32.56 grass
#  32.80-34.60 fellow
#   --- hold 34.60-49.50: music 35.00-49.20 ---
#                                | 40.00-42.92 storm ("hello? are you there?" over the music)
#  49.50-51.62 country
CALL_S = 56.0
AGENT_AT = [
    ("fellow", 1.0),
    ("ask_not", 6.5),
    ("country", 20.1),
    ("ask_what", 26.5),
    ("fellow", 32.8),
    ("country", 49.5),
]
CUSTOMER_AT = [("ring", 3.3), ("shell", 23.0), ("grass", 30.0), ("storm", 40.0)]
MUSIC_AT = [(7.8, 19.8), (35.0, 49.2)]
TRUE_HOLDS = [(7.52, 20.10), (34.60, 49.50)]
TRUE_TALK_AGENT_S = 11.68
TRUE_TALK_CUSTOMER_S = 10.96


def _rms(x: npt.NDArray[np.float64], dbfs: float = MUSIC_RMS_DBFS) -> Audio:
    return np.asarray(x * 10 ** (dbfs / 20) / np.sqrt(np.mean(np.square(x))), dtype=np.float32)


def chord(n: int, seed: int = 0) -> Audio:
    """C major (4 sines) swelling and fading at 0.7 Hz, like a synth pad."""
    t = np.arange(n) / SR
    x = sum(np.sin(2 * np.pi * f * t + seed) for f in (261.63, 329.63, 392.0, 523.25))
    return _rms(x * (1 + 0.6 * np.sin(2 * np.pi * 0.7 * t)))


def melody(n: int, seed: int = 0, *, note_s: float = 0.3) -> Audio:
    """Random notes of a major scale, six harmonics, plucked decay, over a swelling bass."""
    rng = np.random.default_rng(seed)
    scale = 220 * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16]) / 12)
    step = round(note_s * SR)
    t = np.arange(step) / SR
    x = np.zeros(n + step)
    for at in range(0, n, step):
        f = rng.choice(scale)
        x[at : at + step] += sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 7)) * np.exp(
            -3 * t
        )
    bass_t = np.arange(n) / SR
    bass = 0.5 * np.sin(2 * np.pi * 110 * bass_t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * bass_t))
    return _rms(x[:n] + bass)


def pop(n: int, seed: int = 0) -> Audio:
    """A faster melody over the chord, with a noise-burst drum on every beat (120 bpm)."""
    rng = np.random.default_rng(seed)
    x = melody(n, seed, note_s=0.25).astype(np.float64) + 0.5 * chord(n, seed)
    for at in range(0, n - 2000, SR // 2):
        x[at : at + 2000] += rng.normal(0, 0.15, 2000) * np.exp(-np.arange(2000) / 300)
    return _rms(x)


def dual_tone(n: int, seed: int = 0) -> Audio:
    """350 + 440 Hz, continuous."""
    t = np.arange(n) / SR
    return _rms(np.sin(2 * np.pi * 350 * t) + np.sin(2 * np.pi * 440 * t))


def beeps(n: int, seed: int = 0) -> Audio:
    """A 440 Hz beep, 0.6 s on and 0.4 s off."""
    t = np.arange(n) / SR
    return _rms(np.sin(2 * np.pi * 440 * t) * ((t % 1.0) < 0.6))


HOLD_SOUNDS: dict[str, Callable[..., Audio]] = {
    "chord": chord,
    "melody": melody,
    "pop": pop,
    "dual-tone": dual_tone,
    "beeps": beeps,
}


@pytest.fixture(scope="module")
def voices() -> dict[str, Audio]:
    return cut_pieces(*recordings())


def build_call(
    voices: dict[str, Audio],
    *,
    sound: Callable[..., Audio] | None,
    leg: str = "agent",
    agent_at: list[tuple[str, float]] = AGENT_AT,
    customer_at: list[tuple[str, float]] = CUSTOMER_AT,
    music_at: list[tuple[float, float]] = MUSIC_AT,
    call_s: float = CALL_S,
) -> Call:
    """Speech at known times on two lines over hiss; ``sound`` at ``music_at`` on ``leg``.

    The transcript has the words of every piece of speech, none in the music.
    """
    call = speech_call(
        voices, agent_at=agent_at, customer_at=customer_at, call_s=call_s, call_id="hold"
    )
    if sound is not None:
        track = call.agent if leg == "agent" else call.customer
        for i, (start_s, end_s) in enumerate(music_at):
            a, b = round(start_s * SR), round(end_s * SR)
            track[a:b] += sound(b - a, i)
    return call


def _assert_holds(m: CallMetrics, truth: list[tuple[float, float]]) -> None:
    assert m.hold_count == len(truth), m.hold_spans
    for span, (start, end) in zip(m.hold_spans, truth, strict=True):
        assert close(span.start_s, start, abs_s=0.5), (span, start)
        assert close(span.end_s, end, abs_s=0.5), (span, end)
    true_total = sum(e - s for s, e in truth)
    assert close(m.hold_s, true_total, abs_s=1.0, rel=0.1), (m.hold_s, true_total)
    assert close(m.longest_hold_s, max(e - s for s, e in truth), abs_s=1.0, rel=0.1)
    for music in m.hold_music_spans:
        assert any(h.start_s <= music.start_s and music.end_s <= h.end_s for h in m.hold_spans)


# --- the hold sounds against speech ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOLD_SOUNDS))
def test_hold_sounds_are_spectrally_stable(name: str) -> None:
    x = HOLD_SOUNDS[name](8 * SR) + line_noise(8 * SR, 3)
    stability = spectral_stability(x, sr=SR, spans=[Span(0.0, 8.0)])
    assert stability >= MetricOptions().music_min_stability, stability


@pytest.mark.parametrize(
    "file", ["faster_whisper_jfk.flac", "osr_us_000_0034_8k.wav", "azure_katiesteve_mono.wav"]
)
def test_speech_is_not_spectrally_stable(file: str) -> None:
    x = decode(DATA / file).samples[0]
    stability = spectral_stability(x, sr=SR, spans=speech_activity(x, sr=SR))
    # measured 0.66-0.80 on the speech in tests/data; music and tones 0.93-1.0
    assert stability < MetricOptions().music_min_stability - 0.05, stability


def test_speech_the_asr_missed_is_not_hold_music() -> None:
    """35 s of a reader, transcribed as nothing: wordless, but it sounds like speech."""
    x = decode(DATA / "osr_us_000_0034_8k.wav").samples[0]
    activity = speech_activity(x, sr=SR)
    assert hold_music(x, sr=SR, activity=activity, words=[]) == ()
    m = measure_call(
        [Track("agent", 0, x), Track("customer", 1, line_noise(x.size, 4))],
        Transcript("c", "en", x.size / SR, ()),
        sr=SR,
    )
    assert m.hold_count == 0
    assert m.talk_agent_s == pytest.approx(sum(s.duration_s for s in activity), abs=0.01)


# --- whole calls ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOLD_SOUNDS))
def test_music_on_the_agent_line_is_a_hold_not_talk(voices: dict[str, Audio], name: str) -> None:
    call = build_call(voices, sound=HOLD_SOUNDS[name])
    m = measure_call(call.tracks, call.transcript, sr=SR)
    _assert_holds(m, TRUE_HOLDS)
    assert len(m.hold_music_spans) == 2
    # the music is not the agent's talk (it would add 26.2 s), nor is the customer's
    # "hello?" over it overtalk
    assert close(m.talk_agent_s, TRUE_TALK_AGENT_S, rel=0.1), m.talk_agent_s
    assert close(m.talk_customer_s, TRUE_TALK_CUSTOMER_S, rel=0.1), m.talk_customer_s
    assert (m.overtalk_s, m.interruptions_agent, m.interruptions_customer) == (0.0, 0.0, 0.0)
    assert m.dead_air_count == 0


@pytest.mark.parametrize("name", ["melody", "dual-tone"])
def test_music_through_an_8k_mulaw_line(
    voices: dict[str, Audio], name: str, tmp_path: Path
) -> None:
    """The call as a telephone archive stores it: 8 kHz µ-law, decoded back to 16 kHz."""
    import librosa
    import soundfile as sf

    call = build_call(voices, sound=HOLD_SOUNDS[name])
    narrow = librosa.resample(
        np.stack([call.agent, call.customer]), orig_sr=SR, target_sr=8000, res_type="soxr_hq"
    )
    path = tmp_path / "call.wav"
    sf.write(path, np.clip(narrow, -1, 1).T, 8000, subtype="ULAW")
    audio = decode(path)
    tracks = [Track("agent", 0, audio.samples[0]), Track("customer", 1, audio.samples[1])]
    m = measure_call(tracks, call.transcript, sr=SR)
    _assert_holds(m, TRUE_HOLDS)
    assert close(m.talk_agent_s, TRUE_TALK_AGENT_S, rel=0.1), m.talk_agent_s


def test_the_same_call_in_silence_has_dead_air_and_no_hold(voices: dict[str, Audio]) -> None:
    """Without the music nobody announced a hold and no gap reaches 20 s: dead air."""
    call = build_call(voices, sound=None)
    m = measure_call(call.tracks, call.transcript, sr=SR)
    assert m.hold_count == 0
    assert m.dead_air_count == 3  # 7.52-20.10, 34.60-40.00, 42.92-49.50
    assert close(m.talk_agent_s, TRUE_TALK_AGENT_S, rel=0.1)


@pytest.mark.parametrize("name", ["chord", "melody", "beeps"])
@pytest.mark.parametrize("says", ["mhm", "storm"], ids=["a-word", "a-sentence"])
def test_music_on_the_customer_line_is_a_hold(
    voices: dict[str, Audio], name: str, says: str
) -> None:
    """The recorder put the music on the customer's leg, and they talk over it there."""
    customer_at = [("ring", 3.3), ("shell", 23.0), ("grass", 30.0), (says, 41.0)]
    call = build_call(voices, sound=HOLD_SOUNDS[name], leg="customer", customer_at=customer_at)
    m = measure_call(call.tracks, call.transcript, sr=SR)
    _assert_holds(m, TRUE_HOLDS)
    assert close(m.talk_agent_s, TRUE_TALK_AGENT_S, rel=0.1), m.talk_agent_s
    true_customer_s = 2.54 + 2.94 + 2.56 + voices[says].size / SR
    assert close(m.talk_customer_s, true_customer_s, rel=0.1), m.talk_customer_s


def test_music_on_the_customer_line_while_the_agent_talks_is_not_a_hold(
    voices: dict[str, Audio],
) -> None:
    """The customer's radio under the agent's explanation: the agent never stopped."""
    agent_at = [("fellow", 1.0), ("ask_what", 3.1), ("country", 6.2), ("fellow", 8.6)]
    call = build_call(
        voices,
        sound=melody,
        leg="customer",
        agent_at=agent_at,
        customer_at=[("ring", 12.0)],
        music_at=[(1.0, 10.4)],
        call_s=16.0,
    )
    m = measure_call(call.tracks, call.transcript, sr=SR)
    assert m.hold_count == 0 and m.hold_music_spans == ()


def test_queue_music_before_anyone_speaks_is_neither_talk_nor_hold(
    voices: dict[str, Audio],
) -> None:
    call = build_call(
        voices,
        sound=pop,
        agent_at=[("fellow", 12.0), ("country", 18.0)],
        customer_at=[("ring", 14.5)],
        music_at=[(0.5, 11.5)],
        call_s=22.0,
    )
    m = measure_call(call.tracks, call.transcript, sr=SR)
    assert m.hold_count == 0
    assert close(m.talk_agent_s, 1.8 + 2.12, rel=0.1), m.talk_agent_s


# --- the rules, on known spans --------------------------------------------------------------


def _transcript(*utterances: Utterance, duration_s: float = 60.0) -> Transcript:
    return Transcript("c", "en", duration_s, utterances)


def test_a_music_hold_takes_the_silence_around_it() -> None:
    activity = {"agent": [Span(0, 5), Span(6, 16), Span(17, 20)], "customer": [Span(20, 25)]}
    m = call_metrics(activity, _transcript(), duration_s=30.0, music={"agent": [Span(6, 16)]})
    assert m.hold_spans == (Span(5.0, 17.0),)
    assert m.hold_music_spans == (Span(6.0, 16.0),)
    assert (m.talk_agent_s, m.talk_s, m.silence_s) == (8.0, 13.0, 12.0)
    assert m.dead_air_count == 0


def test_talking_over_the_music_neither_splits_the_hold_nor_is_overtalk() -> None:
    activity = {"agent": [Span(0, 5), Span(5.5, 30), Span(31, 35)], "customer": [Span(12, 14)]}
    m = call_metrics(activity, _transcript(), duration_s=40.0, music={"agent": [Span(5.5, 30)]})
    assert m.hold_spans == (Span(5.0, 31.0),)
    assert (m.talk_customer_s, m.overtalk_s, m.interruptions_customer) == (2.0, 0.0, 0.0)


def test_music_until_the_end_of_the_call_is_a_hold() -> None:
    """The customer hung up on hold: the hold runs to the end of the music."""
    activity = {"agent": [Span(0, 5), Span(6, 28)], "customer": [Span(1, 3)]}
    m = call_metrics(activity, _transcript(), duration_s=30.0, music={"agent": [Span(6, 28)]})
    assert m.hold_spans == (Span(5.0, 28.0),)
    assert m.talk_s == 5.0


def test_music_and_silence_holds_are_counted_together() -> None:
    agent = [Span(0, 5), Span(6, 16), Span(17, 20), Span(45, 50)]
    m = call_metrics(
        {"agent": agent, "customer": []},
        _transcript(),
        duration_s=60.0,
        music={"agent": [Span(6, 16)]},
    )
    assert m.hold_spans == (Span(5.0, 17.0), Span(20.0, 45.0))  # music; 25 s of silence
    assert (m.hold_count, m.hold_s, m.longest_hold_s) == (2, 37.0, 25.0)


def test_music_must_name_a_party_of_the_call() -> None:
    with pytest.raises(ValueError, match="music must be keyed by the parties"):
        call_metrics(
            {"unknown": [Span(0, 5)]},
            _transcript(),
            duration_s=10.0,
            music={"agent": [Span(1, 2)]},
        )


def _track(*pieces: Audio, seed: int) -> Audio:
    """The pieces one after another, 3 s of line hiss around them."""
    pause = np.zeros(3 * SR, dtype=np.float32)
    x = np.concatenate([pause, *pieces, pause])
    return x + line_noise(x.size, seed)


def test_whisper_notes_and_a_stray_word_do_not_break_the_music(voices: dict[str, Audio]) -> None:
    """Whisper writes "[Music]" and sometimes invents a word on music: still one stretch."""
    x = _track(voices["fellow"], melody(20 * SR), voices["country"], seed=5)
    music_s = (3 + voices["fellow"].size / SR, 3 + voices["fellow"].size / SR + 20)
    words = [
        Word(3.1, 4.7, " fellow", 0.9),
        Word(music_s[0] + 2.0, music_s[0] + 3.0, " [Music]", 0.5),
        Word(music_s[0] + 4.0, music_s[0] + 4.5, " ♪", 0.5),
        Word(music_s[0] + 9.0, music_s[0] + 9.4, " you", 0.3),  # invented
        Word(music_s[1] + 0.1, music_s[1] + 2.0, " country", 0.9),
    ]
    (span,) = hold_music(x, sr=SR, activity=speech_activity(x, sr=SR), words=words)
    assert close(span.start_s, music_s[0], abs_s=0.5), span
    assert close(span.end_s, music_s[1], abs_s=0.5), span


def test_music_shorter_than_the_threshold_is_left_alone(voices: dict[str, Audio]) -> None:
    x = _track(voices["fellow"], melody(5 * SR), voices["country"], seed=6)
    activity = speech_activity(x, sr=SR)
    words = [Word(3.1, 4.7, " fellow", 0.9), Word(9.9, 11.8, " country", 0.9)]
    assert hold_music(x, sr=SR, activity=activity, words=words) == ()
    shorter = MetricOptions(music_hold_min_s=4.0)
    (span,) = hold_music(x, sr=SR, activity=activity, words=words, options=shorter)
    assert close(span.start_s, 4.8, abs_s=0.5) and close(span.end_s, 9.8, abs_s=0.5), span


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"music_hold_min_s": 0.0}, "music_hold_min_s must be > 0"),
        ({"music_min_stability": 1.5}, "music_min_stability <= 1"),
        ({"music_min_stability": math.nan}, "music_min_stability must be finite"),
    ],
)
def test_music_options_are_checked(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        MetricOptions(**kwargs)  # type: ignore[arg-type]


def test_mono_music_hold(voices: dict[str, Audio]) -> None:
    """The mono mix of a music call: the same holds from the one track.

    The customer says only "hello?" over the music: on one track, more speech over the
    music would split it (see :func:`hold_music`).
    """
    customer_at = [("ring", 3.3), ("shell", 23.0), ("grass", 30.0), ("mhm", 41.0)]
    call = build_call(voices, sound=melody, customer_at=customer_at)
    transcript = unlabelled(call.transcript, "m")
    m = measure_call([Track("unknown", 0, call.agent + call.customer)], transcript, sr=SR)
    _assert_holds(m, TRUE_HOLDS)
    true_talk = TRUE_TALK_AGENT_S + 2.54 + 2.94 + 2.56  # the "hello?" is inside the hold
    assert close(m.talk_s, true_talk, rel=0.1), m.talk_s


# --- the real ASR on the music ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "leg"), [("melody", "agent"), ("dual-tone", "agent"), ("chord", "customer")]
)
def test_hold_music_through_the_real_asr(voices: dict[str, Audio], name: str, leg: str) -> None:
    """Whisper hears the two lines: no words in the music, so the holds are found (on the
    customer's line, with the customer reading a sentence over the second hold)."""
    from models.asr import WhisperTranscriber
    from pipeline.config import AsrConfig
    from pipeline.transcript import merge_channels

    customer_at = [("ring", 3.3), ("shell", 23.0), ("grass", 30.0), ("storm", 41.0)]
    call = build_call(voices, sound=HOLD_SOUNDS[name], leg=leg, customer_at=customer_at)
    asr = WhisperTranscriber(AsrConfig())
    heard = [(t.speaker, t.channel, asr.transcribe(t.samples, language="en")) for t in call.tracks]
    transcript = merge_channels("hold", heard, duration_s=CALL_S, language="en")
    m = measure_call(call.tracks, transcript, sr=SR)
    _assert_holds(m, TRUE_HOLDS)
    assert close(m.talk_agent_s, TRUE_TALK_AGENT_S, rel=0.1), m.talk_agent_s
    assert close(m.talk_customer_s, TRUE_TALK_CUSTOMER_S, rel=0.1), m.talk_customer_s
