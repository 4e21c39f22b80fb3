"""Contact reasons in the night and on the command line (``earmark reasons``)."""

from __future__ import annotations

import functools

from pipeline.protocols import Embedder
from pipeline.reasons import ReasonSpace, load_anchor_lines, reason_space


@functools.cache
def _space(embedder: Embedder) -> ReasonSpace:
    return reason_space(load_anchor_lines(), embedder.embed_examples)


def space_for(embedder: Embedder) -> ReasonSpace:
    """The reason space, its anchor lines embedded once per process (and kept on disk)."""
    return _space(embedder)
