"""Detectors by meaning: ``meaning.v1`` (nearest examples and counter-examples) and
``any.v1`` (several detectors on one item, e.g. precise phrases *and* meaning).

Phrase lists find what agents are scripted to say; customers and unscripted agents say
the same thing in words nobody listed ("this service really sucks", 垃圾APP, "я уже
третий раз звоню"). ``meaning.v1`` compares each utterance's sentence embedding (one
multilingual model, see :class:`pipeline.protocols.Embedder`) with the item's
``examples`` and ``counter_examples``, in any of the three languages: an utterance
fires when it is near enough an example (``min_similarity``) and nearer to it than to
every counter-example by ``threshold``. Counter-examples carry the judgement: "do I
have enough miles" sits beside "I have had enough" in a vector space, and a
counter-example is how a data engineer says "not this".

With ``method: linear`` the item's examples and counter-examples (and the neutral call
lines) train a small linear classifier on the same vectors when the rubric is first
compiled (then kept on disk, :func:`kept_linear_head`): it learns which *direction* in the
space the examples differ in (tone, blame, apology) rather than which example is nearest, and finds far more of what nobody wrote down (agents'
unprofessional lines in held-out calls: F1 0.35 → 0.96 in English). The evidence still
names the nearest example.

The vectors of a call are computed once per night and stored with the utterances
(:mod:`pipeline.meaning`); a call without them (``rubric apply`` on other transcripts,
``rubric test``) is embedded here, once for all the rubric's meaning items.
"""

from __future__ import annotations

import hashlib
import re
import types
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, Field, model_validator

from pipeline import errors
from pipeline.protocols import Arrays, Embedder, TextAnalyzer
from pipeline.rubric.builtin import NOT_NEGATIONS, negation_cues
from pipeline.rubric.detectors import CallText, Detector, DetectorParams, Hit, build_detector
from pipeline.rubric.shipped import shipped_path
from pipeline.textfile import load_yaml

Vectors = npt.NDArray[np.float32]

CALLS_KEPT = 8
"""Calls whose vectors are kept in memory when they were not stored (every meaning item
of a rubric reuses them)."""

SURE_LOG_ODDS = 5.0
"""Log-odds over an item's threshold at which a ``linear`` hit is as sure as a phrase."""
SURE_MARGIN = 0.1
"""Margin over an item's threshold at which a ``nearest`` hit is as sure as a phrase."""

_embedded: OrderedDict[tuple[str, tuple[str, ...]], Vectors] = OrderedDict()


class MeaningParams(DetectorParams):
    examples: list[str] = Field(min_length=1)
    counter_examples: list[str] = Field(default_factory=list)
    method: Literal["nearest", "linear"] = "nearest"
    """``nearest``: the margin of the nearest example over the nearest counter-example;
    ``linear``: the log-odds of a linear classifier trained on the examples against the
    counter-examples (and the neutral lines)."""
    min_similarity: float = Field(default=0.86, gt=0.0, lt=1.0)
    """Cosine similarity to the nearest example an utterance needs at least."""
    threshold: float = Field(default=0.01, ge=-20.0, le=20.0)
    """The score an utterance needs: with ``nearest``, how much nearer the nearest example
    must be than the nearest counter-example; with ``linear``, the classifier's log-odds
    (0 = even odds). ``earmark rubric tune`` picks it from labelled examples."""
    nearest_weight: float = Field(default=0.0, ge=0.0, le=100.0)
    """With ``linear``: add this many times the margin of the nearest example over the
    nearest counter-example (cosine similarities) to the log-odds. The head generalises
    from the direction the examples differ in, and on short lines it can overrule a
    counter-example that says almost the same words ("Sorry to keep you waiting" beside
    "Wait like everyone else"); the margin lets a near twin pull the score its way."""
    min_words: int = Field(default=3, ge=1)
    """Shorter utterances are not judged ("Mhm.", "Okay, sure."): a sentence embedding of
    one or two words is near everything. A Chinese character counts as a word."""
    neutral: bool = True
    """Also count the everyday call lines of ``rubrics/neutral.yaml`` as counter-examples."""
    negation: bool = False
    """An utterance with a negation cue only matches an example that has one too (off by
    default: complaints are full of negations, "nobody called back", 再也不用了)."""
    negation_cues: list[str] | None = None

    @model_validator(mode="after")
    def _threshold_fits_the_method(self) -> MeaningParams:
        if self.method == "nearest" and self.nearest_weight:
            raise ValueError("nearest_weight weighs the nearest margin into method: linear")
        if self.method == "nearest" and not -1.0 <= self.threshold <= 1.0:
            raise ValueError(
                f"threshold {self.threshold} is a margin of cosine similarities with "
                "method: nearest and must be within -1..1 (log-odds are for method: linear)"
            )
        return self


