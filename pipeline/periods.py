"""Dates and months given on the command line or in a URL, checked.

Cheap to import (the standard library and the error table only): the CLI checks its
``--date``/``--since``/``--month`` values with these while it parses them, before it loads
anything, so a typo is refused at once.
"""

from __future__ import annotations

import datetime as dt
import re

from pipeline import errors

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def is_month(value: str) -> bool:
    """Whether ``value`` is a month ``YYYY-MM``.

    Examples
    --------
    >>> is_month("2026-12"), is_month("2026-13"), is_month("2026-1"), is_month("2026-12 ")
    (True, False, False, False)
    """
    return _MONTH.fullmatch(value) is not None


def iso_month(value: str) -> str:
    """``value`` when it is a month ``YYYY-MM``.

    Raises
    ------
    ConfigError
        ``C060`` naming the value when it is not.

    Examples
    --------
    >>> iso_month("2026-12")
    '2026-12'
    """
    if not is_month(value):
        raise errors.MONTH_INVALID(month=value)
    return value


def iso_date(value: str, option: str) -> str:
    """``value`` as a date ``YYYY-MM-DD``.

    Raises
    ------
    ConfigError
        ``C040`` naming ``option`` and the value when it is not a date.

    Examples
    --------
    >>> iso_date("2026-11-20", "--date")
    '2026-11-20'
    """
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise errors.DATE_INVALID(option=option, value=value) from None
