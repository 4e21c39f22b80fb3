"""How well :func:`models.diarize.diarize` gives the words of a mono call to the right party,
and how far the mono call's per-party metrics then land from the stereo call's.

For each stereo call (agent left, customer right): both channels are mixed down to mono
(their mean), the real ASR transcribes the mix, :func:`diarize` gives each word a party,
and the truth comes from the stereo channels: a word's true party is the channel with
more energy over the word's span. A word counts as right when its party is the true one;
words left ``"unknown"`` (the call was not split) count as wrong.

Each embedder is measured on the same mono transcript: ``librosa`` (spectral and pitch
statistics, the default) and ``resemblyzer`` (Resemblyzer's speaker encoder, when it is
installed: the ``voice`` extra).

Also measured:

* **metrics, mono against stereo**: :func:`pipeline.metrics.measure_call` on the mono mix
  with the diarized transcript, against the same on the two channels with their own
  transcripts (the nightly flow's stereo path): the error of talk per party, the talk
  ratio, words per minute, overtalk and interruptions;
* **one voice**: each channel of each stereo call on its own, and the one-voice mono
  recordings of ``tests/data``, must come back unchanged (a split there is a false split);
* **coverage**: words the ASR found in the mono mix against the words it finds on the
  two channels separately (diarization cannot label words the ASR lost);
* **cost**: :func:`diarize` wall time per minute of audio (warm: the first call, which
  pays for imports and numba compilation, is timed separately) against the ASR's.

A "real voices" call is composed from the real speech in ``tests/data`` (JFK on the
left, the Open Speech Repository reader on the right, two turns each), because the
stereo calls of ``samples/archive`` are synthetic (espeak-ng).

Run: ``.venv/bin/python bench/diarize.py [FILES…] [--json out.json] [--no-single]
[--embedders librosa,resemblyzer]``. Prints one line per file and embedder and a summary
per embedder; writes JSON (default ``.state/bench/diarize.json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from benchenv import ROOT, state_path, use_checkout  # bench/benchenv.py

os.environ.setdefault("HF_HUB_OFFLINE", "1")
use_checkout(environment=True)

from flows.process import rubric_for  # noqa: E402
from models.asr import WhisperTranscriber  # noqa: E402
from models.diarize import diarize_report  # noqa: E402
from pipeline import TARGET_SR  # noqa: E402
from pipeline.audio import Track as PartyTrack  # noqa: E402
from pipeline.audio import decode, split_tracks  # noqa: E402
from pipeline.config import AsrConfig, Config  # noqa: E402
from pipeline.diarization import DiarizeOptions, DiarizeReport  # noqa: E402
from pipeline.errors import AudioError  # noqa: E402
from pipeline.metric_rows import as_metric_spans, as_metric_values  # noqa: E402
from pipeline.metrics import CallMetrics, measure_call  # noqa: E402
from pipeline.scoring import assess  # noqa: E402
from pipeline.transcript import merge_channels, to_simplified  # noqa: E402
from pipeline.types import Speaker, Transcript, Word  # noqa: E402

Track = npt.NDArray[np.float32]
DATA = ROOT / "tests" / "data"
SAMPLES = ROOT / "samples"
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac"}
ONE_VOICE_MONO = ("osr_us_000_0034_8k.wav", "faster_whisper_jfk.flac")
TWO_VOICE_MONO = ("azure_katiesteve_mono.wav",)
REAL_VOICES = "real voices (jfk + osr)"
EMBEDDERS = ("librosa", "resemblyzer")
PARTIES: tuple[Speaker, Speaker] = ("agent", "customer")
PARTY_METRICS = (
    "talk_agent_s",
    "talk_customer_s",
    "talk_ratio_agent",
    "wpm_agent",
    "wpm_customer",
    "overtalk_s",
    "interruptions_agent",
    "interruptions_customer",
)
"""The per-party numbers a mono call estimates (see :mod:`pipeline.metrics`)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One benchmark call: its channels at 16 kHz (agent first) and its language."""

    name: str
    channels: Track
    language: str


def default_files() -> list[Path]:
    archive = sorted(
        p for p in (SAMPLES / "archive").rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES
    )
    return [DATA / "card_call_8k.wav", DATA / "faster_whisper_stereo_diarization.wav", *archive]


def languages() -> dict[str, str]:
    """Language per archive file, from ``samples/labels.json`` when it is there."""
    try:
        labels = json.loads((SAMPLES / "labels.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        str((SAMPLES / key).resolve()): str(entry.get("language", "en"))
        for key, entry in labels.items()
    }


def stereo_calls(files: list[Path]) -> tuple[list[Call], list[dict[str, str]]]:
    """The stereo files among ``files`` (mono ones and undecodable ones are listed as skipped)."""
    langs = languages()
    calls, skipped = [], []
    for path in files:
        try:
            audio = decode(path, sr=TARGET_SR)
        except AudioError as exc:
            skipped.append({"file": path.name, "skipped": str(exc)})
            continue
        if len(split_tracks(audio)) != 2:
            skipped.append({"file": path.name, "skipped": "mono"})
            continue
        lang = langs.get(str(path.resolve()), "en")
        calls.append(Call(_name(path), audio.samples, lang))
    return calls, skipped


def real_voices_call() -> Call:
    """Two real voices taking turns: JFK (agent, left) and the OSR reader (customer, right)."""
    jfk = decode(DATA / "faster_whisper_jfk.flac").samples.mean(axis=0)
    osr = decode(DATA / "osr_us_000_0034_8k.wav").samples[0][: 18 * TARGET_SR]
    jfk_a, jfk_b = _cut_at_pause(jfk)
    osr_a, osr_b = _cut_at_pause(osr)
    gap = np.zeros(TARGET_SR // 2, dtype=np.float32)
    turns = [(0, jfk_a), (1, osr_a), (0, jfk_b), (1, osr_b)]
    length = sum(t.size + gap.size for _, t in turns)
    channels = np.zeros((2, length), dtype=np.float32)
    at = 0
    for side, turn in turns:
        channels[side, at : at + turn.size] = turn
        at += turn.size + gap.size
    return Call(REAL_VOICES, channels, "en")


def _cut_at_pause(x: Track) -> tuple[Track, Track]:
    """Split a recording at its quietest 100 ms between 35 % and 65 % of its length."""
    frame = TARGET_SR // 10
    lo, hi = int(0.35 * x.size) // frame, int(0.65 * x.size) // frame
    energy = [float(np.sum(x[i * frame : (i + 1) * frame] ** 2)) for i in range(lo, hi)]
    cut = (lo + int(np.argmin(energy))) * frame + frame // 2
    return x[:cut], x[cut:]


def _name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def transcribe(
    transcriber: WhisperTranscriber,
    x: Track,
    *,
    call_id: str,
    language: str,
    speaker: Speaker = "unknown",
) -> tuple[Transcript, float]:
    """The real ASR on one track, as the nightly flow merges it; and its wall time."""
    started = time.perf_counter()
    ct = transcriber.transcribe(np.ascontiguousarray(x, dtype=np.float32), language=language)
    asr_s = time.perf_counter() - started
    transcript = merge_channels(
        call_id,
        [(speaker, 0 if speaker != "customer" else 1, ct)],
        duration_s=round(x.size / TARGET_SR, 3),
        language=language,
    )
    if language == "zh":
        transcript = to_simplified(transcript)
    return transcript, asr_s


def timed_diarize(x: Track, transcript: Transcript, embedder: str) -> tuple[DiarizeReport, float]:
    started = time.perf_counter()
    options = DiarizeOptions(embedder=embedder)  # type: ignore[arg-type]  # checked by DiarizeOptions
    report = diarize_report(x, transcript, sr=TARGET_SR, options=options)
    return report, time.perf_counter() - started


def true_party(channels: Track, word: Word) -> str:
    """The channel with more energy over the word: left is the agent, right the customer."""
    a = max(0, int(word.start_s * TARGET_SR))
    b = max(a + 1, int(word.end_s * TARGET_SR))
    energy = np.sum(np.square(channels[:, a:b], dtype=np.float64), axis=1)
    return "agent" if energy[0] >= energy[1] else "customer"


def score_call(channels: Track, report: DiarizeReport) -> dict[str, Any]:
    """Word accuracy, accuracy up to swapping the parties, and whether the agent is right."""
    pairs = [
        (u.speaker, true_party(channels, w)) for u in report.transcript.utterances for w in u.words
    ]
    n = len(pairs)
    right = sum(p == t for p, t in pairs)
    swapped = sum(p != t for p, t in pairs if p != "unknown")
    agent_words = [p for p, t in pairs if t == "agent"]
    return {
        "words": n,
        "words_right": right,
        "accuracy": round(right / n, 4) if n else None,
        "cluster_accuracy": round(max(right, swapped) / n, 4) if n else None,
        "agent_identified": bool(agent_words) and agent_words.count("agent") > len(agent_words) / 2,
        "true_agent_share": round(len(agent_words) / n, 3) if n else None,
    }


def stereo_metrics(
    call: Call, transcriber: WhisperTranscriber
) -> tuple[CallMetrics, list[Transcript], Transcript]:
    """The stereo call as the nightly flow measures it: each channel transcribed, merged."""
    heard = [
        transcribe(
            transcriber,
            call.channels[side],
            call_id=call.name,
            language=call.language,
            speaker=party,
        )[0]
        for side, party in enumerate(PARTIES)
    ]
    merged = Transcript(
        call.name,
        call.language,
        round(call.channels.shape[1] / TARGET_SR, 3),
        tuple(
            sorted((u for t in heard for u in t.utterances), key=lambda u: (u.start_s, u.channel))
        ),
    )
    tracks = [
        PartyTrack("agent", 0, call.channels[0]),
        PartyTrack("customer", 1, call.channels[1]),
    ]
    return measure_call(tracks, merged), heard, merged


def rubric_outcomes(language: str, transcript: Transcript, metrics: CallMetrics) -> dict[str, str]:
    """Each item's outcome under the shipped rubric, as the nightly flow scores the call."""
    findings, _ = assess(
        rubric_for(Config(), language),
        transcript,
        metrics=as_metric_values(metrics),
        metric_spans=as_metric_spans(metrics),
    )
    return {f.item_id: f.outcome for f in findings}


