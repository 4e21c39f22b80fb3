"""Builders and helpers for the review tests: a small real warehouse (no ASR), an
archive with a real WAV, accounts, and sign-in through the real form.

Tables are written with :func:`pipeline.warehouse.upsert` and the :mod:`pipeline.rows`
helpers from hand-made records, so every finding, score and queue row is known.
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rowkit import analysis

from flows.lifetime import free_port
from pipeline import errors, rows
from pipeline import warehouse as wh
from pipeline.config import Config, InspectorConfig, QueueConfig
from pipeline.queue import PlanOptions
from pipeline.types import (
    CallScore,
    Evidence,
    Finding,
    PlanSpan,
    QuarantineEntry,
    QueueEntry,
    Recording,
    Transcript,
    Utterance,
    Word,
)
from review.app import create_app
from review.auth import Account, hash_password
from review.store import FindingVerdict, Review, ReviewStore

DATA = Path(__file__).resolve().parents[1] / "data"
WAV = DATA / "osr_us_000_0034_8k.wav"
DATE = "2026-11-20"
DEC_DATE = "2026-12-03"
RUBRIC = "inbound-support"
PASSWORDS = {
    "lena": "lena-pw-1",
    "omar": "omar-pw-2",
    "quinn": "quinn-pw-3",
    "ada": "ada-pw-4",
    "bo": "bo-pw-5",
}
"""``ada`` is agent A1 (team TEAM-01), ``bo`` agent B1 (team TEAM-02)."""
LENA_AUDIO = "2026-11 calls/team one/call one é.wav"
"""Spaces and non-ASCII in the archive path, as real archives have."""
PATH_ID = LENA_AUDIO.rsplit(".", 1)[0]
"""Without ``metadata.csv`` a call's id is its path without the extension: slashes too."""

SHIPPED_ITEMS = [
    "closing", "customer_dissatisfaction", "customer_verification", "dead_air", "empathy",
    "escalation_request", "forbidden_language", "greeting", "hold_etiquette", "interrupting",
    "self_identification", "unprofessional_conduct",
]  # fmt: skip
"""The items of the shipped inbound rubric: as many columns and labels as a real team's
charts and tables have."""

LINES = [
    ("agent", 0.5, 3.0, "Thank you for calling Acme, how can I help you today?"),
    ("customer", 3.5, 7.0, "My bill is wrong again, this is ridiculous."),
    ("agent", 8.0, 10.0, "Well, that's not my problem."),
    ("customer", 11.0, 14.0, "Then I want to speak to your supervisor."),
    ("agent", 20.0, 23.0, "Is there anything else I can help you with?"),
]


def _utt(speaker: str, start: float, end: float, text: str) -> Utterance:
    words = text.split()
    step = (end - start) / len(words)
    return Utterance(
        speaker,  # type: ignore[arg-type]
        start,
        end,
        text,
        tuple(
            Word(start + i * step, start + (i + 1) * step, " " + w, 0.9)
            for i, w in enumerate(words)
        ),
        0.9,
        0 if speaker == "agent" else 1,
    )


def _finding(
    call_id: str,
    item: str,
    detected: bool,
    outcome: str,
    evidence: tuple[Evidence, ...] = (),
    *,
    critical: bool = False,
    flag: bool = False,
) -> Finding:
    return Finding(
        call_id,
        RUBRIC,
        3,
        item,
        1,
        detected,
        outcome,  # type: ignore[arg-type]
        0.9 if detected else 0.0,
        evidence,
        weight=10.0,
        critical=critical,
        flag=flag,
        title=item.replace("_", " ").capitalize(),
    )


def findings_of(call_id: str) -> list[Finding]:
    """The detector's findings for each fixture call (the same shape for every call)."""
    return [
        _finding(
            call_id,
            "greeting",
            True,
            "pass",
            (Evidence("agent", 0.5, 3.0, "Thank you for calling"),),
        ),
        _finding(
            call_id,
            "forbidden_language",
            True,
            "fail",
            (Evidence("agent", 8.0, 10.0, "that's not my problem", "phrase 'not my problem'"),),
            critical=True,
        ),
        _finding(call_id, "empathy", False, "fail"),
        _finding(
            call_id,
            "escalation_request",
            True,
            "fail",
            (Evidence("customer", 11.0, 14.0, "speak to your supervisor"),),
            flag=True,
        ),
        _finding(
            call_id,
            "closing",
            True,
            "pass",
            (Evidence("agent", 20.0, 23.0, "anything else I can help you with"),),
        ),
    ]


