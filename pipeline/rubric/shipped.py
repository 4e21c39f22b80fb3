"""Where the rubrics and data files shipped with earmark are.

``rubrics/`` stays at the top of the source tree and is installed as the package data of
a ``rubrics`` package: :mod:`importlib.resources` finds it in either layout, so an
installed earmark does not need the source tree.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pipeline import errors

RUBRIC_LANGUAGES = ("en", "zh", "ru")
"""Languages with a shipped rubric and text analysis: what ``languages`` may serve."""


def shipped_root() -> Path:
    """The folder of the shipped files: the ``rubrics`` package as installed, else the
    folder beside ``pipeline/`` (a source checkout installed before ``rubrics/`` was a
    package, where ``import rubrics`` finds nothing or only a namespace such as
    ``tests/rubrics``)."""
    try:
        found = resources.files("rubrics")
    except ModuleNotFoundError:
        found = None
    if isinstance(found, Path) and (found / "rubric.schema.json").is_file():
        return found
    return Path(__file__).resolve().parents[2] / "rubrics"


def shipped_path(*parts: str) -> Path:
    """A shipped file, e.g. ``shipped_path("en", "inbound-support.yaml")``.

    Raises
    ------
    RubricError
        ``R014`` when the file is not there (a broken install).
    """
    path = shipped_root().joinpath(*parts)
    if not path.is_file():
        raise errors.SHIPPED_FILE_MISSING(path=path)
    return path


def shipped_rubrics(name: str) -> dict[str, str]:
    """The shipped rubric ``name`` (e.g. ``inbound-support``) of each language, by language."""
    return {lang: str(shipped_path(lang, f"{name}.yaml")) for lang in RUBRIC_LANGUAGES}
