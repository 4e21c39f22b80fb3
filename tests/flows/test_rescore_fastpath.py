"""Re-scoring from the warehouse gives the findings and scores of the plain path.

The plain path is what the nightly flow does with a transcript in memory, ``assess``,
here with spaCy's own tokenizer and PhraseMatcher run on each whole utterance (how
earmark matched before its per-word caches). The fast path is ``rescore_partition``:
transcripts rebuilt from the Parquet columns, tokens put together from cached pieces,
phrases found with a trie, calls scored in chunks on forked workers. Both run the
shipped en, zh and ru rubrics on every rubric example and on the sample calls.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from rowkit import analysis
from threadpoolctl import threadpool_limits

import flows.rescore as rescore
from models.embed import get_embedder
from models.nlp import SpacyAnalyzer, SpacyPhraseFinder, SpacyTokens, get_analyzer
from pipeline import rows
from pipeline import warehouse as wh
from pipeline.row_records import CallRow
from pipeline.rubric.builtin import PhraseDetector
from pipeline.rubric.detectors import detectors
from pipeline.rubric.engine import CompiledRubric, compile_rubric, evaluate
from pipeline.rubric.schema import Rubric, load_rubric
from pipeline.scoring import assess
from pipeline.types import Recording, Transcript, Utterance, Word

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("en", "zh", "ru")
DATE = "2026-11-20"


class DocAnalyzer:
    """The reference: spaCy's tokenizer on each whole text, spaCy's PhraseMatcher on its Doc."""

    def __init__(self, analyzer: SpacyAnalyzer) -> None:
        self.analyzer = analyzer
        self.language = analyzer.language
        self.has_lemmas = analyzer.has_lemmas

    def normalize(self, text: str) -> str:
        return self.analyzer.normalize(text)

    def tokenize(self, text: str) -> SpacyTokens:
        return SpacyTokens.of_doc(self.analyzer, self.analyzer.nlp.make_doc(text))

    def tokenize_many(self, texts: Sequence[str]) -> list[SpacyTokens]:
        return [self.tokenize(t) for t in texts]

    def phrase_finder(self, phrases: Sequence[str], *, lemma: bool = False) -> DocPhraseFinder:
        return DocPhraseFinder(self.analyzer.phrase_finder(phrases, lemma=lemma))

    def pattern_finder(self, patterns: Sequence[Sequence[dict[str, Any]]]) -> Any:
        return self.analyzer.pattern_finder(patterns)


class DocPhraseFinder:
    def __init__(self, finder: SpacyPhraseFinder) -> None:
        self.finder = finder

    def find(self, tokens: SpacyTokens) -> list[tuple[int, int, int]]:
        doc = tokens.lemmatized() if self.finder.lemma else tokens.doc
        return [(s, e, self.finder.keys[k]) for k, s, e in self.finder.matcher(doc)]


def _rubric(language: str) -> Rubric:
    return load_rubric(ROOT / "rubrics" / language / "inbound-support.yaml")


def _words(text: str, start_s: float, language: str, rng: random.Random) -> tuple[Word, ...]:
    # Whisper's words: " word," in English and Russian, a few characters at a time in Chinese
    pieces = (
        [text[i : i + 2] for i in range(0, len(text), 2)]
        if language == "zh"
        else [" " + w for w in text.split()]
    )
    # probabilities a float32 column stores exactly, so the stored call is the same call
    return tuple(
        Word(start_s + 0.3 * i, start_s + 0.3 * i + 0.25, piece, rng.randint(4, 16) / 16)
        for i, piece in enumerate(pieces)
    )


def _transcript(
    call_id: str, language: str, turns: Sequence[tuple[str, float, str]], *, words: bool, seed: int
) -> Transcript:
    rng = random.Random(seed)
    utterances = []
    for speaker, start_s, text in turns:
        w = _words(text, start_s, language, rng) if words else ()
        end_s = w[-1].end_s if w else start_s + 2.0
        utterances.append(
            Utterance(
                speaker,
                start_s,
                end_s,
                text,
                w,
                rng.randint(8, 16) / 16,
                int(speaker == "customer"),
            )
        )
    duration_s = max((u.end_s for u in utterances), default=0.0) + 5.0
    return Transcript(call_id, language, duration_s, tuple(utterances))


def _example_calls(language: str) -> list[Transcript]:
    """Each item's examples as one call per item, and all of them shuffled into calls."""
    said = []
    for item in _rubric(language).items:
        speaker = "customer" if item.speaker == "customer" else "agent"
        said += [(speaker, t) for t in (*item.examples.match, *item.examples.no_match)]
    rng = random.Random(len(said))
    shuffled = rng.sample(said, len(said))
    groups = [said[i : i + 12] for i in range(0, len(said), 12)]
    groups += [shuffled[i : i + 9] for i in range(0, len(shuffled), 9)]
    return [
        _transcript(
            f"{language}-ex{n}",
            language,
            [(speaker, 4.0 * k + 0.5, text) for k, (speaker, text) in enumerate(group)],
            words=n % 3 != 0,
            seed=n,
        )
        for n, group in enumerate(groups)
    ]


