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
   called in 814"). Over-redaction is the price: an amount or a year of 3-4 digits said
   in that minute is tagged too, currency word or not. A ``NUMBER`` of a card's length
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
    Carried,
    Cue,
    Hit,
    Patterns,
    Run,
    after_card_joined_hits,
    card_read_slowly,
    compile_patterns,
    cue_kinds,
    decide,
    email_hits,
    find_cues,
    find_runs,
    id_text,
    is_resident_id,
    may_be_misheard_card,
    pattern_hits,
    phone_matcher_hits,
    run_hits,
    whole_run_hit,
)
from pipeline.redact_text import Norm, count_words, is_skippable, normalise, text_units
from pipeline.types import Transcript, Utterance, Word

REDACT_VERSION = 8
"""Bump when a change to the redaction (here, :mod:`pipeline.redact_detect`,
:mod:`pipeline.redact_text` or :mod:`pipeline.redact_cues`) changes what is redacted in
the same transcript: it is part of the transcript cache key, so a night redacts cached
transcripts anew (their cue file, ``rubrics/cues/redaction.yaml``, is in the key by its
content). 4: a ``NUMBER`` of a card's length opens the after-card window. 5: so does one of
a card read on with its expiry (17-23 digits); a Chinese resident ID does not. 6: a word
heard for a digit inside a card ("4532 to 187…") is part of it, and a card read slowly in
groups of four is joined over pauses of up to 10 s. 7: after a card cue, however it is
grouped (an Amex read 4-6-5). 8: after a card cue, over pauses as long as the cue carries
(30 s); groups of four, 16 digits, whatever Luhn says; a digit heard as a word at a
group's edge or inside a group of a card read slowly."""

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


@dataclass(frozen=True, slots=True)
class _Analysis:
    units: tuple[str, ...]
    norm: Norm
    runs: tuple[Run, ...]
    cues: tuple[Cue, ...]
    carried: tuple[Carried, ...]
    run_hits: tuple[tuple[Hit, ...], ...]
    other_hits: tuple[Hit, ...]


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
    analyses = _analyse_all(transcript.utterances, options, patterns)
    analyses = _bridge_over_turns(transcript.utterances, analyses, options, patterns)
    analyses = _join_split_runs(transcript.utterances, analyses, options)
    analyses = _codes_after_cards(transcript.utterances, analyses, options)
    utterances: list[Utterance] = []
    records: list[Redaction] = []
    for index, (utt, analysis) in enumerate(zip(transcript.utterances, analyses, strict=True)):
        redacted, spans = _apply(utt, analysis, options, patterns)
        utterances.append(redacted)
        records.extend(Redaction(transcript.call_id, index, k, s, e) for k, s, e in spans)
    return replace(transcript, utterances=tuple(utterances)), tuple(records)


# --- analysis ----------------------------------------------------------------------------


def _analyse_all(
    utterances: Sequence[Utterance], options: RedactOptions, patterns: Patterns
) -> list[_Analysis]:
    carried: tuple[Carried, ...] = ()
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
    return text_units(utt.text)


def _analyse(
    units: tuple[str, ...],
    carried: tuple[Carried, ...],
    options: RedactOptions,
    patterns: Patterns,
    *,
    around: tuple[int, int] = (0, 0),
    loose: bool = False,
) -> _Analysis:
    """One utterance analysed; ``around``: the digits its first run continues and its
    last run goes on with in the party's neighbouring turns (:func:`_edge_digits`);
    ``loose``: every homophone word between or at the edge of digits read as a digit."""
    norm = normalise(units)
    runs = find_runs(norm.tokens, before=around[0], after=around[1], loose=loose)
    cues = find_cues(norm)
    hits = tuple(
        run_hits(run, norm, cue_kinds(run, norm, cues, carried, options), options) for run in runs
    )
    # The matcher is slow and finds little the runs missed: ask it only about leftovers.
    leftover = any(len(r.digits) >= 3 and not h for r, h in zip(runs, hits, strict=True))
    phones = phone_matcher_hits(norm, options.phone_regions) if leftover else ()
    other = email_hits(norm) + phones + pattern_hits(norm, patterns)
    return _Analysis(units, norm, runs, cues, carried, hits, other)


