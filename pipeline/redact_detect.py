"""What redaction looks for in the normalised token stream: digit runs judged by their
digits (Luhn, phonenumbers) and the cue words near them (``rubrics/cues/redaction.yaml``).
E-mails, the phone numbers :mod:`phonenumbers` finds in the text and the configured
patterns are :mod:`pipeline.redact_match`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING

import phonenumbers

from pipeline.redact_cues import FIT, cue_patterns
from pipeline.redact_text import (
    Norm,
    Token,
    count_words,
    homophone_digit,
    is_glue,
    is_skippable,
)

if TYPE_CHECKING:
    from pipeline.redact import RedactOptions

CARD = "CARD"
CVV = "CVV"
EXPIRY = "EXPIRY"
CODE = "CODE"
PHONE = "PHONE"
EMAIL = "EMAIL"
NUMBER = "NUMBER"
KINDS: tuple[str, ...] = (CARD, CVV, EXPIRY, CODE, PHONE, EMAIL, NUMBER)
"""Built-in kinds, in the order that wins when two redactions overlap."""

CUSTOM_PRIORITY = len(KINDS) - 1.5
"""Configured patterns rank after e-mails and before the ``NUMBER`` catch-all."""
PRIORITY = {kind: float(i) for i, kind in enumerate(KINDS)}


@dataclass(frozen=True, slots=True)
class Run:
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
class Cue:
    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Carried:
    """A cue from an earlier utterance, ``words`` words before this utterance starts."""

    kind: str
    words: int
    answered: bool = False
    """A card (or a number that may be a misheard one) was read after the cue, whole or
    slowly over turns (once those are joined): a card cue so answered no longer joins
    digit pieces over long pauses (``_chain_from``)."""


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str
    first: int
    """Token indices, inclusive."""
    last: int
    maybe_card: bool = False
    """A ``NUMBER`` of a card's length: maybe a card with a misheard digit
    (:func:`may_be_misheard_card`), which opens the after-card window as a card does."""


def find_cues(norm: Norm) -> tuple[Cue, ...]:
    """Every cue in the normalised text (all languages' phrases)."""
    return tuple(
        Cue(kind, m.start(), m.end()) for kind, rx in cue_patterns() for m in rx.finditer(norm.text)
    )


# --- digit runs --------------------------------------------------------------------------


def find_runs(
    tokens: Sequence[Token], *, before: int = 0, after: int = 0, loose: bool = False
) -> tuple[Run, ...]:
    """The digit runs of an utterance: digits joined by glue (separators and fillers), and
    runs one homophone word apart ("4532 to 187…") joined into one when that makes a
    number of a card's length (:func:`_bridge_homophones`), counting the ``before``
    digits a run that starts the utterance continues and the ``after`` digits a run that
    ends it goes on with (the party's neighbouring turns); a homophone word that starts or
    ends the utterance is a digit of the number read over turns on the same terms
    (:func:`_edge_homophones`). ``loose``: every such word is a digit, whatever the
    lengths (to find how far a number read over turns may reach).

    Examples
    --------
    >>> from pipeline.redact_text import normalise
    >>> [r.digits for r in find_runs(normalise(" 4532 to 187 6493 2155".split(" ")).tokens)]
    ['4532218764932155']
    >>> [r.digits for r in find_runs(normalise(" pay 40 to 50".split(" ")).tokens)]
    ['40', '50']
    >>> [r.digits for r in find_runs(normalise(" to 187".split(" ")).tokens, before=4, after=8)]
    ['2187']
    """
    if loose:
        before = after = CARD_DIGITS.start
    runs = _bridge_homophones(_plain_runs(tokens), tokens, before=before, after=after)
    return _edge_homophones(runs, tokens, before=before, after=after, loose=loose)


def _edge_homophones(
    runs: tuple[Run, ...], tokens: Sequence[Token], *, before: int, after: int, loose: bool
) -> tuple[Run, ...]:
    """The first run with the homophone word before it ("to 187" after "4532" said in the
    previous turn) and the last with the one after it ("187 to", then "6493"), each a digit
    when the utterance is one turn of a number read over turns that, with it, has a card's
    length, and has fewer than a card's digits before the word: after a whole card, "to 50
    dollars" or "for 2 of them" is words."""
    if not runs:
        return runs
    out = list(runs)
    head, tail = out[0], out[-1]
    leading = None if head.plus else _edge_word(tokens, range(head.lead))
    trailing = _edge_word(tokens, range(tail.last + 1, len(tokens)))
    ends = trailing is not None or all(is_skippable(t) for t in tokens[tail.last + 1 :])
    starts = leading is not None or all(is_skippable(t) for t in tokens[: head.lead])
    # the digits said before the word, and those after it, in the number read over turns
    rest = len(head.digits) + (after if len(out) == 1 and ends else 0)
    if leading is not None and (loose or _joins_short_of_a_card(before, rest)):
        digit = homophone_digit(tokens[leading]) or ""
        out[0] = Run(leading, head.last, digit + head.digits, (leading, *head.digit_tokens), False)
    tail = out[-1]
    said = len(tail.digits) + (before if len(out) == 1 and starts else 0)
    if trailing is not None and (loose or _joins_short_of_a_card(said, after)):
        digit = homophone_digit(tokens[trailing]) or ""
        digit_tokens = (*tail.digit_tokens, trailing)
        out[-1] = Run(tail.first, trailing, tail.digits + digit, digit_tokens, tail.plus)
    return tuple(out)


def _joins_short_of_a_card(said: int, rest: int) -> bool:
    """Whether a homophone word with ``said`` digits of a number before it and ``rest``
    after it is one of its digits: both sides have some, the side before is short of a
    card, and the whole number, the word counted, has a card's length."""
    return said > 0 and rest > 0 and said < CARD_DIGITS.start <= said + 1 + rest


def _edge_word(tokens: Sequence[Token], between: range) -> int | None:
    """The token of the one homophone word among ``tokens[between]``, all else glue or
    punctuation."""
    words = [k for k in between if not (is_glue(tokens[k]) or is_skippable(tokens[k]))]
    if len(words) == 1 and homophone_digit(tokens[words[0]]) is not None:
        return words[0]
    return None


def _plain_runs(tokens: Sequence[Token]) -> list[Run]:
    runs: list[Run] = []
    members: list[int] = []
    for k, tok in enumerate(tokens):
        if tok.value is not None:
            members.append(k)
        elif members and is_glue(tok):
            continue
        elif members:
            runs.append(_make_run(tokens, members))
            members = []
    if members:
        runs.append(_make_run(tokens, members))
    return runs


def _bridge_homophones(
    runs: Sequence[Run], tokens: Sequence[Token], *, before: int, after: int
) -> tuple[Run, ...]:
    """Runs one homophone word apart ("to" for 2, "for" for 4…), joined with its digit when
    the whole group, joined, has a card's length (13 digits or more, with the ``before``
    and ``after`` digits of the neighbouring turns when it starts or ends the utterance): a
    card read out with one digit written as a word. A shorter group is left apart ("40 to
    50 dollars", "the 4 for 2 offer", "2019 to 2023", "3714 for 0427": a code and an
    expiry stay two)."""
    groups: list[tuple[list[Run], Run]] = []  # (the runs, them joined)
    for run in runs:
        word = _homophone_between(groups[-1][1], run, tokens) if groups else None
        if word is None:
            groups.append(([run], run))
            continue
        parts, left = groups[-1]
        joined = Run(
            left.first,
            run.last,
            left.digits + (homophone_digit(tokens[word]) or "") + run.digits,
            (*left.digit_tokens, word, *run.digit_tokens),
            left.plus,
        )
        groups[-1] = ([*parts, run], joined)
    out: list[Run] = []
    for parts, joined in groups:
        n = len(joined.digits)
        n += before if all(is_skippable(t) for t in tokens[: joined.lead]) else 0
        n += after if all(is_skippable(t) for t in tokens[joined.last + 1 :]) else 0
        out.extend([joined] if n >= CARD_DIGITS.start else parts)
    return tuple(out)


def _homophone_between(left: Run, right: Run, tokens: Sequence[Token]) -> int | None:
    """The token of the one homophone word that alone (with glue) parts two runs."""
    if right.plus:  # "+44…" starts a number of its own
        return None
    between = range(left.last + 1, right.lead)
    words = [k for k in between if not is_glue(tokens[k])]
    if len(words) == 1 and homophone_digit(tokens[words[0]]) is not None:
        return words[0]
    return None


def _make_run(tokens: Sequence[Token], members: Sequence[int]) -> Run:
    digits = "".join(tokens[k].value or "" for k in members)
    digit_tokens = tuple(k for k in members for _ in tokens[k].value or "")
    first = members[0]
    plus = first > 0 and tokens[first - 1].text == "+"
    return Run(first, members[-1], digits, digit_tokens, plus)


def cue_kinds(
    run: Run,
    norm: Norm,
    cues: Sequence[Cue],
    carried: Sequence[Carried],
    options: RedactOptions,
) -> list[str]:
    """Kinds named by cues near ``run``: cues before it, nearest first, then cues after it."""
    start, end = norm.starts[run.lead], norm.ends[run.last]
    scored: list[tuple[int, int, float, str]] = []
    for cue in cues:
        if cue.end <= start:
            distance = count_words(norm.text[cue.end : start])
            if distance <= options.cue_window_words:
                scored.append((0, distance, PRIORITY[cue.kind], cue.kind))
        elif cue.start >= end:
            distance = count_words(norm.text[end : cue.start])
            if distance <= options.cue_after_words:
                scored.append((1, distance, PRIORITY[cue.kind], cue.kind))
    head = count_words(norm.text[:start])
    for old in carried:
        if old.words + head <= options.cue_window_words:
            scored.append((0, old.words + head, PRIORITY[old.kind], old.kind))
    return [kind for *_, kind in sorted(scored)]


def decide(
    digits: str,
    *,
    plus: bool,
    cue_kinds: Sequence[str],
    options: RedactOptions,
    resident_id: bool = False,
) -> str | None:
    """The kind of a digit run, or ``None`` when it is nothing to redact (``resident_id``:
    the run is a Chinese resident ID, :func:`is_resident_id`, so no card without a cue)."""
    n = len(digits)
    if plus and _is_phone(digits, options.phone_regions, plus=True):
        return PHONE
    for kind in cue_kinds:
        low, high = FIT[kind]
        if low <= n <= high:
            # "code 123": three digits after a bare "code" are a card's, not a one-time code
            return CVV if kind == CODE and n == 3 else kind
    if n >= CARD_DIGITS.start and not resident_id and _looks_like_card(digits):
        return CARD
    if 7 <= n <= 15 and _is_phone(digits, options.phone_regions, plus=False):
        return PHONE
    if options.long_number_digits is not None and n >= options.long_number_digits:
        return NUMBER
    return None


def run_hits(
    run: Run, norm: Norm, cue_kinds: Sequence[str], options: RedactOptions
) -> tuple[Hit, ...]:
    resident_id = is_resident_id(id_text(run, norm.tokens))
    kind = decide(
        run.digits, plus=run.plus, cue_kinds=cue_kinds, options=options, resident_id=resident_id
    )
    if kind is None:
        return ()
    if kind == CARD:
        return _card_hits(run)
    maybe_card = not resident_id and may_be_misheard_card(kind, run.digits)
    return (whole_run_hit(run, kind, norm.tokens, maybe_card=maybe_card),)


def whole_run_hit(run: Run, kind: str, tokens: Sequence[Token], *, maybe_card: bool = False) -> Hit:
    """The run as one hit; an expiry date takes its month name along ("april", "4月")."""
    first, last = run.lead, run.last
    if kind == EXPIRY:
        month = _month_before(run, tokens)
        first = first if month is None else month
        while last + 1 < len(tokens) and (
            tokens[last + 1].month or tokens[last + 1].text in ("年", "月", "日")
        ):
            last += 1
    return Hit(kind, first, last, maybe_card)


# --- cards and phones --------------------------------------------------------------------

CARD_DIGITS = range(13, 20)
"""How many digits a payment card number has (13-19)."""
_CARD_LENGTHS = (16, 15, 19, 18, 17, 14, 13)
"""Most likely card lengths first."""


_CARD_WITH_EXPIRY_DIGITS = range(17, 24)
"""A card (13-19 digits) read on with its expiry (MMYY), maybe then its code (3-4)."""
_AFTER_CARD_DIGITS = (4, 7, 8)
"""How many digits an expiry (MMYY), maybe with a code, adds to a card."""


def may_be_misheard_card(kind: str, digits: str) -> bool:
    """Whether a run judged ``kind`` may be a card the ASR misheard: a ``NUMBER`` of a
    card's length (13-19 digits), or of 17-23 digits whose first 13-19 are followed by an
    expiry (``MMYY``, month 01-12) and maybe 3-4 more (the code): a card read on with its
    expiry, in one breath or over utterances (the whole number, when it was read over
    utterances). A Chinese resident ID (:func:`is_resident_id`) is not.

    One misheard digit fails Luhn, one dropped or doubled digit too, and the card becomes
    a ``NUMBER`` unless a card cue stands near it, which the same ASR garbles as often.
    Its expiry date and security code follow it all the same, so such a number opens the
    after-card window like a card: PCI practice prefers tagging an account number's
    amount to leaking a card's code. No cue is asked for: where the ASR mishears a digit
    it mishears the cue too. A phone is not a card.

    The price, over-redaction: any account or ID number of 13-19 digits opens the window,
    and so does a longer one whose digits after its 13th to 19th fit an expiry. The
    expiry's shape is asked, not a card's prefix: a Russian account (20 digits, from 408,
    407, 423, 301) starts with 4 as a Visa card does. About one Russian account in five
    still fits (digits 17-18, or 14-15, read as a month 01-12) and opens the window. A
    Chinese resident ID with a valid check digit and birth date does not; an 18-digit
    misheard card that happens to look like one (about one in 10,000) leaves its code
    in clear.

    Examples
    --------
    >>> may_be_misheard_card("NUMBER", "4532187649321570")
    True
    >>> may_be_misheard_card("NUMBER", "45321876493215700427")
    True
    >>> may_be_misheard_card("NUMBER", "40817810038854214304")
    False
    >>> may_be_misheard_card("NUMBER", "440304198511201235")
    False
    """
    n = len(digits)
    if kind != NUMBER or is_resident_id(digits):
        return False
    return n in CARD_DIGITS or (
        n in _CARD_WITH_EXPIRY_DIGITS
        and any(
            n - after in CARD_DIGITS and 1 <= int(digits[n - after : n - after + 2]) <= 12
            for after in _AFTER_CARD_DIGITS
        )
    )


_CARD_IN_FOURS = 16
"""How many digits a card read in groups of four has (Visa, Mastercard, Discover, Mir, most
UnionPay cards)."""


def card_read_slowly(pieces: Sequence[str], *, card_cue: bool) -> bool:
    """Whether digit groups said over pauses longer than the usual join (each piece the
    run that ends one utterance or starts the next) are one card read slowly: after a
    card cue (``card_cue``), any pieces of at most 19 digits together (a card, maybe
    misheard, or its start, however grouped: an Amex is read 4-6-5); without one, every
    piece whole groups of four and together 16 digits, whatever Luhn says (a card with a
    misheard digit fails it).

    Without a cue, a phone (3-3-4, 4-3-4) or a date (``01 12 88``) is not read in groups
    of four, so it is not joined to what follows it, and four-digit numbers said apart (a
    year, then a PIN) are joined only when four of them follow one another, each said
    alone within the pause: a 16-digit number read in fours is redacted as it is when read
    in one breath (``NUMBER``, or ``CARD`` when it passes Luhn). After a card cue a leak
    costs more than over-redaction: a phone and a date said within the pause after "the
    card number, please" are one ``CARD``.

    Examples
    --------
    >>> card_read_slowly(["4532", "0151", "1283", "0366"], card_cue=False)
    True
    >>> card_read_slowly(["4532", "0151", "1283", "0367"], card_cue=False)
    True
    >>> card_read_slowly(["4532", "0151", "1283"], card_cue=False)
    False
    >>> card_read_slowly(["4532", "0151", "1283", "036"], card_cue=False)
    False
    >>> card_read_slowly(["4532", "0151", "1283", "0367"], card_cue=True)
    True
    >>> card_read_slowly(["3782", "822463", "10005"], card_cue=True)
    True
    >>> card_read_slowly(["4155550132", "011288"], card_cue=False)
    False
    """
    digits = "".join(pieces)
    if card_cue:
        return len(digits) <= CARD_DIGITS[-1]
    return len(digits) == _CARD_IN_FOURS and not any(len(piece) % 4 for piece in pieces)


_RESIDENT_ID = re.compile(r"[1-8][0-9]{16}[0-9X]")
_RESIDENT_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))


