"""Feedback without a browser: the numbers behind scorecards, dashboards and the monthly
check, the coaching and answer forms' refusals, the timeline's data, the report command."""

from __future__ import annotations

import dataclasses
import math
import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from reviewkit import (
    RUBRIC,
    build_archive,
    build_history,
    build_warehouse,
    csrf_of,
    history_call_id,
    make_config,
    review_app,
    seed_reviews,
    sign_in,
    write_call,
)

from flows.cli import main
from pipeline import warehouse as wh
from pipeline.config import DEFAULT_RUBRICS, Config
from pipeline.row_records import CallRow, MetricSpan
from review import charts, data
from review.feedback import (
    FeedbackIndex,
    Rate,
    confirmed_outcome,
    scorecard,
    summarise_partition,
    team_view,
)
from review.items import configured_items
from review.report import (
    closed_months,
    focus_of,
    monthly_check,
    monthly_digests,
    render_report,
    report_markdown,
)
from review.store import (
    AgentResponse,
    CoachingSession,
    FindingVerdict,
    MissedItem,
    Review,
    ReviewStore,
    make_engine,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("feedback")
    archive, warehouse = build_archive(tmp), build_warehouse(tmp)
    build_history(warehouse)
    return archive, warehouse


@pytest.fixture
def store(tmp_path: Path) -> ReviewStore:
    s = ReviewStore(f"sqlite:///{tmp_path / 'reviews.sqlite'}")
    seed_reviews(s)
    return s


@pytest.fixture
def feedback_app(built: tuple[Path, Path], store: ReviewStore) -> FastAPI:
    archive, warehouse = built
    return review_app(warehouse, archive, str(store.engine.url), secret_key="feedback")


def _client(app: FastAPI, name: str) -> TestClient:
    return sign_in(TestClient(app, follow_redirects=False), name)


# ---------------------------------------------------------------- numbers


def test_confirmed_outcome_flips_what_the_inspector_overturns() -> None:
    assert confirmed_outcome("fail", "correct") == "fail"
    assert confirmed_outcome("fail", "incorrect") == "pass"
    assert confirmed_outcome("na", "incorrect") is None
    assert confirmed_outcome("fail", "na") is None  # the inspector: no occasion for it


def test_a_scorecard_counts_weeks_items_and_confirmed_verdicts(
    built: tuple[Path, Path], store: ReviewStore
) -> None:
    _, warehouse = built
    card = scorecard(FeedbackIndex(warehouse), store, "A1", first="2026-10-01", last="2026-11-15")
    assert card.team_id == "TEAM-01"
    assert [w.week for w in card.weeks] == [f"2026-W{n}" for n in range(41, 47)]
    assert [w.calls for w in card.weeks] == [3] * 6
    # Empathy failed in weeks 0-2 and passed after, three calls a week.
    empathy = next(i for i in card.items if i.item_id == "empathy")
    assert (empathy.detector.passed, empathy.detector.failed) == (9, 9)
    # Closing: lena overturned week 1's failure, so confirmed passes 1 of 6.
    closing = next(i for i in card.items if i.item_id == "closing")
    assert (closing.confirmed.passed, closing.confirmed.failed) == (1, 5)
    assert (closing.detector.passed, closing.detector.failed) == (12, 6)
    assert len(card.reviewed) == 6 and card.reviewed[0].call_date == "2026-11-09"
    assert card.weeks[0].score == pytest.approx((60 + 65 + 70) / 3)


def test_a_team_view_has_heat_coverage_listening_and_agreement(
    built: tuple[Path, Path], store: ReviewStore
) -> None:
    _, warehouse = built
    view = team_view(
        FeedbackIndex(warehouse),
        store,
        make_config(),
        "TEAM-01",
        first="2026-10-01",
        last="2026-11-15",
    )
    assert view.agents == ("A1", "A2", "A3")
    assert view.heat[("A1", "greeting")] == Rate(18, 0)
    # A1 and A2 reviewed once a week, A3 never: 12 of the 18 agent-weeks meet 1.
    assert view.coverage[("A3", "2026-W41")] == 0 and view.coverage[("A1", "2026-W41")] == 1
    assert view.coverage_met == pytest.approx(12 / 18)
    (lena,) = view.listening
    assert (lena.inspector, lena.days, lena.budget_min) == ("lena", 6, 30)
    # Reviewed: A1's queued calls (60 s plans) and A2's highlights (30 s).
    assert lena.listened_min == pytest.approx(6 * 1.0 + 6 * 0.5)
    closing = next(a for a in view.agreement if a.item_id == "closing")
    assert (closing.reviewed, closing.tp, closing.fp) == (12, 10, 2)


def test_the_index_rereads_a_night_that_changed(built: tuple[Path, Path], tmp_path: Path) -> None:
    root = tmp_path / "wh"
    write_call(root, "X-1", {"team": "T", "agent": "Z1", "date": "2026-11-02"}, "x.wav")
    index = FeedbackIndex(root)
    assert index.summary("2026-11-01", "2026-11-30").calls.num_rows == 1
    write_call(root, "X-2", {"team": "T", "agent": "Z1", "date": "2026-11-02"}, "y.wav")
    assert index.summary("2026-11-01", "2026-11-30").calls.num_rows == 2
    assert index.summary("2026-11-01", "2026-11-30", team_id="other").calls.num_rows == 0


def test_a_night_summary_counts_only_each_calls_newest_rubric(tmp_path: Path) -> None:
    day = "2026-12-01"
    wh.upsert(tmp_path, "calls", {day: [
        {"call_id": "c1", "agent_id": "A1", "team_id": "T"},
        {"call_id": "c2", "agent_id": None, "team_id": None},  # not scored: no score, no items
    ]})  # fmt: skip
    wh.upsert(tmp_path, "scores", {day: [
        {"call_id": "c1", "rubric_id": "r", "rubric_version": 1, "score": 40.0},
        {"call_id": "c1", "rubric_id": "r", "rubric_version": 2, "score": 90.0},
        {"call_id": "gone", "rubric_id": "r", "rubric_version": 2, "score": 10.0},
    ]})  # fmt: skip
    finding = {"rubric_id": "r", "title": "", "detected": True, "confidence": 1.0}
    wh.upsert(tmp_path, "findings", {day: [
        {**finding, "call_id": "c1", "rubric_version": 1, "item_id": "greeting", "outcome": "fail"},
        {**finding, "call_id": "c1", "rubric_version": 2, "item_id": "greeting", "outcome": "pass"},
        {**finding, "call_id": "c1", "rubric_version": 2, "item_id": "closing", "outcome": "fail"},
        {**finding, "call_id": "gone", "rubric_version": 2, "item_id": "closing", "outcome": "fail"},
    ]})  # fmt: skip

    summary = summarise_partition(tmp_path, day)

    assert summary.calls.to_pylist() == [
        {"call_id": "c1", "agent_id": "A1", "team_id": "T", "call_date": day, "score": 90.0},
        {"call_id": "c2", "agent_id": "", "team_id": "", "call_date": day, "score": None},
    ]
    counts = {(r["item_id"], r["passed"], r["failed"]) for r in summary.items.to_pylist()}
    assert counts == {("greeting", 1, 0), ("closing", 0, 1)}
    assert {r["agent_id"] for r in summary.items.to_pylist()} == {"A1"}


def test_old_review_databases_gain_the_feedback_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    with engine.begin() as conn:  # a database from before coaching sessions
        conn.execute(sa.text("DROP TABLE coaching_sessions"))
        conn.execute(sa.text("DROP TABLE agent_responses"))
    engine.dispose()
    store = ReviewStore(url)
    saved = store.add_session(CoachingSession("A1", "lena", "2026-11-02", strengths=("warm",)))
    assert store.sessions(["A1"]) == [saved]


def test_every_field_of_a_session_and_a_response_is_stored(tmp_path: Path) -> None:
    store = ReviewStore(f"sqlite:///{tmp_path / 'reviews.sqlite'}")
    session = CoachingSession(
        "A1",
        "lena",
        "2026-11-02",
        item_id="empathy",
        call_ids=("C-1", "C-2"),
        moments="0:12 the refund",
        strengths=("warm", "clear"),
        improvements=("acknowledge first",),
        actions="say 'I understand'",
        follow_up_on="2026-11-16",
    )
    saved = store.add_session(session)
    assert saved.id and saved.saved_at
    assert store.sessions(["A1"]) == [saved]
    review, _ = store.save_review(Review("C-1", "lena"))
    response = AgentResponse("C-1", review.id, "A1", "dispute", item_id="empathy", comment="no")
    answered = store.add_response(response)
    assert answered.id and answered.saved_at
    assert store.responses(call_id="C-1") == [answered]


# ---------------------------------------------------------------- timeline


def _view(utterances: list[dict[str, object]]) -> data.CallView:
    ref = data.CallRef("c", "2026-11-20", "T", "A", "c.wav")
    return data.CallView(
        ref=ref,
        call=CallRow(
            call_id="c",
            source_path="c.wav",
            audio_sha256="",
            size_bytes=0,
            status="ok",
            duration_s=30.0,
            metric_spans=(MetricSpan("hold_s", 10.0, 20.0), MetricSpan("hold_count", 10.0, 20.0)),
        ),
        utterances=tuple(data.mark_utterances(utterances, [])),
        findings=(),
        score=None,
        metrics=(),
        plan=(),
    )


def _utt(idx: int, speaker: str, start: float, **extra: object) -> dict[str, object]:
    return {
        "idx": idx,
        "speaker": speaker,
        "start_s": start,
        "end_s": start + 2,
        "text": "hi",
        **extra,
    }


def test_the_timeline_draws_sentiment_only_when_measured() -> None:
    plain = data.timeline_of(_view([_utt(0, "agent", 0.0), _utt(1, "customer", 3.0)]))
    assert plain.holds == [(10.0, 20.0)] and plain.sentiment == []
    assert "sentiment" not in charts.timeline(plain)
    felt = data.timeline_of(
        _view(
            [
                _utt(0, "agent", 0.0, sentiment=0.9),  # the agent's is not the customer's
                _utt(1, "customer", 3.0, sentiment=-0.5),
                _utt(2, "customer", 8.0, sentiment=math.nan),
                _utt(3, "customer", 22.0, sentiment=0.25),
            ]
        )
    )
    assert felt.sentiment == [(4.0, -0.5), (23.0, 0.25)]
    svg = charts.timeline(felt)
    assert 'class="sentiment"' in svg and svg.count('data-seek="4.00"') == 1


# ---------------------------------------------------------------- forms and refusals


def test_coaching_forms_with_mistakes_are_refused_by_name(feedback_app: FastAPI) -> None:
    lena = _client(feedback_app, "lena")
    csrf = csrf_of(lena.get("/agents/A1").text)
    base = {"csrf": csrf, "held_on": "2026-11-02", "strengths": "warm"}
    for change, message in [
        ({"held_on": "2026-02-30"}, "held_on must be a date"),
        ({"held_on": ""}, "when was the session"),
        ({"follow_up_on": "2026-10-01"}, "is before the session"),
        ({"item_id": "nonsense"}, "not an item of this agent"),
        ({"strengths": " "}, "at least one strength"),
    ]:
        response = lena.post("/agents/A1/coaching", data={**base, **change})
        assert response.status_code == 400 and message in response.text, change
    assert lena.post("/agents/B1/coaching", data=base).status_code == 403
    ada = _client(feedback_app, "ada")
    refused = ada.post(
        "/agents/A1/coaching", data={**base, "csrf": csrf_of(ada.get("/agents/A1").text)}
    )
    assert refused.status_code == 403


def test_only_the_calls_agent_answers_and_a_dispute_needs_a_reason(
    feedback_app: FastAPI, store: ReviewStore
) -> None:
    ada = _client(feedback_app, "ada")
    csrf = csrf_of(ada.get("/call/C-LENA-1").text)
    empty = ada.post("/respond/C-LENA-1", data={"csrf": csrf, "kind": "dispute"})
    assert empty.status_code == 400 and "say why" in empty.text
    bad = ada.post("/respond/C-LENA-1", data={"csrf": csrf, "kind": "dispute",
                                              "item_id": "empathy", "comment": "x"})  # fmt: skip
    assert bad.status_code == 400 and "not an item the review judged" in bad.text
    ok = ada.post("/respond/C-LENA-1", data={"csrf": csrf, "kind": "acknowledge"})
    assert ok.status_code == 303
    assert [r.kind for r in store.responses(call_id="C-LENA-1")] == ["acknowledge"]
    # Agents do not review; inspectors do not answer.
    assert ada.post("/call/C-LENA-1", data={"csrf": csrf}).status_code == 403
    lena = _client(feedback_app, "lena")
    lena_csrf = csrf_of(lena.get("/call/C-LENA-1").text)
    answer = {"csrf": lena_csrf, "kind": "acknowledge"}
    assert lena.post("/respond/C-LENA-1", data=answer).status_code == 403
    assert [a.call_id for a in store.answers_to("lena")] == ["C-LENA-1"]
    assert store.answers_to("omar") == []
    assert ada.get("/answers").status_code == 403
    # An unreviewed call of their own stays closed to the agent.
    assert ada.get("/call/C-DEC").status_code == 403


def test_bad_period_values_are_a_400(feedback_app: FastAPI) -> None:
    quinn = _client(feedback_app, "quinn")
    assert quinn.get("/teams/TEAM-01?month=2026-13").status_code == 400
    assert quinn.get("/agents/A1?days=0").status_code == 400
    assert quinn.get("/teams/TEAM-01?month=2026-10").status_code == 200


# ---------------------------------------------------------------- monthly check


def test_the_app_reads_the_dashboards_nights_as_it_starts(
    feedback_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _client(feedback_app, "quinn") as quinn:  # entering the client starts the app
        warming = [t for t in threading.enumerate() if t.name == "earmark-warm"]
        for thread in warming:
            thread.join(timeout=60)

        def unread(root: object, date: str) -> None:
            raise AssertionError(f"night {date} read again after the app warmed up")

        monkeypatch.setattr("review.feedback.summarise_partition", unread)
        assert quinn.get("/teams/TEAM-01").status_code == 200


def test_the_monthly_check_compares_months_and_follows_coaching(
    built: tuple[Path, Path], store: ReviewStore
) -> None:
    _, warehouse = built
    store.add_session(
        CoachingSession(
            "A1",
            "lena",
            "2026-10-18",
            item_id="empathy",
            strengths=("a", "b", "c"),
            improvements=("d",),
        )
    )
    check = monthly_check(warehouse, make_config(), "TEAM-01", "2026-10", store=store)
    assert sum(w.calls for w in check.view.weeks) == 36  # 4 Mondays × 3 agents × 3 calls
    assert sum(w.calls for w in check.before.weeks) == 0
    (fu,) = check.follow_ups
    # A1's empathy: failed 10-05 and 10-12 (before), failed 10-19 and passed 10-26 (since).
    assert (fu.before.n, fu.before.rate, fu.since.n, fu.since.rate) == (6, 0.0, 6, 0.5)
    assert fu.verdict == "better"
    assert check.focus[0][0] == "empathy"
    html = render_report(check)
    assert "<svg" in html and "<style>" in html and "@media print" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched: opens offline
    assert '<details class="numbers" open>' in html  # the numbers print
    digest = report_markdown(check)
    assert digest.startswith("# Team TEAM-01 · 2026-10") and "better" in digest


def test_the_nightly_digest_covers_every_team_of_the_month(
    built: tuple[Path, Path], store: ReviewStore
) -> None:
    _, warehouse = built
    digests = monthly_digests(
        warehouse, make_config(), "2026-10", database_url=str(store.engine.url)
    )
    assert sorted(digests) == ["TEAM-01", "TEAM-02"]
    assert "| calls | 36 | 0 |" in digests["TEAM-01"]
    assert "| calls | 12 | 0 |" in digests["TEAM-02"]


def test_closed_months_are_reported_once() -> None:
    assert closed_months([], ["2026-11-30"]) == []
    assert closed_months(["2026-11-30"], ["2026-11-30", "2026-12-01"]) == ["2026-11"]
    assert closed_months(["2026-12-01"], ["2026-11-30", "2026-12-01", "2026-12-02"]) == []


def test_the_report_command(
    built: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, warehouse = built
    out = tmp_path / "report.html"
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    args = ["report", "--warehouse", str(warehouse), "--database", db, "--team", "TEAM-01"]
    assert main([*args, "--month", "2026-11", "--out", str(out)]) == 0
    assert "3 agents" in capsys.readouterr().out and out.read_text().startswith("<!doctype html>")
    for month, target, code in [
        ("2026-13", out, "C060"),
        ("2026-09", out, "C061"),
        ("2026-11", tmp_path / "missing" / "r.html", "C062"),
    ]:
        assert main([*args, "--month", month, "--out", str(target)]) == 2
        assert f"[{code}]" in capsys.readouterr().err


def test_a_quarantined_call_is_in_no_count_or_mean_and_the_report_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The newcomer's warehouse has a quarantined recording of A1 (TEAM-01): it has no
    score, so it is not one of A1's calls beside A1's mean, and the report counts it apart."""
    from reviewkit import BROKEN, build_newcomer_warehouse

    root = build_newcomer_warehouse(tmp_path)
    scored = {r["call_id"] for r in wh.read_table(root, "scores").to_pylist()}
    calls = wh.read_table(root, "calls").to_pylist()
    team = [r for r in calls if r["team_id"] == "TEAM-01" and r["call_date"] < "2026-12"]
    a1 = [r["call_id"] for r in team if r["agent_id"] == "A1"]
    assert BROKEN in a1 and BROKEN not in scored
    store = ReviewStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    check = monthly_check(root, make_config(), "TEAM-01", "2026-11", store=store)
    assert check.view.agent_calls["A1"] == sum(c in scored for c in a1) == len(a1) - 1
    assert check.calls == sum(w.calls for w in check.view.weeks) == len(team) - 1
    assert check.not_scored == (("quarantined", 1),)
    html = render_report(check)
    assert "<th>scored calls</th>" in html
    assert (
        "Left out of every count and mean above and below, having no score: 1 call quarantined"
        in html
    )
    out = tmp_path / "report.html"
    args = ["report", "--warehouse", str(root), "--team", "TEAM-01", "--month", "2026-11"]
    assert main([*args, "--database", str(store.engine.url), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        f"{len(team) - 1} scored calls, 1 quarantined (left out of the counts and means)" in printed
    )


def test_the_inspectors_verdict_wins_over_the_detector_in_every_pass_rate(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    """A finding an inspector overruled no longer counts against the agent, and an item
    they added as missed counts: in the heat map, the scorecard, the weeks and the focus."""
    _, warehouse = built
    store = ReviewStore(f"sqlite:///{tmp_path / 'reviews.sqlite'}")
    index = FeedbackIndex(warehouse)

    def month() -> tuple[Rate, Rate, Rate]:
        days = {"first": "2026-11-16", "last": "2026-11-30"}  # the fixture nights, no history
        view = team_view(index, store, make_config(), "TEAM-01", **days)
        card = scorecard(index, store, "A1", **days)
        judged = next(i.judged for i in card.items if i.item_id == "forbidden_language")
        return view.heat[("A1", "forbidden_language")], view.heat[("A1", "empathy")], judged

    # A1's five November calls all failed both items, as the detector heard them.
    assert month() == (Rate(0, 5), Rate(0, 5), Rate(0, 5))
    store.save_review(
        Review(
            "C-LENA-1",
            "lena",
            findings=(FindingVerdict(RUBRIC, 3, "forbidden_language", True, "fail", "incorrect"),),
            missed=(MissedItem("empathy", 9.0),),
        )
    )
    assert month() == (Rate(1, 4), Rate(1, 4), Rate(1, 4))
    check = monthly_check(warehouse, make_config(), "TEAM-01", "2026-11", store=store)
    (week,) = (w for w in check.view.weeks if w.week == "2026-W47")
    # seven calls that week (A1's five, A2's and A3's), two passes and two fails of the
    # agent's each (the customer's escalation is no rate of theirs): the review turned two
    assert week.detector == Rate(2 * 7 + 2, 2 * 7 - 2)
    assert check.view.heat[("A1", "forbidden_language")] == Rate(1, 4)
    # another of A1's calls marked not applicable for it, and for a greeting that passed:
    # counted neither way, a pass taken out as a fail is
    days = {"first": "2026-11-16", "last": "2026-11-30"}
    greeting = team_view(index, store, make_config(), "TEAM-01", **days).heat[("A1", "greeting")]
    store.save_review(
        Review(
            "C-TRAVERSAL",
            "lena",
            findings=(
                FindingVerdict(RUBRIC, 3, "forbidden_language", True, "fail", "na"),
                FindingVerdict(RUBRIC, 3, "greeting", True, "pass", "na"),
            ),
        )
    )
    assert month()[0] == Rate(1, 3) and month()[2] == Rate(1, 3)
    view = team_view(index, store, make_config(), "TEAM-01", **days)
    assert greeting.passed >= 1 and view.heat[("A1", "greeting")] == Rate(
        greeting.passed - 1, greeting.failed
    )


def _rubric_with_information(tmp_path: Path) -> Config:
    """The shipped English rubric with ``empathy`` made informational (weight 0, neither a
    flag nor critical), as a data engineer adds an item to count something."""
    rubric = yaml.safe_load(Path(DEFAULT_RUBRICS["en"]).read_text(encoding="utf-8"))
    for item in rubric["items"]:
        if item["id"] == "empathy":
            item.update(weight=0, flag=False, critical=False)
        elif item["id"] == "greeting":  # the points stay 100
            item["weight"] += 15
    path = tmp_path / "inbound.yaml"
    path.write_text(yaml.safe_dump(rubric, allow_unicode=True), encoding="utf-8")
    return make_config().model_copy(update={"rubrics": {"en": str(path)}, "languages": ["en"]})


def test_the_customers_items_and_information_are_no_skill_of_the_agents(
    built: tuple[Path, Path], store: ReviewStore, tmp_path: Path
) -> None:
    """escalation_request is what the customer did (``speaker: customer``), empathy here
    counts something (``weight: 0``, no flag): neither is in a heat map, a scorecard, a
    week's rate or the monthly focus."""
    _, warehouse = built
    config = _rubric_with_information(tmp_path)
    days = {"first": "2026-11-16", "last": "2026-11-30"}
    view = team_view(FeedbackIndex(warehouse), store, config, "TEAM-01", **days)
    assert view.items == ("closing", "forbidden_language", "greeting")
    assert not {i for _a, i in view.heat} & {"escalation_request", "empathy"}
    (week,) = (w for w in view.weeks if w.week == "2026-W47")
    assert week.detector == Rate(2 * 7, 7)  # greeting and closing pass, the critical fails
    card = scorecard(FeedbackIndex(warehouse), store, "A1", items=configured_items(config), **days)
    assert [i.item_id for i in card.items] == ["closing", "forbidden_language", "greeting"]
    check = monthly_check(warehouse, config, "TEAM-01", "2026-11", store=store)
    # before, the escalations (failed in every call) and the history's empathy led it
    assert [f.item_id for f in check.focus] == ["forbidden_language", "closing"]


def test_the_act_names_whom_to_coach_and_what_the_advice_rests_on(
    built: tuple[Path, Path], store: ReviewStore
) -> None:
    _, warehouse = built
    check = monthly_check(warehouse, make_config(), "TEAM-01", "2026-11", store=store)
    forbidden = next(f for f in check.focus if f.item_id == "forbidden_language")
    # A2 and A3 failed it in their one unreviewed call each: no pattern, no advice
    assert [(c.agent_id, c.basis) for c in forbidden.agents] == [
        ("A1", "0% of 5 calls, 1 reviewed")
    ]
    html = render_report(check)
    act = html[html.index("Act: focus for next month") :]
    title = configured_items(make_config())["forbidden_language"].title
    assert forbidden.title == title and f"<strong>{title}</strong>" in act
    assert "<li>A1: 0% of 5 calls, 1 reviewed</li>" in act
    assert "few calls" not in act
    digest = report_markdown(check)
    assert "A1 (0% of 5 calls, 1 reviewed)" in digest

    cells = {("A1", "x"): Rate(0, 1), ("A2", "x"): Rate(1, 2), ("A3", "x"): Rate(0, 3)}
    (only,) = focus_of(dataclasses.replace(check.view, heat=cells, confirmed={}))
    assert [(c.agent_id, c.basis, c.few) for c in only.agents] == [
        ("A3", "0% of 3 calls, none reviewed", True),
        ("A2", "33% of 3 calls, none reviewed", True),
    ]


def test_the_agent_page_shows_items_by_title_and_the_calls_not_reviewed(
    feedback_app: FastAPI,
) -> None:
    titles = configured_items(make_config())
    quinn = _client(feedback_app, "quinn")
    page = quinn.get("/agents/A1?month=2026-11").text
    empathy = str(escape(titles["empathy"].title))
    assert f'<option value="empathy">{empathy}</option>' in page  # the coaching form
    chart = page[page.index('<svg class="chart hbar"') :]
    assert empathy.split()[0] in chart[: chart.index("</svg>")]
    unreviewed = page[page.index('id="unreviewed"') :]
    unreviewed = unreviewed[: unreviewed.index("</section>")]
    # A1's calls of the month but the three lena reviewed, each linked, newest first
    assert re.findall(r'<a href="/call/([^"]+)">', unreviewed) == [
        "C-TRAVERSAL", "C-SYMLINK", "C-GONE", "C-ABSOLUTE",
        "H-A1-5-2", "H-A1-5-1", "H-A1-4-2", "H-A1-4-1",
    ]  # fmt: skip
    assert empathy in unreviewed
    team = quinn.get("/teams/TEAM-01?month=2026-11").text
    heat = team[team.index('<svg class="chart heat"') :]
    heat = heat[: heat.index("</svg>")]
    assert titles["greeting"].title[:20] in heat and ">greeting<" not in heat
    ada = _client(feedback_app, "ada").get("/agents/A1?month=2026-11").text
    assert 'id="unreviewed"' not in ada  # an agent opens only their reviewed calls


def test_an_item_added_as_missed_is_a_reviewed_judgement_of_it_in_the_act_and_the_scorecard(
    built: tuple[Path, Path], store: ReviewStore
) -> None:
    """lena reviewed one of A3's October calls only to add empathy as missed (no verdict on
    the finding): the Act's advice and A3's scorecard count it as reviewed, and as the pass
    the heat map already counts it as."""
    _, warehouse = built
    call = history_call_id("A3", 0, 1)  # empathy not heard: a fail, as the detector said
    store.save_review(Review(call, "lena", missed=(MissedItem("empathy", 9.0),)))
    check = monthly_check(warehouse, make_config(), "TEAM-01", "2026-10", store=store)
    assert check.view.heat[("A3", "empathy")] == Rate(7, 5)
    assert check.view.confirmed[("A3", "empathy")] == Rate(1, 0)
    empathy = next(f for f in check.focus if f.item_id == "empathy")
    (a3,) = (c for c in empathy.agents if c.agent_id == "A3")
    assert a3.basis == "58% of 12 calls, 1 reviewed"  # was "…, none reviewed"
    assert "A3 (58% of 12 calls, 1 reviewed)" in report_markdown(check)
    card = scorecard(FeedbackIndex(warehouse), store, "A3", first="2026-10-01", last="2026-10-31")
    (item,) = (i for i in card.items if i.item_id == "empathy")
    assert (item.judged, item.confirmed) == (Rate(7, 5), Rate(1, 0))
    assert next(w for w in card.weeks if w.week == "2026-W41").confirmed == Rate(1, 0)


def test_a_heat_map_cell_opens_the_calls_behind_it(feedback_app: FastAPI) -> None:
    """A1's closing in October: twelve calls, the first of each week failed, lena
    overturned week 1's. The cell (75% of 12) links to A1's page listing those twelve, as
    judged; the numbers table under the map links there too."""
    quinn = _client(feedback_app, "quinn")
    team = quinn.get("/teams/TEAM-01?month=2026-10").text
    heat = team[team.index('<svg class="chart heat"') :]
    heat = heat[: heat.index("</svg>")]
    link = "/agents/A1?item=closing&team=TEAM-01&month=2026-10#item-calls"
    cell = heat[heat.index(f'<a class="cell" href="{escape(link)}">') :]
    assert cell[: cell.index("</a>")].count("75% of 12") == 1
    numbers = team[team.index("<summary>Numbers</summary>") :]
    assert f'<a href="{escape(link)}"' in numbers[: numbers.index("</table>")]
    page = quinn.get(link.split("#")[0])
    assert page.status_code == 200
    section = page.text[page.text.index('id="item-calls"') :]
    section = section[: section.index("</section>")]
    rows = re.findall(
        r'<a href="/call/([^"]+)">.*?<span class="badge (\w+)">\w+</span></td>'
        r"<td>(\w+)</td><td>([^<]*)</td>",
        section,
        re.S,
    )
    assert len(rows) == 12 and sum(judged == "pass" for _c, judged, _d, _r in rows) == 9
    assert ("H-A1-1-0", "pass", "fail", "lena") in rows  # overturned: the verdict counts
    assert ("H-A1-2-0", "fail", "fail", "lena") in rows
    assert ("H-A1-2-1", "pass", "pass", "—") in rows
    assert "9 passed as judged" in section
    # every call of the list opens, and an item the agent has no call of says so
    assert quinn.get("/call/H-A1-1-0").status_code == 200
    none = quinn.get("/agents/A1?item=no_such_item&month=2026-10").text
    assert "No call of A1 in this period has a pass or fail of this item." in none
    # the cell counts the team's calls: another team's list of A1 is empty
    other = quinn.get("/agents/A1?item=closing&team=TEAM-02&month=2026-10").text
    assert "No call of A1 in this period has a pass or fail of this item." in other


def test_an_agent_following_a_cell_link_sees_only_their_reviewed_calls(
    feedback_app: FastAPI,
) -> None:
    """ada is A1: of A1's twelve October closing calls lena reviewed some; the rest are
    not ada's to see (as the scorecard hides her calls not reviewed yet)."""
    page = _client(feedback_app, "ada").get("/agents/A1?item=closing&team=TEAM-01&month=2026-10")
    assert page.status_code == 200
    section = page.text[page.text.index('id="item-calls"') :]
    section = section[: section.index("</section>")]
    assert "your reviewed calls" in section
    shown = re.findall(r"<tr><td>(?:<a href=\"/call/[^\"]+\">)?([\w-]+)", section)
    assert "H-A1-1-0" in shown and "H-A1-2-0" in shown  # reviewed by lena
    assert "H-A1-2-1" not in shown  # not reviewed: left out
    assert "—" not in section
    # an item none of her reviewed calls has: said so, not that she has no such call
    empty = _client(feedback_app, "ada").get("/agents/A1?item=no_such_item&month=2026-10").text
    assert "None of your reviewed calls in this period has a pass or fail" in empty


def test_what_customers_did_is_context_beside_the_team_never_an_agents_rate(
    built: tuple[Path, Path], store: ReviewStore, feedback_app: FastAPI
) -> None:
    """escalation_request (``speaker: customer``) was heard in each of the team's seven
    November fixture calls; lena says one of them had none. The team page, the report and
    its digest show it as what customers did, apart from the heat map and the Act, and so
    does A1's page to a supervisor."""
    _, warehouse = built
    store.save_review(
        Review(
            "C-LENA-1",
            "lena",
            findings=(FindingVerdict(RUBRIC, 3, "escalation_request", True, "fail", "incorrect"),),
        )
    )
    check = monthly_check(warehouse, make_config(), "TEAM-01", "2026-11", store=store)
    (asked,) = check.view.customers
    assert (asked.item_id, asked.happened, asked.calls) == ("escalation_request", 6, 7)
    assert check.before.customers == ()  # the history's calls have no such finding
    assert "escalation_request" not in check.view.items
    assert all(f.item_id != "escalation_request" for f in check.focus)
    title = str(escape(configured_items(make_config())["escalation_request"].title))
    assert "Act: focus" in render_report(check)
    for html in (
        render_report(check),
        _client(feedback_app, "quinn").get("/teams/TEAM-01?month=2026-11").text,
    ):
        card = html[html.index('id="customers"') :]
        card = card[: card.index("</section>")]
        assert "What customers did" in card and "context, not the agents' skills" in card
        assert title in card and ">6 of 7<" in card and "86%" in card
        act = html[html.index("Act: focus") :] if "Act: focus" in html else ""
        assert "escalation_request" not in act
    # and beside an agent's skills, for whoever coaches them: A1 took five of the calls
    agent = _client(feedback_app, "quinn").get("/agents/A1?month=2026-11").text
    card = agent[agent.index('id="customers"') :]
    card = card[: card.index("</section>")]
    assert str(escape("A1's calls")) in card and ">4 of 5<" in card
    assert 'id="customers"' not in _client(feedback_app, "ada").get("/agents/A1").text
    digest = report_markdown(check)
    assert "`escalation_request` in 6 of 7 calls" in digest
    assert "escalation_request" not in digest[digest.index("Focus next month") :]
