"""How redaction reads a call turn by turn: each utterance analysed with the cues carried
into it from earlier ones (:func:`analyse`), and then what crosses turns
(:func:`analyse_turns`): runs a homophone word parts judged with the digits of the
party's neighbouring turns, a number read over a party's turns (a card read slowly) judged
whole, and the expiry dates and security codes said after a card.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pipeline.redact_detect import (
    CARD,
    CVV,
    PHONE,
    Carried,
    Cue,
    Hit,
    Run,
    after_card_joined_hits,
    card_read_slowly,
    cue_kinds,
    decide,
    find_cues,
    find_runs,
    id_text,
    is_resident_id,
    may_be_misheard_card,
    run_hits,
    whole_run_hit,
)
from pipeline.redact_match import Patterns, email_hits, pattern_hits, phone_matcher_hits
from pipeline.redact_text import Norm, count_words, is_skippable, normalise, text_units
from pipeline.types import Utterance

if TYPE_CHECKING:
    from pipeline.redact import RedactOptions


@dataclass(frozen=True, slots=True)
class Analysis:
    """One utterance as redaction reads it: its units, their normalised tokens, its digit
    runs and cues, the cues carried into it, what each run is, and the other hits."""

    units: tuple[str, ...]
    norm: Norm
    runs: tuple[Run, ...]
    cues: tuple[Cue, ...]
    carried: tuple[Carried, ...]
    run_hits: tuple[tuple[Hit, ...], ...]
    other_hits: tuple[Hit, ...]


def analyse_turns(
    utterances: Sequence[Utterance], options: RedactOptions, patterns: Patterns
) -> list[Analysis]:
    """Every utterance analysed, with what crosses turns judged: homophone words at a
    turn's edge, numbers read over turns, expiry dates and codes after a card."""
    analyses = _analyse_all(utterances, options, patterns)
    analyses = _bridge_over_turns(utterances, analyses, options, patterns)
    analyses = _join_split_runs(utterances, analyses, options)
    return _codes_after_cards(utterances, analyses, options)


# --- analysis ----------------------------------------------------------------------------


def _analyse_all(
    utterances: Sequence[Utterance], options: RedactOptions, patterns: Patterns
) -> list[Analysis]:
    analyses: list[Analysis] = []
    for k, utt in enumerate(utterances):
        carried = _carried_into(utterances, analyses, k, options)
        analyses.append(analyse(_units_of(utt), carried, options, patterns))
    return analyses


def _carried_into(
    utterances: Sequence[Utterance],
    analyses: Sequence[Analysis],
    k: int,
    options: RedactOptions,
) -> tuple[Carried, ...]:
    """The cues carried into utterance ``k`` from the analyses of the ones before it:
    none after a pause longer than ``cue_carry_s``."""
    if not k or utterances[k].start_s - utterances[k - 1].end_s > options.cue_carry_s:
        return ()
    return _next_carried(analyses[k - 1], options)


def _units_of(utt: Utterance) -> tuple[str, ...]:
    if utt.words:
        return tuple(w.text for w in utt.words)
    return text_units(utt.text)


def analyse(
    units: tuple[str, ...],
    carried: tuple[Carried, ...],
    options: RedactOptions,
    patterns: Patterns,
    *,
    around: tuple[int, int] = (0, 0),
    loose: bool = False,
) -> Analysis:
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
    return Analysis(units, norm, runs, cues, carried, hits, other)


def _next_carried(analysis: Analysis, options: RedactOptions) -> tuple[Carried, ...]:
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


def _card_starts(analysis: Analysis, before_run: int) -> list[int]:
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
    utterances: Sequence[Utterance], analyses: list[Analysis], options: RedactOptions
) -> list[Analysis]:
    """Judge digits read over several utterances of one party as one number. A card so
    joined answers the cues before it as one read whole does (:func:`_next_carried`): an
    order number or an amount said after it is not joined on as another card."""
    out = list(analyses)
    seen: set[tuple[int, int]] = set()
    for k in range(len(out)):
        # the turns before k are joined by now: their cards answer the cues carried into k
        out[k] = replace(out[k], carried=_carried_into(utterances, out, k, options))
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
    analyses: list[Analysis],
    options: RedactOptions,
    patterns: Patterns,
) -> list[Analysis]:
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
            out[k] = analyse(out[k].units, out[k].carried, options, patterns, around=around)
    return out


