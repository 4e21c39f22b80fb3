"""Contact reasons: why customers call, grouped by meaning, with ids stable from night to night.

Each call's *problem statement* is the customer's first turns that say what is wrong
(greetings, names, "yes" and the answers to identity questions skipped): the mean of their stored meaning vectors
(:mod:`pipeline.meaning`), so nothing is embedded again. Statements are compared in a
*reason space*: each language's typical statement is subtracted first, because the
meaning model keeps texts of one language near each other whatever they say (on the
labelled bench, two different problems in English sat as close as one problem told in
English and in Russian). The typical statement of a language is the mean of all its
statements so far (:class:`LanguageMeans`, kept in the warehouse), started from the mean of
the everyday requests in ``rubrics/reasons.yaml`` so that the first night has one too.

Reasons are found incrementally, so their ids hold across nights: each statement goes to
the nearest reason whose centroid is at least :attr:`ReasonOptions.join_similarity`
similar (cosine in the space), and the centroid moves to the new mean; a statement near
none opens a new reason. Centroids are kept as raw means with their members' languages,
so they are re-centred as the language means settle. A reason's label is its most
typical wording: the example statement nearest its centroid, shortened. Trends, rising
reasons and repeat contacts are in :mod:`pipeline.reason_trends`; the stored form in
:mod:`pipeline.reason_store`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from pipeline import errors
from pipeline.meaning import Vectors
from pipeline.redact_text import numeric_share
from pipeline.rubric.shipped import shipped_root
from pipeline.text import shorten as shorten  # re-exported: the reasons' labels
from pipeline.textfile import load_yaml
from pipeline.types import Transcript

Vector = npt.NDArray[np.float32]
REASON_ANCHORS = shipped_root() / "reasons.yaml"


@dataclass(frozen=True, slots=True)
class ReasonOptions:
    """How problem statements are chosen, grouped and watched (``[reasons]`` in earmark.toml)."""

    join_similarity: float = 0.175
    """A statement joins the nearest reason whose centroid is at least this similar (cosine
    in the reason space, where unrelated statements sit near 0); calibrated on the
    labelled bench (``bench/reasons.py`` sweeps it: 0.20 is purer, 0.15 and below start to
    mix reasons; 0.175 kept purity ≥ 0.97 at coverage 0.82-0.85)."""
    small_talk_margin: float = 0.0
    """A customer turn is small talk (skipped) when it is this much nearer to the small-talk
    lines of ``rubrics/reasons.yaml`` than to its everyday requests."""
    read_out_share: float = 0.5
    """A customer turn at least this share of which (in characters) reads out numbers or a
    date is an answer to an identity or verification question (a date of birth, an account
    number, a postcode), never the problem statement (:func:`pipeline.redact_text.numeric_share`)."""
    statement_turns: int = 2
    """At most this many consecutive customer turns make the statement."""
    first_turns: int = 6
    """The statement is looked for in the customer's first this many turns."""
    settle_rounds: int = 2
    """Rounds in which the night's statements move to the reason nearest them after all
    were placed (a k-means step: the first calls of a night then matter less)."""
    label_chars: int = 80
    examples: int = 5
    """Example calls kept per reason (the statements nearest its centroid)."""
    baseline_days: int = 28
    """Rising is judged against the share of the days (and weeks) before, this many days."""
    min_count: int = 3
    min_baseline_calls: int = 100
    """Nothing is flagged against a baseline of fewer calls (the first nights of a warehouse,
    a small team): with little history every reason looks new."""
    min_baseline_days: int = 14
    """…or of fewer days with calls (in the first weeks the reasons themselves still settle)."""
    """A reason is flagged only with at least this many calls in the day (or week)."""
    p_value: float = 0.001
    """How surprising a count must be under the baseline share (Poisson tail) to flag it."""
    min_ratio: float = 2.0
    """…and how many times the expected count it must be."""
    repeat_days: float = 7.0
    """A call is a repeat contact by reason when the same customer called about the same
    reason within this many days before."""
    trend_calls: int = 2
    """Calls of each rising reason added to the queues (kind ``trend``), within budget."""
    dissatisfaction_items: tuple[str, ...] = ("customer_dissatisfaction",)
    """Rubric items whose finding marks a dissatisfied customer (the rate per reason)."""
    escalation_items: tuple[str, ...] = ("escalation_request",)


DEFAULT_OPTIONS = ReasonOptions()


