"""Dates and months as the CLI and the review app check them (``pipeline.periods``)."""

from __future__ import annotations

import doctest

from pipeline import periods


def test_the_examples_in_the_docstrings_hold() -> None:
    result = doctest.testmod(periods)
    assert result.attempted >= 4 and result.failed == 0