def _loosely(analysis: Analysis, options: RedactOptions, patterns: Patterns) -> Analysis:
    """``analysis`` with every homophone word between or at the edge of digits a digit."""
    if find_runs(analysis.norm.tokens, loose=True) == analysis.runs:
        return analysis
    return analyse(analysis.units, analysis.carried, options, patterns, loose=True)


def _edge_digits(
    utterances: Sequence[Utterance], analyses: Sequence[Analysis], options: RedactOptions
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
    utterances: Sequence[Utterance], analyses: Sequence[Analysis], k: int, options: RedactOptions
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
    analyses: Sequence[Analysis], chain: Sequence[tuple[int, int]], options: RedactOptions
) -> bool:
    """Whether the runs of ``chain`` are one card read slowly, over long pauses. A piece
    that alone is a phone (named as one) is read whole, never as a card's group."""
    if any(hit.kind == PHONE for u, r in chain for hit in analyses[u].run_hits[r]):
        return False
    pieces = [analyses[u].runs[r].digits for u, r in chain]
    return card_read_slowly(pieces, card_cue=_open_card_cue(analyses, chain[0], options))


def _open_card_cue(
    analyses: Sequence[Analysis], at: tuple[int, int], options: RedactOptions
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


def _run_ends(analysis: Analysis, r: int) -> bool:
    tokens = analysis.norm.tokens
    return all(is_skippable(t) for t in tokens[analysis.runs[r].last + 1 :])


def _run_starts(analysis: Analysis, r: int) -> bool:
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
    utterances: Sequence[Utterance], analyses: list[Analysis], options: RedactOptions
) -> list[Analysis]:
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


def _card_ends(utterances: Sequence[Utterance], analyses: Sequence[Analysis]) -> list[_CardEnd]:
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


def _open(analysis: Analysis, r: int) -> bool:
    """Whether run ``r`` is unclaimed by any other hit."""
    return not analysis.run_hits[r] and not _claimed(analysis.runs[r], analysis.other_hits)


def _judge_after_card(
    utterances: Sequence[Utterance],
    out: list[Analysis],
    at: tuple[int, int],
    options: RedactOptions,
) -> None:
    """Judge the run ``at`` joined with its open continuation; alone if the join fits
    nothing (each later run is judged in its own turn), two digits also after a security
    code's cue (:func:`pipeline.redact_detect.after_card_joined_hits`)."""
    chain = _open_chain(utterances, out, at, options)
    parts = [(out[u].runs[r], out[u].norm.tokens) for u, r in chain]
    k, r = at
    a = out[k]
    cued = CVV in cue_kinds(a.runs[r], a.norm, a.cues, a.carried, options)
    judged = after_card_joined_hits(parts, cued=cued)
    if len(chain) > 1 and not any(judged):
        chain, judged = chain[:1], after_card_joined_hits(parts[:1], cued=cued)
    for (u, r), hits in zip(chain, judged, strict=True):
        out[u] = _with_run_hits(out[u], r, hits)


def _open_chain(
    utterances: Sequence[Utterance],
    analyses: Sequence[Analysis],
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


def _with_run_hits(analysis: Analysis, r: int, hits: tuple[Hit, ...]) -> Analysis:
    """``analysis`` with run ``r``'s hits replaced."""
    old = analysis.run_hits
    return replace(analysis, run_hits=(*old[:r], hits, *old[r + 1 :]))


def _claimed(run: Run, hits: Iterable[Hit]) -> bool:
    return any(h.first <= run.last and run.lead <= h.last for h in hits)


def _token_start_s(utt: Utterance, analysis: Analysis, token: int) -> float:
    """When a token was said: its first word's start (the utterance's without words)."""
    return utt.words[analysis.norm.tokens[token].first].start_s if utt.words else utt.start_s


def _token_end_s(utt: Utterance, analysis: Analysis, token: int) -> float:
    return utt.words[analysis.norm.tokens[token].last].end_s if utt.words else utt.end_s
