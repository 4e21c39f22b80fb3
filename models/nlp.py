"""spaCy text analysis per language: normalisation, tokens, phrase matching.

``spacy.blank`` pipelines only (tokenizer, no trained weights to download): the
rubric's phrase lists are matched on lower-cased tokens (or lemmas), exactly as
spaCy's PhraseMatcher matches them. Chinese is converted to Simplified and
segmented per character, so a phrase matches wherever its characters appear in order.

Call-center speech repeats a small vocabulary, so the work is done once per distinct
piece of text, not once per utterance: a normalised text is cut where the tokenizer
always cuts (spaces; every character in Chinese), each distinct piece is tokenised
once per process, and an utterance's tokens are its pieces' tokens put together.
Phrases are matched on those strings with a trie; a spaCy ``Doc`` is only made for
a Matcher pattern (``pattern.v1``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from types import ModuleType
from typing import Any

import numpy as np

from pipeline import errors
from pipeline.errors import ConfigError
from pipeline.text import normalize

SUPPORTED = ("en", "zh", "ru")
CACHE_SIZE = 200_000
"""Distinct words (and pieces) remembered per language: a call center's vocabulary fits."""
_WORD = re.compile(r"[\w']+")
"""What :meth:`SpacyAnalyzer.normalize` leaves between spaces in English and Russian."""
_CHARACTER = re.compile(r"\S")

Piece = tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[int, int], ...]]
"""One piece of text tokenised: each token's lower-cased form, lemma, and characters in the piece."""


class SpacyTokens:
    """One normalised text as the language's spaCy tokenizer splits it (the
    :class:`pipeline.protocols.Tokens` protocol), with each token's lemma.

    Put together from the analyzer's cached pieces of the text (:meth:`of_pieces`), or
    read from a ``Doc`` of the whole text (:meth:`of_doc`). Character spans are worked
    out when a match asks for them; the ``Doc`` is made only for a spaCy Matcher pattern.
    """

    __slots__ = ("_analyzer", "_doc", "_lemmatized", "_pieces", "_spans", "lemma", "lower", "text")

    def __init__(
        self,
        analyzer: SpacyAnalyzer,
        text: str,
        lower: tuple[str, ...],
        lemma: tuple[str, ...],
        pieces: tuple[Sequence[str], Sequence[Piece], int] | None = None,
        doc: Any = None,
    ) -> None:
        self._analyzer = analyzer
        self.text = text
        self.lower = lower
        self.lemma = lemma
        self._pieces = pieces
        self._doc = doc
        self._spans: list[tuple[int, int]] | None = None
        self._lemmatized = False

    @classmethod
    def of_pieces(
        cls,
        analyzer: SpacyAnalyzer,
        text: str,
        pieces: Sequence[str],
        tokenized: Sequence[Piece],
        step: int,
    ) -> SpacyTokens:
        """Tokens of ``text`` cut into ``pieces`` (``step`` characters apart), each
        tokenised once per process."""
        lower: list[str] = []
        lemma: list[str] = []
        for piece_lower, piece_lemma, _ in tokenized:
            lower += piece_lower
            lemma += piece_lemma
        return cls(analyzer, text, tuple(lower), tuple(lemma), (pieces, tokenized, step))

    @classmethod
    def of_doc(cls, analyzer: SpacyAnalyzer, doc: Any) -> SpacyTokens:
        """Tokens of a ``Doc`` the tokenizer made of the whole text."""
        lower = tuple(t.lower_ for t in doc)
        return cls(analyzer, doc.text, lower, tuple(map(analyzer.lemma_of, lower)), None, doc)

    def __len__(self) -> int:
        return len(self.lower)

    @property
    def doc(self) -> Any:
        """The spaCy ``Doc`` of the text, made on first use."""
        if self._doc is None:
            self._doc = self._analyzer.nlp.make_doc(self.text)
        return self._doc

    def lemmatized(self) -> Any:
        """The ``Doc`` with lemmas set, for spaCy's matchers."""
        if not self._lemmatized and self._analyzer.lemmatizer is not None:
            self._analyzer.lemmatizer(self.doc)
        self._lemmatized = True
        return self.doc

    def char_span(self, start: int, end: int) -> tuple[int, int]:
        spans = self._spans if self._spans is not None else self._token_spans()
        return spans[start][0], spans[end - 1][1]

    def _token_spans(self) -> list[tuple[int, int]]:
        if self._pieces is None:
            self._spans = [(t.idx, t.idx + len(t.text)) for t in self.doc]
            return self._spans
        texts, tokenized, step = self._pieces
        spans: list[tuple[int, int]] = []
        at = 0
        for text, (_, _, piece_spans) in zip(texts, tokenized, strict=True):
            spans += [(at + s, at + e) for s, e in piece_spans]
            at += len(text) + step
        self._spans = spans
        return spans


