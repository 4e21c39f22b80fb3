"""Pairing inspectors with teams whose calls they understand.

Each inspector may list the languages they understand (``[[inspectors]] languages``;
none listed: any). A team's languages are configured (``[teams.TEAM-01] languages``) or
read from its stored calls: every language at least ``team_language_min_share`` of the
team's processed calls were in, over the :data:`LOOKBACK_DAYS` before the month began
and the month so far. A team with no calls and no configuration can go to anyone.

Monthly rotation hands the configured team lists on among the inspectors who understand
them: each inspector goes round, month by month, the lists they can take, starting from
their own, and when two want the same list the assignment is the one nearest everyone's
turn (a minimum-cost assignment, deterministic). Without language limits this is the
plain rotation, one inspector along per month. When no assignment gives every list an
inspector who understands it, the night's queue is refused with ``Q002`` naming an
inspector and a team.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np

from pipeline.errors import QueueError

LOOKBACK_DAYS = 90
"""Days of stored calls before the month's start that tell a team's languages."""
_BIG = 1_000_000


class _Inspector(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def teams(self) -> tuple[str, ...]: ...
    @property
    def languages(self) -> tuple[str, ...]: ...


def team_languages(
    calls: Iterable[tuple[str, str]],
    *,
    configured: Mapping[str, Sequence[str]] | None = None,
    min_share: float = 0.1,
) -> dict[str, frozenset[str]]:
    """The languages of each team: configured, else those of its calls.

    Parameters
    ----------
    calls
        ``(team_id, language)`` of processed calls.
    configured
        ``{team: languages}`` from ``[teams.X] languages``; they win over the calls.
    min_share
        A language counts when at least this share of the team's calls is in it.

    Examples
    --------
    >>> calls = [("T1", "en")] * 19 + [("T1", "ru")] + [("T2", "ru")] * 3
    >>> sorted((t, sorted(ls)) for t, ls in team_languages(calls, min_share=0.1).items())
    [('T1', ['en']), ('T2', ['ru'])]
    """
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for team, language in calls:
        if team and language:
            counts[team][language] += 1
    out = {
        team: frozenset(lang for lang, n in c.items() if n >= min_share * c.total())
        for team, c in counts.items()
    }
    out.update({t: frozenset(ls) for t, ls in (configured or {}).items() if ls})
    return out


def understands(inspector: _Inspector, team: str, langs: Mapping[str, frozenset[str]]) -> bool:
    """Whether ``inspector`` understands every language of ``team``'s calls."""
    return not inspector.languages or langs.get(team, frozenset()) <= set(inspector.languages)


def rotate(
    inspectors: Sequence[_Inspector], *, month: int, langs: Mapping[str, frozenset[str]]
) -> dict[str, tuple[str, ...]]:
    """The team lists each inspector covers in ``month`` (months counted from year 0).

    Raises
    ------
    QueueError
        ``Q002`` when no assignment lets every inspector understand their teams.
    """
    n = len(inspectors)

    def fits(k: int, j: int) -> bool:
        return all(understands(inspectors[k], t, langs) for t in inspectors[j].teams)

    cost = np.full((n, n), _BIG, dtype=np.int64)
    for k in range(n):
        mine = [j for j in range(n) if fits(k, j)]
        start = bisect_left(mine, k)  # their own list, or where it would be in the round
        for idx, j in enumerate(mine):
            cost[k, j] = (idx - start - month) % len(mine)
    from scipy.optimize import linear_sum_assignment  # 0.5 s to import: only when rotating

    rows, cols = linear_sum_assignment(cost)
    pairs = {inspectors[k].name: inspectors[j].teams for k, j in zip(rows, cols, strict=True)}
    check_languages(pairs, inspectors, langs, when=f"month {month // 12:04d}-{month % 12 + 1:02d}")
    return pairs


def check_languages(
    pairs: Mapping[str, Sequence[str]],
    inspectors: Sequence[_Inspector],
    langs: Mapping[str, frozenset[str]],
    *,
    when: str = "",
) -> None:
    """Refuse a pairing of an inspector with a team whose calls they cannot understand.

    Raises
    ------
    QueueError
        ``Q002`` naming the first such inspector and team (in name order).
    """
    by_name = {i.name: i for i in inspectors}
    for name, teams in sorted(pairs.items()):
        inspector = by_name.get(name)
        for team in teams:
            if inspector is not None and not understands(inspector, team, langs):
                heard = ", ".join(sorted(langs[team]))
                raise QueueError(
                    f"inspector {name!r} (languages {', '.join(inspector.languages)}) cannot be "
                    f"paired with team {team!r} (calls in {heard})"
                    + (f" in {when}" if when else "")
                    + ": no rotation gives every team an inspector who understands its calls; "
                    f"add a language to an inspector, or set [teams.{team}] languages",
                    code="Q002",
                )


def lookback(date: str) -> tuple[str, str]:
    """The first and last call dates that tell teams' languages for ``date``'s month.

    Examples
    --------
    >>> lookback("2026-12-15")
    ('2026-09-02', '2026-12-15')
    """
    start = dt.date.fromisoformat(date[:7] + "-01") - dt.timedelta(days=LOOKBACK_DAYS)
    return start.isoformat(), date


def stored_team_languages(
    warehouse: str, date: str, *, configured: Mapping[str, Sequence[str]], min_share: float
) -> dict[str, frozenset[str]]:
    """:func:`team_languages` from the ``calls`` table over :func:`lookback` of ``date``
    (processed calls only: a quarantined or unsupported-language call tells nothing)."""
    from pipeline import warehouse as wh

    first, last = lookback(date)
    calls: list[tuple[str, str]] = []
    for day in wh.partition_dates(warehouse, "calls"):
        if not first <= day <= last:
            continue
        part = wh.read_partition(warehouse, "calls", day, columns=["team_id", "language", "status"])
        if part is None:
            continue
        for team, language, status in zip(
            *(part[c].to_pylist() for c in ("team_id", "language", "status")), strict=True
        ):
            if status == "ok":
                calls.append((team or "", language or ""))
    return team_languages(calls, configured=configured, min_share=min_share)
