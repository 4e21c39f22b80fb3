"""How the review app, the monthly report and the calibration report print numbers.

A value that is not there (``None``) or not measured (NaN) prints as ``—``. These are
also the Jinja filters of the app's and the report's templates (:data:`FILTERS`).
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.scoring import clock, distinct_reasons
from pipeline.text import short_rule


def clock_or_dash(seconds: float | None) -> str:
    """``m:ss`` of a moment in the call.

    Examples
    --------
    >>> clock_or_dash(75.0), clock_or_dash(None)
    ('1:15', '—')
    """
    return "—" if seconds is None or math.isnan(seconds) else clock(seconds)


def pct(value: float | None) -> str:
    """A share as a whole percentage.

    Examples
    --------
    >>> pct(0.456), pct(float("nan"))
    ('46%', '—')
    """
    return "—" if value is None or math.isnan(value) else f"{value * 100:.0f}%"


def num(value: float | None, digits: int = 0) -> str:
    """A number with ``digits`` decimals.

    Examples
    --------
    >>> num(3.14159, 2), num(None)
    ('3.14', '—')
    """
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def moment_example(duration_s: float | None) -> float:
    """A moment inside a call to show as an example of a time: a third into it, in whole
    seconds (75 when the length is not known). The form's hint and its error use it, so
    neither suggests a time past the end of a short call.

    Examples
    --------
    >>> moment_example(25.0), moment_example(600.0), moment_example(None)
    (8, 200, 75)
    """
    if duration_s is None or math.isnan(duration_s) or duration_s <= 0:
        return 75
    return max(1, int(duration_s / 3))


def time_hint(duration_s: float | None) -> str:
    """How to type a moment of the call, with an example inside it.

    Examples
    --------
    >>> time_hint(25.0), time_hint(None)
    ('0:08 or 8', '1:15 or 75')
    """
    at = moment_example(duration_s)
    return f"{clock(at)} or {at}"


FILTERS: dict[str, Any] = {
    "clock": clock_or_dash,
    "pct": pct,
    "num": num,
    "short_rule": short_rule,
    "distinct_reasons": distinct_reasons,
    "moment_example": lambda d: clock(moment_example(d)),
    "time_hint": time_hint,
}
"""The Jinja filters of the app's and the monthly report's templates."""
