"""Warehouse rows for tests that need stored calls without hearing any audio."""

from __future__ import annotations

from typing import Any

from pipeline.analysis import CallAnalysis, analysis_from_cache

FACTS: dict[str, Any] = {
    "language": "en",
    "language_probability": 1.0,
    "duration_s": 60.0,
    "channels": 2,
    "tracks": 2,
    "sample_rate": 8000,
    "codec": "pcm_s16le",
    "asr_model": "test",
    "speech_s": 0.0,
    "diarization": "stereo",
    "utterances": [],
}
"""A stereo 8 kHz call in English, unless a test says otherwise."""


def analysis(**facts: Any) -> CallAnalysis:
    """The analysis of a call from a few facts, in the transcript cache's own form
    (``metrics``, ``metric_spans`` and ``redactions`` as the cache keeps them); the rest
    from :data:`FACTS`."""
    return analysis_from_cache({**FACTS, **facts})
