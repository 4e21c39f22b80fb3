"""What inspectors write: reviews (one row per save, history kept), the audit log of who
opened which call, and failed sign-ins. SQLAlchemy 2.0 core: SQLite by default, any URL
SQLAlchemy knows (e.g. ``postgresql+psycopg://…``) when several servers share it.

A save is one transaction that only inserts: two inspectors saving the same call at
once both land in the history, and the latest save is the call's current review.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline import warehouse as wh
from pipeline.errors import ConfigError

R = TypeVar("R")
Verdict = Literal["correct", "incorrect", "na"]
VERDICTS: tuple[Verdict, ...] = ("correct", "incorrect", "na")
"""A finding's verdict: the detector was right, wrong, or the item does not apply to the
call (``"na"``: "hold etiquette" on a call with no hold), which on an item not detected
is neither a hit nor a miss, and on a detection a false positive (calibration). Reviews
saved before ``"na"`` existed hold only the first two."""
NOT_APPLICABLE: Verdict = "na"
OVERALL = ("excellent", "pass", "fail")
"""An inspector's overall verdict on a call (``""`` when not given)."""

ResponseKind = Literal["acknowledge", "dispute"]
RESPONSE_KINDS: tuple[ResponseKind, ...] = ("acknowledge", "dispute")


@dataclass(frozen=True, slots=True)
class FindingVerdict:
    """An inspector's verdict on one finding, with what the detector said at the time."""

    rubric_id: str
    rubric_version: int
    item_id: str
    detected: bool
    detector_outcome: str
    verdict: Verdict
    note: str = ""


@dataclass(frozen=True, slots=True)
class MissedItem:
    """A rubric item the inspector heard at ``at_s`` and the detector did not report."""

    item_id: str
    at_s: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class Review:
    """One save of a call's review (``id``/``saved_at`` are 0/``""`` before it is saved)."""

    call_id: str
    reviewer: str
    overall: str = ""
    coaching_note: str = ""
    findings: tuple[FindingVerdict, ...] = ()
    missed: tuple[MissedItem, ...] = ()
    id: int = 0
    saved_at: str = ""
    base_review_id: int | None = None
    """The latest review the inspector saw when they opened the form (conflict notice)."""


@dataclass(frozen=True, slots=True)
class Opened:
    """An audit row: who opened which call, when (UTC, ISO 8601)."""

    who: str
    call_id: str
    at: str


@dataclass(frozen=True, slots=True)
class Opener:
    """Who opened a call: how many times, and when last (UTC, ISO 8601)."""

    who: str
    times: int
    last_at: str


@dataclass(frozen=True, slots=True)
class CoachingSession:
    """A one-to-one of an inspector (the coach) with an agent about their recent calls.

    ``strengths`` and ``improvements`` are one point each, so their counts give the
    praise-to-criticism ratio; ``item_id`` is the rubric item the session worked on (what
    the follow-up checks in the calls since ``held_on``).
    """

    agent_id: str
    coach: str
    held_on: str
    """``YYYY-MM-DD``."""
    item_id: str = ""
    call_ids: tuple[str, ...] = ()
    moments: str = ""
    strengths: tuple[str, ...] = ()
    improvements: tuple[str, ...] = ()
    actions: str = ""
    follow_up_on: str = ""
    """``YYYY-MM-DD`` or ``""``."""
    id: int = 0
    saved_at: str = ""


@dataclass(frozen=True, slots=True)
class AgentResponse:
    """An agent's answer to a review: an acknowledgement, or a disputed verdict with why."""

    call_id: str
    review_id: int
    agent_id: str
    kind: ResponseKind
    item_id: str = ""
    """The disputed item (``""``: the review as a whole)."""
    comment: str = ""
    id: int = 0
    saved_at: str = ""


metadata = sa.MetaData()
_STAMP = sa.String(40)
"""A UTC time, ISO 8601 to the microsecond."""
_DAY = sa.String(10)
"""``YYYY-MM-DD``."""


