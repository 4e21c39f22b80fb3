"""Word error rate as the benchmarks and ASR tests compute it (jiwer's edit distance)."""

from __future__ import annotations

import pytest

from pipeline.evaluation import word_error_rate, word_errors, words


def test_words_drop_punctuation_and_case_but_keep_apostrophes() -> None:
    assert words("Hello, World! Don't  stop.") == ["hello", "world", "don't", "stop"]


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("the cat sat on the mat", "the cat sat on the mat", 0.0),
        ("the cat sat on the mat", "the cat sat on a mat", 1 / 6),  # one substitution
        ("the cat sat on the mat", "the cat sat on mat", 1 / 6),  # one deletion
        ("the cat sat", "well the cat sat down", 2 / 3),  # two insertions
        ("The cat, sat.", "the CAT sat", 0.0),  # case and punctuation do not count
        ("one two", "", 1.0),
        ("", "one two", 2.0),  # nothing to say, two words said
        ("", "", 0.0),
    ],
)
def test_word_error_rate(reference: str, hypothesis: str, expected: float) -> None:
    assert word_error_rate(reference, hypothesis) == pytest.approx(expected)


def test_chinese_is_scored_by_characters() -> None:
    assert words("我们的订单 OK") == ["我", "们", "的", "订", "单", "ok"]
    assert word_error_rate("我们的订单", "我们订单") == pytest.approx(1 / 5)
    assert word_error_rate("我们的订单", "你们的订单") == pytest.approx(1 / 5)


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("the cat sat on the mat", "the cat sat on a mat", (1, 0, 0)),
        ("the cat sat on the mat", "the cat sat on mat", (0, 1, 0)),
        ("the cat sat", "well the cat sat down", (0, 0, 2)),
        ("one two", "", (0, 2, 0)),
        ("", "one two", (0, 0, 2)),
    ],
)
def test_word_errors_by_kind_add_up_to_the_error_rate(
    reference: str, hypothesis: str, expected: tuple[int, int, int]
) -> None:
    errors = word_errors(reference, hypothesis)
    assert (errors.substitutions, errors.deletions, errors.insertions) == expected
    assert errors.reference_words == len(words(reference))
    if reference:
        assert sum(expected) / errors.reference_words == pytest.approx(
            word_error_rate(reference, hypothesis)
        )
