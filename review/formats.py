"""How the review app, the monthly report and the calibration report print numbers.

A value that is not there (``None``) or not measured (NaN) prints as ``—``. These are
also the Jinja filters of the app's and the report's templates (:data:`FILTERS`).
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from pipeline.scoring import distinct_reasons, measurement
from pipeline.text import clock, short_rule, shorten
from pipeline.types import Evidence


def clock_or_dash(seconds: float | None) -> str:
    """``m:ss`` of a moment in the call.

    Examples
    --------
    >>> clock_or_dash(75.0), clock_or_dash(None)
    ('1:15', '—')
    """
    return "—" if seconds is None or math.isnan(seconds) else clock(seconds)


def pct(value: float | None) -> str:
    """A share as a whole percentage.

    Examples
    --------
    >>> pct(0.456), pct(float("nan"))
    ('46%', '—')
    """
    return "—" if value is None or math.isnan(value) else f"{value * 100:.0f}%"


def num(value: float | None, digits: int = 0) -> str:
    """A number with ``digits`` decimals.

    Examples
    --------
    >>> num(3.14159, 2), num(None)
    ('3.14', '—')
    """
    return "—" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def moment_example(duration_s: float | None) -> float:
    """A moment inside a call to show as an example of a time: a third into it, in whole
    seconds (75 when the length is not known). The form's hint and its error use it, so
    neither suggests a time past the end of a short call.

    Examples
    --------
    >>> moment_example(25.0), moment_example(600.0), moment_example(None)
    (8, 200, 75)
    """
    if duration_s is None or math.isnan(duration_s) or duration_s <= 0:
        return 75
    return max(1, int(duration_s / 3))


def time_hint(duration_s: float | None) -> str:
    """How to type a moment of the call, with an example inside it.

    Examples
    --------
    >>> time_hint(25.0), time_hint(None)
    ('0:08 or 8', '1:15 or 75')
    """
    at = moment_example(duration_s)
    return f"{clock(at)} or {at}"


_QUOTED = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_WORDS = re.compile(rf"^(?:phrase|lemma|keyword) {_QUOTED}$")
_NEAR = re.compile(rf"^proximity {_QUOTED} ~ {_QUOTED}$")
_HEARD_FOR = re.compile(rf"^(?:phrase|lemma) {_QUOTED} ≈ {_QUOTED}")
_MEANING = re.compile(rf"^meaning ≈ {_QUOTED}")
_SHOWN = 80


def _said(quoted: str) -> str:
    try:
        text = ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        text = quoted[1:-1]
    return f"“{shorten(str(text), _SHOWN)}”"


def plain_rule(rule: str) -> str:
    """What made a finding fire, in words an inspector reads: the phrase said, the example
    it was close in meaning to, a rule or a measurement, without regular expressions or
    scores (the lead's page and ``earmark rubric explain`` keep the rule as it is).

    Examples
    --------
    >>> plain_rule("lemma 'sorry to hear'")
    'the words “sorry to hear”'
    >>> plain_rule("regex '\\\\b(?:it\\'?s |that\\'?s )not my (?:problem|job)'")
    'a phrase rule'
    >>> plain_rule("meaning ≈ 'this is ridiculous' (0.94, log-odds +2.184)")
    'close in meaning to: “this is ridiculous”'
    >>> plain_rule("lemma 'date on birth' ≈ 'date of birth' (on for of)")
    'the words “date on birth”, heard for “date of birth”'
    >>> plain_rule("proximity 'cancel' ~ 'account'")
    '“cancel” near “account”'
    >>> plain_rule("sequence lemma 'hold' → lemma 'thank you for holding'")
    'the words “hold”, then the words “thank you for holding”'
    >>> plain_rule("metric longest_dead_air_s > 10")
    'measured in the audio'
    """
    rule = rule.strip()
    if rule.startswith("sequence ") and " → " in rule:
        first, then = rule.removeprefix("sequence ").split(" → ", 1)
        return f"{plain_rule(first)}, then {plain_rule(then)}"
    if m := _WORDS.match(rule):
        return f"the words {_said(m[1])}"
    if m := _HEARD_FOR.match(rule):  # a phrase with one word misheard (``tolerance``)
        return f"the words {_said(m[1])}, heard for {_said(m[2])}"
    if m := _NEAR.match(rule):
        return f"{_said(m[1])} near {_said(m[2])}"
    if m := _MEANING.match(rule):
        return f"close in meaning to: {_said(m[1])}"
    if rule.startswith("regex "):
        return "a phrase rule"
    if rule.startswith("metric "):
        return "measured in the audio"
    return short_rule(rule)


def evidence_text(evidence: Evidence) -> str:
    """A finding's evidence as the page shows it: the words said in quotes; a measurement
    (``metric.v1``) as the words it is, not quoted as if someone said it.

    Examples
    --------
    >>> evidence_text(Evidence("agent", 6.0, 7.0, "not my problem"))
    '“not my problem”'
    >>> evidence_text(Evidence("unknown", 23.0, 38.6, "longest dead air 15.6 s at 0:23 (limit 10 s)",
    ...                        "metric longest_dead_air_s > 10"))
    'longest dead air 15.6 s at 0:23 (limit 10 s)'
    """
    return evidence.text if measurement(evidence) else f"“{evidence.text}”"


def plural(n: int, noun: str) -> str:
    """``n`` and the noun, plural unless one.

    Examples
    --------
    >>> plural(1, "call"), plural(2, "call"), plural(0, "call")
    ('1 call', '2 calls', '0 calls')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


FILTERS: dict[str, Any] = {
    "plural": plural,
    "clock": clock_or_dash,
    "pct": pct,
    "num": num,
    "short_rule": short_rule,
    "plain_rule": plain_rule,
    "evidence_text": evidence_text,
    "distinct_reasons": distinct_reasons,
    "moment_example": lambda d: clock(moment_example(d)),
    "time_hint": time_hint,
}
"""The Jinja filters of the app's and the monthly report's templates."""