def _next_carried(analysis: _Analysis, options: RedactOptions) -> tuple[Carried, ...]:
    text = analysis.norm.text
    window = options.cue_window_words
    cards = _card_starts(analysis, len(analysis.runs))
    own = (
        Carried(c.kind, count_words(text[c.end :]), any(p >= c.end for p in cards))
        for c in analysis.cues
    )
    total = count_words(text)
    old = (Carried(c.kind, c.words + total, c.answered or bool(cards)) for c in analysis.carried)
    return tuple(c for c in (*own, *old) if c.words <= window)


def _card_starts(analysis: _Analysis, before_run: int) -> list[int]:
    """Where the card numbers (or numbers that may be misheard ones) among the runs before
    run ``before_run`` start in the normalised text."""
    return [
        analysis.norm.starts[hit.first]
        for hits in analysis.run_hits[:before_run]
        for hit in hits
        if hit.kind == CARD or hit.maybe_card
    ]


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
        kinds = cue_kinds(run, head.norm, head.cues, head.carried, options)
        digits = "".join(out[u].runs[r].digits for u, r in chain)
        tail_u, tail_r = chain[-1]
        tail = out[tail_u].runs[tail_r]
        said = digits[: -len(tail.digits)] + id_text(tail, out[tail_u].norm.tokens)
        resident_id = is_resident_id(said)
        kind = decide(
            digits, plus=run.plus, cue_kinds=kinds, options=options, resident_id=resident_id
        )
        if kind is None:
            continue
        maybe_card = not resident_id and may_be_misheard_card(kind, digits)
        # the first part alone may be a misheard card, whatever was read on after it
        head_card = not resident_id and any(hit.maybe_card for hit in head.run_hits[chain[0][1]])
        for u, r in chain:
            flag = maybe_card or (head_card and (u, r) == chain[0])
            hit = whole_run_hit(out[u].runs[r], kind, out[u].norm.tokens, maybe_card=flag)
            out[u] = _with_run_hits(out[u], r, (hit,))
    return out


def _bridge_over_turns(
    utterances: Sequence[Utterance],
    analyses: list[_Analysis],
    options: RedactOptions,
    patterns: Patterns,
) -> list[_Analysis]:
    """Utterances analysed anew where a homophone word ("4532 to 187,") parts runs whose
    group has a card's length only with the digits read on in the party's next or previous
    turn, or starts or ends a turn of a number so read ("to 187", "187 to": :func:`pipeline.
    redact_detect.find_runs`). How far the number reaches is found with every such word
    read as a digit (a group of a card read slowly is one of four digits only so)."""
    out = list(analyses)
    loose = [_loosely(a, options, patterns) for a in analyses]
    for k, (before, after) in _edge_digits(utterances, loose, options).items():
        if find_runs(out[k].norm.tokens, before=before, after=after) != out[k].runs:
            around = (before, after)
            out[k] = _analyse(out[k].units, out[k].carried, options, patterns, around=around)
    return out


def _loosely(analysis: _Analysis, options: RedactOptions, patterns: Patterns) -> _Analysis:
    """``analysis`` with every homophone word between or at the edge of digits a digit."""
    if find_runs(analysis.norm.tokens, loose=True) == analysis.runs:
        return analysis
    return _analyse(analysis.units, analysis.carried, options, patterns, loose=True)


def _edge_digits(
    utterances: Sequence[Utterance], analyses: Sequence[_Analysis], options: RedactOptions
) -> dict[int, tuple[int, int]]:
    """Per utterance, the digits its first run continues (said in the party's previous
    turns) and its last run goes on with (in the next ones), where either is not 0."""
    edges: dict[int, tuple[int, int]] = {}
    for k in range(len(analyses)):
        chain = _chain_from(utterances, analyses, k, options)
        lengths = [len(analyses[u].runs[r].digits) for u, r in chain]
        for i, (u, r) in enumerate(chain):
            before, after = edges.get(u, (0, 0))
            if r == 0 and i:
                before = max(before, sum(lengths[:i]))
            if i + 1 < len(chain):
                after = max(after, sum(lengths[i + 1 :]))
            edges[u] = (before, after)
    return {u: around for u, around in edges.items() if any(around)}


