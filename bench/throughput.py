"""Throughput of earmark on stereo calls against faster-whisper as a user would run it.

For each stereo call: earmark end to end (decode, language, per-channel VAD + ASR, merge,
rubric, score; transcript cache off; ``[asr] workers`` calls at once, as the night runs
them) against two peers on the same weights and compute type, each one file at a time on
a model with every core:

- ``batched``: faster-whisper's ``BatchedInferencePipeline(model).transcribe(path,
  batch_size=8, vad_filter=True, word_timestamps=True)``: the file mixed down to mono (as
  faster-whisper decodes it), its default beam (5), language detected;
- ``plain``: ``WhisperModel.transcribe(path, vad_filter=True)``, its other defaults.

WER is on time-ordered words (earmark: both channels' words sorted by start) against the
reference. The set: stereo 8 kHz calls laid out from the real speech in ``tests/data``
(turns on alternating channels, 1 s apart, so the reference text is known), and, when
``../shared/realcalls/`` is there (``$EARMARK_REALCALLS``; never copied into the
repository), its English call laid out the same way: each of the publisher's timestamped
lines on the other channel than the one before (so a line, not always a change of
speaker, is a turn). The CPU may be shared: earmark and the peers are measured
alternately, ``--rounds`` times, with the load average before each measurement; the ratio
of each round is reported. ``--profile`` adds where a call's time goes (one worker, one
thread, cProfile): decode, VAD, encoder, decoder, word alignment, language detection,
metrics, rubric and the rest.

``--windows conversation,channel`` runs earmark with the first window layout
(``[asr] windows``) and, in each round, with the others beside it; ``--also
beam_size=5,encoder_input=padded`` (repeatable) adds earmark with those settings beside it. ``--window-s N`` and
``--encode speech`` set ``[asr] window_s`` (seconds of speech per window) and ``[asr]
encoder_input`` (features cut to the speech instead of padded to 30 s).

Run: ``make bench`` or ``.venv/bin/python bench/throughput.py [FILES…] [--workers N]
[--rounds N] [--peers batched,plain] [--windows LAYOUTS] [--also K=V,…] [--window-s N] [--encode E]
[--set K=V,…] [--profile]``; ``--set`` gives earmark's main side any ``[asr]`` values. Results print as JSON lines and are
written to ``.state/bench/throughput.json`` (``--json``).
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import os
import pstats
import resource
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from benchenv import REALCALLS, ROOT, state_path, use_checkout  # bench/benchenv.py

use_checkout(environment=True)

from asr_real import TIMESTAMP  # noqa: E402

from flows.process import RunSettings, get_transcriber, process_recording  # noqa: E402
from models.asr import load_whisper  # noqa: E402
from pipeline.archive import sha256_file  # noqa: E402
from pipeline.audio import decode  # noqa: E402
from pipeline.config import AsrConfig, Config, usable_cores  # noqa: E402
from pipeline.evaluation import word_error_rate as wer  # noqa: E402
from pipeline.evaluation import words as ref_words  # noqa: E402
from pipeline.types import Recording  # noqa: E402

DATA = ROOT / "tests" / "data"
SR = 8000
MIXES = {  # stereo 8 kHz calls of real speech: (channel, file) turns, 1 s apart
    "mix-a": [
        (0, "osr_us_000_0034_8k.wav"),
        (1, "faster_whisper_jfk.flac"),
        (0, "azure_katiesteve_mono.wav"),
        (1, "azure_whatstheweatherlike_mulaw.wav"),
    ],
    "mix-b": [
        (0, "azure_whatstheweatherlike_mulaw.wav"),
        (1, "azure_katiesteve_mono.wav"),
        (0, "faster_whisper_jfk.flac"),
        (1, "osr_us_000_0034_8k.wav"),
    ],
    "mix-c": [  # a longer call: short answers between the long turns
        (0, "azure_katiesteve_mono.wav"),
        (1, "azure_whatstheweatherlike_mulaw.wav"),
        (0, "osr_us_000_0034_8k.wav"),
        (1, "faster_whisper_jfk.flac"),
        (0, "azure_whatstheweatherlike_mulaw.wav"),
        (1, "osr_us_000_0034_8k.wav"),
        (0, "faster_whisper_jfk.flac"),
        (1, "azure_katiesteve_mono.wav"),
    ],
}
REALCALL_NAMES = ("en-support-billing",)
"""The English real call: earmark serves en, zh, ru; the publisher's en lines are its words."""


