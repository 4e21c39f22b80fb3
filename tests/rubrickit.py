"""Small rubric documents for the rubric tests, as a parsed rubric file holds them, and
the timed words of the calls they are tried on."""

from __future__ import annotations

from typing import Any

from pipeline.types import Word


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


def spoken_words(text: str, start: float) -> tuple[Word, ...]:
    """``text``'s words, one every 0.5 s from ``start`` (0.4 s long, confidence 0.9)."""
    return tuple(
        Word(start + i * 0.5, start + i * 0.5 + 0.4, " " + w, 0.9)
        for i, w in enumerate(text.split())
    )
