"""Inspector queues through the CLI: config → queue table → terminal and CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rowkit import analysis
from runkit import ROOT, earmark

from flows.rescore import rescore_partition
from pipeline import rows
from pipeline import warehouse as wh
from pipeline.types import Recording, Transcript, Utterance

RUBRIC = str(ROOT / "rubrics" / "en" / "inbound-support.yaml")
LINES = {
    "good": [
        ("agent", 1.0, "Thank you for calling Acme, my name is Sarah, how can I help you today?"),
        ("agent", 10.0, "Can I have your account number please?"),
        ("agent", 20.0, "I'm sorry to hear that, let me fix it."),
        ("agent", 110.0, "Is there anything else I can help you with? Have a great day."),
    ],
    "bad": [
        ("agent", 1.0, "Yeah what do you want."),
        ("customer", 5.0, "This is ridiculous, I want to speak to your supervisor."),
        ("agent", 9.0, "That's not my problem."),
    ],
}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    root = tmp_path / "wh"
    calls, utts = [], []
    for n in range(24):
        kind = "bad" if n % 3 == 0 else "good"
        call_id = f"C{n:02d}"
        t = Transcript(
            call_id, "en", 120.0, tuple(Utterance(s, a, a + 3, x) for s, a, x in LINES[kind])
        )  # type: ignore[arg-type]
        meta = {"agent_id": f"A{n % 6}", "team_id": "TEAM-01" if n % 2 else "TEAM-02"}
        rec = Recording(call_id, f"{call_id}.wav", "", "0" * 64, "2026-11-20", 0, meta)
        calls.append(rows.call_row(rec, analysis(duration_s=120.0), t, "ok"))
        utts.extend(rows.utterance_rows(t))
    wh.upsert(root, "calls", {"2026-11-20": calls})
    wh.upsert(root, "utterances", {"2026-11-20": utts})
    rescore_partition(str(root), "2026-11-20", (RUBRIC,))
    return root


def _config(tmp: Path, lena_teams: str, budget: float = 6) -> Path:
    path = tmp / "earmark.toml"
    path.write_text(
        f"""
[[inspectors]]
name = "lena"
teams = [{lena_teams}]
budget_minutes = {budget}

[[inspectors]]
name = "omar"
teams = ["TEAM-02"]
budget_minutes = {budget}

[queue]
rotation = "off"
control_share = 0.1
"""
    )
    return path


def test_queue_build_per_inspector_with_budget_and_csv(warehouse: Path, tmp_path: Path) -> None:
    out = earmark(
        "queue",
        "build",
        "--warehouse",
        str(warehouse),
        "--config",
        str(_config(tmp_path, '"TEAM-01"')),
    )
    assert out.returncode == 0, out.stderr
    assert (
        "Queue of lena for 2026-11-20" in out.stdout
        and "Queue of omar for 2026-11-20" in out.stdout
    )
    queue = wh.read_table(warehouse, "queue").to_pylist()
    for name, team in (("lena", "TEAM-01"), ("omar", "TEAM-02")):
        mine = [q for q in queue if q["inspector"] == name]
        assert {q["team_id"] for q in mine} == {team}
        assert sum(q["cost_s"] for q in mine if q["kind"] != "highlight") <= 360
        # the bad calls miss their greeting: read in its own 30 s window, priced at 1/4
        read = [s for q in mine for s in q["plan"] if s["kind"] == "read"]
        assert read and all(s["end_s"] - s["start_s"] <= 30 for s in read)
        assert all(
            q["cost_s"] < q["plan_s"] for q in mine if any(s["kind"] == "read" for s in q["plan"])
        )
        assert {"review", "control", "highlight"} <= {q["kind"] for q in mine}
        bad = [q for q in mine if q["kind"] == "review" and q["priority"] >= 1000]
        # the critical item by its title: "Agent uses profanity, insults or dismissive language"
        swore = "Agent uses profanity"
        assert bad and all(any(swore in r for r in q["reasons"]) for q in bad)
    export = tmp_path / "lena.csv"
    shown = earmark(
        "queue", "show", "--warehouse", str(warehouse), "--inspector", "lena", "--csv", str(export)
    )
    assert shown.returncode == 0
    with export.open(encoding="utf-8") as f:
        rows_ = list(csv.DictReader(f))
    assert rows_ and {r["inspector"] for r in rows_} == {"lena"}
    assert all(r["plan"] for r in rows_)
    assert any(" read " in f" {r['plan']} " for r in rows_) and all(r["cost_s"] for r in rows_)


def test_too_many_agents_is_refused_naming_the_inspector(warehouse: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, '"TEAM-01", "TEAM-02"')
    text = config.read_text().replace("[queue]", "[queue]\nmax_agents_per_inspector = 5")
    config.write_text(text)
    out = earmark("queue", "build", "--warehouse", str(warehouse), "--config", str(config))
    assert out.returncode == 2
    assert "[Q001] inspector 'lena' is paired with 6 agents" in out.stderr
    assert "Traceback" not in out.stderr


def test_sentiment_puts_an_unhappy_customer_in_the_queue_at_their_moment(tmp_path: Path) -> None:
    from flows.nightly import rebuild_queue
    from pipeline.config import Config

    root = tmp_path / "wh"
    lines = [*LINES["good"][:2], ("customer", 15.0, "It's broken again."), LINES["good"][2]]
    lines += [("customer", 60.0, "Still not right."), LINES["good"][3]]
    calls, utts = [], []
    nan = float("nan")
    for n, (first, later) in enumerate(((-0.9, 0.4), (-0.9, -0.85), (nan, nan))):
        call_id = f"S{n}"
        t = Transcript(call_id, "en", 120.0, tuple(Utterance(s, a, a + 3, x) for s, a, x in lines))  # type: ignore[arg-type]
        rec = Recording(call_id, f"{call_id}.wav", "", "0" * 64, "2026-11-20", 0, {})
        low = min(first, later)
        audio = {"duration_s": 120.0, "language": "en", "metrics": {"sentiment_min": low}}
        calls.append(rows.call_row(rec, analysis(**audio), t, "ok"))
        utts.extend(rows.utterance_rows(t, sentiment=[nan, nan, first, nan, later, nan]))
    wh.upsert(root, "calls", {"2026-11-20": calls})
    wh.upsert(root, "utterances", {"2026-11-20": utts})
    rescore_partition(str(root), "2026-11-20", (RUBRIC,))
    queue = {q.call_id: q for q in rebuild_queue(str(root), ["2026-11-20"], Config())}
    q = queue["S1"]
    assert q.rank == 1
    assert q.reasons[-1] == "customer unhappy 2 times by sentiment (lowest -0.90 at 0:15)"
    assert (57.0, 68.0, "hear") in [(s.start_s, s.end_s, s.kind) for s in q.plan]
    # the same call without a second unhappy reading (S0) or without readings (S2): the
    # rubric may still queue it, never for its sentiment, and 150 points lower
    for other in ("S0", "S2"):
        if other in queue:
            assert not any("sentiment" in r for r in queue[other].reasons)
            assert queue[other].priority == q.priority - 150
