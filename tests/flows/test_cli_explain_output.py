"""How ``earmark rubric explain`` prints evidence: a moment shorter than a second as one
time, and a rule made from a long list (a regular expression of thousands of characters)
cut to its first characters unless ``--full-rules`` asks for all of it."""

from __future__ import annotations

import pytest

from flows.cli import _print_assessment
from pipeline.scoring import score_call
from pipeline.text import RULE_SHOWN_CHARS
from pipeline.types import Evidence, Finding

NAMES = "regex '\\b(?:" + "|".join(f"agentname{k:04d}" for k in range(200)) + ")\\b'"


def _explained(capsys: pytest.CaptureFixture[str], *, full_rules: bool) -> list[str]:
    evidence = (
        Evidence("customer", 10.2, 10.6, "This is ridiculous.", "lemma 'ridiculous'"),
        Evidence("agent", 3.0, 5.0, "this is Emma", NAMES),
    )
    finding = Finding("C1", "inbound", 1, "agent_name", 1, True, "fail", 0.9, evidence, flag=True)
    _print_assessment("C1", [finding], score_call([finding]), explain=True, full_rules=full_rules)
    return capsys.readouterr().out.splitlines()


def test_a_moment_within_one_second_prints_one_time(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _explained(capsys, full_rules=False)
    assert any(line.strip().startswith("0:10 customer:") for line in lines)
    assert any(line.strip().startswith("0:03-0:05 agent:") for line in lines)
    assert not any("0:10-0:10" in line for line in lines)


def test_a_long_rule_is_cut_unless_asked_for_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    short = next(line for line in _explained(capsys, full_rules=False) if "this is Emma" in line)
    rule = short[short.index("[") + 1 : short.rindex("]")]
    assert rule.endswith("…") and len(rule) <= RULE_SHOWN_CHARS and NAMES.startswith(rule[:-1])
    full = next(line for line in _explained(capsys, full_rules=True) if "this is Emma" in line)
    assert f"[{NAMES}]" in full
