"""Contact reasons in the night, as a Prefect artifact, and on the command line.

The night (:func:`night_reasons`) runs after the tables are written and before the
queues: the new calls' problem statements come from their stored vectors, the reasons
from :mod:`pipeline.reason_store`; what is rising is published as a markdown artifact.
``earmark reasons`` prints the same from the warehouse (:func:`reasons_table`).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline import errors
from pipeline import warehouse as wh
from pipeline.config import Config
from pipeline.protocols import Embedder
from pipeline.queue_trend import TrendCall
from pipeline.reason_store import (
    NightReasons,
    options_from_config,
    period_start,
    read_reasons,
    reason_calls,
    reasons_period,
    rising_on,
    update_reasons,
)
from pipeline.reason_trends import ReasonPeriod, Rising, reason_periods
from pipeline.reasons import (
    ReasonOptions,
    ReasonSpace,
    Statement,
    load_anchor_lines,
    problem_statement,
    reason_space,
    shorten,
)
from pipeline.stored import stored_calls

if TYPE_CHECKING:
    from flows.process import CallResult

log = logging.getLogger("earmark")


_spaces: dict[str, ReasonSpace] = {}


def space_for(embedder: Embedder) -> ReasonSpace:
    """The reason space, its anchor lines embedded once per process per model (and kept
    on disk by the embedder)."""
    if embedder.model_id not in _spaces:
        _spaces[embedder.model_id] = reason_space(load_anchor_lines(), embedder.embed_examples)
    return _spaces[embedder.model_id]


@dataclass(frozen=True, slots=True)
class ReasonsReport:
    """The night's reason step, for the summary: what it did, what rose, what it cost."""

    night: NightReasons = field(default_factory=NightReasons)
    rising: list[Rising] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0


def statements_of(
    results: Iterable[CallResult], space: ReasonSpace, options: ReasonOptions
) -> list[Statement]:
    """The problem statement of each transcribed call with stored vectors."""
    out = []
    for r in results:
        if r.transcript is None or r.vectors is None or r.quarantine is not None:
            continue
        meta = r.recording.metadata
        s = problem_statement(
            r.transcript,
            r.vectors,
            space,
            call_date=r.recording.call_date,
            language=r.transcript.language,
            team_id=meta.get("team_id", ""),
            started_at=meta.get("started_at", ""),
            options=options,
        )
        if s is not None:
            out.append(s)
    return out


def night_reasons(warehouse: str, results: Sequence[CallResult], config: Config) -> ReasonsReport:
    """Assign tonight's calls to reasons, and find what is rising on the newest date."""
    if not config.reasons.enabled:
        return ReasonsReport()
    from models.embed import get_embedder

    started = time.monotonic()
    options = options_from_config(config)
    space = space_for(get_embedder())
    statements = statements_of(results, space, options)
    night = update_reasons(warehouse, statements, space, options)
    dates = sorted({s.call_date for s in statements})
    rising = rising_on(warehouse, dates[-1], options) if dates else []
    labels = {r.reason_id: r.label for r in read_reasons(warehouse)} if rising else {}
    report = ReasonsReport(night, rising, labels, time.monotonic() - started)
    log.info(
        "contact reasons: %d calls assigned, %d new reasons, %d flags",
        night.assigned,
        len(night.opened),
        len(rising),
    )
    return report