@dataclass(frozen=True, slots=True)
class LanguageMean:
    """The mean raw statement vector of one language, and how many statements made it."""

    language: str
    mean: Vector = field(repr=False, compare=False)
    n: int


@dataclass(frozen=True, slots=True)
class ReasonSpace:
    """Where statements are compared: the language offsets and the small-talk test."""

    anchors: Mapping[str, Vector]
    """Each language's mean everyday request (``rubrics/reasons.yaml``): the offset's start."""
    small_talk: Vectors
    requests: Vectors
    means: Mapping[str, LanguageMean] = field(default_factory=dict)
    """The statements seen so far, per language (see :meth:`learn`)."""
    prior_weight: float = 5.0
    """The anchors count as this many statements in a language's offset."""

    def offset(self, language: str) -> Vector:
        """A language's typical statement: its anchors' mean, then its statements' mean."""
        anchor = self.anchors.get(language)
        if anchor is None:  # a language without anchors: the mean of all
            anchor = np.mean(np.stack(list(self.anchors.values())), axis=0).astype(np.float32)
        seen = self.means.get(language)
        if seen is None or seen.n == 0:
            return anchor
        w = self.prior_weight
        return ((w * anchor + seen.n * seen.mean) / (w + seen.n)).astype(np.float32)

    def center(self, vector: Vector, language: str) -> Vector:
        """``vector`` with its language's offset taken out, at unit length."""
        return _unit(np.asarray(vector, dtype=np.float32) - self.offset(language))

    def direction(self, centroid: Vector, languages: Mapping[str, int]) -> Vector:
        """A reason's centroid (a raw mean) with its members' language offsets taken out."""
        total = sum(languages.values())
        if total <= 0:
            return np.zeros_like(centroid)
        moved = centroid - sum(n / total * self.offset(lang) for lang, n in languages.items())
        return _unit(np.asarray(moved, dtype=np.float32))

    def learn(self, statements: Iterable[Statement]) -> ReasonSpace:
        """The space with ``statements`` added to their languages' means."""
        means = dict(self.means)
        for s in statements:
            old = means.get(s.language) or LanguageMean(s.language, np.zeros_like(s.vector), 0)
            n = old.n + 1
            means[s.language] = LanguageMean(
                s.language, ((old.mean * old.n + s.vector) / n).astype(np.float32), n
            )
        return replace(self, means=means)

    def small_talk_margin(self, vectors: Vectors) -> npt.NDArray[np.float32]:
        """Per vector: nearness to small talk minus nearness to everyday requests."""
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.float32)
        talk = (vectors @ self.small_talk.T).max(axis=1)
        asked = (vectors @ self.requests.T).max(axis=1)
        margin: npt.NDArray[np.float32] = (talk - asked).astype(np.float32)
        return margin


def _unit(v: Vector) -> Vector:
    return (v / max(float(np.linalg.norm(v)), 1e-9)).astype(np.float32)


@dataclass(frozen=True, slots=True)
class AnchorLines:
    """The lines of ``rubrics/reasons.yaml``: requests and small talk, per language."""

    requests: Mapping[str, tuple[str, ...]]
    small_talk: Mapping[str, tuple[str, ...]]


def load_anchor_lines(path: Path = REASON_ANCHORS) -> AnchorLines:
    """Read the reason space's anchor lines.

    Raises
    ------
    RubricError
        ``R016`` when the file is unreadable or lacks either list for a language.
    """
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
        requests = {k: tuple(map(str, v)) for k, v in data["language_anchors"].items()}
        talk = {k: tuple(map(str, v)) for k, v in data["small_talk"].items()}
    except (OSError, yaml.YAMLError, KeyError, AttributeError, TypeError) as exc:
        raise errors.REASON_ANCHORS_INVALID(
            path=path, problem=f"not a reason anchor file: {exc}"
        ) from None
    empty = sorted(k for k in {*requests, *talk} if not requests.get(k) or not talk.get(k))
    if empty or not requests:
        raise errors.REASON_ANCHORS_INVALID(
            path=path,
            problem="every language needs language_anchors and small_talk lines; "
            f"missing for {empty or 'all'}",
        )
    return AnchorLines(requests, talk)


