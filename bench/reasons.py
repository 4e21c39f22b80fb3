"""Contact reasons on a labelled month: purity, coverage, the late reason, the cost.

Builds a month of synthetic call transcripts (``bench/data/reasons.yaml``: six reasons
told in varied wording in en/zh/ru, and one, ``app_crash_update``, that starts in the last
week), embeds every utterance once with the real meaning model (as the night does), then
runs the nights one after the other the way ``earmark run`` does: problem statements from
the stored vectors, assignment to the reasons of the nights before, rising reasons.

Reports:

- **purity**: of the calls in each found reason, the share with its majority label
  (weighted by size); **coverage**: of each label's calls, the share in its largest
  reason (weighted); **statements**: calls whose problem statement was found;
- the night the late reason is first flagged (and how many days after it appeared);
- false flags: reasons flagged on days nothing changed;
- the same calls with the agent's identity questions answered before the problem
  (:func:`verified_first`): statements found exactly, purity and coverage again;
- mean-of-turn-vectors against embedding the joined statement text once;
- the join threshold swept (the default is where purity and coverage are both high);
- reason time per call, against the ASR time per call of ``bench/throughput.py``.

Run: ``python bench/reasons.py [--days 28] [--per-day 14] [--seed 7]`` (EARMARK_HOME set).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from benchenv import state_path, use_checkout  # bench/benchenv.py
from figures import publish  # bench/figures.py, beside this script

use_checkout(home=False)

from pipeline.meaning import Vectors  # noqa: E402
from pipeline.reason_trends import ReasonCall, rising_reasons  # noqa: E402
from pipeline.reasons import (  # noqa: E402
    DEFAULT_OPTIONS,
    Reason,
    ReasonOptions,
    ReasonSpace,
    Statement,
    assign,
    problem_statement,
)
from pipeline.types import Transcript, Utterance  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "reasons.yaml"
LATE_DAYS = 7
"""The late reason appears in the last this many days."""


@dataclass(frozen=True, slots=True)
class LabelledCall:
    """A synthetic call with its known reason."""

    transcript: Transcript
    call_date: str
    label: str
    team_id: str
    customer_id: str
    started_at: str
    statement: str
    """The labelled problem statement (what the statement choice should find)."""


def load_data(path: Path = DATA) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def labelled_calls(
    *,
    days: int = 28,
    per_day: int = 14,
    late_per_day: int = 4,
    seed: int = 7,
    start: str = "2026-11-02",
    languages: Sequence[str] = ("en", "zh", "ru"),
) -> list[LabelledCall]:
    """A month of calls: each day ``per_day`` calls of the steady reasons in random
    languages, and in the last :data:`LATE_DAYS` days ``late_per_day`` more of the late one.
    Customers sometimes call again about the same problem (a repeat contact)."""
    data = load_data()
    rng = random.Random(seed)
    steady = [r for r, v in data["reasons"].items() if not v.get("late")]
    late = [r for r, v in data["reasons"].items() if v.get("late")]
    first = dt.date.fromisoformat(start)
    calls: list[LabelledCall] = []
    recent: list[LabelledCall] = []
    for d in range(days):
        date = (first + dt.timedelta(days=d)).isoformat()
        labels = [rng.choice(steady) for _ in range(per_day)]
        if d >= days - LATE_DAYS:
            labels += [late[0]] * late_per_day
        for k, label in enumerate(labels):
            again = [c for c in recent if c.label == label and c.call_date < date]
            customer = rng.choice(again).customer_id if again and rng.random() < 0.15 else ""
            call = _call(data, rng, label, date, k, rng.choice(list(languages)), customer)
            calls.append(call)
            recent = [*recent[-60:], call]
    return calls


def _call(
    data: dict[str, Any], rng: random.Random, label: str, date: str, k: int, lang: str, cust: str
) -> LabelledCall:
    said = rng.choice(data["reasons"][label][lang])
    agent = data["agent"][lang]
    lines: list[tuple[str, str]] = [("agent", agent["greeting"])]
    if rng.random() < 0.6:
        lines.append(("customer", rng.choice(data["openers"][lang])))
    lines += [("customer", part.strip()) for part in said.split("|")]
    lines.append(("agent", rng.choice(agent["follow"])))
    lines.append(("customer", rng.choice(data["after"][lang])))
    lines.append(("agent", agent["close"]))
    call_id = f"{date}-{k:03d}-{lang}"
    hour = 8 + k % 10
    return LabelledCall(
        transcript=_timed(call_id, lang, lines),
        call_date=date,
        label=label,
        team_id=f"TEAM-{1 + k % 2}",
        customer_id=cust or f"C-{date}-{k}",
        started_at=f"{date}T{hour:02d}:{k % 60:02d}:00+00:00",
        statement=said.replace(" | ", " "),
    )


def _timed(call_id: str, language: str, lines: Sequence[tuple[str, str]]) -> Transcript:
    """The lines as a transcript, each turn as long as its text, 0.4 s between turns."""
    utterances, t = [], 0.0
    for speaker, text in lines:
        length = 1.0 + 0.06 * len(text)
        utterances.append(Utterance(speaker, round(t, 2), round(t + length, 2), text))  # type: ignore[arg-type]
        t += length + 0.4
    return Transcript(call_id, language, round(t, 2), tuple(utterances))


def verified_first(calls: Sequence[LabelledCall], *, seed: int = 7) -> list[LabelledCall]:
    """The calls again, the agent checking who is calling before the problem is told: one
    or two identity questions and the customer's answers (a date of birth, a postcode, an
    account number, a name, "yes, speaking") come right before it. They must be skipped."""
    pairs = load_data()["verification"]
    rng = random.Random(seed)
    out = []
    for c in calls:
        t = c.transcript
        lines = [(u.speaker, u.text) for u in t.utterances]
        at = next(
            i
            for i, u in enumerate(t.utterances)
            if u.speaker == "customer" and c.statement.startswith(u.text)
        )
        asked = rng.sample(pairs[t.language], rng.choice((1, 2)))
        checks = [line for q, a in asked for line in (("agent", q), ("customer", a))]
        transcript = _timed(t.call_id, t.language, [*lines[:at], *checks, *lines[at:]])
        out.append(replace(c, transcript=transcript))
    return out


def embed_calls(
    calls: Sequence[LabelledCall], embed: Callable[[Sequence[str]], Vectors]
) -> list[Vectors]:
    """Every utterance embedded once, in one batch (as the night stores them)."""
    texts = [u.text for c in calls for u in c.transcript.utterances]
    flat = embed(texts)
    out, at = [], 0
    for c in calls:
        n = len(c.transcript.utterances)
        out.append(flat[at : at + n])
        at += n
    return out


def statements_of(
    calls: Sequence[LabelledCall],
    vectors: Sequence[Vectors],
    space: ReasonSpace,
    options: ReasonOptions = DEFAULT_OPTIONS,
) -> list[Statement | None]:
    return [
        problem_statement(
            c.transcript,
            v,
            space,
            call_date=c.call_date,
            language=c.transcript.language,
            team_id=c.team_id,
            started_at=c.started_at,
            options=options,
        )
        for c, v in zip(calls, vectors, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class Month:
    """The nights run one after the other."""

    reasons: list[Reason]
    reason_of: dict[str, str]
    flags: dict[str, list[tuple[str, str, str]]]
    """``{date: [(reason_id, signal, window)]}`` overall (not per team)."""
    assign_s: float


def run_nights(
    calls: Sequence[LabelledCall],
    statements: Sequence[Statement | None],
    space: ReasonSpace,
    options: ReasonOptions = DEFAULT_OPTIONS,
) -> Month:
    """Assign each night's statements to the reasons so far; flag what rises each night."""
    reasons: list[Reason] = []
    reason_of: dict[str, str] = {}
    flags: dict[str, list[tuple[str, str, str]]] = {}
    history: list[ReasonCall] = []
    spent = 0.0
    by_date: dict[str, list[tuple[LabelledCall, Statement]]] = defaultdict(list)
    for c, s in zip(calls, statements, strict=True):
        if s is not None:
            by_date[c.call_date].append((c, s))
    for date in sorted(by_date):
        night = sorted(by_date[date], key=lambda cs: (cs[0].started_at, cs[0].transcript.call_id))
        t0 = time.perf_counter()
        space = space.learn(s for _, s in night)
        reasons, done = assign([s for _, s in night], reasons, space, options=options)
        spent += time.perf_counter() - t0
        for (c, _), a in zip(night, done, strict=True):
            reason_of[c.transcript.call_id] = a.reason_id
            history.append(ReasonCall(c.transcript.call_id, date, a.reason_id, c.team_id))
        found = rising_reasons(history, date=date, options=options, by_team=False)
        flags[date] = [
            (r.reason_id, r.signal, r.window) for r in found if r.signal in ("new", "share")
        ]
    return Month(reasons, reason_of, flags, spent)


