"""Make ``rubrics/meaning-vectors.npz``: the meaning model's vectors of every line the
shipped rubrics, the sentiment anchors and the contact-reason anchors embed, so that a
fresh ``EARMARK_HOME`` starts without embedding them (:data:`models.embed.SEED`).

    .venv/bin/python -m flows.seed_vectors        (or: make vectors)

Run it after changing the shipped rubrics' meaning lines; ``tests/models/test_embed_seed.py``
says when it is due. Lines already in the file keep their vectors; lines no longer used
are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

from flows.reasons import space_for
from models.embed import SEED, E5Embedder, get_embedder, read_seed, write_seed
from models.nlp import get_analyzer
from pipeline.meaning import Vectors, load_anchors
from pipeline.protocols import Arrays, CheckArrays, MakeArrays
from pipeline.rubric.engine import compile_rubric
from pipeline.rubric.schema import load_rubric
from pipeline.rubric.shipped import shipped_root, shipped_rubrics

SHIPPED = ("inbound-support", "outbound-sales")
"""The shipped rubrics (``semantic-example`` is for the optional torch model)."""


class _Recorder:
    """An embedder that notes every line it is asked to keep (the rest it passes on).

    It has a model id of its own, so that no cache of this process kept by model id (the
    neutral lines', the reason space's, the trained heads') answers in its place."""

    def __init__(self, inner: E5Embedder) -> None:
        self.inner = inner
        self.lines: dict[str, None] = {}

    @property
    def model_id(self) -> str:
        return f"{self.inner.model_id}/lines"

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed(texts)

    def embed_examples(self, texts: Sequence[str]) -> Vectors:
        self.lines.update(dict.fromkeys(texts))
        return self.inner.embed_examples(texts)

    def kept_arrays(self, key: str, make: MakeArrays, *, check: CheckArrays) -> Arrays:
        return self.inner.kept_arrays(key, make, check=check)


def shipped_lines(embedder: E5Embedder) -> list[str]:
    """Every line the shipped files embed, embedding (through ``embedder``) what it lacks."""
    recorder = _Recorder(embedder)
    for name in SHIPPED:
        for language, path in shipped_rubrics(name).items():
            compile_rubric(load_rubric(path), get_analyzer(language), embedder=recorder)
    load_anchors(recorder)
    space_for(recorder)
    return list(recorder.lines)


def main() -> int:
    embedder = get_embedder()
    lines = shipped_lines(embedder)
    vectors = embedder.embed_examples(lines)
    path = shipped_root() / SEED
    write_seed(path, embedder.model_id, dict(zip(lines, vectors, strict=True)))
    if len(read_seed(embedder.model_id, path)) != len(lines):
        print(f"earmark: could not write {path}")
        return 1
    print(f"{len(lines)} lines' vectors written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
