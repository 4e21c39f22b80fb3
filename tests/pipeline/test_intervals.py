"""Interval arithmetic against a point-by-point oracle, and the examples in the docstrings
of the modules that now share it (the suite runs no --doctest-modules)."""

from __future__ import annotations

import doctest
import importlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.intervals import Interval, intersect, longest, minus, total, union
from pipeline.plans import merge_plan
from pipeline.types import PlanSpan

POINTS = [i / 4 for i in range(-2, 90)]
"""Where the oracle looks: every quarter second over the generated range and beyond."""


def _inside(intervals: list[Interval]) -> set[float]:
    """The oracle's points strictly inside some interval (midpoints of the quarter grid)."""
    return {t + 0.125 for t in POINTS if any(s <= t + 0.125 < e for s, e in intervals)}


_interval = st.tuples(st.integers(0, 79), st.integers(0, 6)).map(
    lambda p: (p[0] / 4, (p[0] + p[1]) / 4)
)
intervals = st.lists(_interval, max_size=12)


def _sorted_disjoint(intervals: list[Interval]) -> bool:
    return all(a[1] < b[0] for a, b in itertools.pairwise(intervals)) and all(
        e > s for s, e in intervals
    )


@given(intervals)
def test_union_is_sorted_disjoint_and_covers_the_same_time(ivs: list[Interval]) -> None:
    merged = union(ivs)
    assert _sorted_disjoint(merged)
    assert _inside(merged) == _inside(ivs)
    assert total(merged) == pytest.approx(len(_inside(ivs)) / 4)


@given(intervals, intervals)
def test_minus_and_intersect_split_the_time(a: list[Interval], b: list[Interval]) -> None:
    a, b = union(a), union(b)
    outside, both = minus(a, b), intersect(a, b)
    assert _sorted_disjoint(outside) and _sorted_disjoint(both)
    assert _inside(outside) == _inside(a) - _inside(b)
    assert _inside(both) == _inside(a) & _inside(b)
    assert total(outside) + total(both) == pytest.approx(total(a))
    assert longest(both) <= longest(a)


def test_touching_intervals_merge_and_empty_ones_are_kept_only_when_asked() -> None:
    assert union([(0.0, 1.0), (1.0, 2.0)]) == [(0.0, 2.0)]
    assert union([(3.0, 3.0), (0.0, 1.0)]) == [(0.0, 1.0)]
    assert union([(3.0, 3.0), (0.0, 1.0)], keep_empty=True) == [(0.0, 1.0), (3.0, 3.0)]
    assert minus([(0.0, 5.0)], []) == [(0.0, 5.0)]
    assert intersect([], [(0.0, 1.0)]) == []


@given(intervals, intervals)
def test_a_plan_hears_what_is_heard_and_reads_the_rest(
    heard: list[Interval], read: list[Interval]
) -> None:
    plan = merge_plan(
        [*(PlanSpan(s, e, "hear") for s, e in heard), *(PlanSpan(s, e, "read") for s, e in read)]
    )
    assert all(a.end_s <= b.start_s for a, b in itertools.pairwise(plan))  # no overlap
    by_kind = {k: [(p.start_s, p.end_s) for p in plan if p.kind == k] for k in ("hear", "read")}
    assert _inside(by_kind["hear"]) == _inside(heard)
    assert _inside(by_kind["read"]) == _inside(read) - _inside(heard)


@pytest.mark.parametrize(
    "module",
    [
        "pipeline.intervals",
        "pipeline.text",
        "pipeline.cues",
        "pipeline.acoustic.activity",
        "pipeline.acoustic.hold_music",
        "pipeline.acoustic.party_split",
        "pipeline.metrics",
        "pipeline.metric_rows",
        "pipeline.contacts",
        "pipeline.plans",
        "pipeline.redact_audio",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
