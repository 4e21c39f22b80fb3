"""`earmark account hash` from a script: the password on standard input, no terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from review.auth import verify_password

ROOT = Path(__file__).resolve().parents[2]


def _hash(*extra: str, stdin: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "flows.cli", "account", "hash", "--name", "lena", *extra]
    return subprocess.run(
        cmd, cwd=ROOT, env=dict(os.environ), input=stdin, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("stdin", ["s3cret pass\nignored\n", "s3cret pass\r\n", "s3cret pass"])
def test_password_stdin_takes_the_first_line(stdin: str) -> None:
    done = _hash("--role", "lead", "--password-stdin", stdin=stdin)
    assert done.returncode == 0, done.stderr
    (account,) = tomllib.loads(done.stdout)["accounts"]
    assert account["name"] == "lena" and account["role"] == "lead"
    assert verify_password("s3cret pass", account["password_hash"])
    assert not verify_password("s3cret pass\n", account["password_hash"])
    assert "s3cret" not in done.stdout + done.stderr


@pytest.mark.parametrize("stdin", ["", "\nsecond line\n"])
def test_password_stdin_refuses_an_empty_first_line(stdin: str) -> None:
    done = _hash("--password-stdin", stdin=stdin)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "earmark: error: [C038] --password-stdin: the first line of standard input is empty"
    )
    assert done.stdout == ""


def test_without_a_terminal_and_without_the_flag_a_coded_error() -> None:
    done = _hash(stdin="s3cret\n")
    assert done.returncode == 2
    assert "[C037] no terminal to ask the password on" in done.stderr
    assert "--password-stdin" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
