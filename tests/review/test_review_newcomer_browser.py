"""What a new user tripped over on the call page, in Chromium: typing a note (its "c" and
"r" are letters, not verdicts), a bad time in a missed item, a 2,800-character rule in
the evidence, and a quarantined call."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from reviewkit import (
    BROKEN,
    NAMES_RULE,
    WIDE,
    build_archive,
    build_newcomer_warehouse,
    needs_chromium,
    served_review,
    sign_in_form,
)

from pipeline.text import RULE_SHOWN_CHARS
from review.store import ReviewStore

pytestmark = needs_chromium

KEY = "inbound-support|3|"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``(base URL, database URL)`` of the app over the newcomer's warehouse."""
    tmp = tmp_path_factory.mktemp("newcomer")
    data = build_archive(tmp), build_newcomer_warehouse(tmp)
    with served_review(tmp, data, secret_key="newcomer") as s:
        yield s


@pytest.fixture
def open_call(server: tuple[str, str], browser: Browser) -> Iterator[Callable[[str, str], Page]]:
    """Opens a call's page as someone, signed in; after the test, no page may have
    reported a script error or a CSP violation."""
    problems: list[str] = []
    pages: list[Page] = []

    def open_page(name: str, call: str) -> Page:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        sign_in_form(page, server[0], name, then=f"/call/{call}")
        page.wait_for_url(f"**/call/{call}")
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.context.close()
    assert not problems, problems


def test_typing_a_note_types_it_and_leaves_the_verdict_alone(
    server: tuple[str, str], open_call: Callable[[str, str], Page]
) -> None:
    page = open_call("lena", "C-LENA-1")
    database_url = server[1]
    card = page.locator("#finding-forbidden_language")
    card.get_by_label("incorrect").check()
    note = card.get_by_placeholder("note (optional)")
    note.click()
    expect(note).to_be_focused()  # the click keeps the focus in the box, not on the card
    page.keyboard.type("a customer's quote, correct in context")  # holds c and r
    expect(note).to_have_value("a customer's quote, correct in context")
    expect(card.get_by_label("incorrect")).to_be_checked()
    # The keys still work on a card clicked outside its form controls.
    closing = page.locator("#finding-closing")
    closing.locator("header strong").click()
    page.keyboard.press("c")
    expect(closing.get_by_label("correct", exact=True)).to_be_checked()
    page.get_by_role("button", name="Save review").click()
    page.wait_for_url("**/call/C-LENA-1?saved=*")
    review = ReviewStore(database_url).latest_review("C-LENA-1")
    assert review is not None
    verdicts = {f.item_id: (f.verdict, f.note) for f in review.findings}
    assert verdicts == {
        "forbidden_language": ("incorrect", "a customer's quote, correct in context"),
        "closing": ("correct", ""),
    }


def test_a_bad_time_is_caught_before_anything_typed_is_lost(
    server: tuple[str, str], open_call: Callable[[str, str], Page]
) -> None:
    base, database_url = server
    page = open_call("lena", WIDE)
    page.locator(f'input[name="verdict:{KEY}greeting"][value="correct"]').check()
    page.get_by_label("Coaching note").fill("Good start.")
    page.locator("select[name=missed_item]").first.select_option("empathy")
    at = page.locator("input[name=missed_at]").first
    at.fill("abc")
    page.get_by_role("button", name="Save review").click()
    assert page.evaluate("el => el.validity.patternMismatch", at.element_handle())
    expect(page).to_have_url(f"{base}/call/{WIDE}")  # not sent: the browser says why
    expect(page.get_by_label("Coaching note")).to_have_value("Good start.")
    assert ReviewStore(database_url).history(WIDE) == []
    at.fill("0:04")
    page.get_by_role("button", name="Save review").click()
    page.wait_for_url(f"**/call/{WIDE}?saved=*")
    review = ReviewStore(database_url).latest_review(WIDE)
    assert review is not None and [m.at_s for m in review.missed] == [4.0]
    assert review.coaching_note == "Good start."


def _assert_evidence_wraps_on_a_phone(page: Page) -> None:
    """On a phone's width the evidence wraps: its lines end inside the page."""
    page.set_viewport_size({"width": 480, "height": 900})
    width = page.evaluate("document.documentElement.scrollWidth")
    evidence = page.evaluate(
        "document.querySelector('#finding-agent_name .evidence li').getBoundingClientRect().right"
    )
    assert evidence <= width, (evidence, width)


def test_a_long_rule_is_shortened_and_the_page_keeps_its_width(
    open_call: Callable[[str, str], Page],
) -> None:
    page = open_call("quinn", WIDE)  # a lead sees the rule as written; an inspector: below
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1400, width
    rule = page.locator("#finding-agent_name .evidence .rule")
    expect(rule).to_have_attribute("title", NAMES_RULE)  # the whole rule, on hover
    shown = rule.inner_text()
    assert shown.endswith("…)") and len(shown) <= RULE_SHOWN_CHARS + 2
    _assert_evidence_wraps_on_a_phone(page)


def test_an_inspector_reads_the_rule_in_words_and_opens_it_as_written(
    open_call: Callable[[str, str], Page],
) -> None:
    page = open_call("lena", WIDE)
    rule = page.locator("#finding-agent_name .evidence details.rule")
    expect(rule.locator("summary")).to_have_text("(a phrase rule)")
    written = rule.locator("code.rule-full")
    expect(written).to_be_hidden()
    rule.locator("summary").click()
    expect(written).to_be_visible()
    expect(written).to_have_attribute("title", NAMES_RULE)
    shown = written.inner_text()
    assert shown.endswith("…") and len(shown) <= RULE_SHOWN_CHARS
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    _assert_evidence_wraps_on_a_phone(page)


def test_a_quarantined_call_shows_why_and_no_player_or_form(
    open_call: Callable[[str, str], Page],
) -> None:
    page = open_call("quinn", BROKEN)
    banner = page.get_by_role("alert").filter(has_text="Quarantined")
    expect(banner).to_contain_text("[A002] 2026-11 calls/broken.wav: not a decodable audio file")
    expect(banner).to_contain_text("nothing to play or to review")
    expect(page.locator("audio")).to_have_count(0)
    expect(page.locator(".timeline-box")).to_have_count(0)
    expect(page.get_by_role("button", name="Save review")).to_have_count(0)
