"""Role cues: what the agent or the customer of a mono call says, as data.

The cues live in ``models/role_cues.yaml`` with their examples; :mod:`models.diarize`
scores each voice with them (and the call's ``direction``) to decide which is the agent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import ModelError
from pipeline.metrics import bare

CUES_PATH = Path(__file__).with_name("role_cues.yaml")
Where = Literal["opening", "first_turn", "anywhere"]
Direction = Literal["inbound", "outbound", ""]

_CJK = re.compile(r"[\u3400-\u9fff]")
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Examples(_Strict):
    match: list[str] = Field(min_length=1)
    no_match: list[str] = Field(min_length=1)


class RoleCue(_Strict):
    """One cue: phrases (per language) that one role says, where they count, how much."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    role: Literal["agent", "customer"]
    where: Where
    weight: float = Field(gt=0)
    max_turn_words: int | None = Field(default=None, ge=1)
    phrases: dict[Literal["en", "zh", "ru"], list[str]]
    examples: _Examples

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
    if _CJK.search(plain):
        return len(plain.replace(" ", "")) > 2 * max_words
    return len(plain.split()) > max_words


class _CueFile(_Strict):
    schema_version: Literal[1]
    cues: list[RoleCue]


def has_phrase(text: str, phrase: str) -> bool:
    """Whole-word match of ``phrase`` in bare ``text``; CJK inside the text, spaces ignored;
    ``"A … B"``: the parts in that order, at most :data:`_GAP_CHARS` characters apart."""
    parts = [bare(p) for p in phrase.split("…")]
    if any(not p for p in parts):
        return False
    cjk = bool(_CJK.search(phrase))
    haystack = text.replace(" ", "") if cjk else f" {text} "
    pieces = [p.replace(" ", "") if cjk else f" {p} " for p in parts]
    pattern = f".{{0,{_GAP_CHARS}}}".join(re.escape(p) for p in pieces)
    return re.search(pattern, haystack) is not None


@dataclass(frozen=True, slots=True)
class Turn:
    """A run of one voice's words: which voice, when, and what it said (bare)."""

    voice: int
    start_s: float
    end_s: float
    text: str


@lru_cache(maxsize=4)
def load_cues(path: str = str(CUES_PATH)) -> tuple[RoleCue, ...]:
    """The role cues of a cue file, validated.

    Raises
    ------
    ModelError
        ``M022`` when the file is missing, not YAML, or not a valid cue file.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return tuple(_CueFile.model_validate(raw).cues)
    except (OSError, yaml.YAMLError) as exc:
        raise ModelError(f"{path}: cannot read role cues ({exc})", code="M022") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ModelError(f"{path}: invalid role cues: {problems}", code="M022") from None


def role_cues_digest(path: str = str(CUES_PATH)) -> str:
    """A short hash of the cue file: part of the transcript cache key (roles depend on it)."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    except OSError:
        return "none"


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