def reason_space(lines: AnchorLines, embed: Callable[[Sequence[str]], Vectors]) -> ReasonSpace:
    """The space from the anchor lines, embedded by ``embed`` (an embedder's ``embed_examples``)."""
    requests = {lang: embed(list(texts)) for lang, texts in lines.requests.items()}
    talk = embed([t for texts in lines.small_talk.values() for t in texts])
    anchors = {lang: v.mean(axis=0).astype(np.float32) for lang, v in requests.items()}
    return ReasonSpace(anchors, talk, np.concatenate(list(requests.values())))


# ---------------------------------------------------------------- problem statements


@dataclass(frozen=True, slots=True)
class Statement:
    """A call's problem statement: where it was said, its words, its vector in the space."""

    call_id: str
    call_date: str
    language: str
    text: str
    start_s: float
    end_s: float
    vector: Vector = field(repr=False, compare=False)
    """The mean of its turns' meaning vectors (raw: :meth:`ReasonSpace.center` places it)."""
    team_id: str = ""
    started_at: str = ""


def problem_statement(
    transcript: Transcript,
    vectors: Vectors | None,
    space: ReasonSpace,
    *,
    call_date: str,
    language: str,
    team_id: str = "",
    started_at: str = "",
    options: ReasonOptions = DEFAULT_OPTIONS,
) -> Statement | None:
    """The customer's first turns that state the reason for the call, or ``None``; the
    statement carries the call's ``team_id`` and ``started_at`` for the trends.

    Among the customer's first :attr:`~ReasonOptions.first_turns` turns, numbers or a
    date read out (:attr:`~ReasonOptions.read_out_share`) and small talk are skipped
    (when all that is left reads as small talk, the turn that reads least so is taken;
    when nothing is left, there is no statement); the first other turn and the customer
    turns right after it (no agent turn between, at most
    :attr:`~ReasonOptions.statement_turns`) are the statement, its vector the mean of
    theirs (the stored vectors: nothing is embedded again).
    """
    if vectors is None or len(vectors) != len(transcript.utterances):
        return None
    utts = transcript.utterances
    said = _stating_turns(transcript, vectors, space, options)
    if not said:
        return None
    chosen = [said[0]]
    for i in range(said[0] + 1, len(utts)):
        if len(chosen) >= options.statement_turns or utts[i].speaker != "customer":
            break
        if i in said:
            chosen.append(i)
    mean = vectors[chosen].mean(axis=0)
    return Statement(
        call_id=transcript.call_id,
        call_date=call_date,
        language=language,
        text=" ".join(utts[i].text.strip() for i in chosen),
        start_s=float(utts[chosen[0]].start_s),
        end_s=float(utts[chosen[-1]].end_s),
        vector=mean.astype(np.float32),
        team_id=team_id,
        started_at=started_at,
    )


def _stating_turns(
    transcript: Transcript, vectors: Vectors, space: ReasonSpace, options: ReasonOptions
) -> list[int]:
    """The indices of the customer's first turns that may state the problem: neither a
    number or date read out (the answer to a verification question) nor small talk."""
    utts = transcript.utterances
    customer = [i for i, u in enumerate(utts) if u.speaker == "customer" and u.text.strip()]
    turns = [
        i
        for i in customer[: options.first_turns]
        if numeric_share(utts[i].text) < options.read_out_share
    ]
    if not turns:
        return []
    margins = space.small_talk_margin(vectors[turns])
    said = [i for i, m in zip(turns, margins, strict=True) if m <= options.small_talk_margin]
    if not said:  # all of it reads as small talk: the least so (a dropped call is a reason too)
        said = [turns[int(np.argmin(margins))]]
    return said


# ---------------------------------------------------------------- reasons


@dataclass(frozen=True, slots=True)
class Example:
    """One example call of a reason: its statement, and how typical it is (cosine to the centroid)."""

    statement: Statement
    similarity: float

    @property
    def call_id(self) -> str:
        return self.statement.call_id

    @property
    def call_date(self) -> str:
        return self.statement.call_date

    @property
    def language(self) -> str:
        return self.statement.language

    @property
    def text(self) -> str:
        return self.statement.text


@dataclass(frozen=True, slots=True)
class Reason:
    """A contact reason (the ``contact_reasons`` table): an id kept from night to night."""

    reason_id: str
    label: str
    centroid: Vector = field(repr=False, compare=False)
    """The raw mean of its members' statement vectors: with :attr:`language_counts` it is
    their sum, so a re-run night takes a call's statement out again exactly."""
    language_counts: Mapping[str, int] = field(default_factory=dict)
    """Members per language."""
    created: str = ""
    """The date of its first call."""
    last_seen: str = ""
    examples: tuple[Example, ...] = ()

    @property
    def n_calls(self) -> int:
        return sum(self.language_counts.values())

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(k for k, n in self.language_counts.items() if n > 0))