def _chain_from(
    utterances: Sequence[Utterance], analyses: Sequence[_Analysis], k: int, options: RedactOptions
) -> list[tuple[int, int]]:
    """The runs continuing the run that ends utterance ``k`` into the party's next ones:
    each said within ``join_gap_s``, or within ``card_join_gap_s`` when the chain up to it
    is a card read slowly (the longest such chain); after a card cue, within
    ``cue_carry_s``, as long as the cue itself carries."""
    analysis = analyses[k]
    if not analysis.runs or not _run_ends(analysis, len(analysis.runs) - 1):
        return []
    chain = [(k, len(analysis.runs) - 1)]
    close = 1  # how much of the chain is joined within join_gap_s
    current = k
    gap_s = max(options.join_gap_s, options.card_join_gap_s)
    if _open_card_cue(analyses, chain[0], options):
        gap_s = max(gap_s, options.cue_carry_s)
    while (following := _next_turn(utterances, current, gap_s)) is not None:
        nxt = analyses[following]
        if not nxt.runs or not _run_starts(nxt, 0):
            break
        chain.append((following, 0))
        pause_s = utterances[following].start_s - utterances[current].end_s
        if close == len(chain) - 1 and pause_s <= options.join_gap_s:
            close = len(chain)
        if len(nxt.runs) > 1 or not _run_ends(nxt, 0):
            break
        current = following
    slow = (
        n for n in range(len(chain), close, -1) if _card_read_slowly(analyses, chain[:n], options)
    )
    return chain[: next(slow, close)]


def _card_read_slowly(
    analyses: Sequence[_Analysis], chain: Sequence[tuple[int, int]], options: RedactOptions
) -> bool:
    """Whether the runs of ``chain`` are one card read slowly, over long pauses. A piece
    that alone is a phone (named as one) is read whole, never as a card's group."""
    if any(hit.kind == PHONE for u, r in chain for hit in analyses[u].run_hits[r]):
        return False
    pieces = [analyses[u].runs[r].digits for u, r in chain]
    return card_read_slowly(pieces, card_cue=_open_card_cue(analyses, chain[0], options))


def _open_card_cue(
    analyses: Sequence[_Analysis], at: tuple[int, int], options: RedactOptions
) -> bool:
    """Whether a card cue names run ``at`` (said near it, or carried from earlier turns)
    and no card has been read since: the card it asked for is still to come. An order
    number and an amount said after the card are not its groups."""
    head = analyses[at[0]]
    run = head.runs[at[1]]
    cards = _card_starts(head, at[1])
    cues = [c for c in head.cues if not any(p >= c.end for p in cards)]
    carried = [] if cards else [c for c in head.carried if not c.answered]
    return CARD in cue_kinds(run, head.norm, cues, carried, options)


def _run_ends(analysis: _Analysis, r: int) -> bool:
    tokens = analysis.norm.tokens
    return all(is_skippable(t) for t in tokens[analysis.runs[r].last + 1 :])


def _run_starts(analysis: _Analysis, r: int) -> bool:
    tokens = analysis.norm.tokens
    return all(is_skippable(t) for t in tokens[: analysis.runs[r].lead])


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


# --- expiry dates and security codes after a card ------------------------------------------


@dataclass(frozen=True, slots=True)
class _CardEnd:
    """Where a card number (or a ``NUMBER`` that may be a misheard card) ends: its
    utterance, last token and time."""

    utterance: int
    token: int
    end_s: float


def _codes_after_cards(
    utterances: Sequence[Utterance], analyses: list[_Analysis], options: RedactOptions
) -> list[_Analysis]:
    """Runs nothing else claimed, said within ``after_card_s`` after any card number (or
    a ``NUMBER`` that may be a misheard one), judged by their digits alone
    (:func:`pipeline.redact_detect.after_card_hits`), joined with their continuation in
    the party's next utterance as the cue path joins them."""
    if not options.after_card_s:
        return analyses
    cards = _card_ends(utterances, analyses)
    out = list(analyses)
    for k, utt in enumerate(utterances):
        for r, run in enumerate(out[k].runs):
            start_s = _token_start_s(utt, out[k], run.lead)
            near = any(_soon_after(card, k, run.lead, start_s, options) for card in cards)
            if near and _open(out[k], r):
                _judge_after_card(utterances, out, (k, r), options)
    return out


