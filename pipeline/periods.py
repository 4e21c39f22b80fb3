"""Dates and months given on the command line or in a URL, checked.

Cheap to import (the standard library and the error table only): the CLI checks its
``--date``/``--since``/``--month`` values with these while it parses them, before it loads
anything, so a typo is refused at once.
"""

from __future__ import annotations

import datetime as dt
import re

from pipeline import errors

_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def is_month(value: str) -> bool:
    """Whether ``value`` is a month ``YYYY-MM``.

    Examples
    --------
    >>> is_month("2026-12"), is_month("2026-13"), is_month("2026-1"), is_month("2026-12 ")
    (True, False, False, False)
    >>> is_month("\u0662\u0660\u0662\u0666-12")  # digits, but not ASCII ones
    False
    """
    return _MONTH.fullmatch(value) is not None


def is_date(value: str) -> bool:
    """Whether ``value`` is a real date written ``YYYY-MM-DD`` (ASCII digits).

    Examples
    --------
    >>> is_date("2026-02-28"), is_date("2026-02-30"), is_date("20260228"), is_date("2026-2-28")
    (True, False, False, False)
    """
    if _DATE.fullmatch(value) is None:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


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
    if not is_date(value):  # also 20261120 and 2026-W47-1, which fromisoformat takes
        raise errors.DATE_INVALID(option=option, value=value)
    return value
