"""The `earmark` command's exit code says what kind of problem stopped it (README table)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from runkit import earmark

from pipeline import warehouse as wh


def _earmark(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return earmark(*args, env=dict(os.environ), timeout=120)


def _assert_exit(done: subprocess.CompletedProcess[str], code: int, error: str) -> None:
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith(f"earmark: error: [{error}]"), done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_option_exits_2() -> None:
    _assert_exit(_earmark("backfill", "--from", "2026-01-01"), 2, "C003")


def test_a_missing_archive_exits_3(tmp_path: Path) -> None:
    done = _earmark("run", "--archive", tmp_path / "nope", "--warehouse", tmp_path / "wh")
    _assert_exit(done, 3, "I001")


def test_a_damaged_warehouse_exits_4(tmp_path: Path) -> None:
    part = tmp_path / "wh" / "queue" / "call_date=2026-01-01" / "part-0.parquet"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"not parquet")
    wh.upsert(str(tmp_path / "wh"), "calls", {"2026-01-01": [{"call_id": "c1"}]})
    _assert_exit(_earmark("queue", "show", "--warehouse", tmp_path / "wh"), 4, "W002")


def test_a_model_folder_without_weights_exits_5(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "model").mkdir()
    done = _earmark(
        "run",
        "--archive",
        tmp_path / "archive",
        "--warehouse",
        tmp_path / "wh",
        "--model",
        tmp_path / "model",
    )
    _assert_exit(done, 5, "M001")


def test_a_bug_exits_70_and_says_it_is_one(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from flows import cli

    def broken(_args: object) -> int:
        raise KeyError("oops")

    monkeypatch.setattr(cli, "cmd_rubric_schema", broken)
    assert cli.main(["rubric", "schema"]) == 70
    assert "This is a bug in earmark" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [["rubric", "schema"], ["triage", "--warehouse", "WH"], ["queue", "show", "--warehouse", "WH"]],
    ids=" ".join,
)
def test_the_advice_of_an_internal_error_works(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The message says the exact command to run again; run as said (and with -v after
    the command, where users also put it), it shows the traceback instead."""
    import shlex

    from flows import cli

    def broken(_args: object) -> int:
        raise KeyError("oops")

    for name in ("cmd_rubric_schema", "cmd_triage", "cmd_queue_show"):
        monkeypatch.setattr(cli, name, broken)
    wh.upsert(str(tmp_path), "calls", {"2026-01-01": [{"call_id": "c1"}]})
    argv = [str(tmp_path) if word == "WH" else word for word in command]
    assert cli.main(argv) == 70
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "earmark: internal error: KeyError: 'oops'"
    advice = err[-1].split("run it again with -v: ", 1)[1]
    assert advice == shlex.join(["earmark", "-v", *argv])
    words = shlex.split(advice)
    assert words[0] == "earmark"
    for again in (words[1:], [*argv, "-v"], [*argv, "--verbose"]):
        with pytest.raises(KeyError, match="oops"):
            cli.main(again)


@pytest.mark.parametrize(
    "command",
    [
        ("rubric", "apply"),
        (
            "rubric",
            "tune",
            "customer_dissatisfaction",
            "--rubric",
            "rubrics/en/inbound-support.yaml",
        ),
    ],
)
def test_unreadable_transcripts_are_an_error_with_a_code(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    labels = tmp_path / "labels.tsv"
    labels.write_text("C1\tpresent\n")
    missing = tmp_path / "missing.jsonl"
    extra = ("--labels", labels) if "tune" in command else ()
    done = _earmark(*command, "--transcripts", missing, *extra)
    _assert_exit(done, 2, "C072")
    assert f"{missing}: cannot read the transcripts (No such file or directory)" in done.stderr


def test_output_read_by_head_stops_quietly() -> None:
    """`earmark queue show | head`: the reader closes the pipe after a few lines; earmark
    stops as cat does (exit 141, nothing on stderr), not with an internal error."""
    import sys

    from runkit import ROOT, child_env

    script = (
        "import sys\n"
        "from flows import cli\n"
        "def long_output(_args):\n"
        "    for k in range(200_000):\n"
        "        print(f'line {k} of a long queue')\n"
        "    return 0\n"
        "cli.cmd_rubric_schema = long_output\n"
        "sys.exit(cli.main(['rubric', 'schema']))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.readline() == "line 0 of a long queue\n"
    child.stdout.close()  # what head does once it has its lines
    err = child.stderr.read()
    assert child.wait(timeout=120) == 141, err
    assert err == ""


def test_another_broken_pipe_is_a_bug(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Only the output's own reader going away is quiet: a pipe to something else that
    breaks (a child process, a socket) while standard output is fine is an internal error."""
    from flows import cli

    def broken(_args: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "cmd_rubric_schema", broken)
    assert cli.main(["rubric", "schema"]) == 70
    assert "internal error: BrokenPipeError" in capsys.readouterr().err
