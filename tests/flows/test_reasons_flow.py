"""Contact reasons from the warehouse to the terminal and the queues: ``earmark reasons``,
its coded errors, and the ``trend`` entries a rising reason adds within the budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from reasonkit import LAST, build_reason_month, write_night

from flows.cli import main
from flows.nightly import rebuild_queue
from pipeline import warehouse as wh
from pipeline.config import Config, InspectorConfig, QueueConfig, ReasonsConfig


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = str(tmp_path_factory.mktemp("reasons") / "wh")
    build_reason_month(root)
    return root


def test_reasons_command_prints_the_rising_reason_first(
    month: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reasons", "--warehouse", month]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(
        f"contact reasons 2026-11-24 … {LAST}: 62 calls, 5 reasons (1 rising)"
    )
    assert lines[2].split()[:3] == ["R0005", "6", "6"] and "new" in lines[2]
    assert "the app crashes since the update" in lines[2]
    assert any(
        ln.startswith("! R0005 “the app crashes since the update”: new reason") for ln in lines
    )
    assert main(["reasons", "--warehouse", month, "--since", "2026-11-01"]) == 0
    assert "2026-11-01 …" in capsys.readouterr().out


def test_reasons_command_errors_name_the_warehouse_and_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = str(tmp_path / "nothing")
    assert main(["reasons", "--warehouse", empty]) == 4  # a warehouse error
    err = capsys.readouterr().err
    assert "[W012]" in err and empty in err and "Traceback" not in err
    (tmp_path / "nothing").mkdir()
    assert main(["reasons", "--warehouse", empty]) == 4
    assert "[W010]" in capsys.readouterr().err
    wh.upsert(str(tmp_path / "old"), "calls", {"2026-11-01": [{"call_id": "c1"}]})
    assert main(["reasons", "--warehouse", str(tmp_path / "old")]) == 4
    assert "[W011]" in capsys.readouterr().err
    assert main(["reasons", "--warehouse", empty, "--since", "11/20"]) == 2
    assert "[C040]" in capsys.readouterr().err


def _config(budget_minutes: float, trend_calls: int = 2) -> Config:
    return Config(
        inspectors=[
            InspectorConfig(name="lena", teams=["TEAM-01"], budget_minutes=budget_minutes),
            InspectorConfig(name="omar", teams=["TEAM-02"], budget_minutes=budget_minutes),
        ],
        queue=QueueConfig(rotation="off"),
        reasons=ReasonsConfig(trend_calls=trend_calls),
    )


def test_a_rising_reason_adds_trend_entries_within_budget(month: str) -> None:
    queue = rebuild_queue(month, [LAST], _config(30))
    trend = [q for q in queue if q.kind == "trend"]
    assert len(trend) == 2  # trend_calls per reason, not per flag
    assert {q.call_id for q in trend} <= {f"{LAST}-{k:02d}" for k in range(8, 14)}
    for q in trend:
        assert q.inspector == ("lena" if q.team_id == "TEAM-01" else "omar")
        assert [(s.start_s, s.end_s, s.kind) for s in q.plan] == [(0.0, 9.0, "hear")]
        assert q.reasons[0].startswith("trend: R0005 “the app crashes since the update”: new")
    stored = wh.read_partition(month, "queue", LAST)
    assert stored is not None and stored["kind"].to_pylist().count("trend") == 2
    # a budget that cannot pay for hearing a statement: no trend entry
    assert not [q for q in rebuild_queue(month, [LAST], _config(0.1)) if q.kind == "trend"]
    assert not [q for q in rebuild_queue(month, [LAST], _config(30, 0)) if q.kind == "trend"]


def test_a_steady_night_adds_no_trend_entry(tmp_path: Path) -> None:
    root = str(tmp_path / "wh")
    build_reason_month(root)
    write_night(root, "2026-12-01", [k % 4 for k in range(8)])
    assert not [q for q in rebuild_queue(root, ["2026-12-01"], _config(30)) if q.kind == "trend"]


def test_the_artifact_table_lists_each_flag_with_its_examples(month: str) -> None:
    from flows.reasons import rising_markdown
    from pipeline.reason_store import read_reasons, rising_on

    rising = rising_on(month, LAST)
    labels = {r.reason_id: r.label for r in read_reasons(month)}
    table = rising_markdown(rising, labels).splitlines()
    assert table[0].startswith("| reason | label | signal |")
    assert table[2].startswith(
        "| R0005 | the app crashes since the update | new | day to 2026-11-30 | all | 6 of 14 |"
    )
    assert f"{LAST}-08, {LAST}-09, {LAST}-10" in table[2]
    assert rising_markdown([], labels).startswith("Nothing is rising")


def test_reasons_command_for_one_team(month: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reasons", "--warehouse", month, "--team", "TEAM-01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("31 calls, 3 reasons (1 rising)")
    assert lines[2].split()[:3] == ["R0005", "3", "3"]
    assert any("(day to 2026-11-30, team TEAM-01)" in ln for ln in lines)


def test_a_broken_reason_anchor_file_stops_the_night_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functools import partial

    from flows import process
    from pipeline.config import Config, ReasonsConfig
    from pipeline.errors import RubricError
    from pipeline.reasons import load_anchor_lines

    broken = tmp_path / "reasons.yaml"
    broken.write_text("language_anchors: {en: [a line]}\n", encoding="utf-8")
    monkeypatch.setattr(process, "load_anchor_lines", partial(load_anchor_lines, broken))
    with pytest.raises(RubricError, match=r"R016.*reasons\.yaml"):
        process.check_rubrics(Config())
    process.check_rubrics(Config(reasons=ReasonsConfig(enabled=False)))  # not read when off
