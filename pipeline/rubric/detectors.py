"""Detectors: the registered, versioned functions that find rubric behaviour in a call.

A detector is a class with a pydantic ``Params`` model, a ``requires`` set naming
what it needs from the run (``"text"``, ``"words"``, ``"metrics"``), and a ``find``
method. Built-ins are registered in :mod:`pipeline.rubric.registrations`; a plugin
package adds its own through the ``earmark_detectors`` entry-point group::

    [project.entry-points.earmark_detectors]
    "mycompany.keyword.v1" = "mycompany_detectors:KeywordDetector"

A published name never changes meaning: a change of behaviour is a new ``.v2``.

A detector may also say ``fork_safe = True`` (a class attribute) when a forked copy
of it works: it holds no model library's thread pool, open connection or lock that a
fork leaves broken. ``earmark rescore`` then scores calls on forked worker processes;
a rubric with any other detector (``semantic.v1``'s torch model) is scored in one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import catalogue
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline import errors
from pipeline.errors import RubricError
from pipeline.protocols import Embedder, TextAnalyzer, Tokens
from pipeline.text import did_you_mean
from pipeline.types import Span, Transcript

detectors = catalogue.create("earmark", "detectors", entry_points=True)
"""The detector registry: ``"name.vN"`` → detector class."""
_registered = catalogue.Registry(detectors.namespace, entry_points=False)
"""The same registry without the entry-point scan that every ``detectors.get`` makes."""


@dataclass(frozen=True, slots=True)
class CallText:
    """A call prepared once for matching: normalised text and tokens per utterance.

    ``spans[i]`` gives, for utterance ``i``, each word's character span in
    ``texts[i]`` so a match maps back to the words' times.
    """

    transcript: Transcript
    texts: tuple[str, ...]
    tokens: tuple[Tokens, ...]
    spans: tuple[tuple[tuple[int, int], ...], ...]
    metrics: Mapping[str, float]
    metric_spans: Mapping[str, tuple[Span, ...]] = field(default_factory=dict)
    """Where a metric happened (e.g. ``longest_dead_air_s`` → that gap), for evidence."""
    vectors: npt.NDArray[np.float32] | None = None
    """One unit-length meaning vector per utterance, when the night stored them."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One place a detector fired: utterance index, times, and the rule that matched.

    ``utterance`` is ``-1`` for a call-level hit (a metric threshold); ``text`` then
    says what was measured.
    """

    utterance: int
    start_s: float
    end_s: float
    rule: str
    text: str = ""
    strength: float = 1.0
    """How surely the rule fired, 0–1: 1 for a phrase, a pattern or a metric over its
    threshold; a ``meaning.v1`` hit says how far its score cleared the item's threshold."""


class Detector(Protocol):
    """What a registered detector class provides.

    ``requires`` names what the run must produce: ``"text"`` (utterances), ``"words"``
    (word timestamps), ``"metrics"`` (audio metrics). A rubric whose items need more
    than the run produces is refused before any compute is spent.
    """

    Params: ClassVar[type[BaseModel]]
    requires: ClassVar[frozenset[str]]

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        """Hits among the given utterance indices (already filtered by speaker and window)."""
        ...


