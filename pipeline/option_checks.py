"""Checks that options objects share (``__post_init__`` of :class:`MetricOptions`,
:class:`DiarizeOptions`…), each raising ``C045`` naming the class, the field and the value."""

from __future__ import annotations

import math
from collections.abc import Iterable

from pipeline.errors import OPTIONS_INVALID
from pipeline.text import bare


def require_non_negative(options: object, names: Iterable[str]) -> None:
    """Each of the fields ``names`` of ``options`` is a finite number >= 0.

    Raises
    ------
    ConfigError
        ``C045`` naming the first field that is not.

    Examples
    --------
    >>> from pipeline.diarization import DiarizeOptions
    >>> require_non_negative(DiarizeOptions(), ["window_s", "hop_s"])
    """
    for name in names:
        value = getattr(options, name)
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise OPTIONS_INVALID(
                problem=f"{_owner(options)}.{name} must be finite and >= 0, got {value!r}"
            )


def require_phrases(options: object, name: str) -> None:
    """The field ``name`` of ``options`` holds texts that are not empty once normalised.

    Raises
    ------
    ConfigError
        ``C045`` when one is not a text, or is only spaces and punctuation.
    """
    phrases = getattr(options, name)
    if not all(isinstance(p, str) and bare(p) for p in phrases):
        raise OPTIONS_INVALID(
            problem=f"{_owner(options)}.{name} must be non-empty texts, got {phrases!r}"
        )


def _owner(options: object) -> str:
    return type(options).__name__
