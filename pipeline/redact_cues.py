"""The cue words of redaction, loaded from ``rubrics/cues/redaction.yaml``.

The file is data, like a rubric: ``language: {cue: [phrases]}`` plus ``examples:`` that
the tests run. Every language's phrases of a cue are joined into one case-insensitive
pattern; all cues are matched on every call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from pipeline import errors
from pipeline.rubric.shipped import shipped_path
from pipeline.textfile import load_yaml

CUE_KINDS = ("CARD", "CVV", "EXPIRY", "CODE", "PHONE")
"""The cues a digit run can be named by, in the order their patterns are tried."""
FIT = {"CARD": (8, 10**6), "CVV": (3, 4), "EXPIRY": (2, 8), "CODE": (3, 8), "PHONE": (7, 15)}
"""How many digits a run after each cue may have to be that kind. A card needs only half its
digits: the ASR mishears some ("four five three two" as "four times three two"), and the
rest is still the card."""


@dataclass(frozen=True, slots=True)
class CueFile:
    """A loaded cue file: one pattern per cue, and its examples (texts per cue that must
    and must not carry it)."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    match: tuple[tuple[str, str], ...]
    no_match: tuple[tuple[str, str], ...]


def redaction_cues_file() -> Path:
    """The shipped cue file."""
    return shipped_path("cues", "redaction.yaml")


@cache
def cue_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The shipped cues, loaded and checked once per process."""
    return load_cues(redaction_cues_file()).patterns


def load_cues(path: Path) -> CueFile:
    """Read and check a cue file.

    Raises
    ------
    RubricError
        ``R013`` naming the file and what is wrong: not YAML, an unknown cue, a phrase
        that is not a valid regular expression, a cue with no phrase, bad examples.
    """
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise errors.REDACTION_CUES_INVALID(path=path, problem=f"cannot read ({exc})") from None
    if not isinstance(raw, dict):
        raise errors.REDACTION_CUES_INVALID(path=path, problem="not a mapping of languages")
    examples = raw.pop("examples", {}) or {}
    phrases: dict[str, list[str]] = {kind: [] for kind in CUE_KINDS}
    for language, cues in raw.items():
        for kind, listed in _mapping(path, str(language), cues).items():
            phrases[_kind(path, f"{language}.{kind}", kind)].extend(
                _phrases(path, f"{language}.{kind}", listed)
            )
    patterns = tuple((kind, _compile(path, kind, phrases[kind])) for kind in CUE_KINDS)
    match, no_match = _examples(path, examples)
    return CueFile(patterns, match, no_match)


def _mapping(path: Path, where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        problem = f"{where}: must map cues to phrases, got {type(value).__name__}"
        raise errors.REDACTION_CUES_INVALID(path=path, problem=problem)
    return value


def _kind(path: Path, where: str, kind: object) -> str:
    if kind not in CUE_KINDS:
        problem = f"{where}: unknown cue (one of {', '.join(CUE_KINDS)})"
        raise errors.REDACTION_CUES_INVALID(path=path, problem=problem)
    return str(kind)


def _phrases(path: Path, where: str, listed: Any) -> list[str]:
    if not isinstance(listed, list) or not all(isinstance(p, str) and p for p in listed):
        problem = f"{where}: must be a list of non-empty phrases, got {listed!r}"
        raise errors.REDACTION_CUES_INVALID(path=path, problem=problem)
    for phrase in listed:
        try:
            re.compile(phrase)
        except re.error as exc:
            problem = f"{where}: {phrase!r} is not a valid regular expression ({exc})"
            raise errors.REDACTION_CUES_INVALID(path=path, problem=problem) from None
    return listed


def _compile(path: Path, kind: str, phrases: list[str]) -> re.Pattern[str]:
    if not phrases:
        problem = f"{kind}: no phrase in any language"
        raise errors.REDACTION_CUES_INVALID(path=path, problem=problem)
    return re.compile("|".join(f"(?:{p})" for p in phrases), re.IGNORECASE)


def _examples(
    path: Path, examples: Any
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    found: dict[str, list[tuple[str, str]]] = {"match": [], "no_match": []}
    for kind, sides in _mapping(path, "examples", examples).items():
        _kind(path, f"examples.{kind}", kind)
        for side, texts in _mapping(path, f"examples.{kind}", sides).items():
            if side not in found:
                problem = f"examples.{kind}.{side}: unknown (match or no_match)"
                raise errors.REDACTION_CUES_INVALID(path=path, problem=problem)
            listed = _phrases(path, f"examples.{kind}.{side}", texts)
            found[side].extend((kind, text) for text in listed)
    return tuple(found["match"]), tuple(found["no_match"])