CALLS: dict[str, dict[str, Any]] = {
    # call_id: team, agent, source path (relative to the archive), date
    "C-LENA-1": {"team": "TEAM-01", "agent": "A1", "path": LENA_AUDIO, "date": DATE},
    "C-LENA-2": {"team": "TEAM-01", "agent": "A2", "path": "2026-11 calls/c2.wav", "date": DATE},
    "C-OMAR-1": {"team": "TEAM-02", "agent": "B1", "path": "2026-11 calls/b1.wav", "date": DATE},
    "C-TRAVERSAL": {"team": "TEAM-01", "agent": "A1", "path": "../secret.wav", "date": DATE},
    "C-ABSOLUTE": {"team": "TEAM-01", "agent": "A1", "path": "", "date": DATE},  # set below
    "C-SYMLINK": {"team": "TEAM-01", "agent": "A1", "path": "link.wav", "date": DATE},
    "C-GONE": {"team": "TEAM-01", "agent": "A1", "path": "missing.wav", "date": DATE},
    "C-DEC": {"team": "TEAM-01", "agent": "A1", "path": "2026-11 calls/c2.wav", "date": DEC_DATE},
    PATH_ID: {"team": "TEAM-01", "agent": "A3", "path": LENA_AUDIO, "date": DATE},
}
METRICS = {"talk_agent_s": 12.5, "talk_customer_s": 9.0, "dead_air_s": 4.2, "overtalk_s": 0.8}
DIARIZATION = {"outcome": "diarized", "embedder": "librosa", "voice_gain": 3.1}
"""Every fixture call is mono, its words split between the agent and the customer."""
METRIC_SPANS = [
    {"metric": "dead_air_s", "start_s": 14.0, "end_s": 20.0},
    {"metric": "dead_air_count", "start_s": 14.0, "end_s": 20.0},  # the same gap, counted
    {"metric": "hold_s", "start_s": 24.0, "end_s": 33.0},
    {"metric": "overtalk_s", "start_s": 7.0, "end_s": 7.8},
]
"""Where the timeline draws silence, hold and overtalk on every fixture call."""
SENTIMENT = [math.nan, -0.4, math.nan, -0.8, math.nan]
"""The customer's sentiment per line of :data:`LINES` (NaN: the agent's lines)."""


