"""``meaning.v1``'s linear heads, trained once and kept on disk by the meaning model's adapter.

A kept head must be the very arrays training gives (scores bit for bit the same), and a
kept entry that is damaged, stale or for something else must be trained again, never used.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from models.embed import KEY_FIELD, E5Embedder, get_embedder
from models.nlp import get_analyzer
from pipeline.config import DEFAULT_RUBRICS
from pipeline.errors import EarmarkError
from pipeline.rubric import meaning
from pipeline.rubric.engine import compile_rubric
from pipeline.rubric.meaning import head_key, kept_linear_head, linear_head
from pipeline.rubric.schema import load_rubric
from pipeline.rubric.tune import meaning_of
from pipeline.scoring import assess
from pipeline.types import Transcript, Utterance

ROOT = Path(__file__).resolve().parents[2]


def _unit_rows(rng: np.random.Generator, n: int, dim: int = 384) -> npt.NDArray[np.float32]:
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def rows() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    rng = np.random.default_rng(15)
    return _unit_rows(rng, 12), _unit_rows(rng, 40)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``EARMARK_HOME``, and no head remembered in this process."""
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path))
    monkeypatch.setattr(meaning, "_heads", {})
    return tmp_path


def _same(a: tuple[npt.NDArray[np.float32], float], b: tuple[npt.NDArray[np.float32], float]):  # type: ignore[no-untyped-def]
    return a[0].dtype == b[0].dtype and a[0].tobytes() == b[0].tobytes() and a[1] == b[1]


def _kept_files(home: Path) -> list[Path]:
    return sorted((home / "meaning" / "kept").glob("*.npz"))


def _write(path: Path, **arrays: npt.NDArray[np.generic]) -> None:
    with path.open("wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def test_a_head_is_trained_once_kept_and_then_read_from_disk(home: Path, rows) -> None:  # type: ignore[no-untyped-def]
    pos, neg = rows
    trained = linear_head(pos, neg)
    first = kept_linear_head(E5Embedder(), pos, neg)
    assert _same(first, trained)
    (kept,) = _kept_files(home)
    # another process: the head comes from the file (a planted one proves it is read)
    planted = (trained[0] * 2, trained[1] + 1.0)
    key = head_key(E5Embedder().model_id, pos, neg)
    _write(kept, weights=planted[0], bias=np.array(planted[1]), **{KEY_FIELD: np.array(key)})
    meaning._heads.clear()
    assert _same(kept_linear_head(E5Embedder(), pos, neg), planted)


def _truncate(path: Path, key: str, head: tuple[npt.NDArray[np.float32], float]) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path: Path, key: str, head: tuple[npt.NDArray[np.float32], float]) -> None:
    path.write_bytes(b"not a zip file at all")


def _flip_a_weight_byte(path: Path, key: str, head: tuple[npt.NDArray[np.float32], float]) -> None:
    data = bytearray(path.read_bytes())
    at = bytes(data).index(head[0].tobytes()[400:432]) + 7
    data[at] ^= 0x10
    path.write_bytes(bytes(data))


def _another_key(path: Path, key: str, head: tuple[npt.NDArray[np.float32], float]) -> None:
    other = key.replace("numpy=", "numpy=0.")
    _write(path, weights=head[0] * 3, bias=np.array(head[1]), **{KEY_FIELD: np.array(other)})


def _no_key(path: Path, key: str, head: tuple[npt.NDArray[np.float32], float]) -> None:
    _write(path, weights=head[0] * 3, bias=np.array(head[1]))


def _not_a_head(path: Path, key: str, head: tuple[npt.NDArray[np.float32], float]) -> None:
    _write(path, weights=head[0][:100], bias=np.array(head[1]), **{KEY_FIELD: np.array(key)})


def _not_finite(path: Path, key: str, head: tuple[npt.NDArray[np.float32], float]) -> None:
    weights = head[0].copy()
    weights[5] = np.nan
    _write(path, weights=weights, bias=np.array(head[1]), **{KEY_FIELD: np.array(key)})


@pytest.mark.parametrize(
    "damage",
    [_truncate, _garbage, _flip_a_weight_byte, _another_key, _no_key, _not_a_head, _not_finite],
)
def test_a_damaged_stale_or_foreign_entry_is_trained_again(home: Path, rows, damage) -> None:  # type: ignore[no-untyped-def]
    pos, neg = rows
    trained = linear_head(pos, neg)
    key = head_key(E5Embedder().model_id, pos, neg)
    kept_linear_head(E5Embedder(), pos, neg)
    (kept,) = _kept_files(home)
    damage(kept, key, trained)
    meaning._heads.clear()
    assert _same(kept_linear_head(E5Embedder(), pos, neg), trained)
    # and the entry was written again, whole: the next process reads the trained head
    with np.load(kept, allow_pickle=False) as data:
        assert str(data[KEY_FIELD]) == key
        assert data["weights"].tobytes() == trained[0].tobytes()
        assert float(data["bias"]) == trained[1]


