"""The number formats the review app, the monthly report and the calibration report share."""

from __future__ import annotations

import math

import pytest

from review.formats import clock_or_dash, num, pct


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.456, "46%"), (1.0, "100%"), (0.0, "0%"), (None, "—"), (math.nan, "—")],
)
def test_pct(value: float | None, expected: str) -> None:
    assert pct(value) == expected


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [(3.14159, 2, "3.14"), (2.5, 0, "2"), (7.0, 1, "7.0"), (None, 1, "—"), (math.nan, 0, "—")],
)
def test_num(value: float | None, digits: int, expected: str) -> None:
    assert num(value, digits) == expected


@pytest.mark.parametrize(("seconds", "expected"), [(75.0, "1:15"), (None, "—"), (math.nan, "—")])
def test_clock_or_dash(seconds: float | None, expected: str) -> None:
    assert clock_or_dash(seconds) == expected


def test_the_docstring_examples_run() -> None:
    """plain_rule's examples (a near phrase "heard for" its scripted one among them),
    moment_example's and time_hint's."""
    import doctest

    from review import formats

    result = doctest.testmod(formats)
    assert result.attempted > 0 and result.failed == 0
