"""The feedback pages in a real browser (Debian's Chromium, headless, Playwright).

Six weeks of history (see :func:`reviewkit.build_history`) plus the review fixture
nights, reviews seeded through the real store; the browser clicks the call timeline,
reads a scorecard and a team dashboard, records a coaching session, and signs in as
agents who answer their review and are refused everyone else's calls, audio and
numbers. Screenshots go to the test run's temporary folder (or ``$EARMARK_SCREENSHOTS``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from reviewkit import (
    build_archive,
    build_history,
    build_warehouse,
    needs_chromium,
    review_app,
    seed_reviews,
    served,
    sign_in_form,
    wait_player_near,
)

from review.store import ReviewStore

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("EARMARK_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("feedback-browser")
    archive, warehouse = build_archive(tmp), build_warehouse(tmp)
    build_history(warehouse)
    database_url = f"sqlite:///{tmp / 'reviews.sqlite'}"
    seed_reviews(ReviewStore(database_url))
    app = review_app(warehouse, archive, database_url, secret_key="feedback-browser")
    with served(app) as url:
        yield url


def _page(
    browser: Browser, base: str, name: str, *, then: str, heading: str = ""
) -> tuple[Page, list[str]]:
    """A page signed in as ``name`` at ``then`` (showing ``heading`` when one is given), and
    the list its script errors go to."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    sign_in_form(page, base, name, then=then)
    page.wait_for_load_state()
    if heading:
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    return page, errors


def _card_numbers(page: Page, title: str) -> Locator:
    """The card titled ``title``, with its "Numbers" table (behind the chart) opened."""
    card = page.locator("section.card", has_text=title)
    card.get_by_text("Numbers").click()
    return card


def test_the_timeline_shows_the_call_and_seeks_the_player(
    server: str, browser: Browser, shots: Path
) -> None:
    page, errors = _page(browser, server, "lena", then="/call/C-LENA-1")
    timeline = page.locator("svg.timeline")
    expect(timeline).to_be_visible()
    assert timeline.locator("rect.agent").count() == 3
    assert timeline.locator("rect.customer").count() == 2
    assert timeline.locator("rect.silence").count() == 1  # the counted gap is drawn once
    assert timeline.locator("rect.hold").count() == 1
    assert timeline.locator("g.marker").count() == 4  # one per piece of evidence
    assert timeline.locator("path.sentiment").count() == 1  # the customer's two lines
    assert timeline.locator("circle[data-seek]").count() == 2
    expect(page.locator(".timeline-box .legend")).to_contain_text("customer sentiment")
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    timeline.locator("rect.hold").click()
    wait_player_near(page, 24.0)
    timeline.locator("rect.customer").nth(1).click()
    wait_player_near(page, 11.0)
    # forbidden_language's marker (its words at 0:08-0:10) plays 3 s before to 5 s after
    marker = timeline.locator("g.marker").first
    assert (marker.get_attribute("data-seek"), marker.get_attribute("data-end")) == (
        "5.00",
        "15.00",
    )
    marker.dispatch_event("click")
    wait_player_near(page, 5.0)
    page.evaluate("window.scrollTo(0, 0)")
    page.locator(".timeline-box").screenshot(path=str(shots / "timeline.png"))
    assert not errors, errors


def test_a_scorecard_shows_weeks_items_and_records_coaching(
    server: str, browser: Browser, shots: Path
) -> None:
    page, errors = _page(browser, server, "lena", then="/agents/A1", heading="Agent A1")
    assert page.locator("svg.chart").count() == 3
    items = _card_numbers(page, "Pass rate per item")
    empathy = items.locator("tr", has_text="empathy")
    # A1: 18 history calls, empathy failed in the first 9, plus 6 fixture calls failing it.
    expect(empathy).to_contain_text("38%")
    expect(empathy).to_contain_text("24")
    expect(page.locator("table.reviewed")).to_contain_text("C-LENA-1")

    form = page.locator("#coaching form")
    form.get_by_label("Held on").fill("2026-10-25")
    form.get_by_label("Item worked on").select_option("empathy")
    form.get_by_label("Strengths (one per line)").fill(
        "Warm greeting\nClear explanation\nPatient with questions"
    )
    form.get_by_label("Things to improve (one per line)").fill("Acknowledge the feeling first")
    form.get_by_label("Agreed actions").fill("Start with 'I understand' when a customer complains")
    form.get_by_label("Follow-up on").fill("2026-11-09")
    form.get_by_role("button", name="Save session").click()
    page.wait_for_url("**/agents/A1?saved=*")
    expect(page.get_by_role("status")).to_contain_text("Coaching session saved")
    session = page.locator("article.session").first
    expect(session).to_contain_text("working on empathy")
    # Before the session: 3 weeks of failures; since: 3 weeks of passes, 6 fixture fails.
    expect(session.locator(".check")).to_contain_text("0% of 9")
    expect(session.locator(".check")).to_contain_text("60% of 15")
    expect(session.locator(".check")).to_contain_text("better")
    expect(page.locator(".kpis")).to_contain_text("3 : 1")
    expect(page.locator(".kpis")).to_contain_text("on target")
    page.screenshot(path=str(shots / "scorecard.png"), full_page=True)
    assert not errors, errors


