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
   ``/``, ``slash``, ``年``…) and fillers (``uh``, ``э``, ``嗯``), and across one word
   Whisper writes for a digit now and then (``to``/``too`` 2, ``for``/``fore`` 4, ``ate``
   8, ``won`` 1: "4532 to 187 6493 2155") when the number so joined has a card's length
   (13 digits or more, counting the digits the party reads on in the neighbouring turns);
   a shorter one stays apart ("40 to 50 dollars", "the 4 for 2 offer", "3714 for 0427").
   Such a word that starts or ends a turn ("4532" … "to 187", "187 to" … "6493") is a
   digit of the number read over turns on the same terms, when fewer than a card's digits
   come before it (after a whole card, "to 50 dollars" is words; inside one utterance,
   "…0366 to 50" still joins). The price: two long numbers said with one of these words
   between ("415 555 0132 to 415 555 0199") are one number, still redacted but under the
   wrong tag (``NUMBER``, or ``CARD`` when 16 of its digits happen to pass Luhn, rather
   than two ``PHONE``), and it may open the after-card window.
   ``oh`` is 0 next to a number, and 幺 and 两 are number words already; no Russian or
   Chinese homophone is read as a digit. Each run is classified from
   its digits (Luhn, :mod:`phonenumbers`) and from the **cue** words before it (``card
   number``, ``卡号``, ``номер карты``, ``security code``, ``expiry``, ``phone`` …) — cues
   carry over into the next utterances, since agents ask and customers answer;
4. a run cut by an utterance boundary (a customer pausing while reading a card) is judged
   again joined with its continuation in the same party's next utterance, said within
   ``join_gap_s`` (3 s), or within ``card_join_gap_s`` (10 s) when the pieces are a card
   read slowly: groups of four, 16 digits in all, whatever Luhn says (a misheard card
   fails it); or, after a card cue that no card has answered yet, any pieces of at most
   19 digits (an Amex is read 4-6-5), over pauses as long as the cue carries
   (``cue_carry_s``, 30 s; :func:`pipeline.redact_detect.card_read_slowly`). A piece that
   alone is a phone named as one is not a card's group. Without a cue a phone or a date is
   not read in fours and is not joined over such a pause. The price: numbers a party says
   apart after a card cue, before any card ("the one ending 1234", then "2019" 20 s
   later), are one ``CARD``, and four four-digit numbers a party says one after another,
   each alone within 10 s of the last, are one ``NUMBER``, as 16 digits read in one
   breath are;
