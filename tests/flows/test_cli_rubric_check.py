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
