"""Transcripts rebuilt column by column equal the ones rebuilt row by row."""

from __future__ import annotations

import dataclasses
import random

import pyarrow as pa
import pytest

from pipeline import rows
from pipeline.transcript import words_from_columns
from pipeline.types import Transcript, Utterance, Word
from pipeline.warehouse import SCHEMAS


def _call(call_id: str, n: int, rng: random.Random) -> Transcript:
    utts = []
    for i in range(n):
        words = tuple(
            Word(i + k * 0.25, i + k * 0.25 + 0.2, f" w{k}", rng.randint(1, 16) / 16)
            for k in range(rng.randint(0, 4))
        )
        speaker = rng.choice(["agent", "customer", "unknown"])
        utts.append(Utterance(speaker, float(i), i + 0.9, f"text {i}", words, 0.75, i % 2))  # type: ignore[arg-type]
    return Transcript(call_id, "en", n + 1.0, tuple(utts))


def _table(calls: list[Transcript], rng: random.Random) -> tuple[pa.Table, list[dict]]:
    found = [r for t in calls for r in rows.utterance_rows(t)]
    rng.shuffle(found)  # any stored order
    return pa.Table.from_pylist(found, schema=SCHEMAS["utterances"]), found


def test_columns_give_the_row_by_row_transcripts_in_the_asked_order() -> None:
    rng = random.Random(5)
    calls = [_call(f"C{i}", rng.randint(0, 6), rng) for i in range(20)]
    table, found = _table(calls, rng)
    wanted = [*reversed(calls), Transcript("none", "en", 3.0, ())]  # no rows: no utterances
    spec = [(t.call_id, t.language, t.duration_s) for t in wanted]
    rebuilt = rows.transcripts_from_table(spec, table.slice(0))  # a table of many chunks too
    by_rows = [
        rows.transcript_from_rows(c, lang, d, [r for r in found if r["call_id"] == c])
        for c, lang, d in spec
    ]
    assert rebuilt == by_rows == wanted
    chunked = pa.concat_tables([table.slice(0, 17), table.slice(17)])
    assert rows.transcripts_from_table(spec, chunked) == wanted


def test_missing_values_are_converted_as_row_by_row() -> None:
    rng = random.Random(6)
    calls = [_call("C1", 3, rng)]
    _, found = _table(calls, rng)
    found[0] = {**found[0], "text": None, "words": None}
    table = pa.Table.from_pylist(found, schema=SCHEMAS["utterances"])
    spec = [("C1", "en", 4.0)]
    assert rows.transcripts_from_table(spec, table) == [
        rows.transcript_from_rows("C1", "en", 4.0, found)
    ]


def test_an_unknown_speaker_is_refused_as_row_by_row() -> None:
    rng = random.Random(7)
    _, found = _table([_call("C1", 2, rng)], rng)
    found[1] = {**found[1], "speaker": "supervisor"}
    table = pa.Table.from_pylist(found, schema=SCHEMAS["utterances"])
    with pytest.raises(
        ValueError, match="speaker must be agent, customer or unknown, got 'supervisor'"
    ):
        rows.transcripts_from_table([("C1", "en", 3.0)], table)


def test_words_from_columns_are_words() -> None:
    made = words_from_columns([0.5, 1.0], [0.9, 1.4], [" Hi", " there"], [0.875, 0.5])
    assert made == [Word(0.5, 0.9, " Hi", 0.875), Word(1.0, 1.4, " there", 0.5)]
    assert hash(made[0]) == hash(Word(0.5, 0.9, " Hi", 0.875))
    assert repr(made[1]) == repr(Word(1.0, 1.4, " there", 0.5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made[0].text = "changed"  # type: ignore[misc]
