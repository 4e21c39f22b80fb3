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
from functools import cache, lru_cache
from typing import Any

import numpy as np

from pipeline.errors import ConfigError

SUPPORTED = ("en", "zh", "ru")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "ʼ": "'"})
_NOT_WORD = re.compile(r"[^\w\s']+")
_STRAY_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")
_SPACE = re.compile(r"\s+")
_ZH_DROP = re.compile(r"[\W_]+")


class SpacyTokens:
    """A spaCy ``Doc`` behind the :class:`pipeline.protocols.Tokens` protocol.

    Lemmas are computed on first use only: most items match on plain tokens.
    """

    __slots__ = ("_lemmatize", "_lemmatized", "doc")

    def __init__(self, doc: Any, lemmatize: Any = None) -> None:
        self.doc = doc
        self._lemmatize = lemmatize
        self._lemmatized = lemmatize is None

    def lemmatized(self) -> Any:
        """The doc with lemmas set (runs the language's lemmatizer once)."""
        if not self._lemmatized:
            self._lemmatize(self.doc)
            self._lemmatized = True
        return self.doc

    def __len__(self) -> int:
        return len(self.doc)

    @property
    def lower(self) -> list[str]:
        return [t.lower_ for t in self.doc]

    @property
    def lemma(self) -> list[str]:
        return [t.lemma_.lower() or t.lower_ for t in self.lemmatized()]

    def char_span(self, start: int, end: int) -> tuple[int, int]:
        last = self.doc[end - 1]
        return self.doc[start].idx, last.idx + len(last.text)


class SpacyPhraseFinder:
    """spaCy's PhraseMatcher on ``LOWER`` (or ``LEMMA``) tokens, one key per phrase."""

    def __init__(
        self, analyzer: SpacyAnalyzer, phrases: Sequence[str], *, lemma: bool = False
    ) -> None:
        from spacy.matcher import PhraseMatcher

        nlp = analyzer.nlp
        self.lemma = lemma and analyzer.lemmatizer is not None
        self.matcher = PhraseMatcher(nlp.vocab, attr="LEMMA" if self.lemma else "LOWER")
        self.keys: dict[int, int] = {}
        for index, phrase in enumerate(phrases):
            doc = nlp.make_doc(analyzer.normalize(phrase))
            if len(doc) == 0:
                continue
            if self.lemma:
                doc = analyzer.lemmatizer(doc)
            key = nlp.vocab.strings.add(f"phrase-{index}")
            self.keys[key] = index
            self.matcher.add(f"phrase-{index}", [doc])

    def find(self, tokens: Any) -> list[tuple[int, int, int]]:
        doc = tokens.lemmatized() if self.lemma else tokens.doc
        return [(s, e, self.keys[k]) for k, s, e in self.matcher(doc)]


class SpacyPatternFinder:
    """spaCy's Matcher: token patterns (``LOWER``, ``LEMMA``, ``OP``…) as data engineers write them."""

    def __init__(
        self, analyzer: SpacyAnalyzer, patterns: Sequence[Sequence[dict[str, Any]]]
    ) -> None:
        from spacy.matcher import Matcher

        self.matcher = Matcher(analyzer.nlp.vocab, validate=True)
        self.keys: dict[int, int] = {}
        self.uses_lemma = any("LEMMA" in tok for p in patterns for tok in p)
        for index, pattern in enumerate(patterns):
            key = analyzer.nlp.vocab.strings.add(f"pattern-{index}")
            self.keys[key] = index
            self.matcher.add(f"pattern-{index}", [_normalize_pattern(analyzer, pattern)])

    def find(self, tokens: Any) -> list[tuple[int, int, int]]:
        doc = tokens.lemmatized() if self.uses_lemma else tokens.doc
        return [(s, e, self.keys[k]) for k, s, e in self.matcher(doc)]


