"""An example detector plugin: how a separate package adds a detector to earmark.

A plugin package declares, in its own ``pyproject.toml``::

    [project.entry-points.earmark_detectors]
    "example.shouting.v1" = "earmark_example_plugin:ShoutingDetector"

and is installed next to earmark (``pip install earmark-example-plugin``). A rubric
item can then say ``detector: example.shouting.v1``. The class follows
:class:`pipeline.rubric.detectors.Detector`: a pydantic ``Params`` model, a
``requires`` set, and ``find(call, utterances) -> list[Hit]``.

(In this test folder the package is "installed" by the ``.dist-info`` beside it, which
is what pip writes; the test puts the folder on ``sys.path``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, Field

from pipeline.protocols import TextAnalyzer
from pipeline.rubric.detectors import CallText, DetectorParams, Hit


class ShoutingParams(DetectorParams):
    min_exclamations: int = Field(default=2, ge=1)


class ShoutingDetector:
    """Fires on utterances with at least ``min_exclamations`` exclamation marks."""

    Params: ClassVar[type[BaseModel]] = ShoutingParams
    requires: ClassVar[frozenset[str]] = frozenset({"text"})

    def __init__(self, params: ShoutingParams, analyzer: TextAnalyzer) -> None:
        self.min = params.min_exclamations

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        out = []
        for i in utterances:
            utt = call.transcript.utterances[i]
            if utt.text.count("!") >= self.min:
                out.append(Hit(i, utt.start_s, utt.end_s, f"{self.min}+ exclamation marks"))
        return out