def manifest_refs() -> dict[str, str]:
    manifest = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))
    return {e["file"]: e["reference_transcript"] for e in manifest}


def write_stereo(path: Path, turns: list[tuple[int, np.ndarray]], gap_s: float) -> Path:
    """Each turn's samples on its channel, one after the other, ``gap_s`` apart."""
    blocks = []
    for channel, x in turns:
        block = np.zeros((len(x) + int(gap_s * SR), 2), dtype=np.float32)
        block[: len(x), channel] = x
        blocks.append(block)
    sf.write(path, np.concatenate(blocks), SR, subtype="PCM_16")
    return path


def write_mixes(folder: Path) -> dict[Path, str]:
    """The stereo mixes of ``tests/data`` speech, with their reference text."""
    refs = manifest_refs()
    out = {}
    for name, turns in MIXES.items():
        audio = [(ch, decode(DATA / f, sr=SR).samples.mean(axis=0)) for ch, f in turns]
        path = write_stereo(folder / f"{name}-stereo-8k.wav", audio, gap_s=1.0)
        out[path] = " ".join(refs[f] for _, f in turns)
    return out


def realcall_lines(txt: Path) -> list[tuple[float, str]]:
    """The publisher's English lines with their start times (seconds)."""
    lines = [line.strip() for line in txt.read_text(encoding="utf-8").splitlines()]
    body = lines[lines.index("EN transcription") + 1 :]
    out: list[tuple[float, str]] = []
    for stamp, text in itertools.pairwise(body):
        if TIMESTAMP.match(stamp) and text and not TIMESTAMP.match(text):
            h, m, s = (int(p) for p in stamp.split(":"))
            out.append((h * 3600 + m * 60 + s, text.replace("_", " ")))
    return out


def quietest_near(x: np.ndarray, at: int, *, reach_s: float = 1.5, frame_s: float = 0.1) -> int:
    """The middle of the quietest ``frame_s`` within ``reach_s`` of sample ``at``: the
    publisher's stamps are whole seconds, and a cut there would split a word in two."""
    frame, reach = int(frame_s * SR), int(reach_s * SR)
    lo, hi = max(0, at - reach), min(len(x), at + reach)
    starts = range(lo, max(lo + 1, hi - frame), frame // 2)
    energy = [float(np.sum(x[a : a + frame] ** 2)) for a in starts]
    return starts[int(np.argmin(energy))] + frame // 2


def write_realcalls(folder: Path, source: Path) -> dict[Path, str]:
    """Each English real call as a stereo call: line k's audio on channel k % 2."""
    out = {}
    for name in REALCALL_NAMES:
        if not (source / f"{name}.mp3").exists():
            continue
        x = decode(source / f"{name}.mp3", sr=SR).samples.mean(axis=0)
        lines = realcall_lines(source / f"{name}.txt")
        cuts = [quietest_near(x, int(t * SR)) for t, _ in lines[1:]] + [len(x)]
        turns = [(0, x[: cuts[0]])]  # the lead-in before the first stamp joins line 0
        turns += [(k % 2, x[a:b]) for k, (a, b) in enumerate(itertools.pairwise(cuts), start=1)]
        path = write_stereo(folder / f"{name}-stereo-8k.wav", turns, gap_s=0.0)
        out[path] = " ".join(text for _, text in lines)
    return out


def recording(path: Path) -> Recording:
    """A recording with a fresh hash, so no cached transcript is reused."""
    digest = sha256_file(path) + str(time.time_ns())
    return Recording(path.stem, path.name, str(path), digest, "2026-01-01", path.stat().st_size)


def time_ordered(transcript: Any) -> str:
    """Every word of the call (both channels) in order of its start."""
    words = sorted((w.start_s, w.text) for u in transcript.utterances for w in u.words)
    return " ".join(text for _, text in words)


def run_earmark(files: list[Path], config: Config, warehouse: str) -> tuple[list[Any], float]:
    """Every file through earmark's per-call processing, ``[asr] workers`` at a time."""
    settings = RunSettings(config=config, warehouse=warehouse)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=config.asr.worker_count) as pool:
        results = list(pool.map(lambda f: process_recording(recording(f), settings), files))
    return results, time.monotonic() - started


