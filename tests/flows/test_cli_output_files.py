"""Every option that writes a file refuses a path it cannot write with one coded line
(``C062``) naming the option, the file and the problem, before any work is done: never
an internal error with a traceback hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main

WRITERS = [
    (["queue", "show"], "--csv", "q.csv"),
    (["rubric", "suggest"], "--out", "s.yaml"),
    (["report", "--team", "T1", "--month", "2026-11"], "--out", "r.html"),
]


@pytest.mark.parametrize(("command", "option", "name"), WRITERS, ids=lambda c: str(c))
def test_an_output_in_a_missing_folder_is_one_coded_line(
    command: list[str], option: str, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nodir" / name
    (tmp_path / "wh").mkdir()
    assert main([*command, "--warehouse", str(tmp_path / "wh"), option, str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"earmark: error: [C062] {option} {target}: folder {target.parent} does not exist"
    ]
    assert not target.parent.exists()


@pytest.mark.parametrize(("command", "option", "name"), WRITERS, ids=lambda c: str(c))
def test_an_output_that_is_a_folder_is_one_coded_line(
    command: list[str], option: str, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "wh").mkdir()
    assert main([*command, "--warehouse", str(tmp_path / "wh"), option, str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"earmark: error: [C062] {option} {tmp_path}: is a folder; give a file name in it"
    ]


def test_every_option_that_writes_a_file_is_covered() -> None:
    """A new writing option joins :data:`WRITERS` (and so gets the check)."""
    from flows.cli import _parser

    found = set()

    def walk(parser: object, path: tuple[str, ...]) -> None:
        import argparse

        assert isinstance(parser, argparse.ArgumentParser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*path, name))
            for option in action.option_strings:
                if option in ("--out", "--csv", "--json", "--html", "--output"):
                    found.add((path, option))

    walk(_parser(), ())
    assert found == {
        (("queue", "show"), "--csv"),
        (("rubric", "suggest"), "--out"),
        (("report",), "--out"),
    }