class MeaningDetector:
    """``meaning.v1``: nearest examples and counter-examples by sentence embedding.

    The evidence names the nearest example, its similarity and the margin over the
    nearest counter-example, so an inspector sees why it fired.
    """

    Params: ClassVar[type[BaseModel]] = MeaningParams
    requires: ClassVar[frozenset[str]] = frozenset({"text"})
    uses_embedder: ClassVar[bool] = True
    fork_safe: ClassVar[bool] = True
    """Stored vectors need no model; and the meaning model runs on one thread (no OpenMP
    pool for a fork to break), so a forked copy may still embed a call without them."""

    def __init__(
        self, params: MeaningParams, analyzer: TextAnalyzer, embedder: Embedder | None = None
    ) -> None:
        if embedder is None:
            raise errors.MEANING_MODEL_NOT_GIVEN()
        self.embedder = embedder
        self.params = params
        self.examples = list(params.examples)
        self.example_vectors = embedder.embed_examples(self.examples)
        counters = (
            [embedder.embed_examples(params.counter_examples)] if params.counter_examples else []
        )
        if params.neutral:
            counters.append(neutral_vectors(embedder))
        self.counter_vectors = np.vstack(counters) if counters else None
        self._both = (
            np.vstack([self.example_vectors, self.counter_vectors])
            if self.counter_vectors is not None
            else self.example_vectors
        )
        self.head: tuple[Vectors, float] | None = None
        if params.method == "linear":
            if self.counter_vectors is None:
                raise errors.MEANING_LINEAR_ALONE()
            self.head = kept_linear_head(embedder, self.example_vectors, self.counter_vectors)
        self._reach = float(np.linalg.norm(self.example_vectors, axis=1).max())
        """The longest example vector: no utterance is nearer any example than its own
        length times this (Cauchy–Schwarz)."""
        self._everyday = neutral_vectors(embedder) if params.neutral else None
        self.cues = (
            frozenset(negation_cues(params.negation_cues, analyzer)) if params.negation else None
        )
        self.analyzer = analyzer
        # without cues nothing reads as negated: the examples need not be tokenised
        self.example_negated = [
            self.cues is not None and self._negated_text(e) for e in self.examples
        ]

    def scores(self, call: CallText, utterances: Sequence[int]) -> list[tuple[float, int, float]]:
        """For each utterance: (margin over the counter-examples, nearest example, similarity).

        The margin is ``-inf`` where the utterance is not near enough any example
        (``min_similarity``) or has the opposite polarity of its nearest example.
        """
        if not utterances:
            return []
        vectors = call_vectors(call, self.embedder)[list(utterances)]
        counters_used = self.counter_vectors is not None and (
            self.head is None or bool(self.params.nearest_weight)
        )
        # one product for examples and counter-examples: a few dozen rows each call
        similarity = vectors @ (self._both if counters_used else self.example_vectors).T
        n = len(self.examples)
        best = similarity[:, :n].argmax(axis=1)
        near = similarity[np.arange(len(best)), best]
        counter = similarity[:, n:].max(axis=1) if counters_used else None
        if self.head is not None:
            weights, bias = self.head
            score = vectors @ weights + bias
            if counter is not None:
                score = score + self.params.nearest_weight * (near - counter)
        elif counter is not None:
            score = near - counter
        else:
            score = near - self.params.min_similarity
        out = []
        for k, i in enumerate(utterances):
            margin = float(score[k])
            if (
                near[k] < self.params.min_similarity
                or words(call.transcript.utterances[i].text) < self.params.min_words
                or self._negated(call.tokens[i].lower) != self.example_negated[best[k]]
            ):
                margin = float("-inf")
            out.append((margin, int(best[k]), float(near[k])))
        return out

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        candidates = self._may_fire(call, utterances)
        hits = []
        for i, (margin, best, near) in zip(candidates, self.scores(call, candidates), strict=True):
            if margin >= self.params.threshold:
                utt = call.transcript.utterances[i]
                what = "log-odds" if self.head is not None else "margin"
                rule = f"meaning ≈ {self.examples[best]!r} ({near:.2f}, {what} {margin:+.3f})"
                hits.append(Hit(i, utt.start_s, utt.end_s, rule, strength=self.strength(margin)))
        return hits

    def _may_fire(self, call: CallText, utterances: Sequence[int]) -> Sequence[int]:
        """The utterances that can reach ``threshold``, found by a cheaper product.

        A linear head without the nearest margin scores each utterance by its log-odds
        alone: one product with the head leaves out the lines below the threshold before
        their similarity to every example is computed (an item with a thousand examples;
        the same hits). With the margin (``nearest_weight``), its most: the nearest example
        is at most the utterance's length times the longest example's away (Cauchy–Schwarz)
        and the nearest counter-example at least as near as the nearest everyday line
        (those are counter-examples too), a product with some seventy lines.
        """
        if self.head is None or not utterances:
            return utterances
        vectors = call_vectors(call, self.embedder)[list(utterances)]
        weights, bias = self.head
        score = vectors @ weights + bias
        weight = self.params.nearest_weight
        if weight:
            if self._everyday is None:  # no bound on the nearest counter-example: keep all
                return utterances
            reach = np.linalg.norm(vectors, axis=1) * self._reach
            score = score + weight * (reach - (vectors @ self._everyday.T).max(axis=1))
        # scores() decides the edge: a float32 step's leeway at the threshold's size
        slack = 1e-5 * (max(1.0, abs(self.params.threshold)) + weight)
        return [
            i for i, s in zip(utterances, score, strict=True) if s >= self.params.threshold - slack
        ]

    def strength(self, score: float) -> float:
        """How far ``score`` cleared the threshold, 0–1: a full :data:`SURE_LOG_ODDS` of
        log-odds (``linear``) or :data:`SURE_MARGIN` of margin (``nearest``) is 1."""
        sure = SURE_LOG_ODDS if self.head is not None else SURE_MARGIN
        return round(min(1.0, max(0.0, (score - self.params.threshold) / sure)), 3)

    def _negated_text(self, text: str) -> bool:
        return self._negated(self.analyzer.tokenize(self.analyzer.normalize(text)).lower)

    def _negated(self, tokens: Sequence[str]) -> bool:
        if self.cues is None:
            return False
        if self.analyzer.language == "zh":  # a cue inside a word: 不理解, 没收到, not 不便
            joined = "".join(tokens)
            joined = _NOT_NEGATING_ZH.sub("", joined)
            return any(cue in joined for cue in self.cues)
        return not self.cues.isdisjoint(tokens)


