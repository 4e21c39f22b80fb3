"""``earmark serve`` checks what it was given before it announces an address, and says how
to keep sign-ins across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import SECRET_KEY_VARIABLE, _session_key, main
from review.auth import account_toml


def test_a_missing_archive_is_refused_before_the_address_is_announced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "earmark.toml"
    config.write_text(account_toml("lena", "lead", "pw") + "\n", encoding="utf-8")
    missing = tmp_path / "no-archive"
    args = ["serve", "--warehouse", str(tmp_path / "wh"), "--archive", str(missing)]
    assert main([*args, "--config", str(config)]) == 2
    out, err = capsys.readouterr()
    assert "review app on" not in out
    assert err.startswith(f"earmark: error: [C004] archive folder {str(missing)!r} does not exist")


@pytest.mark.parametrize(
    ("name", "made", "said"),
    [
        ("no-such-warehouse", False, "[W012] {}: no such folder"),
        ("empty", True, "[W010] {}: no calls"),
    ],
)
def test_a_warehouse_without_calls_is_refused_before_the_address_is_announced(
    name: str, made: bool, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As every command that reads a warehouse: exit 4, one line, nothing created there."""
    config = tmp_path / "earmark.toml"
    config.write_text(account_toml("lena", "lead", "pw") + "\n", encoding="utf-8")
    warehouse = tmp_path / name
    if made:
        warehouse.mkdir()
    args = ["serve", "--warehouse", str(warehouse), "--archive", str(tmp_path)]
    assert main([*args, "--config", str(config)]) == 4
    out, err = capsys.readouterr()
    assert "review app on" not in out
    assert err.strip().splitlines() == [err.strip()] and err.startswith(
        "earmark: error: " + said.format(warehouse)
    )
    assert (list(warehouse.iterdir()) == []) if made else not warehouse.exists()


def test_without_a_secret_key_the_note_says_which_variable_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SECRET_KEY_VARIABLE, raising=False)
    first, note = _session_key()
    assert f"no {SECRET_KEY_VARIABLE} set: sign-ins end when this server stops" in note
    assert f"export {SECRET_KEY_VARIABLE}=" in note
    assert len(first) == 64 and _session_key()[0] != first  # a fresh random key each start
    monkeypatch.setenv(SECRET_KEY_VARIABLE, "kept-across-restarts")
    assert _session_key() == ("kept-across-restarts", "")


def test_the_readme_names_the_variable() -> None:
    readme = Path(__file__).parents[2] / "README.md"
    assert f"${SECRET_KEY_VARIABLE}" in readme.read_text(encoding="utf-8")
