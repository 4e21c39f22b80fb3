"""Selective beam re-decoding, measured: which greedy windows a beam decodes better.

Greedy decoding (``beam_size = 1``, the default until the eighteenth session) drops words on long telephone
windows. The idea measured here: decode every window greedily, pick the windows whose
greedy output looks worst by its own score (``avg_logprob`` below a threshold), decode
only those again with beam search from the SAME encoder output (no second encoder pass),
and keep the beam's text where the model scores it higher without losing words.

For each call of ``bench/throughput.py``'s set (the ``tests/data`` mixes and, when
``../shared/realcalls/`` is there, its English call laid out as stereo) and each window
layout (``conversation``, ``channel``), one model replica with one thread (as each of the
night's workers runs):

- ``greedy``: every window greedily; encoder and decoder seconds;
- ``beam_all``: every window with ``--beam`` (its decoder seconds);
- ``below_<threshold>``: windows whose greedy ``avg_logprob`` is below the threshold are
  decoded again with ``--beam`` (their encoder output cut out of the batch, re-decoded in
  batches of ``--batch``; those seconds measured), the beam's text kept when its
  ``avg_logprob`` is higher and it keeps at least ``KEEP_WORDS`` of the greedy words.

``--window-s 10,15,20,30`` and ``--encode padded,speech`` repeat all of it for each
window length (``[asr] window_s``: seconds of speech per window, the VAD splitting speech
at its pauses to fit) and each encoder input (``[asr] encoder_input``: features padded to
30 s, or cut to the batch's speech, at least 10 s); ``--thresholds ""`` measures greedy
and beam only.

WER is pooled over the calls' reference words (time-ordered words of both channels),
with each call's own WER and the errors by kind (substitutions, deletions, insertions)
beside it. Decoding seconds are CPU-bound and measured on a
shared machine: the load average is reported with them.

Run: ``.venv/bin/python bench/redecode.py [--beam N] [--thresholds -0.3,-0.4,-0.45]
[--window-s 30] [--encode padded] [--layouts conversation,channel]``;
JSON to ``.state/bench/redecode.json`` (``--json``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from benchenv import REALCALLS, state_path, use_checkout  # bench/benchenv.py

use_checkout(environment=True)

from throughput import load_1m, write_mixes, write_realcalls  # noqa: E402

from models.asr import WhisperTranscriber, _segment  # noqa: E402
from models.asr import _batches as batches  # noqa: E402  (the transcriber's own batching)
from models.windows import (  # noqa: E402
    DecodeSettings,
    Encoded,
    Window,
    WindowDecoder,
    iter_track_segments,
    iter_window_segments,
)
from pipeline import TARGET_SR  # noqa: E402
from pipeline.audio import decode  # noqa: E402
from pipeline.config import AsrConfig  # noqa: E402
from pipeline.evaluation import word_error_rate as wer  # noqa: E402
from pipeline.evaluation import word_errors  # noqa: E402
from pipeline.evaluation import words as ref_words  # noqa: E402
from pipeline.packing import unpack  # noqa: E402

KEEP_WORDS = 0.9
"""The beam's text is kept only when it has at least this share of the greedy words:
on these calls a beam that came back much shorter had dropped speech (its own deletions)."""
Output = list[dict[str, Any]]
"""One decoded window (faster-whisper's segment dicts, words included)."""


@dataclass
class Layout:
    """One call in one window layout: its groups of windows (one group per track, or one
    for the conversation), each window's greedy and beam output, and the seconds spent."""

    groups: list[tuple[Window, ...]]
    encoded: list[list[Encoded]] = field(default_factory=list)
    greedy: list[list[Output]] = field(default_factory=list)
    beam: list[list[Output]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def decode_all(
    decoder: WindowDecoder, encoded: Sequence[Encoded], beam: int
) -> tuple[list[Output], float]:
    """Every encoded batch decoded with ``beam``; the seconds it took."""
    started, out = time.monotonic(), []
    for batch in encoded:
        decoded, _ = decoder.decode(
            batch,
            language="en",
            settings=DecodeSettings(beam_size=beam),
            last_speech_s=batch.windows[0].offset_s,
        )
        out.extend(decoded)
    return out, time.monotonic() - started


def measure(decoder: WindowDecoder, groups: list[tuple[Window, ...]], args: Any) -> Layout:
    """Encode each group once; decode it greedily and with ``args.beam``."""
    layout = Layout(groups)
    started = time.monotonic()
    layout.encoded = [[decoder.encode(b) for b in batches(g, args.batch)] for g in groups]
    layout.seconds["encode_s"] = time.monotonic() - started
    for name, beam in (("greedy", 1), ("beam", args.beam)):
        spent = 0.0
        for encoded in layout.encoded:
            out, seconds = decode_all(decoder, encoded, beam)
            getattr(layout, name).append(out)
            spent += seconds
        layout.seconds[f"{name}_decode_s"] = spent
    return layout


def selected(layout: Layout, threshold: float) -> list[tuple[int, int]]:
    """``(group, window)`` of every window whose greedy ``avg_logprob`` is below ``threshold``."""
    return [
        (g, w)
        for g, outs in enumerate(layout.greedy)
        for w, out in enumerate(outs)
        if out[0]["avg_logprob"] < threshold
    ]


def redecode_seconds(decoder: WindowDecoder, layout: Layout, picked: Sequence, args: Any) -> float:
    """Seconds to decode only the ``picked`` windows again with the beam, their encoder
    output cut out of the batches they were encoded in (no second encoder pass)."""
    import ctranslate2

    rows = {
        g: [row for e in enc for row in np.asarray(e.output)]
        for g, enc in enumerate(layout.encoded)
    }
    # windows encoded to their speech (--encode speech) differ in length: batched by length
    by_length = sorted(picked, key=lambda gw: rows[gw[0]][gw[1]].shape[0])
    parts = [
        part
        for _, same in itertools.groupby(by_length, key=lambda gw: rows[gw[0]][gw[1]].shape[0])
        for part in batches(list(same), args.batch)
    ]
    spent = 0.0
    for part in parts:
        output = np.ascontiguousarray(np.stack([rows[g][w] for g, w in part]))
        windows = tuple(layout.groups[g][w] for g, w in part)
        batch = Encoded(windows, ctranslate2.StorageView.from_array(output), decoder.model_key)
        spent += decode_all(decoder, [batch], args.beam)[1]
    return spent


def better(greedy: Output, beam: Output) -> bool:
    """The beam's text is kept: the model scores it higher and it lost no speech."""
    g, b = greedy[0], beam[0]
    words_kept = len(b["text"].split()) >= KEEP_WORDS * len(g["text"].split())
    return bool(b["avg_logprob"] > g["avg_logprob"] and words_kept)


def chosen(layout: Layout, picked: Sequence[tuple[int, int]]) -> list[list[Output]]:
    """The greedy outputs with the picked windows' beam output where :func:`better`."""
    out = [list(g) for g in layout.greedy]
    for g, w in picked:
        if better(layout.greedy[g][w], layout.beam[g][w]):
            out[g][w] = layout.beam[g][w]
    return out


def time_ordered(heard: Any, conversation: bool, outputs: list[list[Output]]) -> str:
    """Both channels' words in order of their start, as the call's transcript holds them."""
    if conversation:
        raw = [_segment(s) for s in iter_window_segments(outputs[0])]
        per_track = unpack(raw, heard.conversation.pieces, tracks=len(heard.tracks))
        words = [w for segments in per_track for s in segments for w in s.words]
    else:
        words = [
            w
            for outs, speech in zip(outputs, heard.speech, strict=True)
            for s in iter_track_segments(outs, speech, sr=TARGET_SR)
            for w in _segment(s).words
        ]
    return " ".join(w.text for w in sorted(words, key=lambda w: w.start_s))


def pooled(refs: Sequence[str], hyps: Sequence[str]) -> dict[str, Any]:
    sizes = [len(ref_words(r)) for r in refs]
    per_call = [wer(r, h) for r, h in zip(refs, hyps, strict=True)]
    errors = sum(e * n for e, n in zip(per_call, sizes, strict=True))
    kinds = [word_errors(r, h) for r, h in zip(refs, hyps, strict=True)]
    sdi = [[e.substitutions, e.deletions, e.insertions] for e in kinds]
    return {
        "wer": round(errors / sum(sizes), 4),
        "per_call": [round(e, 3) for e in per_call],
        "sdi": [sum(k) for k in zip(*sdi, strict=True)],
        "sdi_per_call": sdi,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--thresholds", default="-0.3,-0.4,-0.45")
    parser.add_argument("--realcalls", type=Path, default=REALCALLS)
    parser.add_argument("--window-s", default="30", help="[asr] window_s values, a list")
    parser.add_argument("--encode", default="padded", help="[asr] encoder_input values")
    parser.add_argument("--layouts", default="conversation,channel")
    parser.add_argument("--json", type=Path, default=state_path("redecode.json"))
    args = parser.parse_args(argv)
    thresholds = [float(t) for t in args.thresholds.split(",") if t]
    report: dict[str, Any] = {"beam": args.beam, "keep_words": KEEP_WORDS, "layouts": {}}
    with tempfile.TemporaryDirectory() as tmp:
        calls = {**write_mixes(Path(tmp)), **write_realcalls(Path(tmp), args.realcalls)}
        report["calls"] = [p.name for p in calls]
        audio = [list(decode(p, sr=TARGET_SR).samples) for p in calls]
        for window_s in [int(w) for w in args.window_s.split(",")]:
            rows = window_rows(audio, list(calls.values()), window_s, thresholds, args)
            report["layouts"].update(rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    return 0


def window_rows(
    audio: Sequence[list[Any]],
    refs: Sequence[str],
    window_s: int,
    thresholds: Sequence[float],
    args: Any,
) -> dict[str, Any]:
    """Every ``--encode`` × ``--layouts`` row of the calls cut into ``window_s`` windows
    (the VAD run again: it splits speech longer than a window at its pauses)."""
    transcriber = WhisperTranscriber(AsrConfig(workers=1, cpu_threads=1, window_s=window_s))
    rows: dict[str, Any] = {}
    with transcriber.replicas.hold() as model:
        heard = [transcriber.hear(tracks) for tracks in audio]
        for encode in args.encode.split(","):
            decoder = WindowDecoder(model, "bench", trim=encode == "speech")
            for name in args.layouts.split(","):
                key = (
                    name if (window_s, encode) == (30, "padded") else f"{name}-{window_s}s-{encode}"
                )
                rows[key] = layout_row(decoder, heard, refs, name, thresholds, args)
                print(json.dumps({key: rows[key]}), flush=True)
    return rows


def layout_row(
    decoder: WindowDecoder,
    heard: Sequence[Any],
    refs: Sequence[str],
    name: str,
    thresholds: Sequence[float],
    args: Any,
) -> dict[str, Any]:
    """Greedy, beam on every window, and each threshold's selective re-decoding, pooled
    over the calls in one window layout."""
    conversation = name == "conversation"
    load = load_1m()
    layouts = [
        measure(
            decoder,
            [h.conversation.windows] if conversation else [s.windows for s in h.speech],
            args,
        )
        for h in heard
    ]
    windows = sum(len(g) for lay in layouts for g in lay.groups)
    seconds = {k: round(sum(lay.seconds[k] for lay in layouts), 1) for k in layouts[0].seconds}
    base_s = seconds["encode_s"] + seconds["greedy_decode_s"]

    def text_of(pick: Any) -> list[str]:
        return [
            time_ordered(h, conversation, pick(lay)) for h, lay in zip(heard, layouts, strict=True)
        ]

    row: dict[str, Any] = {"load": load, "windows": windows, **seconds}
    row["greedy"] = pooled(refs, text_of(lambda lay: lay.greedy))
    row["beam_all"] = pooled(refs, text_of(lambda lay: lay.beam))
    row["beam_all"]["time_vs_greedy"] = round(
        (seconds["encode_s"] + seconds["beam_decode_s"]) / base_s, 3
    )
    for threshold in thresholds:
        picks = [selected(lay, threshold) for lay in layouts]
        extra_s = sum(
            redecode_seconds(decoder, lay, p, args) for lay, p in zip(layouts, picks, strict=True)
        )
        texts = [
            time_ordered(h, conversation, chosen(lay, p))
            for h, lay, p in zip(heard, layouts, picks, strict=True)
        ]
        row[f"below_{threshold}"] = {
            **pooled(refs, texts),
            "redecoded": sum(len(p) for p in picks),
            "kept": sum(
                better(lay.greedy[g][w], lay.beam[g][w])
                for lay, p in zip(layouts, picks, strict=True)
                for g, w in p
            ),
            "redecode_s": round(extra_s, 1),
            "time_vs_greedy": round((base_s + extra_s) / base_s, 3),
        }
    return row


if __name__ == "__main__":
    raise SystemExit(main())