_HEAD_SCALE = 5.0
"""Unit vectors' dot products are small; scaled, the classifier converges in few steps."""


def linear_head(
    positive: Vectors, negative: Vectors, *, l2: float = 0.5, steps: int = 2000
) -> tuple[Vectors, float]:
    """A logistic regression of ``positive`` against ``negative`` rows, each class weighted
    equally, by plain gradient descent from zero (deterministic).

    Returns ``(weights, bias)`` such that ``vectors @ weights + bias`` is the log-odds.

    Examples
    --------
    >>> pos = np.array([[1.0, 0.0], [0.9, 0.1]], dtype=np.float32)
    >>> neg = np.array([[0.0, 1.0], [0.1, 0.9], [0.2, 0.8]], dtype=np.float32)
    >>> w, b = linear_head(pos, neg)
    >>> bool(np.array([0.8, 0.2]) @ w + b > 0), bool(np.array([0.3, 0.7]) @ w + b > 0)
    (True, False)
    """
    x = np.vstack([positive, negative]).astype(np.float64) * _HEAD_SCALE
    y = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    balance = np.where(y == 1, len(y) / (2 * len(positive)), len(y) / (2 * len(negative)))
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        error = (1.0 / (1.0 + np.exp(-(x @ w + b))) - y) * balance
        w -= 0.5 * (x.T @ error + l2 * w) / len(y)
        b -= 0.5 * float(error.mean())
    return (w * _HEAD_SCALE).astype(np.float32), b


