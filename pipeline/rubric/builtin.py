"""The built-in detectors (registered in :mod:`pipeline.rubric.registrations`).

=============== ======================================================================
``phrase.v1``   any of a list of phrases, on lower-cased tokens (Chinese: characters)
``lemma.v1``    phrases matched on lemmas: "apologise" finds "apologised", "apologising";
                "понимать" finds "понимаю", "понимаем"
``pattern.v1``  spaCy Matcher token patterns (``LOWER``, ``LEMMA``, ``OP``, ``IN``…)
``regex.v1``    regular expressions over the normalised text
``proximity.v1`` A within N tokens of B, in one speaker's talk or across speakers
``sequence.v1`` A, then B within a time limit (hold request → thanks for waiting)
``metric.v1``   a threshold on a number the run measured (``longest_dead_air_s > 10``)
=============== ======================================================================

Text detectors take ``negation: true`` to drop a match preceded (within
``negation_window`` tokens) by a negation cue ("I'm **not** sorry", "**не** могу
помочь", "**不**理解"); the cues have per-language defaults and can be replaced.
``phrase.v1`` and ``lemma.v1`` take ``tolerance: 1`` to also find a phrase of 3 or more
tokens (Chinese: 4 characters) with one interior word heard as another ("date **on** birth"; see
:mod:`pipeline.rubric.near`).

All of them are ``fork_safe``: plain Python and spaCy data, which a forked re-scoring
worker can use as it inherits them.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, StrictInt, field_validator

from pipeline import errors
from pipeline.metric_rows import measured
from pipeline.protocols import PhraseFinder, TextAnalyzer, Tokens
from pipeline.rubric.detectors import CallText, DetectorParams, Hit, hit_span
from pipeline.rubric.near import (
    MIN_TOKENS,
    WEAK_LAST,
    NearFinder,
    NearMatch,
    fixed_tail,
    min_tokens,
)

NEGATION_CUES = {
    "en": ("not", "n't", "never", "neither", "nor", "cannot"),
    "ru": ("не", "нет", "ни", "никогда", "нельзя"),
    "zh": ("不", "没", "别", "未", "无法"),
}
NOT_NEGATIONS = {
    "zh": ("不便(?!宜)", "不好意思", "不客气", "不错", "不少", "不断", "不久", "不仅"),
}
"""Words that hold a negation character without negating ("带来不便", "不好意思"), as
regular expressions (不便宜 "not cheap" does negate): a negation cue found inside one of
them does not count (Chinese, where cues are matched inside words)."""


def negation_cues(configured: Sequence[str] | None, analyzer: TextAnalyzer) -> tuple[str, ...]:
    """A detector's negation cues, normalised: its ``negation_cues`` when it sets them, else
    its language's (:data:`NEGATION_CUES`)."""
    cues = configured if configured is not None else NEGATION_CUES.get(analyzer.language, ())
    return tuple(analyzer.normalize(c) for c in cues)


def require_lemmas(analyzer: TextAnalyzer, what: str) -> None:
    """``R017`` when a detector asks for lemmas in a language whose text has none
    (Chinese): it would silently match as written."""
    if not analyzer.has_lemmas:
        raise errors.DETECTOR_LANGUAGE(
            problem=f"{what} matches on lemmas, and {analyzer.language!r} text has none "
            "(Chinese words do not inflect); use phrase.v1 (or lemma: false)"
        )


class TextParams(DetectorParams):
    negation: bool = False
    negation_cues: list[str] | None = None
    negation_window: int = Field(default=3, ge=1, le=10)


class PhraseParams(TextParams):
    phrases: list[str] = Field(min_length=1)
    tolerance: StrictInt = 0
    """0: phrases match exactly; 1: a phrase of at least 3 tokens also matches with one
    interior token heard as another (:mod:`pipeline.rubric.near`)."""

    @field_validator("tolerance")
    @classmethod
    def _zero_or_one(cls, value: int) -> int:
        if value not in (0, 1):
            raise ValueError(
                f"tolerance is 0 (exact phrases) or 1 (one interior word of a phrase of "
                f"{MIN_TOKENS} or more words may be heard as another), got {value}"
            )
        return value


class PatternParams(TextParams):
    patterns: list[list[dict[str, Any]]] = Field(min_length=1)


class RegexParams(TextParams):
    patterns: list[str] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for p in value:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {p!r}: {exc}") from None
        return value