def metric_errors(mono: CallMetrics, stereo: CallMetrics) -> dict[str, float | None]:
    """Mono minus stereo for each per-party number; None where either is NaN."""
    out: dict[str, float | None] = {}
    for name in PARTY_METRICS:
        m, s = float(getattr(mono, name)), float(getattr(stereo, name))
        out[name] = round(m - s, 3) if math.isfinite(m) and math.isfinite(s) else None
    return out


def bench_call(
    call: Call,
    transcriber: WhisperTranscriber,
    *,
    embedders: Sequence[str],
    single: bool,
    customer_db: float = 0.0,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """One stereo call: the mono mix diarized by each embedder, scored and measured; each
    channel alone as one voice; the stereo metrics as the reference.

    ``customer_db`` changes the customer's level in the mix (a quieter phone line).
    """
    gain = 10 ** (customer_db / 20)
    mono = ((call.channels[0] + gain * call.channels[1]) / 2).astype(np.float32)
    transcript, asr_s = transcribe(transcriber, mono, call_id=call.name, language=call.language)
    stereo, heard, merged = stereo_metrics(call, transcriber) if single else (None, [], None)
    rows: dict[str, dict[str, Any]] = {}
    singles = []
    for embedder in embedders:
        report, diarize_s = timed_diarize(mono, transcript, embedder)
        started = time.perf_counter()
        measured = measure_call([PartyTrack("unknown", 0, mono)], report.transcript)
        metrics_s = time.perf_counter() - started
        row: dict[str, Any] = {
            "file": call.name,
            "embedder": embedder,
            "language": call.language,
            "audio_s": round(mono.size / TARGET_SR, 2),
            "decision": report.reason,
            "voice_gain": report.voice_gain,
            "agent_scores": list(report.agent_scores),
            **score_call(call.channels, report),
            "asr_s": round(asr_s, 3),
            "diarize_s": round(diarize_s, 4),
            "metrics_s": round(metrics_s, 4),
            "mono": {name: _number(getattr(measured, name)) for name in PARTY_METRICS},
            "turns": [[u.speaker, u.start_s, u.text] for u in report.transcript.utterances],
        }
        if stereo is not None:
            row["stereo"] = {name: _number(getattr(stereo, name)) for name in PARTY_METRICS}
            row["metric_error"] = metric_errors(measured, stereo)
            on_stereo = rubric_outcomes(call.language, merged, stereo)  # type: ignore[arg-type]
            on_mono = rubric_outcomes(call.language, report.transcript, measured)
            row["rubric_differs"] = sorted(
                f"{item}: stereo {on_stereo[item]}, mono {on_mono[item]}"
                for item in on_stereo
                if on_stereo[item] != on_mono.get(item)
            )
            row["rubric_items"] = len(on_stereo)
            row["words_channels"] = sum(len(u.words) for t in heard for u in t.utterances)
            for side, party in enumerate(PARTIES):
                singles.append(
                    one_voice(call.channels[side], heard[side], f"{call.name} [{party}]", embedder)
                )
        rows[embedder] = row
    return rows, singles


def _number(value: float) -> float | None:
    return round(float(value), 3) if math.isfinite(value) else None


def one_voice(x: Track, transcript: Transcript, name: str, embedder: str) -> dict[str, Any]:
    """A one-voice track must come back unchanged (its transcript's speakers set to unknown)."""
    unknown = Transcript(
        transcript.call_id,
        transcript.language,
        transcript.duration_s,
        tuple(dataclasses.replace(u, speaker="unknown") for u in transcript.utterances),
    )
    report, diarize_s = timed_diarize(x, unknown, embedder)
    return {
        "file": name,
        "embedder": embedder,
        "words": sum(len(u.words) for u in transcript.utterances),
        "decision": report.reason,
        "voice_gain": report.voice_gain,
        "false_split": report.reason == "diarized",
        "diarize_s": round(diarize_s, 4),
    }


def mono_voice(path: Path, transcript: Transcript, embedder: str) -> dict[str, Any]:
    """A two-voice mono recording without channel truth: the decision and turns, to read."""
    x = decode(path).samples[0]
    report, _ = timed_diarize(x, transcript, embedder)
    return {
        "file": _name(path),
        "embedder": embedder,
        "words": sum(len(u.words) for u in transcript.utterances),
        "decision": report.reason,
        "voice_gain": report.voice_gain,
        "turns": [[u.speaker, u.start_s, u.text] for u in report.transcript.utterances],
    }


def summarise(rows: list[dict[str, Any]], singles: list[dict[str, Any]]) -> dict[str, Any]:
    """One embedder's rows (one per call) and one-voice checks, summed up."""
    words = sum(int(r["words"]) for r in rows)
    right = sum(int(r["words_right"]) for r in rows)
    split = [r for r in rows if r["decision"] == "diarized"]
    split_words = sum(int(r["words"]) for r in split)
    audio_min = sum(float(r["audio_s"]) for r in rows) / 60
    diarize_s = sum(float(r["diarize_s"]) for r in rows[1:])
    warm_min = sum(float(r["audio_s"]) for r in rows[1:]) / 60
    asr_s = sum(float(r["asr_s"]) for r in rows)
    summary: dict[str, Any] = {
        "calls": len(rows),
        "words": words,
        "word_accuracy": round(right / words, 4) if words else None,
        "mean_call_accuracy": round(float(np.mean([r["accuracy"] or 0.0 for r in rows])), 4),
        "calls_diarized": len(split),
        "word_accuracy_diarized_calls": (
            round(sum(int(r["words_right"]) for r in split) / split_words, 4)
            if split_words
            else None
        ),
        "agent_identified": sum(bool(r["agent_identified"]) for r in split),
        "diarize_s_per_audio_min": round(diarize_s / warm_min, 3) if warm_min else None,
        "diarize_first_call_s": rows[0]["diarize_s"] if rows else None,
        "asr_s_per_audio_min": round(asr_s / audio_min, 2) if audio_min else None,
        "metrics_s_per_audio_min": (
            round(sum(float(r["metrics_s"]) for r in rows) / audio_min, 4) if audio_min else None
        ),
    }
    if summary["diarize_s_per_audio_min"] and summary["asr_s_per_audio_min"]:
        summary["diarize_over_asr"] = round(
            summary["diarize_s_per_audio_min"] / summary["asr_s_per_audio_min"], 4
        )
    with_channels = [r for r in rows if "words_channels" in r]
    if with_channels:
        summary["asr_word_coverage"] = round(
            sum(int(r["words"]) for r in with_channels)
            / max(1, sum(int(r["words_channels"]) for r in with_channels)),
            3,
        )
        summary["metric_error"] = summarise_errors(with_channels)
        items = sum(int(r["rubric_items"]) for r in with_channels)
        differ = sum(len(r["rubric_differs"]) for r in with_channels)
        summary["rubric_outcomes_same_mono_vs_stereo"] = (
            round(1 - differ / items, 4) if items else None
        )
        summary["rubric_differs"] = {
            r["file"]: r["rubric_differs"] for r in with_channels if r["rubric_differs"]
        }
    if singles:
        summary["one_voice_tracks"] = len(singles)
        summary["one_voice_false_splits"] = sum(bool(s["false_split"]) for s in singles)
    return summary


def summarise_errors(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per metric: calls measured on mono, mean absolute error, and the worst error.

    Talk times also get the error relative to the stereo value (pooled over the calls).
    """
    out: dict[str, Any] = {
        "calls_not_measurable_on_mono": sum(r["metric_error"]["talk_agent_s"] is None for r in rows)
    }
    for name in PARTY_METRICS:
        errors = [r["metric_error"][name] for r in rows if r["metric_error"][name] is not None]
        entry: dict[str, Any] = {"calls": len(errors)}
        if errors:
            entry["mean_abs"] = round(float(np.mean(np.abs(errors))), 3)
            entry["worst"] = max(errors, key=abs)
        if name.startswith("talk_") and name.endswith("_s") and errors:
            truth = sum(r["stereo"][name] for r in rows if r["metric_error"][name] is not None)
            entry["relative"] = round(float(np.sum(np.abs(errors))) / truth, 4) if truth else None
        out[name] = entry
    return out


def print_row(row: dict[str, Any]) -> None:
    acc = row.get("accuracy")
    errors = row.get("metric_error") or {}
    talk = [errors.get("talk_agent_s"), errors.get("talk_customer_s")]
    print(
        f"{row['file'][:44]:44s} {row.get('embedder', ''):11s} {row.get('audio_s', ''):>6} s  "
        f"words {row['words']:>4}  {row['decision']:<22s} gain {row['voice_gain']:6.3f}  "
        + (f"accuracy {acc:.3f}" if isinstance(acc, float) else "")
        + ("" if "false_split" not in row else f"false split: {row['false_split']}")
        + (f"  talk error a/c {talk[0]}/{talk[1]} s" if "metric_error" in row else "")
    )


def available(embedders: Sequence[str]) -> tuple[list[str], list[str]]:
    """The embedders that can run here, and the ones skipped (not installed)."""
    found = importlib.util.find_spec("resemblyzer") is not None
    ok = [e for e in embedders if e != "resemblyzer" or found]
    return ok, [e for e in embedders if e not in ok]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="stereo calls, agent on the left")
    parser.add_argument("--json", type=Path, default=state_path("diarize.json"))
    parser.add_argument(
        "--no-single",
        action="store_true",
        help="skip the one-voice checks and the stereo metrics (a third of the ASR time)",
    )
    parser.add_argument(
        "--customer-db", type=float, default=0.0, help="customer level in the mix, dB (e.g. -12)"
    )
    parser.add_argument(
        "--embedders", default=",".join(EMBEDDERS), help="comma-separated: librosa,resemblyzer"
    )
    args = parser.parse_args(argv)
    embedders, missing = available([e for e in args.embedders.split(",") if e])
    files = args.files or [f for f in default_files() if f.exists()]
    calls, skipped = stereo_calls(files)
    if not args.files:
        calls.append(real_voices_call())
    skipped.extend({"embedder": e, "skipped": "not installed"} for e in missing)
    transcriber = WhisperTranscriber(AsrConfig())
    transcriber.model  # noqa: B018  (load once, outside the timings)
    rows: dict[str, list[dict[str, Any]]] = {e: [] for e in embedders}
    singles: dict[str, list[dict[str, Any]]] = {e: [] for e in embedders}
    for call in calls:
        by_embedder, ones = bench_call(
            call,
            transcriber,
            embedders=embedders,
            single=not args.no_single,
            customer_db=args.customer_db,
        )
        for embedder, row in by_embedder.items():
            rows[embedder].append(row)
            print_row(row)
        for one in ones:
            singles[one["embedder"]].append(one)
            print_row(one)
    mono = []
    if not args.files:
        for name in ONE_VOICE_MONO:
            x = decode(DATA / name).samples[0]
            transcript, _ = transcribe(transcriber, x, call_id=name, language="en")
            for embedder in embedders:
                one = one_voice(x, transcript, _name(DATA / name), embedder)
                singles[embedder].append(one)
                print_row(one)
        for name in TWO_VOICE_MONO:
            x = decode(DATA / name).samples[0]
            transcript, _ = transcribe(transcriber, x, call_id=name, language="en")
            for embedder in embedders:
                mono.append(mono_voice(DATA / name, transcript, embedder))
                print_row(mono[-1])
    summary = {
        embedder: {**summarise(rows[embedder], singles[embedder]), "customer_db": args.customer_db}
        for embedder in embedders
    }
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "summary": summary,
                "calls": [row for e in embedders for row in rows[e]],
                "one_voice": [one for e in embedders for one in singles[e]],
                "mono": mono,
                "skipped": skipped,
            },
            indent=1,
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