_heads: dict[str, tuple[Vectors, float]] = {}


def kept_linear_head(
    embedder: Embedder, positive: Vectors, negative: Vectors
) -> tuple[Vectors, float]:
    """:func:`linear_head`, trained once and then kept by the embedder
    (:meth:`~pipeline.protocols.Embedder.kept_arrays`, on disk), in memory once read.

    Training the shipped rubrics' heads is about 0.4 s of every command that compiles them;
    a kept head is the very arrays training gives, bit for bit. The key names everything
    the head depends on (:func:`head_key`), so another model, other examples or changed
    training code make a new one; a kept entry that is damaged or not a head is trained again.
    """
    key = head_key(embedder.model_id, positive, negative)
    head = _heads.get(key)
    if head is None:

        def train() -> Arrays:
            weights, bias = linear_head(positive, negative)
            return {"weights": weights, "bias": np.array(bias, dtype=np.float64)}

        def is_head(arrays: Arrays) -> bool:
            return _is_head(arrays, dim=positive.shape[1])

        arrays = embedder.kept_arrays(key, train, check=is_head)
        head = _heads[key] = (arrays["weights"], float(arrays["bias"]))
    return head


def head_key(model_id: str, positive: Vectors, negative: Vectors) -> str:
    """What a linear head depends on: the model, its example and counter-example vectors
    (their content hash), the training code and numpy's version."""
    digest = hashlib.sha256()
    for rows in (positive, negative):
        digest.update(f"{rows.dtype.str}{rows.shape}".encode())
        digest.update(np.ascontiguousarray(rows).tobytes())
    return (
        f"linear-head model={model_id} code={TRAINING_CODE} numpy={np.__version__} "
        f"vectors={digest.hexdigest()}"
    )


def _training_code() -> str:
    """A digest of :func:`linear_head`'s code, defaults and scale."""
    digest = hashlib.sha256()

    def add(code: types.CodeType) -> None:
        digest.update(code.co_code)
        digest.update(repr(code.co_names).encode())
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                add(const)
            elif isinstance(const, frozenset):  # its order follows the per-process hash seed
                digest.update(repr(sorted(map(repr, const))).encode())
            else:
                digest.update(repr(const).encode())

    add(linear_head.__code__)
    settings = (linear_head.__defaults__, linear_head.__kwdefaults__, _HEAD_SCALE)
    digest.update(repr(settings).encode())
    return digest.hexdigest()[:16]


TRAINING_CODE = _training_code()
"""Names :func:`linear_head` as this checkout has it (taken once, as the module loads): an
edit to the training makes every kept head stale, with no version number to remember."""


def _is_head(arrays: Arrays, *, dim: int) -> bool:
    weights, bias = arrays.get("weights"), arrays.get("bias")
    return (
        weights is not None
        and bias is not None
        and weights.dtype == np.float32
        and weights.shape == (dim,)
        and bias.dtype == np.float64
        and bias.shape == ()
        and bool(np.isfinite(weights).all() and np.isfinite(bias))
    )