def is_resident_id(text: str) -> bool:
    """Whether ``text`` is a Chinese resident ID: a 6-digit region (from 1-8), a birth
    date ``YYYYMMDD`` (a real day, 1900-2099), 3 digits and an ISO 7064 MOD 11-2 check
    character (0-9 or ``X``, :func:`id_text`).

    Examples
    --------
    >>> is_resident_id("11010519900307451X"), is_resident_id("440304198511201234")
    (True, False)
    """
    if _RESIDENT_ID.fullmatch(text) is None:
        return False
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    total = sum(int(d) * w for d, w in zip(text, _RESIDENT_ID_WEIGHTS, strict=False))
    return 1900 <= born.year <= 2099 and text[17] == "10X98765432"[total % 11]


def id_text(run: Run, tokens: Sequence[Token]) -> str:
    """The run's digits, with the ``X`` said just after them (a resident ID's check)."""
    after = tokens[run.last + 1].text if run.last + 1 < len(tokens) else ""
    return run.digits + "X" if after in ("X", "x") else run.digits


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
    if len(digits) in CARD_DIGITS and _luhn(digits):
        return True
    ends = _card_lengths(digits)
    return _card_prefix(digits) is not None or any(_luhn(digits[-n:]) for n in ends)


def _card_hits(run: Run) -> tuple[Hit, ...]:
    """A card run; digits read on after the card are its expiry date and security code."""
    digits = run.digits
    whole = Hit(CARD, run.lead, run.last)
    if len(digits) in CARD_DIGITS and _luhn(digits):
        return (whole,)
    end = _card_prefix(digits)
    if end is None:
        return (whole,)
    return _piece_hits(run, [(CARD, 0, end), *_after_card(digits, end)])