def _card_ends(utterances: Sequence[Utterance], analyses: Sequence[_Analysis]) -> list[_CardEnd]:
    return [
        _CardEnd(k, hit.last, _token_end_s(utt, analysis, hit.last))
        for k, (utt, analysis) in enumerate(zip(utterances, analyses, strict=True))
        for hits in analysis.run_hits
        for hit in hits
        if hit.kind == CARD or hit.maybe_card
    ]


def _soon_after(card: _CardEnd, k: int, token: int, start_s: float, options: RedactOptions) -> bool:
    """Whether ``token`` of utterance ``k``, said at ``start_s``, follows the card's end
    within ``after_card_s`` (in the card's own utterance: comes after it)."""
    later = token > card.token if card.utterance == k else start_s >= card.end_s
    return later and start_s - card.end_s <= options.after_card_s


def _open(analysis: _Analysis, r: int) -> bool:
    """Whether run ``r`` is unclaimed by any other hit."""
    return not analysis.run_hits[r] and not _claimed(analysis.runs[r], analysis.other_hits)


def _judge_after_card(
    utterances: Sequence[Utterance],
    out: list[_Analysis],
    at: tuple[int, int],
    options: RedactOptions,
) -> None:
    """Judge the run ``at`` joined with its open continuation; alone if the join fits
    nothing (each later run is judged in its own turn)."""
    chain = _open_chain(utterances, out, at, options)
    parts = [(out[u].runs[r], out[u].norm.tokens) for u, r in chain]
    judged = after_card_joined_hits(parts)
    if len(chain) > 1 and not any(judged):
        chain, judged = chain[:1], after_card_joined_hits(parts[:1])
    for (u, r), hits in zip(chain, judged, strict=True):
        out[u] = _with_run_hits(out[u], r, hits)


def _open_chain(
    utterances: Sequence[Utterance],
    analyses: Sequence[_Analysis],
    at: tuple[int, int],
    options: RedactOptions,
) -> list[tuple[int, int]]:
    """Run ``at`` and the open runs continuing it into the party's next utterances."""
    k, r = at
    chain = _chain_from(utterances, analyses, k, options) if r == len(analyses[k].runs) - 1 else []
    if not chain:
        return [at]
    n = next((i for i, (u, j) in enumerate(chain) if not _open(analyses[u], j)), len(chain))
    return chain[: max(n, 1)]


def _with_run_hits(analysis: _Analysis, r: int, hits: tuple[Hit, ...]) -> _Analysis:
    """``analysis`` with run ``r``'s hits replaced."""
    old = analysis.run_hits
    return replace(analysis, run_hits=(*old[:r], hits, *old[r + 1 :]))


def _claimed(run: Run, hits: Iterable[Hit]) -> bool:
    return any(h.first <= run.last and run.lead <= h.last for h in hits)


def _token_start_s(utt: Utterance, analysis: _Analysis, token: int) -> float:
    """When a token was said: its first word's start (the utterance's without words)."""
    return utt.words[analysis.norm.tokens[token].first].start_s if utt.words else utt.start_s


def _token_end_s(utt: Utterance, analysis: _Analysis, token: int) -> float:
    return utt.words[analysis.norm.tokens[token].last].end_s if utt.words else utt.end_s


# --- applying the redactions ---------------------------------------------------------------


def _unit_ranges(analysis: _Analysis) -> list[tuple[int, int, str]]:
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
    utt: Utterance, analysis: _Analysis, options: RedactOptions, patterns: Patterns
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
    ranges = _unit_ranges(_analyse(units, analysis.carried, options, patterns))
    if len(ranges) >= n_ranges:
        return _rebuild(units, ranges).strip() if ranges else utt.text
    return from_words