def purity_coverage(labels: dict[str, str], found: dict[str, str]) -> tuple[float, float]:
    """Purity (found reasons hold one label) and coverage (a label lives in one reason)."""
    pairs = [(labels[c], found[c]) for c in found]
    by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    by_label: dict[str, Counter[str]] = defaultdict(Counter)
    for label, reason in pairs:
        by_reason[reason][label] += 1
        by_label[label][reason] += 1
    n = max(len(pairs), 1)
    purity = sum(max(c.values()) for c in by_reason.values()) / n
    coverage = sum(max(c.values()) for c in by_label.values()) / n
    return purity, coverage


def late_flag(
    calls: Sequence[LabelledCall], month: Month, late_label: str
) -> tuple[str, str, int] | None:
    """``(first late date, date first flagged, days between)`` for the late reason."""
    late_calls = [c for c in calls if c.label == late_label]
    if not late_calls:
        return None
    first = min(c.call_date for c in late_calls)
    ids = Counter(month.reason_of.get(c.transcript.call_id, "") for c in late_calls)
    main = ids.most_common(1)[0][0]
    for date in sorted(month.flags):
        if date >= first and any(rid == main for rid, _, _ in month.flags[date]):
            delay = (dt.date.fromisoformat(date) - dt.date.fromisoformat(first)).days
            return first, date, delay
    return first, "", -1