def _piece_hits(run: Run, pieces: Sequence[tuple[str, int, int]]) -> tuple[Hit, ...]:
    """Hits over ``(kind, first digit, end digit)`` pieces of one run."""
    return tuple(_piece_hit(run, (), kind, a, b) for kind, a, b in pieces)


def _piece_hit(run: Run, tokens: Sequence[Token], kind: str, a: int, b: int) -> Hit:
    """The hit over digits ``a:b`` of ``run``; an expiry date that starts the run takes the
    month name before it along (``tokens`` empty: no month looked for)."""
    if tokens and a == 0 and b == len(run.digits):
        return whole_run_hit(run, kind, tokens)
    first = run.digit_tokens[a] if a else run.lead
    month = _month_before(run, tokens) if tokens and kind == EXPIRY and not a else None
    return Hit(kind, first if month is None else month, run.digit_tokens[b - 1])


def after_card_hits(run: Run, tokens: Sequence[Token]) -> tuple[Hit, ...]:
    """A run said soon after a card number, judged by its digits alone: an expiry date
    (``0427``, ``04 27``, ``042027``, a month name and a year), a security code (3-4
    digits) or both read together (``0427 123``, ``123 0427``, ``april 27 123``);
    nothing when the digits fit none.

    Examples
    --------
    >>> from pipeline.redact_text import normalise
    >>> tokens = normalise([" it's", " 8", "14"]).tokens
    >>> after_card_hits(find_runs(tokens)[0], tokens)
    (Hit(kind='CVV', first=1, last=2, maybe_card=False),)
    """
    return after_card_joined_hits([(run, tokens)])[0]


