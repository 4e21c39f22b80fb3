"""Call audio metrics on calls assembled from real speech at known times.

The agent is JFK, the customer an Open Speech Repository reader: the overtalk call of
:mod:`callkit`, placed on two channels over line noise, so every silence, hold and
overlap is known.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from callkit import (
    AGENT_AT,
    AGENT_WORDS,
    CALL_S,
    CUSTOMER_AT,
    CUSTOMER_WORDS,
    SR,
    Audio,
    Call,
    close,
    cut_pieces,
    line_noise,
    recordings,
    speech_call,
    unlabelled,
    utterance,
)

from pipeline.acoustic.activity import speech_activity
from pipeline.acoustic.options import MetricOptions
from pipeline.acoustic.party_split import split_mono_speech
from pipeline.acoustic.prosody import (
    ProsodyWindow,
    agitation_max,
    agitation_scores,
    agitation_spans,
    prosody,
)
from pipeline.audio import Track
from pipeline.errors import ConfigError
from pipeline.meaning import SENTIMENT_COLUMNS
from pipeline.metric_rows import as_metric_spans, as_metric_values, as_row
from pipeline.metrics import CallMetrics, call_metrics, measure_call
from pipeline.types import Span, Transcript, Utterance, Word
from pipeline.warehouse import METRIC_COLUMNS

# The truth of the overtalk call (its layout is drawn in callkit).
TRUE_DEAD_AIR = [(5.84, 12.80), (23.00, 29.00)]
TRUE_HOLD = (30.02, 55.00)
TRUE_OVERTALK = [(14.00, 15.62), (21.20, 22.76)]
TRUE_TALK_AGENT_S = 11.68
TRUE_TALK_CUSTOMER_S = 11.56
HOLD_LINE = "Thank you, please hold."
"""What the agent's "ask not" is transcribed as here: the hold is announced."""
WORDS = {**AGENT_WORDS, **CUSTOMER_WORDS, "ask_not": len(HOLD_LINE.split())}


@pytest.fixture(scope="module")
def voices() -> dict[str, Audio]:
    jfk, osr = recordings()
    return {**cut_pieces(jfk, osr), "osr": osr}


@pytest.fixture(scope="module")
def call(voices: dict[str, Audio]) -> Call:
    return speech_call(
        voices,
        agent_at=AGENT_AT,
        customer_at=CUSTOMER_AT,
        call_s=CALL_S,
        call_id="call-1",
        words=WORDS,
        texts={"ask_not": HOLD_LINE},
    )


@pytest.fixture(scope="module")
def measured(call: Call) -> CallMetrics:
    return measure_call(call.tracks, call.transcript, sr=SR)


# --- speech activity -------------------------------------------------------------------


@pytest.mark.parametrize("party", ["agent", "customer"])
def test_speech_activity_finds_each_placed_piece(call: Call, party: str) -> None:
    spans = speech_activity(getattr(call, party), sr=SR)
    assert len(spans) == len(call.truth[party])
    for span, (start, end) in zip(spans, call.truth[party], strict=True):
        assert abs(span.start_s - start) <= 0.1, (span, start)
        assert abs(span.end_s - end) <= 0.15, (span, end)


def _modulated_noise(n: int) -> Audio:
    t = np.arange(n) / SR
    return (line_noise(n, 3, 0.01) * (1 + 0.4 * np.sin(2 * np.pi * 0.2 * t))).astype(np.float32)


def _hum(n: int) -> Audio:
    t = np.arange(n) / SR
    return (0.05 * np.sin(2 * np.pi * 50 * t) + line_noise(n, 4)).astype(np.float32)