def _record_table(
    name: str,
    record: type,
    *,
    index: Sequence[str] = (),
    review_part: bool = False,
    links: Mapping[str, str] | None = None,
    types: Mapping[str, sa.types.TypeEngine[Any]] | None = None,
    **table_options: Any,
) -> sa.Table:
    """The table a record is stored in: an ``id`` key, then a column per field.

    A field's column type is its entry in ``types``, else follows the field's type: text
    ``String(200)``, a tuple of lines ``Text``, ``int``, ``float`` or ``bool``, nullable
    when it may be ``None``; a ``""`` or ``()`` default is the column's. Fields holding
    other records are not columns. A ``review_part`` (a finding's verdict, a missed item)
    has an indexed ``review_id`` to its review; ``links`` make fields foreign keys.
    """
    hints = get_type_hints(record)
    links, types = links or {}, types or {}
    columns = [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)]
    if review_part:
        link = sa.ForeignKey("reviews.id")
        columns.append(sa.Column("review_id", sa.Integer, link, nullable=False, index=True))
    for f in fields(record):
        kind = types[f.name] if f.name in types else _column_type(hints[f.name])
        if f.name == "id" or kind is None:
            continue
        extra = [sa.ForeignKey(links[f.name])] if f.name in links else []
        default = "" if f.default in ("", ()) else None
        nullable = type(None) in get_args(hints[f.name])
        columns.append(
            sa.Column(
                f.name,
                kind,
                *extra,
                nullable=nullable,
                default=default,
                index=True if f.name in index else None,
            )
        )
    return sa.Table(name, metadata, *columns, **table_options)


def _column_type(hint: Any) -> sa.types.TypeEngine[Any] | None:
    """The SQL type of a field's type (``None``: not a column)."""
    args = [a for a in get_args(hint) if a is not type(None)]
    if get_origin(hint) is Literal or hint is str:
        return sa.String(200)
    if get_origin(hint) is tuple:
        return sa.Text() if args[0] is str else None
    if get_origin(hint) in (Union, UnionType) and len(args) == 1:
        return _column_type(args[0])
    simple: dict[type, sa.types.TypeEngine[Any]] = {
        bool: sa.Boolean(),
        int: sa.Integer(),
        float: sa.Float(),
    }
    return simple.get(hint)


reviews = _record_table(
    "reviews",
    Review,
    index=("call_id",),
    types={"saved_at": _STAMP, "overall": sa.String(20), "coaching_note": sa.Text()},
    sqlite_autoincrement=True,
)
review_items = _record_table(
    "review_items",
    FindingVerdict,
    review_part=True,
    types={"detector_outcome": sa.String(10), "verdict": sa.String(10), "note": sa.Text()},
)
missed_items = _record_table(
    "missed_items", MissedItem, review_part=True, types={"note": sa.Text()}
)
audit = _record_table("audit", Opened, index=("call_id",), types={"at": _STAMP})
signin_failures = sa.Table(
    "signin_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("at_epoch", sa.Float, nullable=False, index=True),
)
coaching_sessions = _record_table(
    "coaching_sessions",
    CoachingSession,
    index=("agent_id",),
    types={
        "held_on": _DAY,
        "follow_up_on": _DAY,
        "moments": sa.Text(),
        "actions": sa.Text(),
        "saved_at": _STAMP,
    },
)
agent_responses = _record_table(
    "agent_responses",
    AgentResponse,
    index=("call_id", "agent_id"),
    links={"review_id": "reviews.id"},
    types={"kind": sa.String(20), "comment": sa.Text(), "saved_at": _STAMP},
)
# New tables reach an existing database through ``create_all`` (it adds what is missing and
# never alters a table): the feedback tables are that migration, with no column changes.
# A new field of a stored record is a new column: existing databases need it added.