class _TokenMatcher:
    """Shared by the token detectors: run a finder, apply the negation guard, map to times."""

    def __init__(
        self, finder: PhraseFinder, rules: Sequence[str], params: TextParams, analyzer: TextAnalyzer
    ):
        self.finder = finder
        self.rules = list(rules)
        self.cues = (
            frozenset(negation_cues(params.negation_cues, analyzer))
            if params.negation
            else frozenset()
        )
        self.window = params.negation_window

    def matches(self, call: CallText, i: int) -> list[tuple[int, int, int]]:
        tokens = call.tokens[i]
        return self._unnegated(tokens, self.finder.find(tokens))

    def hits(
        self, call: CallText, utterances: Sequence[int], near: _NearPhrases | None = None
    ) -> list[Hit]:
        """Hits among ``utterances``; with ``near``, also its near matches (where no exact
        one overlaps them)."""
        out = []
        find = self.finder.find
        for i in utterances:
            tokens = call.tokens[i]
            found = find(tokens)
            close = near.find(tokens, found) if near is not None else []
            if not found and not close:  # most utterances: skip the negation guard and the times
                continue
            for start, end, rule in self._unnegated(tokens, found):
                c0, c1 = tokens.char_span(start, end)
                start_s, end_s = hit_span(call, i, c0, c1)
                out.append(Hit(i, start_s, end_s, self.rules[rule]))
            if near is not None:
                out += [near.hit(call, i, m) for m in close if not self._negated(tokens, m.start)]
        return out

    def _unnegated(
        self, tokens: Tokens, found: list[tuple[int, int, int]]
    ) -> list[tuple[int, int, int]]:
        if not self.cues or not found:
            return found
        return [m for m in found if not self._negated(tokens, m[0])]

    def _negated(self, tokens: Tokens, start: int) -> bool:
        return bool(self.cues) and not self.cues.isdisjoint(
            tokens.lower[max(0, start - self.window) : start]
        )


class _NearPhrases:
    """A phrase list's near matches (``tolerance: 1``), each a hit whose rule says which
    word stood in: ``lemma 'date on birth' ≈ 'date of birth' (on for of)``."""

    def __init__(
        self, phrases: Sequence[str], kind: str, *, lemma: bool, analyzer: TextAnalyzer
    ) -> None:
        tokens = [analyzer.tokenize(analyzer.normalize(p)) for p in phrases]
        self.phrases = list(phrases)
        self.words = [t.lower for t in tokens]
        self.kind = kind
        # a negation never stands in for a phrase's word, whatever the item's negation guard
        cues = NEGATION_CUES.get(analyzer.language, ())
        self.finder = NearFinder(
            [t.lemma if lemma else t.lower for t in tokens],
            refused=[analyzer.normalize(c) for c in cues],
            shortest=min_tokens(analyzer.language),
            weak_last=WEAK_LAST.get(analyzer.language, ()),
            tail=fixed_tail(analyzer.language),
        )
        looked_for = {index for found in self.finder.by_first.values() for index, _ in found}
        self.not_looked_for = [p for i, p in enumerate(self.phrases) if i not in looked_for]
        """Phrases too short (or ending in a function word) for a near match: the
        tolerance does nothing for them, which ``earmark rubric check`` says."""
        self.lemma = lemma
        self.language = analyzer.language

    def find(self, tokens: Tokens, exact: list[tuple[int, int, int]]) -> list[NearMatch]:
        """Near matches that overlap no exact match and no earlier near one."""
        taken = [(s, e) for s, e, _ in exact]
        kept = []
        for m in self.finder.find(tokens.lemma if self.lemma else tokens.lower):
            if all(m.end <= s or m.start >= e for s, e in taken):
                kept.append(m)
                taken.append((m.start, m.end))
        return kept

    def hit(self, call: CallText, i: int, m: NearMatch) -> Hit:
        tokens = call.tokens[i]
        c0, c1 = tokens.char_span(m.start, m.end)
        start_s, end_s = hit_span(call, i, c0, c1)
        heard, meant = tokens.lower[m.start + m.at], self.words[m.phrase][m.at]
        said = call.texts[i][c0:c1]
        rule = f"{self.kind} {said!r} ≈ {self.phrases[m.phrase]!r} ({heard} for {meant})"
        size = len(self.words[m.phrase])
        return Hit(i, start_s, end_s, rule, strength=(size - 1) / size)