def rising_markdown(rising: Sequence[Rising], labels: dict[str, str], *, top: int = 20) -> str:
    """The rising reasons as a markdown table (the artifact, the monthly report)."""
    if not rising:
        return "Nothing is rising: every reason is at its usual level."
    lines = [
        "| reason | label | signal | window | team | calls | expected | p | examples |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rising[:top]:
        label = shorten(labels.get(r.reason_id, ""), 60).replace("|", "/")
        lines.append(
            f"| {r.reason_id} | {label} | {r.signal} | {r.window} to {r.date} | "
            f"{r.team_id or 'all'} | {r.count} of {r.total} | {r.expected:.1f} | "
            f"{r.p_value:.1g} | {', '.join(r.calls[:3])} |"
        )
    return "\n".join(lines)


def publish_rising(report: ReasonsReport) -> None:
    """The night's rising reasons as a Prefect markdown artifact (a convenience: the tables
    are the record)."""
    if not report.night.assigned:
        return
    from prefect.artifacts import create_markdown_artifact

    date = report.rising[0].date if report.rising else "night"
    key = re.sub(r"[^a-z0-9-]+", "-", f"reasons-{date}".lower()).strip("-")
    body = f"## Contact reasons rising — {date}\n\n" + rising_markdown(report.rising, report.labels)
    try:
        create_markdown_artifact(
            markdown=body, key=key, description="earmark rising contact reasons"
        )
    except Exception as exc:
        log.warning("could not publish the reasons artifact %s: %s", key, exc)


def trend_calls(warehouse: str, date: str, config: Config) -> list[TrendCall]:
    """``date``'s calls of the reasons rising on it, at most ``[reasons] trend_calls`` per
    reason (from its most surprising flag first), for the queues' ``trend`` entries."""
    if not config.reasons.enabled or config.reasons.trend_calls <= 0:
        return []
    options = options_from_config(config)
    rising = rising_on(warehouse, date, options)
    if not rising:
        return []
    info = {c.call_id: c for c in stored_calls(warehouse, date)}
    stated = {c.call_id: c for c in reason_calls(warehouse, [date], options)}
    labels = {r.reason_id: r.label for r in read_reasons(warehouse)}
    out: list[TrendCall] = []
    seen: set[str] = set()
    per_reason: Counter[str] = Counter()
    for flag in rising:  # most surprising first: its calls are offered first
        today = [c for c in flag.calls if c in stated and c in info and c not in seen]
        why = "trend: " + flag.why(shorten(labels.get(flag.reason_id, ""), 60))
        room = options.trend_calls - per_reason[flag.reason_id]
        for call_id in today[: max(room, 0)]:
            per_reason[flag.reason_id] += 1
            c, call = stated[call_id], info[call_id]
            seen.add(call_id)
            out.append(
                TrendCall(
                    call_id,
                    call.team_id,
                    call.agent_id,
                    call.duration_s or c.end_s,
                    c.start_s,
                    c.end_s,
                    why,
                )
            )
    return out


# ---------------------------------------------------------------- earmark reasons


def reason_lines(
    warehouse: str, config: Config, *, since: str | None = None, team: str | None = None
) -> tuple[list[ReasonPeriod], str, str]:
    """The reasons with calls in the period (``since`` to the newest night), rising first;
    with ``team``, that team's calls and the flags raised on them.

    Raises
    ------
    WarehouseError
        ``W012``/``W010`` when the warehouse is missing or holds no calls; ``W011`` when it holds no contact
        reasons yet.
    """
    wh.require_calls(warehouse)
    dates = wh.partition_dates(warehouse, "call_reasons")
    if not dates:
        raise errors.WAREHOUSE_NO_REASONS(root=warehouse)
    last = dates[-1]
    period = reasons_period(
        warehouse,
        options_from_config(config),
        first=since or period_start(last, 7),
        last=last,
        team=team or "",
    )
    if not period.reasons:
        raise errors.WAREHOUSE_NO_REASONS(root=warehouse)
    lines = reason_periods(period.calls, period.reasons, period.rising, last=last)
    return lines, period.first, last


def reasons_table(lines: Sequence[ReasonPeriod], first: str, last: str, *, top: int = 30) -> str:
    """``earmark reasons`` output: one line per reason, then the flags spelt out."""
    out = [
        f"contact reasons {first} … {last}: {sum(ln.calls for ln in lines)} calls, "
        f"{len(lines)} reasons ({sum(1 for ln in lines if ln.flags)} rising)",
        f"{'reason':7} {'calls':>5} {'last':>5} {'rep':>4} {'langs':9} {'flag':16} label",
    ]
    for ln in lines[:top]:
        flag = ",".join(sorted({f.signal for f in ln.flags})) or "-"
        out.append(
            f"{ln.reason.reason_id:7} {ln.calls:5d} {ln.last_day:5d} {ln.repeats:4d} "
            f"{'/'.join(ln.reason.languages):9} {flag:16} {shorten(ln.reason.label, 70)}"
        )
    flagged = [f for ln in lines for f in ln.flags]
    if flagged:
        out.append("")
        labels = {ln.reason.reason_id: ln.reason.label for ln in lines}
        out += [f"! {f.why(shorten(labels.get(f.reason_id, ''), 50))}" for f in flagged[:top]]
    return "\n".join(out)
