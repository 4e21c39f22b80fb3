"""Re-scoring stored transcripts and scoring external ones: no ASR, real Parquet, the real CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from rowkit import analysis
from runkit import earmark, transcripts_file

from pipeline import rows
from pipeline import warehouse as wh
from pipeline.types import Recording, Transcript, Utterance, Word

RUBRIC = """
schema_version: 1
id: demo
version: {version}
language: en
items:
  - id: greeting
    speaker: agent
    window: {{first_s: 20}}
    expect: present
    weight: 50
    detector: phrase.v1
    params: {{phrases: {greeting}}}
  - id: empathy
    speaker: agent
    expect: present
    weight: 50
    detector: lemma.v1
    params: {{phrases: ["apologize for the inconvenience"], negation: true}}
"""


def _rubric(tmp: Path, version: int, greeting: list[str]) -> Path:
    path = tmp / f"demo-v{version}.yaml"
    path.write_text(RUBRIC.format(version=version, greeting=json.dumps(greeting)))
    return path


def _utt(speaker: str, start: float, text: str) -> Utterance:
    words = tuple(
        Word(start + i * 0.4, start + i * 0.4 + 0.3, " " + w, 0.95)
        for i, w in enumerate(text.split())
    )
    return Utterance(
        speaker, start, start + 0.4 * len(words), text, words, 0.95, 0 if speaker == "agent" else 1
    )  # type: ignore[arg-type]


CALLS = {
    "A": [
        ("agent", 1.0, "Hello, you're through to Acme."),
        ("agent", 30.0, "I apologized for the inconvenience."),
    ],
    "B": [("agent", 1.0, "Thanks for calling Acme."), ("customer", 4.0, "My bill is wrong.")],
}


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    root = tmp_path / "wh"
    for call_id, turns in CALLS.items():
        t = Transcript(call_id, "en", 90.0, tuple(_utt(*x) for x in turns))
        rec = Recording(
            call_id, f"{call_id}.wav", f"/x/{call_id}.wav", "0" * 64, "2026-11-20", 1000
        )
        audio = {"duration_s": 90.0, "channels": 2, "sample_rate": 8000, "language": "en"}
        wh.upsert(root, "calls", {"2026-11-20": [rows.call_row(rec, analysis(**audio), t, "ok")]})
        wh.upsert(root, "utterances", {"2026-11-20": rows.utterance_rows(t)})
    return root


def _scores(root: Path) -> dict[tuple[str, int], float]:
    return {
        (r["call_id"], r["rubric_version"]): r["score"]
        for r in wh.read_table(root, "scores").to_pylist()
    }


def test_rescore_changes_scores_without_asr_and_keeps_old_versions(
    warehouse: Path, tmp_path: Path
) -> None:
    v1 = _rubric(tmp_path, 1, ["thanks for calling"])
    out = earmark("rescore", "--warehouse", str(warehouse), "--rubric", str(v1))
    assert out.returncode == 0, out.stderr
    assert "rescored 2 calls over 1 date(s)" in out.stdout and "no ASR" in out.stdout
    assert _scores(warehouse) == {("A", 1): 50.0, ("B", 1): 50.0}

    v2 = _rubric(tmp_path, 2, ["thanks for calling", "you're through to"])
    assert earmark("rescore", "--warehouse", str(warehouse), "--rubric", str(v2)).returncode == 0
    assert _scores(warehouse) == {("A", 1): 50.0, ("B", 1): 50.0, ("A", 2): 100.0, ("B", 2): 50.0}
    queue = wh.read_table(warehouse, "queue").to_pylist()
    assert [q["call_id"] for q in queue] == ["B"]  # A passes under v2, the newest version
    assert not (warehouse / "_cache").exists()  # nothing was transcribed


def test_rescore_says_which_calls_were_not_in_the_rubric_s_language(
    warehouse: Path, tmp_path: Path
) -> None:
    """A call in Russian has a rubric of its own, just not the one given: the line says
    it was left for that reason, not that it has no rubric."""
    t = Transcript("R", "ru", 90.0, (_utt("agent", 1.0, "Здравствуйте"),))
    rec = Recording("R", "R.wav", "/x/R.wav", "1" * 64, "2026-11-20", 1000)
    audio = {"duration_s": 90.0, "channels": 2, "sample_rate": 8000, "language": "ru"}
    wh.upsert(warehouse, "calls", {"2026-11-20": [rows.call_row(rec, analysis(**audio), t, "ok")]})
    v1 = _rubric(tmp_path, 1, ["thanks for calling"])
    out = earmark("rescore", "--warehouse", str(warehouse), "--rubric", str(v1))
    assert out.returncode == 0, out.stderr
    assert "rescored 2 calls" in out.stdout
    assert "not in the rubric's language en: 1 call left as scored (ru 1)" in out.stdout
    assert "no rubric for their language" not in out.stdout


def test_rescore_since_skips_older_partitions(warehouse: Path, tmp_path: Path) -> None:
    out = earmark(
        "rescore",
        "--warehouse",
        str(warehouse),
        "--rubric",
        str(_rubric(tmp_path, 1, ["hi"])),
        "--since",
        "2026-11-21",
    )
    assert out.returncode == 0 and "rescored 0 calls over 0 date(s)" in out.stdout


def test_rescore_refuses_a_broken_rubric_before_writing(warehouse: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        RUBRIC.format(version=1, greeting='["x"]').replace("expect: present", "expcet: present", 1)
    )
    out = earmark("rescore", "--warehouse", str(warehouse), "--rubric", str(bad))
    assert out.returncode == 2
    assert (
        "[R002]" in out.stderr and "unknown field 'expcet' (did you mean 'expect'?)" in out.stderr
    )
    assert not (warehouse / "scores").exists()


def test_explain_shows_matched_text_and_reasons(warehouse: Path, tmp_path: Path) -> None:
    out = earmark(
        "rubric",
        "explain",
        "--call",
        "A",
        "--warehouse",
        str(warehouse),
        "--rubric",
        str(_rubric(tmp_path, 1, ["thanks for calling"])),
    )
    assert out.returncode == 0, out.stderr
    assert "FAIL greeting" in out.stdout and "PASS empathy" in out.stdout
    assert "speakers: a channel per party" in out.stdout
    assert (
        "I apologized for the inconvenience." in out.stdout
        and "lemma 'apologize for the inconvenience'" in out.stdout
    )
    missing = earmark("rubric", "explain", "--call", "nope", "--warehouse", str(warehouse))
    assert missing.returncode == 3 and "[I006]" in missing.stderr


def _one_item_rubric(path: Path, item: str) -> Path:
    """An English rubric file ``path`` (its id the file's stem) holding one item's YAML."""
    path.write_text(f"schema_version: 1\nid: {path.stem}\nversion: 1\nlanguage: en\nitems:\n{item}")
    return path


def _explain(call: str, warehouse: Path, rubric: Path) -> subprocess.CompletedProcess[str]:
    out = earmark(
        "rubric", "explain", "--call", call, "--warehouse", str(warehouse), "--rubric", str(rubric)
    )
    assert out.returncode == 0, out.stderr
    return out


def test_explain_says_which_word_a_near_match_heard_differently(
    warehouse: Path, tmp_path: Path
) -> None:
    item = (
        "  - id: greeting\n    speaker: agent\n    expect: present\n    weight: 10\n"
        "    detector: phrase.v1\n"
        "    params: {phrases: [hello you are through to acme], tolerance: 1}\n"
    )
    out = _explain("A", warehouse, _one_item_rubric(tmp_path / "near.yaml", item))
    assert "PASS greeting" in out.stdout and "sure 0.83" in out.stdout  # 5 words of 6
    assert (
        "[phrase \"hello you're through to acme\" ≈ 'hello you are through to acme' ('re for are)]"
        in out.stdout
    )


def test_explain_judges_with_the_metrics_the_night_stored(tmp_path: Path) -> None:
    """``explain`` scores as the night and ``rescore`` do: with the call's stored metrics
    (an item on dead air is N/A without them)."""
    root = tmp_path / "wh"
    t = Transcript("Q", "en", 90.0, (_utt("agent", 1.0, "Hello, you're through to Acme."),))
    rec = Recording("Q", "Q.wav", "/x/Q.wav", "0" * 64, "2026-11-20", 1000)
    facts = {
        "duration_s": 90.0,
        "metrics": {"longest_dead_air_s": 14.0},
        "metric_spans": [{"metric": "longest_dead_air_s", "start_s": 40.0, "end_s": 54.0}],
    }
    wh.upsert(root, "calls", {"2026-11-20": [rows.call_row(rec, analysis(**facts), t, "ok")]})
    wh.upsert(root, "utterances", {"2026-11-20": rows.utterance_rows(t)})
    item = (
        "  - id: dead_air\n    speaker: any\n    expect: absent\n    weight: 10\n"
        "    detector: metric.v1\n"
        "    params: {metric: longest_dead_air_s, op: '>', value: 10}\n"
    )
    out = _explain("Q", root, _one_item_rubric(tmp_path / "air.yaml", item))
    assert "FAIL dead_air" in out.stdout and "0:40-0:54" in out.stdout


def test_apply_scores_external_transcripts_as_jsonl(tmp_path: Path) -> None:
    lines = [
        {
            "call_id": "X1",
            "language": "en",
            "duration_s": 60,
            "utterances": [
                {
                    "speaker": "agent",
                    "start_s": 0.5,
                    "end_s": 3,
                    "text": "Thanks for calling, how can I help?",
                },
                {
                    "speaker": "agent",
                    "start_s": 20,
                    "end_s": 23,
                    "text": "I am not going to apologize for the inconvenience.",
                },
            ],
        },
        {"call_id": "X2", "language": "fr", "duration_s": 5, "utterances": []},
        {"call_id": "X3", "duration_s": 5, "utterances": []},
    ]
    src = tmp_path / "t.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in lines) + "\n{not json\n")
    out = earmark(
        "rubric",
        "apply",
        "--transcripts",
        str(src),
        "--rubric",
        str(_rubric(tmp_path, 1, ["thanks for calling"])),
        "--format",
        "jsonl",
    )
    assert out.returncode == 1  # some lines were skipped, and said so
    findings = [json.loads(x) for x in out.stdout.splitlines()]
    by_item = {f["item_id"]: f for f in findings}
    assert {f["call_id"] for f in findings} == {"X1"}
    assert (
        by_item["greeting"]["outcome"] == "pass"
        and by_item["greeting"]["evidence"][0]["start_s"] == 0.5
    )
    assert by_item["empathy"]["outcome"] == "fail"  # negated: "not going to apologize"
    assert "t.jsonl:2: skipped: no rubric for language 'fr'" in out.stderr
    assert "t.jsonl:3: skipped: missing field 'language'" in out.stderr
    assert "t.jsonl:4: skipped: not JSON" in out.stderr
    assert "Traceback" not in out.stderr


def test_apply_says_how_surely_a_meaning_item_fired(tmp_path: Path) -> None:
    src = transcripts_file(
        tmp_path / "m.jsonl",
        "M1",
        "en",
        ("agent", 0.5, 3.0, "Acme billing, how can I help?"),
        (
            "customer",
            4.0,
            9.0,
            "Well that was a complete waste of my afternoon, third call this week about it.",
        ),
    )
    out = earmark("rubric", "apply", "--transcripts", str(src))
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if "customer_dissatisfaction" in x)
    assert "FAIL" in line and "found" in line
    sure = float(line.rsplit("sure ", 1)[1])  # a meaning hit, not a phrase: less than sure
    assert 0.0 < sure < 1.0
    assert "greeting" in out.stdout and "sure" not in next(
        x for x in out.stdout.splitlines() if "PASS greeting" in x
    )


def test_rescore_warns_when_an_item_changed_but_its_version_did_not(
    warehouse: Path, tmp_path: Path
) -> None:
    """An edit that kept ``version:`` printed "rescored 2 calls" and replaced the old
    rows without a word: the findings keep what each item looked for, to compare."""
    v1 = _rubric(tmp_path, 1, ["thanks for calling"])
    first = earmark("rescore", "--warehouse", str(warehouse), "--rubric", str(v1))
    assert first.returncode == 0 and "warning" not in first.stderr, first.stderr
    again = earmark("rescore", "--warehouse", str(warehouse), "--rubric", str(v1))
    assert again.returncode == 0 and "warning" not in again.stderr, again.stderr
    (tmp_path / "edited").mkdir()
    edited = _rubric(tmp_path / "edited", 1, ["thanks for calling", "you're through to"])
    out = earmark("rescore", "--warehouse", str(warehouse), "--rubric", str(edited))
    assert out.returncode == 0, out.stderr
    assert "rescored 2 calls" in out.stdout
    assert "earmark: warning: rubric demo v1 'greeting' v1 (en): the item changed" in out.stderr
    assert "'empathy'" not in out.stderr