def after_card_joined_hits(
    parts: Sequence[tuple[Run, Sequence[Token]]], *, cued: bool = False
) -> list[tuple[Hit, ...]]:
    """:func:`after_card_hits` for one number read over several runs (``(run, its
    utterance's tokens)`` in order): the hits of each run, judged on their joined digits;
    two digits may be what the ASR kept of a code (:func:`_code_remains`; ``cued``: a
    security code's cue stands before them)."""
    head, head_tokens = parts[0]
    digits = "".join(run.digits for run, _ in parts)
    pieces = (
        []
        if _range_with_unit(parts)
        else _after_card_pieces(
            digits,
            month=_month_before(head, head_tokens) is not None,
            remains=_code_remains(parts, cued=cued),
        )
    )
    hits: list[tuple[Hit, ...]] = []
    offset = 0
    for run, tokens in parts:
        end = offset + len(run.digits)
        hits.append(
            tuple(
                _piece_hit(run, tokens, kind, max(a, offset) - offset, min(b, end) - offset)
                for kind, a, b in pieces
                if a < end and b > offset
            )
        )
        offset = end
    return hits


def _after_card_pieces(digits: str, *, month: bool, remains: bool) -> list[tuple[str, int, int]]:
    """How digits said after a card split into expiry and security code (``month``: a month
    name stands before them, so they start with the year; ``remains``: two digits that may
    be what is left of a code, :func:`_code_remains`); none when they fit neither."""
    n = len(digits)
    if month and n in (2, 4):
        return [(EXPIRY, 0, n)]
    if remains and n == 2:
        return [(CVV, 0, n)]
    year = 2 if n - 2 in (3, 4) else 4
    if month and n - year in (3, 4):
        return [(EXPIRY, 0, year), (CVV, year, n)]
    if not 3 <= n <= 10:
        return []
    pieces = _after_card(digits, 0)
    return [] if any(kind == CARD for kind, *_ in pieces) else pieces


