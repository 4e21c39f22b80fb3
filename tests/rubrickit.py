"""Small rubric documents for the rubric tests, as a parsed rubric file holds them."""

from __future__ import annotations

from typing import Any


def rubric_item(detector: str, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An item ``x`` (unless ``extra`` names it) expected present, weight 10."""
    return {
        "id": "x",
        "expect": "present",
        "weight": 10,
        "detector": detector,
        "params": params,
        **extra,
    }


GREETING = rubric_item(
    "phrase.v1",
    {"phrases": ["thanks for calling"]},
    id="greeting",
    speaker="agent",
    window={"first_s": 20},
)
"""An opening item: the agent thanks the caller in the first 20 s."""


def rubric_doc(*items: dict[str, Any], language: str = "en", version: int = 1) -> dict[str, Any]:
    """A rubric ``t`` holding ``items``."""
    return {
        "schema_version": 1,
        "id": "t",
        "version": version,
        "language": language,
        "items": list(items),
    }