def _clicks(n: int) -> Audio:
    x = line_noise(n, 5)
    for at in range(SR // 2, n, SR):
        x[at : at + 80] = 0.5
    return x


@pytest.mark.parametrize(
    "make",
    [
        lambda n: np.zeros(n, dtype=np.float32),
        lambda n: line_noise(n, 6, 0.01),
        lambda n: line_noise(n, 7, 0.0003),
        _modulated_noise,
        _hum,
        _clicks,
    ],
    ids=["digital-silence", "hiss-40dB", "hiss-70dB", "modulated-noise", "mains-hum", "clicks"],
)
def test_speech_activity_finds_no_speech_in_silence_or_noise(make: object) -> None:
    assert callable(make)
    assert speech_activity(make(30 * SR), sr=SR) == ()


def test_speech_activity_on_a_long_track(call: Call) -> None:
    # speed is measured in bench/metrics.py, not asserted here
    ten_minutes = np.tile(call.agent, 10)
    spans = speech_activity(ten_minutes, sr=SR)
    assert len(spans) == 10 * len(call.truth["agent"])


@pytest.mark.parametrize(
    ("samples", "kwargs", "match"),
    [
        (np.zeros((2, SR), dtype=np.float32), {}, "one track"),
        (np.full(SR, np.nan, dtype=np.float32), {}, "NaN"),
        (np.zeros(SR, dtype=np.float32), {"sr": 0}, "sr must be"),
        (np.zeros(SR, dtype=np.float32), {"frame_s": 0.0}, "frame_s"),
        (np.zeros(SR, dtype=np.float32), {"floor_percentile": 101.0}, "floor_percentile"),
        (np.zeros(SR, dtype=np.float32), {"min_gap_s": -1.0}, "must be >= 0"),
    ],
)
def test_speech_activity_rejects_bad_input(
    samples: Audio, kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        speech_activity(samples, **kwargs)  # type: ignore[arg-type]


# --- the whole call from audio ---------------------------------------------------------


def test_dead_air_is_the_unannounced_silence_between_speech(measured: CallMetrics) -> None:
    true_total = sum(e - s for s, e in TRUE_DEAD_AIR)
    assert close(measured.dead_air_s, true_total, abs_s=1.0, rel=0.1), measured.dead_air_s
    assert measured.dead_air_count == 2
    assert close(measured.longest_dead_air_s, 6.96, abs_s=0.5)
    for span, (start, end) in zip(measured.dead_air_spans, TRUE_DEAD_AIR, strict=True):
        assert close(span.start_s, start, abs_s=0.5) and close(span.end_s, end, abs_s=0.5)


def test_a_25_s_silence_is_one_hold_with_its_times(measured: CallMetrics) -> None:
    assert measured.hold_count == 1
    (hold,) = measured.hold_spans
    assert close(hold.start_s, TRUE_HOLD[0], abs_s=1.0), hold
    assert close(hold.end_s, TRUE_HOLD[1], abs_s=1.0), hold
    assert close(measured.hold_s, 24.98, abs_s=1.0)
    assert measured.longest_hold_s == measured.hold_s


def test_overtalk_and_who_interrupted(measured: CallMetrics) -> None:
    true_total = sum(e - s for s, e in TRUE_OVERTALK)
    assert close(measured.overtalk_s, true_total, rel=0.1), measured.overtalk_s
    assert measured.overtalk_count == 2  # the customer's "mhm" is a backchannel
    assert measured.interruptions_customer == 1
    assert measured.interruptions_agent == 1
    (by_customer,) = measured.interruption_spans_customer
    (by_agent,) = measured.interruption_spans_agent
    assert close(by_customer.start_s, 14.0, abs_s=0.1)
    assert close(by_agent.start_s, 21.2, abs_s=0.1)


def test_talk_time_ratio_and_words_per_minute(measured: CallMetrics) -> None:
    assert close(measured.talk_agent_s, TRUE_TALK_AGENT_S, rel=0.1)
    assert close(measured.talk_customer_s, TRUE_TALK_CUSTOMER_S, rel=0.1)
    true_ratio = TRUE_TALK_AGENT_S / (TRUE_TALK_AGENT_S + TRUE_TALK_CUSTOMER_S)
    assert close(measured.talk_ratio_agent, true_ratio, abs_s=0.03)
    agent_words = sum(WORDS[name] for name, _ in AGENT_AT)
    customer_words = sum(WORDS[name] for name, _ in CUSTOMER_AT)
    assert close(measured.wpm_agent, agent_words / (TRUE_TALK_AGENT_S / 60), rel=0.1)
    assert close(measured.wpm_customer, customer_words / (TRUE_TALK_CUSTOMER_S / 60), rel=0.1)
    assert measured.handle_s == CALL_S


def test_mono_call_measures_silences_and_leaves_parties_nan(call: Call) -> None:
    transcript = unlabelled(call.transcript, "mono")
    m = measure_call([Track("unknown", 0, call.agent + call.customer)], transcript, sr=SR)
    true_total = sum(e - s for s, e in TRUE_DEAD_AIR)
    assert close(m.dead_air_s, true_total, abs_s=1.0, rel=0.1)
    assert m.dead_air_count == 2 and m.hold_count == 1
    assert close(m.hold_spans[0].start_s, TRUE_HOLD[0], abs_s=1.0)
    for name in (
        "talk_agent_s",
        "talk_customer_s",
        "talk_ratio_agent",
        "overtalk_s",
        "overtalk_count",
        "interruptions_agent",
        "interruptions_customer",
        "wpm_agent",
        "wpm_customer",
        "customer_agitation_max",
    ):
        assert math.isnan(getattr(m, name)), name
    assert m.overtalk_spans == () and m.agitation_spans == ()
    assert m.talk_s > 0


def test_diarized_mono_call_measures_each_party(call: Call, measured: CallMetrics) -> None:
    """The mono mix, its words named as a perfect diarization names them: the per-party
    numbers are estimated from the words and land near the stereo call's."""
    m = measure_call([Track("unknown", 0, call.agent + call.customer)], call.transcript, sr=SR)
    assert close(m.talk_agent_s, TRUE_TALK_AGENT_S, rel=0.1), m.talk_agent_s
    assert close(m.talk_customer_s, TRUE_TALK_CUSTOMER_S, rel=0.1), m.talk_customer_s
    assert close(m.talk_ratio_agent, measured.talk_ratio_agent, abs_s=0.03)
    assert close(m.wpm_agent, measured.wpm_agent, rel=0.1)
    assert close(m.wpm_customer, measured.wpm_customer, rel=0.1)
    # these words overlap where the voices do, so the overtalk is seen; the ASR's are
    # rarely so kind (see the module docstring of pipeline.metrics)
    assert (m.interruptions_agent, m.interruptions_customer) == (1.0, 1.0)
    assert close(m.overtalk_s, measured.overtalk_s, rel=0.1)
    assert (m.hold_count, m.dead_air_count) == (measured.hold_count, measured.dead_air_count)
    assert math.isnan(m.customer_agitation_max) and m.agitation_spans == ()


def _words_at(*spans: tuple[float, float]) -> tuple[Word, ...]:
    return tuple(Word(a, b, " la", 0.9) for a, b in spans)


def _parties(*runs: tuple[str, tuple[tuple[float, float], ...]]) -> Transcript:
    utterances = tuple(
        Utterance(speaker, spans[0][0], spans[-1][1], "la", _words_at(*spans))  # type: ignore[arg-type]
        for speaker, spans in runs
    )
    return Transcript("m", "en", 60.0, utterances)


@pytest.mark.parametrize(
    ("runs", "speech", "agent", "customer"),
    [
        # a pause between the parties: cut halfway
        (
            [("agent", ((0.5, 1.0), (1.5, 2.0))), ("customer", ((3.0, 4.0),))],
            [(0.4, 4.2)],
            [(0.4, 2.5)],
            [(2.5, 4.2)],
        ),
        # the customer starts before the agent stops: both speak 1.5-2.0
        (
            [("agent", ((0.0, 2.0),)), ("customer", ((1.5, 3.0),))],
            [(0.0, 3.0)],
            [(0.0, 2.0)],
            [(1.5, 3.0)],
        ),
        # speech 5 s from any word is nobody's
        (
            [("agent", ((0.0, 1.0),)), ("customer", ((2.0, 3.0),))],
            [(0.0, 3.0), (8.0, 9.0)],
            [(0.0, 1.5)],
            [(1.5, 3.0)],
        ),
        # speech just after a word (within 1 s) is that word's party's
        ([("customer", ((0.0, 1.0),))], [(0.0, 1.0), (1.5, 2.5)], [], [(0.0, 1.0), (1.5, 2.5)]),
    ],
    ids=["pause", "overlap", "far-from-words", "near-a-word"],
)
def test_mono_speech_is_split_at_the_words(
    runs: list[tuple[str, tuple[tuple[float, float], ...]]],
    speech: list[tuple[float, float]],
    agent: list[tuple[float, float]],
    customer: list[tuple[float, float]],
) -> None:
    split = split_mono_speech(_spans(*speech), _parties(*runs))
    assert split == {"agent": tuple(_spans(*agent)), "customer": tuple(_spans(*customer))}


def test_mono_speech_without_party_words_is_not_split() -> None:
    unknown = Transcript(
        "m", "en", 10.0, (Utterance("unknown", 0.0, 1.0, "la", _words_at((0.0, 1.0))),)
    )
    assert split_mono_speech(_spans((0.0, 1.0)), unknown) is None
    m = call_metrics({"unknown": _spans((0.0, 1.0))}, unknown, duration_s=10.0)
    assert math.isnan(m.talk_agent_s) and math.isnan(m.wpm_customer)


def test_mono_interruption_from_overlapping_words() -> None:
    transcript = _parties(
        ("agent", ((0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0))),
        ("customer", ((2.5, 3.5), (3.5, 5.0), (5.0, 6.0))),
    )
    m = call_metrics({"unknown": _spans((0.0, 6.0))}, transcript, duration_s=10.0)
    assert (m.talk_agent_s, m.talk_customer_s, m.overtalk_s) == (4.0, 3.5, 1.5)
    assert (m.interruptions_agent, m.interruptions_customer) == (0.0, 1.0)
    assert m.wpm_agent == pytest.approx(4 / (4.0 / 60))


# --- call metrics from known spans -----------------------------------------------------


def _transcript(*utterances: Utterance, duration_s: float = 120.0) -> Transcript:
    return Transcript("c", "en", duration_s, utterances)


def _spans(*pairs: tuple[float, float]) -> list[Span]:
    return [Span(s, e) for s, e in pairs]


def test_silence_before_first_and_after_last_speech_is_not_dead_air() -> None:
    activity = {"agent": _spans((10, 20)), "customer": _spans((27, 30))}
    m = call_metrics(activity, _transcript(), duration_s=120.0)
    assert (m.dead_air_s, m.dead_air_count, m.silence_s) == (7.0, 1, 7.0)
    assert m.dead_air_spans == (Span(20, 27),)


@pytest.mark.parametrize(
    ("gap_s", "dead_air_count", "hold_count"),
    [(4.9, 0, 0), (5.0, 1, 0), (19.9, 1, 0), (20.0, 0, 1), (45.0, 0, 1)],
)
def test_gaps_by_length(gap_s: float, dead_air_count: int, hold_count: int) -> None:
    activity = {"agent": _spans((0, 10)), "customer": _spans((10 + gap_s, 70))}
    m = call_metrics(activity, _transcript(), duration_s=120.0)
    assert (m.dead_air_count, m.hold_count) == (dead_air_count, hold_count)
    assert m.silence_s == pytest.approx(gap_s)


@pytest.mark.parametrize(
    ("speaker", "text", "gap_starts_s", "is_hold"),
    [
        ("agent", "Let me check that. Please, HOLD the line.", 10.0, True),
        ("agent", "I'll put you on hold for a moment", 35.0, True),
        ("agent", "I'll put you on hold for a moment", 45.0, False),  # > 30 s after
        ("agent", "好的，请您稍等。", 10.0, True),
        ("agent", "Оставайтесь на линии, пожалуйста.", 10.0, True),
        ("customer", "please hold on, my dog", 10.0, False),  # only the agent holds
        ("agent", "好的请您稍等一下", 10.0, True),
        ("agent", "Thanks for holding", 10.0, False),
    ],
)
def test_an_announced_8_s_silence_is_a_hold(
    speaker: str, text: str, gap_starts_s: float, is_hold: bool
) -> None:
    activity = {
        "agent": _spans((0, 8), (gap_starts_s + 8, 70)),
        "customer": _spans((8, gap_starts_s)),
    }
    transcript = _transcript(utterance(speaker, 6.0, 8.0, text, 4))
    m = call_metrics(activity, transcript, duration_s=120.0)
    assert m.hold_count == int(is_hold)
    assert m.dead_air_count == int(not is_hold)
    events = m.hold_spans if is_hold else m.dead_air_spans
    assert events == (Span(gap_starts_s, gap_starts_s + 8),)


def test_hold_phrases_are_configurable() -> None:
    activity = {"agent": _spans((0, 8), (16, 30)), "customer": []}
    transcript = _transcript(utterance("agent", 6.0, 8.0, "Un momento, por favor", 4))
    assert call_metrics(activity, transcript, duration_s=60.0).hold_count == 0
    options = MetricOptions(hold_phrases=("un momento",))
    assert call_metrics(activity, transcript, duration_s=60.0, options=options).hold_count == 1


@pytest.mark.parametrize(
    ("agent", "customer", "overtalk_s", "by_agent", "by_customer"),
    [
        ([(0, 10)], [(5, 15)], 5.0, 0, 1),  # customer starts over the agent
        ([(5, 15)], [(0, 10)], 5.0, 1, 0),
        ([(0, 10)], [(4, 4.8)], 0.0, 0, 0),  # "mhm": a backchannel under 1 s
        ([(0, 10)], [(9.6, 20)], 0.0, 0, 0),  # 0.4 s overlap: turn-taking
        ([(0, 10)], [(9.5, 20)], 0.5, 0, 1),  # exactly the 0.5 s minimum
        ([(0, 10)], [(0, 5)], 5.0, 0, 0),  # same start: nobody interrupts
        ([(0, 20)], [(2, 5), (8, 12)], 7.0, 0, 2),  # the customer comes back in
        ([(0, 5), (6, 10)], [(4, 7)], 2.0, 1, 1),  # the agent resumes over the customer
    ],
)
def test_overtalk_and_interruption_rules(
    agent: list[tuple[float, float]],
    customer: list[tuple[float, float]],
    overtalk_s: float,
    by_agent: int,
    by_customer: int,
) -> None:
    activity = {"agent": _spans(*agent), "customer": _spans(*customer)}
    m = call_metrics(activity, _transcript(), duration_s=60.0)
    assert m.overtalk_s == pytest.approx(overtalk_s)
    assert (m.interruptions_agent, m.interruptions_customer) == (by_agent, by_customer)
    assert m.overtalk_count == len(m.overtalk_spans)


def test_words_per_minute_from_word_timestamps() -> None:
    activity = {"agent": _spans((0, 30)), "customer": _spans((30, 45))}
    transcript = _transcript(
        utterance("agent", 0, 30, "…", 75), utterance("customer", 30, 45, "…", 20)
    )
    m = call_metrics(activity, transcript, duration_s=60.0)
    assert (m.wpm_agent, m.wpm_customer) == (150.0, 80.0)
    assert m.talk_ratio_agent == pytest.approx(30 / 45)


def test_words_per_minute_is_nan_without_words_or_talk() -> None:
    no_words = _transcript(Utterance("agent", 0, 30, "hello there"))
    m = call_metrics({"agent": _spans((0, 30)), "customer": []}, no_words, duration_s=60.0)
    assert math.isnan(m.wpm_agent) and math.isnan(m.wpm_customer)
    assert m.talk_ratio_agent == 1.0
    silent = call_metrics({"agent": [], "customer": []}, _transcript(), duration_s=60.0)
    assert math.isnan(silent.talk_ratio_agent)
    assert (silent.dead_air_s, silent.silence_s, silent.longest_dead_air_s) == (0.0, 0.0, 0.0)


def test_mono_spans_give_silences_and_holds_from_the_unknown_speaker() -> None:
    transcript = _transcript(utterance("unknown", 6, 10, "one moment please", 3))
    m = call_metrics({"unknown": _spans((0, 10), (18, 45), (52, 55))}, transcript, duration_s=60.0)
    assert (m.hold_count, m.hold_s, m.dead_air_count, m.dead_air_s) == (1, 8.0, 1, 7.0)
    assert m.talk_s == 40.0  # the second gap starts 35 s after "one moment": dead air
    assert math.isnan(m.talk_agent_s) and math.isnan(m.interruptions_customer)


# --- rows and rubric values ------------------------------------------------------------

# the audio metrics are exactly the calls table's metric columns but the customer's sentiment,
# which comes from the meaning vectors (schema and code agree)
SCALARS = set(METRIC_COLUMNS) - set(SENTIMENT_COLUMNS)


def test_as_row_holds_only_the_named_scalars(measured: CallMetrics) -> None:
    row = as_row(measured)
    assert set(row) == SCALARS
    assert all(isinstance(v, int | float) for v in row.values())
    assert isinstance(row["dead_air_count"], int) and isinstance(row["hold_count"], int)
    assert row["longest_dead_air_s"] == measured.longest_dead_air_s


def test_metric_values_and_spans_for_rubric_thresholds(measured: CallMetrics) -> None:
    values = as_metric_values(measured)
    assert set(values) == SCALARS | {"agent_overtalk_count", "customer_overtalk_count"}
    assert all(type(v) is float for v in values.values())
    assert values["agent_overtalk_count"] == measured.interruptions_agent == 1.0
    spans = as_metric_spans(measured)
    assert spans["longest_dead_air_s"] == (
        max(measured.dead_air_spans, key=lambda s: s.duration_s),
    )
    assert spans["hold_count"] == measured.hold_spans
    assert spans["agent_overtalk_count"] == measured.interruption_spans_agent
    assert set(spans) <= set(values)


# --- prosody and agitation -------------------------------------------------------------

AGITATED = (29.3, 31.3)  # the reader's ninth sentence


def _customer_with(voices: dict[str, Audio], *, gain: float, semitones: float) -> Audio:
    """The reader's 35 s of speech, with :data:`AGITATED` made louder and/or higher."""
    import librosa

    x = voices["osr"].copy()
    a, b = round(AGITATED[0] * SR), round(AGITATED[1] * SR)
    segment = x[a:b]
    if semitones:
        shifted = librosa.effects.pitch_shift(segment, sr=SR, n_steps=semitones)
        shifted *= np.sqrt(np.mean(segment**2) / np.mean(shifted**2))  # same level, higher
        segment = shifted
    x[a:b] = gain * segment
    return x + line_noise(x.size, 8)


@pytest.mark.parametrize(
    ("gain", "semitones"), [(4.0, 4.0), (4.0, 0.0)], ids=["x4-and-4-semitones-up", "x4"]
)
def test_agitation_is_found_where_the_customer_gets_loud_and_high(
    voices: dict[str, Audio], gain: float, semitones: float
) -> None:
    customer = _customer_with(voices, gain=gain, semitones=semitones)
    windows = prosody(customer, sr=SR, spans=speech_activity(customer, sr=SR))
    (span,) = agitation_spans(windows)
    assert close(span.start_s, AGITATED[0], abs_s=1.0), span
    assert close(span.end_s, AGITATED[1], abs_s=1.0), span
    assert agitation_max(windows) >= 3.5
    m = call_metrics(
        {"agent": [], "customer": speech_activity(customer, sr=SR)},
        _transcript(duration_s=customer.size / SR),
        duration_s=customer.size / SR,
        customer_prosody=windows,
    )
    assert m.agitation_spans == (span,)
    assert m.customer_agitation_max == agitation_max(windows)


def test_calm_speech_is_not_agitated(voices: dict[str, Audio]) -> None:
    customer = _customer_with(voices, gain=1.0, semitones=0.0)
    windows = prosody(customer, sr=SR, spans=speech_activity(customer, sr=SR))
    assert len(windows) >= 10
    assert agitation_spans(windows) == ()
    assert agitation_max(windows) < 2.5


def test_prosody_measures_pitch_on_voiced_speech(voices: dict[str, Audio]) -> None:
    customer = _customer_with(voices, gain=1.0, semitones=4.0)
    windows = prosody(customer, sr=SR, spans=speech_activity(customer, sr=SR))
    pitches = {w.start_s: w.pitch_hz for w in windows}
    assert all(65 < p < 400 for p in pitches.values())
    shifted = next(p for s, p in pitches.items() if AGITATED[0] - 0.2 <= s <= AGITATED[0] + 0.2)
    calm = float(np.median([p for s, p in pitches.items() if s < AGITATED[0] - 1]))
    assert 12 * math.log2(shifted / calm) == pytest.approx(4.0, abs=1.5)


def _windows(levels: list[tuple[float, float]]) -> list[ProsodyWindow]:
    """2 s windows back to back with (loudness rise in dB, pitch rise in semitones)."""
    wobble = [(-1.0, 0.3), (1.0, -0.3)]
    return [
        ProsodyWindow(
            2.0 * i,
            2.0 * i + 2.0,
            -25.0 + dl + wobble[i % 2][0],
            150.0 * 2 ** ((dp + wobble[i % 2][1]) / 12),
        )
        for i, (dl, dp) in enumerate(levels)
    ]


@pytest.mark.parametrize(
    ("levels", "agitated"),
    [
        ([(0, 0)] * 10 + [(7.5, 3.6)] + [(0, 0)] * 5, [(20.0, 22.0)]),  # both rise a bit
        ([(0, 0)] * 10 + [(7.5, 0)] + [(0, 0)] * 5, []),  # louder alone: not enough
        ([(0, 0)] * 10 + [(0, 5)] + [(0, 0)] * 5, [(20.0, 22.0)]),  # much higher alone
        ([(12, 0)] * 15 + [(0, 0)] * 30, [(0.0, 30.0)]),  # starts angry, calms down
        ([(0, 0)] * 15 + [(12, 0)] * 25, [(30.0, 80.0)]),  # calm, then escalates for long
    ],
    ids=["louder-and-higher", "louder", "higher", "angry-start", "escalation"],
)
def test_agitation_rule_on_known_windows(
    levels: list[tuple[float, float]], agitated: list[tuple[float, float]]
) -> None:
    assert agitation_spans(_windows(levels)) == tuple(_spans(*agitated))


def test_agitation_needs_measurable_windows() -> None:
    assert agitation_scores([]) == ()
    assert math.isnan(agitation_max([]))
    assert prosody(np.zeros(SR, dtype=np.float32), sr=SR, spans=[]) == ()


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activity", "duration_s", "match"),
    [
        ({"agent": []}, 60.0, "must have parties"),
        ({"agent": [], "customer": [], "unknown": []}, 60.0, "must have parties"),
        ({"agent": [], "caller": []}, 60.0, "must have parties"),
        ({"agent": [Span(5, 3)], "customer": []}, 60.0, "reversed or outside"),
        ({"agent": [Span(-1, 3)], "customer": []}, 60.0, "reversed or outside"),
        ({"unknown": [Span(50, 61)]}, 60.0, "reversed or outside"),
        ({"unknown": [Span(0, math.nan)]}, 60.0, "reversed or outside"),
        ({"unknown": []}, 0.0, "duration_s"),
        ({"unknown": []}, math.inf, "duration_s"),
    ],
)
def test_call_metrics_rejects_bad_activity(
    activity: dict[str, list[Span]], duration_s: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        call_metrics(activity, _transcript(), duration_s=duration_s)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dead_air_min_s": -1.0}, "dead_air_min_s must be finite"),
        ({"overlap_min_s": math.nan}, "overlap_min_s must be finite"),
        ({"hold_min_s": 3.0}, "hold_min_s"),
        ({"announced_hold_min_s": 2.0}, "announced_hold_min_s"),
        ({"hold_phrases": ("please hold", "")}, "hold_phrases"),
        ({"hold_phrases": ("...",)}, "hold_phrases"),
    ],
)
def test_metric_options_reject_bad_thresholds(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        MetricOptions(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spans", "window_s", "match"),
    [
        ([Span(0.5, 2.0)], 2.0, "outside the track"),
        ([Span(0.5, 0.2)], 2.0, "outside the track"),
        ([Span(0.0, 0.5)], 0.0, "window_s"),
    ],
)
def test_prosody_rejects_bad_spans(spans: list[Span], window_s: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        prosody(np.zeros(SR, dtype=np.float32), sr=SR, spans=spans, window_s=window_s)


@pytest.mark.parametrize(
    "speakers", [[], ["agent", "agent"]], ids=["no-tracks", "two-agent-tracks"]
)
def test_measure_call_needs_one_track_per_party(speakers: list[str]) -> None:
    tracks = [Track(s, i, np.zeros(SR, dtype=np.float32)) for i, s in enumerate(speakers)]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one track per party"):
        measure_call(tracks, _transcript(), sr=SR)


def test_repeat_contacts_within_the_window() -> None:
    from pipeline.contacts import repeat_contacts

    calls = [
        ("a", "C1", "2026-11-01T09:00:00+00:00"),
        ("b", "C1", "2026-11-05T09:00:00Z"),
        ("c", "C1", "2026-11-07T08:00:00+02:00"),
        ("d", "C1", "2026-11-30T09:00:00+00:00"),
        ("e", "C2", "2026-11-05T10:00:00+00:00"),
        ("f", "", "2026-11-05T10:00:00+00:00"),
        ("g", "C1", "not a time"),
    ]
    assert repeat_contacts(calls, days=7) == {"a": 0, "b": 1, "c": 2, "d": 0, "e": 0}
    assert repeat_contacts(calls, days=3)["c"] == 1