def build_archive(tmp_path: Path) -> Path:
    """An archive holding the real WAV under three names, a symlink out, and a secret
    file just outside it."""
    root = tmp_path / "archive"
    for rel in (LENA_AUDIO, "2026-11 calls/c2.wav", "2026-11 calls/b1.wav"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(WAV, root / rel)
    (tmp_path / "secret.wav").write_bytes(b"RIFF-not-for-inspectors")
    (root / "link.wav").symlink_to(tmp_path / "secret.wav")
    return root


def write_call(root: Path, call_id: str, spec: dict[str, Any], source_path: str) -> None:
    """Write one call's rows; ``spec`` may add ``sha256`` and ``redactions`` (kind, start, end)."""
    date = spec["date"]
    transcript = Transcript(call_id, "en", 35.548, tuple(_utt(*line) for line in LINES))
    rec = Recording(
        call_id,
        source_path,
        "",
        spec.get("sha256", "0" * 64),
        date,
        568810,
        {"agent_id": spec["agent"], "team_id": spec["team"], "started_at": f"{date}T09:00:00"},
    )
    audio = {
        "duration_s": 35.548,
        "channels": 1,
        "sample_rate": 8000,
        "codec": "pcm_s16le",
        "language": "en",
        "tracks": 1,
        "diarization": DIARIZATION,
        "metrics": METRICS,
        "metric_spans": METRIC_SPANS,
        "redactions": [
            {"kind": k, "start_s": s, "end_s": e} for k, s, e in spec.get("redactions", ())
        ],
    }
    good = call_id == "C-LENA-2"
    findings = findings_of(call_id)
    score = CallScore(
        call_id,
        RUBRIC,
        3,
        95.0 if good else 40.0,
        not good,
        not good,
        () if good else ("critical: forbidden_language (agent at 0:08)", "customer escalation"),
        0.0 if good else 1000.0,
    )
    wh.upsert(root, "calls", {date: [rows.call_row(rec, analysis(**audio), transcript, "ok")]})
    wh.upsert(root, "utterances", {date: rows.utterance_rows(transcript, sentiment=SENTIMENT)})
    wh.upsert(root, "findings", {date: [rows.finding_row(f) for f in findings]})
    wh.upsert(root, "scores", {date: [rows.score_row(score)]})


def build_warehouse(tmp_path: Path) -> Path:
    """The warehouse of :data:`CALLS` (``C-ABSOLUTE`` points at ``tmp_path/secret.wav``)."""
    root = tmp_path / "wh"
    for call_id, spec in CALLS.items():
        path = spec["path"] or str(tmp_path / "secret.wav")
        write_call(root, call_id, spec, path)
    plan = (PlanSpan(0.0, 5.0, "read"), PlanSpan(5.0, 15.0), PlanSpan(17.0, 28.0))
    price = PlanOptions().price_s(plan)  # 21 s heard + 5 s read at 4x
    queue = [
        QueueEntry("lena", DATE, 1, "C-LENA-1", "review", 1000.0, ("critical: forbidden_language",), plan, "A1", "TEAM-01", price),
        QueueEntry("lena", DATE, 1, "C-LENA-2", "highlight", 0.0, ("highlight: score 95",), (PlanSpan(0.0, 8.0),), "A2", "TEAM-01"),
        QueueEntry("omar", DATE, 1, "C-OMAR-1", "review", 1000.0, ("critical: forbidden_language",), plan, "B1", "TEAM-02", price),
    ]  # fmt: skip
    wh.upsert(root, "queue", {DATE: [rows.queue_row(q) for q in queue]})
    return root


WIDE = "C-WIDE"
"""A call whose evidence's rule is a regular expression of thousands of characters (the
agent names of an ``agent_name`` item) and whose critical flag item is listed twice in its
score's and queue's reasons, as ``score_call`` wrote it before it wrote each reason once
(rows stored then are still read); queued for lena."""
BROKEN = "C-BROKEN"
"""A recording the night quarantined (``[A002]``): a ``calls`` row and a ``quarantine`` row."""
NAMES_RULE = "regex '\\b(?:" + "|".join(f"agentname{k:04d}" for k in range(200)) + ")\\b'"
SAID = 'agent at 0:08: "that\'s not my problem"'
TWICE = (f"critical: forbidden_language — {SAID}", f"forbidden_language — {SAID}")


def build_newcomer_warehouse(tmp_path: Path) -> Path:
    """:func:`build_warehouse` and the calls a new user tripped over: :data:`WIDE` and
    :data:`BROKEN`."""
    root = build_warehouse(tmp_path)
    write_call(root, WIDE, {"team": "TEAM-01", "agent": "A1", "date": DATE}, "2026-11 calls/c2.wav")
    names = Evidence("agent", 0.5, 3.0, "Thank you for calling", NAMES_RULE)
    findings = [*findings_of(WIDE), _finding(WIDE, "agent_name", True, "pass", (names,))]
    wh.upsert(root, "findings", {DATE: [rows.finding_row(f) for f in findings]})
    score = CallScore(WIDE, RUBRIC, 3, 0.0, True, True, TWICE, 1000.0)
    wh.upsert(root, "scores", {DATE: [rows.score_row(score)]})
    queued = wh.read_partition(root, "queue", DATE)
    assert queued is not None
    entry = QueueEntry(
        "lena", DATE, 2, WIDE, "review", 900.0, TWICE, (PlanSpan(5.0, 15.0),), "A1", "TEAM-01"
    )
    wh.upsert(root, "queue", {DATE: [*queued.to_pylist(), rows.queue_row(entry)]})
    meta = {"agent_id": "A1", "team_id": "TEAM-01", "started_at": f"{DATE}T10:00:00"}
    rec = Recording(BROKEN, "2026-11 calls/broken.wav", "", "1" * 64, DATE, 2048, meta)
    reason = errors.AUDIO_UNDECODABLE.message(
        path=rec.source_path, problem="not a decodable audio file"
    )
    wh.upsert(root, "calls", {DATE: [rows.call_row(rec, None, None, "quarantined")]})
    entry_q = QuarantineEntry(rec.source_path, "A002", reason, BROKEN, rec.audio_sha256, DATE)
    wh.upsert(root, "quarantine", {DATE: [rows.quarantine_row(entry_q)]})
    return root


def make_config(rotation: str = "off") -> Config:
    return Config(
        inspectors=[
            InspectorConfig(name="lena", teams=["TEAM-01"], budget_minutes=30),
            InspectorConfig(name="omar", teams=["TEAM-02"], budget_minutes=30),
        ],
        queue=QueueConfig(rotation=rotation),  # type: ignore[arg-type]
    )


def make_accounts() -> dict[str, Account]:
    return {
        "lena": Account("lena", "inspector", hash_password(PASSWORDS["lena"])),
        "omar": Account("omar", "inspector", hash_password(PASSWORDS["omar"])),
        "quinn": Account("quinn", "lead", hash_password(PASSWORDS["quinn"])),
        "ada": Account("ada", "agent", hash_password(PASSWORDS["ada"]), agent_id="A1"),
        "bo": Account("bo", "agent", hash_password(PASSWORDS["bo"]), agent_id="B1"),
    }


def review_app(
    warehouse: Path | str,
    archive: Path,
    database_url: str,
    *,
    config: Config | None = None,
    accounts: dict[str, Account] | None = None,
    secret_key: str = "test-secret",
    **options: Any,
) -> FastAPI:
    """The real review app over a test warehouse and archive.

    The configuration defaults to :func:`make_config`, the accounts to :func:`make_accounts`;
    ``options`` go to :func:`review.app.create_app` as they are.
    """
    return create_app(
        str(warehouse),
        make_config() if config is None else config,
        archive=str(archive),
        accounts=make_accounts() if accounts is None else accounts,
        database_url=database_url,
        secret_key=secret_key,
        **options,
    )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def sign_in(client: TestClient, name: str, password: str | None = None) -> TestClient:
    """Sign ``client`` in as ``name`` through the real form."""
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "name": name, "password": password or PASSWORDS[name]},
    )
    assert response.status_code == 303, response.text
    return client


