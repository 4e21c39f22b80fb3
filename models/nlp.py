"""spaCy text analysis per language: normalisation, tokens, phrase matching.

``spacy.blank`` pipelines only (tokenizer, no trained weights to download): the
rubric's phrase lists are matched with spaCy's PhraseMatcher on lower-cased tokens.
Chinese is converted to Simplified and segmented per character, so a phrase matches
wherever its characters appear in order.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from typing import Any

from pipeline.errors import ConfigError

SUPPORTED = ("en", "zh", "ru")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "ʼ": "'"})
_NOT_WORD = re.compile(r"[^\w\s']+")
_STRAY_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")
_SPACE = re.compile(r"\s+")
_ZH_DROP = re.compile(r"[\W_]+")


class SpacyTokens:
    """A spaCy ``Doc`` behind the :class:`pipeline.protocols.Tokens` protocol."""

    __slots__ = ("doc",)

    def __init__(self, doc: Any) -> None:
        self.doc = doc

    def __len__(self) -> int:
        return len(self.doc)

    @property
    def lower(self) -> list[str]:
        return [t.lower_ for t in self.doc]

    @property
    def lemma(self) -> list[str]:
        return [t.lemma_ or t.lower_ for t in self.doc]

    def char_span(self, start: int, end: int) -> tuple[int, int]:
        last = self.doc[end - 1]
        return self.doc[start].idx, last.idx + len(last.text)


class SpacyPhraseFinder:
    """spaCy's PhraseMatcher on the ``LOWER`` attribute, one key per phrase."""

    def __init__(self, nlp: Any, phrases: Sequence[str], normalize: Any) -> None:
        from spacy.matcher import PhraseMatcher

        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.keys: dict[int, int] = {}
        for index, phrase in enumerate(phrases):
            doc = nlp.make_doc(normalize(phrase))
            if len(doc) == 0:
                continue
            key = nlp.vocab.strings.add(f"phrase-{index}")
            self.keys[key] = index
            self.matcher.add(f"phrase-{index}", [doc])

    def find(self, tokens: Any) -> list[tuple[int, int, int]]:
        return [(s, e, self.keys[k]) for k, s, e in self.matcher(tokens.doc)]


class SpacyAnalyzer:
    """Normalise, tokenise and match one language with a blank spaCy pipeline."""

    def __init__(self, language: str) -> None:
        import spacy

        if language not in SUPPORTED:
            raise ConfigError(
                f"language {language!r} is not supported; earmark handles {', '.join(SUPPORTED)}",
                code="C010",
            )
        self.language = language
        self.nlp = spacy.blank(language)

    def normalize(self, text: str) -> str:
        """NFKC, case-folded, straight quotes, punctuation dropped; ё→е; Simplified Chinese."""
        text = unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES)
        if self.language == "zh":
            import zhconv

            return str(_ZH_DROP.sub("", zhconv.convert(text, "zh-cn")))
        if self.language == "ru":
            text = text.replace("ё", "е")
        text = _STRAY_APOSTROPHE.sub(" ", _NOT_WORD.sub(" ", text))
        return _SPACE.sub(" ", text).strip()

    def tokenize(self, text: str) -> SpacyTokens:
        return SpacyTokens(self.nlp.make_doc(text))

    def tokenize_many(self, texts: Sequence[str]) -> list[SpacyTokens]:
        return [SpacyTokens(doc) for doc in self.nlp.tokenizer.pipe(texts)]

    def phrase_finder(self, phrases: Sequence[str]) -> SpacyPhraseFinder:
        return SpacyPhraseFinder(self.nlp, phrases, self.normalize)


@cache
def get_analyzer(language: str) -> SpacyAnalyzer:
    """The analyzer for ``language``, built once per process."""
    return SpacyAnalyzer(language)
