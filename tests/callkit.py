"""Calls built from real speech at known times, so metrics and diarization have ground truth.

The agent is JFK (``faster_whisper_jfk.flac``), the customer an Open Speech Repository
reader (``osr_us_000_0034_8k.wav``), both under ``tests/data``. Pieces of continuous
speech are cut from them and placed at known times on two channels over line hiss, so
every silence, hold and overlap of the call is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pipeline.audio import Track, decode
from pipeline.types import Transcript, Utterance, Word

SR = 16_000
DATA = Path(__file__).resolve().parent / "data"
JFK_FILE = DATA / "faster_whisper_jfk.flac"
OSR_FILE = DATA / "osr_us_000_0034_8k.wav"
Audio = npt.NDArray[np.float32]

# Continuous speech (no pause over 0.3 s inside), as (start_s, end_s) in the source files.
JFK_PIECES = {
    "fellow": (0.32, 2.12),  # "And so my fellow Americans"           1.80 s
    "ask_not": (3.28, 4.30),  # "ask not"                             1.02 s
    "country": (5.42, 7.54),  # "what your country can do for you"    2.12 s
    "ask_what": (8.18, 11.0),  # "ask what you can do for your country" 2.82 s
}
OSR_PIECES = {
    "ring": (1.24, 3.78),  # "A gold ring will please most any girl"  2.54 s
    "shell": (10.94, 13.88),  # "A pink shell was found on the sandy beach" 2.94 s
    "grass": (17.8, 20.36),  # "The grass and bushes were wet with dew" 2.56 s
    "storm": (25.3, 28.22),  # "A severe storm tore down the barn"     2.92 s
    "mhm": (29.4, 30.0),  # a 0.6 s scrap of speech: a backchannel
}
# The words said in each piece.
AGENT_WORDS = {"fellow": 5, "ask_not": 2, "country": 7, "ask_what": 8}
CUSTOMER_WORDS = {"ring": 8, "shell": 9, "mhm": 1, "grass": 8, "storm": 7}

# The overtalk call, 64 s:   agent                      customer
#  1.00- 2.80 fellow          | 3.30- 5.84 ring
#  --- dead air 5.84-12.80 (6.96 s) ---
# 12.80-15.62 ask_what        | 14.00-16.94 shell   customer interrupts: 14.00-15.62 (1.62 s)
# 17.50-19.62 country         | 18.30-18.90 mhm     backchannel: neither overtalk nor interruption
# 21.20-23.00 fellow          | 20.20-22.76 grass   agent interrupts: 21.20-22.76 (1.56 s)
#  --- dead air 23.00-29.00 (6.00 s) ---
# 29.00-30.02 ask_not ("please hold")
#  --- hold 30.02-55.00 (24.98 s) ---
#                             | 55.00-57.92 storm
# 58.50-60.62 country
AGENT_AT = [
    ("fellow", 1.0),
    ("ask_what", 12.8),
    ("country", 17.5),
    ("fellow", 21.2),
    ("ask_not", 29.0),
    ("country", 58.5),
]
CUSTOMER_AT = [("ring", 3.3), ("shell", 14.0), ("mhm", 18.3), ("grass", 20.2), ("storm", 55.0)]
CALL_S = 64.0


@dataclass(frozen=True)
class Call:
    agent: Audio
    customer: Audio
    transcript: Transcript
    truth: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """Each party's placed speech, (start_s, end_s) in the call."""

    @property
    def tracks(self) -> list[Track]:
        return [Track("agent", 0, self.agent), Track("customer", 1, self.customer)]


def cut(x: Audio, start_s: float, end_s: float) -> Audio:
    return x[round(start_s * SR) : round(end_s * SR)].copy()


def recordings() -> tuple[Audio, Audio]:
    """The two source recordings at :data:`SR`: JFK and the OSR reader."""
    return decode(JFK_FILE).samples[0], decode(OSR_FILE).samples[0]


def cut_pieces(jfk: Audio, osr: Audio) -> dict[str, Audio]:
    """Every piece of :data:`JFK_PIECES` and :data:`OSR_PIECES`, by name."""
    pieces = {k: cut(jfk, *v) for k, v in JFK_PIECES.items()}
    pieces.update({k: cut(osr, *v) for k, v in OSR_PIECES.items()})
    return pieces


def line_noise(n: int, seed: int, level: float = 0.001) -> Audio:
    """Telephone line hiss around -60 dBFS."""
    return np.random.default_rng(seed).normal(0, level, n).astype(np.float32)


def place(track: Audio, piece: Audio, at_s: float) -> tuple[float, float]:
    """Add ``piece`` to ``track`` (in place) at ``at_s``; its (start_s, end_s) in the call."""
    start = round(at_s * SR)
    track[start : start + piece.size] += piece
    return at_s, at_s + piece.size / SR


def utterance(speaker: str, start_s: float, end_s: float, text: str, n_words: int) -> Utterance:
    """``n_words`` evenly timed words (Whisper style, leading space) over the span, named
    by letters (a digit would count as a spoken word of its own in words per minute)."""
    step = (end_s - start_s) / n_words
    words = tuple(
        Word(start_s + i * step, start_s + (i + 1) * step, f" w{_letters(i)}", 0.9)
        for i in range(n_words)
    )
    return Utterance(speaker, start_s, end_s, text, words)  # type: ignore[arg-type]


def _letters(i: int) -> str:
    out = ""
    while True:
        i, r = divmod(i, 26)
        out = chr(ord("a") + r) + out
        if not i:
            return out


def speech_call(
    voices: dict[str, Audio],
    *,
    agent_at: list[tuple[str, float]],
    customer_at: list[tuple[str, float]],
    call_s: float,
    call_id: str,
    words: dict[str, int] | None = None,
    texts: dict[str, str] | None = None,
) -> Call:
    """The pieces placed as planned on two lines of hiss (seeds 1 and 2), with a transcript
    of their words: ``words`` and ``texts`` by piece name (by default the words said and
    the piece's name)."""
    words = words or {**AGENT_WORDS, **CUSTOMER_WORDS}
    texts = texts or {}
    n = round(call_s * SR)
    tracks = {"agent": line_noise(n, 1), "customer": line_noise(n, 2)}
    truth: dict[str, list[tuple[float, float]]] = {"agent": [], "customer": []}
    utterances = []
    for party, plan in (("agent", agent_at), ("customer", customer_at)):
        for name, at_s in plan:
            start_s, end_s = place(tracks[party], voices[name], at_s)
            truth[party].append((start_s, end_s))
            text = texts.get(name, name)
            utterances.append(utterance(party, start_s, end_s, text, words[name]))
    utterances.sort(key=lambda u: u.start_s)
    transcript = Transcript(call_id, "en", call_s, tuple(utterances))
    return Call(tracks["agent"], tracks["customer"], transcript, truth)


def unlabelled(transcript: Transcript, call_id: str) -> Transcript:
    """The transcript of the mono mix: the same utterances, every one ``unknown``."""
    return Transcript(
        call_id,
        "en",
        transcript.duration_s,
        tuple(
            Utterance("unknown", u.start_s, u.end_s, u.text, u.words) for u in transcript.utterances
        ),
    )


def close(measured: float, true: float, *, abs_s: float = 0.0, rel: float = 0.0) -> bool:
    """``measured`` within ``abs_s`` seconds or a ``rel`` fraction of ``true``."""
    return abs(measured - true) <= max(abs_s, rel * true)