def test_a_team_dashboard_for_the_inspector_and_the_lead(
    server: str, browser: Browser, shots: Path
) -> None:
    page, errors = _page(browser, server, "lena", then="/teams/TEAM-01", heading="Team TEAM-01")
    heat = page.locator("svg.heat").first
    for agent in ("A1", "A2", "A3"):
        expect(heat).to_contain_text(agent)
    expect(page.locator(".kpis")).to_contain_text("agents3")
    expect(_card_numbers(page, "Listening against budgets")).to_contain_text("lena")
    page.screenshot(path=str(shots / "team.png"), full_page=True)
    heat.get_by_text("A2", exact=True).click()
    page.wait_for_url("**/agents/A2")
    expect(page.locator(".highlights")).to_contain_text("excellent")
    assert not errors, errors

    other, _ = _page(browser, server, "omar", then="/queue")
    response = other.goto(server + "/teams/TEAM-01")
    assert response is not None and response.status == 403
    # the QA lead sees every team
    _page(browser, server, "quinn", then="/teams/TEAM-02", heading="Team TEAM-02")


def test_an_agent_sees_their_own_review_answers_it_and_nothing_else(
    server: str, browser: Browser, shots: Path
) -> None:
    page, errors = _page(browser, server, "ada", then="/")
    page.wait_for_url("**/agents/A1")
    expect(page.get_by_role("heading", name="Agent A1")).to_be_visible()
    expect(page.locator("#coaching form")).to_have_count(0)  # agents do not coach
    page.screenshot(path=str(shots / "agent-scorecard.png"), full_page=True)

    page.locator("table.reviewed").get_by_role("link", name="C-LENA-1").click()
    page.wait_for_url("**/call/C-LENA-1")
    expect(page.locator("#verdict")).to_have_count(0)  # no inspector form
    review = page.locator("#agent-review")
    expect(review).to_contain_text("never blame the customer")
    review.get_by_label("I dispute a verdict").check()
    review.get_by_label("Which item (for a dispute)").select_option("forbidden_language")
    review.get_by_label("Comment").fill("I was quoting the customer's words back to them.")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "agent-call.png"), full_page=True)
    review.get_by_role("button", name="Send to lena").click()
    page.wait_for_url("**/call/C-LENA-1?responded=*")
    expect(page.get_by_role("status")).to_contain_text("your answer went to lena")
    assert not errors, errors

    for refused in ("/call/C-LENA-2", "/call/C-OMAR-1", "/agents/A2", "/teams/TEAM-01"):
        response = page.goto(server + refused)
        assert response is not None and response.status == 403, refused
    expect(page.get_by_role("heading", name="Not yours to open")).to_be_visible()
    for audio in ("/audio/C-OMAR-1", "/audio/C-LENA-2"):
        got = page.request.get(server + audio, headers={"Range": "bytes=0-9"})
        assert got.status == 403, audio
    own = page.request.get(server + "/audio/C-LENA-1", headers={"Range": "bytes=0-9"})
    assert own.status == 206

    inspector, _ = _page(browser, server, "lena", then="/call/C-LENA-1")
    answers = inspector.locator("#responses")
    expect(answers).to_contain_text("Disputed")
    expect(answers).to_contain_text("quoting the customer")
    inspector.goto(server + "/agents/A1")
    row = inspector.locator("table.reviewed tr", has_text="C-LENA-1")
    expect(row).to_contain_text("disputed")
    inspector.get_by_role("link", name="Answers").click()
    inspector.wait_for_url("**/answers")
    first = inspector.locator("table.answers tbody tr").first
    expect(first).to_contain_text("disputed")
    expect(first).to_contain_text("quoting the customer")
    inspector.screenshot(path=str(shots / "answers.png"), full_page=True)
    other, _ = _page(browser, server, "omar", then="/answers")  # not his review
    expect(other.locator("table.answers")).to_contain_text("No answers yet")


def test_a_heat_map_cell_opens_the_agents_calls_of_that_item(
    server: str, browser: Browser, shots: Path
) -> None:
    """lena clicks A1's closing cell of October: A1's page opens at the twelve calls
    behind it, the one she overturned counted as a pass."""
    page, errors = _page(
        browser, server, "lena", then="/teams/TEAM-01?month=2026-10", heading="Team TEAM-01"
    )
    heat = page.locator("svg.heat").first
    page.screenshot(path=str(shots / "team-cells.png"), full_page=True)
    heat.locator('a.cell[href*="/agents/A1?item=closing"]').click()
    page.wait_for_url("**/agents/A1?item=closing&team=TEAM-01&month=2026-10#item-calls")
    calls = page.locator("#item-calls")
    expect(calls).to_be_visible()
    expect(calls.locator("tbody tr")).to_have_count(12)
    expect(calls).to_contain_text("9 passed as judged")
    expect(calls.locator("tr", has_text="H-A1-1-0")).to_contain_text("lena")
    page.screenshot(path=str(shots / "item-calls.png"), full_page=True)
    assert not errors, errors
    calls.get_by_role("link", name="H-A1-1-0").click()  # (a history call has no audio file)
    page.wait_for_url("**/call/H-A1-1-0")
    expect(page.locator("#finding-closing")).to_be_visible()
