"""The one place rubric files become compiled rubrics.

A file is read, validated and compiled once per process for the same content: a flow
checks its rubrics before it starts and every call or partition then reuses them, while
an edited file (``earmark schedule`` runs many nights in one process) is compiled again.
The composition root (``flows/``) passes the language analyzer and the embedder, so this
module imports no model library.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from pipeline.protocols import Embedder, TextAnalyzer
from pipeline.rubric.engine import ALL_INPUTS, CompiledRubric, compile_rubric
from pipeline.rubric.schema import load_rubric

MAX_CACHED = 64
"""Compiled rubrics kept; beyond this (many edits in one process) the cache starts over."""

_compiled: dict[tuple[str, str, frozenset[str]], CompiledRubric] = {}


def compiled_rubric(
    path: str | os.PathLike[str],
    *,
    analyzer_for: Callable[[str], TextAnalyzer],
    embedder: Callable[[], Embedder | None],
    available: frozenset[str] = ALL_INPUTS,
) -> CompiledRubric:
    """The compiled rubric of ``path``, built once per content of the file.

    Parameters
    ----------
    path
        A rubric YAML file.
    analyzer_for
        The text analyzer of a language (called only when the file is compiled).
    embedder
        The meaning model, or ``None`` (called only when the file is compiled).
    available
        What the run produces (see :func:`pipeline.rubric.engine.compile_rubric`).

    Raises
    ------
    RubricError
        The file cannot be read or is invalid (coded, naming the file).
    """
    location = os.fspath(path)
    try:
        digest = hashlib.sha256(Path(location).read_bytes()).hexdigest()
    except OSError:
        digest = ""  # load_rubric says what is wrong with it
    key = (location, digest, available)
    found = _compiled.get(key)
    if found is None:
        rubric = load_rubric(location)
        analyzer = analyzer_for(rubric.language)
        found = compile_rubric(rubric, analyzer, available=available, embedder=embedder())
        if len(_compiled) >= MAX_CACHED:
            _compiled.clear()
        _compiled[key] = found
    return found
