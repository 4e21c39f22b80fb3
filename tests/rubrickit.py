"""Small rubric documents for the rubric tests, as a parsed rubric file holds them."""

from __future__ import annotations

from typing import Any

GREETING: dict[str, Any] = {
    "id": "greeting",
    "speaker": "agent",
    "window": {"first_s": 20},
    "expect": "present",
    "weight": 10,
    "detector": "phrase.v1",
    "params": {"phrases": ["thanks for calling"]},
}
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
