"""``trend`` queue entries: calls of a rising contact reason (:mod:`pipeline.reason_trends`)
added to the inspectors' queues within their budgets, so new problems are heard early.

Kept apart from :mod:`pipeline.queue` (which builds the day's queues): this only adds to
a queue already built.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.queue import UNASSIGNED, PlanOptions, merge_plan
from pipeline.types import PlanSpan, QueueEntry


@dataclass(frozen=True, slots=True)
class TrendCall:
    """A call of a rising contact reason, offered to the queues as a ``trend`` entry."""

    call_id: str
    team_id: str
    agent_id: str
    duration_s: float
    start_s: float
    """Where the customer stated the reason (what the inspector hears)."""
    end_s: float
    why: str


def add_trend_calls(
    queue: Sequence[QueueEntry],
    calls: Sequence[TrendCall],
    *,
    date: str,
    owners: Mapping[str, str],
    budgets: Mapping[str, float],
    options: PlanOptions,
) -> list[QueueEntry]:
    """``queue`` with a ``trend`` entry for each call of a rising reason that fits.

    Each call goes to the inspector its team is paired with (``owners``; else
    ``unassigned``), heard where the reason was stated (with context), if that inspector
    has not queued it already and their budget left (``budgets``: daily seconds; none
    given: no budget, as for the unassigned list) pays for it. Highlights cost nothing.
    """
    spent: dict[str, float] = {}
    for e in queue:
        if e.kind != "highlight":
            spent[e.inspector] = spent.get(e.inspector, 0.0) + e.price_s
    taken = {(e.inspector, e.call_id) for e in queue}
    ranks: dict[str, int] = {}
    out = list(queue)
    for c in calls:
        who = owners.get(c.team_id, UNASSIGNED)
        heard = PlanSpan(
            max(0.0, c.start_s - options.before_s), min(c.duration_s, c.end_s + options.after_s)
        )
        plan = merge_plan([heard]) if heard.end_s > heard.start_s else ()
        cost = options.price_s(plan)
        left = budgets.get(who, math.inf) - spent.get(who, 0.0)
        if (who, c.call_id) in taken or not plan or cost > left:
            continue
        spent[who] = spent.get(who, 0.0) + cost
        taken.add((who, c.call_id))
        ranks[who] = ranks.get(who, 0) + 1
        out.append(
            QueueEntry(
                inspector=who,
                date=date,
                rank=ranks[who],
                call_id=c.call_id,
                kind="trend",
                priority=0.0,
                reasons=(c.why,),
                plan=plan,
                agent_id=c.agent_id,
                team_id=c.team_id,
                cost_s=cost,
            )
        )
    return out
