"""A date or month argument that is not one is refused while the arguments are parsed:
a coded error naming the option and the value, before the command loads anything (the
monthly report used to import the whole review app, ~10 s, before saying "2026-13")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from flows.cli import main
code = main(json.loads(sys.argv[1]))
loaded = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("review", "pyarrow", "sqlalchemy", "prefect", "flows")
    and m not in ("flows", "flows.cli")
    or m in ("pipeline.config", "pipeline.warehouse", "pipeline.file_index")
)
print(json.dumps([code, loaded]))
"""
"""Runs ``earmark ARGS`` in a fresh interpreter; prints the exit code and what it loaded
besides the CLI itself (the configuration, the warehouse, the review app, Prefect…)."""

CASES = [
    (["report", "--team", "T1", "--out", "r.html", "--month", "2026-13"], "[C060]", "'2026-13'"),
    (["report", "--team", "T1", "--out", "r.html", "--month", "2026-1"], "[C060]", "'2026-1'"),
    (  # digits, but not ASCII ones: month_days would fail on them later
        ["report", "--team", "T1", "--out", "r.html", "--month", "\u0662\u0660\u0662\u0666-12"],
        "[C060]",
        "-12'",
    ),
    (["run", "--archive", "a", "--since", "2026-02-30"], "[C040] --since", "'2026-02-30'"),
    (
        ["rubric", "apply", "--warehouse", "w", "--since", "2026-13-01"],
        "[C040] --since",
        "'2026-13-01'",
    ),
    (["run", "--archive", "a", "--date", "tomorrow"], "[C040] --date", "'tomorrow'"),
    (["run", "--archive", "a", "--date", "20261120"], "[C040] --date", "'20261120'"),
    (["backfill", "--archive", "a", "--from", "2026-11-31"], "[C040] --from", "'2026-11-31'"),
    (["backfill", "--archive", "a", "--to", "11/30/2026"], "[C040] --to", "'11/30/2026'"),
    (
        ["backfill", "--archive", "a", "--from", "2026-11-30", "--to", "2026-11-01"],
        "[C041] --from 2026-11-30 is after --to",
        "2026-11-01",
    ),
    (["triage", "--date", "2026-11-20", "--date", "2026-13-01"], "[C040] --date", "'2026-13-01'"),
    (["rescore", "--since", "yesterday"], "[C040] --since", "'yesterday'"),
    (["reasons", "--since", "2026-00-10"], "[C040] --since", "'2026-00-10'"),
    (["queue", "show", "--date", "2026-11-2x"], "[C040] --date", "'2026-11-2x'"),
    (["queue", "build", "--date", "2026-02-29"], "[C040] --date", "'2026-02-29'"),
]


@pytest.mark.parametrize(("args", "code", "value"), CASES, ids=lambda c: str(c))
def test_a_bad_date_or_month_is_refused_before_anything_is_loaded(
    args: list[str], code: str, value: str, tmp_path: Path
) -> None:
    typo = tmp_path / "no-warehouse"
    argv = [*args, "--warehouse", str(typo)]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    exit_code, loaded = json.loads(done.stdout)
    assert exit_code == 2
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"earmark: error: {code}"), err
    assert value in err[0]
    assert loaded == []
    assert not typo.exists()


def test_good_dates_and_months_are_kept_as_given() -> None:
    from flows.cli import _parser

    parser = _parser()
    report = parser.parse_args(
        ["report", "--warehouse", "w", "--team", "T", "--out", "o", "--month", "2026-12"]
    )
    assert report.month == "2026-12"
    build = parser.parse_args(["queue", "build", "--warehouse", "w", "--date", "2026-11-20"])
    assert build.date == ["2026-11-20"]
