"""Who may open which call: an inspector, the calls of the teams paired with them in the
call's month (the pairing that queued it); a QA lead, every call; an agent, their own."""

from __future__ import annotations

from collections.abc import Collection

from pipeline.config import Config
from pipeline.queue import inspectors_from_config, pairings, policy_from_config
from review.auth import Account
from review.data import CallRef


def teams_of(config: Config, inspector: str, *, date: str) -> tuple[str, ...]:
    """The teams paired with ``inspector`` on ``date`` (after rotation)."""
    pairs = pairings(inspectors_from_config(config), date=date, policy=policy_from_config(config))
    return pairs.get(inspector, ())


def may_open(
    account: Account, ref: CallRef, config: Config, *, queued_for: Collection[str] = ()
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
    return bool(ref.team_id) and ref.team_id in teams_of(config, account.name, date=ref.call_date)


def may_see_team(account: Account, team_id: str, config: Config, *, date: str) -> bool:
    """Whether ``account`` may see a team's dashboard: a lead any, an inspector the teams
    paired with them on ``date``, an agent none."""
    if account.role == "lead":
        return True
    return account.role == "inspector" and team_id in teams_of(config, account.name, date=date)


def may_see_agent(
    account: Account, agent_id: str, team_id: str, config: Config, *, date: str
) -> bool:
    """Whether ``account`` may see an agent's scorecard: the agent themself, a lead, or an
    inspector paired with the agent's team on ``date``."""
    if account.role == "agent":
        return bool(account.agent_id) and account.agent_id == agent_id
    return may_see_team(account, team_id, config, date=date)