def _sample_calls(language: str) -> list[Transcript]:
    labels = json.loads((ROOT / "samples" / "labels.json").read_text(encoding="utf-8"))
    calls = []
    for n, label in enumerate(labels.values()):
        if label["language"] != language:
            continue
        mono = label["agent_channel"] is None
        turns = [
            ("unknown" if mono else t["speaker"], t["start_s"], t["text"]) for t in label["turns"]
        ]
        for words in (True, False):
            calls.append(
                _transcript(
                    f"{label['call_id']}-{'w' if words else 't'}",
                    language,
                    turns,
                    words=words,
                    seed=n,
                )
            )
    return calls


def _measured(n: int) -> dict[str, Any]:
    """What the audio stage measured of call ``n``, as it goes into a ``calls`` row."""
    return {
        "metrics": {"longest_dead_air_s": float(n % 17), "interruptions_agent": float(n % 5)},
        "metric_spans": [{"metric": "longest_dead_air_s", "start_s": 1.0, "end_s": 1.0 + n % 17}],
    }


def _metrics(n: int) -> Any:
    measured = _measured(n)
    return rows.call_metrics(
        rows.call_from_row({**measured["metrics"], "metric_spans": measured["metric_spans"]})
    )


@pytest.fixture(scope="module")
def calls() -> list[Transcript]:
    return [c for lang in LANGUAGES for c in (*_example_calls(lang), *_sample_calls(lang))]


@pytest.fixture(scope="module")
def plain() -> dict[str, CompiledRubric]:
    return {
        lang: compile_rubric(
            _rubric(lang), DocAnalyzer(get_analyzer(lang)), embedder=get_embedder()
        )
        for lang in LANGUAGES
    }


@pytest.fixture(scope="module")
def fast() -> dict[str, CompiledRubric]:
    return {
        lang: compile_rubric(_rubric(lang), get_analyzer(lang), embedder=get_embedder())
        for lang in LANGUAGES
    }


def test_evaluate_finds_what_spacy_finds_on_whole_utterances(
    calls: list[Transcript], plain: dict[str, CompiledRubric], fast: dict[str, CompiledRubric]
) -> None:
    detected = 0
    for n, call in enumerate(calls):
        metrics, spans = _metrics(n)
        expected = evaluate(plain[call.language], call, metrics=metrics, metric_spans=spans)
        assert evaluate(fast[call.language], call, metrics=metrics, metric_spans=spans) == expected
        detected += sum(f.detected for f in expected)
    assert detected > 300  # real matches were compared, not only misses


def _warehouse(root: Path, calls: Sequence[Transcript]) -> list[dict[str, Any]]:
    call_rows, utterance_rows = [], []
    for n, t in enumerate(calls):
        rec = Recording(t.call_id, f"{t.call_id}.wav", "", "0" * 64, DATE, 0)
        audio = {"duration_s": t.duration_s, "language": t.language, **_measured(n)}
        call_rows.append(rows.call_row(rec, analysis(**audio), t, "ok"))
        utterance_rows.extend(rows.utterance_rows(t))
    random.Random(3).shuffle(utterance_rows)  # the rebuild must not rely on the stored order
    wh.upsert(root, "calls", {DATE: call_rows})
    wh.upsert(root, "utterances", {DATE: utterance_rows})
    return call_rows


