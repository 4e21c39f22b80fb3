"""From inspector verdicts to proposed rubric examples (``earmark rubric suggest``).

Inspectors say where the detectors were wrong: an item they heard that no finding
reported (a *missed item*, with the moment they heard it) and a finding they marked
*incorrect*. Each becomes a proposal for the item's examples in its rubric file:

- a missed item: the utterance at the inspector's moment (the item's speaker's, when the
  item has one) as an ``examples.match`` line, the way people really say it;
- a detection marked incorrect: the text of its evidence as an ``examples.no_match``
  line, a counter-example the detector must learn not to fire on.

An item whose detector does not read the words (``metric.v1`` measures the audio) can
learn nothing from an example: a verdict on it proposes none; the output says the item
is measured (its metric and threshold) and lists the inspector's note for the data
engineer, whose remedy is the threshold or the metric.

Proposals are printed as a YAML patch, per rubric file and item, each line with where it
came from, for a data engineer to accept into the rubric YAML (then ``earmark rubric
test``). Nothing is written to the rubric files. Only each call's current review counts;
a text already among the item's examples, or proposed twice, is proposed once (with the
number of calls that asked for it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline import errors
from pipeline.config import Config
from pipeline.rubric.detectors import reads_text
from pipeline.rubric.schema import Item, Rubric, load_rubric
from pipeline.scoring import measured_rule
from pipeline.stored import partition_rows, stored_calls
from pipeline.text import clock
from review.data import CallIndex
from review.store import Review

Field = Literal["match", "no_match"]
NEAR_S = 3.0
"""A moment between utterances takes the nearest one within this many seconds."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """One proposed example line for one rubric item."""

    rubric_file: str
    item_id: str
    field: Field
    text: str
    sources: tuple[str, ...]
    """Where it came from: ``"missed: C-1 at 0:12 (lena)"``, one per call that asked."""


@dataclass(frozen=True, slots=True)
class Measured:
    """A verdict on an item whose detector measures rather than reads: no example can
    teach it, so the inspector's note is listed for the data engineer."""

    rubric_file: str
    item_id: str
    measure: str
    """What the detector measures: ``agent_overtalk_count >= 3`` (``metric.v1``)."""
    source: str
    note: str = ""

    def __str__(self) -> str:
        note = f", note: {_quote(self.note)}" if self.note else ""
        return (
            f"{self.item_id} is measured ({self.measure}), not matched on words: "
            f"no example proposed; {self.source}{note}"
        )


@dataclass(frozen=True, slots=True)
class Suggestions:
    """The proposals, the verdicts on measured items, and the verdicts that could not
    become a proposal (with why)."""

    proposals: tuple[Proposal, ...] = ()
    skipped: tuple[str, ...] = ()
    measured: tuple[Measured, ...] = ()

    def counts(self) -> dict[str, tuple[int, int]]:
        """Per item id: (proposed examples, proposed counter-examples)."""
        out: dict[str, tuple[int, int]] = {}
        for p in self.proposals:
            match, no_match = out.get(p.item_id, (0, 0))
            out[p.item_id] = (match + (p.field == "match"), no_match + (p.field == "no_match"))
        return out


