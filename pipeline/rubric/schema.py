"""The rubric file format: pydantic models with ``extra="forbid"``, coded errors.

A rubric is data written by data engineers. Every mistake in it must be reported
with the file, the item, the field and the bad value, under a stable code:

``[R002] rubrics/en/inbound-support.yaml item 'greeting': unknown field 'expcet' (did you mean 'expect'?)``

Codes: R001 unreadable/invalid YAML, R002 invalid field or value, R003 unknown
detector, R004 duplicate item id, R005 invalid detector params, R006 unsupported
language, R007 unsupported schema_version; found when the rubric is compiled (``earmark
rubric check`` compiles it): R009 ``semantic.v1``'s model, R017 a detector's params its
language cannot do (lemmas in Chinese, a spaCy pattern on tags); and R018, by ``rubric
check`` only, scored weights that do not add up to 100.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline import errors
from pipeline.errors import RubricError
from pipeline.text import did_you_mean
from pipeline.textfile import load_yaml, read_text

SCHEMA_VERSION = 1
LANGUAGES = ("en", "zh", "ru")
ID_PATTERN = r"^[a-z][a-z0-9_]*$"

ItemSpeaker = Literal["agent", "customer", "any"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """Where in the call an item is looked for: its first or its last stretch.

    A bound in seconds and one in percent of the call may be given together on the same
    end, and the shorter applies: ``{last_s: 60, last_pct: 50}`` is the last minute, but
    never the first half of a short call (where the greeting's "thank you for calling"
    would count as the closing).
    """

    first_s: Annotated[float, Field(gt=0)] | None = None
    last_s: Annotated[float, Field(gt=0)] | None = None
    first_pct: Annotated[float, Field(gt=0, le=100)] | None = None
    last_pct: Annotated[float, Field(gt=0, le=100)] | None = None

    @model_validator(mode="after")
    def _one_end(self) -> Window:
        set_fields = [k for k, v in self.model_dump().items() if v is not None]
        ends = {k.split("_")[0] for k in set_fields}
        if len(ends) != 1:
            raise ValueError(
                "window bounds one end of the call: first_s and/or first_pct, or last_s "
                f"and/or last_pct; got {set_fields}"
            )
        return self

    def bounds(self, duration_s: float) -> tuple[float, float]:
        """The window as ``(start_s, end_s)`` in a call of ``duration_s``.

        Examples
        --------
        >>> Window(last_s=60, last_pct=50).bounds(300.0), Window(last_s=60, last_pct=50).bounds(40.0)
        ((240.0, 300.0), (20.0, 40.0))
        >>> Window(first_s=30).bounds(20.0), Window(first_s=30, first_pct=50).bounds(20.0)
        ((0.0, 30.0), (0.0, 10.0))
        """
        if self.first_s is not None or self.first_pct is not None:
            ends = [
                self.first_s,
                None if self.first_pct is None else duration_s * self.first_pct / 100,
            ]
            return 0.0, min(e for e in ends if e is not None)
        starts = [
            None if self.last_s is None else duration_s - self.last_s,
            None if self.last_pct is None else duration_s * (1 - self.last_pct / 100),
        ]
        return max(0.0, *(s for s in starts if s is not None)), duration_s


class Condition(_Strict):
    """A detector run only to decide applicability (``na_when``)."""

    detector: str
    speaker: ItemSpeaker = "any"
    window: Window | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class NaWhen(_Strict):
    """The item is N/A when the condition is (``detected``) or is not (``not_detected``) found."""

    detected: Condition | None = None
    not_detected: Condition | None = None

    @model_validator(mode="after")
    def _one(self) -> NaWhen:
        if (self.detected is None) == (self.not_detected is None):
            raise ValueError("na_when takes exactly one of 'detected' or 'not_detected'")
        return self

    @property
    def condition(self) -> Condition:
        cond = self.detected or self.not_detected
        assert cond is not None
        return cond


class Examples(_Strict):
    """Utterances that must and must not make the item's detector fire."""

    match: list[str] = Field(default_factory=list)
    no_match: list[str] = Field(default_factory=list)


