"""``pipeline`` imports no model library, no Prefect and nothing from ``flows``, ``models``
or ``review`` (DESIGN.md): the core runs without weights. Checked on the source, lazy
imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "models",
    "flows",
    "review",
    "prefect",
    "faster_whisper",
    "ctranslate2",
    "torch",
    "spacy",
    "resemblyzer",
    "sentence_transformers",
    "transformers",
}
MODULES = sorted((ROOT / "pipeline").rglob("*.py"))


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pipeline_imports_no_model_library(path: Path) -> None:
    assert _imported(path) & FORBIDDEN == set()


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from resemblyzer import VoiceEncoder\n    import torch.nn\n")
    assert _imported(module) == {"resemblyzer", "torch"}