def run_batched(path: Path, model: Any) -> str:
    """faster-whisper's batched pipeline as its README shows it, with VAD and word times."""
    from faster_whisper import BatchedInferencePipeline

    segments, _ = BatchedInferencePipeline(model).transcribe(
        str(path), batch_size=8, vad_filter=True, word_timestamps=True
    )
    words = sorted((w.start, w.word) for s in segments for w in s.words or ())
    return " ".join(text for _, text in words)


def run_plain(path: Path, model: Any) -> str:
    """``WhisperModel.transcribe`` with VAD on, its other defaults (beam 5, language detected)."""
    segments, _ = model.transcribe(str(path), vad_filter=True)
    return " ".join(s.text for s in segments)


PEERS: dict[str, Callable[[Path, Any], str]] = {"batched": run_batched, "plain": run_plain}


def timed_peer(run: Callable[[Path, Any], str], files: list[Path], model: Any) -> tuple:
    started = time.monotonic()
    texts = [run(f, model) for f in files]
    return texts, time.monotonic() - started


def load_1m() -> float:
    return round(os.getloadavg()[0], 2)


def pooled_wer(refs: list[str], hyps: list[str]) -> float:
    """Errors over all the calls' reference words (a long call weighs more)."""
    sizes = [len(ref_words(r)) for r in refs]
    errors = sum(wer(r, h) * n for r, h, n in zip(refs, hyps, sizes, strict=True))
    return round(errors / sum(sizes), 4)


def one_round(
    files, refs, config, model, peers, tmp: Path, k: int, plain_rounds: int, beside=None
) -> dict[str, Any]:
    """earmark, earmark with each of the ``beside`` settings (name → ``[asr]`` values),
    then each peer, on the same files; load average before each. The plain peer (the
    slowest) runs in the first ``plain_rounds`` rounds only."""
    row: dict[str, Any] = {"round": k, "load_earmark": load_1m()}
    results, row["earmark_wall_s"] = run_earmark(files, config, str(tmp / f"wh{k}"))
    hyps = [time_ordered(r.transcript) if r.transcript else "" for r in results]
    row["wer_earmark"] = pooled_wer(refs, hyps)
    for layout, update in (beside or {}).items():
        other = config.model_copy(update={"asr": config.asr.model_copy(update=update)})
        row[f"load_earmark_{layout}"] = load_1m()
        results, wall_s = run_earmark(files, other, str(tmp / f"wh{k}-{layout}"))
        row[f"earmark_{layout}_wall_s"] = wall_s
        row[f"ratio_earmark_{layout}"] = round(wall_s / row["earmark_wall_s"], 3)
        row[f"load_after_earmark_{layout}"] = load_1m()
        texts = [time_ordered(r.transcript) if r.transcript else "" for r in results]
        row[f"wer_earmark_{layout}"] = pooled_wer(refs, texts)
        row[f"per_call_wer_earmark_{layout}"] = [
            round(wer(r, h), 3) for r, h in zip(refs, texts, strict=True)
        ]
    for name in peers:
        if name == "plain" and k >= plain_rounds:
            continue
        row[f"load_{name}"] = load_1m()
        texts, row[f"{name}_wall_s"] = timed_peer(PEERS[name], files, model)
        row[f"wer_{name}"] = pooled_wer(refs, texts)
        row[f"per_call_wer_{name}"] = [
            round(wer(r, h), 3) for r, h in zip(refs, texts, strict=True)
        ]
        row[f"ratio_{name}"] = round(row[f"{name}_wall_s"] / row["earmark_wall_s"], 3)
    row["per_call_wer_earmark"] = [round(wer(r, h), 3) for r, h in zip(refs, hyps, strict=True)]
    return {k2: _rounded(k2, v) for k2, v in row.items()}


