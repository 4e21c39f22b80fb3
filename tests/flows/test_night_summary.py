"""The night's summary shows metadata problems and decoder warnings, briefly; a
``metadata.csv`` that cannot be read stops the night before it starts (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from runkit import night_summary

from flows.cli import METADATA_ISSUES_SHOWN, _print_summary
from flows.nightly import preflight
from pipeline.config import Config
from pipeline.errors import InputError
from pipeline.types import MetadataIssue


def _summary(issues: int, warnings: dict[str, int], **more: object) -> object:
    """A night of three calls (60 s of audio in 12 s), with ``issues`` in its metadata."""
    night = {
        "processed": 3,
        "audio_s": 60.0,
        "asr_audio_s": 60.0,
        "asr_wall_s": 10.0,
        "wall_s": 12.0,
        "call_dates": ["2026-12-05"],
    }
    return night_summary(
        **{**night, **more},
        metadata_issues=[
            MetadataIssue(n + 2, 5, "started_at", "I005", f"started_at 'x{n}' is not a date")
            for n in range(issues)
        ],
        decode_warnings=warnings,
    )


def test_metadata_issues_and_decoder_warnings_are_one_line_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _print_summary(_summary(2, {"a.mp3": 3, "b.mp3": 1}), "/wh", top=5)
    out = capsys.readouterr().out
    assert "metadata.csv: 2 problem(s), the rows kept (calls.metadata_issues)" in out
    assert "metadata.csv:2 column 5 (started_at): [I005] started_at 'x0' is not a date" in out
    assert "decoder warnings: 4 frame(s) repaired or skipped in 2 recording(s)" in out


def test_a_long_list_of_issues_is_cut_short(capsys: pytest.CaptureFixture[str]) -> None:
    _print_summary(_summary(METADATA_ISSUES_SHOWN + 7, {}), "/wh", top=5)
    out = capsys.readouterr().out
    assert out.count("[I005]") == METADATA_ISSUES_SHOWN
    assert "… and 7 more (each call's in calls.metadata_issues)" in out
    assert "decoder warnings" not in out


def test_an_unreadable_metadata_csv_stops_the_night_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "metadata.csv").write_text("agent;team\nA;B\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"needs a 'file' or 'call_id' column.*semicolons") as info:
        preflight(tmp_path, tmp_path / "wh", Config())
    assert info.value.code == "I002"


def test_a_night_with_nothing_new_points_at_the_earlier_queues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline import warehouse as wh

    root = str(tmp_path / "wh")
    days = ["2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"]
    wh.upsert(root, "queue", {d: [{"call_id": f"c-{d}", "inspector": "lena"}] for d in days})
    _print_summary(night_summary(), root, top=5)
    out = capsys.readouterr().out
    assert "dates —" not in out and "no call needs review" not in out
    assert f"warehouse: {root}\n" in out
    assert (
        "no new calls tonight; queues of earlier dates are unchanged (1 earlier, "
        f"2026-11-19, 2026-11-20, 2026-11-21): earmark queue show --warehouse {root} "
        "--date 2026-11-21"
    ) in out


def test_the_summary_starts_on_the_first_line(capsys: pytest.CaptureFixture[str]) -> None:
    # the progress bar ends its own line when it closes; a night with nothing new has
    # no bar at all, and a blank line before the summary was all the user saw of it
    _print_summary(night_summary(), "/wh", top=5)
    assert capsys.readouterr().out.startswith("earmark: 0 calls processed")


def test_late_calls_whose_queues_were_kept_point_at_them_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline import warehouse as wh

    root = str(tmp_path / "wh")
    wh.upsert(root, "queue", {"2026-11-20": [{"call_id": "c1", "inspector": "lena"}]})
    night = night_summary(processed=1, call_dates=["2026-11-20"], queues_kept=["2026-11-20"])
    _print_summary(night, root, top=5)
    out = capsys.readouterr().out
    assert "no call needs review" not in out
    assert (
        "no new queue tonight; queues of earlier dates are unchanged (2026-11-20): "
        f"earmark queue show --warehouse {root} --date 2026-11-20"
    ) in out


def test_a_night_that_quarantined_every_recording_says_so_and_names_only_earlier_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The night of 2026-11-23 stored an empty queue for its date: that date is tonight's,
    not an earlier one, and an empty queue is not one to point at (a user was sent to
    2026-11-23 as an "earlier date")."""
    from pipeline import warehouse as wh
    from pipeline.types import QuarantineEntry

    root = str(tmp_path / "wh")
    wh.upsert(root, "queue", {"2026-11-20": [{"call_id": "c1", "inspector": "lena"}]})
    wh.upsert(root, "queue", {"2026-11-23": []})
    lost = [
        QuarantineEntry(f"/a/2026-11-23/{n}.wav", "A001", f"/a/2026-11-23/{n}.wav: empty file")
        for n in range(2)
    ]
    night = night_summary(quarantined=lost, call_dates=["2026-11-23"])
    _print_summary(night, root, top=5)
    out = capsys.readouterr().out
    assert (
        "no queue tonight: every recording read (2) was quarantined, see above; queues of "
        f"earlier dates are unchanged (2026-11-20): earmark queue show --warehouse {root} "
        "--date 2026-11-20"
    ) in out
    _print_summary(night_summary(), root, top=5)  # the next night, with nothing new
    assert "queues of earlier dates are unchanged (2026-11-20): " in capsys.readouterr().out


def test_a_first_night_that_quarantined_every_recording_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.types import QuarantineEntry

    lost = [QuarantineEntry("/a/x.wav", "A001", "/a/x.wav: empty file (0 bytes)")]
    _print_summary(night_summary(quarantined=lost), str(tmp_path / "wh"), top=5)
    out = capsys.readouterr().out
    assert "no queue tonight: every recording read (1) was quarantined, see above\n" in out
    assert "no call needs review" not in out


def test_a_first_night_with_nothing_queued_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _print_summary(night_summary(), str(tmp_path / "wh"), top=5)
    assert "Review queue — no call needs review" in capsys.readouterr().out


def test_the_asr_line_says_its_time_is_summed_over_workers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # two workers: 60 s of audio in 12 s of wall time, 20 s of ASR time summed over both
    night = _summary(0, {}, asr_wall_s=20.0)
    _print_summary(night, "/wh", top=5)
    out = capsys.readouterr().out
    assert "1.0 min of audio in 12.0 s" in out
    assert (
        "ASR: 1.0 min of new audio in 20.0 worker-s (summed over workers): "
        "3.0 audio s per worker-second" in out
    )
    assert "per wall s" not in out
