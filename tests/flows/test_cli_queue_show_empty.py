"""``queue show`` with nothing to show says why: an inspector no queue knows (and the
ones it does), a date without a queue (and the nearest with one), a date whose every
recording was quarantined (how many, the reasons and where they are kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import QUARANTINED_SHOWN, QuarantineDay, empty_queue_notes, main
from pipeline import warehouse as wh

QUEUED = {
    "2026-11-18": ["lena"],
    "2026-11-20": ["lena", "omar"],
    "2026-11-21": ["omar"],
    "2026-11-23": [],  # built empty: every recording of that night was quarantined
}
LOST = QuarantineDay(("[A001] /a/x.wav: empty file (0 bytes)", "[A002] /a/y.wav: bad"), 0)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    root = tmp_path / "wh"
    for date, names in QUEUED.items():
        rows = [{"call_id": f"c-{date}-{n}", "inspector": n, "rank": 1} for n in names]
        wh.upsert(root, "queue", {date: rows})
        if names:
            wh.upsert(root, "calls", {date: [{"call_id": f"c-{date}", "status": "ok"}]})
    wh.upsert(
        root,
        "quarantine",
        {
            "2026-11-23": [
                {"source_path": "/a/x.wav", "error_code": "A001", "reason": "/a/x.wav: empty"},
                {"source_path": "/a/y.wav", "error_code": "A002", "reason": "/a/y.wav: bad"},
            ]
        },
    )
    return root


SHOWN = [
    (  # an inspector no queue knows: the ones it does
        ["--inspector", "nobody"],
        ["no inspector 'nobody' in the queues of any date; inspectors with a queue: lena, omar"],
    ),
    (  # a date without a queue: the nearest with one
        ["--date", "2026-11-22"],
        ["no queue for 2026-11-22; nearest dates with a queue: 2026-11-18, 2026-11-20, 2026-11-21"],
    ),
    (
        ["--date", "2026-11-19", "--inspector", "omar"],
        ["no queue of omar for 2026-11-19; nearest dates with a queue: 2026-11-20, 2026-11-21"],
    ),
    (  # a known inspector with nothing that date, which others have a queue of
        ["--date", "2026-11-21", "--inspector", "lena"],
        [
            "lena has nothing in the queue of 2026-11-21 (it holds omar's calls); "
            "nearest dates with a queue: 2026-11-18, 2026-11-20"
        ],
    ),
    (  # a date whose every recording was quarantined: how many, why, where it is kept
        ["--date", "2026-11-23"],
        [
            "no queue for 2026-11-23: every recording of that date was quarantined; "
            "nearest dates with a queue: 2026-11-18, 2026-11-20, 2026-11-21",
            "2 recordings of 2026-11-23 could not be processed and were quarantined (the "
            "warehouse's quarantine table holds each with the reason):",
            "  [A001] /a/x.wav: empty",
            "  [A002] /a/y.wav: bad",
        ],
    ),
]


@pytest.mark.parametrize(("options", "lines"), SHOWN, ids=lambda v: " ".join(v)[:40])
def test_an_empty_queue_show_says_why(
    options: list[str], lines: list[str], warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["queue", "show", "--warehouse", str(warehouse), *options]) == 0
    assert capsys.readouterr().out.splitlines() == lines


def test_the_notes_of_other_cases() -> None:
    one = QuarantineDay(LOST.reasons[:1], 3)
    # some recordings quarantined, the rest processed, none needing review
    assert empty_queue_notes(
        {"2026-11-23": []}, {"2026-11-23": one}, date="2026-11-23", inspector=None
    ) == [
        "the queue for 2026-11-23 is empty: no call of that date needed review",
        "1 recording of 2026-11-23 could not be processed and was quarantined (the "
        "warehouse's quarantine table holds it with the reason):",
        "  [A001] /a/x.wav: empty file (0 bytes)",
    ]
    assert empty_queue_notes({}, {"2026-11-23": LOST}, date=None, inspector=None)[:2] == [
        "no queue holds any call yet",
        "2 recordings could not be processed and were quarantined (the warehouse's "
        "quarantine table holds each with the reason):",
    ]
    assert empty_queue_notes({"2026-11-20": ["unassigned"]}, {}, date=None, inspector="lena") == [
        "no inspector 'lena': the queues are not split by inspector (built without "
        "[[inspectors]] in the config); leave out --inspector"
    ]
    many = QuarantineDay(tuple(f"[A001] /a/{n}.wav: empty" for n in range(9)), 0)
    notes = empty_queue_notes({}, {"2026-11-23": many}, date="2026-11-23", inspector=None)
    assert notes[-1] == f"  … {9 - QUARANTINED_SHOWN} more in the quarantine table"
    assert len(notes) == 2 + QUARANTINED_SHOWN + 1


def test_the_examples_in_the_docstrings_hold() -> None:
    import doctest

    import flows.cli

    result = doctest.testmod(flows.cli, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
