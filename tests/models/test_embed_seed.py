"""The shipped vectors of the rubrics' lines (``rubrics/meaning-vectors.npz``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from flows.seed_vectors import shipped_lines
from models.embed import SEED, E5Embedder, read_seed, write_seed
from pipeline.rubric import meaning
from pipeline.rubric.shipped import shipped_root


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> E5Embedder:
    """An embedder with an empty ``EARMARK_HOME`` and nothing remembered in this process."""
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path))
    monkeypatch.setattr(meaning, "_heads", {})
    monkeypatch.setattr(meaning, "_neutral", {})
    return E5Embedder()


def test_a_fresh_home_has_every_shipped_line_without_embedding_one(
    fresh: E5Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(texts: Sequence[str]) -> None:
        raise AssertionError(
            f"{len(texts)} shipped line(s) have no shipped vector, e.g. {list(texts)[:2]}: "
            "run `make vectors` (python -m flows.seed_vectors)"
        )

    monkeypatch.setattr(fresh, "embed", refuse)
    assert len(shipped_lines(fresh)) > 1000
    assert fresh._loaded is None  # the model was never loaded


def test_the_shipped_vectors_are_the_models(fresh: E5Embedder) -> None:
    seed = read_seed(fresh.model_id)
    texts = list(seed)[:: max(1, len(seed) // 12)]
    again = fresh.embed(texts)  # the model itself, not the kept lines
    cosines = np.sum(again * np.stack([seed[t] for t in texts]), axis=1)
    assert cosines.min() > 0.999, dict(zip(texts, cosines.round(4), strict=True))


def test_vectors_made_by_another_model_are_not_read(tmp_path: Path) -> None:
    path = tmp_path / SEED
    write_seed(path, "some-other-model", {"hello there": np.ones(4, dtype=np.float32) / 2})
    assert read_seed("some-other-model", path)["hello there"] == pytest.approx([0.5] * 4)
    assert read_seed(E5Embedder().model_id, path) == {}
    assert read_seed(E5Embedder().model_id, tmp_path / "none.npz") == {}
    assert (shipped_root() / SEED).is_file()


def test_a_home_keeps_only_the_lines_the_shipped_vectors_lack(
    fresh: E5Embedder, tmp_path: Path
) -> None:
    shipped = next(iter(read_seed(fresh.model_id)))
    own = "A line of my own rubric about parking tickets."
    fresh.embed_examples([shipped, own])
    (kept,) = (tmp_path / "meaning").glob("examples-*.npz")
    with np.load(kept) as data:
        assert data["texts"].tolist() == [own]
    later = E5Embedder()  # another command: both lines without the model
    assert np.allclose(later.embed_examples([shipped, own]), fresh.embed_examples([shipped, own]))
    assert later._loaded is None
