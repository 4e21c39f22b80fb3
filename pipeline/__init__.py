"""earmark's core: pure functions from recordings and transcripts to findings, scores and queues.

Nothing here imports Prefect or a model library; adapters live in ``models/`` and the
composition root in ``flows/``.
"""

TARGET_SR = 16_000
"""The one sample rate every stage works at (Whisper's)."""
