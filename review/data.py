"""Read-only views of the warehouse for the review pages: queues, calls, transcripts.

Partitions are read one date at a time, filtered to the rows a page needs; the
``call_id → date, team, source path, redacted spans`` index is kept in memory and re-read
only for a partition file that changed, so a direct link to any call opens (and its audio
seeks) without a full scan.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import warehouse as wh
from pipeline.analysis import speakers_in_words, speakers_line
from pipeline.metric_rows import METRICS, in_units
from pipeline.plans import PlanOptions, heard_plan
from pipeline.redact_audio import spans_of
from pipeline.row_records import CallRow
from pipeline.rows import call_from_row, queue_entry_from_row
from pipeline.shapes import from_row
from pipeline.stored import partition_rows, quarantined, queue_inspectors
from pipeline.triage import Triage, triage_of
from pipeline.types import Evidence, Finding, PlanSpan, QuarantineEntry, QueueEntry
from review.charts import Marker, TimelineData
from review.items import informational


@dataclass(frozen=True, slots=True)
class CallRef:
    """Where a call lives: its partition, team, agent and recording path in the archive,
    and what of its audio was redacted (which copy of it may be played)."""

    call_id: str
    call_date: str
    team_id: str
    agent_id: str
    source_path: str
    audio_sha256: str = ""
    redactions: tuple[tuple[float, float], ...] = ()
    """``(start_s, end_s)`` of every redacted span (``calls.redactions``)."""


class CallIndex:
    """``call_id`` → :class:`CallRef` over every ``calls`` partition (thread-safe).

    Parameters
    ----------
    root
        Warehouse folder.
    """

    _COLUMNS = ("call_id", "team_id", "agent_id", "source_path", "audio_sha256", "redactions")

    def __init__(self, root: str | Path) -> None:
        self.root = os.fspath(root)
        self._parts: dict[str, tuple[tuple[str, int], dict[str, CallRef]]] = {}
        self._lock = threading.Lock()

    def get(self, call_id: str) -> CallRef | None:
        """The call's reference, or ``None`` when the warehouse has no such call."""
        with self._lock:
            self._refresh()
            for _stamp, refs in self._parts.values():
                if call_id in refs:
                    return refs[call_id]
        return None

    def _refresh(self) -> None:
        dates = wh.partition_dates(self.root, "calls")
        for gone in set(self._parts) - set(dates):
            del self._parts[gone]
        for date in dates:
            path = wh.partition_path(self.root, "calls", date)
            stamp = wh.stamp(path)
            if stamp is None:
                self._parts.pop(date, None)
                continue
            if date in self._parts and self._parts[date][0] == stamp:
                continue
            table = wh.read_parquet(path, columns=list(self._COLUMNS))
            if table is None:  # removed since its stamp was read
                self._parts.pop(date, None)
                continue
            self._parts[date] = (
                stamp,
                {
                    r["call_id"]: CallRef(
                        r["call_id"],
                        date,
                        r["team_id"] or "",
                        r["agent_id"] or "",
                        r["source_path"] or "",
                        r["audio_sha256"] or "",
                        spans_of(r["redactions"] or ()),
                    )
                    for r in table.to_pylist()
                },
            )


# ---------------------------------------------------------------- queues


@dataclass(frozen=True, slots=True)
class QueueItem(QueueEntry):
    """One row of an inspector's queue (read as a :class:`QueueEntry`), with the call's score."""

    score: float | None = None


def queue_dates(root: str | Path) -> list[str]:
    """Dates that have a queue, newest first."""
    return sorted(wh.partition_dates(root, "queue"), reverse=True)


def read_queue(root: str | Path, date: str, *, inspector: str | None = None) -> list[QueueItem]:
    """A date's queue (one inspector's, or everyone's), in the order it was built.

    Parameters
    ----------
    root
        Warehouse folder.
    date
        The queue's date (``YYYY-MM-DD``).
    inspector
        Only this inspector's rows; ``None`` for all.

    Returns
    -------
    list[QueueItem]
        Rows sorted by inspector, kind (review, control, skim, highlight) and rank.
    """
    rows = [
        r
        for r in partition_rows(root, "queue", date)
        if inspector is None or r["inspector"] == inspector
    ]
    scores = latest_scores(partition_rows(root, "scores", date))
    order = {"review": 0, "control": 1, "skim": 2, "highlight": 3}
    rows.sort(key=lambda r: (r["inspector"], order.get(r["kind"], 9), r["rank"]))
    return [
        from_row(QueueItem, {**r, "score": scores.get(r["call_id"], {}).get("score")}) for r in rows
    ]


