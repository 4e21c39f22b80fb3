"""Which rubric scores a call: its call type (rules on metadata) and its language.

``[[call_types]]`` in ``earmark.toml`` are tried in order; the first whose ``when`` matches
the call's metadata decides, and a call no type matches is scored with ``[rubrics]`` (one
default rubric per language). A type, or the default, may have no rubric for a language:
such a call is stored, not scored, and says why (status ``no_rubric``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.config import Config

DEFAULT_CALL_TYPE = "default"
"""The call type of a call no ``[[call_types]]`` rule matched."""


@dataclass(frozen=True, slots=True)
class RubricChoice:
    """The call type a call fell in and the rubric file it is scored with."""

    call_type: str
    path: str | None
    """The rubric file, or ``None`` when the call is not scored."""
    reason: str = ""
    """Why no rubric applies (empty when one does)."""


def choose_rubric(config: Config, metadata: Mapping[str, str], language: str) -> RubricChoice:
    """The first matching call type's rubric for ``language``, else the default one.

    Parameters
    ----------
    config
        ``call_types`` (rules, in order) and ``rubrics`` (the default per language).
    metadata
        The call's ``metadata.csv`` columns (``direction``, ``queue``, ``campaign``…).
    language
        The language the call was transcribed in.

    Returns
    -------
    RubricChoice
        With ``path=None`` and a ``reason`` when the call type has no rubric for the language.

    Examples
    --------
    >>> choose_rubric(Config(), {"direction": "Outbound"}, "en").call_type
    'outbound-sales'
    >>> choose_rubric(Config(), {}, "ru").call_type
    'default'
    """
    for call_type in config.call_types:
        if call_type.matches(metadata):
            path = call_type.rubrics.get(language)  # type: ignore[call-overload]
            if path is None:
                return RubricChoice(
                    call_type.name,
                    None,
                    f"call type {call_type.name!r} has no rubric for language {language!r}",
                )
            return RubricChoice(call_type.name, path)
    path = config.rubrics.get(language)
    if not path:
        return RubricChoice(
            DEFAULT_CALL_TYPE, None, f"no rubric configured for language {language!r}"
        )
    return RubricChoice(DEFAULT_CALL_TYPE, path)


def rubric_paths(config: Config) -> dict[str, list[str]]:
    """Every rubric file the configuration can pick, per served language (defaults first)."""
    out: dict[str, list[str]] = {}
    for language in config.languages:
        paths = [config.rubrics[language]] if config.rubrics.get(language) else []
        for call_type in config.call_types:
            path = call_type.rubrics.get(language)
            if path and path not in paths:
                paths.append(path)
        out[language] = paths
    return out