_DASHES = frozenset("-‐–—")
_UNITS = frozenset(
    (
        *("day", "days", "week", "weeks", "month", "months", "year", "years", "hour", "hours"),
        *("minute", "minutes", "second", "seconds", "business", "working", "times", "stars"),
        *("percent", "%", "дня", "дней", "день", "недели", "недель", "месяца", "месяцев"),
        *("часа", "часов", "минут", "минуты", "рабочих", "раз", "раза", "процентов", "лет"),
        *("года", "天", "个", "周", "小", "分", "次", "年", "月", "星"),
    )
)
"""Words after digits that make them a range or a count ("3-5 business days", "2-3
минуты", "3-5个工作日"), not what is left of a code."""


def _unit_after(run: Run, tokens: Sequence[Token]) -> bool:
    """Whether a unit word follows the run, past punctuation, fillers and "more" ("3-5,
    business days", "2-3 more days")."""
    after = run.last + 1
    while after < len(tokens) and (
        is_skippable(tokens[after]) or tokens[after].text.casefold() in ("more", "ещё", "еще")
    ):
        after += 1
    return after < len(tokens) and tokens[after].text.casefold() in _UNITS


def _range_with_unit(parts: Sequence[tuple[Run, Sequence[Token]]]) -> bool:
    """Two numbers joined by a dash and followed by a unit ("7-10 business days", "24-48
    hours"): a span of time or a count, whatever its digits, not an expiry or a code."""
    if len(parts) != 1:
        return False
    run, tokens = parts[0]
    said = sorted(set(run.digit_tokens))
    between = [t for t in range(run.first, run.last + 1) if t not in run.digit_tokens]
    return (
        len(said) == 2
        and len(between) == 1
        and tokens[between[0]].text in _DASHES
        and _unit_after(run, tokens)
    )


