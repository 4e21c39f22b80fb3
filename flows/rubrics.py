"""Rubric files compiled for the commands: per language, per call type, or when first asked.

The commands that score without ASR (``rescore``, ``rubric apply/explain/tune``) share
these; they live apart from :mod:`flows.rescore` so that the rubric tools do not import the
warehouse's Parquet stack to start (about 0.2 s of CPU of every ``rubric apply``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from models.embed import get_embedder
from models.nlp import get_analyzer
from pipeline import errors
from pipeline.row_records import CallRow
from pipeline.rubric.engine import ALL_INPUTS, CompiledRubric
from pipeline.rubric.loader import compiled_rubric
from pipeline.rubric.schema import load_rubric


def compile_rubrics(
    paths: Sequence[str], *, available: frozenset[str] = ALL_INPUTS
) -> dict[str, CompiledRubric]:
    """One compiled rubric per language; two files for one language is an error."""
    compiled: dict[str, CompiledRubric] = {}
    for path in paths:
        rubric = _compiled(path, available=available)
        language = rubric.rubric.language
        if language in compiled:
            first = compiled[language].rubric.source
            raise errors.RUBRIC_TWICE(which="", language=language, first=first, second=path)
        compiled[language] = rubric
    return compiled


def _compiled(path: str, *, available: frozenset[str] = ALL_INPUTS) -> CompiledRubric:
    return compiled_rubric(
        path, analyzer_for=get_analyzer, embedder=get_embedder, available=available
    )


class RubricsByLanguage:
    """The rubric for a language, compiled when first asked for (building a language's
    spaCy pipeline is most of a short command's time). Every file is validated at once,
    and two files for one language is an error (``C013``)."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.files: dict[str, str] = {}
        for path in paths:
            language = load_rubric(path).language
            if language in self.files:
                raise errors.RUBRIC_TWICE(
                    which="", language=language, first=self.files[language], second=path
                )
            self.files[language] = path

    @property
    def languages(self) -> list[str]:
        return sorted(self.files)

    def __call__(self, language: str) -> CompiledRubric | None:
        path = self.files.get(language)
        if path is None:
            return None
        return _compiled(path)


RubricKey = tuple[str, str]
"""(language, rubric id): a call type's rubric in one language."""


def compile_by_id(paths: Sequence[str]) -> dict[RubricKey, CompiledRubric]:
    """One compiled rubric per (language, rubric id): the rubrics of every call type.

    Raises
    ------
    ConfigError
        ``C013`` two files with the same rubric id for one language.
    """
    compiled: dict[RubricKey, CompiledRubric] = {}
    for path in paths:
        rubric = _compiled(path)
        key = (rubric.rubric.language, rubric.rubric.id)
        if key in compiled:
            raise errors.RUBRIC_TWICE(
                which=f"{key[1]!r} ",
                language=key[0],
                first=compiled[key].rubric.source,
                second=path,
            )
        compiled[key] = rubric
    return compiled


def rubric_of_call(
    call: CallRow, compiled: Mapping[RubricKey, CompiledRubric]
) -> CompiledRubric | None:
    """The rubric a stored call is rescored with: the one its call type chose (``rubric_id``
    in ``calls``), or for calls stored before call types the only one of its language."""
    if call.rubric_id:
        return compiled.get((call.language or "", call.rubric_id))
    same_language = [r for (lang, _), r in compiled.items() if lang == call.language]
    return same_language[0] if len(same_language) == 1 else None


def iter_json_objects(
    lines: Iterable[str],
) -> Iterator[tuple[int, Mapping[str, Any] | None, str]]:
    """Lazily parse JSON Lines (``rubric apply``'s transcripts, ``rubric tune``'s labels):
    ``(line number, object or None, error)`` per non-blank line."""
    import json

    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, None, f"not JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(obj, dict):
            yield n, None, f"expected a JSON object, got {type(obj).__name__}"
            continue
        yield n, obj, ""
