"""Real telephone calls: WER per language, roles, and the unsupported-language status.

Reads ``../shared/realcalls/`` (real 8 kHz mono MP3 calls with the publisher's transcripts;
see its README: nothing from it goes into the repository) and runs each call through
earmark's per-call processing, as the night does (decode, language, ASR, mono
diarization, redaction, rubric choice, scoring; a fresh warehouse, so no cache).

Reported per call:
- ``wer``: word error rate against the publisher's transcript in the call's own language
  (lower-cased, punctuation stripped, words in time order; the publisher's ``____``
  blanks are dropped);
- ``status``, ``language`` and its probability: ``pl-*`` and ``de-*`` must come out
  ``unsupported_language`` (the center serves en, zh, ru) and are never queued;
- ``roles_ok`` on the outbound Russian call: the words "звоню вам из" (the agent
  introducing themself) are the agent's, and the opening "алло" is the customer's.

Run: ``.venv/bin/python bench/asr_real.py [--beam N] [--batch N] [--vad-threshold X] [--normalize]
[--no-direction] [--only ru,en]``. The defaults are earmark's own. Writes JSON to
``.state/bench/asr_real.json`` (or ``--out``). Exits 0 with a note when the folder is absent.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from benchenv import REALCALLS, state_path, use_checkout  # bench/benchenv.py

use_checkout(environment=True)

from flows.process import RunSettings, process_recording  # noqa: E402
from pipeline.archive import sha256_file  # noqa: E402
from pipeline.config import AsrConfig, Config  # noqa: E402
from pipeline.evaluation import word_error_rate  # noqa: E402
from pipeline.types import Recording  # noqa: E402

HEADERS = {"en": "EN transcription", "ru": "RU transcription"}
"""The section of the publisher's ``.txt`` in the call's own language."""
DIRECTION = {"ru-pharma-sale": "outbound"}
"""What a contact-center export would say of each call (the README's table)."""
TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d$")


def reference(path: Path, language: str) -> str:
    """The publisher's transcript of ``path`` in ``language``, turns in time order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = HEADERS[language]
    start = lines.index(header) + 1
    turns: list[str] = []
    for line in lines[start:]:
        if line.strip().endswith("transcription"):
            break
        if line.strip() and not TIMESTAMP.match(line.strip()):
            turns.append(line.replace("_", " "))
    return " ".join(turns)


def hypothesis(transcript: Any) -> str:
    """The recognised words in time order (utterances sorted by start)."""
    ordered = sorted(transcript.utterances, key=lambda u: (u.start_s, u.end_s))
    return " ".join(u.text for u in ordered)


AGENT_STEMS = ("звон", "компани", "скидк", "упаков", "курс", "препарат", "эконом", "предлож")
"""Word stems only the selling agent of ``ru-pharma-sale`` says (the call, the offer)."""


def roles_ok(transcript: Any) -> dict[str, Any]:
    """Whose words the agent's introduction and offer became (judged on the content, as
    the README of the real calls asks): most of them must be the agent's."""
    hits = {"agent": 0, "customer": 0, "unknown": 0}
    for u in transcript.utterances:
        words = u.text.lower().split()
        hits[u.speaker] += sum(1 for w in words if any(s in w for s in AGENT_STEMS))
    return {"agent_cue_words": hits, "roles_ok": hits["agent"] > hits["customer"]}


def run_one(path: Path, config: Config, *, direction: bool) -> dict[str, Any]:
    meta = {"direction": DIRECTION[path.stem]} if direction and path.stem in DIRECTION else {}
    rec = Recording(
        call_id=path.stem,
        source_path=path.name,
        path=str(path),
        audio_sha256=sha256_file(path),
        call_date="2026-12-06",
        size_bytes=path.stat().st_size,
        metadata=meta,
    )
    with tempfile.TemporaryDirectory() as warehouse:
        started = time.monotonic()
        result = process_recording(rec, RunSettings(config=config, warehouse=warehouse))
        wall_s = time.monotonic() - started
    analysis = result.analysis
    row: dict[str, Any] = {
        "call": path.stem,
        "wall_s": round(wall_s, 1),
        "status": getattr(result, "status", "ok" if result.transcript else "quarantined"),
        "language": analysis.language if analysis else None,
        "language_probability": analysis.language_probability if analysis else None,
        "duration_s": analysis.duration_s if analysis else None,
        "diarization": analysis.diarization.outcome if analysis else None,
        "score": result.score.score if result.score else None,
        "needs_review": result.score.needs_review if result.score else False,
        "rubric": result.score.rubric_id if result.score else None,
    }
    if result.quarantine:
        row["quarantine"] = result.quarantine.reason
    lang = path.stem.split("-")[0]
    if result.transcript is not None and lang in HEADERS:
        ref = reference(path.with_suffix(".txt"), lang)
        row["wer"] = round(word_error_rate(ref, hypothesis(result.transcript)), 3)
        row["asr_confidence"] = round(result.transcript.asr_confidence, 3)
    if result.transcript is not None and path.stem in DIRECTION:
        row.update(roles_ok(result.transcript))
    if result.transcript is not None:  # kept in the JSON file (local, never committed)
        row["utterances"] = [
            [u.speaker, round(u.start_s, 1), u.text] for u in result.transcript.utterances
        ]
    if lang in ("pl", "de"):
        row["unsupported_ok"] = row["status"] == "unsupported_language" and not row["needs_review"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=REALCALLS)
    parser.add_argument("--beam", type=int, default=None, help="[asr] beam_size")
    parser.add_argument("--batch", type=int, default=None, help="[asr] batch_size")
    parser.add_argument("--vad-threshold", type=float, default=None, help="[asr] vad_threshold")
    parser.add_argument("--normalize", action="store_true", help="[asr] normalize_level = true")
    parser.add_argument(
        "--no-direction", action="store_true", help="give no metadata: roles from content alone"
    )
    parser.add_argument("--only", default="", help="comma-separated call-name prefixes (en,ru…)")
    parser.add_argument("--out", type=Path, default=state_path("asr_real.json"))
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"skipped: {args.folder} is not here (real calls are for measuring only)")
        return 0
    asr: dict[str, Any] = {"workers": 1}
    if args.beam is not None:
        asr["beam_size"] = args.beam
    if args.batch is not None:
        asr["batch_size"] = args.batch
    if args.vad_threshold is not None:
        asr["vad_threshold"] = args.vad_threshold
    if args.normalize:
        asr["normalize_level"] = True
    config = Config(asr=AsrConfig(**asr))
    only = [p for p in args.only.split(",") if p]
    files = [
        p
        for p in sorted(args.folder.glob("*.mp3"))
        if not only or any(p.stem.startswith(o) for o in only)
    ]
    rows = []
    for path in files:
        row = run_one(path, config, direction=not args.no_direction)
        shown = {k: v for k, v in row.items() if k != "utterances"}
        print(json.dumps(shown, ensure_ascii=False), flush=True)
        rows.append(row)
    out = {"settings": asr, "direction": not args.no_direction, "calls": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