def _rounded(key: str, value: Any) -> Any:
    """Seconds and loads to 2 decimals; a pooled WER keeps 4 (0.2 against 0.2 hides a
    difference of 0.007)."""
    if not isinstance(value, float):
        return value
    return round(value, 4 if key.startswith("wer_") else 2)


STAGES = {  # stage of a call's wall time → where cProfile sees it ("file:function")
    "decode": "pipeline/audio.py:decode",
    "vad": "onnxruntime_pybind11_state.run",
    "features": "faster_whisper/feature_extractor.py:__call__",
    "encoder": "ctranslate2._ext.encode",
    "decoder": "ctranslate2._ext.generate",
    "word_alignment": "ctranslate2._ext.align",
    "language_head": "ctranslate2._ext.detect_language",
    "metrics": "pipeline/metrics.py:measure_call",
    "redaction": "pipeline/redact.py:redact_transcript",
    "embedding": "flows/process.py:embed",
    "rubric_score": "pipeline/scoring.py:assess",
}
LANGUAGE = "models/asr.py:call_language"
"""Language detection: its own VAD and encoder passes are inside the stages above too."""


def profile(files: list[Path], tmp: Path, asr: AsrConfig) -> dict[str, Any]:
    """Where the calls' time goes: one worker, one thread, every file in turn."""
    one = asr.model_copy(update={"workers": 1, "cpu_threads": 1})
    settings = RunSettings(config=Config(asr=one), warehouse=str(tmp / "profile"))
    process_recording(recording(files[0]), settings)  # warm: its model is loaded
    profiler = cProfile.Profile()  # in this thread: the calls run here, one at a time
    started = time.monotonic()
    profiler.enable()
    for path in files:
        process_recording(recording(path), settings)
    profiler.disable()
    wall = time.monotonic() - started
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    cumulative: dict[str, float] = {}
    for (file, _, func), (_, _, _, cumtime, _) in stats.items():
        cumulative[f"{file}:{func}"] = cumulative.get(f"{file}:{func}", 0.0) + cumtime

    def seconds(where: str) -> float:
        return sum(t for name, t in cumulative.items() if where in name)

    share = {stage: round(seconds(where) / wall, 3) for stage, where in STAGES.items()}
    share["other"] = round(1 - sum(share.values()), 3)
    share["of_which_language_detection"] = round(seconds(LANGUAGE) / wall, 3)
    return {"wall_s": round(wall, 1), "load": load_1m(), "share": share}


