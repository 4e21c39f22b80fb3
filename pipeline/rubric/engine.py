"""Evaluate a rubric on a call: constraints, detection, applicability, outcome, evidence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline import errors
from pipeline.protocols import Embedder, TextAnalyzer
from pipeline.rubric.detectors import CallText, Detector, Hit, build_detector
from pipeline.rubric.schema import Item, NaWhen, Rubric, Window
from pipeline.types import Evidence, Finding, Outcome, Span, Transcript, Utterance

UNATTRIBUTED_CONFIDENCE = 0.6
"""Confidence factor when the call has no speaker roles, so speaker constraints cannot apply."""


@dataclass(frozen=True, slots=True)
class CompiledItem:
    item: Item
    detector: Detector
    na_detector: Detector | None
    digest: str = ""
    """:meth:`Item.digest`, worked out once, stored with every finding."""


@dataclass(frozen=True, slots=True)
class CompiledRubric:
    """A rubric with its detectors built for one language's analyzer (build once, reuse)."""

    rubric: Rubric
    analyzer: TextAnalyzer
    items: tuple[CompiledItem, ...]
    embedder: Embedder | None = None
    """The meaning model the rubric's meaning items were built with (``None``: none)."""


ALL_INPUTS = frozenset({"text", "words", "metrics"})


def compile_rubric(
    rubric: Rubric,
    analyzer: TextAnalyzer,
    *,
    available: frozenset[str] = ALL_INPUTS,
    embedder: Embedder | None = None,
) -> CompiledRubric:
    """Build every item's detectors for one language.

    Parameters
    ----------
    rubric
        A validated rubric.
    analyzer
        The language's text analyzer.
    available
        What the run produces (``text``, ``words``, ``metrics``): an item whose
        detector needs more is refused here, before any compute is spent.
    embedder
        The meaning model, for ``meaning.v1`` items (``R010`` without it).

    Raises
    ------
    RubricError
        ``R003``/``R005`` bad detector name or params, ``R008`` unmet requirement.
    """
    items = []
    for item in rubric.items:
        where = f"{rubric.source} item {item.id!r}"
        detector = build_detector(
            item.detector, item.params, analyzer, where=where, embedder=embedder
        )
        na_detector = None
        if item.na_when is not None:
            cond = item.na_when.condition
            na_detector = build_detector(
                cond.detector, cond.params, analyzer, where=f"{where} na_when", embedder=embedder
            )
        for d in (detector, na_detector):
            missing = set(getattr(d, "requires", ())) - available if d is not None else set()
            if missing:
                raise errors.DETECTOR_NEEDS(where=where, needs=", ".join(sorted(missing)))
        items.append(CompiledItem(item, detector, na_detector, item.digest()))
    uses = embedder is not None and any(getattr(c.detector, "uses_embedder", False) for c in items)
    return CompiledRubric(
        rubric=rubric, analyzer=analyzer, items=tuple(items), embedder=embedder if uses else None
    )


def prepare_call(
    transcript: Transcript,
    analyzer: TextAnalyzer,
    *,
    metrics: Mapping[str, float] | None = None,
    metric_spans: Mapping[str, tuple[Span, ...]] | None = None,
    vectors: npt.NDArray[np.float32] | None = None,
) -> CallText:
    """Normalise and tokenise every utterance once, remembering where each word lies."""
    texts, spans = (
        zip(*(_normalized(u, analyzer) for u in transcript.utterances), strict=True)
        if transcript.utterances
        else ((), ())
    )
    tokens = analyzer.tokenize_many(list(texts))
    return CallText(
        transcript=transcript,
        texts=tuple(texts),
        tokens=tuple(tokens),
        spans=tuple(spans),
        metrics=dict(metrics or {}),
        metric_spans=dict(metric_spans or {}),
        vectors=vectors if vectors is not None and len(vectors) == len(texts) else None,
    )


def _normalized(utt: Utterance, analyzer: TextAnalyzer) -> tuple[str, tuple[tuple[int, int], ...]]:
    if not utt.words:
        return analyzer.normalize(utt.text), ()
    joiner = "" if analyzer.language == "zh" else " "
    norms = list(map(analyzer.normalize, [word.text for word in utt.words]))
    return joiner.join(filter(None, norms)), _word_spans(norms, len(joiner))


def _word_spans(norms: Sequence[str], step: int) -> tuple[tuple[int, int], ...]:
    """Each normalised word's characters in their join (``step`` characters apart).

    A word that normalises to nothing gets the empty span where it would have been.
    """
    spans = []
    pos = 0
    for norm in norms:
        n = len(norm)
        if n and pos:  # a joiner before every kept word but the first
            pos += step
        spans.append((pos, pos + n))
        pos += n
    return tuple(spans)


def evaluate(
    compiled: CompiledRubric,
    transcript: Transcript,
    *,
    metrics: Mapping[str, float] | None = None,
    metric_spans: Mapping[str, tuple[Span, ...]] | None = None,
    vectors: npt.NDArray[np.float32] | None = None,
) -> list[Finding]:
    """Evaluate every item of ``compiled`` on one call.

    Parameters
    ----------
    compiled
        From :func:`compile_rubric`.
    transcript
        The call's utterances (already redacted).
    metrics
        Numbers other stages produced for the call (for metric detectors).
    metric_spans
        Where each metric happened, for evidence.
    vectors
        The utterances' stored meaning vectors (embedded here when absent).

    Returns
    -------
    list of Finding
        One per item, in rubric order, with evidence for every hit.
    """
    call = prepare_call(
        transcript,
        compiled.analyzer,
        metrics=metrics,
        metric_spans=metric_spans,
        vectors=vectors,
    )
    facts = _CallFacts(call.transcript)
    return [_evaluate_item(compiled.rubric, c, call, facts) for c in compiled.items]


