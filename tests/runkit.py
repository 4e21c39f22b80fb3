"""The ``earmark`` command run as a user runs it, in a child process, on small archives.

Each child gets the parent's environment without its ``PREFECT_*`` settings, so that it
picks its own Prefect home (or the one a test gives it) instead of the test session's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
EARMARK = [sys.executable, "-m", "flows.cli"]
"""The command line that starts ``earmark`` from this checkout."""


def child_env(*, drop: tuple[str, ...] = ("PREFECT_",), **extra: str) -> dict[str, str]:
    """This process's environment without the variables starting with ``drop``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return env


def earmark(
    *args: str | Path,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``earmark *args`` to its end; its output is captured as text."""
    return subprocess.run(
        [*EARMARK, *map(str, args)],
        cwd=cwd,
        env=child_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def shifted_calls(archive: Path, stereo_call: Path, data: Path, *, calls: int) -> Path:
    """``archive`` with ``calls`` stereo calls and one mono call, all with their own hash.

    Each stereo call is ``stereo_call`` shifted by half a second more than the one before:
    the same conversation, so each takes as long to transcribe, but different bytes.
    """
    archive.mkdir()
    y, sr = sf.read(stereo_call, dtype="float32")
    for n in range(calls):
        shifted = np.concatenate([np.zeros((sr * n // 2, 2), dtype=np.float32), y])
        sf.write(archive / f"call-{n}.wav", shifted, sr, subtype="PCM_16")
    shutil.copy(data / "osr_us_000_0034_8k.wav", archive / "mono.wav")
    return archive


def fixture_archive(root: Path, data: Path, files: Mapping[str, str]) -> Path:
    """An archive at ``root`` holding fixture recordings: ``files`` maps each path in the
    archive (folders are made) to a file name under ``data``."""
    for path, fixture in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data / fixture, root / path)
    return root


def transcripts_file(
    path: Path, call_id: str, language: str, *turns: tuple[str, float, float, str]
) -> Path:
    """A one-call ``transcripts.jsonl`` for ``rubric apply``: turns are (speaker, start_s,
    end_s, text); the call lasts until the last turn ends."""
    utterances = [
        {"speaker": who, "start_s": start, "end_s": end, "text": text}
        for who, start, end, text in turns
    ]
    call = {
        "call_id": call_id,
        "language": language,
        "duration_s": max((u["end_s"] for u in utterances), default=0.0),
        "utterances": utterances,
    }
    path.write_text(json.dumps(call, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def night_summary(**fields: object) -> object:
    """A :class:`flows.nightly.NightSummary` for the CLI's summary printer: a night that
    found nothing new, unless ``fields`` say otherwise."""
    from flows.nightly import NightSummary

    quiet: dict[str, object] = {
        "processed": 0,
        "quarantined": [],
        "ignored": [],
        "audio_s": 0.0,
        "asr_audio_s": 0.0,
        "asr_wall_s": 0.0,
        "cached": 0,
        "wall_s": 1.0,
        "call_dates": [],
    }
    return NightSummary(**{**quiet, **fields})  # type: ignore[arg-type]
