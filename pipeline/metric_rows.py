"""A call's metrics as rows: scalar fields for the warehouse, values and evidence spans
for a rubric's ``metric.v1`` items, labels for a reader.

Every name here comes from the :class:`~pipeline.types.Metric` of a field of
:class:`~pipeline.types.CallMetrics` or :class:`~pipeline.types.CallSentiment`.
"""

from __future__ import annotations

from dataclasses import fields

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
