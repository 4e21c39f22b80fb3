"""What a new user met in the review app, in Chromium: a lead's team list, an unknown
team, ids broken at their hyphen in the queue, the openers of a call, and the proposed
rubric patch the calibration page leads to.

The configuration has no ``[[inspectors]]`` (accounts only, as a first install's): the
teams are known from the warehouse's calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect
from reviewkit import RUBRIC, needs_chromium, served_review, sign_in_form

from pipeline.config import DEFAULT_RUBRICS, Config
from review.store import FindingVerdict, MissedItem, Review, ReviewStore

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, built: tuple[Path, Path]
) -> Iterator[tuple[str, str]]:
    """``(base URL, database URL)`` of the app with no inspectors configured."""
    tmp = tmp_path_factory.mktemp("ux")
    with served_review(tmp, built, config=Config(), secret_key="ux-test") as s:
        yield s


def _signed_in(browser: Browser, base: str, name: str, then: str, **options: object) -> Page:
    page = browser.new_context(**options).new_page()  # type: ignore[arg-type]
    sign_in_form(page, base, name, then=then)
    page.wait_for_url(f"**{then}")
    return page


def test_a_lead_sees_the_teams_and_an_unknown_team_is_not_found(
    server: tuple[str, str], browser: Browser
) -> None:
    base, _ = server
    page = _signed_in(browser, base, "quinn", "/teams")
    expect(page.locator("main li")).to_have_text(["TEAM-01", "TEAM-02"])
    page.get_by_role("link", name="TEAM-01").click()
    expect(page.get_by_role("heading", name="Team TEAM-01")).to_be_visible()
    response = page.goto(base + "/teams/NOPE")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator(".problem")).to_contain_text("no team 'NOPE'")
    expect(page.locator(".problem")).to_contain_text("the teams are TEAM-01, TEAM-02")
    page.context.close()


def test_queue_ids_stay_on_one_line(server: tuple[str, str], browser: Browser) -> None:
    base, _ = server
    page = _signed_in(browser, base, "quinn", "/queue", viewport={"width": 560, "height": 900})
    lines = page.evaluate(
        "() => [...document.querySelectorAll('table.queue tbody tr')].flatMap(tr =>"
        " [...tr.children].slice(2, 5).map(td => {"
        "   const r = document.createRange(); r.selectNodeContents(td);"
        "   const tops = [...r.getClientRects()].map(x => Math.round(x.top));"
        "   return [td.textContent.trim(), new Set(tops).size]; }))"
    )
    assert len(lines) >= 6  # call, agent and team of each queued call
    broken = [(text, n) for text, n in lines if n != 1]
    assert not broken, broken  # e.g. "C-LENA-" and "1" on two lines
    page.context.close()


def test_opened_by_names_each_person_once(server: tuple[str, str], browser: Browser) -> None:
    base, _ = server
    lena = _signed_in(browser, base, "lena", "/call/C-LENA-1")
    lena.reload()
    lead = _signed_in(browser, base, "quinn", "/call/C-LENA-1")
    lead.reload()
    lead.reload()
    opened = lead.locator(".opens li")
    expect(opened).to_have_count(2)
    expect(opened.nth(0)).to_contain_text("quinn · 3 times, last")
    expect(opened.nth(1)).to_contain_text("lena · 2 times, last")
    lena.context.close()
    lead.context.close()


def test_calibration_links_to_the_proposed_patch_and_its_download(
    server: tuple[str, str], browser: Browser
) -> None:
    base, database_url = server
    ReviewStore(database_url).save_review(
        Review(
            "C-LENA-1",
            "lena",
            overall="fail",
            findings=(FindingVerdict(RUBRIC, 3, "forbidden_language", True, "fail", "incorrect"),),
            missed=(MissedItem("closing", 21.0, ""),),
        )
    )
    page = _signed_in(browser, base, "quinn", "/calibration", accept_downloads=True)
    page.get_by_role("link", name="see the proposed patch").click()
    page.wait_for_url("**/calibration/suggest")
    patch = page.locator("#patch").inner_text()
    proposed = yaml.safe_load(patch)[DEFAULT_RUBRICS["en"]]
    assert proposed["closing"]["examples"]["match"] == [
        "Is there anything else I can help you with?"
    ]
    assert proposed["forbidden_language"]["examples"]["no_match"] == ["that's not my problem"]
    with page.expect_download() as download:
        page.get_by_role("link", name="Download suggestions.yaml").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == "suggestions.yaml"
    assert saved == patch + ("\n" if not patch.endswith("\n") else "")
    page.context.close()


def test_the_proposed_patch_is_for_leads(server: tuple[str, str], browser: Browser) -> None:
    base, _ = server
    page = _signed_in(browser, base, "lena", "/queue")
    for path in ("/calibration/suggest", "/calibration/suggest.yaml"):
        response = page.request.get(base + path)
        assert response.status == 403, path
    page.context.close()
