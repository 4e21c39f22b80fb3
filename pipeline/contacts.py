"""Contacts across calls: signals that need more than one call."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence


def repeat_contacts(calls: Sequence[tuple[str, str, str]], *, days: float = 7.0) -> dict[str, int]:
    """How many earlier contacts the same customer made within ``days`` before each call.

    A classic contact-center quality signal: a customer who calls again soon was not
    helped the first time.

    Parameters
    ----------
    calls
        ``(call_id, customer_id, started_at)`` with ISO 8601 times; calls without a
        customer or a time are left out of the result.
    days
        The look-back window.

    Examples
    --------
    >>> repeat_contacts([("a", "C1", "2026-11-01T09:00:00+00:00"),
    ...                  ("b", "C1", "2026-11-03T09:00:00+00:00"),
    ...                  ("c", "C1", "2026-11-20T09:00:00+00:00")])
    {'a': 0, 'b': 1, 'c': 0}
    """
    by_customer: dict[str, list[tuple[dt.datetime, str]]] = {}
    for call_id, customer, started_at in calls:
        when = contact_time(started_at)
        if customer and when is not None:
            by_customer.setdefault(customer, []).append((when, call_id))
    window = dt.timedelta(days=days)
    counts: dict[str, int] = {}
    for contacts in by_customer.values():
        contacts.sort()
        for i, (when, call_id) in enumerate(contacts):
            counts[call_id] = sum(1 for earlier, _ in contacts[:i] if when - earlier <= window)
    return counts


def contact_time(started_at: str | None) -> dt.datetime | None:
    """A call's ``started_at`` as an aware time, or ``None`` (missing, unparsable or
    without a time zone: such calls are not counted as repeat contacts)."""
    try:
        when = dt.datetime.fromisoformat((started_at or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None