class SpacyPhraseFinder:
    """Any of a list of phrases, on ``LOWER`` (or ``LEMMA``) tokens: spaCy's PhraseMatcher.

    The phrases go into spaCy's PhraseMatcher (which checks them), and into a trie of
    token strings that finds the same matches in the same order without making a
    ``Doc``: from each token on, every phrase that ends there, shortest first.
    """

    def __init__(
        self, analyzer: SpacyAnalyzer, phrases: Sequence[str], *, lemma: bool = False
    ) -> None:
        from spacy.matcher import PhraseMatcher

        nlp = analyzer.nlp
        self.lemma = lemma and analyzer.lemmatizer is not None
        self.matcher = PhraseMatcher(nlp.vocab, attr="LEMMA" if self.lemma else "LOWER")
        self.keys: dict[int, int] = {}
        docs = []
        for index, phrase in enumerate(phrases):
            doc = nlp.make_doc(analyzer.normalize(phrase))
            if len(doc) == 0:
                continue
            if self.lemma:
                doc = analyzer.lemmatize_doc(doc)
            key = nlp.vocab.strings.add(f"phrase-{index}")
            self.keys[key] = index
            self.matcher.add(f"phrase-{index}", [doc])
            docs.append(doc)
        self.trie: _Node = ({}, [])
        self.anchors: set[str] = set()
        """One token of each phrase, its longest (long words are the rare ones): text
        with none of them matches nothing, which rules most utterances out at once."""
        for doc in docs:
            tokens = SpacyTokens.of_doc(analyzer, doc)
            # phrases with the same tokens come out in the order spaCy's matcher gives them
            same = [self.keys[k] for k, s, e in self.matcher(doc) if (s, e) == (0, len(doc))]
            self._add(tokens.lemma if self.lemma else tokens.lower, same)

    def _add(self, tokens: Sequence[str], indices: list[int]) -> None:
        node = self.trie
        for token in tokens:
            node = node[0].setdefault(token, ({}, []))
        node[1][:] = indices
        self.anchors.add(max(tokens, key=len))

    def find(self, tokens: Any) -> list[tuple[int, int, int]]:
        """``(start_token, end_token, phrase_index)`` for every match."""
        seq = tokens.lemma if self.lemma else tokens.lower
        if self.anchors.isdisjoint(seq):
            return []
        first = self.trie[0]
        found: list[tuple[int, int, int]] = []
        n = len(seq)
        for start, token in enumerate(seq):
            node = first.get(token)
            end = start + 1
            while node is not None:
                if node[1]:
                    found.extend([(start, end, index) for index in node[1]])
                if end == n:
                    break
                node = node[0].get(seq[end])
                end += 1
        return found


_Node = tuple[dict[str, Any], list[int]]
"""A trie node: the next tokens' nodes, and the phrases that end here."""


class SpacyPatternFinder:
    """spaCy's Matcher: token patterns (``LOWER``, ``LEMMA``, ``OP``…) as data engineers write them."""

    def __init__(
        self, analyzer: SpacyAnalyzer, patterns: Sequence[Sequence[dict[str, Any]]]
    ) -> None:
        from spacy.matcher import Matcher

        self.matcher = Matcher(analyzer.nlp.vocab, validate=True)
        self.keys: dict[int, int] = {}
        _check_attributes(analyzer, patterns)
        self.uses_lemma = any("LEMMA" in tok for p in patterns for tok in p)
        for index, pattern in enumerate(patterns):
            key = analyzer.nlp.vocab.strings.add(f"pattern-{index}")
            self.keys[key] = index
            try:
                self.matcher.add(f"pattern-{index}", [_normalize_pattern(analyzer, pattern)])
            except ValueError as exc:  # spaCy's pattern validation: what and where
                problem = f"params.patterns[{index}]: not a spaCy Matcher pattern: {exc}"
                raise errors.DETECTOR_LANGUAGE(problem=problem) from None

    def find(self, tokens: Any) -> list[tuple[int, int, int]]:
        doc = tokens.lemmatized() if self.uses_lemma else tokens.doc
        try:
            return [(s, e, self.keys[k]) for k, s, e in self.matcher(doc)]
        except ValueError as exc:  # [E155] an attribute the text has none of: never a crash
            raise errors.DETECTOR_LANGUAGE(problem=f"pattern.v1: {exc}") from None