class PhraseDetector:
    """``phrase.v1``: any of a list of phrases, matched on lower-cased tokens.

    Both sides go through the language's tokenizer (spaCy's PhraseMatcher), so
    "thanks for calling" matches "Thanks for calling Acme" but not "thanksgiving".
    Chinese is matched on characters, ignoring spaces and punctuation.

    With ``tolerance: 1`` a phrase of at least 3 tokens (Chinese: 4 characters) also
    matches with one interior token heard as another (:mod:`pipeline.rubric.near` says
    why only that); the hit's rule names the word that stood in and its ``strength`` is
    the share of the phrase's tokens that matched.
    """

    Params: ClassVar[type[BaseModel]] = PhraseParams
    requires: ClassVar[frozenset[str]] = frozenset({"text"})
    fork_safe: ClassVar[bool] = True
    lemma: ClassVar[bool] = False

    def __init__(self, params: PhraseParams, analyzer: TextAnalyzer) -> None:
        if self.lemma:
            require_lemmas(analyzer, "detector: lemma.v1")
        phrases = [unicodedata.normalize("NFKC", p).strip() for p in params.phrases]
        finder = analyzer.phrase_finder(phrases, lemma=self.lemma)
        kind = "lemma" if self.lemma else "phrase"
        self.matcher = _TokenMatcher(finder, [f"{kind} {p!r}" for p in phrases], params, analyzer)
        self.near = (
            _NearPhrases(phrases, kind, lemma=self.lemma, analyzer=analyzer)
            if params.tolerance
            else None
        )

    @property
    def notes(self) -> list[str]:
        """What a data engineer should know that is not an error (``rubric check`` prints
        it): a ``tolerance: 1`` that does nothing, no phrase being long enough for a near
        match. (A list mixing short and long phrases is usual: the long ones get it.)"""
        if self.near is None or len(self.near.not_looked_for) < len(self.near.phrases):
            return []
        skipped = self.near.not_looked_for
        shortest = min_tokens(self.near.language)
        unit = "characters" if self.near.language == "zh" else "words"
        shown = ", ".join(map(repr, skipped[:5])) + (" …" if len(skipped) > 5 else "")
        return [
            f"params.tolerance: 1 does nothing here: a near match needs a phrase of {shortest} "
            f"{unit} or more not ending in a function word, and none is ({shown}); list the "
            "whole scripted phrase, or drop tolerance"
        ]

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        return self.matcher.hits(call, utterances, self.near)


class LemmaDetector(PhraseDetector):
    """``lemma.v1``: phrases matched on lemmas, so inflections need not be listed."""

    lemma: ClassVar[bool] = True


class PatternDetector:
    """``pattern.v1``: spaCy Matcher token patterns, for what a phrase list cannot say."""

    Params: ClassVar[type[BaseModel]] = PatternParams
    requires: ClassVar[frozenset[str]] = frozenset({"text"})
    fork_safe: ClassVar[bool] = True

    def __init__(self, params: PatternParams, analyzer: TextAnalyzer) -> None:
        finder = analyzer.pattern_finder(params.patterns)
        self.matcher = _TokenMatcher(
            finder, [f"pattern #{i + 1}" for i in range(len(params.patterns))], params, analyzer
        )

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        return self.matcher.hits(call, utterances)


