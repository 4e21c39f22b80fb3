"""A call's Whisper windows, encoded once: the real base model on real speech."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from models import asr
from models.asr import WhisperTranscriber, _segment
from models.windows import Encoded, Window, WindowDecoder, iter_window_segments
from pipeline.audio import decode
from pipeline.config import AsrConfig
from pipeline.evaluation import word_error_rate as wer
from pipeline.packing import unpack
from pipeline.types import ChannelTranscript, Segment

pytestmark = pytest.mark.slow

TURNS = [  # (channel, file): real speech laid on a stereo timeline, 1 s between turns
    (0, "azure_katiesteve_mono.wav"),
    (1, "azure_whatstheweatherlike_mulaw.wav"),
    (0, "osr_us_000_0034_8k.wav"),
    (1, "faster_whisper_jfk.flac"),
    (0, "azure_katiesteve_mono.wav"),
]


@pytest.fixture(scope="module")
def transcriber() -> WhisperTranscriber:
    """Each channel's speech in its own windows (the default)."""
    return WhisperTranscriber(AsrConfig(workers=1))


@pytest.fixture(scope="module")
def conversation() -> WhisperTranscriber:
    """Both channels' speech in the conversation's windows."""
    return WhisperTranscriber(AsrConfig(workers=1, windows="conversation"))


@pytest.fixture(scope="module")
def laid_out(data: Path) -> tuple[list[np.ndarray], list[str], list[list[tuple[float, float]]]]:
    """The two tracks of a stereo call (16 kHz), each track's reference text, and when
    each track's turns are (seconds)."""
    refs = {
        e["file"]: e["reference_transcript"]
        for e in json.loads((data / "manifest.json").read_text())
    }
    blocks, texts, turns, at = [], ["", ""], [[], []], 0.0  # type: ignore[var-annotated]
    for channel, name in TURNS:
        x = decode(data / name).samples.mean(axis=0)
        block = np.zeros((2, len(x) + 16000), dtype=np.float32)
        block[channel, : len(x)] = x
        blocks.append(block)
        texts[channel] += " " + refs[name]
        turns[channel].append((at, at + len(x) / 16000))
        at += block.shape[1] / 16000
    stereo = np.concatenate(blocks, axis=1)
    return [stereo[0], stereo[1]], texts, turns


@pytest.fixture(scope="module")
def call(
    laid_out: tuple[list[np.ndarray], list[str], list[list[tuple[float, float]]]],
) -> tuple[list[np.ndarray], list[str]]:
    """The two tracks of a stereo call (16 kHz) and each track's reference text."""
    return laid_out[0], laid_out[1]


def _texts(channels: list[ChannelTranscript]) -> list[str]:
    return [" ".join(s.text for s in c.segments) for c in channels]


@pytest.fixture()
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of windows of every encoder pass (the real encoder still runs)."""
    passes: list[int] = []
    real = WindowDecoder.encode

    def counted(self: WindowDecoder, windows: list) -> Encoded:
        passes.append(len(windows))
        return real(self, windows)

    monkeypatch.setattr(WindowDecoder, "encode", counted)
    return passes


def test_each_track_comes_out_as_the_batched_pipeline_gives_it(
    transcriber: WhisperTranscriber, call: tuple[list[np.ndarray], list[str]]
) -> None:
    """Same segments, words and times as faster-whisper's BatchedInferencePipeline with
    earmark's options on the same track: the windows are decoded the way it decodes them."""
    tracks, _ = call
    ours = transcriber.transcribe_tracks(tracks, language="en")
    with transcriber.replicas.hold():
        for track, channel in zip(tracks, ours, strict=True):
            segments, _ = transcriber._start(track, "en")
            theirs = [_segment(s) for s in segments]
            assert channel.segments and list(channel.segments) == theirs


