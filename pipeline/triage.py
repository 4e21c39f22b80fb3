"""Calls kept out of the QA queues and why: what a lead triages by hand.

A call in a language the center does not serve (``unsupported_language``) or of a call
type with no rubric for its language (``no_rubric``) is stored in ``calls`` but neither
scored nor queued; ``earmark triage`` and the review app's triage page list them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline import warehouse as wh
from pipeline.shapes import from_row

NOT_SCORED = ("unsupported_language", "no_rubric")
"""Statuses of calls that are stored but neither scored nor queued."""


@dataclass(frozen=True, slots=True)
class Triage:
    """One call kept out of the QA queues, and why."""

    call_id: str
    call_date: str
    source_path: str
    status: str
    reason: str
    language: str = ""
    language_probability: float | None = None
    duration_s: float | None = None
    agent_id: str = ""
    team_id: str = ""


def triage_calls(
    warehouse: str | os.PathLike[str], *, call_dates: Iterable[str] | None = None
) -> list[Triage]:
    """Every stored call whose status is in :data:`NOT_SCORED`, by date then call.

    Parameters
    ----------
    warehouse
        The warehouse folder or URL.
    call_dates
        Only these ``call_date`` partitions (default: all).
    """
    table = wh.read_table(
        warehouse, "calls", call_dates=list(call_dates) if call_dates is not None else None
    )
    out = [
        from_row(Triage, {**r, "reason": r["status_reason"] or ""})
        for r in table.to_pylist()
        if r["status"] in NOT_SCORED
    ]
    return sorted(out, key=lambda t: (t.call_date, t.call_id))