def _plan(row: Mapping[str, Any]) -> tuple[tuple[float, float, str], ...]:
    """A queue row's plan as (start_s, end_s, kind)."""
    return tuple((s.start_s, s.end_s, s.kind) for s in queue_entry_from_row(row).plan)


def quarantined_on(root: str | Path, date: str) -> int:
    """How many recordings of ``date`` could not be processed (rows of ``quarantine``)."""
    return len(quarantined(root, date))


def latest_queue_date(root: str | Path, *, inspector: str | None = None) -> str | None:
    """The newest date with a queue (with rows for ``inspector`` when given)."""
    dates = queue_dates(root)
    if inspector is None:
        return dates[0] if dates else None
    for date in dates:
        if inspector in queue_inspectors(root, date):
            return date
    return dates[0] if dates else None


def latest_scores(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Each call's score row under the newest version of its rubric (first rubric id wins)."""
    best: dict[str, Mapping[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (r["call_id"], r["rubric_id"], -r["rubric_version"])):
        best.setdefault(r["call_id"], r)
    return best


# ---------------------------------------------------------------- one call


@dataclass(frozen=True, slots=True)
class FindingView(Finding):
    """A finding as the call page shows it: its title is never empty."""

    @property
    def key(self) -> str:
        """``rubric_id|rubric_version|item_id``: the form field that carries its verdict."""
        return finding_key(self.rubric_id, self.rubric_version, self.item_id)

    @property
    def shown(self) -> str:
        """Its outcome as the page shows it: ``info`` for an informational item (it scores
        and flags nothing, :func:`review.items.informational`), never a pass or a fail."""
        if informational(weight=self.weight, flag=self.flag, critical=self.critical):
            return "info"
        return self.outcome


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of an utterance's text, marked with the items whose evidence it is."""

    text: str
    items: tuple[str, ...] = ()
    outcome: str = ""


@dataclass(frozen=True, slots=True)
class UtteranceView:
    """One turn of the transcript, split into marked and unmarked pieces."""

    idx: int
    speaker: str
    start_s: float
    end_s: float
    pieces: tuple[Piece, ...]
    items: tuple[str, ...]
    sentiment: float | None = None
    """The customer's sentiment in [-1, 1] (``utterances.sentiment``), when measured."""


@dataclass(frozen=True, slots=True)
class CallView:
    """Everything the call page shows from the warehouse."""

    ref: CallRef
    call: CallRow
    """Its ``calls`` row (:func:`pipeline.rows.call_from_row`)."""
    utterances: tuple[UtteranceView, ...]
    findings: tuple[FindingView, ...]
    score: Mapping[str, Any] | None
    metrics: tuple[tuple[str, str], ...]
    plan: tuple[tuple[float, float, str], ...]
    """(start_s, end_s, kind) of the viewer's plan: ``hear`` or ``read``."""
    queue_kinds: tuple[str, ...] = field(default=())
    speakers: str = ""
    """How the words got their parties (:func:`pipeline.analysis.speakers_line`)."""
    speakers_in_words: str = ""
    """The same for an inspector (:func:`pipeline.analysis.speakers_in_words`)."""
    quarantine: QuarantineEntry | None = None
    """Why the recording could not be processed, when it was quarantined: then it has no
    audio analysis, transcript or findings, and nothing to review."""
    triage: Triage | None = None
    """Why the call was kept out of the queues (a language not served, no rubric for its
    type): then it has no findings and nothing to review."""


def quarantine_of(root: str | Path, ref: CallRef, call: CallRow) -> QuarantineEntry | None:
    """The ``quarantine`` row of a quarantined call (``None`` for any other); a call whose
    row is gone says what its ``calls`` row does."""
    if call.status != "quarantined":
        return None
    for entry in quarantined(root, ref.call_date, call_id=ref.call_id):
        return entry
    reason = call.status_reason or "no reason was recorded"
    return QuarantineEntry(call.source_path, "", reason, ref.call_id, call_date=ref.call_date)


def queued_for(root: str | Path, ref: CallRef) -> set[str]:
    """Inspectors whose queue for the call's date lists it."""
    return set(queue_inspectors(root, ref.call_date, call_id=ref.call_id))


def finding_key(rubric_id: str, rubric_version: int, item_id: str) -> str:
    return f"{rubric_id}|{rubric_version}|{item_id}"


def read_call(root: str | Path, ref: CallRef, *, viewer: str | None) -> CallView:
    """The call's row, transcript, findings (newest rubric version), score and plan.

    Parameters
    ----------
    root
        Warehouse folder.
    ref
        The call (from :class:`CallIndex`).
    viewer
        The inspector whose queue plan is preferred; ``None`` takes any queue's plan.
    """
    call_rows = partition_rows(root, "calls", ref.call_date, ref.call_id)
    row = call_rows[0] if call_rows else {}
    call = (
        call_from_row(row)
        if row
        else CallRow(
            call_id=ref.call_id,
            source_path=ref.source_path,
            audio_sha256=ref.audio_sha256,
            size_bytes=0,
            status="",
        )
    )
    findings = newest_findings(partition_rows(root, "findings", ref.call_date, ref.call_id))
    utterances = partition_rows(root, "utterances", ref.call_date, ref.call_id)
    utterances.sort(key=lambda u: u["idx"])
    queued = partition_rows(root, "queue", ref.call_date, ref.call_id)
    mine = [q for q in queued if viewer is None or q["inspector"] == viewer] or queued
    plan = _plan(mine[0]) if mine else ()
    return CallView(
        ref=ref,
        call=call,
        utterances=tuple(mark_utterances(utterances, findings)),
        findings=tuple(findings),
        score=latest_scores(partition_rows(root, "scores", ref.call_date, ref.call_id)).get(
            ref.call_id
        ),
        metrics=metric_rows(call),
        plan=plan,
        queue_kinds=tuple(sorted({q["kind"] for q in mine})),
        speakers=speakers_line(call.diarization),
        speakers_in_words=speakers_in_words(call.diarization),
        quarantine=quarantine_of(root, ref, call),
        triage=triage_of(row),
    )


def heard_window(evidence: Evidence, *, duration_s: float, options: PlanOptions) -> PlanSpan:
    """What ▶ on a piece of evidence plays: the moment with the context the queue's plan
    hears around it (``[queue] context_before_s`` before, ``context_after_s`` after).

    Examples
    --------
    >>> heard_window(Evidence("agent", 8.0, 10.0, "…"), duration_s=12.0, options=PlanOptions())
    PlanSpan(start_s=5.0, end_s=12.0, kind='hear')
    """
    spans = heard_plan([evidence.start_s], [evidence.end_s], duration_s=duration_s, options=options)
    return next(iter(spans), PlanSpan(evidence.start_s, evidence.end_s))


def newest_findings(rows: Sequence[Mapping[str, Any]]) -> list[FindingView]:
    """Findings of each rubric's newest version: critical failures, failures, flags first
    (an informational item's outcome is no failure)."""
    newest: dict[str, int] = {}
    for r in rows:
        newest[r["rubric_id"]] = max(newest.get(r["rubric_id"], 0), r["rubric_version"])
    kept = [r for r in rows if r["rubric_version"] == newest[r["rubric_id"]]]
    kept.sort(
        key=lambda r: (
            not (r["critical"] and r["outcome"] == "fail"),
            r["outcome"] != "fail"
            or informational(weight=r["weight"], flag=r["flag"], critical=r["critical"]),
            not r["flag"],
            r["rubric_id"],
            r["item_id"],
        )
    )
    return [from_row(FindingView, {**r, "title": r["title"] or r["item_id"]}) for r in kept]


def mark_utterances(
    utterances: Sequence[Mapping[str, Any]], findings: Sequence[FindingView]
) -> list[UtteranceView]:
    """Split each utterance's text into pieces marked with the findings whose evidence
    overlaps it in time; the evidence's own text is marked when it appears verbatim,
    otherwise the whole utterance is."""
    out = []
    for u in utterances:
        hits = [
            (f, e)
            for f in findings
            for e in f.evidence
            if e.start_s < u["end_s"] + 0.05
            and e.end_s > u["start_s"] - 0.05
            and e.speaker in (u["speaker"], "unknown", "")
        ]
        out.append(
            UtteranceView(
                idx=u["idx"],
                speaker=u["speaker"],
                start_s=u["start_s"],
                end_s=u["end_s"],
                pieces=_pieces(u["text"] or "", hits),
                items=tuple(dict.fromkeys(f.item_id for f, _ in hits)),
                sentiment=_finite(u.get("sentiment")),
            )
        )
    return out


def _finite(value: object) -> float | None:
    if isinstance(value, int | float) and not math.isnan(value):
        return float(value)
    return None


_TIMELINE_METRICS = {"silences": "dead_air_s", "holds": "hold_s", "overtalk": "overtalk_s"}
"""Which stored ``calls.metric_spans`` each band of the timeline draws."""


def timeline_of(view: CallView, *, options: PlanOptions | None = None) -> TimelineData:
    """The call timeline's data: speech per party, silences, holds, overtalk, findings
    (one marker per piece of evidence, a click on it plays :func:`heard_window` when
    ``options`` are given) and the customer's sentiment when measured."""
    bands: dict[str, list[tuple[float, float]]] = {k: [] for k in _TIMELINE_METRICS}
    for s in view.call.metric_spans:
        for band, metric in _TIMELINE_METRICS.items():
            if s.metric == metric:
                bands[band].append((s.start_s, s.end_s))
    last_end = max((u.end_s for u in view.utterances), default=0.0)
    duration_s = float(view.call.duration_s or last_end or 1.0)

    def heard(e: Evidence) -> tuple[float, float] | None:
        if options is None:
            return None
        w = heard_window(e, duration_s=duration_s, options=options)
        return w.start_s, w.end_s

    return TimelineData(
        duration_s=duration_s,
        agent=[(u.start_s, u.end_s) for u in view.utterances if u.speaker == "agent"],
        customer=[(u.start_s, u.end_s) for u in view.utterances if u.speaker != "agent"],
        silences=sorted(set(bands["silences"])),
        holds=sorted(set(bands["holds"])),
        overtalk=sorted(set(bands["overtalk"])),
        markers=[
            Marker(e.start_s, f.title, f.shown, e.end_s, heard(e))
            for f in view.findings
            for e in f.evidence
        ],
        sentiment=[
            ((u.start_s + u.end_s) / 2, u.sentiment)
            for u in view.utterances
            if u.speaker == "customer" and u.sentiment is not None
        ],
    )


def _pieces(text: str, hits: Sequence[tuple[FindingView, Evidence]]) -> tuple[Piece, ...]:
    marks: list[tuple[int, int, FindingView]] = []
    whole: list[FindingView] = []
    lower = text.lower()
    for f, e in hits:
        at = lower.find(e.text.strip().lower()) if e.text.strip() else -1
        if at >= 0:
            marks.append((at, at + len(e.text.strip()), f))
        else:
            whole.append(f)
    if whole:
        items = tuple(dict.fromkeys(f.item_id for f, _ in hits))
        return (Piece(text, items, _worst(f.shown for f, _ in hits)),)
    pieces: list[Piece] = []
    pos = 0
    for start, end, f in sorted(marks, key=lambda m: (m[0], -m[1])):
        if start < pos:  # overlapping marks: the first one shown wins
            continue
        if start > pos:
            pieces.append(Piece(text[pos:start]))
        pieces.append(Piece(text[start:end], (f.item_id,), f.shown))
        pos = end
    if pos < len(text) or not pieces:
        pieces.append(Piece(text[pos:]))
    return tuple(pieces)


def _worst(outcomes: Iterable[str]) -> str:
    seen = set(outcomes)
    return next((o for o in ("fail", "pass", "info", "na") if o in seen), "")


def metric_rows(call: CallRow) -> tuple[tuple[str, str], ...]:
    """``(label, value)`` for each audio metric the call has (NaN and missing skipped)."""
    out = []
    for name, metric in METRICS.items():
        value = call.metrics.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        out.append((metric.label, in_units(value, metric.unit)))
    return tuple(out)