HISTORY_AGENTS = {"A1": "TEAM-01", "A2": "TEAM-01", "A3": "TEAM-01", "B1": "TEAM-02"}
HISTORY_START = "2026-10-05"
"""Six weeks of history: Mondays from 2026-10-05 to 2026-11-09 (before the fixture nights)."""


def history_call_id(agent: str, week: int, k: int) -> str:
    return f"H-{agent}-{week}-{k}"


def build_history(root: Path, *, weeks: int = 6, per_week: int = 3) -> list[str]:
    """Add ``weeks`` Mondays of calls by every agent of :data:`HISTORY_AGENTS` to a
    warehouse. Agent A1 never shows empathy in the first three weeks and always after
    (the coached item gets better); the other agents alternate. Returns the dates."""
    import datetime as dt

    first = dt.date.fromisoformat(HISTORY_START)
    dates = []
    for week in range(weeks):
        date = (first + dt.timedelta(weeks=week)).isoformat()
        dates.append(date)
        calls, utts, finds, scores = [], [], [], []
        for agent, team in HISTORY_AGENTS.items():
            for k in range(per_week):
                call_id = history_call_id(agent, week, k)
                good = (week >= 3) if agent == "A1" else (week + k) % 2 == 0
                transcript = Transcript(call_id, "en", 35.548, tuple(_utt(*x) for x in LINES))
                rec = Recording(
                    call_id, f"{call_id}.wav", "", "0" * 64, date, 1,
                    {"agent_id": agent, "team_id": team, "started_at": f"{date}T10:00:00"},
                )  # fmt: skip
                audio = {"duration_s": 35.548, "channels": 1, "sample_rate": 8000,
                         "codec": "pcm_s16le", "language": "en", "metrics": METRICS,
                         "metric_spans": METRIC_SPANS, "redactions": []}  # fmt: skip
                calls.append(rows.call_row(rec, analysis(**audio), transcript, "ok"))
                utts.extend(rows.utterance_rows(transcript))
                found = [
                    _finding(call_id, "greeting", True, "pass"),
                    _finding(call_id, "empathy", good, "pass" if good else "fail"),
                    _finding(call_id, "closing", True, "pass" if k else "fail"),
                ]
                finds.extend(rows.finding_row(f) for f in found)
                score = 90.0 if good else 60.0 + 5 * k
                scores.append(
                    rows.score_row(CallScore(call_id, RUBRIC, 3, score, False, not good, (), 0.0))
                )
        wh.upsert(root, "calls", {date: calls})
        wh.upsert(root, "utterances", {date: utts})
        wh.upsert(root, "findings", {date: finds})
        wh.upsert(root, "scores", {date: scores})
        queue = [
            QueueEntry("lena", date, 1, history_call_id("A1", week, 0), "review", 50.0, ("low score",), (PlanSpan(0.0, 60.0),), "A1", "TEAM-01"),
            QueueEntry("lena", date, 1, history_call_id("A2", week, 0), "highlight", 0.0, ("highlight",), (PlanSpan(0.0, 30.0),), "A2", "TEAM-01"),
            QueueEntry("omar", date, 1, history_call_id("B1", week, 0), "review", 50.0, ("low score",), (PlanSpan(0.0, 60.0),), "B1", "TEAM-02"),
        ]  # fmt: skip
        wh.upsert(root, "queue", {date: [rows.queue_row(q) for q in queue]})
    return dates


