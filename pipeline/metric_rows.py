"""A call's metrics as rows: scalar fields for the warehouse, values and evidence spans
for a rubric's ``metric.v1`` items, labels for a reader.

Every name here comes from the :class:`~pipeline.types.Metric` of a field of
:class:`~pipeline.types.CallMetrics` or :class:`~pipeline.types.CallSentiment`.
"""

from __future__ import annotations

from dataclasses import fields

from pipeline.text import clock
from pipeline.types import CallMetrics, CallSentiment, Metric, Span, tagged

METRICS: dict[str, Metric] = {
    m.column or name: m
    for record in (CallMetrics, CallSentiment)
    for name, m in tagged(record, Metric)
}
"""Every metric stored in ``calls``, by column name, in column order: the audio's (see
:mod:`pipeline.metrics`) and the customer's sentiment (see :mod:`pipeline.meaning`)."""
METRIC_COLUMNS = tuple(METRICS)


def as_row(metrics: CallMetrics) -> dict[str, float | int]:
    """The scalar fields of ``metrics``, named as the fields (spans left out)."""
    return {
        f.name: getattr(metrics, f.name)
        for f in fields(metrics)
        if not isinstance(getattr(metrics, f.name), tuple)
    }


METRIC_ALIASES: dict[str, str] = {
    "agent_overtalk_count": "interruptions_agent",
    "customer_overtalk_count": "interruptions_customer",
}
"""Extra names a rubric's ``metric.v1`` may use, and the field each one reads."""


def in_units(value: float, unit: str) -> str:
    """A metric's value as a reader reads it: seconds (``m:ss`` from a minute), a share
    as a percentage, a count, or a plain number.

    Examples
    --------
    >>> in_units(15.58, "s"), in_units(75.0, "s"), in_units(0.456, "%"), in_units(4.0, "n")
    ('15.6 s', '1:15', '46 %', '4')
    """
    if unit == "s":
        return clock(value) if value >= 60 else f"{value:.1f} s"
    if unit == "%":
        return f"{value * 100:.0f} %"
    if unit == "n":
        return f"{value:.0f}"
    return f"{value:.2f}"


_LIMITS = {
    ">": "limit {}",
    ">=": "under {} expected",
    "<": "at least {} expected",
    "<=": "over {} expected",
    "==": "{} not expected",
    "!=": "{} expected",
}
"""A ``metric.v1`` threshold as what a call should keep to (its items expect the
threshold not crossed: ``expect: absent``)."""


def measured(metric: str, value: float, *, op: str, threshold: float, at_s: float | None) -> str:
    """A ``metric.v1`` measurement in words: what was measured, where, and the threshold
    (the evidence text of its findings, and so the reason of a failed item).

    Examples
    --------
    >>> measured("longest_dead_air_s", 15.58, op=">", threshold=10, at_s=23.4)
    'longest dead air 15.6 s at 0:23 (limit 10 s)'
    >>> measured("agent_overtalk_count", 4, op=">=", threshold=3, at_s=12.0)
    'agent interruptions 4, one at 0:12 (under 3 expected)'

    A count or a total is the whole call's: ``at_s`` is one place of it, not where the
    value is (the longest dead air is).
    """
    m = METRICS.get(METRIC_ALIASES.get(metric, metric))
    label, unit = (m.label, m.unit) if m else (metric.replace("_", " "), "x")
    limit = f"{threshold * 100:g} %" if unit == "%" else f"{threshold:g}"
    limit += " s" if unit == "s" else ""
    at = (
        ""
        if at_s is None
        else f" at {clock(at_s)}"
        if m is None or m.longest
        else f", one at {clock(at_s)}"
    )
    return f"{label} {in_units(value, unit)}{at} ({_LIMITS[op].format(limit)})"


def as_metric_values(metrics: CallMetrics) -> dict[str, float]:
    """The numbers a rubric ``metric.v1`` threshold reads: every scalar field, plus aliases.

    Examples
    --------
    >>> from pipeline.metrics import call_metrics
    >>> from pipeline.types import Transcript
    >>> t = Transcript(call_id="c", language="en", duration_s=60.0, utterances=())
    >>> activity = {"agent": [Span(0, 10), Span(30, 40)], "customer": [Span(8, 18)]}
    >>> values = as_metric_values(call_metrics(activity, t, duration_s=60.0))
    >>> values["longest_dead_air_s"], values["dead_air_count"], values["customer_overtalk_count"]
    (12.0, 1.0, 1.0)
    """
    values = {name: float(v) for name, v in as_row(metrics).items()}
    values.update({alias: values[name] for alias, name in METRIC_ALIASES.items()})
    return values


def as_metric_spans(metrics: CallMetrics) -> dict[str, tuple[Span, ...]]:
    """Where each metric of :func:`as_metric_values` happened: the evidence to listen to."""
    spans = {name: _spans_of(metrics, m) for name, m in tagged(CallMetrics, Metric) if m.spans}
    spans.update({alias: spans[name] for alias, name in METRIC_ALIASES.items()})
    return {name: s for name, s in spans.items() if s}


def _spans_of(metrics: CallMetrics, metric: Metric) -> tuple[Span, ...]:
    spans: tuple[Span, ...] = getattr(metrics, metric.spans)
    if metric.longest and spans:
        return (max(spans, key=lambda s: s.duration_s),)
    return spans
