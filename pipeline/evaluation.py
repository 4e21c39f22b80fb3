"""Word error rate: how the benchmarks and the ASR tests judge a transcript.

The edit distance is jiwer's (rapidfuzz underneath); what counts as a word is ours:
lower-cased, punctuation stripped, apostrophes kept, and each Chinese character a word
of its own (Chinese is written without spaces, so it is scored by characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jiwer

_TOKEN = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)


def words(text: str) -> list[str]:
    """Lower-cased words without punctuation (apostrophes kept: "don't" is one word);
    a Chinese character is a word.

    >>> words("Don't worry, 我们的订单!")
    ["don't", 'worry', '我', '们', '的', '订', '单']
    """
    return _TOKEN.findall(re.sub(r"[^\w\s']", " ", text.lower()))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / words in the reference; an empty
    reference counts every hypothesis word as an error."""
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return float(len(hyp))
    if not hyp:
        return 1.0
    return float(jiwer.wer(" ".join(ref), " ".join(hyp)))


@dataclass(frozen=True, slots=True)
class WordErrors:
    """A hypothesis's errors against its reference, by kind, and the reference's words."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    """Substitutions, deletions and insertions (the words of :func:`words`).

    >>> word_errors("the card is ready", "the cart is")
    WordErrors(substitutions=1, deletions=1, insertions=0, reference_words=4)
    """
    ref, hyp = words(reference), words(hypothesis)
    if not ref or not hyp:
        return WordErrors(0, len(ref), len(hyp), len(ref))
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return WordErrors(out.substitutions, out.deletions, out.insertions, len(ref))