UNANNOTATED = ("POS", "TAG", "MORPH", "DEP", "ENT_TYPE", "ENT_IOB", "HEAD")
"""Token attributes earmark's blank pipelines never set (no tagger, parser or entity
recogniser): spaCy's Matcher refuses a pattern on them when it runs ([E155])."""


def _check_attributes(analyzer: SpacyAnalyzer, patterns: Sequence[Sequence[Any]]) -> None:
    """Refuse, when the rubric is compiled, a pattern keyed on an attribute the text will
    not have: ``LEMMA`` in a language without a lemmatizer (Chinese), or a tag."""
    for index, pattern in enumerate(patterns):
        for position, token in enumerate(pattern):
            keys = {str(k).upper() for k in token} if isinstance(token, dict) else set()
            where = f"params.patterns[{index}][{position}]"
            if "LEMMA" in keys and not analyzer.has_lemmas:
                raise errors.DETECTOR_LANGUAGE(
                    problem=f"{where}: LEMMA, and {analyzer.language!r} text has no lemmas "
                    "(Chinese words do not inflect); use LOWER"
                )
            tags = sorted(keys.intersection(UNANNOTATED))
            if tags:
                raise errors.DETECTOR_LANGUAGE(
                    problem=f"{where}: {', '.join(tags)}, which earmark's text analysis does "
                    "not produce (no tagger, parser or entity recogniser); use LOWER, LEMMA "
                    "(en, ru), IS_DIGIT, LENGTH, OP or IN"
                )


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


@cache
def import_spacy() -> Any:
    """spaCy, imported without the parts a blank pipeline never uses.

    thinc imports torch when it is installed (the optional semantic and voice extras
    bring it), which cost 3.6 of spaCy's 5.7 s import on two busy cores, for blank
    pipelines that never use it: while spaCy is imported, ``torch`` reads as missing;
    afterwards it imports as usual (``semantic.v1`` imports it itself).

    spaCy's package imports its command-line app only to offer ``spacy.info`` (typer,
    weasel, httpx, requests: about 0.25 s of CPU, a tenth of ``earmark rescore``): a
    stand-in module is imported instead, whose ``info`` imports the real one when called;
    afterwards ``spacy.cli`` imports as usual.
    """
    stand_ins: dict[str, ModuleType | None] = dict(_cli_stand_ins())
    if "torch" not in sys.modules:  # else already paid for
        stand_ins["torch"] = None  # import torch -> ImportError
    with _modules_standing_in(stand_ins):
        import spacy
    return spacy


def _cli_stand_ins() -> dict[str, ModuleType]:
    cli = ModuleType("spacy.cli", "A stand-in while spaCy is imported (see import_spacy).")
    info = ModuleType("spacy.cli.info", cli.__doc__)

    def spacy_info(*args: Any, **kwargs: Any) -> Any:
        from spacy.cli.info import info as real_info

        return real_info(*args, **kwargs)

    info.info = spacy_info  # type: ignore[attr-defined]
    cli.info = info  # type: ignore[attr-defined]
    return {"spacy.cli": cli, "spacy.cli.info": info}


@contextmanager
def _modules_standing_in(modules: dict[str, ModuleType | None]) -> Iterator[None]:
    """``sys.modules`` entries set to ``modules`` (``None``: the import fails) for the
    block, and as they were after it."""
    saved = {name: sys.modules[name] for name in modules if name in sys.modules}
    sys.modules.update(modules)  # type: ignore[arg-type]
    try:
        yield
    finally:
        for name in modules:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


