"""Interval arithmetic on stretches of a call: ``(start_s, end_s)`` pairs in seconds.

The one implementation of union, difference and intersection that the acoustic
measures, diarization, listening plans and audio redaction share. Lists are plain
``(start, end)`` tuples (cheap to build in loops); :func:`to_spans` and
:func:`from_spans` convert to and from :class:`pipeline.types.Span` at the edges.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.types import Span

Interval = tuple[float, float]


def union(intervals: Sequence[Interval], *, keep_empty: bool = False) -> list[Interval]:
    """Sorted, merged intervals: overlapping and touching ones become one.

    Empty intervals (``end <= start``) are dropped unless ``keep_empty``; a kept one
    still merges into a neighbour it touches.

    Examples
    --------
    >>> union([(5.0, 7.0), (0.0, 2.0), (1.0, 3.0), (3.0, 4.0), (6.0, 6.0)])
    [(0.0, 4.0), (5.0, 7.0)]
    >>> union([(1.0, 1.0)]), union([(1.0, 1.0)], keep_empty=True)
    ([], [(1.0, 1.0)])
    """
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        elif keep_empty or end > start:
            merged.append((start, end))
    return merged


def minus(intervals: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """``intervals`` without ``holes`` (both sorted and disjoint).

    Examples
    --------
    >>> minus([(0.0, 10.0), (12.0, 14.0)], [(2.0, 3.0), (9.0, 13.0)])
    [(0.0, 2.0), (3.0, 9.0), (13.0, 14.0)]
    """
    out: list[Interval] = []
    j = 0
    for start, end in intervals:
        while j < len(holes) and holes[j][1] <= start:
            j += 1
        k = j
        while k < len(holes) and holes[k][0] < end:
            if holes[k][0] > start:
                out.append((start, holes[k][0]))
            start = max(start, holes[k][1])
            k += 1
        if end > start:
            out.append((start, end))
    return out


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Where both sorted, disjoint interval lists are.

    Examples
    --------
    >>> intersect([(0.0, 5.0), (8.0, 12.0)], [(4.0, 9.0)])
    [(4.0, 5.0), (8.0, 9.0)]
    """
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if end > start:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def total(intervals: Sequence[Interval]) -> float:
    """Summed length, to the millisecond.

    Examples
    --------
    >>> total([(0.0, 1.5), (2.0, 2.25)])
    1.75
    """
    return round(sum(e - s for s, e in intervals), 3)


def longest(intervals: Sequence[Interval]) -> float:
    """The longest interval's length (0 for none), to the millisecond.

    Examples
    --------
    >>> longest([(0.0, 1.5), (2.0, 5.0)]), longest([])
    (3.0, 0.0)
    """
    return round(max((e - s for s, e in intervals), default=0.0), 3)


def to_spans(intervals: Sequence[Interval]) -> tuple[Span, ...]:
    """Intervals as :class:`~pipeline.types.Span`, times to the millisecond.

    Examples
    --------
    >>> to_spans([(0.12345, 2)])
    (Span(start_s=0.123, end_s=2.0),)
    """
    return tuple(Span(round(float(s), 3), round(float(e), 3)) for s, e in intervals)


def from_spans(spans: Sequence[Span]) -> list[Interval]:
    """Spans as ``(start_s, end_s)`` pairs, in the same order.

    Examples
    --------
    >>> from_spans([Span(1.0, 2.0)])
    [(1.0, 2.0)]
    """
    return [(s.start_s, s.end_s) for s in spans]