class DetectorParams(BaseModel):
    """Base for detector params: unknown keys are typos, and typos are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def get_detector_class(name: str, *, where: str = "") -> type[Any]:
    """Look a detector up by its registered name, with a hint for near misses."""
    from pipeline.rubric import registrations  # noqa: F401  (registers the built-ins)

    registry = detectors if name in _plugin_names() else _registered
    try:
        return registry.get(name)  # type: ignore[no-any-return]
    except catalogue.RegistryError:
        hint = did_you_mean(name, sorted(detectors.get_all()))
        prefix = f"{where}: " if where else ""
        raise errors.DETECTOR_UNKNOWN(where=prefix, name=name, hint=hint) from None


@functools.cache
def _plugin_names() -> frozenset[str]:
    """The names plugins register through the entry-point group, read once per process: a
    rubric looks its detectors up hundreds of times, and a plugin's name wins over a
    built-in one, as in ``detectors.get``."""
    group = detectors.entry_point_namespace
    return frozenset(ep.name for ep in catalogue.AVAILABLE_ENTRY_POINTS.select(group=group))


def validate_detector(name: str, params: Mapping[str, Any], *, where: str) -> BaseModel:
    """Check that ``name`` is registered and ``params`` fit its ``Params`` model."""
    cls = get_detector_class(name, where=where)
    try:
        validated: BaseModel = cls.Params.model_validate(dict(params))
    except ValidationError as exc:
        problems = "; ".join(_problem(e, cls.Params, name) for e in exc.errors())
        raise errors.DETECTOR_PARAMS(where=where, name=name, problems=problems) from None
    for part, sub in _parts(validated):  # a combinator's detectors, checked now, not at compile
        validate_detector(sub.detector, sub.params, where=f"{where}: {name} {part}")
    return validated


def _problem(error: Any, model: type[BaseModel], name: str) -> str:
    """One pydantic error as ``params.FIELD: what is wrong``. A check of several params
    together has no location: the param its message starts with names it
    (``threshold -3.0 is a margin…`` is ``params.threshold``)."""
    if not error["loc"]:
        message = str(error["msg"]).removeprefix("Value error, ")
        first = message.split(" ", 1)[0]
        return (
            f"params.{first}: {message}" if first in model.model_fields else (f"params: {message}")
        )
    where = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
        others = detectors_taking(where)
        if others:  # a param of other detectors (``tolerance`` on ``regex.v1``): say whose
            return f"params.{where}: {name} does not take it (only {', '.join(others)} do)"
        return f"params.{where}: unknown ({did_you_mean(where, list(model.model_fields))})"
    return f"params.{where}: {error['msg']}"


def detectors_taking(param: str) -> list[str]:
    """The registered detectors whose params include ``param`` (read on an error only)."""
    from pipeline.rubric import registrations  # noqa: F401  (registers the built-ins)

    return sorted(
        name
        for name, cls in detectors.get_all().items()
        if param in getattr(getattr(cls, "Params", None), "model_fields", {})
    )


def _parts(params: BaseModel) -> Iterator[tuple[str, Any]]:
    """The detectors inside a combinator's params (``any.v1 of[k]``, ``unless.v1 find``)."""
    for part, value in params:
        subs = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for k, sub in subs:
            if isinstance(sub, BaseModel) and {"detector", "params"} <= set(type(sub).model_fields):
                yield (part if k is None else f"{part}[{k}]"), sub


def reads_text(name: str, params: Mapping[str, Any]) -> bool:
    """Whether a detector reads what was said (its ``requires`` holds ``"text"``), so
    that text examples (``examples.match`` / ``no_match``) can test it; a combinator
    reads text when one of its detectors does. ``metric.v1`` measures the audio: a
    sentence means nothing to it.

    Examples
    --------
    >>> reads_text("phrase.v1", {"phrases": ["thank you for calling"]})
    True
    >>> metric = {"metric": "agent_overtalk_count", "op": ">=", "value": 3}
    >>> reads_text("metric.v1", metric), reads_text("any.v1", {"of": [{"detector": "metric.v1", "params": metric}]})
    (False, False)
    """
    cls = get_detector_class(name)
    requires = getattr(cls, "requires", None)
    if requires is not None:
        return "text" in requires
    parts = [sub for _, sub in _parts(cls.Params.model_validate(dict(params)))]
    return not parts or any(reads_text(sub.detector, sub.params) for sub in parts)


def build_detector(
    name: str,
    params: Mapping[str, Any],
    analyzer: TextAnalyzer,
    *,
    where: str,
    embedder: Embedder | None = None,
) -> Detector:
    """Instantiate a registered detector for one language's analyzer.

    A detector class that says ``uses_embedder = True`` (``meaning.v1``, ``any.v1``) is
    also given the meaning model.
    """
    cls = get_detector_class(name, where=where)
    validated = validate_detector(name, params, where=where)
    try:
        if getattr(cls, "uses_embedder", False):
            return cls(validated, analyzer, embedder)  # type: ignore[no-any-return]
        return cls(validated, analyzer)  # type: ignore[no-any-return]
    except RubricError as exc:  # what only the language can tell (R009, R017): say where
        raise RubricError(f"{where}: {exc.message}", code=exc.code) from None


def fork_safe(detector: object) -> bool:
    """Whether a detector said a forked copy of it works (``fork_safe = True``)."""
    return getattr(detector, "fork_safe", False) is True


def hit_span(call: CallText, utterance: int, char_start: int, char_end: int) -> tuple[float, float]:
    """Times of the words that overlap characters ``char_start:char_end`` of an utterance."""
    utt = call.transcript.utterances[utterance]
    spans = call.spans[utterance]
    covered = [
        w for w, (s, e) in zip(utt.words, spans, strict=False) if s < char_end and e > char_start
    ]
    if not covered:
        return utt.start_s, utt.end_s
    return covered[0].start_s, covered[-1].end_s