@pytest.mark.parametrize("layout", ["channel", "conversation"])
def test_the_language_windows_are_encoded_once(
    layout: str,
    transcriber: WhisperTranscriber,
    conversation: WhisperTranscriber,
    call: tuple[list[np.ndarray], list[str]],
    encodes: list[int],
) -> None:
    tracks, refs = call
    chosen = conversation if layout == "conversation" else transcriber
    heard = chosen.hear(tracks)
    windows = [len(s.windows) for s in heard.speech]
    assert windows[0] >= 2  # the agent's 67 s of speech: more than one window
    if layout == "conversation":  # 82 s of speech: 3 windows, where the tracks fill 3 + 1
        windows = [len(heard.conversation.windows)]
        assert windows[0] < sum(len(s.windows) for s in heard.speech)
    probabilities, encoded = chosen.call_language(heard, probe=0, segments=2)
    assert probabilities[0][0] == "en" and probabilities[0][1] > 0.8
    assert abs(sum(p for _, p in probabilities) - 1.0) < 0.01
    assert sum(encodes) == 2  # the language is read off the first two windows
    channels = chosen.transcribe_heard(heard, language="en", encoded=encoded)
    assert sum(encodes) == sum(windows)  # and they are not encoded again
    for text, ref in zip(_texts(channels), refs, strict=True):
        assert wer(ref, text) < 0.15
    assert "country" in _texts(channels)[1].lower()
    assert "sandy beach" not in _texts(channels)[1].lower()


def test_conversation_windows_give_each_word_to_its_party_at_its_time(
    conversation: WhisperTranscriber,
    laid_out: tuple[list[np.ndarray], list[str], list[list[tuple[float, float]]]],
) -> None:
    """The parties' speech decoded in shared windows: each word on the channel it was
    said on, timed inside that channel's turns, the text as good as a pass per channel."""
    tracks, refs, turns = laid_out
    channels = conversation.transcribe_tracks(tracks, language="en")
    for channel, text, ref, spans in zip(channels, _texts(channels), refs, turns, strict=True):
        assert wer(ref, text) < 0.15
        words = [w for s in channel.segments for w in s.words]
        assert words == sorted(words, key=lambda w: w.start_s)
        inside = [any(a - 0.5 <= w.start_s and w.end_s <= b + 0.5 for a, b in spans) for w in words]
        assert sum(inside) / len(inside) > 0.97
        assert all(s.start_s <= s.end_s for s in channel.segments)
    assert "country" in _texts(channels)[1].lower()
    assert "country" not in _texts(channels)[0].lower()


def test_a_looping_conversation_window_is_decoded_again_for_every_party(
    conversation: WhisperTranscriber,
    call: tuple[list[np.ndarray], list[str]],
) -> None:
    """A window that came back as a repetition loop is decoded again as a whole, and its
    words still go back to their channels."""
    tracks, refs = call
    heard = conversation.hear(tracks)
    looped = [
        Segment(
            start_s=w.offset_s,
            end_s=w.offset_s + w.duration_s,
            text=" okay" * 40,
            avg_logprob=-0.1,
            no_speech_prob=0.0,
            compression_ratio=9.0,
        )
        for w in heard.conversation.windows
    ]
    with conversation.replicas.hold():
        again = conversation._redo_failed_windows(heard.conversation, looped, "en")
    assert again and all(s.compression_ratio <= 2.4 for s in again)
    per_track = unpack(again, heard.conversation.pieces, tracks=2)
    for segments, ref in zip(per_track, refs, strict=True):
        assert wer(ref, " ".join(s.text for s in segments)) < 0.2


def test_speech_a_window_left_unheard_at_its_end_is_decoded_again(
    conversation: WhisperTranscriber,
    call: tuple[list[np.ndarray], list[str]],
) -> None:
    """The decoder now and then stops seconds before a window's speech ends. Each window
    here is cut short after its first 5 s of words: the rest is heard again and every
    word still goes back to its channel; windows heard to their end are left alone."""
    tracks, refs = call
    heard = conversation.hear(tracks)
    windows = heard.conversation.windows
    assert all(w.duration_s > asr.UNHEARD_S + 5.0 for w in windows)
    with conversation.replicas.hold():
        decoder = conversation._decoder()
        outputs = []
        for batch in conversation._iter_encoded(decoder, windows, ()):
            decoded, _ = decoder.decode(
                batch,
                language="en",
                settings=conversation._decode_settings,
                last_speech_s=batch.windows[0].offset_s,
            )
            outputs.extend(decoded)
        raw = [_segment(s) for s in iter_window_segments(outputs)]
        assert conversation._redo_failed_windows(heard.conversation, raw, "en") == raw
        cut = [
            dataclasses.replace(seg, words=kept, text="".join(x.text for x in kept))
            for w, seg in zip(windows, raw, strict=True)
            for kept in [tuple(x for x in seg.words if x.end_s < w.offset_s + 5.0)]
        ]
        again = conversation._redo_failed_windows(heard.conversation, cut, "en")
    assert len(again) > len(cut)
    per_track = unpack(again, heard.conversation.pieces, tracks=2)
    for segments, ref in zip(per_track, refs, strict=True):
        words = [x for seg in segments for x in seg.words]
        assert words == sorted(words, key=lambda x: x.start_s)
        assert wer(ref, " ".join(seg.text for seg in segments)) < 0.2