def calls(args: argparse.Namespace, tmp: Path) -> dict[Path, str]:
    if args.files:
        refs = manifest_refs()
        return {f: refs.get(f.name, "") for f in args.files}
    real = {} if args.no_realcalls else write_realcalls(tmp, args.realcalls)
    return {**write_mixes(tmp), **real}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--workers", type=int, default=0, help="[asr] workers (0: per core)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peers", default="batched,plain")
    parser.add_argument("--plain-rounds", type=int, default=1, help="rounds that run plain")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--realcalls", type=Path, default=REALCALLS)
    parser.add_argument("--no-realcalls", action="store_true", help="the tests/data mixes only")
    parser.add_argument("--beam", type=int, default=None, help="earmark's [asr] beam_size")
    parser.add_argument(
        "--windows",
        default="",
        help="[asr] windows (conversation, channel); a list: the others measured beside it",
    )
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        help="[asr] settings measured beside in each round, e.g. beam_size=5,window_s=20",
    )
    parser.add_argument("--window-s", type=int, default=None, help="[asr] window_s")
    parser.add_argument(
        "--set", default="", help="[asr] settings of earmark's main side, e.g. vad_threshold=0.4"
    )
    parser.add_argument("--encode", default=None, help="[asr] encoder_input (padded, speech)")
    parser.add_argument("--json", type=Path, default=state_path("throughput.json"))
    args = parser.parse_args(argv)
    options = {"beam_size": args.beam, "window_s": args.window_s, "encoder_input": args.encode}
    chosen: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    chosen |= settings(args.set)
    layouts = [w for w in args.windows.split(",") if w]
    if layouts:
        chosen["windows"] = layouts[0]
    beside = {w: {"windows": w} for w in layouts[1:]} | {a: settings(a) for a in args.also}
    config = Config(asr=AsrConfig(workers=args.workers, **chosen))
    transcriber = get_transcriber(config.asr)
    model = load_whisper(
        transcriber.source.path,
        transcriber.device,
        transcriber.compute_type,
        usable_cores(),
        True,
    )
    peers = [p for p in args.peers.split(",") if p]
    with tempfile.TemporaryDirectory() as tmp:
        chosen = calls(args, Path(tmp))
        files, refs = list(chosen), list(chosen.values())
        audio_s = sum(sf.info(f).duration for f in files)
        print(json.dumps({"calls": [f.name for f in files], "audio_s": round(audio_s, 1)}))
        run_earmark(files[:1], config, str(Path(tmp) / "warm"))  # model, spaCy, numba
        for name in peers:
            PEERS[name](files[0], model)
        rounds = []
        for k in range(args.rounds):
            rounds.append(
                one_round(
                    files, refs, config, model, peers, Path(tmp), k, args.plain_rounds, beside
                )
            )
            print(json.dumps(rounds[-1]), flush=True)
        report: dict[str, Any] = {"audio_s": round(audio_s, 1), "rounds": rounds}
        if rounds:
            report["summary"] = summary(rounds, peers, audio_s, config)
        if args.profile:
            report["profile"] = profile(files, Path(tmp), config.asr)
    print(json.dumps(report.get("summary")))
    if args.profile:
        print(json.dumps(report["profile"]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


def settings(text: str) -> dict[str, Any]:
    """``beam_size=5,vad_threshold=0.4,encoder_input=padded`` → ``{"beam_size": 5,
    "vad_threshold": 0.4, "encoder_input": "padded"}``, checked as ``[asr]`` checks them."""
    pairs = dict(item.split("=", 1) for item in text.split(",") if item)
    checked = AsrConfig.model_validate(pairs)
    return {key: getattr(checked, key) for key in pairs}


def summary(rounds: list[dict], peers: list[str], audio_s: float, config: Config) -> dict:
    best = min(r["earmark_wall_s"] for r in rounds)
    out: dict[str, Any] = {
        "workers": config.asr.worker_count,
        "asr": config.asr.model_dump(
            include={"beam_size", "windows", "window_s", "encoder_input", "vad_threshold"}
        ),
        "earmark_x_realtime_best": round(audio_s / best, 1),
        "wer_earmark": rounds[-1]["wer_earmark"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    for name in peers:
        ran = [r for r in rounds if f"ratio_{name}" in r]
        if not ran:  # a peer given no round (--plain-rounds 0)
            continue
        out[f"ratio_{name}"] = [r[f"ratio_{name}"] for r in ran]
        out[f"{name}_x_realtime_best"] = round(audio_s / min(r[f"{name}_wall_s"] for r in ran), 1)
        out[f"wer_{name}"] = ran[-1][f"wer_{name}"]
        besides = [k for k in ran[0] if k.startswith("earmark_") and k.endswith("_wall_s")]
        for key in besides[1:]:  # the first is earmark with the chosen settings
            out[f"ratio_{name}_vs_{key[:-7]}"] = [
                round(r[f"{name}_wall_s"] / r[key], 3) for r in ran
            ]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
