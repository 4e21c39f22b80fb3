"""Redact payment cards, security codes, phone numbers and e-mails from call transcripts.

Whisper writes the same card number in many ways: ``" 4532 0151 1283 0366"``, ``" four
five three two …"``, ``"四五三二…"``, ``" четыре пять три два …"``, one word per digit or
one word per group, with commas and fillers in between. :func:`redact_transcript` therefore
works on a *normalised token stream* per utterance:

1. the utterance's words (or, for external transcripts without words, pieces of its text)
   are the **units** that get replaced; each is cut into atoms (NFKC, ``ё`` → ``е``);
2. number words become digits (English, Russian and Chinese, including ``double four``,
   ``twenty seven``, ``девятьсот шестнадцать``, ``二十七``), every token remembering which
   units it came from;
3. **digit runs** are digits across tokens joined only by separators (`` ``, ``-``, ``,``,
   ``/``, ``slash``, ``年``…) and fillers (``uh``, ``э``, ``嗯``); each run is classified from
   its digits (Luhn, :mod:`phonenumbers`) and from the **cue** words before it (``card
   number``, ``卡号``, ``номер карты``, ``security code``, ``expiry``, ``phone`` …) — cues
   carry over into the next utterances, since agents ask and customers answer;
4. a run cut by an utterance boundary (a customer pausing while reading a card) is judged
   again joined with its continuation in the same party's next utterance;
5. e-mails (written or spoken: ``john dot smith at gmail dot com``), phone numbers found by
   :class:`phonenumbers.PhoneNumberMatcher` and the configured patterns are matched on the
   normalised text.

Every covered unit is replaced: in the words, the words of one span become one word whose
text is the tag (``" [CARD]"``), spanning the first word's start to the last word's end with
the lowest probability; the utterance text is rebuilt from the redacted words. A leak is
worse than over-redaction: long digit runs of no known kind become ``[NUMBER]``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import phonenumbers

from pipeline import errors
from pipeline.types import Transcript, Utterance, Word

CARD = "CARD"
CVV = "CVV"
EXPIRY = "EXPIRY"
CODE = "CODE"
PHONE = "PHONE"
EMAIL = "EMAIL"
NUMBER = "NUMBER"
KINDS: tuple[str, ...] = (CARD, CVV, EXPIRY, CODE, PHONE, EMAIL, NUMBER)
"""Built-in kinds, in the order that wins when two redactions overlap."""

_CUSTOM_PRIORITY = len(KINDS) - 1.5
"""Configured patterns rank after e-mails and before the ``NUMBER`` catch-all."""
_PRIORITY = {kind: float(i) for i, kind in enumerate(KINDS)}
_KIND_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


@dataclass(frozen=True, slots=True)
class Redaction:
    """One redacted span: where it was and what kind, never the redacted text."""

    call_id: str
    utterance_index: int
    kind: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class RedactOptions:
    """What :func:`redact_transcript` redacts, and how far it looks for cue words.

    Attributes
    ----------
    patterns
        Extra ``(kind, regex)`` pairs matched on the normalised text (NFKC, number
        words as digits), e.g. ``("ACCOUNT", r"\\bACC-\\d{6,}\\b")`` → ``[ACCOUNT]``.
        ``kind`` is upper case (``[A-Z][A-Z0-9_]*``).
    phone_regions
        Regions phone numbers are parsed for (ISO 3166 codes known to ``phonenumbers``).
    cue_window_words
        How many words may stand between a cue ("card number") and the digits it names.
    cue_after_words
        How many words may stand between digits and a cue said after them.
    cue_carry_s
        Cues carry into the next utterances unless this much silence comes first.
    join_gap_s
        A party's digit run continues into its next utterance when that starts within
        this many seconds.
    long_number_digits
        Runs of at least this many digits of no known kind are redacted as ``NUMBER``
        (account, tracking or ID numbers, or a card number the ASR garbled);
        ``None`` leaves them.
    """

    patterns: tuple[tuple[str, str], ...] = ()
    phone_regions: tuple[str, ...] = ("US", "GB", "CN", "RU")
    cue_window_words: int = 8
    cue_after_words: int = 3
    cue_carry_s: float = 30.0
    join_gap_s: float = 3.0
    long_number_digits: int | None = 13

    def __post_init__(self) -> None:
        for kind, pattern in self.patterns:
            if not _KIND_NAME.fullmatch(kind):
                raise errors.REDACT_KIND_NAME(kind=kind)
            try:
                re.compile(pattern)
            except re.error as exc:
                raise errors.REDACT_PATTERN(kind=kind, pattern=pattern, reason=exc) from exc
        unknown = [r for r in self.phone_regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise errors.REDACT_PHONE_REGIONS(regions=unknown)
        if min(self.cue_window_words, self.cue_after_words) < 0:
            raise errors.REDACT_CUE_WINDOW(before=self.cue_window_words, after=self.cue_after_words)


# --- number words -------------------------------------------------------------------

# fmt: off
_UNITS_EN = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS_EN = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
             "seventeen", "eighteen", "nineteen")
_TENS_EN = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_UNITS_RU = ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять")
_TEENS_RU = ("десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать",
             "шестнадцать", "семнадцать", "восемнадцать", "девятнадцать")
_TENS_RU = ("двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят",
            "восемьдесят", "девяносто")
_HUNDREDS_RU = ("сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот",
                "восемьсот", "девятьсот")
# fmt: on
_UNITS_ZH = "零一二三四五六七八九"


def _number_words() -> dict[str, tuple[str, int]]:
    words: dict[str, tuple[str, int]] = {}
    for units in (_UNITS_EN, _UNITS_RU, _UNITS_ZH):
        words.update({w: ("unit", v) for v, w in enumerate(units)})
    for teens in (_TEENS_EN, _TEENS_RU):
        words.update({w: ("teen", 10 + v) for v, w in enumerate(teens)})
    for tens in (_TENS_EN, _TENS_RU):
        words.update({w: ("tens", 20 + 10 * v) for v, w in enumerate(tens)})
    words.update({w: ("hundreds", 100 * (v + 1)) for v, w in enumerate(_HUNDREDS_RU)})
    words.update({w: ("unit", 0) for w in ("oh", "o", "nought", "нуль", "〇")})
    words.update({w: ("unit", 1) for w in ("одна", "одно", "幺")})
    words.update({w: ("unit", 2) for w in ("две", "两", "兩")})
    words.update({"double": ("repeat", 2), "triple": ("repeat", 3)})
    words.update({"hundred": ("hundred", 100), "十": ("zhten", 10)})
    words.update({w: ("thousand", 1000) for w in ("thousand", "тысяча", "тысячи", "тысяч")})
    return words


_NUMBER_WORDS = _number_words()
# fmt: off
_MONTHS_EN = {  # not "may": a verb far more often than a month
    "january": 1, "february": 2, "march": 3, "april": 4, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
}
# fmt: on
_MONTH_RU = re.compile(
    r"(январ[ьяюе])|(феврал[ьяюе])|(март(?:а|е|ом)?)|(апрел[ьяюе])|(ма[йяюе])|(июн[ьяюе])"
    r"|(июл[ьяюе])|(август(?:а|е|ом)?)|(сентябр[ьяюе])|(октябр[ьяюе])|(ноябр[ьяюе])"
    r"|(декабр[ьяюе])"
)

# --- cues ------------------------------------------------------------------------------
# Matched on the normalised text, where number words are digits already ("3 digits").

_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        (
            CARD,
            r"\b(?:credit|debit|visa|master ?card|amex|american express|card|long number)\b"
            r"|\bкарт\w*|\bкарточк\w*|\bмастеркард\w*|卡号|银行卡|信用卡|借记卡|储蓄卡|卡片|卡的号",
        ),
        (
            CVV,
            r"\b(?:security (?:code|number)|cvv2?|cvc2?|cv2|csc|c\.? ?v\.? ?v|"
            r"[34][- ]?digit (?:code|number|security)|digits? on the back|"
            r"back of (?:the|your) card)\b|код безопасности|\bсиви\w*|\bсвв\b|\bцвв\b|"
            r"на обороте|на обратной стороне|трехзначн\w* код\w*|安全码|卡背|背面|后3位",
        ),
        (
            EXPIRY,
            r"\b(?:expiry|expiration|expires?|expiring|exp date|valid (?:thru|through|until|till)"
            r"|good (?:thru|through))\b|\bсрок\w* действия|\bдействительн\w* до|\bдействует до"
            r"|\bистека\w*|有效期|到期|过期",
        ),
        (
            CODE,
            r"\b(?:(?:verification|confirmation|access|sms|text|one[- ]time|1[- ]time) "
            r"(?:code|password|passcode|pin)|otp|passcode|pin(?: code| number)?)\b"
            r"|(?<!area )(?<!zip )(?<!postal )(?<!post )\bcode\b|\bкод\w*|\bсмс\b|\bпин\w*"
            r"|\bпарол\w*|验证码|动态码|校验码|密码|短信码",
        ),
        (
            PHONE,
            r"\b(?:phone|telephone|cell|cellphone|mobile|call me (?:at|on)|reach me (?:at|on)"
            r"|call ?back number|contact number|my number|your number|area code|whatsapp)\b"
            r"|\bтелефон\w*|\bмобильн\w*|\bсотов\w*|\bпозвони\w*|\bзвони\w*"
            r"|手机|电话|号码|联系方式",
        ),
    )
)
_FIT = {CARD: (12, 10**6), CVV: (3, 4), EXPIRY: (2, 8), CODE: (3, 8), PHONE: (7, 15)}
"""How many digits a run after each cue may have to be that kind."""

# --- text pieces -----------------------------------------------------------------------

_CJK = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_LETTER = rf"[^\W\d_{_CJK}]"
_ATOM = re.compile(
    rf"(?P<space>\s+)|(?P<cjk>[{_CJK}])|(?P<digits>[0-9]+)"
    rf"|(?P<word>{_LETTER}+(?:['’]{_LETTER}+)*)|(?P<other>.)",
    re.DOTALL,
)
_CJK_CHAR = re.compile(f"[{_CJK}]")
_TEXT_UNIT = re.compile(rf"\s*(?:[{_CJK}]|[^\s{_CJK}]+)")
_WORD = re.compile(r"[^\W\d_]+")
_TRAIL = re.compile(r"[.,!?;:。，！？、…]+$")
# fmt: off
_FILLERS = frozenset(("uh", "um", "umm", "er", "erm", "ah", "eh", "hmm", "mm", "uhm",
                      "э", "ээ", "эм", "ну", "嗯", "呃", "啊", "额"))
# fmt: on
_SEPARATORS = frozenset(("slash", "dash", "hyphen", "дробь", "тире", "年", "月"))
_SEPARATOR_CHARS = frozenset("-‐–—.,/()、·")
_PLUS = frozenset(("+", "plus", "плюс"))

# --- e-mail ----------------------------------------------------------------------------

_LABEL = rf"[^\W_{_CJK}]+"
_SEP_LOCAL = r"(?:\.|_|-|\bdot\b|\bunderscore\b|\bdash\b|\bhyphen\b|\bточка\b|\bдефис\b|点|下划线)"
_SEP_DOT = r"(?:\.|\bdot\b|\bточка\b|点)"
_AT = r"(?:@|\bat\b|\bсобака\b|艾特)"
_EMAIL = re.compile(
    rf"(?<![^\W_{_CJK}]){_LABEL}(?:\s*{_SEP_LOCAL}\s*{_LABEL}|\s+[0-9]+){{0,8}}"
    rf"\s*{_AT}\s*{_LABEL}(?:\s*{_SEP_DOT}\s*{_LABEL}){{1,4}}",
    re.IGNORECASE,
)
_AT_ANYWHERE = re.compile(_AT, re.IGNORECASE)
# fmt: off
_TLDS = frozenset(("com", "net", "org", "edu", "gov", "io", "co", "uk", "us", "ru", "cn", "de",
                   "fr", "info", "biz", "me", "ai", "app", "рф", "ру", "ком", "нет", "орг"))
# fmt: on


# --- records of the token stream ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Atom:
    text: str
    first: int
    last: int
    space: bool
    kind: str
    """The ``_ATOM`` group it matched: ``cjk``, ``digits``, ``word`` or ``other``."""


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    first: int
    """Index of the first unit (word) the token came from."""
    last: int
    space: bool
    value: str | None = None
    """The digits the token stands for (``"27"`` for "twenty seven"), else ``None``."""
    month: int = 0


@dataclass(frozen=True, slots=True)
class _Norm:
    text: str
    tokens: tuple[_Token, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Run:
    first: int
    """First digit token; a ``+`` just before it is at ``first - 1`` when ``plus``."""
    last: int
    digits: str
    digit_tokens: tuple[int, ...]
    """The token each digit came from."""
    plus: bool

    @property
    def lead(self) -> int:
        return self.first - 1 if self.plus else self.first


@dataclass(frozen=True, slots=True)
class _Cue:
    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Carried:
    """A cue from an earlier utterance, ``words`` words before this utterance starts."""

    kind: str
    words: int


@dataclass(frozen=True, slots=True)
class _Hit:
    kind: str
    first: int
    """Token indices, inclusive."""
    last: int


@dataclass(frozen=True, slots=True)
class _Analysis:
    units: tuple[str, ...]
    norm: _Norm
    runs: tuple[_Run, ...]
    cues: tuple[_Cue, ...]
    carried: tuple[_Carried, ...]
    run_hits: tuple[tuple[_Hit, ...], ...]
    other_hits: tuple[_Hit, ...]


# --- public API ------------------------------------------------------------------------


def redact_transcript(
    transcript: Transcript, *, options: RedactOptions = RedactOptions()
) -> tuple[Transcript, tuple[Redaction, ...]]:
    """Replace card numbers, security codes, expiry dates, phones and e-mails by tags.

    Parameters
    ----------
    transcript
        The call, with word timestamps where the ASR gave them.
    options
        Extra patterns, phone regions and cue windows.

    Returns
    -------
    tuple[Transcript, tuple[Redaction, ...]]
        The transcript with each sensitive span replaced by ``[KIND]`` in ``text`` and,
        when the utterance has words, by one word spanning the covered words' times;
        and one :class:`Redaction` per span (for an utterance without words, its times
        are the utterance's). Utterance times are unchanged.

    Examples
    --------
    >>> from pipeline.types import Transcript, Utterance
    >>> u = Utterance("customer", 0.0, 4.0, "my card is 4532 0151 1283 0366")
    >>> call, spans = redact_transcript(Transcript("c1", "en", 4.0, (u,)))
    >>> call.utterances[0].text, spans[0].kind
    ('my card is [CARD]', 'CARD')
    """
    patterns = _compile_patterns(options.patterns)
    analyses = _analyse_all(transcript.utterances, options, patterns)
    analyses = _join_split_runs(transcript.utterances, analyses, options)
    utterances: list[Utterance] = []
    records: list[Redaction] = []
    for index, (utt, analysis) in enumerate(zip(transcript.utterances, analyses, strict=True)):
        redacted, spans = _apply(utt, analysis, options, patterns)
        utterances.append(redacted)
        records.extend(Redaction(transcript.call_id, index, k, s, e) for k, s, e in spans)
    return replace(transcript, utterances=tuple(utterances)), tuple(records)


# --- analysis ----------------------------------------------------------------------------

_Patterns = tuple[tuple[str, re.Pattern[str]], ...]


@lru_cache(maxsize=32)
def _compile_patterns(patterns: tuple[tuple[str, str], ...]) -> _Patterns:
    return tuple((kind, re.compile(pattern)) for kind, pattern in patterns)


def _analyse_all(
    utterances: Sequence[Utterance], options: RedactOptions, patterns: _Patterns
) -> list[_Analysis]:
    carried: tuple[_Carried, ...] = ()
    previous_end_s: float | None = None
    analyses: list[_Analysis] = []
    for utt in utterances:
        if previous_end_s is not None and utt.start_s - previous_end_s > options.cue_carry_s:
            carried = ()
        analysis = _analyse(_units_of(utt), carried, options, patterns)
        analyses.append(analysis)
        carried = _next_carried(analysis, options)
        previous_end_s = utt.end_s
    return analyses


def _units_of(utt: Utterance) -> tuple[str, ...]:
    if utt.words:
        return tuple(w.text for w in utt.words)
    return tuple(_TEXT_UNIT.findall(utt.text))


def _analyse(
    units: tuple[str, ...],
    carried: tuple[_Carried, ...],
    options: RedactOptions,
    patterns: _Patterns,
) -> _Analysis:
    norm = _normalise(units)
    runs = _find_runs(norm.tokens)
    cues = tuple(
        _Cue(kind, m.start(), m.end()) for kind, rx in _CUES for m in rx.finditer(norm.text)
    )
    run_hits = tuple(
        _run_hits(run, norm, _cue_kinds(run, norm, cues, carried, options), options) for run in runs
    )
    # The matcher is slow and finds little the runs missed: ask it only about leftovers.
    leftover = any(len(r.digits) >= 3 and not h for r, h in zip(runs, run_hits, strict=True))
    phones = _phone_matcher_hits(norm, options.phone_regions) if leftover else ()
    other = _email_hits(norm) + phones + _pattern_hits(norm, patterns)
    return _Analysis(units, norm, runs, cues, carried, run_hits, other)


def _next_carried(analysis: _Analysis, options: RedactOptions) -> tuple[_Carried, ...]:
    text = analysis.norm.text
    window = options.cue_window_words
    own = (_Carried(c.kind, _count_words(text[c.end :])) for c in analysis.cues)
    total = _count_words(text)
    old = (_Carried(c.kind, c.words + total) for c in analysis.carried)
    return tuple(c for c in (*own, *old) if c.words <= window)


def _count_words(text: str) -> int:
    """Words between a cue and digits; a Chinese character counts as half a word."""
    count = 0
    for m in _WORD.finditer(text):
        word = m.group()
        count += math.ceil(len(word) / 2) if _CJK_CHAR.match(word) else 1
    return count


# --- normalisation -----------------------------------------------------------------------


def _normalise(units: Sequence[str]) -> _Norm:
    tokens = _compose(_atoms(units))
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for tok in tokens:
        if tok.space and pos:
            parts.append(" ")
            pos += 1
        starts.append(pos)
        parts.append(tok.text)
        pos += len(tok.text)
        ends.append(pos)
    return _Norm("".join(parts), tuple(tokens), tuple(starts), tuple(ends))


def _atoms(units: Sequence[str]) -> list[_Atom]:
    atoms: list[_Atom] = []
    for i, unit in enumerate(units):
        text = unicodedata.normalize("NFKC", unit).replace("ё", "е").replace("Ё", "Е")
        space = False
        for m in _ATOM.finditer(text):
            kind = m.lastgroup or "other"
            if kind == "space":
                space = True
                continue
            if kind == "word" and not space and atoms and atoms[-1].kind == "word":
                # Sub-word pieces ("ph" + "one", "c" + "o" + "m") are one word, not a number.
                glued = atoms.pop()
                atoms.append(replace(glued, text=glued.text + m.group(), last=i))
            else:
                atoms.append(_Atom(m.group(), i, i, space, kind))
            space = False
    return atoms


def _compose(atoms: Sequence[_Atom]) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(atoms):
        parsed = _parse_number(atoms, i)
        if parsed is not None:
            digits, j = parsed
            tokens.append(_Token(digits, atoms[i].first, atoms[j - 1].last, atoms[i].space, digits))
            i = j
            continue
        tokens.append(_plain_token(atoms[i]))
        i += 1
    return tokens


def _plain_token(atom: _Atom) -> _Token:
    key = atom.text.casefold()
    text = "+" if key in _PLUS else atom.text
    value = atom.text if atom.text.isascii() and atom.text.isdigit() else None
    month = _MONTHS_EN.get(key, 0)
    if not month and (m := _MONTH_RU.fullmatch(key)):
        month = m.lastindex or 0
    return _Token(text, atom.first, atom.last, atom.space, value, month)


def _word_class(atoms: Sequence[_Atom], i: int) -> tuple[str, int]:
    if i >= len(atoms):
        return ("", 0)
    return _NUMBER_WORDS.get(atoms[i].text.casefold(), ("", 0))


def _parse_number(atoms: Sequence[_Atom], i: int) -> tuple[str, int] | None:
    """The digits of the number words starting at ``i``, and the index after them."""
    kind, value = _word_class(atoms, i)
    if kind == "repeat":
        next_kind, digit = _word_class(atoms, i + 1)
        return (str(digit) * value, i + 2) if next_kind == "unit" else None
    if kind == "unit" and value == 0:
        return ("0", i + 1) if _is_zero(atoms, i) else None
    total, j = _small_number(atoms, i)
    if j == i:
        return None
    if _word_class(atoms, j)[0] == "thousand":
        rest, k = _small_number(atoms, j + 1)
        return str(total * 1000 + rest), k
    return str(total), j


def _is_zero(atoms: Sequence[_Atom], i: int) -> bool:
    """ "oh" and "o" are zero only next to another number: "Oh, 415…" is not "0415…"."""
    if atoms[i].text.casefold() not in ("oh", "o"):
        return True
    neighbours = (atoms[j] for j in (i - 1, i + 1) if 0 <= j < len(atoms))
    return any(a.kind == "digits" or a.text.casefold() in _NUMBER_WORDS for a in neighbours)


def _small_number(atoms: Sequence[_Atom], i: int) -> tuple[int, int]:
    """A number below 1000 said as words: "four hundred fifteen", "сто три", "二十七"."""
    kind, value = _word_class(atoms, i)
    after = _word_class(atoms, i + 1)[0]
    if kind == "zhten" or (kind == "unit" and value > 0 and after == "zhten"):
        total, j = (10, i + 1) if kind == "zhten" else (value * 10, i + 2)
        unit_kind, unit = _word_class(atoms, j)
        return (total + unit, j + 1) if unit_kind == "unit" and unit > 0 else (total, j)
    total, j = 0, i
    if kind == "hundreds":
        total, j = value, i + 1
    elif kind == "unit" and value > 0 and after == "hundred":
        total, j = value * 100, i + 2
    kind, value = _word_class(atoms, j)
    if kind == "teen":
        return total + value, j + 1
    if kind == "tens":
        k = j + 2 if j + 1 < len(atoms) and atoms[j + 1].text == "-" else j + 1
        unit_kind, unit = _word_class(atoms, k)
        if unit_kind == "unit" and unit > 0:
            return total + value + unit, k + 1
        return total + value, j + 1
    if kind == "unit" and value > 0:
        return total + value, j + 1
    return total, j


# --- digit runs --------------------------------------------------------------------------


def _is_glue(tok: _Token) -> bool:
    """A token that may stand between the digits of one number."""
    key = tok.text.casefold()
    return tok.text in _SEPARATOR_CHARS or key in _SEPARATORS or key in _FILLERS


def _is_skippable(tok: _Token) -> bool:
    """Punctuation or a filler: what may follow a number at the end of an utterance."""
    return tok.value is None and (
        not any(ch.isalnum() for ch in tok.text) or tok.text.casefold() in _FILLERS
    )


def _find_runs(tokens: Sequence[_Token]) -> tuple[_Run, ...]:
    runs: list[_Run] = []
    members: list[int] = []
    for k, tok in enumerate(tokens):
        if tok.value is not None:
            members.append(k)
        elif members and _is_glue(tok):
            continue
        elif members:
            runs.append(_make_run(tokens, members))
            members = []
    if members:
        runs.append(_make_run(tokens, members))
    return tuple(runs)


def _make_run(tokens: Sequence[_Token], members: Sequence[int]) -> _Run:
    digits = "".join(tokens[k].value or "" for k in members)
    digit_tokens = tuple(k for k in members for _ in tokens[k].value or "")
    first = members[0]
    plus = first > 0 and tokens[first - 1].text == "+"
    return _Run(first, members[-1], digits, digit_tokens, plus)


def _cue_kinds(
    run: _Run,
    norm: _Norm,
    cues: Sequence[_Cue],
    carried: Sequence[_Carried],
    options: RedactOptions,
) -> list[str]:
    """Kinds named by cues near ``run``: cues before it, nearest first, then cues after it."""
    start, end = norm.starts[run.lead], norm.ends[run.last]
    scored: list[tuple[int, int, float, str]] = []
    for cue in cues:
        if cue.end <= start:
            distance = _count_words(norm.text[cue.end : start])
            if distance <= options.cue_window_words:
                scored.append((0, distance, _PRIORITY[cue.kind], cue.kind))
        elif cue.start >= end:
            distance = _count_words(norm.text[end : cue.start])
            if distance <= options.cue_after_words:
                scored.append((1, distance, _PRIORITY[cue.kind], cue.kind))
    head = _count_words(norm.text[:start])
    for old in carried:
        if old.words + head <= options.cue_window_words:
            scored.append((0, old.words + head, _PRIORITY[old.kind], old.kind))
    return [kind for *_, kind in sorted(scored)]


def _decide(
    digits: str, *, plus: bool, cue_kinds: Sequence[str], options: RedactOptions
) -> str | None:
    """The kind of a digit run, or ``None`` when it is nothing to redact."""
    n = len(digits)
    if plus and _is_phone(digits, options.phone_regions, plus=True):
        return PHONE
    for kind in cue_kinds:
        low, high = _FIT[kind]
        if low <= n <= high:
            # "code 123": three digits after a bare "code" are a card's, not a one-time code
            return CVV if kind == CODE and n == 3 else kind
    if n >= 13 and _looks_like_card(digits):
        return CARD
    if 7 <= n <= 15 and _is_phone(digits, options.phone_regions, plus=False):
        return PHONE
    if options.long_number_digits is not None and n >= options.long_number_digits:
        return NUMBER
    return None


def _run_hits(
    run: _Run, norm: _Norm, cue_kinds: Sequence[str], options: RedactOptions
) -> tuple[_Hit, ...]:
    kind = _decide(run.digits, plus=run.plus, cue_kinds=cue_kinds, options=options)
    if kind is None:
        return ()
    if kind == CARD:
        return _card_hits(run)
    return (_whole_run_hit(run, kind, norm.tokens),)


def _whole_run_hit(run: _Run, kind: str, tokens: Sequence[_Token]) -> _Hit:
    """The run as one hit; an expiry date takes its month name along ("april", "4月")."""
    first, last = run.lead, run.last
    if kind == EXPIRY:
        before = first - 1
        if before > 0 and tokens[before].text.casefold() in ("of", "the"):
            before -= 1
        if before >= 0 and tokens[before].month:
            first = before
        while last + 1 < len(tokens) and (
            tokens[last + 1].month or tokens[last + 1].text in ("年", "月", "日")
        ):
            last += 1
    return _Hit(kind, first, last)


# --- cards and phones --------------------------------------------------------------------

_CARD_LENGTHS = (16, 15, 19, 18, 17, 14, 13)
"""Most likely card lengths first."""


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _card_lengths(digits: str) -> tuple[int, ...]:
    """Card lengths a Luhn-valid part of ``digits`` may have, leaving >= 3 other digits.

    Up to 19 digits only the common 15 and 16 count: a garbled 16-digit number has a
    Luhn-valid 13-digit start one time in ten, and must not be split on that.
    """
    lengths = _CARD_LENGTHS if len(digits) > 19 else (16, 15)
    return tuple(n for n in lengths if n <= len(digits) - 3)


def _card_prefix(digits: str) -> int | None:
    """The length of a Luhn-valid card number that starts ``digits`` and is shorter."""
    return next((n for n in _card_lengths(digits) if _luhn(digits[:n])), None)


def _looks_like_card(digits: str) -> bool:
    if 13 <= len(digits) <= 19 and _luhn(digits):
        return True
    ends = _card_lengths(digits)
    return _card_prefix(digits) is not None or any(_luhn(digits[-n:]) for n in ends)


def _card_hits(run: _Run) -> tuple[_Hit, ...]:
    """A card run; digits read on after the card are its expiry date and security code."""
    digits = run.digits
    whole = _Hit(CARD, run.lead, run.last)
    if 13 <= len(digits) <= 19 and _luhn(digits):
        return (whole,)
    end = _card_prefix(digits)
    if end is None:
        return (whole,)
    pieces = [(CARD, 0, end), *_after_card(digits, end)]
    return tuple(
        _Hit(kind, run.digit_tokens[a] if a else run.lead, run.digit_tokens[b - 1])
        for kind, a, b in pieces
    )


def _after_card(digits: str, start: int) -> list[tuple[str, int, int]]:
    """Split what follows a card into expiry (MMYY or MMYYYY) and security code."""
    rest = digits[start:]
    n, end = len(rest), len(digits)
    month_first = 1 <= int(rest[:2]) <= 12
    if month_first and n in (4, 6):
        return [(EXPIRY, start, end)]
    if n in (3, 4):
        return [(CVV, start, end)]
    if month_first and n in (7, 8, 9, 10):
        split = start + (4 if n <= 8 else 6)
        return [(EXPIRY, start, split), (CVV, split, end)]
    return [(CARD, start, end)]


@lru_cache(maxsize=4096)
def _is_phone(digits: str, regions: tuple[str, ...], *, plus: bool) -> bool:
    candidates = [("+" + digits, None)] if plus else [(digits, r) for r in regions]
    for text, region in candidates:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


# --- matches on the normalised text -----------------------------------------------------


def _span_hit(norm: _Norm, kind: str, start: int, end: int) -> tuple[_Hit, ...]:
    inside = [
        k
        for k, (s, e) in enumerate(zip(norm.starts, norm.ends, strict=True))
        if s < end and e > start
    ]
    return (_Hit(kind, inside[0], inside[-1]),) if inside else ()


def _email_hits(norm: _Norm) -> tuple[_Hit, ...]:
    hits: list[_Hit] = []
    if not _AT_ANYWHERE.search(norm.text):
        return ()
    for m in _EMAIL.finditer(norm.text):
        tld = re.findall(_LABEL, m.group())[-1].casefold()
        written = "@" in m.group()
        if tld in _TLDS or (written and tld.isalpha() and len(tld) >= 2):
            hits.extend(_span_hit(norm, EMAIL, m.start(), m.end()))
    return tuple(hits)


def _phone_matcher_hits(norm: _Norm, regions: tuple[str, ...]) -> tuple[_Hit, ...]:
    return tuple(
        hit
        for region in regions
        for match in phonenumbers.PhoneNumberMatcher(norm.text, region)
        for hit in _span_hit(norm, PHONE, match.start, match.end)
    )


def _pattern_hits(norm: _Norm, patterns: _Patterns) -> tuple[_Hit, ...]:
    return tuple(
        hit
        for kind, rx in patterns
        for m in rx.finditer(norm.text)
        if m.end() > m.start()
        for hit in _span_hit(norm, kind, m.start(), m.end())
    )


# --- runs split over utterances ------------------------------------------------------------


def _join_split_runs(
    utterances: Sequence[Utterance], analyses: list[_Analysis], options: RedactOptions
) -> list[_Analysis]:
    """Judge digits read over several utterances of one party as one number."""
    out = list(analyses)
    seen: set[tuple[int, int]] = set()
    for k in range(len(out)):
        chain = _chain_from(utterances, out, k, options)
        if len(chain) < 2 or chain[0] in seen:
            continue
        seen.update(chain)
        head = out[chain[0][0]]
        run = head.runs[chain[0][1]]
        kinds = _cue_kinds(run, head.norm, head.cues, head.carried, options)
        digits = "".join(out[u].runs[r].digits for u, r in chain)
        kind = _decide(digits, plus=run.plus, cue_kinds=kinds, options=options)
        if kind is None:
            continue
        for u, r in chain:
            hit = _whole_run_hit(out[u].runs[r], kind, out[u].norm.tokens)
            hits = out[u].run_hits
            out[u] = replace(out[u], run_hits=(*hits[:r], (hit,), *hits[r + 1 :]))
    return out


def _chain_from(
    utterances: Sequence[Utterance], analyses: Sequence[_Analysis], k: int, options: RedactOptions
) -> list[tuple[int, int]]:
    """The runs continuing the run that ends utterance ``k`` into the party's next ones."""
    analysis = analyses[k]
    if not analysis.runs or not _run_ends(analysis, len(analysis.runs) - 1):
        return []
    chain = [(k, len(analysis.runs) - 1)]
    current = k
    while (following := _next_turn(utterances, current, options.join_gap_s)) is not None:
        nxt = analyses[following]
        if not nxt.runs or not _run_starts(nxt, 0):
            break
        chain.append((following, 0))
        if len(nxt.runs) > 1 or not _run_ends(nxt, 0):
            break
        current = following
    return chain


def _run_ends(analysis: _Analysis, r: int) -> bool:
    tokens = analysis.norm.tokens
    return all(_is_skippable(t) for t in tokens[analysis.runs[r].last + 1 :])


def _run_starts(analysis: _Analysis, r: int) -> bool:
    tokens = analysis.norm.tokens
    return all(_is_skippable(t) for t in tokens[: analysis.runs[r].lead])


def _next_turn(utterances: Sequence[Utterance], k: int, gap_s: float) -> int | None:
    """The same party's next utterance, if it starts within ``gap_s`` of ``k``'s end."""
    this = utterances[k]
    for j in range(k + 1, len(utterances)):
        other = utterances[j]
        if other.start_s - this.end_s > gap_s:
            return None
        if (other.speaker, other.channel) == (this.speaker, this.channel):
            return j
    return None


# --- applying the redactions ---------------------------------------------------------------


def _unit_ranges(analysis: _Analysis) -> list[tuple[int, int, str]]:
    """Covered units as sorted, non-overlapping ``(first, last, kind)`` ranges."""
    tokens = analysis.norm.tokens
    hits: Iterable[_Hit] = (*(h for hs in analysis.run_hits for h in hs), *analysis.other_hits)
    spans = sorted(
        (
            min(t.first for t in tokens[h.first : h.last + 1]),
            max(t.last for t in tokens[h.first : h.last + 1]),
            h.kind,
        )
        for h in hits
    )
    merged: list[tuple[int, int, str]] = []
    for first, last, kind in spans:
        if merged and first <= merged[-1][1]:
            prev_first, prev_last, prev_kind = merged[-1]
            best = min(prev_kind, kind, key=lambda k: _PRIORITY.get(k, _CUSTOM_PRIORITY))
            merged[-1] = (prev_first, max(prev_last, last), best)
        else:
            merged.append((first, last, kind))
    return merged


def _tag(kind: str, first_unit: str, last_unit: str) -> str:
    lead = first_unit[: len(first_unit) - len(first_unit.lstrip())]
    trail = _TRAIL.search(last_unit.rstrip())
    return f"{lead}[{kind}]{trail.group() if trail else ''}"


def _rebuild(units: Sequence[str], ranges: Sequence[tuple[int, int, str]]) -> str:
    parts: list[str] = []
    i = 0
    for first, last, kind in ranges:
        parts.extend(units[i:first])
        parts.append(_tag(kind, units[first], units[last]))
        i = last + 1
    parts.extend(units[i:])
    return "".join(parts)


def _replace_words(
    words: Sequence[Word], ranges: Sequence[tuple[int, int, str]]
) -> tuple[Word, ...]:
    out: list[Word] = []
    i = 0
    for first, last, kind in ranges:
        out.extend(words[i:first])
        covered = words[first : last + 1]
        out.append(
            Word(
                start_s=covered[0].start_s,
                end_s=covered[-1].end_s,
                text=_tag(kind, covered[0].text, covered[-1].text),
                probability=min(w.probability for w in covered),
            )
        )
        i = last + 1
    out.extend(words[i:])
    return tuple(out)


def _apply(
    utt: Utterance, analysis: _Analysis, options: RedactOptions, patterns: _Patterns
) -> tuple[Utterance, list[tuple[str, float, float]]]:
    """The redacted utterance and its ``(kind, start_s, end_s)`` spans."""
    ranges = _unit_ranges(analysis)
    if not utt.words:
        if not ranges:
            return utt, []
        text = _rebuild(analysis.units, ranges).strip()
        return replace(utt, text=text), [(kind, utt.start_s, utt.end_s) for *_, kind in ranges]
    words = _replace_words(utt.words, ranges)
    text = _redacted_text(utt, analysis, len(ranges), words, options, patterns)
    spans = [(kind, utt.words[a].start_s, utt.words[b].end_s) for a, b, kind in ranges]
    return replace(utt, text=text, words=words), spans


def _redacted_text(
    utt: Utterance,
    analysis: _Analysis,
    n_ranges: int,
    words: Sequence[Word],
    options: RedactOptions,
    patterns: _Patterns,
) -> str:
    """The text rebuilt from the redacted words, or redacted on its own if it differs."""
    from_words = "".join(w.text for w in words).strip()
    if not utt.text.strip():
        return utt.text
    if " ".join("".join(analysis.units).split()) == " ".join(utt.text.split()):
        return from_words if n_ranges else utt.text
    # The text is not the words joined (edited upstream): redact it on its own, unless
    # that finds less than the words did, when it could leak what the words hid.
    units = tuple(_TEXT_UNIT.findall(utt.text))
    ranges = _unit_ranges(_analyse(units, analysis.carried, options, patterns))
    if len(ranges) >= n_ranges:
        return _rebuild(units, ranges).strip() if ranges else utt.text
    return from_words