def _into(window: Window, stretch: tuple[float, float]) -> tuple[float, float]:
    """``stretch`` in seconds into ``window``: a start below 0 counts from its end, an end
    past it is its end."""
    start, end = stretch
    return (start if start >= 0 else window.duration_s + start), min(end, window.duration_s)


@pytest.fixture()
def deaf_for(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Seconds of every window's speech (``(start, end)`` into it, see :func:`_into`) in which the batched decoder is made to have heard no word, as greedy
    decoding of a long telephone window now and then does (the real decoder still runs;
    its words there are taken out). Set the stretch by appending to the list."""
    stretch: list[tuple[float, float]] = []
    real = WindowDecoder.decode

    def deaf(self: WindowDecoder, encoded: Encoded, **options: object) -> tuple[list, float]:
        outputs, last = real(self, encoded, **options)  # type: ignore[arg-type]
        for window, decoded in zip(encoded.windows, outputs, strict=True):
            a, b = _into(window, stretch[0])
            for seg in decoded:
                kept = [
                    w
                    for w in seg["words"]
                    if not a <= (w["start"] + w["end"]) / 2 - window.offset_s <= b
                ]
                seg.update(words=kept, text="".join(w["word"] for w in kept))
        return outputs, last

    monkeypatch.setattr(WindowDecoder, "decode", deaf)
    return stretch


@pytest.mark.parametrize(
    ("layout", "stretch"),
    [
        ("channel", (0.0, 9.0)),
        ("channel", (6.0, 15.0)),
        ("channel", (-9.0, math.inf)),
        ("conversation", (0.0, 9.0)),
    ],
    ids=["channel-start", "channel-middle", "channel-end", "conversation-start"],
)
def test_speech_a_window_left_unheard_is_decoded_again(
    layout: str,
    stretch: tuple[float, float],
    transcriber: WhisperTranscriber,
    conversation: WhisperTranscriber,
    laid_out: tuple[list[np.ndarray], list[str], list[list[tuple[float, float]]]],
    deaf_for: list[tuple[float, float]],
) -> None:
    """9 s of every window's speech with no word heard in them (at its start, in its
    middle, at its end) is decoded again: words come out in those seconds of the call,
    in time order, on the track that said them, and the text is as good as before."""
    tracks, refs, _ = laid_out
    chosen = conversation if layout == "conversation" else transcriber
    heard = chosen.hear(tracks)
    windows = heard.conversation.windows if layout == "conversation" else heard.speech[0].windows
    assert all(w.duration_s > 15.0 for w in windows[:-1])
    deaf_for.append(stretch)
    channels = chosen.transcribe_heard(heard, language="en")
    for window in windows[:-1]:
        a, b = _into(window, stretch)
        (_, start), (_, end) = (window.source_at(t, sr=16000) for t in (a + 1.0, b - 1.0))
        words = [w for c in channels for s in c.segments for w in s.words]
        assert any(start / 16000 <= w.start_s <= end / 16000 for w in words), (a, b)
    for channel, ref in zip(channels, refs, strict=True):
        words = [w for s in channel.segments for w in s.words]
        assert words == sorted(words, key=lambda w: w.start_s)
        assert wer(ref, " ".join(s.text for s in channel.segments)) < 0.2


STOPS_AFTER_S = 3.0
"""The first decoding again of an unheard stretch hears only this much of it (then the
rest of the stretch is unheard a second time)."""


def test_what_the_first_decoding_again_left_unheard_is_decoded_once_more(
    transcriber: WhisperTranscriber,
    laid_out: tuple[list[np.ndarray], list[str], list[list[tuple[float, float]]]],
    deaf_for: list[tuple[float, float]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each track window (the mono path's) hears no word in its first 12 s; decoding that
    stretch again stops after its first 3 s, as sequential decoding too now and then does
    (the real Russian call's "Здравствуйте. Здравствуйте." then 10 s unheard). The 9 s it
    left unheard are decoded once more (the second of ``UNHEARD_ROUNDS``): words come out
    in them, on the track that said them, and the words the caller passed are left as
    they were."""
    assert asr.UNHEARD_ROUNDS == 2
    tracks, refs, _ = laid_out
    heard = transcriber.hear(tracks)
    windows = heard.speech[0].windows
    assert all(w.duration_s > 15.0 for w in windows[:-1])
    deaf_for.append((0.0, 12.0))
    real_again = WhisperTranscriber._decode_again
    stopped: set[int] = set()  # where the cuts decoded again end (a sample of the track)

    def stops_early(
        self: WhisperTranscriber, samples: np.ndarray, language: str, offset_s: float
    ) -> list[Segment]:
        segments = real_again(self, samples, language, offset_s)
        end = round(offset_s * 16000) + len(samples)
        if end in stopped:  # the same stretch's rest, decoded once more: heard in full
            return segments
        stopped.add(end)
        out = []
        for seg in segments:
            kept = tuple(w for w in seg.words if w.start_s < offset_s + STOPS_AFTER_S)
            if kept:
                out.append(dataclasses.replace(seg, words=kept, text="".join(w.text for w in kept)))
        return out

    passed: list[tuple[list[tuple[float, float]], list[tuple[float, float]]]] = []
    real_hear = WhisperTranscriber._hear_unheard

    def keeps_words(
        self: WhisperTranscriber,
        samples: np.ndarray,
        window: Window,
        words: list[tuple[float, float]],
        language: str,
    ) -> list[Segment]:
        before = list(words)
        again = real_hear(self, samples, window, words, language)
        passed.append((before, list(words)))
        return again

    monkeypatch.setattr(WhisperTranscriber, "_decode_again", stops_early)
    monkeypatch.setattr(WhisperTranscriber, "_hear_unheard", keeps_words)
    channels = transcriber.transcribe_heard(heard, language="en")
    assert passed and all(after == before for before, after in passed)
    words = [w for s in channels[0].segments for w in s.words]
    for window in windows[:-1]:
        # the stretch's first 3 s came back from the first decoding again; past them, only
        # the second can have heard anything
        (_, start), (_, end) = (window.source_at(t, sr=16000) for t in (5.0, 11.0))
        assert any(start / 16000 <= w.start_s <= end / 16000 for w in words), window.offset_s
    for channel, ref in zip(channels, refs, strict=True):
        words = [w for s in channel.segments for w in s.words]
        assert words == sorted(words, key=lambda w: w.start_s)
        assert wer(ref, " ".join(s.text for s in channel.segments)) < 0.2


