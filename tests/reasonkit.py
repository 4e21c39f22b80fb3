"""A month of contact reasons written through the real write path, for the page, CLI and
queue tests: four steady reasons (eight calls a night, two per reason, two teams) and a
new one on the last night. Statement vectors are small hand-made ones: the meaning
model's grouping is tested in tests/pipeline/test_reasons.py."""

from __future__ import annotations

import datetime as dt

import numpy as np

from pipeline import warehouse as wh
from pipeline.reason_store import update_reasons
from pipeline.reasons import ReasonSpace, Statement

FIRST = dt.date(2026, 11, 1)
DAYS = 30
LAST = (FIRST + dt.timedelta(days=DAYS - 1)).isoformat()
NEW_CALLS = 6
WORDS = [
    "I was charged twice this month",
    "my internet is down since yesterday",
    "I cannot log into my account",
    "my parcel never arrived",
    "the app crashes since the update",
]
AUDIO = "2026-11 calls/c2.wav"
"""A recording of the review tests' archive (reviewkit.build_archive)."""


def flat_space(dim: int = 8) -> ReasonSpace:
    """A reason space with no language offset (zero anchors) and blank small-talk lines:
    hand-made ``dim``-long statement vectors are compared as they are."""
    zero = np.zeros(dim, dtype=np.float32)
    return ReasonSpace({"en": zero}, np.zeros((1, dim), np.float32), np.zeros((1, dim), np.float32))


def write_night(root: str, date: str, topics: list[int]) -> None:
    """One night's calls (``topics[k]``: the reason of call k) and their reasons."""
    calls, statements = [], []
    for k, topic in enumerate(topics):
        call_id = f"{date}-{k:02d}"
        team = "TEAM-01" if k % 2 == 0 else "TEAM-02"
        calls.append(
            {
                "call_id": call_id,
                "source_path": AUDIO,
                "team_id": team,
                "agent_id": "A1" if team == "TEAM-01" else "B1",
                "customer_id": f"CUST-{topic}-{k % 3}",
                "started_at": f"{date}T{9 + k % 8:02d}:00:00+00:00",
                "duration_s": 9.0,
                "status": "ok",
                "language": "en",
            }
        )
        v = np.zeros(8, dtype=np.float32)
        v[topic] = 1.0
        v[7] = 0.05 * (k % 3)
        statements.append(Statement(call_id, date, "en", WORDS[topic], 1.5, 4.0, v))
    wh.upsert(root, "calls", {date: calls})
    update_reasons(root, statements, flat_space())


def build_reason_month(root: str) -> str:
    """Write the month into ``root``; returns its last date (the new reason's night)."""
    for d in range(DAYS):
        date = (FIRST + dt.timedelta(days=d)).isoformat()
        topics = [k % 4 for k in range(8)] + ([4] * NEW_CALLS if date == LAST else [])
        write_night(root, date, topics)
    return LAST