class RegexDetector:
    """``regex.v1``: regular expressions over the normalised utterance text."""

    Params: ClassVar[type[BaseModel]] = RegexParams
    requires: ClassVar[frozenset[str]] = frozenset({"text"})
    fork_safe: ClassVar[bool] = True

    def __init__(self, params: RegexParams, analyzer: TextAnalyzer) -> None:
        self.patterns = [(re.compile(p), required_literals(p)) for p in params.patterns]
        self.cues = negation_cues(params.negation_cues, analyzer) if params.negation else ()
        self.window = params.negation_window

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        out = []
        for i in utterances:
            text = call.texts[i]
            said = text.__contains__
            for pattern, needs in self.patterns:
                if needs is not None and not any(map(said, needs)):
                    continue  # a substring search rules most lines out (the same hits)
                for m in pattern.finditer(text):
                    if self.cues and self._negated(text[: m.start()]):
                        continue
                    start_s, end_s = hit_span(call, i, m.start(), m.end())
                    out.append(Hit(i, start_s, end_s, f"regex {pattern.pattern!r}"))
        return out

    def _negated(self, before: str) -> bool:
        recent = before.split()[-self.window :]
        # a contraction ("don't") holds the "n't" cue a tokenizer splits off
        recent += [w[-3:] for w in recent if w.endswith("n't")]
        return any(cue in recent for cue in self.cues) or any(
            before.endswith(c) for c in self.cues if len(c) == 1
        )


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Strings one of which every match of ``pattern`` contains (``None``: none can be
    told): a line with none of them cannot match, and ``in`` finds that far faster than
    the regular expression engine tried at every position.

    Read from the parsed pattern (Python's own parser; a pattern it cannot read, or one
    matched ignoring case, gets ``None``): a run of literal characters every match passes
    through, or one from each alternative of a group every match passes through; the
    longest such choice.

    Examples
    --------
    >>> required_literals(r"\\bnot (?:really )?my (?:problem|fault)\\b")
    ('problem', 'fault')
    >>> required_literals(r"\\b(?:need|want) you to calm down\\b|^calm down")
    (' you to calm down', 'calm down')
    >>> required_literals(r"\\d{4}") is None, required_literals(r"(?i)manager") is None
    (True, True)
    """
    try:  # Python's own pattern parser: private, so any surprise only costs the speed-up
        import re._constants as _c
        import re._parser as _parser

        parsed = _parser.parse(pattern)
        return _literals(parsed, _c)
    except Exception:  # a pattern or a Python this cannot read: no prefilter
        return None


def _literals(parsed: Any, _c: Any) -> tuple[str, ...] | None:
    if parsed.state.flags & re.IGNORECASE:
        return None
    found = _required(list(parsed), _c)
    return found if found is not None and min(map(len, found)) >= 2 else None


def _required(items: list[tuple[Any, Any]], _c: Any) -> tuple[str, ...] | None:
    best: tuple[str, ...] | None = None

    def consider(found: tuple[str, ...] | None) -> None:
        nonlocal best
        if found and all(found) and (best is None or _worth(found) > _worth(best)):
            best = found

    run: list[str] = []
    for op, arg in items:
        if op is _c.LITERAL:
            run.append(chr(arg))
            continue
        consider(("".join(run),))
        run = []
        if op is _c.SUBPATTERN and not arg[1] & re.IGNORECASE:
            consider(_required(list(arg[3]), _c))
        elif op is _c.BRANCH:
            alternatives = [_required(list(branch), _c) for branch in arg[1]]
            if all(a is not None for a in alternatives):
                consider(tuple(s for a in alternatives if a is not None for s in a))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and arg[0] >= 1:
            consider(_required(list(arg[2]), _c))
    consider(("".join(run),))
    return best


def _worth(found: tuple[str, ...]) -> tuple[int, int]:
    return min(map(len, found)), -len(found)


class ProximityParams(DetectorParams):
    a: list[str] = Field(min_length=1)
    b: list[str] = Field(min_length=1)
    max_tokens: int = Field(default=8, ge=0, le=200)
    across_speakers: bool = False
    lemma: bool = False


class ProximityDetector:
    """``proximity.v1``: a phrase of list ``a`` within ``max_tokens`` tokens of one of ``b``.

    Distances run over the call's talk in time order: within one speaker's talk, or
    over both parties' talk with ``across_speakers: true`` (a question and its answer).
    """

    Params: ClassVar[type[BaseModel]] = ProximityParams
    requires: ClassVar[frozenset[str]] = frozenset({"text"})
    fork_safe: ClassVar[bool] = True

    def __init__(self, params: ProximityParams, analyzer: TextAnalyzer) -> None:
        if params.lemma:
            require_lemmas(analyzer, "params.lemma: proximity.v1 with lemma: true")
        self.a = analyzer.phrase_finder(params.a, lemma=params.lemma)
        self.b = analyzer.phrase_finder(params.b, lemma=params.lemma)
        self.params = params
        self.names = (params.a, params.b)

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        streams: dict[str, list[int]] = {}
        for i in utterances:
            key = "all" if self.params.across_speakers else call.transcript.utterances[i].speaker
            streams.setdefault(key, []).append(i)
        return [hit for stream in streams.values() for hit in self._in_stream(call, stream)]

    def _in_stream(self, call: CallText, stream: Sequence[int]) -> list[Hit]:
        a_pos, b_pos, offset = [], [], 0
        for i in stream:
            for s, e, k in self.a.find(call.tokens[i]):
                a_pos.append((offset + s, offset + e, i, s, e, k))
            for s, e, k in self.b.find(call.tokens[i]):
                b_pos.append((offset + s, offset + e, i, s, e, k))
            offset += len(call.tokens[i])
        hits = []
        for a in a_pos:
            near = [b for b in b_pos if max(b[0] - a[1], a[0] - b[1]) <= self.params.max_tokens]
            if near:
                b = min(near, key=lambda b: abs(b[0] - a[0]))
                rule = f"proximity {self.names[0][a[5]]!r} ~ {self.names[1][b[5]]!r}"
                first, second = sorted((a, b))
                start_s = _span(call, first)[0]
                end_s = _span(call, second)[1]
                hits.append(Hit(first[2], start_s, end_s, rule))
        return hits


def _span(call: CallText, pos: tuple[int, int, int, int, int, int]) -> tuple[float, float]:
    _, _, i, s, e, _ = pos
    c0, c1 = call.tokens[i].char_span(s, e)
    return hit_span(call, i, c0, c1)


class SequenceParams(DetectorParams):
    first: list[str] = Field(min_length=1)
    then: list[str] = Field(min_length=1)
    max_gap_s: float = Field(default=600.0, gt=0)
    lemma: bool = False


class SequenceDetector:
    """``sequence.v1``: a phrase of ``first``, then one of ``then`` within ``max_gap_s``.

    Both moments are evidence, so an inspector hears the request and the follow-up.
    """

    Params: ClassVar[type[BaseModel]] = SequenceParams
    requires: ClassVar[frozenset[str]] = frozenset({"text"})
    fork_safe: ClassVar[bool] = True

    def __init__(self, params: SequenceParams, analyzer: TextAnalyzer) -> None:
        if params.lemma:
            require_lemmas(analyzer, "params.lemma: sequence.v1 with lemma: true")
        self.first = PhraseDetector(PhraseParams(phrases=params.first), analyzer)
        self.then = PhraseDetector(PhraseParams(phrases=params.then), analyzer)
        if params.lemma:
            self.first = LemmaDetector(PhraseParams(phrases=params.first), analyzer)
            self.then = LemmaDetector(PhraseParams(phrases=params.then), analyzer)
        self.max_gap_s = params.max_gap_s

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        firsts = self.first.find(call, utterances)
        thens = self.then.find(call, utterances)
        for f in firsts:
            follow = [t for t in thens if f.end_s <= t.start_s <= f.end_s + self.max_gap_s]
            if follow:
                t = follow[0]
                rule = f"sequence {f.rule} → {t.rule}"
                return [
                    Hit(f.utterance, f.start_s, f.end_s, rule),
                    Hit(t.utterance, t.start_s, t.end_s, rule),
                ]
        return []


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


class MetricParams(DetectorParams):
    metric: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float


class MetricDetector:
    """``metric.v1``: fires when a measured number crosses a threshold.

    The metric's own time spans (the longest gap, each interruption…) are the
    evidence. On a call without that metric (external transcripts, per-party numbers
    on a mono call) the item is N/A.
    """

    Params: ClassVar[type[BaseModel]] = MetricParams
    requires: ClassVar[frozenset[str]] = frozenset({"metrics"})
    fork_safe: ClassVar[bool] = True

    def __init__(self, params: MetricParams, analyzer: TextAnalyzer) -> None:
        self.params = params
        self.op = _OPS[params.op]

    def applicable(self, call: CallText) -> bool:
        """Only calls that have the number: not external transcripts, not per-party
        numbers on a mono call (NaN)."""
        value = call.metrics.get(self.params.metric)
        return value is not None and value == value

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        p = self.params
        value = call.metrics.get(p.metric)
        if value is None or value != value or not self.op(value, p.value):  # NaN: not measurable
            return []
        rule = f"metric {p.metric} {p.op} {p.value:g}"
        spans = call.metric_spans.get(p.metric) or ()

        def text(at_s: float | None) -> str:
            return measured(p.metric, value, op=p.op, threshold=p.value, at_s=at_s)

        if not spans:
            return [Hit(-1, 0.0, 0.0, rule, text(None))]
        return [Hit(-1, s.start_s, s.end_s, rule, text(s.start_s)) for s in spans]
