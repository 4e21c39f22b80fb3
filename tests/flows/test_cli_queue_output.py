"""How the CLI prints a queue: the first reason cut at a word with its quote closed, the
count of the other reasons said in words, and a title that reads."""

from __future__ import annotations

import pytest

from flows.cli import QUOTE_CHARS, WHY_CHARS, _print_queues
from pipeline.queue import UNASSIGNED
from pipeline.scoring import score_call
from pipeline.types import Evidence, Finding, PlanSpan, QueueEntry

COMPLAINT = "10 days? That's too long. I'm not happy with this service at all, honestly"


def _entry(inspector: str, reasons: tuple[str, ...]) -> QueueEntry:
    plan = (PlanSpan(0.0, 30.0, "hear"),)
    return QueueEntry(inspector, "2026-11-21", 1, "CALL-7", "review", 80.0, reasons, plan)


def _rows(capsys: pytest.CaptureFixture[str], *entries: QueueEntry) -> list[str]:
    _print_queues(entries, top=10, warehouse="/wh")
    return capsys.readouterr().out.splitlines()


def test_the_why_is_cut_at_a_word_with_its_quote_closed_and_the_rest_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    evidence = (Evidence("customer", 41.0, 47.0, COMPLAINT),)
    finding = Finding(
        "CALL-7", "inbound", 1, "dissatisfaction", 1, True, "fail", 0.9, evidence, flag=True
    )
    reasons = ("critical: forbidden_language — " + score_call([finding]).reasons[0], "b", "c")
    row = _rows(capsys, _entry("lena", reasons))[2]
    why = row.split("0:30  ", 1)[1]
    quote = why[why.index('"') : why.index(" (+")]
    assert quote.endswith('…"') and quote.count('"') == 2
    assert quote[1:-2] in COMPLAINT and f"{quote[1:-2]} " in f"{COMPLAINT} "  # whole words
    assert len(why) - len(" (+2 more reasons)") <= WHY_CHARS + 1
    assert why.endswith(" (+2 more reasons)")


def test_one_more_reason_is_singular_and_a_lone_reason_has_no_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _rows(capsys, _entry("lena", ("low score", "missed greeting")))[2].endswith(
        "low score (+1 more reason)"
    )
    assert _rows(capsys, _entry("lena", ("low score",)))[2].endswith("low score")


def test_queue_titles_read(capsys: pytest.CaptureFixture[str]) -> None:
    out = _rows(capsys, _entry(UNASSIGNED, ("x",)), _entry("lena", ("x",)))
    titles = [line.split(" — ")[0] for line in out if line.startswith("Queue")]
    assert titles == ["Queue of lena for 2026-11-21", "Queue for 2026-11-21 (unassigned calls)"]


def test_a_critical_flag_item_is_one_reason_not_two(capsys: pytest.CaptureFixture[str]) -> None:
    """A queue row stored before ``score_call`` wrote each reason once lists a failed item
    that is critical and a flag twice; the queue says it once, and counts the other reasons
    without the copy."""
    evidence = (Evidence("agent", 6.0, 7.0, "not my problem"),)
    swear = Finding(
        "CALL-7", "inbound", 1, "forbidden_language", 1, True, "fail", 0.9, evidence,
        critical=True, flag=True,
    )  # fmt: skip
    (critical,) = score_call([swear]).reasons
    reasons = (critical, critical.removeprefix("critical: "))  # as older versions stored it
    row = _rows(capsys, _entry("lena", (*reasons, "missed greeting")))[2]
    assert 'critical: forbidden_language — agent at 0:06: "not my problem"' in row
    assert row.endswith("(+1 more reason)")


def test_the_cost_adds_up_and_the_columns_are_explained_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """34.5 s to hear and 53 s of transcript read at 4x (13.25 s) cost 47.75 s: the line
    says so in whole seconds that add up, and one legend says what prio and cost are."""
    plan = (PlanSpan(0.0, 34.5, "hear"), PlanSpan(40.0, 93.0, "read"))
    entries = [
        QueueEntry(name, "2026-11-21", 1, "CALL-7", "review", 2610.0, ("x",), plan, cost_s=47.75)
        for name in ("lena", "omar")
    ]
    out = "\n".join(_rows(capsys, *entries))
    assert (
        "1 call(s) to review, 0:47 of budget = 0:34 to hear + 0:13 to read 0:53 of transcript;"
        in out
    )
    assert out.count("prio: how urgently the call should be heard") == 1
    assert "a failed critical item counts 1000" in out
    assert "charged at 1/4 of their length (reading is 4x faster than listening" in out


def test_an_unassigned_queue_says_why_it_has_no_budget_or_highlights(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _rows(capsys, _entry(UNASSIGNED, ("x",)), _entry("lena", ("x",)))
    notes = [line for line in out if "no inspector is paired with these calls' teams" in line]
    assert len(notes) == 1
    assert "a control sample, skims and highlights are picked only for an inspector's" in notes[0]
    assert out.index(notes[0]) == out.index(next(t for t in out if "(unassigned calls)" in t)) + 1


def test_a_long_item_title_gives_way_to_the_words_said(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The make-run queue showed 'agent at 0:06: "I have…"': a rubric title of 52
    characters left two words of the quote. The title is cut instead."""
    title = "Agent blames, talks down to, dismisses or mocks the customer"
    reason = f'{title} — agent at 0:25: "{COMPLAINT}"'
    why = _rows(capsys, _entry("lena", (reason, "b")))[2].split("0:30  ", 1)[1]
    quote = why[why.index('"') + 1 : why.index('…"')]
    assert len(quote) >= QUOTE_CHARS - 10 and COMPLAINT.startswith(quote)
    assert why.startswith("Agent blames") and "… — agent at 0:25: " in why
    assert len(why) - len(" (+1 more reason)") <= WHY_CHARS + 1