@dataclass(frozen=True, slots=True)
class Assignment:
    """One call's reason (the ``call_reasons`` table)."""

    statement: Statement
    reason_id: str
    similarity: float
    """Cosine of the statement to the reason's centroid when it joined (1.0: it opened it)."""
    opened: bool = False
    repeat_of: str = ""
    """The same customer's earlier call about the same reason (see :mod:`pipeline.reason_trends`)."""


def next_reason_id(reasons: Iterable[Reason]) -> str:
    """``R0001``, ``R0002``…: one more than the highest id ever given."""
    numbers = [int(m.group(1)) for r in reasons if (m := re.fullmatch(r"R(\d+)", r.reason_id))]
    return f"R{max(numbers, default=0) + 1:04d}"


def assign(
    statements: Sequence[Statement],
    reasons: Sequence[Reason],
    space: ReasonSpace,
    *,
    options: ReasonOptions = DEFAULT_OPTIONS,
) -> tuple[list[Reason], list[Assignment]]:
    """Give each statement a reason (callers sort them by time: ids open in that order).

    ``space`` should already hold the night's statements (:meth:`ReasonSpace.learn`), so a
    first night has language means too. Existing reasons keep their ids; a statement whose
    nearest reason is less similar than :attr:`~ReasonOptions.join_similarity` opens a new
    one. The night's statements are then settled (:attr:`~ReasonOptions.settle_rounds`):
    each moves to the reason now nearest it, so the order they came in matters less.
    Returns every reason (centroids, counts, examples, labels updated) and one
    assignment per statement.
    """
    if not statements:
        return list(reasons), []
    out = _first_pass(statements, reasons, space, options)
    for _ in range(options.settle_rounds):
        out = _settled(out, reasons, space, options)
    out = _renumbered(out, reasons)
    catalogue = _rebuilt(reasons, out)
    members: dict[str, list[Example]] = {}
    for a in out:
        members.setdefault(a.reason_id, []).append(_example(a.statement))
    return [_relabel(r, members.get(r.reason_id, ()), space, options) for r in catalogue], out


def _first_pass(
    statements: Sequence[Statement],
    reasons: Sequence[Reason],
    space: ReasonSpace,
    options: ReasonOptions,
) -> list[Assignment]:
    """Each statement to the nearest reason so far, or a new one (the centroid moves)."""
    catalogue = {r.reason_id: r for r in reasons}
    ids = list(catalogue)
    directions = _directions(list(catalogue.values()), space, statements)
    out: list[Assignment] = []
    for s in statements:
        sims = directions @ space.center(s.vector, s.language)
        best = int(np.argmax(sims)) if len(sims) else -1
        if best >= 0 and float(sims[best]) >= options.join_similarity:
            rid, similarity, opened = ids[best], float(sims[best]), False
            catalogue[rid] = _joined(catalogue[rid], s)
        else:
            rid, similarity, opened = next_reason_id(catalogue.values()), 1.0, True
            catalogue[rid] = _opened(rid, s)
            ids.append(rid)
            directions = np.vstack([directions, np.zeros((1, directions.shape[1]), np.float32)])
            best = len(ids) - 1
        r = catalogue[rid]
        directions[best] = space.direction(r.centroid, r.language_counts)
        out.append(Assignment(s, rid, round(similarity, 4), opened))
    return out


def _directions(
    reasons: Sequence[Reason], space: ReasonSpace, statements: Sequence[Statement]
) -> Vectors:
    """The reasons' unit directions, one row each (an emptied reason's is zero: never joined)."""
    dim = statements[0].vector.size if statements else 1
    directions: Vectors = np.zeros((len(reasons), dim), dtype=np.float32)
    for k, r in enumerate(reasons):
        directions[k] = space.direction(r.centroid, r.language_counts)
    return directions


