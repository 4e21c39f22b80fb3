"""From per-channel ASR segments to one time-ordered call transcript.

Whisper invents text on silence, music and line noise ("Thank you for watching",
subtitle credits). :func:`drop_phantoms` removes segments that Whisper's own signals
mark as non-speech and the phantom phrases it is known to produce, before any rubric
can match them.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pipeline.text import bare, simplified
from pipeline.types import (
    SPEAKERS,
    ChannelTranscript,
    Segment,
    Speaker,
    Transcript,
    Utterance,
    Word,
)

NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
MAX_COMPRESSION_RATIO = 2.4
MAX_WORDS_PER_S = 7.0
PAUSE_SPLIT_S = 1.0
"""A pause this long inside an ASR segment starts a new utterance."""
"""Faster than anyone speaks: a segment above it is a decoding loop, not speech."""

PHANTOM_PHRASES = (
    # English
    "thank you for watching",
    "thanks for watching",
    "please subscribe",
    "like and subscribe",
    "subtitles by the amara.org community",
    "transcription by castingwords",
    "www.mooji.org",
    # Chinese
    "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
    "字幕由amara.org社区提供",
    "谢谢观看",
    "感谢观看",
    "请订阅",
    # Russian
    "продолжение следует",
    "субтитры сделал",
    "субтитры создавал",
    "редактор субтитров",
    "спасибо за просмотр",
    "подписывайтесь на канал",
)
_PHANTOMS = tuple(bare(p) for p in PHANTOM_PHRASES)


def phantom_reason(segment: Segment) -> str | None:
    """Why ``segment`` is not real speech, or ``None`` when it looks real."""
    text = bare(segment.text)
    if not text:
        return "empty text"
    if segment.no_speech_prob > NO_SPEECH_PROB and segment.avg_logprob < LOW_LOGPROB:
        return (
            f"non-speech (no_speech_prob {segment.no_speech_prob:.2f}, "
            f"avg_logprob {segment.avg_logprob:.2f})"
        )
    if segment.compression_ratio > MAX_COMPRESSION_RATIO:
        return f"repetitive text (compression ratio {segment.compression_ratio:.1f})"
    duration_s = max(segment.end_s - segment.start_s, 0.1)
    n_words = len(segment.words) or len(text.split())
    if n_words / duration_s > MAX_WORDS_PER_S and n_words > 4:
        return f"{n_words} words in {duration_s:.1f} s is not speech"
    for phantom in _PHANTOMS:
        if phantom in text and len(text) <= 2 * len(phantom) + 8:
            return f"known phantom phrase: {segment.text.strip()!r}"
    return None


def drop_phantoms(segments: Iterable[Segment]) -> tuple[list[Segment], list[str]]:
    """Split segments into the ones kept and the reasons for each one dropped."""
    kept: list[Segment] = []
    dropped: list[str] = []
    for segment in segments:
        reason = phantom_reason(segment)
        if reason is None:
            kept.append(segment)
        else:
            dropped.append(f"{segment.start_s:.1f}-{segment.end_s:.1f}s: {reason}")
    return kept, dropped


def merge_channels(
    call_id: str,
    channels: Sequence[tuple[Speaker, int, ChannelTranscript]],
    *,
    duration_s: float,
    language: str,
    pause_s: float = PAUSE_SPLIT_S,
) -> Transcript:
    """Merge each party's segments into one list of utterances ordered by start time.

    A segment is split where its speaker pauses for ``pause_s`` or more (batched ASR
    returns up to 30 s per segment), so utterances follow the turns of the call.

    Parameters
    ----------
    call_id
        The call the transcript belongs to.
    channels
        ``(speaker, channel index, transcript)`` per track.
    duration_s
        The recording's duration.
    language
        The language the call was transcribed in.
    """
    utterances = [
        Utterance(
            speaker=speaker,
            start_s=round(start_s, 3),
            end_s=round(end_s, 3),
            text=text,
            words=words,
            confidence=confidence,
            channel=channel,
        )
        for speaker, channel, transcript in channels
        for seg in transcript.segments
        for start_s, end_s, text, words, confidence in _split_at_pauses(seg, pause_s=pause_s)
    ]
    utterances.sort(key=lambda u: (u.start_s, u.channel))
    return Transcript(
        call_id=call_id, language=language, duration_s=duration_s, utterances=tuple(utterances)
    )


def _split_at_pauses(
    seg: Segment, *, pause_s: float
) -> list[tuple[float, float, str, tuple[Word, ...], float]]:
    """``(start_s, end_s, text, words, confidence)`` per stretch of speech without a long pause."""
    if not seg.words:
        return [(seg.start_s, seg.end_s, seg.text.strip(), (), _confidence(seg))]
    pieces: list[list[Word]] = [[seg.words[0]]]
    for prev, word in itertools.pairwise(seg.words):
        if word.start_s - prev.end_s >= pause_s:
            pieces.append([])
        pieces[-1].append(word)
    if len(pieces) == 1:
        return [(seg.start_s, seg.end_s, seg.text.strip(), seg.words, _confidence(seg))]
    return [
        (
            p[0].start_s,
            p[-1].end_s,
            "".join(w.text for w in p).strip(),
            tuple(p),
            round(sum(w.probability for w in p) / len(p), 4),
        )
        for p in pieces
    ]


def _confidence(segment: Segment) -> float:
    if segment.words:
        return round(sum(w.probability for w in segment.words) / len(segment.words), 4)
    return round(min(1.0, max(0.0, 1.0 + segment.avg_logprob)), 4)


def utterance_to_dict(u: Utterance) -> dict[str, object]:
    return {
        "speaker": u.speaker,
        "channel": u.channel,
        "start_s": u.start_s,
        "end_s": u.end_s,
        "text": u.text,
        "confidence": u.confidence,
        "words": [[w.start_s, w.end_s, w.text, w.probability] for w in u.words],
    }


def utterance_from_dict(d: dict[str, object]) -> Utterance:
    """Inverse of :func:`utterance_to_dict`; ``words`` may be absent (external transcripts)."""
    words = tuple(Word(float(s), float(e), str(t), float(p)) for s, e, t, p in d.get("words") or ())  # type: ignore[attr-defined]
    return Utterance(
        speaker=parse_speaker(d.get("speaker", "unknown")),
        start_s=float(d["start_s"]),  # type: ignore[arg-type]
        end_s=float(d["end_s"]),  # type: ignore[arg-type]
        text=str(d.get("text", "")),
        words=words,
        confidence=float(d.get("confidence", 1.0)),  # type: ignore[arg-type]
        channel=int(d.get("channel", 0)),  # type: ignore[call-overload]
    )


def words_from_columns(
    start_s: Sequence[float],
    end_s: Sequence[float],
    text: Sequence[str],
    probability: Sequence[float],
) -> list[Word]:
    """:class:`Word` records from the parallel columns a stored transcript keeps.

    The records equal ``Word(start_s, end_s, text, probability)``, made two to three
    times faster: a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, and re-scoring rebuilds every stored word of a partition,
    so the slots are filled directly, as unpickling does. ``Word`` has no
    ``__post_init__`` for this to skip (checked where the setters are taken).
    """
    return list(map(_word, start_s, end_s, text, probability))


def _word_setters() -> tuple[Callable[[Word, Any], None], ...]:
    """The setters of ``Word``'s slots, in field order."""
    if hasattr(Word, "__post_init__"):
        raise TypeError("words_from_columns would skip Word.__post_init__")
    return tuple(getattr(Word, f.name).__set__ for f in dataclasses.fields(Word))


