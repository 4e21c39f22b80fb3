"""A mistyped ``--warehouse`` is refused by every command that reads one, and nothing is
created there: a missing folder is ``W012``, a folder without calls ``W010`` (exit 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main

READERS = [
    ["queue", "show"],
    ["queue", "build"],
    ["triage"],
    ["rescore"],
    ["calibration", "report"],
    ["reasons"],
    ["rubric", "explain", "--call", "c1"],
    ["rubric", "suggest"],
    ["report", "--team", "T1", "--month", "2026-11", "--out", "report.html"],
]


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c[:2]))
def test_a_missing_warehouse_is_refused_and_not_created(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "nope"
    assert main([*command, "--warehouse", str(typo)]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"earmark: error: [W012] {typo}: no such folder")
    assert not typo.exists()


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c[:2]))
def test_a_folder_without_calls_is_refused_and_left_empty(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "not-a-warehouse"
    folder.mkdir()
    assert main([*command, "--warehouse", str(folder)]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"earmark: error: [W010] {folder}: no calls")
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        (["queue", "show"], "--date", "2026-13-01"),
        (["queue", "build"], "--date", "2026-02-30"),
        (["triage"], "--date", "21/11/2026"),
        (["rescore"], "--since", "yesterday"),
    ],
)
def test_an_invalid_date_is_a_coded_usage_error(
    command: list[str], option: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "nope"
    assert main([*command, "--warehouse", str(typo), option, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"earmark: error: [C040] {option} {value!r} is not a date"), err
    assert not typo.exists()