def _one_by_one(run: Run, tokens: Sequence[Token]) -> bool:
    """Whether each digit of the run is its own token, with only separators, punctuation
    or fillers between ("1-4", "one, uh, four", "1... 4"), not a decimal point or a slash
    written tight ("1.5", "1/2")."""
    if len(set(run.digit_tokens)) != len(run.digits):
        return False
    for t in range(run.first, run.last + 1):
        if t in run.digit_tokens:
            continue
        tok = tokens[t]
        tight = not tok.space and t + 1 in run.digit_tokens and not tokens[t + 1].space
        if not (is_glue(tok) or is_skippable(tok)) or (tight and tok.text in "./"):
            return False
    return True


def _code_remains(parts: Sequence[tuple[Run, Sequence[Token]]], *, cued: bool) -> bool:
    """Whether two digits said after a card may be what the ASR kept of its security code:
    after a security code's cue (``cued``: "the CVV is 14"), said one by one ("1-4", "one,
    uh, four"; "the security code is 814" heard as "called in May 1-4", its cue and first
    digit lost) or after "may" ("May 14", a code heard as a date), and not a range or a
    count with its unit ("3-5 business days"). A count said as one number ("12 of them",
    "twenty five") is none of these."""
    if cued:
        return True
    run, tokens = parts[-1]
    if _unit_after(run, tokens):
        return False
    head, head_tokens = parts[0]
    before = head.lead - 1
    while before >= 0 and is_skippable(head_tokens[before]):
        before -= 1
    may = before >= 0 and head_tokens[before].text.casefold() == "may"
    return may or all(_one_by_one(r, toks) for r, toks in parts)


def _month_before(run: Run, tokens: Sequence[Token]) -> int | None:
    """The token of a month name just before the run ("april 27", "april, of 2027")."""
    before = run.lead - 1
    while before >= 0 and (
        is_skippable(tokens[before]) or tokens[before].text.casefold() in ("of", "the")
    ):
        before -= 1
    return before if before >= 0 and tokens[before].month else None


def _after_card(digits: str, start: int) -> list[tuple[str, int, int]]:
    """Split what follows a card into expiry (MMYY or MMYYYY) and security code, read in
    either order."""
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
    code = n - 4 if n - 4 in (3, 4) else n - 6
    if code in (3, 4) and 1 <= int(rest[code : code + 2]) <= 12:
        return [(CVV, start, start + code), (EXPIRY, start + code, end)]
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