class _CallFacts:
    """What every item asks about a call, worked out once per call, not once per item:
    whether it has speaker roles, its ASR confidence, the utterances in each window."""

    __slots__ = ("_confidence", "_eligible", "attributed", "transcript")

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript
        self.attributed = _attributed(transcript)
        self._confidence: float | None = None
        self._eligible: dict[tuple[str, float, float], list[int]] = {}

    @property
    def asr_confidence(self) -> float:
        if self._confidence is None:
            self._confidence = self.transcript.asr_confidence
        return self._confidence

    def eligible(self, speaker: str, window: Window | None) -> list[int]:
        """:func:`eligible_utterances`, a fresh list each time (a detector may change it)."""
        lo, hi = _bounds(self.transcript, window)
        found = self._eligible.get((speaker, lo, hi))
        if found is None:
            found = _eligible(self.transcript, speaker, lo, hi, attributed=self.attributed)
            self._eligible[(speaker, lo, hi)] = found
        return list(found)


def _evaluate_item(
    rubric: Rubric, compiled: CompiledItem, call: CallText, facts: _CallFacts
) -> Finding:
    item = compiled.item
    hits = compiled.detector.find(call, facts.eligible(item.speaker, item.window))
    detected = bool(hits)
    outcome: Outcome
    if (
        compiled.na_detector is not None
        and item.na_when is not None
        and _not_applicable(compiled.na_detector, item.na_when, call, facts)
    ):
        outcome = "na"
    elif item.expect == "present":
        outcome = "pass" if detected else "fail"
    else:
        outcome = "fail" if detected else "pass"
    utterances = call.transcript.utterances
    if detected:
        confidence = max(
            utterances[h.utterance].confidence if h.utterance >= 0 else 1.0 for h in hits
        )
    else:
        confidence = facts.asr_confidence
    if not facts.attributed and item.speaker != "any":
        confidence *= UNATTRIBUTED_CONFIDENCE
    if outcome == "fail" and confidence < item.min_confidence:
        outcome = "na"
    evidence = tuple(_evidence(h, utterances) for h in hits)
    return Finding(
        call_id=call.transcript.call_id,
        rubric_id=rubric.id,
        rubric_version=rubric.version,
        item_id=item.id,
        item_version=item.version,
        detected=detected,
        outcome=outcome,
        confidence=round(confidence, 4),
        evidence=evidence,
        weight=item.weight,
        critical=item.critical,
        flag=item.flag,
        title=item.title,
        strength=max((h.strength for h in hits), default=0.0),
        item_digest=compiled.digest,
    )


def _evidence(hit: Hit, utterances: Sequence[Utterance]) -> Evidence:
    utt = utterances[hit.utterance] if hit.utterance >= 0 else None
    return Evidence(
        speaker=utt.speaker if utt else "unknown",
        start_s=round(hit.start_s, 3),
        end_s=round(hit.end_s, 3),
        text=utt.text if utt else hit.text,
        rule=hit.rule,
    )


def _not_applicable(detector: Detector, na_when: NaWhen, call: CallText, facts: _CallFacts) -> bool:
    cond = na_when.condition
    found = bool(detector.find(call, facts.eligible(cond.speaker, cond.window)))
    return found if na_when.detected is not None else not found


def eligible_utterances(
    transcript: Transcript, *, speaker: str, window: Window | None
) -> list[int]:
    """Indices of the utterances an item may look at.

    A call with no speaker roles at all (mono, not diarized) cannot honour a speaker
    constraint: every utterance is eligible and the finding's confidence is lowered.
    """
    lo, hi = _bounds(transcript, window)
    return _eligible(transcript, speaker, lo, hi, attributed=_attributed(transcript))


def _attributed(transcript: Transcript) -> bool:
    return any(u.speaker != "unknown" for u in transcript.utterances)


def _bounds(transcript: Transcript, window: Window | None) -> tuple[float, float]:
    return window.bounds(transcript.duration_s) if window else (0.0, float("inf"))


def _eligible(
    transcript: Transcript, speaker: str, lo: float, hi: float, *, attributed: bool
) -> list[int]:
    return [
        i
        for i, u in enumerate(transcript.utterances)
        if (speaker == "any" or not attributed or u.speaker == speaker)
        and u.start_s < hi
        and u.end_s > lo
    ]


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    """A rubric example that did not behave as its file says."""

    item_id: str
    expected_match: bool
    text: str


def check_examples(compiled: CompiledRubric) -> tuple[int, list[ExampleFailure]]:
    """Run every item's ``examples``: how many ran, and the ones that failed.

    Each example is one utterance by the item's speaker (``any`` → ``agent``); the
    window is not applied, so the examples test the language, not the timing.
    """
    failures: list[ExampleFailure] = []
    total = 0
    for c in compiled.items:
        speaker = "customer" if c.item.speaker == "customer" else "agent"
        for expected, texts in ((True, c.item.examples.match), (False, c.item.examples.no_match)):
            for text in texts:
                total += 1
                call = prepare_call(_one_utterance(text, speaker), compiled.analyzer)
                fired = bool(c.detector.find(call, [0]))
                if fired != expected:
                    failures.append(ExampleFailure(c.item.id, expected, text))
    return total, failures


def _one_utterance(text: str, speaker: str) -> Transcript:
    utt = Utterance(
        speaker="agent" if speaker == "agent" else "customer", start_s=0.0, end_s=5.0, text=text
    )
    return Transcript(call_id="example", language="", duration_s=5.0, utterances=(utt,))
