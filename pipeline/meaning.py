"""Meaning vectors of a call's utterances: stored form, and the customer's sentiment.

Each utterance is embedded once per night (:class:`pipeline.protocols.Embedder`); the
vectors are stored as float16 bytes in the ``utterances`` table (``vector``), so
``rescore`` and ``rubric apply --warehouse`` reuse them without the model.

Sentiment is read off the same vectors: how much nearer a customer utterance is to
the anchors of a satisfied customer than to those of an unhappy one
(``rubrics/sentiment.yaml``, in en/zh/ru). Per call: the first and last customer
utterances with a clear (not neutral) reading, the lowest, and the change from start to end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from pipeline import errors
from pipeline.protocols import Embedder
from pipeline.rubric.shipped import shipped_path
from pipeline.textfile import load_yaml
from pipeline.types import CallSentiment, Metric, Transcript, tagged

Vectors = npt.NDArray[np.float32]

SENTIMENT_ANCHORS = shipped_path("sentiment.yaml")
SENTIMENT_SCALE = 0.04
"""Margin (positive minus negative anchor similarity) that reads as sentiment ±0.76
(``tanh(1)``): the e5 margins of plainly happy or unhappy lines sit around ±0.03-0.06."""
NEUTRAL_BAND = 0.15
"""Sentiment within ±this is neutral: not counted as a start, end or lowest point."""


def encode_vectors(vectors: Vectors | None, n: int) -> list[bytes | None]:
    """Rows of float16 bytes for the ``utterances.vector`` column (``None`` without vectors)."""
    if vectors is None or len(vectors) != n:
        return [None] * n
    half = np.asarray(vectors, dtype="<f2")
    return [row.tobytes() for row in half]


def decode_vectors(column: Sequence[bytes | None]) -> Vectors | None:
    """The inverse of :func:`encode_vectors`: ``None`` unless every row has a vector."""
    if not column or any(v is None for v in column):
        return None
    rows = [np.frombuffer(v, dtype="<f2") for v in column if v is not None]
    if len({r.size for r in rows}) != 1:
        return None
    return np.stack(rows).astype(np.float32)


SENTIMENT_COLUMNS = tuple(m.column for _name, m in tagged(CallSentiment, Metric))


@dataclass(frozen=True, slots=True)
class SentimentAnchors:
    positive: Vectors
    negative: Vectors


def load_anchors(embedder: Embedder, path: Path = SENTIMENT_ANCHORS) -> SentimentAnchors:
    """Embed the positive and negative anchor lines of ``path`` (all languages at once)."""
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
        positive = [t for lines in data["positive"].values() for t in lines]
        negative = [t for lines in data["negative"].values() for t in lines]
    except (OSError, yaml.YAMLError, KeyError, AttributeError, TypeError) as exc:
        problem = f"not a sentiment anchor file: {exc}"
        raise errors.MEANING_FILE_INVALID(path=path, problem=problem) from None
    return SentimentAnchors(embedder.embed_examples(positive), embedder.embed_examples(negative))


def utterance_sentiment(vectors: Vectors, anchors: SentimentAnchors) -> npt.NDArray[np.float64]:
    """Sentiment in [-1, 1] per vector (a zero vector, an empty line, reads 0)."""
    if len(vectors) == 0:
        return np.zeros(0)
    pos = (vectors @ anchors.positive.T).max(axis=1)
    neg = (vectors @ anchors.negative.T).max(axis=1)
    reading = np.tanh((pos - neg) / SENTIMENT_SCALE)
    return np.where(np.linalg.norm(vectors, axis=1) > 0, reading, 0.0).astype(np.float64)


def call_sentiment(
    transcript: Transcript, vectors: Vectors | None, anchors: SentimentAnchors
) -> CallSentiment | None:
    """The customer's sentiment through the call, or ``None`` without vectors or roles."""
    if vectors is None or len(vectors) != len(transcript.utterances):
        return None
    readings = utterance_sentiment(vectors, anchors)
    per = tuple(
        round(float(r), 3) if u.speaker == "customer" and u.text.strip() else math.nan
        for u, r in zip(transcript.utterances, readings, strict=True)
    )
    customer = [r for r in per if not math.isnan(r)]
    if not customer:
        return CallSentiment(per, math.nan, math.nan, math.nan, math.nan)
    clear = [r for r in customer if abs(r) >= NEUTRAL_BAND] or customer
    start, end = clear[0], clear[-1]
    return CallSentiment(per, start, end, min(customer), round(end - start, 3))
