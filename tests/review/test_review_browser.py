"""The review app in a real browser: Debian's Chromium, headless, driven by Playwright.

The app runs under uvicorn in a background thread on a free local port; the browser
signs in, opens the queue and a call, seeks the player by clicking evidence (which
needs HTTP Range support), records verdicts with the mouse and keys, and saves.
Screenshots of the queue and the call page go to ``review/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from reviewkit import needs_chromium, served_review, sign_in_form, wait_player_near

from review.store import ReviewStore

SCREENSHOTS = Path(__file__).resolve().parents[2] / "review" / "screenshots"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, built: tuple[Path, Path]
) -> Iterator[tuple[str, str]]:
    """``(base URL, database URL)`` of the app served by uvicorn in a thread."""
    with served_review(tmp_path_factory.mktemp("browser"), built, secret_key="browser-test") as s:
        yield s


def _sign_in(page: Page, base: str, name: str, *, then: str = "/queue") -> None:
    sign_in_form(page, base, name, then=then)
    page.wait_for_url(f"**{then}")


def _current_time(page: Page) -> float:
    return float(page.evaluate("document.getElementById('player').currentTime"))


def test_inspector_reviews_a_call_in_the_browser(server: tuple[str, str], browser: Browser) -> None:
    base, database_url = server
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    _sign_in(page, base, "lena")
    expect(page.get_by_role("heading", name="Queue of lena · 2026-11-20")).to_be_visible()
    expect(page.locator("table.queue")).to_contain_text("C-LENA-1")
    expect(page.locator(".highlights")).to_contain_text("C-LENA-2")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)

    page.get_by_role("link", name="C-LENA-1").click()
    page.wait_for_url("**/call/C-LENA-1")
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    # Seeking needs the server's Range support: the whole file must be seekable.
    seekable = page.evaluate(
        "(() => { const a = document.getElementById('player');"
        " return a.seekable.length ? a.seekable.end(0) : 0; })()"
    )
    assert seekable > 35

    forbidden = page.locator("#finding-forbidden_language")
    forbidden.get_by_role("button", name="▶ 0:08").click()
    wait_player_near(page, 5.0)  # 3 s of context before the moment
    assert abs(_current_time(page) - 5.0) < 0.5
    page.keyboard.press("r")  # the clicked finding is focused: mark it incorrect
    expect(forbidden.get_by_label("incorrect")).to_be_checked()
    forbidden.get_by_placeholder("note (optional)").fill("a quote from the customer")

    greeting = page.locator("#finding-greeting")
    greeting.get_by_role("button", name="▶ 0:00").click()
    wait_player_near(page, 0.5)
    page.keyboard.press("c")
    expect(greeting.get_by_label("correct", exact=True)).to_be_checked()
    escalation = page.locator("#finding-escalation_request")
    escalation.get_by_label("not applicable").check()  # no escalation was asked of her
    expect(escalation.get_by_label("not applicable")).to_be_checked()
    expect(greeting.get_by_label("correct", exact=True)).to_be_checked()

    page.get_by_role("button", name="0:17–0:28").click()  # a plan span
    wait_player_near(page, 17.0)
    page.get_by_role("button", name="▶ Play the plan (0:21)").click()
    wait_player_near(page, 5.0)
    page.keyboard.press("n")  # next span of the plan
    wait_player_near(page, 17.0)
    page.keyboard.press(" ")  # pause
    page.wait_for_function("document.getElementById('player').paused")
    page.get_by_role("button", name="read 0:00–0:05").click()  # a stretch to read, not hear
    expect(page.locator(".utt.to-read")).to_have_count(2)
    expect(page.locator(".utt.to-read").first).to_contain_text("Thank you for calling Acme")
    page.wait_for_function("document.getElementById('player').paused")

    page.locator("select[name=missed_item]").first.select_option("empathy")
    page.locator("input[name=missed_at]").first.fill("0:04")
    page.locator("input[name=missed_note]").first.fill("I'm sorry about that")
    page.get_by_label("fail", exact=True).check()
    page.get_by_label("Coaching note").fill("Great opening; never blame the customer.")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky player sits at the top of the shot
    page.screenshot(path=str(SCREENSHOTS / "call.png"), full_page=True)

    page.get_by_role("button", name="Save review").click()
    page.wait_for_url("**/call/C-LENA-1?saved=*")
    expect(page.get_by_role("status")).to_contain_text("by lena")
    expect(page.locator("#finding-forbidden_language").get_by_label("incorrect")).to_be_checked()
    expect(
        page.locator("#finding-escalation_request").get_by_label("not applicable")
    ).to_be_checked()
    expect(page.locator(".history")).to_contain_text("Great opening")
    assert not errors, errors  # no script errors, no CSP violations

    review = ReviewStore(database_url).latest_review("C-LENA-1")
    assert review is not None and review.reviewer == "lena" and review.overall == "fail"
    assert {f.item_id: f.verdict for f in review.findings} == {
        "forbidden_language": "incorrect",
        "greeting": "correct",
        "escalation_request": "na",
    }
    assert [(m.item_id, m.at_s) for m in review.missed] == [("empathy", 4.0)]

    page.get_by_role("link", name="Queue").click()
    expect(page.locator("table.queue")).to_contain_text("✓ lena")
    context.close()


def test_another_inspector_gets_403_in_the_browser(
    server: tuple[str, str], browser: Browser
) -> None:
    base, _ = server
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, base, "omar")
    response = page.goto(base + "/call/C-LENA-1")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not yours to open")).to_be_visible()
    audio = page.request.get(base + "/audio/C-LENA-1", headers={"Range": "bytes=0-9"})
    assert audio.status == 403
    context.close()


def test_evidence_plays_three_seconds_before_and_five_after(
    server: tuple[str, str], browser: Browser
) -> None:
    """The README's plan hears each moment 3 s before and 5 s after: so does ▶ on it.
    The evidence of forbidden_language is 0:08–0:10, so ▶ plays 0:05–0:15."""
    base, _ = server
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, base, "lena", then="/call/C-LENA-1")
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    button = page.locator("#finding-forbidden_language").get_by_role("button", name="▶ 0:08")
    expect(button).to_have_attribute("title", re.compile("plays 0:05–0:15"))
    button.click()
    wait_player_near(page, 5.0)
    # Still playing past the end of the words themselves (0:10) …
    page.wait_for_function(
        "() => { const a = document.getElementById('player');"
        " return a.currentTime > 11 && !a.paused; }",
        timeout=15_000,
    )
    # … and paused once the 5 s after them are heard.
    page.wait_for_function("() => document.getElementById('player').paused", timeout=15_000)
    assert 14.8 <= _current_time(page) <= 15.8
    context.close()


def test_the_keys_move_the_focused_finding_so_c_and_r_judge_it(
    server: tuple[str, str], browser: Browser
) -> None:
    """space, then n: the finding heard in the span is focused (outlined) and c marks it;
    n / p follow the plan's spans, j / k step through the findings."""
    base, _ = server
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, base, "lena", then="/call/C-LENA-1")
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    expect(page.locator("#keys")).to_contain_text("j / k next / previous finding")
    expect(page.locator("#keys")).to_contain_text("a not applicable")
    expect(page.locator(".finding.focused")).to_have_count(0)
    page.keyboard.press(" ")  # play from the start
    page.keyboard.press("n")  # the plan's first span to hear, 0:05-0:15: "not my problem"
    wait_player_near(page, 5.0)
    swore = page.locator("#finding-forbidden_language")
    expect(swore).to_have_class(re.compile(r"\bfocused\b"))
    expect(page.locator(".finding.focused")).to_have_count(1)
    page.keyboard.press("c")
    expect(swore.get_by_label("correct", exact=True)).to_be_checked()
    page.keyboard.press("n")  # 0:17-0:28: the closing
    wait_player_near(page, 17.0)
    closing = page.locator("#finding-closing")
    expect(closing).to_have_class(re.compile(r"\bfocused\b"))
    page.keyboard.press("r")
    expect(closing.get_by_label("incorrect")).to_be_checked()
    expect(swore.get_by_label("correct", exact=True)).to_be_checked()  # left as marked
    page.keyboard.press("p")  # back to the first span and its finding
    wait_player_near(page, 5.0)
    expect(swore).to_have_class(re.compile(r"\bfocused\b"))
    page.keyboard.press("j")  # the next finding on the page (failed ones come first)
    expect(page.locator("#finding-escalation_request")).to_have_class(re.compile(r"\bfocused\b"))
    expect(page.locator(".finding.focused")).to_have_count(1)
    page.keyboard.press("a")  # no escalation asked: not applicable
    expect(
        page.locator("#finding-escalation_request").get_by_label("not applicable")
    ).to_be_checked()
    page.keyboard.press("k")
    expect(swore).to_have_class(re.compile(r"\bfocused\b"))
    page.keyboard.press(" ")
    page.wait_for_function("document.getElementById('player').paused")
    assert not errors, errors
    context.close()
