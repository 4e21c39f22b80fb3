"""``earmark rubric check`` shows every problem of a file at once, and a YAML mistake
with the file, line and column (a new user saw only "schema_version must be 1", then
PyYAML's ``in "<unicode string>"``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main

ITEM = """\
  - id: greeting
    version: 1
    title: Greets the customer
    speaker: agent
    expect: present
    weight: {weight}
    detector: phrase.v1
    params: {{phrases: [hello]}}
"""


def _check(path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["rubric", "check", str(path)]) == 1
    return capsys.readouterr().out.splitlines()


def test_a_rubric_without_schema_version_and_a_bad_weight_gets_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("id: r\nversion: 1\nlanguage: en\nitems:\n" + ITEM.format(weight="-3"))
    out = _check(path, capsys)
    assert out[0] == f"FAIL [R007] {path}: schema_version must be 1, got None"
    assert out[1].startswith(f"[R002] {path} item 'greeting': weight: ")
    assert out[1].endswith("got -3") and len(out) == 2


def test_a_yaml_mistake_names_the_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("schema_version: 1\nid: r\nitems:\n" + ITEM.format(weight=": 3"))
    assert _check(path, capsys) == [
        f"FAIL [R001] {path}: not valid YAML at line 9, column 13: "
        "mapping values are not allowed in this context"
    ]


def _rubric(language: str, detector: str, params: str, *, weight: int = 100) -> str:
    return (
        f"schema_version: 1\nid: r\nversion: 1\nlanguage: {language}\nitems:\n"
        f"  - id: added\n    expect: present\n    weight: {weight}\n"
        f"    detector: {detector}\n    params: {params}\n"
    )


@pytest.mark.parametrize(
    ("language", "detector", "params", "code", "says"),
    [
        # spaCy's Matcher only refused it at match time: "internal error: ValueError: [E155]"
        (
            "zh",
            "pattern.v1",
            "{patterns: [[{LEMMA: call}]]}",
            "[R017]",
            "params.patterns[0][0]: LEMMA",
        ),
        ("en", "pattern.v1", "{patterns: [[{POS: VERB}]]}", "[R017]", "params.patterns[0][0]: POS"),
        ("zh", "semantic.v1", "{examples: [您好]}", "[R009]", "English only"),
        ("zh", "lemma.v1", "{phrases: [您好]}", "[R017]", "lemma.v1 matches on lemmas"),
        ("zh", "proximity.v1", "{a: [您好], b: [再见], lemma: true}", "[R017]", "lemma: true"),
    ],
)
def test_check_refuses_what_compiling_the_rubric_refuses(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    language: str,
    detector: str,
    params: str,
    code: str,
    says: str,
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(_rubric(language, detector, params))
    out = _check(path, capsys)
    assert out[0].startswith(f"FAIL {code} {path} item 'added': "), out
    assert says in out[0], out


def test_check_says_when_scored_weights_do_not_add_up_to_100(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        _rubric("en", "phrase.v1", "{phrases: [hello]}", weight=60) + ITEM.format(weight=50)
    )
    assert _check(path, capsys) == [
        f"FAIL [R018] {path}: the scored items' weights add up to 110, not 100 "
        "(added 60, greeting 50)"
    ]


def test_check_notes_a_tolerance_that_does_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(_rubric("zh", "phrase.v1", "{phrases: [再见了, 核实下], tolerance: 1}"))
    assert main(["rubric", "check", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith(f"note {path} item 'added': params.tolerance: 1 does nothing here")
    assert "'再见了', '核实下'" in out[1]


def test_a_pattern_the_matcher_refuses_when_it_runs_is_a_coded_error() -> None:
    """Wherever E155 can arise (a pattern built past the compile-time check), it is a
    RubricError, never the CLI's "internal error"."""
    from models.nlp import SpacyPatternFinder, get_analyzer
    from pipeline.errors import RubricError

    analyzer = get_analyzer("en")
    finder = SpacyPatternFinder(analyzer, [[{"LOWER": "call"}]])
    finder.matcher.add("tagged", [[{"TAG": "NN"}]])
    with pytest.raises(RubricError, match=r"\[R017\] pattern.v1: \[E155\]"):
        finder.find(analyzer.tokenize("a call"))