def default_database_url(warehouse: str | Path) -> str:
    """``sqlite:///WAREHOUSE/reviews.sqlite`` (the folder is created if missing).

    Raises
    ------
    ConfigError
        ``C005`` when the warehouse is not on this machine's disk (SQLite cannot live in
        an object store): give the database's URL instead.
    """
    if not wh.is_local(warehouse):
        raise ConfigError(
            f"{warehouse}: the review database cannot live in an object store; give "
            "--database (e.g. postgresql://host/earmark or sqlite:////var/lib/earmark/reviews.sqlite)",
            code="C005",
        )
    root = Path(wh.storage(warehouse)[1]).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'reviews.sqlite'}"


def _now() -> str:
    return dt.datetime.now(tz=dt.UTC).isoformat(timespec="microseconds")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one inspector saves; the busy timeout makes a second
    # writer wait its turn instead of failing.
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(database_url: str) -> Engine:
    """An engine with the review tables created (idempotent)."""
    if database_url.startswith("sqlite"):
        engine = sa.create_engine(database_url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(database_url, pool_pre_ping=True)
    metadata.create_all(engine)
    return engine


class ReviewStore:
    """Reviews, audit log and failed sign-ins in one SQL database.

    Parameters
    ----------
    database_url
        A SQLAlchemy URL, e.g. ``sqlite:////data/earmark/reviews.sqlite``.
    """

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)
        self._latest: tuple[int, tuple[Review, ...]] | None = None
        self._latest_lock = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------ reviews

    def save_review(self, review: Review) -> tuple[Review, Review | None]:
        """Insert one save (one transaction); never overwrites an earlier save.

        Returns
        -------
        tuple[Review, Review | None]
            The saved review (with ``id`` and ``saved_at``), and the review someone else
            saved meanwhile (after ``review.base_review_id``), if any.
        """
        saved_at = _now()
        with self.engine.begin() as conn:
            # Insert first: the write lock is taken before any read, so concurrent
            # SQLite writers queue on the busy timeout instead of failing on upgrade.
            inserted = conn.execute(
                reviews.insert().values(_values(review, reviews, saved_at=saved_at))
            ).inserted_primary_key
            assert inserted is not None
            review_id = int(inserted[0])
            self._insert_parts(conn, review_id, review)
            between = conn.execute(
                sa.select(reviews.c.id)
                .where(reviews.c.call_id == review.call_id, reviews.c.id < review_id)
                .where(reviews.c.id > (review.base_review_id or 0))
                .where(reviews.c.reviewer != review.reviewer)
                .order_by(reviews.c.id.desc())
                .limit(1)
            ).scalar()
        mine = self._load([review_id])[0]
        other = self._load([between])[0] if between else None
        return mine, other

    @staticmethod
    def _insert_parts(conn: Connection, review_id: int, review: Review) -> None:
        for table, parts in ((review_items, review.findings), (missed_items, review.missed)):
            if parts:
                conn.execute(
                    table.insert(), [_values(p, table, review_id=review_id) for p in parts]
                )

    def latest_review(self, call_id: str) -> Review | None:
        """The call's current review: the latest save by anyone."""
        history = self.history(call_id, limit=1)
        return history[0] if history else None

    def history(self, call_id: str, *, limit: int | None = None) -> list[Review]:
        """Every save of a call's review, newest first."""
        query = (
            sa.select(reviews.c.id)
            .where(reviews.c.call_id == call_id)
            .order_by(reviews.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            ids = list(conn.execute(query).scalars())
        return self._load(ids)

    def latest_reviews(self) -> list[Review]:
        """The current review of every reviewed call (for calibration and the dashboards).

        Saves only insert, so the list is kept until a save with a higher id lands (one
        cheap ``max(id)`` per call): a dashboard does not reload thousands of reviews.
        """
        with self.engine.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(reviews.c.id))).scalar() or 0
        with self._latest_lock:
            if self._latest is not None and self._latest[0] == newest:
                return list(self._latest[1])
        latest = sa.select(sa.func.max(reviews.c.id)).group_by(reviews.c.call_id)
        with self.engine.connect() as conn:
            ids = sorted(conn.execute(latest).scalars())
        loaded = self._load(ids)
        with self._latest_lock:
            self._latest = (max(ids, default=0), tuple(loaded))
        return loaded

    def reviewed(self, call_ids: Iterable[str]) -> dict[str, Review]:
        """The current review (without its parts) of each of ``call_ids`` that has one."""
        wanted = sorted(set(call_ids))
        if not wanted:
            return {}
        latest = (
            sa.select(sa.func.max(reviews.c.id))
            .where(reviews.c.call_id.in_(wanted))
            .group_by(reviews.c.call_id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(reviews).where(reviews.c.id.in_(latest))).mappings()
            return {r["call_id"]: _review(r, (), ()) for r in rows}

    def _load(self, ids: Sequence[int]) -> list[Review]:
        if not ids:
            return []
        with self.engine.connect() as conn:
            heads = {
                r["id"]: r
                for r in conn.execute(reviews.select().where(reviews.c.id.in_(ids))).mappings()
            }
            items = _parts(conn, review_items, FindingVerdict, ids)
            missed = _parts(conn, missed_items, MissedItem, ids)
        return [_review(heads[i], items[i], missed[i]) for i in ids if i in heads]

    # ------------------------------------------------------------ coaching and responses

    def add_session(self, session: CoachingSession) -> CoachingSession:
        """Record a coaching session; returns it with ``id`` and ``saved_at``."""
        return self._insert(coaching_sessions, session)

    def sessions(self, agent_ids: Iterable[str] | None = None) -> list[CoachingSession]:
        """Coaching sessions (of some agents, or all), newest first."""
        query = coaching_sessions.select().order_by(
            coaching_sessions.c.held_on.desc(), coaching_sessions.c.id.desc()
        )
        if agent_ids is not None:
            query = query.where(coaching_sessions.c.agent_id.in_(sorted(set(agent_ids))))
        with self.engine.connect() as conn:
            return [_record(CoachingSession, r) for r in conn.execute(query).mappings()]

    def add_response(self, response: AgentResponse) -> AgentResponse:
        """Record an agent's acknowledgement or dispute of a review."""
        return self._insert(agent_responses, response)

    def _insert(self, table: sa.Table, record: R) -> R:
        """Insert a record; returns it with the ``id`` and ``saved_at`` it was given."""
        saved_at = _now()
        with self.engine.begin() as conn:
            row = _values(record, table, saved_at=saved_at)
            key = conn.execute(table.insert().values(row)).inserted_primary_key
        assert key is not None
        return replace(record, id=int(key[0]), saved_at=saved_at)  # type: ignore[type-var]

    def responses(
        self, *, call_id: str | None = None, agent_id: str | None = None
    ) -> list[AgentResponse]:
        """Agents' responses (to one call's reviews, or by one agent), oldest first."""
        query = agent_responses.select().order_by(agent_responses.c.id)
        if call_id is not None:
            query = query.where(agent_responses.c.call_id == call_id)
        if agent_id is not None:
            query = query.where(agent_responses.c.agent_id == agent_id)
        with self.engine.connect() as conn:
            return [_record(AgentResponse, r) for r in conn.execute(query).mappings()]

    def answers_to(self, reviewer: str | None, *, limit: int = 200) -> list[AgentResponse]:
        """Agents' answers to reviews saved by ``reviewer`` (``None``: anyone's), newest
        first: what goes back to the inspector."""
        query = (
            sa.select(agent_responses)
            .join(reviews, reviews.c.id == agent_responses.c.review_id)
            .order_by(agent_responses.c.id.desc())
            .limit(limit)
        )
        if reviewer is not None:
            query = query.where(reviews.c.reviewer == reviewer)
        with self.engine.connect() as conn:
            return [_record(AgentResponse, r) for r in conn.execute(query).mappings()]

    # ------------------------------------------------------------ audit

    def record_open(self, who: str, call_id: str) -> None:
        """Log that ``who`` opened ``call_id`` now."""
        with self.engine.begin() as conn:
            conn.execute(audit.insert().values(who=who, call_id=call_id, at=_now()))

    def opens(self, call_id: str | None = None, *, limit: int = 50) -> list[Opened]:
        """Audit rows, newest first (of one call, or of all)."""
        query = audit.select().order_by(audit.c.id.desc()).limit(limit)
        if call_id is not None:
            query = query.where(audit.c.call_id == call_id)
        with self.engine.connect() as conn:
            return [_record(Opened, r) for r in conn.execute(query).mappings()]

    def openers(self, call_id: str) -> list[Opener]:
        """Each person who opened ``call_id`` once, the latest opener first."""
        last = sa.func.max(audit.c.at)
        query = (
            sa.select(audit.c.who, sa.func.count().label("times"), last.label("last_at"))
            .where(audit.c.call_id == call_id)
            .group_by(audit.c.who)
            .order_by(last.desc(), audit.c.who)
        )
        with self.engine.connect() as conn:
            return [_record(Opener, r) for r in conn.execute(query).mappings()]

    # ------------------------------------------------------------ sign-in failures

    def failures_since(self, name: str, ip: str, since_epoch: float) -> int:
        """Failed sign-ins for ``name`` from ``ip`` after ``since_epoch``."""
        query = (
            sa.select(sa.func.count())
            .select_from(signin_failures)
            .where(
                signin_failures.c.name == name,
                signin_failures.c.ip == ip,
                signin_failures.c.at_epoch > since_epoch,
            )
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def add_failure(self, name: str, ip: str, at_epoch: float, *, forget_before: float) -> None:
        """Record a failed sign-in; drop records older than ``forget_before``."""
        with self.engine.begin() as conn:
            conn.execute(signin_failures.insert().values(name=name, ip=ip, at_epoch=at_epoch))
            conn.execute(signin_failures.delete().where(signin_failures.c.at_epoch < forget_before))

    def clear_failures(self, name: str, ip: str) -> None:
        """Forget ``name``'s failures from ``ip`` (after a successful sign-in)."""
        with self.engine.begin() as conn:
            conn.execute(
                signin_failures.delete().where(
                    signin_failures.c.name == name, signin_failures.c.ip == ip
                )
            )


def _values(record: Any, table: sa.Table, **more: Any) -> dict[str, Any]:
    """The row a record is stored as: its fields that are ``table``'s columns (a tuple of
    lines as text, one a line; ``id`` left to the database), and ``more``."""
    row = {}
    for column in table.columns:
        if column.name != "id" and hasattr(record, column.name):
            value = getattr(record, column.name)
            row[column.name] = "\n".join(value) if isinstance(value, tuple) else value
    return {**row, **more}


def _parts(
    conn: Connection, table: sa.Table, record: type[R], ids: Sequence[int]
) -> dict[int, list[R]]:
    """The rows of a review part table (verdicts, missed items) of reviews ``ids``, as
    records in the order they were saved, by review id."""
    out: dict[int, list[R]] = {i: [] for i in ids}
    query = table.select().where(table.c.review_id.in_(ids)).order_by(table.c.id)
    for r in conn.execute(query).mappings():
        out[r["review_id"]].append(_record(record, r))
    return out


def _record(record: type[R], row: Any, **more: Any) -> R:
    """The record a row holds: the fields the row has a column for (text of lines read back
    as a tuple where the field's default is one), and ``more``."""
    values = {}
    for f in fields(record):  # type: ignore[arg-type]
        if f.name in row and f.name not in more:
            value = row[f.name]
            values[f.name] = _lines(value or "") if isinstance(f.default, tuple) else value
    return record(**values, **more)


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line for line in text.split("\n") if line.strip())


def _review(head: Any, findings: Sequence[FindingVerdict], missed: Sequence[MissedItem]) -> Review:
    return _record(Review, head, findings=tuple(findings), missed=tuple(missed))