@dataclass
class _Collector:
    rubrics: Mapping[str, tuple[str, Rubric]]
    found: dict[tuple[str, str, Field, str], list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    measured: list[Measured] = field(default_factory=list)

    def measures(self, language: str, item_id: str, source: str, note: str) -> bool:
        """Whether the item's detector measures rather than reads: then the verdict is
        listed as :class:`Measured` and no example is looked for."""
        path, rubric = self.rubrics[language]
        item = next((i for i in rubric.items if i.id == item_id), None)
        if item is None or reads_text(item.detector, item.params):
            return False
        self.measured.append(Measured(path, item_id, _measure(item), source, note.strip()))
        return True

    def add(self, language: str, item_id: str, kind: Field, text: str, source: str) -> None:
        path, rubric = self.rubrics[language]
        item = next((i for i in rubric.items if i.id == item_id), None)
        if item is None:
            self.skipped.append(f"{source}: item {item_id!r} is not in {path}")
            return
        text = " ".join(text.split())
        if not text:
            self.skipped.append(f"{source}: no words at that moment")
            return
        have = item.examples.match if kind == "match" else item.examples.no_match
        if text in have:
            self.skipped.append(f"{source}: already an example ({kind}) of {item_id!r}")
            return
        self.found.setdefault((path, item_id, kind, text), []).append(source)


def suggest(reviews: Iterable[Review], warehouse: str | Path, config: Config) -> Suggestions:
    """Proposals from the current reviews of a warehouse's calls.

    Parameters
    ----------
    reviews
        Each reviewed call's current review (:meth:`review.store.ReviewStore.latest_reviews`).
    warehouse
        The warehouse the calls, utterances and findings are read from.
    config
        For the rubric file of each call's language (``rubrics``).

    Returns
    -------
    Suggestions
        Proposals sorted by rubric file, item, kind and text; the verdicts skipped, with why.

    Raises
    ------
    RubricError
        When a configured rubric does not load (its coded error).
    """
    rubrics = {lang: (path, load_rubric(path)) for lang, path in sorted(config.rubrics.items())}
    out = _Collector(rubrics)
    index = CallIndex(warehouse)
    for review in reviews:
        wrong = [f for f in review.findings if f.verdict == "incorrect" and f.detected]
        if not wrong and not review.missed:
            continue
        ref = index.get(review.call_id)
        if ref is None:
            out.skipped.append(f"call {review.call_id}: reviewed but not in the warehouse")
            continue
        call = stored_calls(warehouse, ref.call_date, call_id=review.call_id)
        language = (call[0].language if call else "") or ""
        if language not in rubrics:
            out.skipped.append(f"call {review.call_id}: no rubric for language {language!r}")
            continue
        utterances = partition_rows(warehouse, "utterances", ref.call_date, review.call_id)
        for m in review.missed:
            source = f"missed: {review.call_id} at {clock(m.at_s)} ({review.reviewer})"
            if out.measures(language, m.item_id, source, m.note):
                continue
            item = next((i for i in rubrics[language][1].items if i.id == m.item_id), None)
            said = _utterance_at(utterances, m.at_s, item.speaker if item else "any")
            if said is None:
                out.skipped.append(f"{source}: no utterance within {NEAR_S:g} s")
                continue
            out.add(language, m.item_id, "match", said, source)
        findings = partition_rows(warehouse, "findings", ref.call_date, review.call_id)
        for f in wrong:
            source = f"marked incorrect: {review.call_id} ({review.reviewer})"
            if out.measures(language, f.item_id, source, f.note):
                continue
            rows = [
                r
                for r in findings
                if (r["rubric_id"], r["rubric_version"], r["item_id"])
                == (f.rubric_id, f.rubric_version, f.item_id)
            ]
            evidence = [e for r in rows for e in r["evidence"] or ()]
            if not evidence:
                out.skipped.append(
                    f"incorrect: {review.call_id} {f.item_id}: the finding is no longer stored"
                )
            for e in evidence:
                if measured_rule(e.get("rule") or ""):  # a measurement beside words: no line
                    continue
                source = f"marked incorrect: {review.call_id} at {clock(e['start_s'])} ({review.reviewer})"
                out.add(language, f.item_id, "no_match", e["text"] or "", source)
    proposals = tuple(
        Proposal(path, item_id, kind, text, tuple(sources))
        for (path, item_id, kind, text), sources in sorted(out.found.items())
    )
    return Suggestions(proposals, tuple(out.skipped), tuple(out.measured))


def _measure(item: Item) -> str:
    """What an item's detector measures, for the data engineer: ``metric.v1``'s metric and
    threshold, else the detector's name."""
    p = item.params
    if item.detector == "metric.v1" and {"metric", "op", "value"} <= set(p):
        return f"{p['metric']} {p['op']} {float(p['value']):g}"
    return item.detector


def _utterance_at(utterances: Sequence[Mapping[str, Any]], at_s: float, speaker: str) -> str | None:
    """The text said at ``at_s`` (by ``speaker`` unless ``"any"``): the utterance around the
    moment, else the nearest one within :data:`NEAR_S`."""
    mine = [u for u in utterances if speaker == "any" or u["speaker"] == speaker] or list(
        utterances
    )

    def gap(u: Mapping[str, Any]) -> float:
        return max(0.0, float(u["start_s"]) - at_s, at_s - float(u["end_s"]))

    near = [u for u in mine if gap(u) <= NEAR_S]
    return str(min(near, key=gap)["text"]) if near else None


def suggestions_yaml(s: Suggestions) -> str:
    """The proposals as a YAML patch: rubric file → item → examples → match / no_match.

    Every line carries where it came from as a comment; verdicts that gave no proposal
    are listed at the end as comments.

    Examples
    --------
    >>> p = Proposal("rubrics/en/x.yaml", "empathy", "match", "So sorry, that's awful.",
    ...              ("missed: C1 at 0:12 (lena)",))
    >>> print(suggestions_yaml(Suggestions((p,))), end="")
    # earmark rubric suggest: 1 proposal(s) from inspector verdicts.
    # Accept a line by copying it into the item in the rubric file, then run
    # `earmark rubric test FILE`; every line says which call and moment it came from.
    "rubrics/en/x.yaml":
      empathy:
        examples:
          match:
            - "So sorry, that's awful."  # missed: C1 at 0:12 (lena)
    """
    lines = [
        f"# earmark rubric suggest: {len(s.proposals)} proposal(s) from inspector verdicts.",
        "# Accept a line by copying it into the item in the rubric file, then run",
        "# `earmark rubric test FILE`; every line says which call and moment it came from.",
    ]
    if not s.proposals:
        lines.append("{}")
    last: tuple[str, str, str] = ("", "", "")
    for p in s.proposals:
        if p.rubric_file != last[0]:
            lines.append(f"{_quote(p.rubric_file)}:")
            last = (p.rubric_file, "", "")
        if p.item_id != last[1]:
            lines += [f"  {p.item_id}:", "    examples:"]
            last = (p.rubric_file, p.item_id, "")
        if p.field != last[2]:
            lines.append(f"      {p.field}:")
            last = (p.rubric_file, p.item_id, p.field)
        more = f"; and {len(p.sources) - 1} more call(s)" if len(p.sources) > 1 else ""
        lines.append(f"        - {_quote(p.text)}  # {p.sources[0]}{more}")
    if s.measured:
        lines.append(
            "# measured items (their detectors take no text examples), for the data engineer:"
        )
        lines += [f"#   {m}" for m in s.measured]
    if s.skipped:
        lines.append("# not proposed:")
        lines += [f"#   {why}" for why in s.skipped]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    # A JSON string is a YAML double-quoted scalar: quotes, colons, '#' and non-ASCII are safe.
    return json.dumps(text, ensure_ascii=False)


def check_suggestions_file(path: str | Path) -> None:
    """Refuse to overwrite something that is not a suggestions file we wrote (a rubric!).

    Raises
    ------
    ConfigError
        ``C043`` naming the file.
    """
    p = Path(path)
    if p.exists() and not p.read_text(encoding="utf-8", errors="replace").startswith(
        "# earmark rubric suggest"
    ):
        raise errors.SUGGESTIONS_OUT_TAKEN(path=p)
