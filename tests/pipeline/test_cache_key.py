"""The transcript cache key: one (component, version) pair per step the cached entry holds,
so a change to any of them transcribes or re-derives the call instead of serving it stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import analysis
from pipeline.analysis import cache_components, transcript_key
from pipeline.config import Config, RedactConfig
from pipeline.redact_cues import redaction_cues_file
from pipeline.types import Recording

MODEL = "whisper-base@test"


def _recording(**metadata: str) -> Recording:
    return Recording("c1", "a/c1.wav", "/tmp/a/c1.wav", "ab" * 32, "2026-12-01", 10, metadata)


def test_every_step_the_entry_holds_is_a_component() -> None:
    names = [name for name, _ in cache_components(_recording(), "m", Config())]
    assert names[:2] == ["audio", "asr"]
    assert {"redact", "diarize", "metrics", "cues", "languages", "agent_channel"} <= set(names)
    assert len(names) == len(set(names))


def test_the_same_call_and_settings_give_the_same_key() -> None:
    assert transcript_key(_recording(), MODEL, Config()) == transcript_key(
        _recording(), MODEL, Config()
    )


def test_a_new_redaction_version_or_cue_file_is_a_new_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = transcript_key(_recording(), MODEL, Config())
    monkeypatch.setattr(analysis, "REDACT_VERSION", analysis.REDACT_VERSION + 1)
    bumped = transcript_key(_recording(), MODEL, Config())
    monkeypatch.undo()
    edited = tmp_path / "redaction.yaml"
    edited.write_text(redaction_cues_file().read_text(encoding="utf-8") + "\n# edited\n")
    monkeypatch.setattr(analysis, "redaction_cues_file", lambda: edited)
    recued = transcript_key(_recording(), MODEL, Config())
    assert len({before, bumped, recued}) == 3


def test_the_redaction_settings_are_part_of_the_key() -> None:
    default = transcript_key(_recording(), MODEL, Config())
    shorter = Config(redact=RedactConfig(after_card_s=30))
    patterned = Config(redact=RedactConfig(patterns=[("ACCOUNT", r"acc-\d{6,}")]))
    keys = {default, *(transcript_key(_recording(), MODEL, c) for c in (shorter, patterned))}
    assert len(keys) == 3


def test_the_call_direction_is_part_of_the_key() -> None:
    inbound = transcript_key(_recording(), MODEL, Config())
    outbound = transcript_key(_recording(direction="outbound"), MODEL, Config())
    assert inbound != outbound