def test_the_key_names_the_model_the_vectors_and_the_training(rows) -> None:  # type: ignore[no-untyped-def]
    pos, neg = rows
    key = head_key("model-a", pos, neg)
    assert head_key("model-a", pos.copy(), neg.copy()) == key
    assert head_key("model-b", pos, neg) != key
    nudged = pos.copy()
    nudged[3, 7] = np.nextafter(nudged[3, 7], np.float32(1.0))
    assert head_key("model-a", nudged, neg) != key
    assert head_key("model-a", neg, pos) != key
    assert head_key("model-a", np.vstack([pos, neg[:1]]), neg[1:]) != key
    assert f"numpy={np.__version__}" in key and "code=" in key


def test_the_key_is_the_same_in_another_process(tmp_path: Path, rows) -> None:  # type: ignore[no-untyped-def]
    """Another hash seed must not change it, or no command would ever find a kept head."""
    pos, neg = rows
    code = (
        "import numpy as np, sys; from pipeline.rubric.meaning import head_key; "
        "r = np.load(sys.argv[1]); print(head_key('m', r['pos'], r['neg']))"
    )
    arrays = tmp_path / "rows.npz"
    np.savez(arrays, pos=pos, neg=neg)
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(arrays)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == head_key("m", pos, neg)


def test_a_home_that_cannot_be_written_still_gives_the_trained_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows
) -> None:  # type: ignore[no-untyped-def]
    not_a_folder = tmp_path / "home"
    not_a_folder.write_text("a file where the home should be")
    monkeypatch.setenv("EARMARK_HOME", str(not_a_folder))
    monkeypatch.setattr(meaning, "_heads", {})
    pos, neg = rows
    assert _same(kept_linear_head(E5Embedder(), pos, neg), linear_head(pos, neg))


LINES = [
    ("agent", "Thank you for calling, my name is Sam, how can I help you today?"),
    ("customer", "This is the third time I'm calling, nobody ever fixes anything."),
    ("agent", "Well, that's your problem, you should have read the contract."),
    ("customer", "I want to speak to your manager right now."),
    ("agent", "I'm so sorry about this, I completely understand your frustration."),
    ("customer", "Fine. Thanks, I guess."),
]


def _scored(call: Transcript, vectors: npt.NDArray[np.float32]):  # type: ignore[no-untyped-def]
    """The shipped English rubric compiled anew (no head remembered in this process)."""
    meaning._heads.clear()
    rubric = load_rubric(DEFAULT_RUBRICS["en"])
    compiled = compile_rubric(rubric, get_analyzer("en"), embedder=get_embedder())
    heads = []
    for item in compiled.items:
        try:
            detector = meaning_of(item)
        except EarmarkError:  # an item without a meaning part
            continue
        if detector.head is not None:
            heads.append(detector.head)
    return heads, assess(compiled, call, vectors=vectors)


def test_scores_are_the_same_with_kept_heads_and_heads_trained_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    utts = tuple(
        Utterance(speaker, 4.0 * i, 4.0 * i + 3.5, text, (), 0.9, 0)  # type: ignore[arg-type]
        for i, (speaker, text) in enumerate(LINES)
    )
    call = Transcript("kept-heads", "en", 4.0 * len(LINES), utts)
    vectors = get_embedder().embed_examples([u.text for u in utts])
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path))  # the heads' home; the lines' stay put
    monkeypatch.setattr(meaning, "_heads", {})
    first_heads, first = _scored(call, vectors)  # an empty home: trained, then kept
    assert first_heads and len(_kept_files(tmp_path)) >= 1
    kept_heads, kept = _scored(call, vectors)  # read back from disk
    monkeypatch.setattr(
        get_embedder(), "kept_arrays", lambda key, make, *, check: make()
    )  # no keeping at all: every head trained afresh
    fresh_heads, fresh = _scored(call, vectors)
    assert len(first_heads) == len(kept_heads) == len(fresh_heads)
    for a, b, c in zip(first_heads, kept_heads, fresh_heads, strict=True):
        assert _same(a, c) and _same(b, c)
    assert first == kept == fresh
    findings, _score = fresh
    assert any(f.detected for f in findings if f.item_id == "unprofessional_conduct"), findings
