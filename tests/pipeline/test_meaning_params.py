"""meaning.v1's parameters and its Chinese polarity check, without the model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.rubric.meaning import _NOT_NEGATING_ZH, MeaningParams


def test_a_nearest_threshold_is_a_margin_and_a_linear_one_log_odds() -> None:
    assert MeaningParams(examples=["x"], method="linear", threshold=2.5).threshold == 2.5
    with pytest.raises(ValidationError, match=r"must be within -1\.\.1"):
        MeaningParams(examples=["x"], threshold=1.5)


def test_the_nearest_margin_is_weighed_only_into_a_linear_head() -> None:
    assert MeaningParams(examples=["x"], method="linear", nearest_weight=20).nearest_weight == 20
    with pytest.raises(ValidationError, match="nearest_weight"):
        MeaningParams(examples=["x"], nearest_weight=20)


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("给您带来不便，非常抱歉", False),
        ("不好意思，让您久等了", False),
        ("我不理解您的心情", True),
        ("这个不便宜", True),
        ("你们没事先通知我", True),
        ("忙不过来", True),
    ],
)
def test_words_that_only_hold_a_negation_character_do_not_negate(text: str, negated: bool) -> None:
    rest = _NOT_NEGATING_ZH.sub("", text)
    assert any(cue in rest for cue in ("不", "没", "别", "未", "无法")) is negated
