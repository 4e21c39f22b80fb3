"""How often following one recording climbs back up from ``pipeline/`` (issue 17).

Runs :func:`flows.process.process_recording` on a real mono call (the real Whisper, the
librosa voice features, e5, the shipped English rubric) under a profiler hook, and
follows which layer of earmark is running: the layer of the innermost frame that is
earmark's own code (a library frame runs on behalf of the earmark frame that called it).
A *climb* is a step from ``pipeline`` up to ``flows`` or ``models``; there are two kinds:

* **back to the composition root**: a pipeline step returns and ``flows`` decides what
  comes next (the journey's order is written up there);
* **through a seam**: pipeline code calls an adapter it was handed (a ``Transcriber``,
  an ``Embedder``, a cache, a rubric loader): the journey's order stays in pipeline.

The recording is processed once to load the models and compile the rubric, then
traced on a fresh warehouse, so the trace is a night's steady state for one new call.

Usage (any checkout; ``--root`` is the one measured)::

    python bench/journey_climbs.py [--root DIR] [--audio FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

LAYERS = ("pipeline", "models", "flows")


STEPS = (
    "audio.decode",
    "audio.split_tracks",
    "asr.hear",
    "asr.call_language",
    "language.resolve_language",
    "asr.transcribe_heard",
    "transcript.merge_channels",
    "diarization.diarize_report",
    "redact.redact_transcript",
    "metrics.measure_call",
    "embed.embed",
    "meaning.call_sentiment",
    "calltypes.choose_rubric",
    "scoring.assess",
)
"""The journey's steps, by the module and function that do them (the same in both
layouts); :attr:`LayerTrace.steps` says which layer started each."""


class LayerTrace:
    """Profiler hook that follows the running earmark layer through one recording."""

    def __init__(self, root: Path) -> None:
        self.prefixes = {layer: str(root / layer) + os.sep for layer in LAYERS}
        self.stack: list[str] = []
        self.seam_depth = 0
        """How deep inside adapters pipeline handed control to (their insides are theirs)."""
        self.seam_at: list[int] = []
        self.back: Counter[str] = Counter()
        """Returns from pipeline to flows outside any seam: flows takes the recording back."""
        self.seams: Counter[str] = Counter()
        """Calls from pipeline up into an adapter or callback it was handed."""
        self.steps: list[tuple[str, str]] = []
        """(step, layer that called it) in order."""

    def layer(self, frame: FrameType) -> str | None:
        name = frame.f_code.co_filename
        return next((k for k, p in self.prefixes.items() if name.startswith(p)), None)

    def caller(self, frame: FrameType) -> str:
        """The layer of the earmark code that called ``frame`` (a decorator's wrapper,
        such as the ASR's replica holder, stands for the code that called it)."""
        up = frame.f_back
        while up is not None and (self.layer(up) is None or up.f_code.co_name == "wrapper"):
            up = up.f_back
        return (self.layer(up) or "outside") if up is not None else "outside"

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            before = self.stack[-1] if self.stack else "outside"
            now = self.layer(frame) or before
            self.stack.append(now)
            step = f"{Path(frame.f_code.co_filename).stem}.{frame.f_code.co_name}"
            if step in STEPS:
                self.steps.append((step, self.caller(frame)))
            if before == "pipeline" and now in ("flows", "models"):
                if not self.seam_depth:
                    self.seams[f"{now}:{_name(frame)}"] += 1
                self.seam_depth += 1
                self.seam_at.append(len(self.stack))
        elif event == "return" and self.stack:
            if self.seam_at and self.seam_at[-1] == len(self.stack):
                self.seam_at.pop()
                self.seam_depth -= 1
            before = self.stack.pop()
            now = self.stack[-1] if self.stack else "outside"
            if before == "pipeline" and now == "flows" and not self.seam_depth:
                self.back[_name(frame.f_back)] += 1


def _name(frame: FrameType | None) -> str:
    if frame is None:
        return "?"
    return f"{Path(frame.f_code.co_filename).stem}.{frame.f_code.co_name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--audio", default="tests/data/azure_katiesteve_mono.wav")
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(root))
    os.environ.setdefault("EARMARK_HOME", tempfile.mkdtemp(prefix="climbs-home-"))
    from flows.env import configure_environment
    from flows.process import RunSettings, process_recording
    from pipeline.archive import discover
    from pipeline.config import Config

    configure_environment()
    work = Path(tempfile.mkdtemp(prefix="climbs-"))
    (work / "archive").mkdir()
    shutil.copy(root / args.audio, work / "archive" / "call.wav")
    rec = discover(work / "archive").recordings[0]
    config = Config(languages=["en"])
    process_recording(rec, RunSettings(config, str(work / "warm")))  # models, rubric loaded
    trace = LayerTrace(root)
    sys.setprofile(trace)
    try:
        result = process_recording(rec, RunSettings(config, str(work / "traced")))
    finally:
        sys.setprofile(None)
    assert result.quarantine is None, result.quarantine
    print(f"{root}: {args.audio}, status {result.status}")
    from_flows = [step for step, caller in trace.steps if caller == "flows"]
    print(f"journey steps started by flows/: {len(from_flows)} of {len(trace.steps)}")
    for step, caller in trace.steps:
        print(f"  {caller:8}  {step}")
    print(f"climbs back to flows/ (returns outside any seam): {sum(trace.back.values())}")
    for where, n in sorted(trace.back.items()):
        print(f"  {n:3d}  {where}")
    print(f"calls up through a seam (an adapter or callback): {sum(trace.seams.values())}")
    for where, n in sorted(trace.seams.items()):
        print(f"  {n:3d}  {where}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