class Item(_Strict):
    """One rubric item: what to look for, where, and what it is worth.

    ``weight: 0`` with neither ``flag`` nor ``critical`` makes an *informational* item:
    it counts something, scores nothing and sends no call to review, and the review app
    never shows its outcome as a pass or a fail (:mod:`review.items`).
    """

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    version: Annotated[int, Field(ge=1)] = 1
    title: str = ""
    speaker: ItemSpeaker = "any"
    window: Window | None = None
    expect: Literal["present", "absent"]
    weight: Annotated[float, Field(ge=0, le=100)] = 0
    critical: bool = False
    flag: bool = False
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.0
    detector: str
    params: dict[str, Any] = Field(default_factory=dict)
    na_when: NaWhen | None = None
    examples: Examples = Field(default_factory=Examples)

    def digest(self) -> str:
        """What the item finds and how it is scored, as a short hash: everything but its
        ``version``, ``title`` and ``examples`` (which change no finding). Two contents
        under one ``version`` mean an edit that forgot to bump it.

        Examples
        --------
        >>> a = Item(id="x", expect="present", detector="regex.v1", params={"patterns": ["a"]})
        >>> a.digest() == a.model_copy(update={"title": "X"}).digest(), len(a.digest())
        (True, 16)
        >>> a.digest() == a.model_copy(update={"params": {"patterns": ["b"]}}).digest()
        False
        """
        content = self.model_dump(
            mode="json", exclude={"version", "title", "examples"}, exclude_defaults=True
        )  # a field added later with a default leaves every older item's digest as it was
        text = json.dumps(content, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Rubric(_Strict):
    """A rubric file: a versioned list of items for one language."""

    schema_version: int
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    version: Annotated[int, Field(ge=1)]
    language: str
    title: str = ""
    review_below: Annotated[float, Field(ge=0, le=100)] = 70.0
    items: Annotated[list[Item], Field(min_length=1)]
    source: str = Field(default="", exclude=True)

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)


MAX_LOADED = 64
"""Rubrics kept as loaded; beyond this (many edits in one process) the memory starts over."""
_loaded: dict[tuple[str, str], Rubric] = {}


def load_rubric(path: str | Path) -> Rubric:
    """Read and validate one rubric file (detector names and params included).

    The file is read every time; the same text at the same path is parsed and validated
    once per process (a command checks its rubrics, compiles them and plans its queues
    from them, and a shipped rubric is 80 KB of YAML).

    Raises
    ------
    RubricError
        With a stable code and the file, item, field and value at fault.
    """
    path = Path(path)
    text = read_text(path, what="rubric", error=errors.RUBRIC_UNREADABLE)
    key = (str(path), text)
    rubric = _loaded.get(key)
    if rubric is None:
        rubric = _parse_text(text, path)
        if len(_loaded) >= MAX_LOADED:
            _loaded.clear()
        _loaded[key] = rubric
    return rubric


def _parse_text(text: str, path: Path) -> Rubric:
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:  # its message: line, column and what is wrong
        raise errors.RUBRIC_UNREADABLE(path=path, problem=f"not valid YAML at {exc}") from exc
    return parse_rubric(raw, source=str(path))


def parse_rubric(raw: Any, *, source: str = "<rubric>") -> Rubric:
    """Validate an already parsed rubric document (see :func:`load_rubric`).

    Raises
    ------
    RubricError
        Every problem found in one go (a data engineer fixes them all before the next
        check): the first one's code and message, then each other one on its own line
        with its code.
    """
    if not isinstance(raw, dict):
        problem = f"a rubric is a mapping with 'items', got {type(raw).__name__}"
        raise errors.RUBRIC_UNREADABLE(path=source, problem=problem)
    problems: list[RubricError] = []
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        problems.append(
            errors.SCHEMA_VERSION(path=source, problem=f"{SCHEMA_VERSION}, got {version!r}")
        )
    language = raw.get("language")
    if isinstance(language, str) and language not in LANGUAGES:  # missing: a schema error
        problem = f"{', '.join(LANGUAGES)}, got {language!r}"
        problems.append(errors.RUBRIC_LANGUAGE(path=source, problem=problem))
    try:
        # a wrong schema_version is the R007 above, not a schema error again
        rubric = Rubric.model_validate({**raw, "schema_version": SCHEMA_VERSION, "source": source})
    except ValidationError as exc:
        problems.append(errors.RUBRIC_INVALID(problem=_explain(exc, raw, source)))
        problems += _raw_detector_problems(raw, source)
    else:
        problems += _rubric_problems(rubric, source)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        first, rest = problems[0], problems[1:]
        message = "\n".join([first.message, *(str(p) for p in rest)])
        raise type(first)(message, code=first.code)
    return rubric


def _rubric_problems(rubric: Rubric, source: str) -> list[RubricError]:
    """What is wrong with a rubric that fits the schema: an item id used twice,
    detectors and their params."""
    from pipeline.rubric.detectors import validate_detector

    problems: list[RubricError] = []
    seen: set[str] = set()
    for item in rubric.items:
        if item.id in seen:
            problems.append(errors.ITEM_ID_TWICE(path=source, item=item.id))
        seen.add(item.id)
    for item in rubric.items:
        where = f"{source} item {item.id!r}"
        checks = [(item.detector, item.params, where)]
        if item.na_when is not None:
            cond = item.na_when.condition
            checks.append((cond.detector, cond.params, f"{where} na_when"))
        for name, params, at in checks:
            try:
                validate_detector(name, params, where=at)
            except RubricError as exc:
                problems.append(exc)
    return problems


