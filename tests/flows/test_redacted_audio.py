"""The night's ``redact-audio`` step on real audio, without ASR: which copies it writes,
keeps, replaces and removes (the spans are given; the e2e test gets them from the ASR)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.nightly import CopyJob, audio_redact_options, write_redacted_audio
from pipeline import warehouse as wh
from pipeline.archive import sha256_file
from pipeline.config import Config, RedactConfig
from pipeline.redact_audio import AudioRedactOptions, copy_key

DATE = "2026-11-20"


def counts(written: int = 0, current: int = 0, failed: int = 0, removed: int = 0) -> dict[str, int]:
    return {"written": written, "current": current, "failed": failed, "removed": removed}


@pytest.fixture
def job(tmp_path: Path, data: Path) -> CopyJob:
    path = tmp_path / "archive" / "payment call.wav"
    path.parent.mkdir()
    shutil.copyfile(data / "card_call_8k.wav", path)
    return CopyJob("CALL-1", DATE, str(path), sha256_file(path), 8000, ((12.0, 15.5),))


def _copies(warehouse: Path) -> list[str]:
    return sorted(p.name for p in (warehouse / wh.REDACTED_AUDIO).rglob("*") if p.is_file())


def test_written_once_then_kept_then_replaced_when_the_spans_change(
    job: CopyJob, tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh"
    options = AudioRedactOptions()
    plain = CopyJob("CALL-2", DATE, job.path, job.audio_sha256, 8000, ())
    assert write_redacted_audio(str(warehouse), [job, plain], options) == counts(written=1)
    first = Path(
        wh.redacted_audio_path(
            warehouse, DATE, "CALL-1", copy_key("CALL-1", job.audio_sha256, job.spans)
        )
    )
    assert _copies(warehouse) == [first.name]  # a call without redactions gets no copy
    assert write_redacted_audio(str(warehouse), [job], options) == counts(current=1)
    moved = CopyJob(**{**_fields(job), "spans": ((12.0, 16.0),)})
    assert write_redacted_audio(str(warehouse), [moved], options) == counts(written=1, removed=1)
    assert _copies(warehouse) == [
        Path(
            wh.redacted_audio_path(
                warehouse, DATE, "CALL-1", copy_key("CALL-1", job.audio_sha256, moved.spans)
            )
        ).name
    ]
    gone = CopyJob(**{**_fields(job), "spans": ()})  # redone without redactions: no copy kept
    assert write_redacted_audio(str(warehouse), [gone], options) == counts(removed=1)
    assert _copies(warehouse) == []


def test_a_recording_that_cannot_be_copied_does_not_stop_the_night(
    job: CopyJob, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = CopyJob(**{**_fields(job), "call_id": "CALL-9", "path": str(tmp_path / "gone.wav")})
    done = write_redacted_audio(str(tmp_path / "wh"), [broken, job], AudioRedactOptions())
    assert done == counts(written=1, failed=1)
    assert "CALL-9: no redacted audio copy: [A009]" in caplog.text


def test_options_follow_the_config() -> None:
    assert audio_redact_options(Config()) == AudioRedactOptions("tone", pad_s=0.25)
    silence = Config(redact=RedactConfig(audio="silence", audio_pad_s=0.5))
    assert audio_redact_options(silence) == AudioRedactOptions("silence", pad_s=0.5)
    assert audio_redact_options(Config(redact=RedactConfig(audio="off"))) is None


def _fields(job: CopyJob) -> dict[str, object]:
    return {name: getattr(job, name) for name in CopyJob.__slots__}
