"""Contact reasons in the warehouse: the night's update, and what readers need of them.

``contact_reasons`` (the catalogue, one file) and ``reason_languages`` (the language
means) are read and replaced whole each night; ``call_reasons`` (the reason of each call,
partitioned by ``call_date``) is upserted like every other table. A night re-run on the
same calls changes nothing: a call whose statement is unchanged keeps its reason; one
whose statement changed (a new transcript) is taken out of its old reason first.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pipeline import warehouse as wh
from pipeline.config import Config
from pipeline.meaning import decode_vectors, encode_vectors
from pipeline.reason_trends import ReasonCall, Rising, repeats_by_reason, rising_reasons
from pipeline.reasons import (
    DEFAULT_OPTIONS,
    Assignment,
    Example,
    LanguageMean,
    Reason,
    ReasonOptions,
    ReasonSpace,
    Statement,
    Vector,
    assign,
    withdraw,
)
from pipeline.row_records import AssignmentRow, ExampleRow, ReasonRow
from pipeline.shapes import from_row, to_row

Row = dict[str, Any]


def options_from_config(config: Config) -> ReasonOptions:
    """``[reasons]`` as :class:`~pipeline.reasons.ReasonOptions`, with the repeat window of
    ``repeat_contact_days`` (one window for repeat contacts, by customer or by reason)."""
    given = config.reasons.model_dump(exclude={"enabled"})
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    return ReasonOptions(**fields, repeat_days=config.repeat_contact_days)


# ---------------------------------------------------------------- rows


def _vector(raw: bytes | None) -> Vector:
    decoded = decode_vectors([raw]) if raw is not None else None
    vector: Vector = np.zeros(0, dtype=np.float32) if decoded is None else decoded[0]
    return vector


def _bytes(vector: np.ndarray[Any, Any]) -> bytes | None:
    return encode_vectors(np.asarray(vector, dtype=np.float32)[None, :], 1)[0]


def _said(s: Statement) -> dict[str, Any]:
    """A statement's fields in a ``call_reasons`` row and in a reason's example (the call
    date is the partition of one and a column of the other)."""
    return {
        "call_id": s.call_id,
        "language": s.language,
        "text": s.text,
        "start_s": s.start_s,
        "end_s": s.end_s,
        "vector": _bytes(s.vector),
    }


def _statement(row: AssignmentRow | ExampleRow, call_date: str) -> Statement:
    vector = _vector(row.vector)
    return Statement(row.call_id, call_date, row.language, row.text, row.start_s, row.end_s, vector)


def reason_row(r: Reason) -> Row:
    examples = tuple(
        ExampleRow(**_said(e.statement), call_date=e.call_date, similarity=e.similarity)
        for e in r.examples
    )
    return to_row(
        ReasonRow(
            reason_id=r.reason_id,
            label=r.label,
            languages=r.languages,
            language_counts=dict(r.language_counts),
            n_calls=r.n_calls,
            centroid=_bytes(r.centroid),
            created=r.created,
            last_seen=r.last_seen,
            examples=examples,
        )
    )


def reason_from_row(row: Mapping[str, Any]) -> Reason:
    r = from_row(ReasonRow, row)
    return Reason(
        reason_id=r.reason_id,
        label=r.label,
        centroid=_vector(r.centroid),
        language_counts=r.language_counts,
        created=r.created,
        last_seen=r.last_seen,
        examples=tuple(Example(_statement(e, e.call_date), e.similarity) for e in r.examples),
    )


def assignment_row(a: Assignment) -> Row:
    return to_row(
        AssignmentRow(
            **_said(a.statement),
            reason_id=a.reason_id,
            similarity=a.similarity,
            opened=a.opened,
            repeat_of=a.repeat_of,
        )
    )


def assignment_from_row(row: Mapping[str, Any], call_date: str) -> Assignment:
    a = from_row(AssignmentRow, row)
    return Assignment(_statement(a, call_date), a.reason_id, a.similarity, a.opened, a.repeat_of)


# ---------------------------------------------------------------- read


def read_reasons(root: str) -> list[Reason]:
    """The catalogue (empty before the first night with reasons)."""
    table = wh.read_whole(wh.reasons_path(root), wh.REASONS_SCHEMA)
    return [reason_from_row(r) for r in table.to_pylist()] if table is not None else []


def read_language_means(root: str) -> dict[str, LanguageMean]:
    table = wh.read_whole(wh.reasons_path(root, "languages.parquet"), wh.REASON_LANGUAGES_SCHEMA)
    rows = table.to_pylist() if table is not None else []
    return {r["language"]: LanguageMean(r["language"], _vector(r["mean"]), r["n"]) for r in rows}


def read_assignments(root: str, dates: Iterable[str]) -> list[Assignment]:
    """The stored reasons of the calls of ``dates``."""
    out = []
    for date in sorted(set(dates)):
        table = wh.read_partition(root, "call_reasons", date)
        out += [assignment_from_row(r, date) for r in (table.to_pylist() if table else ())]
    return out


def dates_between(root: str, first: str, last: str) -> list[str]:
    return [d for d in wh.partition_dates(root, "call_reasons") if first <= d <= last]


def reason_calls(root: str, dates: Sequence[str], options: ReasonOptions) -> list[ReasonCall]:
    """The calls of ``dates`` with their reason, team, customer and signals (findings)."""
    out: list[ReasonCall] = []
    for date in dates:
        stated = read_assignments(root, [date])
        if not stated:
            continue
        calls = wh.read_partition(
            root, "calls", date, columns=["call_id", "team_id", "customer_id", "started_at"]
        )
        info = {r["call_id"]: r for r in (calls.to_pylist() if calls is not None else ())}
        dissatisfied, escalated = _signals(root, date, options)
        for a in stated:
            c = info.get(a.statement.call_id, {})
            out.append(
                ReasonCall(
                    a.statement.call_id,
                    date,
                    a.reason_id,
                    team_id=c.get("team_id") or "",
                    customer_id=c.get("customer_id") or "",
                    started_at=c.get("started_at") or "",
                    dissatisfied=a.statement.call_id in dissatisfied,
                    escalated=a.statement.call_id in escalated,
                    start_s=a.statement.start_s,
                    end_s=a.statement.end_s,
                    repeat_of=a.repeat_of,
                )
            )
    return out


def _signals(root: str, date: str, options: ReasonOptions) -> tuple[set[str], set[str]]:
    table = wh.read_partition(root, "findings", date, columns=["call_id", "item_id", "detected"])
    dissatisfied: set[str] = set()
    escalated: set[str] = set()
    for r in table.to_pylist() if table is not None else ():
        if r["detected"] and r["item_id"] in options.dissatisfaction_items:
            dissatisfied.add(r["call_id"])
        if r["detected"] and r["item_id"] in options.escalation_items:
            escalated.add(r["call_id"])
    return dissatisfied, escalated


def _days_before(date: str, days: float) -> str:
    return (dt.date.fromisoformat(date) - dt.timedelta(days=int(days) + 1)).isoformat()


def rising_on(
    root: str,
    date: str,
    options: ReasonOptions = DEFAULT_OPTIONS,
    index: ReasonCallIndex | None = None,
) -> list[Rising]:
    """What is rising on ``date``, from the stored tables (the night, the queue, the CLI),
    read through ``index`` when one is kept (the review app)."""
    dates = dates_between(root, _days_before(date, options.baseline_days + 7), date)
    calls = index.calls(dates, options) if index else reason_calls(root, dates, options)
    return rising_reasons(calls, date=date, options=options)


def period_start(last: str, days: int) -> str:
    """The first day of the ``days`` days that end on ``last`` (``last`` itself for 1)."""
    return (dt.date.fromisoformat(last) - dt.timedelta(days=days - 1)).isoformat()


@dataclass(frozen=True, slots=True)
class ReasonsPeriod:
    """The stored nights from ``first`` to ``last``: their calls with reasons, what rose on
    ``last``, and the reasons (``earmark reasons``, the review app's reason pages)."""

    first: str
    last: str
    days: tuple[str, ...]
    """The stored nights of the period."""
    calls: tuple[ReasonCall, ...]
    rising: tuple[Rising, ...]
    reasons: dict[str, Reason]
    team: str = ""
    """Only this team's calls and the flags raised on them (``""``: every team)."""
    teams: tuple[str, ...] = ()
    """The teams with calls in the period (to choose from)."""


def reasons_period(
    root: str,
    options: ReasonOptions,
    *,
    first: str,
    last: str,
    team: str = "",
    index: ReasonCallIndex | None = None,
) -> ReasonsPeriod:
    """Read a :class:`ReasonsPeriod` (through ``index`` when one is kept)."""
    days = dates_between(root, first, last)
    calls = index.calls(days, options) if index else reason_calls(root, days, options)
    rising = rising_on(root, last, options, index) if days else []
    teams = tuple(sorted({c.team_id for c in calls if c.team_id}))
    if team:
        calls = [c for c in calls if c.team_id == team]
        rising = [f for f in rising if f.team_id == team]
    reasons = {r.reason_id: r for r in read_reasons(root)}
    return ReasonsPeriod(
        first, last, tuple(days), tuple(calls), tuple(rising), reasons, team, teams
    )


class ReasonCallIndex:
    """Each night's :class:`ReasonCall` rows, read again only for a night whose tables
    changed (thread-safe): the review app's reason pages read a baseline of weeks on every
    request.

    Parameters
    ----------
    root
        Warehouse folder or URL.
    """

    _TABLES = ("call_reasons", "calls", "findings")

    def __init__(self, root: str) -> None:
        self.root = root
        self._nights: dict[tuple[str, ReasonOptions], tuple[object, list[ReasonCall]]] = {}
        self._lock = threading.Lock()

    def calls(self, dates: Sequence[str], options: ReasonOptions) -> list[ReasonCall]:
        """The calls of ``dates`` (as :func:`reason_calls` reads them)."""
        out: list[ReasonCall] = []
        with self._lock:
            for date in dates:
                stamp = tuple(wh.stamp(wh.partition_path(self.root, t, date)) for t in self._TABLES)
                kept = self._nights.get((date, options))
                if kept is None or kept[0] != stamp:
                    kept = self._nights[(date, options)] = (
                        stamp,
                        reason_calls(self.root, [date], options),
                    )
                out.extend(kept[1])
        return out


# ---------------------------------------------------------------- the night


@dataclass(frozen=True, slots=True)
class NightReasons:
    """What the night's reason step did."""

    assigned: int = 0
    kept: int = 0
    """Calls whose statement was already stored unchanged (a re-run): reason kept."""
    opened: list[str] = field(default_factory=list)
    """Ids of the reasons opened tonight."""
    repeats: int = 0
    """Tonight's calls that repeat a contact about the same reason."""


def update_reasons(
    root: str,
    statements: Sequence[Statement],
    space: ReasonSpace,
    options: ReasonOptions = DEFAULT_OPTIONS,
) -> NightReasons:
    """Assign the night's statements to the stored reasons and write the three tables.

    ``space`` comes with the anchors only; the stored language means are loaded here.
    """
    if not statements:
        return NightReasons()
    earlier = {
        a.statement.call_id: a for a in read_assignments(root, {s.call_date for s in statements})
    }
    fresh = [s for s in statements if _changed(earlier.get(s.call_id), s)]
    if not fresh:  # a re-run of calls already assigned: nothing changes
        return NightReasons(kept=len(statements))
    reasons = withdraw(
        read_reasons(root), [earlier[s.call_id] for s in fresh if s.call_id in earlier]
    )
    space = replace(space, means=read_language_means(root)).learn(fresh)
    fresh.sort(key=lambda s: (s.call_date, s.started_at, s.call_id))
    reasons, done = assign(fresh, reasons, space, options=options)
    done = _link_repeats(root, done, options)
    by_date: dict[str, list[Row]] = defaultdict(list)
    for a in done:
        by_date[a.statement.call_date].append(assignment_row(a))
    # The catalogue first: a night killed between the writes leaves calls without their
    # reason (the re-run assigns them again, counting them twice in a centroid), never a
    # call pointing at a reason id the catalogue lacks (which a later night would reuse).
    wh.write_whole(wh.reasons_path(root), [reason_row(r) for r in reasons], wh.REASONS_SCHEMA)
    means = [
        {"language": m.language, "mean": _bytes(m.mean), "n": m.n} for m in space.means.values()
    ]
    wh.write_whole(wh.reasons_path(root, "languages.parquet"), means, wh.REASON_LANGUAGES_SCHEMA)
    wh.upsert(root, "call_reasons", by_date)
    return NightReasons(
        assigned=len(done),
        kept=len(statements) - len(fresh),
        opened=[a.reason_id for a in done if a.opened],
        repeats=sum(1 for a in done if a.repeat_of),
    )


def _changed(before: Assignment | None, now: Statement) -> bool:
    return before is None or before.statement.text != now.text


def _link_repeats(
    root: str, done: Sequence[Assignment], options: ReasonOptions
) -> list[Assignment]:
    """Set ``repeat_of`` on tonight's assignments (earlier stored calls count too)."""
    if not done:
        return []
    dates = sorted({a.statement.call_date for a in done})
    stored = reason_calls(
        root, dates_between(root, _days_before(dates[0], options.repeat_days), dates[-1]), options
    )
    tonight = {a.statement.call_id: a for a in done}
    meta = _call_meta(root, dates)
    calls = [c for c in stored if c.call_id not in tonight]
    calls += [
        ReasonCall(
            cid,
            a.statement.call_date,
            a.reason_id,
            customer_id=meta.get(cid, ("", ""))[0],
            started_at=meta.get(cid, ("", ""))[1] or a.statement.started_at,
        )
        for cid, a in tonight.items()
    ]
    links = repeats_by_reason(calls, days=options.repeat_days)
    return [replace(a, repeat_of=links.get(a.statement.call_id, "")) for a in done]


def _call_meta(root: str, dates: Sequence[str]) -> dict[str, tuple[str, str]]:
    out = {}
    for date in dates:
        table = wh.read_partition(
            root, "calls", date, columns=["call_id", "customer_id", "started_at"]
        )
        for r in table.to_pylist() if table is not None else ():
            out[r["call_id"]] = (r["customer_id"] or "", r["started_at"] or "")
    return out
