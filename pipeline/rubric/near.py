"""Near matches of scripted phrases: the phrase with one word heard as another.

Telephone ASR mishears one word of a scripted phrase all the time: "date **on** birth",
"спасибо **на** ожидании", "谢谢您的**开**心等待". A phrase detector with ``tolerance: 1``
also fires where every token of a phrase but one is there, in order, and the one that
differs is a single other token standing in its place.

The limits, each against a kind of false hit:

- **a substitution only**, not a token inserted or dropped: an extra or a missing word
  changes the phrase's length and lets it slide over neighbouring talk ("thank you for
  calling" inside "thank you, I'm calling…"); ASR's mishearing of a scripted word is
  mostly one word for another.
- **never the first token**: the first token is where the phrase is anchored (and what
  the finder looks up), and a phrase with a different first word is usually another
  phrase ("**no** thanks for waiting" is not thanks).
- **never the last token** either: the last word of a scripted phrase is the one that
  says what it is about ("thank you for your **patience**" and "thank you for your
  **help**", "date of **birth**" and "date of **delivery**"), so a different last word
  is a different phrase far more often than a mishearing.
- **at least 3 tokens** (:data:`MIN_TOKENS`), so with the two ends fixed a near match
  still rests on two matching words and a one-word-off interior. Chinese is matched on
  characters (a word is one to three of them), so there a phrase needs 4 characters: on
  the bench's call sets every near match of a 3-character phrase was wrong (再见了 found
  in 再扣了, 再说了; 核实下 in 核一下), while 4 characters or more found 订单尾号 for
  订单编号 and 您好这边是 for 您好这里是.
- the word standing in is **not a negation** ("I'm **not** sorry" is not "I'm so sorry").
- a phrase that **ends in a function word** ("last four of **your**", 提供您**的**) is
  not looked for: its last token anchors nothing ("the last day of your free trial" is
  one word off "the last four of your"), see :data:`WEAK_LAST`.
- in Chinese the **last two characters** stay fixed, not only the last: a word is one to
  three characters, so the last character alone is half a word (感谢您的**关**心 is not
  感谢您的耐心).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

MIN_TOKENS = 3
"""The fewest tokens a phrase needs to be matched with one word heard differently."""
MIN_CHARACTERS = 4
"""The same where tokens are characters (Chinese)."""


WEAK_LAST: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "a",
            "an",
            "the",
            "of",
            "to",
            "for",
            "in",
            "on",
            "at",
            "by",
            "with",
            "and",
            "or",
            "my",
            "your",
            "our",
            "their",
            "his",
            "her",
            "its",
            "this",
            "that",
            "you",
            "me",
            "us",
        ]
    ),
    "ru": frozenset(
        [
            "в",
            "на",
            "за",
            "с",
            "к",
            "по",
            "о",
            "об",
            "от",
            "до",
            "у",
            "и",
            "или",
            "ваш",
            "ваша",
            "ваше",
            "ваши",
            "вашу",
            "вашего",
            "вашей",
            "вас",
            "вам",
            "мой",
            "моя",
            "мою",
            "мне",
            "меня",
        ]
    ),
    "zh": frozenset("的了吗呢吧您你我们是"),
}
"""Function words a phrase's last token must not be for a near match, per language (as
tokens and as lemmas: Russian lemmas are the nominative forms listed)."""


def min_tokens(language: str) -> int:
    """The fewest tokens a phrase of ``language`` needs for a near match."""
    return MIN_CHARACTERS if language == "zh" else MIN_TOKENS


def fixed_tail(language: str) -> int:
    """How many of a phrase's last tokens must be heard as written (Chinese: two
    characters, a word's worth)."""
    return 2 if language == "zh" else 1


@dataclass(frozen=True, slots=True)
class NearMatch:
    """A phrase found with one token heard differently.

    ``start``/``end`` are the utterance's tokens the phrase covers; ``at`` is the
    position, within the phrase, of the token that stood in, and ``heard`` that token.
    """

    start: int
    end: int
    phrase: int
    at: int
    heard: str


class NearFinder:
    """Finds phrases (as token sequences) with exactly one interior token substituted.

    Phrases shorter than ``shortest`` tokens (never under :data:`MIN_TOKENS`) or ending
    in a token of ``weak_last`` are not looked for; a token in ``refused`` never stands in
    for a phrase's token; the last ``tail`` tokens are never the one that differs.

    Examples
    --------
    >>> finder = NearFinder([("date", "of", "birth"), ("thank", "you")])
    >>> finder.find(["your", "date", "on", "birth", "please"])
    [NearMatch(start=1, end=4, phrase=0, at=1, heard='on')]
    >>> finder.find(["date", "of", "delivery"]), finder.find(["date", "of", "birth"])
    ([], [])
    >>> NearFinder([("last", "four", "of", "your")], weak_last={"your"}).find(
    ...     ["last", "day", "of", "your"])
    []
    >>> NearFinder([tuple("感谢您的耐心")], shortest=4, tail=2).find(list("感谢您的关心"))
    []
    """

    def __init__(
        self,
        phrases: Sequence[Sequence[str]],
        *,
        refused: Collection[str] = (),
        shortest: int = MIN_TOKENS,
        weak_last: Collection[str] = (),
        tail: int = 1,
    ):
        self.by_first: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        for index, phrase in enumerate(phrases):
            if len(phrase) >= max(shortest, MIN_TOKENS) and phrase[-1] not in weak_last:
                self.by_first.setdefault(phrase[0], []).append((index, tuple(phrase)))
        self.refused = frozenset(refused)
        self.tail = tail
        self.lasts = frozenset(p[-1] for ps in self.by_first.values() for _, p in ps)
        """Text with none of the phrases' last tokens (or first ones) has no near match:
        most utterances are ruled out by two set operations."""

    def find(self, seq: Sequence[str]) -> list[NearMatch]:
        """Every near match (exact matches are not near ones: the exact finder has them)."""
        if self.lasts.isdisjoint(seq) or self.by_first.keys().isdisjoint(seq):
            return []
        found: list[NearMatch] = []
        n = len(seq)
        by_first = self.by_first
        for start, token in enumerate(seq):
            candidates = by_first.get(token)
            if candidates is None:
                continue
            for index, phrase in candidates:
                end = start + len(phrase)
                if end > n or seq[end - 1] != phrase[-1]:
                    continue
                at = _one_substitution(seq, start, phrase, self.tail)
                if at is not None and seq[start + at] not in self.refused:
                    found.append(NearMatch(start, end, index, at, seq[start + at]))
        return found


def _one_substitution(
    seq: Sequence[str], start: int, phrase: tuple[str, ...], tail: int
) -> int | None:
    """The position of the only token of ``phrase`` that differs from ``seq`` at
    ``start``, neither its first nor one of its last ``tail`` (those must agree), or
    ``None`` (none, more than one, or one at the ends)."""
    at = None
    for k in range(1, len(phrase)):
        if seq[start + k] != phrase[k]:
            if at is not None or k >= len(phrase) - tail:
                return None
            at = k
    return at
