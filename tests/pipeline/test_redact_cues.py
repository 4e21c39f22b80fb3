"""The redaction cue file: its examples hold, and a broken file is a clear coded error."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import RubricError
from pipeline.redact_cues import CUE_KINDS, load_cues, redaction_cues_file
from pipeline.redact_detect import find_cues
from pipeline.redact_text import normalise, text_units

SHIPPED = load_cues(redaction_cues_file())
ALL = "{CARD: [a], CVV: [b], EXPIRY: [c], CODE: [d], PHONE: [e]}"


def _cues_in(text: str) -> set[str]:
    return {cue.kind for cue in find_cues(normalise(text_units(text)))}


def test_every_cue_has_examples_both_ways() -> None:
    assert {kind for kind, _ in SHIPPED.match} == set(CUE_KINDS)
    assert {kind for kind, _ in SHIPPED.no_match} == set(CUE_KINDS)


@pytest.mark.parametrize(("kind", "text"), SHIPPED.match)
def test_the_cue_is_found(kind: str, text: str) -> None:
    assert kind in _cues_in(text)


@pytest.mark.parametrize(("kind", "text"), SHIPPED.no_match)
def test_the_cue_is_not_found(kind: str, text: str) -> None:
    assert kind not in _cues_in(text)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("en: [card]", r"en: must map cues to phrases, got list"),
        ("en:\n  IBAN: ['iban']", r"en\.IBAN: unknown cue"),
        ("en:\n  CARD: ['(card']", r"en\.CARD: '\(card' is not a valid regular expression"),
        ("en:\n  CARD: ''", r"en\.CARD: must be a list of non-empty phrases"),
        ("en:\n  CARD: ['card']", r"CVV: no phrase in any language"),
        (f"en: {ALL}\nexamples:\n  CARD: {{hit: [x]}}", r"examples\.CARD\.hit: unknown"),
        (f"en: {ALL}\nexamples:\n  PIN: {{match: [x]}}", r"examples\.PIN: unknown cue"),
        ("en: [unclosed", r"cannot read"),
        ("- a list", r"not a mapping of languages"),
    ],
)
def test_a_broken_cue_file_names_the_file_and_the_problem(
    tmp_path: Path, body: str, problem: str
) -> None:
    path = tmp_path / "redaction.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(RubricError, match=rf"\[R013\] {path}: {problem}"):
        load_cues(path)
