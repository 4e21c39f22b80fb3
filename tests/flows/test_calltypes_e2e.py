"""End to end on synthesised calls: an outbound call gets the outbound rubric and its roles
right, a German call is ``unsupported_language``, listed for triage and never queued."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf

from flows.cli import main
from pipeline import warehouse as wh

pytestmark = pytest.mark.slow
DATE = "2026-12-05"


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, data: Path) -> tuple[Path, str, str]:
    tmp = tmp_path_factory.mktemp("calltypes")
    archive = tmp / "archive"
    (archive / DATE).mkdir(parents=True)
    shutil.copy(data / "outbound_mono_8k.wav", archive / DATE / "sales call.wav")
    # the same call as FLAC: other bytes, so not taken for a copy of the first
    y, sr = sf.read(data / "outbound_mono_8k.wav", dtype="float32")
    sf.write(archive / DATE / "no metadata.flac", y, sr)
    shutil.copy(data / "german_call_8k.wav", archive / DATE / "german.wav")
    (archive / "metadata.csv").write_text(
        "call_id,file,agent_id,team_id,started_at,direction\n"
        f"OUT-1,{DATE}/sales call.wav,A-1,TEAM-01,{DATE}T09:00:00+00:00,Outbound\n"
        f"DE-1,{DATE}/german.wav,A-2,TEAM-01,{DATE}T10:00:00+00:00,inbound\n",
        encoding="utf-8",
    )
    config = tmp / "earmark.toml"
    config.write_text("[asr]\nworkers = 1\n", encoding="utf-8")
    warehouse = tmp / "wh"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", "--archive", str(archive), "--warehouse", str(warehouse),
                     "--config", str(config)]) == 0  # fmt: skip
    triage = io.StringIO()
    with contextlib.redirect_stdout(triage):
        assert main(["triage", "--warehouse", str(warehouse)]) == 0
    return warehouse, out.getvalue(), triage.getvalue()


def _calls(warehouse: Path) -> dict[str, dict[str, object]]:
    """Calls by id; the call without a metadata row by its file name."""
    rows = wh.read_table(warehouse, "calls").to_pylist()
    return {
        "no metadata" if r["source_path"].endswith("no metadata.flac") else r["call_id"]: r
        for r in rows
    }


def _call_id(warehouse: Path, name: str) -> str:
    return str(_calls(warehouse)[name]["call_id"])


def test_outbound_call_is_scored_with_the_outbound_rubric(night: tuple[Path, str, str]) -> None:
    warehouse, _, _ = night
    calls = _calls(warehouse)
    out = calls["OUT-1"]
    assert (out["status"], out["call_type"], out["rubric_id"]) == (
        "ok",
        "outbound-sales",
        "outbound-sales",
    )
    scores = {r["call_id"]: r for r in wh.read_table(warehouse, "scores").to_pylist()}
    assert scores["OUT-1"]["rubric_id"] == "outbound-sales"
    findings = {
        r["item_id"]: r["outcome"]
        for r in wh.read_table(warehouse, "findings").to_pylist()
        if r["call_id"] == "OUT-1"
    }
    # the agent introduced themself, asked for a good time and made the offer; the
    # customer objected and the agent acknowledged it
    assert findings["introduction"] == findings["permission"] == findings["offer"] == "pass"
    assert findings["objection_handling"] == "pass"
    # without metadata the same call is judged by the default (inbound) rubric
    assert _calls(warehouse)["no metadata"]["call_type"] == "default"


@pytest.mark.parametrize("call_id", ["OUT-1", "no metadata"])
def test_roles_on_the_outbound_mono_call(night: tuple[Path, str, str], call_id: str) -> None:
    """With direction = outbound, and from the content alone: the customer answers
    "Hello?", the agent introduces themself as calling from the company."""
    warehouse, _, _ = night
    call_id = _call_id(warehouse, call_id)
    utterances = sorted(
        (r for r in wh.read_table(warehouse, "utterances").to_pylist() if r["call_id"] == call_id),
        key=lambda r: r["idx"],
    )
    said = [(r["speaker"], r["text"].lower()) for r in utterances]
    assert said[0][0] == "customer" and "hello" in said[0][1]
    intro = [who for who, text in said if "calling you from" in text]
    assert intro == ["agent"]
    bye = [who for who, text in said if "thank you for your time" in text]
    assert bye == ["agent"]


def test_german_call_is_unsupported_not_scored_not_queued(night: tuple[Path, str, str]) -> None:
    warehouse, summary, triage = night
    german = _calls(warehouse)["DE-1"]
    assert german["status"] == "unsupported_language"
    assert german["language"] == "de" and german["language_probability"] >= 0.5
    assert "'de'" in german["status_reason"] and "not served" in german["status_reason"]
    assert not [
        r for r in wh.read_table(warehouse, "utterances").to_pylist() if r["call_id"] == "DE-1"
    ]
    assert not [r for r in wh.read_table(warehouse, "scores").to_pylist() if r["call_id"] == "DE-1"]
    queued = {r["call_id"] for r in wh.read_table(warehouse, "queue").to_pylist()}
    assert "DE-1" not in queued
    assert "not scored, listed for triage" in summary and "german.wav" in summary
    assert "unsupported_language" in triage and "german.wav" in triage
