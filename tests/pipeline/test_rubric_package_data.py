"""An installed earmark finds its shipped rubrics without the source tree: the wheel holds
them, and the locator finds them in an installed layout (the wheel unpacked elsewhere)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from pipeline.rubric.shipped import shipped_path, shipped_root

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(
    p.relative_to(ROOT).as_posix()
    for p in (ROOT / "rubrics").rglob("*")
    if p.suffix in (".yaml", ".json", ".py")
)

FIND_THEM = """
import sys
sys.path[:0] = [{unpacked!r}]
sys.path.append({site!r})  # dependencies only: no .pth, so not the editable source tree
from pipeline.config import Config
from pipeline.redact_cues import cue_patterns
from pipeline.rubric.schema import load_rubric
for language, path in Config().rubrics.items():
    print(language, path, load_rubric(path).id)
print("cues", len(cue_patterns()))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")  # a copy: building leaves build/ behind
    for name in ("pyproject.toml", "README.md", "pipeline", "models", "flows", "review", "rubrics"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    done = subprocess.run([*cmd, str(source), "-w", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("earmark-*.whl")
    return built


def test_the_wheel_holds_every_shipped_rubric_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "rubrics/cues/redaction.yaml" in SHIPPED and "rubrics/en/inbound-support.yaml" in SHIPPED
    assert {"rubrics/cues/hold.yaml", "rubrics/cues/roles.yaml"} <= set(SHIPPED)
    assert not set(SHIPPED) - names, sorted(set(SHIPPED) - names)


def test_an_installed_layout_finds_its_rubrics_outside_the_source_tree(
    wheel: Path, tmp_path: Path
) -> None:
    unpacked = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(unpacked)
    script = FIND_THEM.format(unpacked=str(unpacked), site=sysconfig.get_paths()["purelib"])
    done = subprocess.run(
        [sys.executable, "-S", "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "cues 5"
    found = {line.split()[0]: line.split()[1:] for line in lines[:-1]}
    assert set(found) == {"en", "zh", "ru"}
    for language, (path, rubric_id) in found.items():
        assert path == str(unpacked / "rubrics" / language / "inbound-support.yaml")
        assert rubric_id == "inbound-support"


def test_in_the_source_tree_the_locator_finds_rubrics_beside_pipeline() -> None:
    assert shipped_root() == ROOT / "rubrics"
    assert shipped_path("en", "inbound-support.yaml") == ROOT / "rubrics/en/inbound-support.yaml"


def test_a_missing_shipped_file_is_a_coded_error() -> None:
    from pipeline.errors import RubricError

    with pytest.raises(RubricError, match=r"\[R014\] .*no-such\.yaml: a shipped rubric file"):
        shipped_path("en", "no-such.yaml")


def test_a_namespace_rubrics_on_the_path_does_not_hide_the_shipped_files(tmp_path: Path) -> None:
    """`make test` runs the pytest binary, which puts tests/ (holding tests/rubrics) on
    sys.path; an install made before rubrics/ was a package cannot import it otherwise."""
    script = (
        "import sys; sys.path.insert(0, {root!r}); import pipeline.rubric.shipped as s; "
        "sys.path.remove({root!r}); sys.path.insert(0, {tests!r}); "
        "print(s.shipped_path('cues', 'redaction.yaml'))"
    ).format(root=str(ROOT), tests=str(ROOT / "tests"))
    done = subprocess.run(
        [sys.executable, "-S", "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(ROOT / "rubrics" / "cues" / "redaction.yaml")
