"""Role cues: what the agent or the customer of a mono call says, as data.

The cues live in ``rubrics/cues/roles.yaml`` with their examples (read by
:func:`pipeline.cues.load_cue_file`); :mod:`pipeline.diarization` scores each voice with
them (and the call's ``direction``) to decide which is the agent. The same file holds the
agent's opening and closing phrases (:func:`turn_phrases`), each distinct one heard a
point for the voice that says it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import Field

from pipeline.cues import ROLES_PATH, Examples, PhraseList, Strict, load_cue_file
from pipeline.text import CJK, bare, simplified

CUES_PATH = ROLES_PATH
Where = Literal["opening", "first_turn", "anywhere"]
Direction = Literal["inbound", "outbound", ""]

_GAP_CHARS = 12
"""At most this many characters between the parts of a "…" phrase."""
DIRECTIONS: Mapping[str, Direction] = {
    "outbound": "outbound",
    "outgoing": "outbound",
    "out": "outbound",
    "исходящий": "outbound",
    "inbound": "inbound",
    "incoming": "inbound",
    "in": "inbound",
    "входящий": "inbound",
}
"""``metadata.csv`` ``direction`` values, as contact-center systems write them."""


class RoleCue(Strict):
    """One cue: phrases (per language) that one role says, where they count, how much."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    role: Literal["agent", "customer"]
    where: Where
    weight: float = Field(gt=0)
    max_turn_words: int | None = Field(default=None, ge=1)
    phrases: dict[Literal["en", "zh", "ru"], list[str]]
    examples: Examples

    def all_phrases(self) -> list[str]:
        return [p for phrases in self.phrases.values() for p in phrases]

    def said_in(self, text: str) -> bool:
        """Whether ``text`` (any form; made bare here) holds one of the phrases."""
        plain = bare(text)
        if self.max_turn_words is not None and _too_long(plain, self.max_turn_words):
            return False
        return any(has_phrase(plain, p) for p in self.all_phrases())


def _too_long(plain: str, max_words: int) -> bool:
    """More than ``max_words`` words (Chinese: more than two characters a word)."""
    if CJK.search(plain):
        return len(plain.replace(" ", "")) > 2 * max_words
    return len(plain.split()) > max_words


class TurnPhrases(Strict):
    """Phrases an agent says opening a call (in a turn that starts in the first
    ``opening_s``) and closing it (in a turn that ends in the last ``closing_s``)."""

    opening: PhraseList
    closing: PhraseList


class _CueFile(Strict):
    schema_version: Literal[1]
    cues: list[RoleCue]
    turn_phrases: TurnPhrases


def has_phrase(text: str, phrase: str) -> bool:
    """Whole-word match of ``phrase`` in bare ``text``; CJK inside the text, spaces ignored;
    ``"A … B"``: the parts in that order, at most :data:`_GAP_CHARS` characters apart."""
    parts = [bare(p) for p in phrase.split("…")]
    if any(not p for p in parts):
        return False
    cjk = bool(CJK.search(phrase))
    haystack = text.replace(" ", "") if cjk else f" {text} "
    pieces = [p.replace(" ", "") if cjk else f" {p} " for p in parts]
    pattern = f".{{0,{_GAP_CHARS}}}".join(re.escape(p) for p in pieces)
    return re.search(pattern, haystack) is not None


def turn_says(text: str, phrases: Sequence[str]) -> bool:
    """Whether ``text`` (any form; made Simplified and bare here) holds one of ``phrases``
    as :func:`has_phrase` finds them: how opening and closing phrases are heard."""
    plain = bare(simplified(text))
    return any(has_phrase(plain, p) for p in phrases)


@dataclass(frozen=True, slots=True)
class Turn:
    """A run of one voice's words: which voice, when, and what it said (bare)."""

    voice: int
    start_s: float
    end_s: float
    text: str


@lru_cache(maxsize=4)
def _cue_file(path: str) -> _CueFile:
    return load_cue_file(path, _CueFile, what="role cues")


def load_cues(path: str = str(CUES_PATH)) -> tuple[RoleCue, ...]:
    """The role cues of a cue file, validated (``M022`` when broken, see
    :func:`pipeline.cues.load_cue_file`)."""
    return tuple(_cue_file(path).cues)


def turn_phrases(path: str = str(CUES_PATH)) -> TurnPhrases:
    """The opening and closing phrases of a cue file, validated (``M022`` when broken)."""
    return _cue_file(path).turn_phrases


def call_direction(metadata: Mapping[str, str]) -> Direction:
    """``"outbound"``, ``"inbound"`` or ``""`` (unknown) from a call's ``direction`` column."""
    return DIRECTIONS.get(metadata.get("direction", "").strip().casefold(), "")


def cue_scores(
    turns: Sequence[Turn], *, opening_s: float, cues: Sequence[RoleCue] | None = None
) -> tuple[float, float]:
    """How much the cues say each of voices 0 and 1 is the agent.

    An agent cue counts for the voice that says it, a customer cue for the other voice;
    each cue counts once per voice.
    """
    scores = [0.0, 0.0]
    for cue in load_cues() if cues is None else cues:
        said = {
            turn.voice
            for k, turn in enumerate(turns)
            if _counts_at(cue.where, k, turn, opening_s=opening_s) and cue.said_in(turn.text)
        }
        for voice in said:
            scores[voice if cue.role == "agent" else 1 - voice] += cue.weight
    return scores[0], scores[1]


def _counts_at(where: Where, index: int, turn: Turn, *, opening_s: float) -> bool:
    if where == "first_turn":
        return index == 0
    if where == "opening":
        return turn.start_s < opening_s
    return True
