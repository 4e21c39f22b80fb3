"""The normalised token stream redaction works on: words become tokens, number words
become digits ("four five" -> "45", "двадцать семь" -> "27", "二十七" -> "27"), and every
token remembers the units (words) it came from, so a hit on tokens covers whole words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipeline.text import plain

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
_HOMOPHONES = {"to": "2", "too": "2", "for": "4", "fore": "4", "ate": "8", "won": "1"}
"""Words Whisper writes now and then for a digit read out in a long number ("four five
three two to one eight…"). Far more often they are words, so they count as digits only
inside a long run (:func:`pipeline.redact_detect.find_runs`), never on their own. "oh" for
0 needs no such care (:func:`_is_zero`); the Chinese 幺 and 两 are number words already."""
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

# --- text pieces -----------------------------------------------------------------------

CJK = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_LETTER = rf"[^\W\d_{CJK}]"
_ATOM = re.compile(
    rf"(?P<space>\s+)|(?P<cjk>[{CJK}])|(?P<digits>[0-9]+)"
    rf"|(?P<word>{_LETTER}+(?:['’]{_LETTER}+)*)|(?P<other>.)",
    re.DOTALL,
)
_CJK_CHAR = re.compile(f"[{CJK}]")
_TEXT_UNIT = re.compile(rf"\s*(?:[{CJK}]|[^\s{CJK}]+)")
_WORD = re.compile(r"[^\W\d_]+")
# fmt: off
_FILLERS = frozenset(("uh", "um", "umm", "er", "erm", "ah", "eh", "hmm", "mm", "uhm",
                      "э", "ээ", "эм", "ну", "嗯", "呃", "啊", "额"))
# fmt: on
_SEPARATORS = frozenset(("slash", "dash", "hyphen", "дробь", "тире", "年", "月"))
_SEPARATOR_CHARS = frozenset("-‐–—.,/()、·")
_PLUS = frozenset(("+", "plus", "плюс"))


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
class Token:
    text: str
    first: int
    """Index of the first unit (word) the token came from."""
    last: int
    space: bool
    value: str | None = None
    """The digits the token stands for (``"27"`` for "twenty seven"), else ``None``."""
    month: int = 0


@dataclass(frozen=True, slots=True)
class Norm:
    text: str
    tokens: tuple[Token, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]


def text_units(text: str) -> tuple[str, ...]:
    """Pieces of a text without words (an external transcript): each with its leading
    space, a Chinese character on its own."""
    return tuple(_TEXT_UNIT.findall(text))


def count_words(text: str) -> int:
    """Words between a cue and digits; a Chinese character counts as half a word."""
    count = 0
    for m in _WORD.finditer(text):
        word = m.group()
        count += math.ceil(len(word) / 2) if _CJK_CHAR.match(word) else 1
    return count


# --- normalisation -----------------------------------------------------------------------


def normalise(units: Sequence[str]) -> Norm:
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
    return Norm("".join(parts), tuple(tokens), tuple(starts), tuple(ends))


def _atoms(units: Sequence[str]) -> list[_Atom]:
    atoms: list[_Atom] = []
    for i, unit in enumerate(units):
        text = plain(unit)
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


def _compose(atoms: Sequence[_Atom]) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(atoms):
        parsed = _parse_number(atoms, i)
        if parsed is not None:
            digits, j = parsed
            tokens.append(Token(digits, atoms[i].first, atoms[j - 1].last, atoms[i].space, digits))
            i = j
            continue
        tokens.append(_plain_token(atoms[i]))
        i += 1
    return tokens


def _plain_token(atom: _Atom) -> Token:
    key = atom.text.casefold()
    text = "+" if key in _PLUS else atom.text
    value = atom.text if atom.text.isascii() and atom.text.isdigit() else None
    month = _MONTHS_EN.get(key, 0)
    if not month and (m := _MONTH_RU.fullmatch(key)):
        month = m.lastindex or 0
    return Token(text, atom.first, atom.last, atom.space, value, month)


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


def homophone_digit(tok: Token) -> str | None:
    """The digit a word may stand for inside a long number ("to" → ``"2"``), else ``None``."""
    return _HOMOPHONES.get(tok.text.casefold()) if tok.value is None else None


def is_glue(tok: Token) -> bool:
    """A token that may stand between the digits of one number."""
    key = tok.text.casefold()
    return tok.text in _SEPARATOR_CHARS or key in _SEPARATORS or key in _FILLERS


def is_skippable(tok: Token) -> bool:
    """Punctuation or a filler: what may follow a number at the end of an utterance."""
    return tok.value is None and (
        not any(ch.isalnum() for ch in tok.text) or tok.text.casefold() in _FILLERS
    )


def numeric_share(text: str) -> float:
    """The share of a text's characters (punctuation and fillers left out) that read out a
    number or a date: digits and number words ("twelve", "двенадцать", "十二"), month
    names, date separators ("年", "月", "slash") and what is written against a number
    ("12th", "2nd", "SW1A", "12-го"; not a Chinese character, which no space parts from
    its neighbours). A date of birth, an account number or a
    postcode read out is mostly that; a problem that mentions a number is not.

    Examples
    --------
    >>> numeric_share("The 12th of June 1990.") > 0.5
    True
    >>> numeric_share("I was charged 49.99 twice") < 0.5
    True
    """
    counted = [t for t in normalise(text_units(text)).tokens if not is_skippable(t)]
    numeric = total = 0
    after_number = False
    for tok in counted:
        is_number = tok.value is not None or tok.month > 0 or is_glue(tok)
        is_number = is_number or (after_number and not tok.space and not _CJK_CHAR.match(tok.text))
        numeric += len(tok.text) if is_number else 0
        total += len(tok.text)
        after_number = is_number
    return numeric / total if total else 0.0