def _verdict(item: str, outcome: str, verdict: str, *, detected: bool = True) -> FindingVerdict:
    return FindingVerdict(RUBRIC, 3, item, detected, outcome, verdict)  # type: ignore[arg-type]


def seed_reviews(store: ReviewStore) -> None:
    """lena reviews C-LENA-1 and one call of A1 and A2 each week; the detector's empathy
    failure is confirmed, one closing failure is overturned."""
    store.save_review(
        Review(
            "C-LENA-1",
            "lena",
            overall="fail",
            coaching_note="Great opening; never blame the customer.",
            findings=(
                _verdict("greeting", "pass", "correct"),
                _verdict("forbidden_language", "fail", "correct"),
            ),
        )
    )
    for week in range(6):
        for agent in ("A1", "A2"):
            good = week >= 3 if agent == "A1" else week % 2 == 0
            store.save_review(
                Review(
                    history_call_id(agent, week, 0),
                    "lena",
                    overall="excellent" if agent == "A2" and week == 4 else "pass",
                    findings=(
                        _verdict("greeting", "pass", "correct"),
                        _verdict("empathy", "pass" if good else "fail", "correct", detected=good),
                        _verdict("closing", "fail", "incorrect" if week == 1 else "correct"),
                    ),
                )
            )


# ---------------------------------------------------------------- the browser tests' Chromium

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (``make test`` installs it); never a downloaded browser."""
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Chromium is missing: `apt-get install -y chromium` to run the browser tests",
)


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a background thread on a free local port: its base URL."""
    import uvicorn

    port = free_port()
    uv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def served_review(
    tmp: Path, built: tuple[Path, Path], *, secret_key: str, config: Config | None = None
) -> Iterator[tuple[str, str]]:
    """The review app over ``built`` (archive, warehouse), its database under ``tmp``,
    served on a free port: ``(base URL, database URL)``."""
    archive, warehouse = built
    database_url = f"sqlite:///{tmp / 'reviews.sqlite'}"
    app = review_app(warehouse, archive, database_url, config=config, secret_key=secret_key)
    with served(app) as url:
        yield url, database_url


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def wait_player_near(page: Any, seconds: float) -> None:
    """Wait until the call page's player is within half a second of ``seconds``."""
    page.wait_for_function(
        "t => Math.abs(document.getElementById('player').currentTime - t) < 0.5",
        arg=seconds,
        timeout=10_000,
    )


def sign_in_form(page: Any, base: str, name: str, *, then: str) -> None:
    """Open ``then`` in a Playwright ``page`` and sign in as ``name`` on the form it shows."""
    from playwright.sync_api import expect

    page.goto(base + then)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
