"""The error table: one code, one meaning, one class; every entry used; the README's codes real."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from pipeline import errors
from pipeline.errors import TABLE, ConfigError, EarmarkError, WarehouseError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "flows", "models", "review")
CODE = re.compile(r"[ACEIMQRW]\d{3}")


def _sources() -> dict[Path, str]:
    return {
        p: p.read_text(encoding="utf-8")
        for package in PACKAGES
        for p in sorted((ROOT / package).rglob("*.py"))
        if p != ROOT / "pipeline" / "errors.py"
    }


def _literal_codes(source: str) -> list[tuple[str, str | None]]:
    """Each code written as a string literal, with the class raised beside it (if any)."""
    found: list[tuple[str, str | None]] = []
    tree = ast.parse(source)
    beside: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            for kw in node.keywords:
                if kw.arg == "code" and isinstance(kw.value, ast.Constant):
                    beside[id(kw.value)] = node.func.id
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and CODE.fullmatch(str(node.value)):
            found.append((node.value, beside.get(id(node))))
    return found


def test_each_code_is_defined_once_in_the_table() -> None:
    text = (ROOT / "pipeline" / "errors.py").read_text(encoding="utf-8")
    defined = re.findall(r'_entry\(\s*"([A-Z]\d{3})"', text)
    assert len(defined) == len(TABLE) > 90
    duplicates = sorted({c for c in defined if defined.count(c) > 1})
    assert not duplicates, f"codes defined twice: {duplicates}"


def test_defining_a_code_twice_fails_at_import() -> None:
    with pytest.raises(AssertionError, match="A001 is defined twice"):
        errors._entry("A001", errors.AudioError, "again")
    assert TABLE["A001"] is errors.AUDIO_EMPTY


def test_every_code_in_the_code_is_a_table_entry_of_the_same_class() -> None:
    problems = []
    for path, source in _sources().items():
        for code, raised in _literal_codes(source):
            entry = TABLE.get(code)
            where = path.relative_to(ROOT)
            if entry is None:
                problems.append(f"{where}: {code} is not in pipeline/errors.py TABLE")
            elif raised not in (None, "super") and raised != entry.kind.__name__:
                problems.append(f"{where}: {code} raised as {raised}, the table says {entry.kind}")
    assert not problems, "\n".join(problems)


def test_every_table_entry_is_used_somewhere() -> None:
    text = "\n".join(_sources().values())
    unused = [
        f"{entry.code} {name}"
        for name, entry in vars(errors).items()
        if isinstance(entry, errors.ErrorCode)
        and not re.search(rf"\b{name}\b", text)
        and f'"{entry.code}"' not in text
    ]
    assert not unused, f"table entries nothing raises or reports: {unused}"


@pytest.mark.parametrize("doc", ["README.md", "rubrics/README.md"])
def test_every_code_the_readmes_name_is_in_the_table(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    named = set(re.findall(r"[\[`]([ACEIMQRW]\d{3})[\]`]", text))
    assert named and not named - set(TABLE), sorted(named - set(TABLE))


def test_an_entry_builds_its_class_with_its_code_and_template() -> None:
    exc = errors.REDACT_PATTERN(kind="IBAN", pattern="(", reason="missing )")
    assert isinstance(exc, ConfigError) and exc.code == "C031"
    assert str(exc) == "[C031] redaction pattern for 'IBAN' is not a valid regex: '(' (missing ))"
    lost = errors.LOCK_LOST(root="s3://b/wh", problem="(taken over)")
    assert isinstance(lost, WarehouseError) and lost.exit_code == 4


@pytest.mark.parametrize(
    ("kind", "exit_code"),
    [
        (errors.ConfigError, 2),
        (errors.RubricError, 2),
        (errors.QueueError, 2),
        (errors.InputError, 3),
        (errors.AudioError, 3),
        (errors.WarehouseError, 4),
        (errors.ModelError, 5),
    ],
)
def test_exit_codes_follow_the_class(kind: type[EarmarkError], exit_code: int) -> None:
    assert kind("x").exit_code == exit_code