def _table(root: Path, name: str) -> list[dict[str, Any]]:
    found = wh.read_table(root, name).drop_columns([wh.PARTITION]).to_pylist()
    return sorted(found, key=lambda r: (r["call_id"], r.get("item_id", "")))


@pytest.mark.parametrize("workers", [1, 2])
def test_rescore_writes_what_assess_gives_on_the_calls_in_memory(
    calls: list[Transcript],
    plain: dict[str, CompiledRubric],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    monkeypatch.setattr(rescore, "CHUNK_CALLS", 7)  # many chunks, shared by the workers
    call_rows = _warehouse(tmp_path, calls)
    findings, scores = [], []
    # the calls are embedded here as rescore embeds them: on one BLAS thread (the last bits
    # of a vector depend on how a product is split, and a log-odds shown to 3 places with them)
    with threadpool_limits(limits=1, user_api="blas"):
        for row, call in zip(call_rows, calls, strict=True):
            metrics, spans = rows.call_metrics(rows.call_from_row(row))
            f, s = assess(plain[call.language], call, metrics=metrics, metric_spans=spans)
            findings += [rows.finding_row(x) for x in f]
            scores.append(rows.score_row(s))
    paths = tuple(str(ROOT / "rubrics" / lang / "inbound-support.yaml") for lang in LANGUAGES)

    assert rescore.rescore_partition(str(tmp_path), DATE, paths, workers=workers) == (
        len(calls),
        (),
    )
    assert _table(tmp_path, "findings") == sorted(
        findings, key=lambda r: (r["call_id"], r["item_id"])
    )
    assert _table(tmp_path, "scores") == sorted(scores, key=lambda r: r["call_id"])


class NotForkSafe(PhraseDetector):
    """``phrase.v1`` that does not say a forked copy of it works (as ``semantic.v1``,
    whose torch model hangs in a forked worker)."""

    fork_safe = False


detectors.register("test.not-fork-safe.v1", func=NotForkSafe)


class _NoPool:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a worker process was started")


@pytest.mark.parametrize(
    ("detector", "forks"), [("phrase.v1", True), ("test.not-fork-safe.v1", False)]
)
def test_workers_are_forked_only_for_detectors_that_survive_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, detector: str, forks: bool
) -> None:
    monkeypatch.setattr(rescore, "CHUNK_CALLS", 1)
    monkeypatch.setattr(rescore, "ProcessPoolExecutor", _NoPool)
    rubric = tmp_path / "r.yaml"
    rubric.write_text(
        "schema_version: 1\nid: r\nversion: 1\nlanguage: en\nitems:\n"
        f"  - {{id: greeting, expect: present, weight: 1, detector: {detector},"
        " params: {phrases: [thanks for calling]}}\n"
    )
    calls = [
        _transcript(f"C{n}", "en", [("agent", 1.0, "Thanks for calling Acme")], words=True, seed=n)
        for n in range(3)
    ]
    _warehouse(tmp_path / "wh", calls)
    if forks:
        with pytest.raises(AssertionError, match="a worker process was started"):
            rescore.rescore_partition(str(tmp_path / "wh"), DATE, (str(rubric),), workers=2)
    else:
        assert rescore.rescore_partition(str(tmp_path / "wh"), DATE, (str(rubric),), workers=2) == (
            3,
            (),
        )
        assert {r["outcome"] for r in _table(tmp_path / "wh", "findings")} == {"pass"}


def test_a_chunk_is_scored_on_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker multiplies small matrices; a BLAS pool per worker only contends."""
    import pyarrow as pa
    from threadpoolctl import threadpool_info

    seen: list[int] = []

    def record(compiled: object, calls: object, utterances: object) -> tuple[list, list]:
        seen.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
        return [], []

    monkeypatch.setattr(rescore, "score_calls", record)
    table = pa.table({"call_id": ["c1"]})
    call = CallRow(call_id="c1", source_path="c1.wav", audio_sha256="", size_bytes=0, status="ok")
    part = rescore._Partition({}, [call], table, {"c1": [0]})
    assert rescore.score_chunk(part, 0, 1) == ([], [])
    assert seen and set(seen) == {1}