def _normalize_pattern(
    analyzer: SpacyAnalyzer, pattern: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Lower-case and normalise the string values of ``LOWER``/``LEMMA`` keys like the text."""
    out = []
    for token in pattern:
        fixed = dict(token)
        for key in ("LOWER", "LEMMA", "TEXT", "ORTH"):
            value = fixed.get(key)
            if isinstance(value, str):
                fixed[key] = analyzer.normalize(value)
            elif isinstance(value, dict) and "IN" in value:
                fixed[key] = {**value, "IN": [analyzer.normalize(v) for v in value["IN"]]}
        out.append(fixed)
    return out


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
        self._spacy_lemmatizer = _lemmatizer(self.nlp, language)
        self.lemmatizer = self._lemmatize_doc if self._spacy_lemmatizer is not None else None
        self._lemma_of_lower: dict[int, int] = {}
        # words repeat across utterances and calls: normalise each distinct one once
        self.normalize = lru_cache(maxsize=200_000)(self._normalize)  # type: ignore[method-assign]

    def normalize(self, text: str) -> str:
        """NFKC, case-folded, straight quotes, punctuation dropped; ё→е; Simplified Chinese."""
        return self._normalize(text)

    def _normalize(self, text: str) -> str:
        """NFKC, case-folded, straight quotes, punctuation dropped; ё→е; Simplified Chinese."""
        text = unicodedata.normalize("NFKC", text).casefold().translate(_QUOTES)
        if self.language == "zh":
            import zhconv

            return str(_ZH_DROP.sub("", zhconv.convert(text, "zh-cn")))
        if self.language == "ru":
            text = text.replace("ё", "е")
        text = _STRAY_APOSTROPHE.sub(" ", _NOT_WORD.sub(" ", text))
        return _SPACE.sub(" ", text).strip()

    def _lemmatize_doc(self, doc: Any) -> Any:
        """Set lower-cased lemmas from a per-word cache: each distinct word is looked up once
        (through spaCy's lemmatizer), then whole docs are filled as arrays, not Token objects."""
        from spacy.attrs import LEMMA, LOWER

        lowers = doc.to_array([LOWER])
        cache = self._lemma_of_lower
        strings = self.nlp.vocab.strings
        for h in set(lowers.tolist()) - cache.keys():
            word = strings[h]
            lemma = self._spacy_lemmatizer(self.nlp.make_doc(word))[0].lemma_.lower() or word
            cache[h] = strings.add(lemma)
        lemmas = np.fromiter(
            (cache[h] for h in lowers.tolist()), dtype=lowers.dtype, count=len(lowers)
        )
        doc.from_array([LEMMA], lemmas.reshape(-1, 1))
        return doc

    def tokenize(self, text: str) -> SpacyTokens:
        return SpacyTokens(self.nlp.make_doc(text), self.lemmatizer)

    def tokenize_many(self, texts: Sequence[str]) -> list[SpacyTokens]:
        return [SpacyTokens(doc, self.lemmatizer) for doc in self.nlp.tokenizer.pipe(texts)]

    def phrase_finder(self, phrases: Sequence[str], *, lemma: bool = False) -> SpacyPhraseFinder:
        return SpacyPhraseFinder(self, phrases, lemma=lemma)

    def pattern_finder(self, patterns: Sequence[Sequence[dict[str, Any]]]) -> SpacyPatternFinder:
        return SpacyPatternFinder(self, patterns)


def _lemmatizer(nlp: Any, language: str) -> Any:
    """English: lookup tables (spacy-lookups-data); Russian: pymorphy3; Chinese: none."""
    if language == "zh":
        return None
    mode = "pymorphy3" if language == "ru" else "lookup"
    lemmatizer = nlp.add_pipe("lemmatizer", config={"mode": mode})
    nlp.initialize()
    return lemmatizer


@cache
def get_analyzer(language: str) -> SpacyAnalyzer:
    """The analyzer for ``language``, built once per process."""
    return SpacyAnalyzer(language)