def weights_problem(rubric: Rubric) -> RubricError | None:
    """``R018`` when the scored items' weights do not add up to 100, as the rubric docs
    ask (a score is the share of applicable weight that passed, so the night scores such a
    rubric all the same; ``earmark rubric check`` says so before anyone reads "10 points"
    as a tenth of the score).

    Examples
    --------
    >>> print(weights_problem(parse_rubric({"schema_version": 1, "id": "r", "version": 1,
    ...     "language": "en", "items": [{"id": "a", "expect": "present", "weight": 60,
    ...     "detector": "regex.v1", "params": {"patterns": ["a"]}}, {"id": "b",
    ...     "expect": "present", "weight": 50, "detector": "regex.v1",
    ...     "params": {"patterns": ["b"]}}]})))
    [R018] <rubric>: the scored items' weights add up to 110, not 100 (a 60, b 50)
    """
    scored = [item for item in rubric.items if item.weight > 0]
    total = sum(item.weight for item in scored)
    if not scored or abs(total - 100) < 1e-6:
        return None
    items = ", ".join(f"{item.id} {item.weight:g}" for item in scored)
    return errors.WEIGHTS_TOTAL(path=rubric.source, total=total, items=items)


def _raw_detector_problems(raw: dict[str, Any], source: str) -> list[RubricError]:
    """The detector problems of the items of a rubric that does not fit the schema, so
    they are reported with its schema errors rather than after they are fixed."""
    from pipeline.rubric.detectors import validate_detector

    problems: list[RubricError] = []
    items = raw.get("items")
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or not isinstance(item.get("detector"), str):
            continue
        params = item.get("params") or {}
        if not isinstance(params, dict):
            continue  # the schema error says so
        try:
            where = f"{source} item {_item_id(raw, index)!r}"
            validate_detector(item["detector"], params, where=where)
        except RubricError as exc:
            problems.append(exc)
    return problems


def _explain(exc: ValidationError, raw: dict[str, Any], source: str) -> str:
    """Turn pydantic's errors into lines a data engineer understands."""
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where, model = source, _NESTED["rubric"]
        if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
            where, model = f"{source} item {_item_id(raw, loc[1])!r}", Item
            loc = loc[2:]
        field = ".".join(str(p) for p in loc) or "(item)"
        if err["type"] == "extra_forbidden":
            known = _known_fields(model, loc[:-1])
            hint = _param_hint(raw, err["loc"], str(loc[-1])) or did_you_mean(str(loc[-1]), known)
            lines.append(f"{where}: unknown field {str(loc[-1])!r} ({hint})")
        elif err["type"] == "missing":
            lines.append(f"{where}: missing required field {field!r}")
        else:
            lines.append(f"{where}: {field}: {err['msg']}, got {err.get('input')!r}")
    return "\n".join(lines)


def _param_hint(raw: dict[str, Any], loc: tuple[Any, ...], name: str) -> str:
    """For a detector's param written on the item itself (``threshold:`` beside
    ``detector: meaning.v1``): that it belongs under ``params``."""
    if len(loc) != 3 or loc[0] != "items" or not isinstance(loc[1], int):
        return ""
    from pipeline.rubric.detectors import detectors_taking

    items = raw.get("items") or []
    item = items[loc[1]] if loc[1] < len(items) else None
    detector = item.get("detector") if isinstance(item, dict) else None
    taking = detectors_taking(name)
    if detector in taking:
        return f"a param of {detector}: put it under params, as params.{name}"
    if taking:
        return f"a param of {', '.join(taking)}, under params; not of {detector}"
    return ""


def _item_id(raw: dict[str, Any], index: int) -> str:
    items = raw.get("items") or []
    item = items[index] if index < len(items) else None
    return str(item.get("id", f"#{index + 1}")) if isinstance(item, dict) else f"#{index + 1}"


_NESTED: dict[str, type[BaseModel]] = {
    "rubric": Rubric,
    "window": Window,
    "examples": Examples,
    "na_when": NaWhen,
    "detected": Condition,
    "not_detected": Condition,
}


def _known_fields(model: type[BaseModel], path: list[Any]) -> list[str]:
    for part in path:
        model = _NESTED.get(str(part), model)
    return sorted(f for f in model.model_fields if f != "source")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of rubric files (checked in as ``rubrics/rubric.schema.json``)."""
    schema = Rubric.model_json_schema()
    schema["properties"].pop("source", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "earmark rubric"
    return schema


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
