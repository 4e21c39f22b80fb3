"""The app's scope follows the language-aware rotation the nightly queue used (issue 14)."""

from __future__ import annotations

from pathlib import Path

from pipeline import warehouse as wh
from pipeline.config import Config, InspectorConfig, QueueConfig
from review.auth import Account
from review.data import CallRef
from review.scope import may_open, teams_of

MONTHS = [f"2026-{m:02d}-10" for m in range(1, 13)]


def _config(omar_speaks: str) -> Config:
    return Config(
        inspectors=[
            InspectorConfig(name="lena", teams=["T-EN"], languages=["en"]),
            InspectorConfig(name="omar", teams=["T-RU"], languages=[omar_speaks]),
            InspectorConfig(name="wei", teams=["T-EN2"], languages=["en"]),
        ],
        queue=QueueConfig(rotation="monthly"),
    )


def _warehouse(root: Path) -> str:
    for month in range(1, 13):
        day = f"2026-{month:02d}-01"
        calls = [("T-EN", "en"), ("T-EN2", "en"), ("T-RU", "ru")] * 4
        rows = [
            {"call_id": f"{day}-{n}", "team_id": t, "language": lang, "status": "ok"}
            for n, (t, lang) in enumerate(calls)
        ]
        wh.upsert(root, "calls", {day: rows})
    return str(root)


def test_the_russian_team_stays_with_the_russian_speaker_all_year(tmp_path: Path) -> None:
    warehouse, config = _warehouse(tmp_path), _config("ru")
    for date in MONTHS:
        assert teams_of(config, "omar", date=date, warehouse=warehouse) == ("T-RU",)
        ref = CallRef("C-RU", date, "T-RU", "A-1", "c.wav")
        assert not may_open(Account("lena", "inspector", ""), ref, config, warehouse=warehouse)
        assert may_open(Account("omar", "inspector", ""), ref, config, warehouse=warehouse)
    lena = {teams_of(config, "lena", date=d, warehouse=warehouse) for d in MONTHS}
    assert lena == {("T-EN",), ("T-EN2",)}  # the English teams still rotate


def test_an_impossible_pairing_pairs_no_one_but_the_stored_queue_still_counts(
    tmp_path: Path,
) -> None:
    warehouse, config = _warehouse(tmp_path), _config("en")
    assert teams_of(config, "omar", date="2026-12-10", warehouse=warehouse) == ()
    ref = CallRef("C-RU", "2026-12-10", "T-RU", "A-1", "c.wav")
    omar = Account("omar", "inspector", "")
    assert not may_open(omar, ref, config, warehouse=warehouse)
    assert may_open(omar, ref, config, warehouse=warehouse, queued_for=("omar",))
