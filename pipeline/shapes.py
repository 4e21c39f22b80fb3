"""Arrow schemas and row converters derived from the record dataclasses.

A record's fields are written once, in :mod:`pipeline.types` (or, for a row that is no
pipeline record as it is, :mod:`pipeline.row_records`): its table's columns (name, Arrow
type, order), the row a record is written as and the record a row is read back as all
come from them. A field's Python type gives its column type (``str`` → string, ``int`` →
int64, ``float`` → float64, ``bool``, ``bytes`` → binary, a ``Literal`` of strings →
string, ``tuple[X, ...]`` → list, ``dict[str, str]`` → map, a record → struct, ``X |
None`` as ``X``); a :class:`~pipeline.types.Column` in its annotation, outside an ``X |
None`` or inside it (``Int32 | None``), overrides that (``Int32``, ``Float32``), stores an
empty text as null (``NullableText``) or keeps it out of the table (``Partition``).

Where a table is older than its record, :class:`Layout` says what differs: columns
computed from the record (the queue's ``plan_s``), columns stored in another place
than the record's field order, and a ``dict`` field spread over one column per key (the
metric columns of ``calls``).

Reading a row back, a null (or a column a file written before it does not have) gives
the field's default, so rows of older writes still read.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import pyarrow as pa

from pipeline.types import Column

R = TypeVar("R")
Row = dict[str, Any]

_SCALARS: dict[Any, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    bytes: pa.binary(),
}


@dataclass(frozen=True, slots=True)
class Computed:
    """A column computed from the record when it is written, never read back."""

    type: pa.DataType
    value: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Layout:
    """How a table's columns differ from its record's fields.

    Parameters
    ----------
    computed
        ``{column: Computed}``: columns the record does not have as fields.
    after
        ``{column: the column it follows}``: where a column stands when not in field
        order (a computed column with no place here comes last).
    written
        ``{field: how its value is written}``, where the stored value is not the field's.
    spread
        ``{field: column names}``: a ``dict[str, X]`` field stored as one column of X per
        name, in the field's place, instead of one map column. A name the dict lacks is
        written null; a null column is left out of the dict read back (names not listed
        are neither written nor read).
    """

    computed: Mapping[str, Computed] = field(default_factory=dict)
    after: Mapping[str, str] = field(default_factory=dict)
    written: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    spread: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: pa.DataType
    null: Any
    """What a null reads as: ``_DEFAULT`` (the field's default), ``()`` for a list with no
    default, else ``None``."""
    decode: Callable[[Any], Any] | None
    """Stored value → field value; ``None``: the same value."""
    encode: Callable[[Any], Any] | None
    """Field value → stored value; ``None``: the same value."""


_DEFAULT = object()


def _bare(hint: Any) -> Any:
    """The type under a ``Column`` annotation and an ``X | None``, in either order."""
    while True:
        if hasattr(hint, "__metadata__"):  # ``Annotated[X, ...]``
            hint = hint.__origin__
        elif (inner := _optional(hint)) is not None:
            hint = inner
        else:
            return hint


def _optional(hint: Any) -> Any:
    """The ``X`` of an ``X | None``, else ``None``."""
    args = get_args(hint)
    if get_origin(hint) in (types.UnionType, Union) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return inner
    return None


def _column(hint: Any) -> Column | None:
    """The ``Column`` a field is annotated with, outside an ``X | None`` or inside it
    (``Int32 | None``, ``NullableText | None``)."""
    found = next((e for e in getattr(hint, "__metadata__", ()) if isinstance(e, Column)), None)
    if found is None and (inner := _optional(hint)) is not None:
        return _column(inner)
    return found


def arrow_type(hint: Any) -> pa.DataType:
    """The Arrow type a field annotated ``hint`` is stored as.

    Examples
    --------
    >>> from pipeline.types import Int32, PlanSpan
    >>> arrow_type(Int32), arrow_type(tuple[str, ...])
    (DataType(int32), ListType(list<item: string>))
    >>> arrow_type(PlanSpan)
    StructType(struct<start_s: double, end_s: double, kind: string>)
    """
    column = _column(hint)
    if column is not None and column.arrow:
        return getattr(pa, column.arrow)()
    bare = _bare(hint)
    if bare is not hint:
        return arrow_type(bare)
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal and all(isinstance(a, str) for a in args):
        return pa.string()
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return pa.list_(arrow_type(args[0]))
    if origin is dict:
        return pa.map_(arrow_type(args[0]), arrow_type(args[1]))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return pa.struct([(f.name, f.type) for f in _fields(hint)])
    if hint in _SCALARS:
        return _SCALARS[hint]
    raise TypeError(f"no Arrow type for a field annotated {hint!r}")


Codec = Callable[[Any], Any] | None


def _codecs(hint: Any) -> tuple[Codec, Codec]:
    """(decode, encode) between a stored value and a field's value (``None``: as it is)."""
    hint = _bare(hint)
    origin, args = get_origin(hint), get_args(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        record: type = hint
        return (lambda v: from_row(record, v)), to_row
    if origin is tuple:
        inner_decode, inner_encode = _codecs(args[0])
        if inner_decode is None or inner_encode is None:
            return tuple, list
        return (lambda v: tuple(map(inner_decode, v))), (lambda v: list(map(inner_encode, v)))
    if origin is dict:
        return dict, (lambda v: sorted(v.items()))
    return None, None


_FIELDS: dict[type, tuple[_Field, ...]] = {}


def _fields(record: type) -> tuple[_Field, ...]:
    """The stored fields of a record (worked out once per record type)."""
    if record not in _FIELDS:
        _FIELDS[record] = _stored_fields(record)
    return _FIELDS[record]


def _stored_fields(record: type) -> tuple[_Field, ...]:
    hints = get_type_hints(record, include_extras=True)
    out = []
    for f in dataclasses.fields(record):
        hint = hints[f.name]
        column = _column(hint)
        if column is not None and not column.stored:
            continue
        decode, encode = _codecs(hint)
        if column is not None and column.empty_is_null:
            encode = _empty_as_null
        out.append(_Field(f.name, arrow_type(hint), _null(f, hint), decode, encode))
    return tuple(out)


def _empty_as_null(text: str) -> str | None:
    return text or None


def _null(f: dataclasses.Field[Any], hint: Any) -> Any:
    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
        return _DEFAULT
    return () if isinstance(arrow_type(hint), pa.ListType) else None


def to_row(record: Any, layout: Layout | None = None) -> Row:
    """A record as a row of its table: a dict with its stored fields and computed columns.

    Examples
    --------
    >>> from pipeline.types import PlanSpan
    >>> to_row(PlanSpan(1.0, 2.5))
    {'start_s': 1.0, 'end_s': 2.5, 'kind': 'hear'}
    """
    spread = layout.spread if layout is not None else {}
    row = {}
    for f in _fields(type(record)):
        value = getattr(record, f.name)
        if f.name in spread:
            row.update({name: value.get(name) for name in spread[f.name]})
        else:
            row[f.name] = value if f.encode is None or value is None else f.encode(value)
    if layout is not None:
        row.update({name: write(record) for name, write in layout.written.items()})
        row.update({name: c.value(record) for name, c in layout.computed.items()})
    return row


def from_row(record: type[R], row: Mapping[str, Any], layout: Layout | None = None) -> R:
    """The record a row holds; a null or missing column gives the field's default (an
    empty tuple for a list without one). A field the ``layout`` spreads is gathered from
    its columns.

    Examples
    --------
    >>> from pipeline.types import PlanSpan
    >>> from_row(PlanSpan, {"start_s": 1.0, "end_s": 2.5, "kind": None})
    PlanSpan(start_s=1.0, end_s=2.5, kind='hear')
    """
    spread = layout.spread if layout is not None else {}
    values = {}
    for f in _fields(record):
        if f.name in spread:
            values[f.name] = {n: row[n] for n in spread[f.name] if row.get(n) is not None}
            continue
        value = row.get(f.name)
        if value is None:
            if f.null is not _DEFAULT:
                values[f.name] = f.null
        else:
            values[f.name] = value if f.decode is None else f.decode(value)
    return record(**values)


def columns(record: type, layout: Layout | None = None) -> list[tuple[str, pa.DataType]]:
    """The ``(name, Arrow type)`` of a record's table, in the table's order."""
    layout = layout or Layout()
    cols = []
    for f in _fields(record):
        if f.name in layout.spread:
            if not isinstance(f.type, pa.MapType):
                raise TypeError(f"{record.__name__}.{f.name}: only a dict field is spread")
            cols += [(name, f.type.item_type) for name in layout.spread[f.name]]
        else:
            cols.append((f.name, f.type))
    cols += [(name, c.type) for name, c in layout.computed.items()]
    ordered = [c for c in cols if c[0] not in layout.after]
    pending = [c for c in cols if c[0] in layout.after]
    while pending:  # a placed column may follow another placed one
        ready = [c for c in pending if any(o[0] == layout.after[c[0]] for o in ordered)]
        if not ready:
            raise ValueError(f"{record.__name__}: no column to follow for {pending}")
        for c in ready:
            at = next(i for i, o in enumerate(ordered) if o[0] == layout.after[c[0]])
            ordered.insert(at + 1, c)
            pending.remove(c)
    return ordered
