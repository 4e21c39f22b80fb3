"""Rotation with languages: no inspector is paired with calls they cannot understand
(issue 14, part 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import warehouse as wh
from pipeline.config import load_config
from pipeline.errors import ConfigError, QueueError
from pipeline.queue import (
    Candidate,
    Inspector,
    QueuePolicy,
    build_inspector_queues,
    config_team_languages,
    inspectors_from_config,
    pairings,
)
from pipeline.rotation import stored_team_languages
from pipeline.scoring import score_call
from pipeline.types import Evidence, Finding

MONTHLY = QueuePolicy(rotation="monthly")
LANGS = {
    "EN-1": frozenset({"en"}),
    "EN-2": frozenset({"en"}),
    "RU-1": frozenset({"ru"}),
    "RU-2": frozenset({"ru"}),
    "MIX": frozenset({"en", "ru"}),
}
TEAM = {
    inspector.name: inspector
    for inspector in (
        Inspector("lena", ("EN-1",), 600, ("en",)),
        Inspector("omar", ("RU-1",), 600, ("ru",)),
        Inspector("wei", ("EN-2",), 600, ("en", "ru")),
        Inspector("ivan", ("RU-2",), 600, ("ru",)),
        Inspector("ann", ("MIX",), 600, ("en", "ru")),
    )
}
MONTHS = [f"{y}-{m:02d}-15" for y in (2026, 2027) for m in range(1, 13)]


def test_without_languages_the_rotation_is_the_plain_monthly_shift() -> None:
    inspectors = [Inspector(f"i{k}", (f"T{k}",), 600) for k in range(4)]
    for date in MONTHS:
        shift = (int(date[:4]) * 12 + int(date[5:7]) - 1) % 4
        expected = {f"i{k}": (f"T{(k + shift) % 4}",) for k in range(4)}
        assert pairings(inspectors, date=date, policy=MONTHLY, team_languages=LANGS) == expected


def test_december_never_gives_the_english_inspector_the_russian_team() -> None:
    inspectors = [TEAM["lena"], TEAM["omar"], Inspector("wei", ("EN-2",), 600, ("en",))]
    seen: dict[str, set[tuple[str, ...]]] = {"lena": set(), "wei": set(), "omar": set()}
    for date in MONTHS:
        pairs = pairings(inspectors, date=date, policy=MONTHLY, team_languages=LANGS)
        assert pairs["omar"] == ("RU-1",)  # the only one who understands it
        assert sorted(pairs.values()) == [("EN-1",), ("EN-2",), ("RU-1",)]
        for name, teams in pairs.items():
            seen[name].add(teams)
    assert seen["lena"] == seen["wei"] == {("EN-1",), ("EN-2",)}  # the English pair rotates


def test_rotation_with_languages_is_valid_deterministic_and_moves() -> None:
    inspectors = list(TEAM.values())
    previous = None
    changes = 0
    for date in MONTHS:
        pairs = pairings(inspectors, date=date, policy=MONTHLY, team_languages=LANGS)
        assert pairs == pairings(inspectors, date=date, policy=MONTHLY, team_languages=LANGS)
        assert sorted(pairs.values()) == sorted(i.teams for i in inspectors)
        for name, teams in pairs.items():
            spoken = set(TEAM[name].languages)
            assert all(LANGS[t] <= spoken for t in teams), (date, name, teams)
        changes += pairs != previous
        previous = pairs
    assert changes == len(MONTHS)  # someone gets fresh teams every month


def test_an_impossible_rotation_is_refused_naming_inspector_and_team() -> None:
    inspectors = [TEAM["lena"], Inspector("omar", ("RU-1",), 600, ("en",))]
    with pytest.raises(
        QueueError, match=r"inspector '(lena|omar)' .*team 'RU-1' \(calls in ru\)"
    ) as info:
        pairings(inspectors, date="2026-12-01", policy=MONTHLY, team_languages=LANGS)
    assert info.value.code == "Q002" and "2026-12" in str(info.value)


@pytest.mark.parametrize("rotation", ["off", "schedule"])
def test_a_configured_pairing_nobody_understands_is_refused(rotation: str) -> None:
    policy = QueuePolicy(rotation=rotation, schedule={"2026-12": {"lena": ("RU-2",)}})  # type: ignore[arg-type]
    inspectors = (
        [TEAM["lena"], TEAM["omar"]]
        if rotation == "schedule"
        else [
            Inspector("lena", ("EN-1", "RU-2"), 600, ("en",)),
            TEAM["omar"],
        ]
    )
    with pytest.raises(
        QueueError, match=r"inspector 'lena' \(languages en\) cannot be paired with team 'RU-2'"
    ) as info:
        pairings(inspectors, date="2026-12-01", policy=policy, team_languages=LANGS)
    assert info.value.code == "Q002"
    # a team whose languages are unknown (no calls, no config) may go to anyone
    pairings(inspectors, date="2026-12-01", policy=policy, team_languages={})


def _candidate(n: int, team: str) -> Candidate:
    ev = (Evidence("agent", 10.0, 14.0, "…"),)
    f = Finding(f"C{n}", "r", 1, "rude", 1, True, "fail", 0.9, ev, 10.0, False, False, "rude")
    return Candidate(score_call([f]), (f,), 120.0, f"A-{team}", team)


def test_queues_follow_the_language_aware_pairing() -> None:
    inspectors = [TEAM["lena"], TEAM["omar"], Inspector("wei", ("EN-2",), 600, ("en",))]
    calls = [_candidate(n, team) for n, team in enumerate(["EN-1", "EN-2", "RU-1"] * 3)]
    for date in ("2026-11-20", "2026-12-01"):
        queue = build_inspector_queues(
            calls, date=date, inspectors=inspectors, policy=MONTHLY, team_languages=LANGS
        )
        assert {q.team_id for q in queue if q.inspector == "omar"} == {"RU-1"}
        assert "RU-1" not in {q.team_id for q in queue if q.inspector != "omar"}


def _calls(warehouse: Path, date: str, rows: list[tuple[str, str, str]]) -> None:
    wh.upsert(
        warehouse,
        "calls",
        {
            date: [
                {"call_id": f"{date}-{n}", "team_id": t, "language": lang, "status": status}
                for n, (t, lang, status) in enumerate(rows)
            ]
        },
    )


def test_team_languages_come_from_stored_calls_or_the_config(tmp_path: Path) -> None:
    _calls(tmp_path, "2026-11-03", [("T1", "en", "ok")] * 12 + [("T1", "ru", "ok")])  # 1 stray
    _calls(tmp_path, "2026-11-04", [("T2", "ru", "ok"), ("T2", "pl", "unsupported_language")])
    _calls(tmp_path, "2026-05-01", [("T3", "zh", "ok")])  # long before the lookback
    _calls(tmp_path, "2026-12-20", [("T3", "en", "ok")])  # after the date
    langs = stored_team_languages(str(tmp_path), "2026-12-10", configured={}, min_share=0.1)
    assert langs == {"T1": frozenset({"en"}), "T2": frozenset({"ru"})}
    cfg = tmp_path / "earmark.toml"
    cfg.write_text(
        '[[inspectors]]\nname = "lena"\nteams = ["T1"]\nlanguages = ["en", "ru"]\n'
        '[teams.T1]\nlanguages = ["en", "ru"]\n[queue]\nteam_language_min_share = 0.5\n',
        encoding="utf-8",
    )
    config = load_config(cfg)
    assert inspectors_from_config(config)[0].languages == ("en", "ru")
    langs = config_team_languages(config, warehouse=str(tmp_path), date="2026-12-10")
    assert langs == {"T1": frozenset({"en", "ru"}), "T2": frozenset({"ru"})}


def test_a_language_must_be_a_code(tmp_path: Path) -> None:
    cfg = tmp_path / "earmark.toml"
    cfg.write_text('[[inspectors]]\nname = "lena"\nlanguages = ["English"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"inspectors.0.languages.0") as info:
        load_config(cfg)
    assert info.value.code == "C002"
