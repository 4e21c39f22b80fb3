"""The README says where earmark's state goes when run without the Makefile, and it is
where the code puts it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.env import configure_environment
from models.bundle import state_dir

README = Path(__file__).parents[2] / "README.md"


def test_the_default_state_folder_is_the_one_the_readme_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("EARMARK_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    shown = "~/" + state_dir().relative_to(tmp_path).as_posix()
    text = README.read_text(encoding="utf-8")
    assert f"Run as `.venv/bin/earmark …`, it is `{shown}` unless `EARMARK_HOME` is set" in text


def test_earmark_home_moves_the_state_the_readme_lists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path / "state"))
    for key in ("PREFECT_HOME", "NUMBA_CACHE_DIR"):  # set, then removed: restored after
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    assert configure_environment() == tmp_path / "state"
    assert os.environ["PREFECT_HOME"] == str(tmp_path / "state" / "prefect")
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "state" / "numba")
    text = README.read_text(encoding="utf-8")
    assert "Prefect's home (`prefect/`) and numba's cache (`numba/`)" in text
