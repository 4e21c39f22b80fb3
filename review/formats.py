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


FILTERS: dict[str, Any] = {
    "clock": clock_or_dash,
    "pct": pct,
    "num": num,
    "short_rule": short_rule,
    "distinct_reasons": distinct_reasons,
}
"""The Jinja filters of the app's and the monthly report's templates."""