5. **after a card number**, digit groups said by either party within ``after_card_s``
   (60 s) that fit a card's expiry date or security code (3-4 digits, ``04 27``, a month
   and a year, or the two read together) are redacted as ``EXPIRY`` / ``CVV`` whatever
   words surround them: PCI practice, since customers read them unprompted and the ASR
   can garble the cue ("the security code is 814" heard as "the Fick you're already
   called in 814"). Two digits are what the ASR kept of a code, a ``CVV`` too, when said
   one by one ("1-4", "one, uh, four": "the security code is 814" heard as "called in
   May 1-4"), after "may" ("May 14") or after a security code's cue ("the CVV is 14");
   not a count said as one number ("12 of them") or a decimal ("1.5"). A range with its
   unit ("3-5 business days", "7-10 business days", "24-48 hours") is never tagged. Over-redaction is the price: an amount or a year of 3-4 digits
   said in that minute is tagged too, currency word or not, and two digits listed ("press
   1, 2"). A ``NUMBER`` of a card's length
   (13-19 digits, joined over utterances) opens the window too, cue or no cue: the ASR
   that mishears one digit of a card (so it fails Luhn) mishears its cue as readily, and
   the expiry and code read next must not leak for it. The price: an account or ID number
   of 13-19 digits opens it as well (``my account is 4081 7810 0999 1001`` then
   ``1500`` → ``[CVV]``). A longer number opens it only where a card's 13-19 digits are
   followed by an expiry's shape (a card read on with its expiry, maybe its code), and a
   Chinese resident ID never does (:func:`pipeline.redact_detect.may_be_misheard_card`);
6. e-mails (written or spoken: ``john dot smith at gmail dot com``), phone numbers found by
   :class:`phonenumbers.PhoneNumberMatcher` and the configured patterns are matched on the
   normalised text.

Every covered unit is replaced: in the words, the words of one span become one word whose
text is the tag (``" [CARD]"``), spanning the first word's start to the last word's end with
the lowest probability; the utterance text is rebuilt from the redacted words. A leak is
worse than over-redaction: long digit runs of no known kind become ``[NUMBER]``.

Steps 1-2 are :mod:`pipeline.redact_text`; what a digit run is (step 3),
:mod:`pipeline.redact_detect`; reading the utterances in turn, with the cues they carry,
and what crosses turns (steps 4-5), :mod:`pipeline.redact_turns`; the matches on the text
(step 6), :mod:`pipeline.redact_match`. This module holds the options and applies the hits
to words and text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import phonenumbers

from pipeline import errors
from pipeline.redact_detect import (
    CARD,
    CODE,
    CUSTOM_PRIORITY,
    CVV,
    EMAIL,
    EXPIRY,
    KINDS,
    NUMBER,
    PHONE,
    PRIORITY,
    Hit,
)
from pipeline.redact_match import Patterns, compile_patterns
from pipeline.redact_text import text_units
from pipeline.redact_turns import Analysis, analyse, analyse_turns
from pipeline.types import Transcript, Utterance, Word

REDACT_VERSION = 10
"""Bump when a change to the redaction (here, :mod:`pipeline.redact_turns`,
:mod:`pipeline.redact_detect`, :mod:`pipeline.redact_match`, :mod:`pipeline.redact_text`
or :mod:`pipeline.redact_cues`) changes what is redacted in
the same transcript: it is part of the transcript cache key, so a night redacts cached
transcripts anew (their cue file, ``rubrics/cues/redaction.yaml``, is in the key by its
content). 4: a ``NUMBER`` of a card's length opens the after-card window. 5: so does one of
a card read on with its expiry (17-23 digits); a Chinese resident ID does not. 6: a word
heard for a digit inside a card ("4532 to 187…") is part of it, and a card read slowly in
groups of four is joined over pauses of up to 10 s. 7: after a card cue, however it is
grouped (an Amex read 4-6-5). 8: after a card cue, over pauses as long as the cue carries
(30 s); groups of four, 16 digits, whatever Luhn says; a digit heard as a word at a
group's edge or inside a group of a card read slowly. 10: two digits after a card, said one by
one, after "may" or after a security code's cue, are what the ASR kept of a code ("May
1-4" for "the security code is 814")."""

__all__ = [
    "CARD",
    "CODE",
    "CVV",
    "EMAIL",
    "EXPIRY",
    "KINDS",
    "NUMBER",
    "PHONE",
    "RedactOptions",
    "Redaction",
    "redact_transcript",
]


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
        Cues carry into the next utterances unless this much silence comes first; after a
        card cue not yet answered by a card, a party's digit pieces are joined over pauses
        this long too (the card it asked for, read slowly).
    join_gap_s
        A party's digit run continues into its next utterance when that starts within
        this many seconds.
    card_join_gap_s
        ... or within this many seconds, when the pieces are a card read slowly: four
        groups of four, or any pieces after a card cue (then within ``cue_carry_s``;
        :func:`pipeline.redact_detect.card_read_slowly`).
    long_number_digits
        Runs of at least this many digits of no known kind are redacted as ``NUMBER``
        (account, tracking or ID numbers, or a card number the ASR garbled);
        ``None`` leaves them (and a garbled card then opens no after-card window).
    after_card_s
        Digit groups that fit an expiry date or a security code, said within this many
        seconds after the end of a card number, or of a ``NUMBER`` of a card's length
        (13-19 digits: maybe a card with a misheard digit), by either party, are redacted
        without a cue; ``0`` needs a cue for them as everywhere else.
    """

    patterns: tuple[tuple[str, str], ...] = ()
    phone_regions: tuple[str, ...] = ("US", "GB", "CN", "RU")
    cue_window_words: int = 8
    cue_after_words: int = 3
    cue_carry_s: float = 30.0
    join_gap_s: float = 3.0
    card_join_gap_s: float = 10.0
    long_number_digits: int | None = 13
    after_card_s: float = 60.0

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
        if not self.after_card_s >= 0:
            raise errors.REDACT_AFTER_CARD(seconds=self.after_card_s)


_KIND_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_TRAIL = re.compile(r"[.,!?;:。，！？、…]+$")


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
    patterns = compile_patterns(options.patterns)
    analyses = analyse_turns(transcript.utterances, options, patterns)
    utterances: list[Utterance] = []
    records: list[Redaction] = []
    for index, (utt, analysis) in enumerate(zip(transcript.utterances, analyses, strict=True)):
        redacted, spans = _apply(utt, analysis, options, patterns)
        utterances.append(redacted)
        records.extend(Redaction(transcript.call_id, index, k, s, e) for k, s, e in spans)
    return replace(transcript, utterances=tuple(utterances)), tuple(records)


# --- applying the redactions ---------------------------------------------------------------


def _unit_ranges(analysis: Analysis) -> list[tuple[int, int, str]]:
    """Covered units as sorted, non-overlapping ``(first, last, kind)`` ranges."""
    tokens = analysis.norm.tokens
    hits: Iterable[Hit] = (*(h for hs in analysis.run_hits for h in hs), *analysis.other_hits)
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
            best = min(prev_kind, kind, key=lambda k: PRIORITY.get(k, CUSTOM_PRIORITY))
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
    utt: Utterance, analysis: Analysis, options: RedactOptions, patterns: Patterns
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
    analysis: Analysis,
    n_ranges: int,
    words: Sequence[Word],
    options: RedactOptions,
    patterns: Patterns,
) -> str:
    """The text rebuilt from the redacted words, or redacted on its own if it differs."""
    from_words = "".join(w.text for w in words).strip()
    if not utt.text.strip():
        return utt.text
    if " ".join("".join(analysis.units).split()) == " ".join(utt.text.split()):
        return from_words if n_ranges else utt.text
    # The text is not the words joined (edited upstream): redact it on its own, unless
    # that finds less than the words did, when it could leak what the words hid.
    units = text_units(utt.text)
    ranges = _unit_ranges(analyse(units, analysis.carried, options, patterns))
    if len(ranges) >= n_ranges:
        return _rebuild(units, ranges).strip() if ranges else utt.text
    return from_words
