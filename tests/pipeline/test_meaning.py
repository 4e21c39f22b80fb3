"""Meaning vectors in the warehouse and the customer's sentiment: the numpy part, no model."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from pipeline import warehouse as wh
from pipeline.meaning import (
    SentimentAnchors,
    call_sentiment,
    decode_vectors,
    encode_vectors,
    utterance_sentiment,
)
from pipeline.rows import utterance_rows, vectors_from_table
from pipeline.types import Transcript, Utterance


def _unit(*rows: list[float]) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _call(*speakers: str) -> Transcript:
    utts = tuple(
        Utterance(s, 2.0 * i, 2.0 * i + 1.5, f"line {i}", (), 0.9, 0)
        for i, s in enumerate(speakers)
    )
    return Transcript("c1", "en", 2.0 * len(speakers), utts)


def test_vectors_survive_the_float16_column_within_a_thousandth() -> None:
    v = _unit([0.3, -0.2, 0.9], [1.0, 0.0, 0.0])
    stored = encode_vectors(v, 2)
    assert all(isinstance(b, bytes) and len(b) == 6 for b in stored)
    back = decode_vectors(stored)
    assert back is not None and np.abs(back - v).max() < 1e-3


@pytest.mark.parametrize(
    "column", [[], [None], [b"\x00\x3c", None], [b"\x00\x3c", b"\x00\x3c\x00\x3c"]]
)
def test_calls_with_missing_or_ragged_vectors_have_none(column: list[bytes | None]) -> None:
    assert decode_vectors(column) is None


def test_wrong_count_of_vectors_is_not_stored() -> None:
    assert encode_vectors(_unit([1.0, 0.0]), 3) == [None, None, None]


def test_each_call_gets_its_own_vectors_back_from_the_table() -> None:
    a, b = _call("agent", "customer"), Transcript("c2", "en", 2.0, (_call("agent").utterances))
    va, vb = _unit([1, 0], [0, 1]), _unit([0.6, 0.8])
    table_rows = utterance_rows(a, va) + utterance_rows(b, vb)
    table = pa.Table.from_pylist(list(reversed(table_rows)), schema=wh.SCHEMAS["utterances"])
    got = vectors_from_table(["c2", "c1", "c3"], table)
    assert got[0] is not None and np.allclose(got[0], vb, atol=1e-3)
    assert got[1] is not None and np.allclose(got[1], va, atol=1e-3)
    assert got[2] is None


ANCHORS = SentimentAnchors(positive=_unit([1, 0, 0]), negative=_unit([0, 1, 0]))


def test_nearer_the_happy_anchor_reads_positive_and_a_zero_vector_neutral() -> None:
    v = np.vstack([_unit([1, 0.1, 0]), _unit([0.1, 1, 0]), np.zeros((1, 3), np.float32)])
    reading = utterance_sentiment(v, ANCHORS)
    assert reading[0] > 0.9 and reading[1] < -0.9 and reading[2] == 0.0


def test_call_sentiment_reads_only_the_customer_and_says_how_it_ended() -> None:
    call = _call("customer", "agent", "customer", "customer")
    v = np.vstack(
        [_unit([0.1, 1, 0]), _unit([0.1, 1, 0]), _unit([0.5, 0.5, 0.7]), _unit([1, 0, 0])]
    )
    s = call_sentiment(call, v, ANCHORS)
    assert s is not None
    assert math.isnan(s.per_utterance[1])  # the agent's line is not the customer's mood
    assert s.start < -0.9 and s.end > 0.9 and s.lowest < -0.9
    assert s.change == pytest.approx(s.end - s.start, abs=1e-3) and s.change > 1.5
    assert set(s.as_metrics()) == {
        "sentiment_start",
        "sentiment_end",
        "sentiment_min",
        "sentiment_change",
    }


def test_no_vectors_no_sentiment_and_no_customer_nan() -> None:
    assert call_sentiment(_call("agent"), None, ANCHORS) is None
    s = call_sentiment(_call("agent"), _unit([1, 0, 0]), ANCHORS)
    assert s is not None and math.isnan(s.start) and math.isnan(s.lowest)
