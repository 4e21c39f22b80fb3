"""What each rubric item is to the feedback pages: a skill of the agent's, or not.

The scorecards, team dashboards and the monthly report coach agents on their skills. Two
kinds of item are not one, whatever their pass rate:

- an item about what the *customer* did (``speaker: customer``: an escalation request,
  dissatisfaction, a cancel intent) is not something an agent can be coached on;
- an *informational* item (``weight: 0`` with neither ``flag`` nor ``critical``) scores
  nothing and sends no call to review: a data engineer counts something with it (see
  ``rubrics/README.md``), so its outcome is never a fail of the agent's.

The item ids are a contract across a rubric's language versions (the same settings in
each), so an item is known by its id in every rubric the configuration can pick.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipeline.calltypes import rubric_paths
from pipeline.config import Config
from pipeline.rubric.schema import Item, load_rubric


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """A rubric item as the feedback pages show it."""

    item_id: str
    title: str
    speaker: str = "any"
    informational: bool = False
    """Scores nothing and flags nothing (``weight: 0``, no ``flag``, no ``critical``)."""

    @property
    def skill(self) -> bool:
        """An agent can be coached on it: neither the customer's nor informational."""
        return self.speaker != "customer" and not self.informational


def informational(*, weight: float, flag: bool, critical: bool) -> bool:
    """An item that scores nothing and sends no call to review: information, never a fail.

    Examples
    --------
    >>> informational(weight=0, flag=False, critical=False)
    True
    >>> informational(weight=0, flag=True, critical=False)
    False
    """
    return weight == 0 and not flag and not critical


def item_info(item: Item) -> ItemInfo:
    """The feedback pages' view of a rubric ``item``."""
    return ItemInfo(
        item.id,
        item.title or item.id,
        item.speaker,
        informational(weight=item.weight, flag=item.flag, critical=item.critical),
    )


def configured_items(config: Config) -> dict[str, ItemInfo]:
    """``item_id → ItemInfo`` of every rubric the configuration can pick (the first
    language's title, e.g. English, when languages translate it).

    Raises
    ------
    RubricError
        When a configured rubric does not load (its coded error).
    """
    out: dict[str, ItemInfo] = {}
    for paths in rubric_paths(config).values():
        for path in paths:
            for item in load_rubric(path).items:
                out.setdefault(item.id, item_info(item))
    return out


def not_skills(items: Mapping[str, ItemInfo]) -> frozenset[str]:
    """The ids of the items that are not the agent's skills (see the module)."""
    return frozenset(i for i, info in items.items() if not info.skill)


def title_of(items: Mapping[str, ItemInfo], item_id: str) -> str:
    """The item's title; its id when no configured rubric has it."""
    info = items.get(item_id)
    return info.title if info else item_id


def skills_only(item_ids: Iterable[str], items: Mapping[str, ItemInfo]) -> tuple[str, ...]:
    """``item_ids`` without those that are not the agent's skills, in order."""
    skip = not_skills(items)
    return tuple(i for i in item_ids if i not in skip)