def false_flags(
    calls: Sequence[LabelledCall], month: Month, late_label: str
) -> list[tuple[str, str, str, str]]:
    """Flags (new/share, day or week) on reasons that are not mainly the late label."""
    members: dict[str, Counter[str]] = defaultdict(Counter)
    labels = {c.transcript.call_id: c.label for c in calls}
    for call, rid in month.reason_of.items():
        members[rid][labels[call]] += 1
    late_ids = {rid for rid, m in members.items() if m.most_common(1)[0][0] == late_label}
    return [
        (date, rid, signal, window)
        for date, found in sorted(month.flags.items())
        for rid, signal, window in found
        if rid not in late_ids
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--days", type=int, default=28)
    p.add_argument("--per-day", type=int, default=14)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", type=Path, default=state_path("reasons.json"))
    args = p.parse_args(argv)

    from flows.reasons import space_for
    from models.embed import get_embedder

    embedder = get_embedder()
    calls = labelled_calls(days=args.days, per_day=args.per_day, seed=args.seed)
    t0 = time.perf_counter()
    vectors = embed_calls(calls, embedder.embed)
    embed_s = time.perf_counter() - t0
    space = space_for(embedder)
    t0 = time.perf_counter()
    statements = statements_of(calls, vectors, space)
    choose_s = time.perf_counter() - t0
    labels = {c.transcript.call_id: c.label for c in calls}
    late = next(r for r, v in load_data()["reasons"].items() if v.get("late"))
    found_ok = sum(
        1 for c, s in zip(calls, statements, strict=True) if s is not None and s.text == c.statement
    )
    print(f"{len(calls)} calls over {args.days} days, {len(set(labels.values()))} labels, en/zh/ru")
    print(
        f"statements found {sum(s is not None for s in statements)}/{len(calls)}, "
        f"exactly the labelled turns {found_ok}/{len(calls)}"
    )
    month = run_nights(calls, statements, space)
    purity, coverage = purity_coverage(labels, month.reason_of)
    big = sum(1 for r in month.reasons if r.n_calls >= DEFAULT_OPTIONS.min_count)
    print(
        f"mean of turn vectors: purity {purity:.3f} coverage {coverage:.3f}, "
        f"{len(month.reasons)} reasons ({big} with ≥{DEFAULT_OPTIONS.min_count} calls)"
    )
    wrong = false_flags(calls, month, late)
    print(f"late reason {late} (first, flagged, days later): {late_flag(calls, month, late)}")
    print(f"other reasons flagged: {len(wrong)} {wrong[:6]}")
    verified = _verified_first(calls, space, embedder.embed, labels)
    _joined_text(calls, statements, space, embedder.embed, labels)
    _sweep(calls, statements, space, labels)
    per_call_ms = 1000 * (choose_s + month.assign_s) / len(calls)
    print(
        f"reason cost: {per_call_ms:.2f} ms per call (statement {1000 * choose_s / len(calls):.2f}, "
        f"assign {1000 * month.assign_s / len(calls):.2f}); embedding was {1000 * embed_s / len(calls):.0f} ms per call"
    )
    for r in sorted(month.reasons, key=lambda r: -r.n_calls)[:9]:
        print(f"  {r.reason_id} {r.n_calls:4d} {'/'.join(r.languages):9s} {r.label}")
    result = {
        "calls": len(calls),
        "days": args.days,
        "per_day": args.per_day,
        "statements_exact": found_ok,
        "purity": round(purity, 4),
        "coverage": round(coverage, 4),
        "reasons": len(month.reasons),
        "late_reason": late_flag(calls, month, late),
        "other_flags": len(wrong),
        "verified_first": verified,
        "ms_per_call": round(per_call_ms, 3),
        "embed_ms_per_call": round(1000 * embed_s / len(calls), 1),
    }
    publish(result, args.json)
    return 0


def _verified_first(
    calls: Sequence[LabelledCall],
    space: ReasonSpace,
    embed: Callable[[Sequence[str]], Vectors],
    labels: dict[str, str],
) -> dict[str, float]:
    """Statements and grouping when identity questions are answered before the problem."""
    checked = verified_first(calls)
    statements = statements_of(checked, embed_calls(checked, embed), space)
    exact = sum(1 for c, s in zip(checked, statements, strict=True) if s and s.text == c.statement)
    answers = {lang: tuple(a for _, a in qa) for lang, qa in load_data()["verification"].items()}
    answer = sum(
        1
        for c, s in zip(checked, statements, strict=True)
        if s and s.text.startswith(answers[c.transcript.language])
    )
    purity, coverage = purity_coverage(labels, run_nights(checked, statements, space).reason_of)
    print(
        f"identity questions answered first: exactly the labelled turns {exact}/{len(checked)}, "
        f"an answer taken for the problem {answer}, purity {purity:.3f} coverage {coverage:.3f}"
    )
    return {
        "statements_exact": exact,
        "answer_taken": answer,
        "purity": round(purity, 4),
        "coverage": round(coverage, 4),
    }


def _joined_text(
    calls: Sequence[LabelledCall],
    statements: Sequence[Statement | None],
    space: ReasonSpace,
    embed: Callable[[Sequence[str]], Vectors],
    labels: dict[str, str],
) -> None:
    """The alternative: embed each statement's joined text once more."""
    kept = [(c, s) for c, s in zip(calls, statements, strict=True) if s is not None]
    t0 = time.perf_counter()
    fresh = embed([s.text for _, s in kept])
    spent = time.perf_counter() - t0
    joined: list[Statement | None] = [None] * len(calls)
    at = {c.transcript.call_id: i for i, c in enumerate(calls)}
    for (c, s), v in zip(kept, fresh, strict=True):
        joined[at[c.transcript.call_id]] = replace(s, vector=v)
    month = run_nights(calls, joined, space)
    purity, coverage = purity_coverage(labels, month.reason_of)
    print(
        f"joined text embedded again: purity {purity:.3f} coverage {coverage:.3f} "
        f"({1000 * spent / max(len(kept), 1):.1f} ms per call more)"
    )


def _sweep(
    calls: Sequence[LabelledCall],
    statements: Sequence[Statement | None],
    space: ReasonSpace,
    labels: dict[str, str],
) -> None:
    late = next(r for r, v in load_data()["reasons"].items() if v.get("late"))
    for threshold in (0.1, 0.15, 0.175, 0.2, 0.25, 0.3):
        options = replace(DEFAULT_OPTIONS, join_similarity=threshold)
        month = run_nights(calls, statements, space, options)
        purity, coverage = purity_coverage(labels, month.reason_of)
        flagged = late_flag(calls, month, late)
        print(
            f"  join ≥ {threshold:.3f}: purity {purity:.3f} coverage {coverage:.3f} "
            f"reasons {len(month.reasons)}, late flagged after {flagged[2] if flagged else '-'} "
            f"day(s), {len(false_flags(calls, month, late))} other flags"
        )


if __name__ == "__main__":
    raise SystemExit(main())
