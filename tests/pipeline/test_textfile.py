"""A config or rubric file that cannot be read is a coded error naming it, never an OSError."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import pipeline.textfile
from pipeline.config import load_config
from pipeline.errors import ConfigError, RubricError
from pipeline.rubric.schema import load_rubric


@pytest.mark.parametrize("name", ["missing.toml", "a-folder"])
def test_an_unreadable_config_is_c001_naming_the_file(tmp_path: Path, name: str) -> None:
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(ConfigError, match=rf"^\[C001\] .*{name}: cannot read config \(\w"):
        load_config(tmp_path / name)


@pytest.mark.parametrize("name", ["missing.yaml", "a-folder"])
def test_an_unreadable_rubric_is_r001_naming_the_file(tmp_path: Path, name: str) -> None:
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(RubricError, match=rf"^\[R001\] .*{name}: cannot read rubric \(\w"):
        load_rubric(tmp_path / name)


def test_the_examples_in_the_docstrings_hold() -> None:
    result = doctest.testmod(pipeline.textfile, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_a_config_or_rubric_not_in_utf8_is_a_coded_error(tmp_path: Path) -> None:
    config, rubric = tmp_path / "earmark.toml", tmp_path / "rubric.yaml"
    config.write_bytes("[queue]\n# équipe\n".encode("latin-1"))
    rubric.write_bytes("id: démo\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"^\[C001\] .*earmark.toml: .*not UTF-8 text: byte"):
        load_config(config)
    with pytest.raises(RubricError, match=r"^\[R001\] .*rubric.yaml: .*not UTF-8 text: byte 5"):
        load_rubric(rubric)


def test_a_control_character_in_a_rubric_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """PyYAML's reader refuses it before parsing (a ReaderError, not a MarkedYAMLError):
    still one line, the file and where, not "<unicode string>"."""
    path = tmp_path / "r.yaml"
    path.write_text("schema_version: 1\nlanguage: en\x07\n", encoding="utf-8")
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    message = str(info.value)
    assert info.value.code == "R001" and str(path) in message
    assert "<unicode string>" not in message and "\n" not in message and "character 31" in message
