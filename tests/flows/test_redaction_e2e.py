"""A spoken card number goes in; no digit of it comes out anywhere the run wrote.

Real ASR on a real (synthesised, µ-law 8 kHz) call in which the customer reads a card
number, its expiry and security code. Everything the run wrote is searched: every
Parquet table (decoded), the transcript cache, Prefect's database and logs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
# a group of the card on its own: not inside a UUID, a hash, a timestamp or a decimal
# (a confidence of 0.4532 is not a leak)
SECRETS = [
    re.compile(rf"(?<![0-9A-Za-z.]){g}(?![0-9A-Za-z])") for g in ("4532", "1876", "4932", "1571")
]
SECRETS += [re.compile("four five three two"), re.compile(r"4-5-3-2"), re.compile(r"4532\s*1876")]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, data: Path) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("redact")
    archive = tmp / "archive"
    archive.mkdir()
    shutil.copy(data / "card_call_8k.wav", archive / "payment call.wav")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp / "prefect")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "run",
            "--archive",
            str(archive),
            "--warehouse",
            str(tmp / "wh"),
            "--language",
            "en",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    (tmp / "stdout.txt").write_text(out.stdout + out.stderr)
    return {"tmp": tmp, "wh": tmp / "wh", "prefect": tmp / "prefect"}


def _everything_written(run: dict[str, Path]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted(
        p for p in run["tmp"].rglob("*") if p.is_file() and "archive" not in p.parts
    ):
        if path.suffix == ".parquet":
            texts[str(path)] = str(pq.read_table(path).to_pylist())
        else:
            texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    return texts


def test_the_card_was_heard_and_tagged(run: dict[str, Path]) -> None:
    utterances = pq.read_table(run["wh"] / "utterances").to_pylist()
    text = " ".join(u["text"] for u in utterances)
    assert "[CARD]" in text and "[CVV]" in text
    words = [w["text"] for u in utterances for w in u["words"]]
    assert any("[CARD]" in w for w in words)
    calls = pq.read_table(run["wh"] / "calls").to_pylist()
    kinds = {r["kind"] for r in calls[0]["redactions"]}
    assert {"CARD", "CVV"} <= kinds


def test_no_digit_of_the_card_anywhere(run: dict[str, Path]) -> None:
    written = _everything_written(run)
    assert any("prefect" in p for p in written), "Prefect's own files should be searched too"
    leaks = [(path, s.pattern) for path, text in written.items() for s in SECRETS if s.search(text)]
    assert leaks == []