class SpacyAnalyzer:
    """Normalise, tokenise and match one language with a blank spaCy pipeline."""

    def __init__(self, language: str) -> None:
        spacy = import_spacy()
        if language not in SUPPORTED:
            raise ConfigError(
                f"language {language!r} is not supported; earmark handles {', '.join(SUPPORTED)}",
                code="C010",
            )
        self.language = language
        self.nlp = spacy.blank(language)
        self._spacy_lemmatizer = _lemmatizer(self.nlp, language)
        self.lemmatizer = self.lemmatize_doc if self._spacy_lemmatizer is not None else None
        self.has_lemmas = self.lemmatizer is not None
        self._lemmas: dict[str, str] = {}
        self._cut = _cut_rule(self.nlp)
        # words repeat across utterances and calls: normalise and tokenise each distinct one once
        self.normalize = lru_cache(maxsize=CACHE_SIZE)(self._normalize)  # type: ignore[method-assign]
        self.tokenize_piece = lru_cache(maxsize=CACHE_SIZE)(self._tokenize_piece)

    def normalize(self, text: str) -> str:
        """NFKC, case-folded, straight quotes, punctuation dropped; ё→е; Simplified Chinese."""
        return self._normalize(text)

    def _normalize(self, text: str) -> str:
        """NFKC, case-folded, straight quotes, punctuation dropped; ё→е; Simplified Chinese."""
        return normalize(text, language=self.language)

    def lemma_of(self, lower: str) -> str:
        """The lower-cased lemma of a lower-cased token (itself without a lemmatizer)."""
        lemma = self._lemmas.get(lower)
        if lemma is None:
            if self._spacy_lemmatizer is None:
                lemma = lower
            else:
                doc = self._spacy_lemmatizer(self.nlp.make_doc(lower))
                lemma = doc[0].lemma_.lower() or lower
            self._lemmas[lower] = lemma
        return lemma

    def lemmatize_doc(self, doc: Any) -> Any:
        """Set a ``Doc``'s lemmas from :meth:`lemma_of`: each distinct word is looked up
        once (through spaCy's lemmatizer), then whole docs are filled as arrays."""
        from spacy.attrs import LEMMA

        strings = self.nlp.vocab.strings
        lemmas = np.fromiter(
            (strings.add(self.lemma_of(t.lower_)) for t in doc), dtype=np.uint64, count=len(doc)
        )
        doc.from_array([LEMMA], lemmas.reshape(-1, 1))
        return doc

    def tokenize(self, text: str) -> SpacyTokens:
        """Tokenise already normalised text."""
        if self._cut is not None:
            pieces = self._cut.pieces(text)
            tokenized = list(map(self.tokenize_piece, pieces))
            if None not in tokenized:
                return SpacyTokens.of_pieces(self, text, pieces, tokenized, self._cut.step)
        return SpacyTokens.of_doc(self, self.nlp.make_doc(text))

    def tokenize_many(self, texts: Sequence[str]) -> list[SpacyTokens]:
        """Tokenise many normalised texts."""
        return [self.tokenize(text) for text in texts]

    def _tokenize_piece(self, piece: str) -> Piece | None:
        """A piece's tokens, or ``None`` when it cannot be tokenised apart from its text."""
        if self._cut is None or not self._cut.piece.fullmatch(piece):
            return None
        doc = self.nlp.make_doc(piece)
        lowers = tuple(t.lower_ for t in doc)
        spans = tuple((t.idx, t.idx + len(t.text)) for t in doc)
        return lowers, tuple(map(self.lemma_of, lowers)), spans

    def phrase_finder(self, phrases: Sequence[str], *, lemma: bool = False) -> SpacyPhraseFinder:
        return SpacyPhraseFinder(self, phrases, lemma=lemma)

    def pattern_finder(self, patterns: Sequence[Sequence[dict[str, Any]]]) -> SpacyPatternFinder:
        return SpacyPatternFinder(self, patterns)


@dataclass(frozen=True, slots=True)
class _Cut:
    """Where texts may be cut into pieces that the tokenizer splits alone as it splits
    them in the whole text: at spaces (``step`` 1), or between characters (``step`` 0).
    A piece that does not look like ``piece`` sends its text to the tokenizer whole."""

    step: int
    piece: re.Pattern[str]

    def pieces(self, text: str) -> list[str]:
        return text.split(" ") if self.step else list(text)


def _cut_rule(nlp: Any) -> _Cut | None:
    """How this language's tokenizer lets texts be cut into cacheable pieces.

    spaCy's rule-based tokenizer splits at spaces first and handles each stretch on its
    own, unless a special case spans a space (Russian has some, all with punctuation
    that normalisation removes): normalised words, one space apart, can be cut there.
    Chinese character segmentation makes every character a token. Any other segmenter
    (jieba) sees context: ``None``, tokenise whole texts.
    """
    from spacy.tokenizer import Tokenizer

    tokenizer = nlp.tokenizer
    if isinstance(tokenizer, Tokenizer):
        spanning = [k.split(" ") for k in tokenizer.rules or {} if " " in k.strip()]
        if not any(all(_WORD.fullmatch(w) for w in words) for words in spanning):
            return _Cut(step=1, piece=_WORD)
    elif getattr(tokenizer, "segmenter", None) == "char":
        return _Cut(step=0, piece=_CHARACTER)
    return None


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
