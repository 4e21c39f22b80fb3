"""Who may open which call: an inspector, the calls of the teams paired with them in the
call's month (the pairing that queued it); a QA lead, every call; an agent, their own."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection

from pipeline.config import Config
from pipeline.errors import QueueError
from pipeline.queue import (
    TeamLanguages,
    config_team_languages,
    inspectors_from_config,
    pairings,
    policy_from_config,
)
from review.auth import Account
from review.data import CallRef


def teams_of(
    config: Config, inspector: str, *, date: str, warehouse: str | None = None
) -> tuple[str, ...]:
    """The teams paired with ``inspector`` on ``date`` (after rotation, which respects the
    teams' languages as the nightly queue did when ``warehouse`` is given).

    A pairing the configuration makes impossible (``Q002``, the night refused to queue
    it) pairs no one: the stored queue alone then says who may open a call.
    """
    try:
        pairs = pairings(
            inspectors_from_config(config),
            date=date,
            policy=policy_from_config(config),
            team_languages=_team_languages(config, warehouse=warehouse, date=date),
        )
    except QueueError:
        return ()
    return pairs.get(inspector, ())


def may_open(
    account: Account,
    ref: CallRef,
    config: Config,
    *,
    queued_for: Collection[str] = (),
    warehouse: str | None = None,
) -> bool:
    """Whether ``account`` may see ``ref``.

    Parameters
    ----------
    account
        Who asks.
    ref
        The call.
    config
        Inspectors, teams and rotation.
    queued_for
        Inspectors whose stored queue lists the call: the queue is the assignment of
        record, even if the configuration changed after it was built.
    warehouse
        Where the teams' call languages are read for the rotation (see :func:`teams_of`).

    Examples
    --------
    >>> from pipeline.config import Config, InspectorConfig
    >>> cfg = Config(inspectors=[InspectorConfig(name="lena", teams=["T1"])])
    >>> ref = CallRef("c1", "2026-11-20", "T1", "a1", "c1.wav")
    >>> cfg = cfg.model_copy(update={"queue": cfg.queue.model_copy(update={"rotation": "off"})})
    >>> may_open(Account("lena", "inspector", ""), ref, cfg), may_open(
    ...     Account("omar", "inspector", ""), ref, cfg)
    (True, False)
    """
    if account.role == "lead":
        return True
    if account.role == "agent":  # their own calls only (the app also asks for a review)
        return bool(account.agent_id) and ref.agent_id == account.agent_id
    if account.name in queued_for:
        return True
    teams = teams_of(config, account.name, date=ref.call_date, warehouse=warehouse)
    return bool(ref.team_id) and ref.team_id in teams


def may_see_team(
    account: Account, team_id: str, config: Config, *, date: str, warehouse: str | None = None
) -> bool:
    """Whether ``account`` may see a team's dashboard: a lead any, an inspector the teams
    paired with them on ``date``, an agent none."""
    if account.role == "lead":
        return True
    return account.role == "inspector" and team_id in teams_of(
        config, account.name, date=date, warehouse=warehouse
    )


def may_see_agent(
    account: Account,
    agent_id: str,
    team_id: str,
    config: Config,
    *,
    date: str,
    warehouse: str | None = None,
) -> bool:
    """Whether ``account`` may see an agent's scorecard: the agent themself, a lead, or an
    inspector paired with the agent's team on ``date``."""
    if account.role == "agent":
        return bool(account.agent_id) and account.agent_id == agent_id
    return may_see_team(account, team_id, config, date=date, warehouse=warehouse)


LANGUAGES_TTL_S = 300.0
"""How long the app trusts the teams' languages it read from the warehouse: reading them
takes ~0.7 s over 120 days of calls, and only a new night can change them."""
_languages: dict[tuple[object, ...], tuple[float, TeamLanguages]] = {}
_languages_lock = threading.Lock()


def _team_languages(config: Config, *, warehouse: str | None, date: str) -> TeamLanguages:
    """:func:`pipeline.queue.config_team_languages`, remembered for :data:`LANGUAGES_TTL_S`."""
    key = (
        warehouse,
        date,
        repr(sorted(config.teams.items())),
        config.queue.team_language_min_share,
        tuple(tuple(i.languages) for i in config.inspectors),
    )
    now = time.monotonic()
    with _languages_lock:
        hit = _languages.get(key)
    if hit is not None and now - hit[0] < LANGUAGES_TTL_S:
        return hit[1]
    langs = config_team_languages(config, warehouse=warehouse, date=date)
    with _languages_lock:
        if len(_languages) > 512:
            _languages.clear()
        _languages[key] = (now, langs)
    return langs