def test_conversation_decoding_past_its_budget_keeps_the_first_batch(
    call: tuple[list[np.ndarray], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    tracks, _ = call
    monkeypatch.setattr(asr, "MIN_DECODE_BUDGET_S", 0.0)
    settings = {"batch_size": 2, "workers": 1, "windows": "conversation"}
    whole = WhisperTranscriber(AsrConfig(**settings))  # type: ignore[arg-type]
    hurried = WhisperTranscriber(AsrConfig(max_decode_s_per_audio_s=1e-6, **settings))  # type: ignore[arg-type]
    assert len(hurried.hear(tracks).conversation.windows) == 3
    stopped = hurried.transcribe_tracks(tracks, language="en")
    assert stopped[0].dropped == ("decoding stopped after 2 of 3 windows: over the 0s budget",)
    assert not stopped[1].dropped
    assert (
        0
        < len(stopped[0].segments)
        < len(whole.transcribe_tracks(tracks, language="en")[0].segments)
    )


def test_windows_another_model_encoded_are_encoded_again(
    transcriber: WhisperTranscriber,
    call: tuple[list[np.ndarray], list[str]],
    encodes: list[int],
) -> None:
    tracks, _ = call
    heard = transcriber.hear(tracks[1:])
    _, encoded = transcriber.call_language(heard, probe=0)
    elsewhere = [Encoded(b.windows, None, "another-model") for b in encoded]
    before = sum(encodes)
    channel = transcriber.transcribe_heard(heard, language="en", encoded=elsewhere)[0]
    assert sum(encodes) - before == len(heard.speech[0].windows)
    assert channel == transcriber.transcribe_heard(heard, language="en", encoded=encoded)[0]


def test_decoding_past_its_budget_stops_between_batches(
    call: tuple[list[np.ndarray], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A track that takes longer than its budget keeps the windows decoded so far and
    says where it stopped."""
    tracks, _ = call
    whole = WhisperTranscriber(AsrConfig(batch_size=2)).transcribe(tracks[0], language="en")
    monkeypatch.setattr(asr, "MIN_DECODE_BUDGET_S", 0.0)
    hurried = WhisperTranscriber(AsrConfig(batch_size=2, max_decode_s_per_audio_s=1e-6))
    assert len(hurried.hear(tracks[:1]).speech[0].windows) == 3
    stopped = hurried.transcribe(tracks[0], language="en")
    assert len(stopped.dropped) == 1 and "over the 0s budget" in stopped.dropped[0]
    assert not whole.dropped
    assert 0 < len(stopped.segments) < len(whole.segments)
    assert stopped.segments == whole.segments[: len(stopped.segments)]  # the first batch


@pytest.mark.parametrize(
    "layout",
    [{"windows": "channel"}, {"windows": "conversation", "batch_size": 2}],
    ids=["channel", "conversation"],
)
def test_a_lone_calls_tracks_take_the_idle_replica(
    layout: dict[str, object], call: tuple[list[np.ndarray], list[str]]
) -> None:
    """With two workers and one call, the call's second track (in conversation windows:
    its second batch) runs on the second replica (the second core), and comes out as it
    does on one."""
    tracks, _ = call
    alone = WhisperTranscriber(AsrConfig(workers=1, cpu_threads=1, **layout))  # type: ignore[arg-type]
    both = WhisperTranscriber(AsrConfig(workers=2, cpu_threads=1, **layout))  # type: ignore[arg-type]
    assert both.transcribe_tracks(tracks, language="en") == alone.transcribe_tracks(
        tracks, language="en"
    )
    assert both.replicas.loaded == 2 and alone.replicas.loaded == 1


@pytest.mark.parametrize("windows", ["channel", "conversation"])
def test_windows_encoded_to_their_speech_hear_what_padded_windows_hear(
    windows: str, call: tuple[list[np.ndarray], list[str]]
) -> None:
    """Features cut to a window's speech and 2 s after it (not padded to 30 s): the
    encoder reads fewer frames of a short window, and the words are those of the padded
    windows (on bench/throughput.py's calls: the same WER, greedy and beam)."""
    tracks, refs = call
    cut = WhisperTranscriber(AsrConfig(workers=1, encoder_input="speech", windows=windows))  # type: ignore[arg-type]
    padded = WhisperTranscriber(AsrConfig(workers=1, windows=windows))  # type: ignore[arg-type]
    heard = cut.hear(tracks)
    last = heard.conversation.windows[-1:] if windows == "conversation" else heard.speech[1].windows
    with cut.replicas.hold():
        decoder = cut._decoder()
        encoded = decoder.encode(last)
    frames = decoder.encoded_frames(last)
    longest = max(int(np.ceil(w.duration_s + 2)) for w in last)  # its speech and 2 s after
    assert frames == 100 * max(10, longest) < 3000
    assert encoded.output.shape[1] == frames // 2  # the encoder's positions: half the frames
    texts = _texts(cut.transcribe_heard(heard, language="en"))
    for text, ref, same in zip(
        texts, refs, _texts(padded.transcribe_tracks(tracks, language="en")), strict=True
    ):
        assert wer(ref, text) < 0.15
        assert wer(same, text) < 0.05


def test_shorter_windows_hold_at_most_their_seconds_of_speech(
    call: tuple[list[np.ndarray], list[str]],
) -> None:
    """``window_s = 15``: the VAD splits longer speech (at its pauses) and no window, of a
    track or of the conversation, holds more than 15 s; the language still reads as many
    seconds of speech (twice the windows)."""
    tracks, _ = call
    short = WhisperTranscriber(AsrConfig(workers=1, window_s=15))
    heard = short.hear(tracks)
    clips = [c for s in heard.speech for c in s.clips]
    assert max(c["end"] - c["start"] for c in clips) <= 15 * 16000
    windows = [w for s in heard.speech for w in s.windows] + list(heard.conversation.windows)
    assert max(w.duration_s for w in windows) <= 15
    assert len(heard.speech[0].windows) > len(
        WhisperTranscriber(AsrConfig()).hear(tracks).speech[0].windows
    )
    assert short._language_windows(4) == 8