def _settled(
    done: Sequence[Assignment],
    reasons: Sequence[Reason],
    space: ReasonSpace,
    options: ReasonOptions,
) -> list[Assignment]:
    """One settling round: the night's statements each to the reason nearest it now, its
    own reason judged without it (else every call would stay where it is, and a reason of
    one call could never give it up)."""
    catalogue = _rebuilt(reasons, done)
    statements = [a.statement for a in done]
    directions = _directions(catalogue, space, statements)
    ids = [r.reason_id for r in catalogue]
    at = {rid: k for k, rid in enumerate(ids)}
    out = []
    for a in done:
        own = at[a.reason_id]
        sims = directions @ space.center(a.statement.vector, a.statement.language)
        without = withdraw([catalogue[own]], [a])[0]
        sims[own] = float(
            space.direction(without.centroid, without.language_counts)
            @ space.center(a.statement.vector, a.statement.language)
        )
        best = int(np.argmax(sims))
        similarity = float(sims[best])
        if best != own and similarity >= options.join_similarity and similarity > sims[own]:
            out.append(replace(a, reason_id=ids[best], similarity=round(similarity, 4)))
        else:
            out.append(a)
    return out


def _renumbered(done: Sequence[Assignment], reasons: Sequence[Reason]) -> list[Assignment]:
    """Reasons opened tonight numbered in the order of their first call (settling may have
    emptied some); that call is the one marked ``opened``."""
    known = {r.reason_id for r in reasons}
    fresh: dict[str, str] = {}
    number = int(next_reason_id(reasons)[1:])
    out = []
    for a in done:
        if a.reason_id in known:
            out.append(replace(a, opened=False))
            continue
        first = a.reason_id not in fresh
        if first:
            fresh[a.reason_id] = f"R{number + len(fresh):04d}"
        out.append(
            replace(
                a,
                reason_id=fresh[a.reason_id],
                opened=first,
                similarity=1.0 if first else a.similarity,
            )
        )
    return out


def _rebuilt(reasons: Sequence[Reason], done: Iterable[Assignment]) -> list[Reason]:
    """``reasons`` with the night's assignments added (new ids opened in order)."""
    catalogue = {r.reason_id: r for r in reasons}
    for a in done:
        r = catalogue.get(a.reason_id)
        catalogue[a.reason_id] = (
            _opened(a.reason_id, a.statement) if r is None else _joined(r, a.statement)
        )
    return list(catalogue.values())


def withdraw(reasons: Sequence[Reason], earlier: Iterable[Assignment]) -> list[Reason]:
    """Take calls assigned before out of their reasons (a night re-run: each call counts once)."""
    by_id = {r.reason_id: r for r in reasons}
    for a in earlier:
        r = by_id.get(a.reason_id)
        lang = a.statement.language
        if r is None or r.language_counts.get(lang, 0) <= 0:
            continue
        n = r.n_calls - 1
        centroid = (r.centroid * r.n_calls - a.statement.vector) / n if n else r.centroid * 0
        counts = {**r.language_counts, lang: r.language_counts[lang] - 1}
        kept = tuple(e for e in r.examples if e.call_id != a.statement.call_id)
        by_id[a.reason_id] = replace(
            r, centroid=centroid.astype(np.float32), language_counts=counts, examples=kept
        )
    return [by_id[r.reason_id] for r in reasons]


def _opened(reason_id: str, s: Statement) -> Reason:
    return Reason(
        reason_id=reason_id,
        label="",
        centroid=s.vector.astype(np.float32),
        language_counts={s.language: 1},
        created=s.call_date,
        last_seen=s.call_date,
    )


def _joined(r: Reason, s: Statement) -> Reason:
    n = r.n_calls
    counts = {**r.language_counts, s.language: r.language_counts.get(s.language, 0) + 1}
    return replace(
        r,
        centroid=((r.centroid * n + s.vector) / (n + 1)).astype(np.float32),
        language_counts=counts,
        last_seen=max(r.last_seen, s.call_date),
        created=min(r.created, s.call_date) if r.created else s.call_date,
    )


def _example(s: Statement) -> Example:
    return Example(s, 0.0)


def _relabel(
    r: Reason, fresh: Iterable[Example], space: ReasonSpace, options: ReasonOptions
) -> Reason:
    """Keep the examples nearest the (moved) centroid; the nearest gives the label."""
    direction = space.direction(r.centroid, r.language_counts)
    pool = {e.call_id: e for e in (*r.examples, *fresh)}
    scored = [
        replace(
            e, similarity=round(float(space.center(e.statement.vector, e.language) @ direction), 4)
        )
        for e in pool.values()
    ]
    scored.sort(key=lambda e: (-e.similarity, e.call_date, e.call_id))
    kept = tuple(scored[: options.examples])
    label = shorten(kept[0].text, options.label_chars) if kept else r.label
    return replace(r, examples=kept, label=label)
