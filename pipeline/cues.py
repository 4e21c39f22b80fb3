"""Cue lists as data: the phrases the acoustic measures and diarization look for.

The files live beside the rubrics, in ``rubrics/cues/`` (found like the shipped rubrics,
with :func:`pipeline.rubric.shipped.shipped_root`), and ship their own examples, which the tests
run like a rubric item's:

* ``hold.yaml`` — what an agent says before a hold and coming back from one
  (:func:`hold_cues`, read by :mod:`pipeline.metrics`);
* ``roles.yaml`` — what the agent or the customer of a mono call says
  (:mod:`pipeline.roles`, read by :mod:`pipeline.diarization`).

:func:`load_cue_file` is the one loader: a missing or broken file is ``M022`` naming the
file and the field.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import CUE_FILE_INVALID
from pipeline.rubric.shipped import shipped_root
from pipeline.text import bare
from pipeline.textfile import load_yaml

CUES_DIR = shipped_root() / "cues"
HOLD_PATH = CUES_DIR / "hold.yaml"
ROLES_PATH = CUES_DIR / "roles.yaml"
Language = Literal["en", "zh", "ru"]
CueFile = TypeVar("CueFile", bound=BaseModel)


class Strict(BaseModel):
    """A cue file's records: unknown keys are errors, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Examples(Strict):
    """Lines a cue must find (``match``) and must not (``no_match``)."""

    match: list[str] = Field(min_length=1)
    no_match: list[str] = Field(min_length=1)


class PhraseList(Strict):
    """Phrases per language, with examples."""

    phrases: dict[Language, list[str]]
    examples: Examples

    def all_phrases(self) -> tuple[str, ...]:
        return tuple(p for phrases in self.phrases.values() for p in phrases)


class HoldCues(Strict):
    """``hold.yaml``: what an agent says before a hold and coming back from one."""

    schema_version: Literal[1]
    hold: PhraseList
    return_: PhraseList = Field(alias="return")


def said_inside(text: str, phrases: tuple[str, ...]) -> bool:
    """Whether bare ``text`` holds one of ``phrases`` (made bare) anywhere, as hold
    phrases are matched.

    Examples
    --------
    >>> said_inside("Please, HOLD the line!", ("hold the line",))
    True
    """
    plain = bare(text)
    return any(bare(p) in plain for p in phrases)


def load_cue_file(path: str | Path, model: type[CueFile], *, what: str) -> CueFile:
    """Read and validate one cue file.

    Raises
    ------
    ModelError
        ``M022`` when the file is missing, not YAML, or not a valid ``what`` file.
    """
    try:
        raw = load_yaml(Path(path).read_text(encoding="utf-8"))
        return model.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise CUE_FILE_INVALID(path=path, problem=f"cannot read {what} ({exc})") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise CUE_FILE_INVALID(path=path, problem=f"invalid {what}: {problems}") from None


@lru_cache(maxsize=4)
def hold_cues(path: str = str(HOLD_PATH)) -> HoldCues:
    """The hold cues of a cue file, validated (``M022`` when broken), read once."""
    return load_cue_file(path, HoldCues, what="hold cues")


def cues_digest(paths: tuple[Path, ...] = (HOLD_PATH, ROLES_PATH)) -> str:
    """A short hash of the cue files: part of the transcript cache key (the cached entry's
    roles and metrics depend on them)."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"none")
    return digest.hexdigest()[:12]
