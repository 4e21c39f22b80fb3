"""One loader for rubric files: compiled once per content, again when the file changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.nlp import get_analyzer
from pipeline.errors import RubricError
from pipeline.protocols import TextAnalyzer
from pipeline.rubric.engine import evaluate
from pipeline.rubric.loader import compiled_rubric
from pipeline.rubric.schema import load_rubric
from pipeline.types import Transcript, Utterance

RUBRIC = """schema_version: 1
id: t
version: {version}
language: en
items:
  - id: greeting
    speaker: agent
    expect: present
    weight: 10
    detector: phrase.v1
    params: {{phrases: ["{phrase}"]}}
"""


class _Counting:
    """The real analyzer factory, counting how often a rubric had to be compiled."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, language: str) -> TextAnalyzer:
        self.calls += 1
        return get_analyzer(language)


def _load(path: Path, analyzer_for: _Counting):  # type: ignore[no-untyped-def]
    return compiled_rubric(path, analyzer_for=analyzer_for, embedder=lambda: None)


def test_a_file_is_compiled_once_and_again_after_an_edit(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(RUBRIC.format(version=1, phrase="good morning"), encoding="utf-8")
    counting = _Counting()
    first = _load(path, counting)
    assert _load(path, counting) is first and counting.calls == 1
    path.write_text(RUBRIC.format(version=2, phrase="thanks for calling"), encoding="utf-8")
    edited = _load(path, counting)
    assert counting.calls == 2 and edited.rubric.version == 2
    call = Transcript("c", "en", 5.0, (Utterance("agent", 0.0, 2.0, "Thanks for calling!"),))
    assert evaluate(edited, call)[0].detected and not evaluate(first, call)[0].detected


def test_a_missing_or_broken_file_is_the_rubric_error(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match=r"\[R001\] .*nope\.yaml: cannot read rubric"):
        _load(tmp_path / "nope.yaml", _Counting())
    bad = tmp_path / "bad.yaml"
    bad.write_text(RUBRIC.format(version=1, phrase="x").replace("expect:", "expcet:"))
    with pytest.raises(RubricError, match=r"\[R002\]"):
        _load(bad, _Counting())


def test_a_file_is_parsed_once_per_text_and_again_after_an_edit(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(RUBRIC.format(version=1, phrase="good morning"), encoding="utf-8")
    first = load_rubric(path)
    assert load_rubric(path) is first and load_rubric(str(path)) is first
    path.write_text(RUBRIC.format(version=2, phrase="good morning"), encoding="utf-8")
    assert load_rubric(path).version == 2
    path.write_text(RUBRIC.format(version=1, phrase="x").replace("expect:", "expcet:"))
    for _ in range(2):  # a broken text is refused every time, never remembered
        with pytest.raises(RubricError, match=r"\[R002\]"):
            load_rubric(path)
    path.unlink()
    with pytest.raises(RubricError, match=r"\[R001\]"):
        load_rubric(path)
