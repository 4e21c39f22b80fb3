"""An undecodable recording is quarantined with one plain line (its path once); what the
decoding libraries said is kept in the ``quarantine`` table's ``detail``, off the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from runkit import night_summary

from flows import nightly
from flows.cli import _print_summary
from flows.process import RunSettings, process_recording
from pipeline import warehouse as wh
from pipeline.archive import discover
from pipeline.config import Config

PLAIN = "not a decodable audio file: neither libsndfile nor ffmpeg can read it"


def test_an_undecodable_file_gets_a_plain_reason_and_keeps_the_libraries_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "notes saved as.wav").write_text("a note someone saved with the wrong name\n")
    found = discover(archive)
    settings = RunSettings(config=Config(languages=["en"]), warehouse=str(tmp_path / "wh"))
    result = process_recording(found.recordings[0], settings)
    q = result.quarantine
    assert q is not None and q.error_code == "A002"
    assert q.reason.endswith(f"notes saved as.wav: {PLAIN}")
    assert "libsndfile:" in q.detail and "ffmpeg:" in q.detail

    nightly.write_results(settings.warehouse, found.recordings, [result], [q])
    (row,) = wh.read_table(settings.warehouse, "quarantine").to_pylist()
    assert (row["reason"], row["detail"]) == (q.reason, q.detail)

    summary = night_summary(quarantined=[q], call_dates=[q.call_date])
    _print_summary(summary, settings.warehouse, top=5)
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if "[A002]" in ln]
    assert line.count("notes saved as.wav") == 1 and line.endswith(PLAIN)
    assert "libsndfile" not in line.replace(PLAIN, "") and "Errno" not in line