_SET_START, _SET_END, _SET_TEXT, _SET_PROBABILITY = _word_setters()


def _word(start_s: float, end_s: float, text: str, probability: float) -> Word:
    word = object.__new__(Word)
    _SET_START(word, start_s)
    _SET_END(word, end_s)
    _SET_TEXT(word, text)
    _SET_PROBABILITY(word, probability)
    return word


def parse_speaker(value: object) -> Speaker:
    """A stored or external speaker label as a :data:`pipeline.types.Speaker`.

    Raises
    ------
    ValueError
        For anything but ``agent``, ``customer`` or ``unknown``.
    """
    speaker = str(value)
    if speaker not in SPEAKERS:
        raise ValueError(f"speaker must be agent, customer or unknown, got {speaker!r}")
    return speaker


def to_simplified(transcript: Transcript) -> Transcript:
    """Chinese in Simplified characters (Whisper often writes Traditional), words included."""
    utterances = tuple(
        dataclasses.replace(
            u,
            text=simplified(u.text),
            words=tuple(dataclasses.replace(w, text=simplified(w.text)) for w in u.words),
        )
        for u in transcript.utterances
    )
    return dataclasses.replace(transcript, utterances=utterances)


def transcript_from_json(obj: dict[str, object]) -> Transcript:
    """A transcript from another recorder or ASR (``earmark rubric apply`` input).

    Expects ``call_id``, ``language``, ``duration_s`` and ``utterances`` (each with
    ``speaker``, ``start_s``, ``end_s``, ``text``; ``words`` optional).

    Raises
    ------
    ValueError
        Naming the missing or wrong field.
    """
    for key in ("call_id", "language", "duration_s", "utterances"):
        if key not in obj:
            raise ValueError(f"missing field {key!r}")
    utterances = obj["utterances"]
    if not isinstance(utterances, list):
        raise ValueError(f"'utterances' must be a list, got {type(utterances).__name__}")
    parsed = []
    for i, u in enumerate(utterances):
        if not isinstance(u, dict):
            raise ValueError(f"utterances[{i}] must be an object")
        missing = [k for k in ("speaker", "start_s", "end_s", "text") if k not in u]
        if missing:
            raise ValueError(f"utterances[{i}] is missing {', '.join(missing)}")
        try:
            parsed.append(utterance_from_dict(u))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"utterances[{i}]: {exc}") from None
    try:
        duration_s = float(obj["duration_s"])  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"'duration_s' must be a number, got {obj['duration_s']!r}") from None
    parsed.sort(key=lambda u: u.start_s)
    return Transcript(
        call_id=str(obj["call_id"]),
        language=str(obj["language"]),
        duration_s=duration_s,
        utterances=tuple(parsed),
    )