_NOT_NEGATING_ZH = re.compile("|".join(NOT_NEGATIONS["zh"]))
_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W\d_][\w'-]*", re.UNICODE)


def words(text: str) -> int:
    """Words in ``text``, each Chinese character one.

    Examples
    --------
    >>> [words(t) for t in ("Mhm.", "I'm fed up!", "垃圾APP", "Да, хорошо.")]
    [1, 3, 3, 2]
    """
    return len(_WORD.findall(text))


NEUTRAL_LINES = shipped_path("neutral.yaml")
_neutral: dict[str, Vectors] = {}


def neutral_vectors(embedder: Embedder, path: Path = NEUTRAL_LINES) -> Vectors:
    """The everyday call lines of every language, embedded once per model."""
    vectors = _neutral.get(embedder.model_id)
    if vectors is None:
        try:
            data = load_yaml(path.read_text(encoding="utf-8"))
            lines = [str(t) for texts in data.values() for t in texts]
        except (OSError, yaml.YAMLError, AttributeError, TypeError) as exc:
            raise errors.MEANING_FILE_INVALID(
                path=path, problem=f"not a list of lines per language: {exc}"
            ) from None
        vectors = _neutral[embedder.model_id] = embedder.embed_examples(lines)
    return vectors


def call_vectors(call: CallText, embedder: Embedder) -> Vectors:
    """The call's utterance vectors: the stored ones, else embedded once and kept a while."""
    if call.vectors is not None:
        return call.vectors
    texts = tuple(u.text for u in call.transcript.utterances)
    key = (embedder.model_id, texts)
    vectors = _embedded.get(key)
    if vectors is None:
        vectors = embedder.embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        _embedded[key] = vectors
        while len(_embedded) > CALLS_KEPT:
            _embedded.popitem(last=False)
    return vectors


class SubDetector(BaseModel):
    model_config = DetectorParams.model_config

    detector: str
    params: dict[str, Any] = Field(default_factory=dict)


class AnyParams(DetectorParams):
    of: list[SubDetector] = Field(min_length=1)


class AnyDetector:
    """``any.v1``: an item found by any of several detectors (hits of all of them).

    The usual use: precise phrase rules that must always fire, beside ``meaning.v1``
    for everything worded otherwise.
    """

    Params: ClassVar[type[BaseModel]] = AnyParams
    uses_embedder: ClassVar[bool] = True

    def __init__(
        self, params: AnyParams, analyzer: TextAnalyzer, embedder: Embedder | None = None
    ) -> None:
        self.children: list[Detector] = [
            build_detector(
                sub.detector, sub.params, analyzer, where=f"any.v1 of[{k}]", embedder=embedder
            )
            for k, sub in enumerate(params.of)
        ]
        self.requires = frozenset().union(*(getattr(d, "requires", ()) for d in self.children))
        self.fork_safe = all(getattr(d, "fork_safe", False) is True for d in self.children)

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        seen: set[int] = set()
        hits = []
        for child in self.children:
            for hit in child.find(call, utterances):
                if hit.utterance not in seen or hit.utterance < 0:
                    seen.add(hit.utterance)
                    hits.append(hit)
        return sorted(hits, key=lambda h: (h.start_s, h.utterance))

    def meaning(self) -> MeaningDetector | None:
        """The meaning part, for ``rubric tune`` (the first ``meaning.v1`` child)."""
        return next((d for d in self.children if isinstance(d, MeaningDetector)), None)


class UnlessParams(DetectorParams):
    find: SubDetector
    unless: SubDetector


class UnlessDetector:
    """``unless.v1``: the hits of ``find``, but not on an utterance where ``unless`` fires.

    For a judgement that a more precise rule contradicts: an agent line the empathy
    phrases recognise ("换成是我，我也会生气", "я бы на вашем месте тоже злился") is not
    rudeness, however near the conduct head puts its angry words to rude ones. Call-level
    hits of ``find`` (a metric) are kept.
    """

    Params: ClassVar[type[BaseModel]] = UnlessParams
    uses_embedder: ClassVar[bool] = True

    def __init__(
        self, params: UnlessParams, analyzer: TextAnalyzer, embedder: Embedder | None = None
    ) -> None:
        self.finder, self.vetoer = (
            build_detector(
                sub.detector, sub.params, analyzer, where=f"unless.v1 {part}", embedder=embedder
            )
            for part, sub in (("find", params.find), ("unless", params.unless))
        )
        parts = (self.finder, self.vetoer)
        self.requires = frozenset().union(*(getattr(d, "requires", ()) for d in parts))
        self.fork_safe = all(getattr(d, "fork_safe", False) is True for d in parts)

    def find(self, call: CallText, utterances: Sequence[int]) -> list[Hit]:
        hits = self.finder.find(call, utterances)
        said = sorted({h.utterance for h in hits if h.utterance >= 0})
        if not said:
            return hits
        kept = set(self.allowed(call, said))
        return [h for h in hits if h.utterance < 0 or h.utterance in kept]

    def allowed(self, call: CallText, utterances: Sequence[int]) -> list[int]:
        """The utterances ``unless`` does not fire on."""
        vetoed = {h.utterance for h in self.vetoer.find(call, utterances)}
        return [i for i in utterances if i not in vetoed]

    def meaning(self) -> MeaningDetector | None:
        """The meaning part of ``find``, for ``rubric tune``."""
        found = self.finder
        if isinstance(found, MeaningDetector):
            return found
        return found.meaning() if isinstance(found, AnyDetector) else None
