"""Calls kept out of the QA queues and why: what a lead triages by hand.

A call in a language the center does not serve (``unsupported_language``) or of a call
type with no rubric for its language (``no_rubric``) is stored in ``calls`` but neither
scored nor queued; ``earmark triage`` and the review app's triage page list them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

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

    @property
    def headline(self) -> str:
        """Why the call is out of the queues, in a line an inspector reads.

        Examples
        --------
        >>> Triage("C1", "2026-01-01", "c1.wav", "unsupported_language", "", "pl", 0.75).headline
        'Not transcribed: language pl (75%) is not one this centre serves'
        >>> Triage("C2", "2026-01-01", "c2.wav", "no_rubric", "").headline
        'Not scored: no rubric for this type of call in its language'
        """
        if self.status == "unsupported_language":
            p = self.language_probability
            sure = f" ({p:.0%})" if p is not None else ""
            return f"Not transcribed: language {self.language or '?'}{sure} is not one this centre serves"
        return "Not scored: no rubric for this type of call in its language"


def triage_of(row: Mapping[str, Any]) -> Triage | None:
    """The :class:`Triage` of a ``calls`` row kept out of the queues (``None`` for any other)."""
    if row.get("status") not in NOT_SCORED:
        return None
    return from_row(Triage, {**row, "reason": row.get("status_reason") or ""})


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
    out = [t for r in table.to_pylist() if (t := triage_of(r)) is not None]
    return sorted(out, key=lambda t: (t.call_date, t.call_id))
