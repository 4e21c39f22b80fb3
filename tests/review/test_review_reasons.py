"""The contact-reasons pages: who may see them, what they list, and (in Chromium) playing
the moment a reason was stated.

The warehouse is built through the real write path (:func:`pipeline.reason_store.update_reasons`)
night by night: four steady reasons for a month, and a new one on the last night. The
statement vectors are small hand-made ones (the meaning model's grouping is tested in
tests/pipeline/test_reasons.py); the calls point at the real WAV of the review archive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from reasonkit import LAST, build_reason_month, write_night
from reviewkit import (
    build_archive,
    make_config,
    needs_chromium,
    review_app,
    served,
    sign_in,
    sign_in_form,
)

from review.report import month_reasons, monthly_check, render_report, report_markdown
from review.store import ReviewStore

SCREENSHOTS = Path(__file__).resolve().parents[2] / "review" / "screenshots"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("reasons")
    archive = build_archive(tmp)
    root = str(tmp / "wh")
    build_reason_month(root)
    return archive, Path(root)


def _app(built: tuple[Path, Path], tmp: Path) -> FastAPI:
    archive, root = built
    return review_app(
        root, archive, f"sqlite:///{tmp / 'reviews.sqlite'}", secret_key="reasons-test"
    )


@pytest.fixture
def reasons_client(built: tuple[Path, Path], tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(_app(built, tmp_path), follow_redirects=False) as c:
        yield c


@pytest.mark.parametrize(("who", "status"), [("ada", 403), ("lena", 403), ("quinn", 200)])
def test_reasons_are_for_leads(reasons_client: TestClient, who: str, status: int) -> None:
    sign_in(reasons_client, who)
    assert reasons_client.get("/reasons").status_code == status
    assert reasons_client.get("/reasons/R0001").status_code == status


def test_overview_lists_the_new_reason_first_with_a_chart(reasons_client: TestClient) -> None:
    sign_in(reasons_client, "quinn")
    page = reasons_client.get("/reasons").text
    assert "the app crashes since the update" in page
    table = page[page.index('id="reason-table"') :]
    first_row = table[table.index("data-reason=") :]
    assert first_row.startswith('data-reason="R0005"')  # the new one, rising, first
    assert '<svg class="chart line"' in page
    assert "<strong>new</strong>" in page[page.index('id="rising"') :]
    # the steady reasons: 2 calls a day each, no flag
    assert page.count('class="rising" data-reason=') == 1


def test_reason_page_lists_its_calls_with_the_moment_to_play(reasons_client: TestClient) -> None:
    sign_in(reasons_client, "quinn")
    page = reasons_client.get("/reasons/R0005").text
    assert page.count('class="play"') == 6
    assert 'data-seek="1.5" data-end="4.0"' in page
    assert "/audio/" in page and '<svg class="chart bar"' in page
    steady = reasons_client.get(f"/reasons/R0001?since={LAST[:8]}01").text
    assert "repeat of" in steady and f"{LAST[:8]}01-00" in steady
    assert reasons_client.get("/reasons/R9999").status_code == 404
    assert reasons_client.get("/reasons?since=yesterday").status_code == 400
    assert reasons_client.get("/reasons?since=2026-02-30").status_code == 400  # not a day


def test_the_monthly_report_names_the_reason_that_rose(built: tuple[Path, Path]) -> None:
    _, root = built
    rows = month_reasons(root, make_config(), "TEAM-01", "2026-11")
    assert rows[0].period.reason.reason_id == "R0005" and rows[0].period.calls == 3
    (flag,) = [f for f in rows[0].period.flags if f.window == "day"]
    assert (flag.signal, flag.date, flag.count) == ("new", LAST, 3)
    assert all(not r.period.flags for r in rows[1:])
    assert [(r.period.calls, r.calls_before) for r in rows[1:]] == [(60, 0), (60, 0)]  # 2 a day
    assert month_reasons(root, make_config(), "TEAM-09", "2026-11") == ()


def test_the_monthly_report_shows_each_reason_and_what_rose(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    _, root = built
    store = ReviewStore(f"sqlite:///{tmp_path / 'reviews.sqlite'}")
    check = monthly_check(root, make_config(), "TEAM-01", "2026-11", store=store)
    html = render_report(check)
    table = html[html.index('id="reasons"') :]
    new_row = (
        "<tr><td>R0005</td><td>the app crashes since the update</td>"
        + "".join(f'<td class="num">{n}</td>' for n in (3, 0, 1, 0))
        + f"\n      <td><strong>new</strong> on {LAST} (3 vs 0.0 expected)</td></tr>"
    )
    assert new_row in table
    assert table.index("R0005") < table.index("R0001") < table.index("R0003")
    digest = report_markdown(check)
    assert (
        "- R0005 “the app crashes since the update”: 3 calls (0 the month before); "
        f"new on {LAST} (3 vs 0.0)"
    ) in digest
    assert "R0001" not in digest  # only what rose


@pytest.fixture(scope="module")
def base_url(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(_app(built, tmp_path_factory.mktemp("db"))) as url:
        yield url


@needs_chromium
def test_a_lead_opens_a_rising_reason_and_hears_it_stated(base_url: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in_form(page, base_url, "quinn", then="/reasons")
    expect(page.get_by_role("heading", name="Contact reasons")).to_be_visible()
    rising = page.locator("#rising li").first
    expect(rising).to_contain_text("new")
    expect(page.locator("#reason-table tbody tr").first).to_have_attribute("data-reason", "R0005")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "reasons.png"), full_page=True)
    page.locator("#reason-table tbody tr").first.get_by_role("link", name="R0005").click()
    expect(
        page.get_by_role("heading", name="R0005: the app crashes since the update")
    ).to_be_visible()
    page.locator("button.play").first.click()
    player = page.locator("#player")
    page.wait_for_function(
        "() => { const a = document.getElementById('player'); return a.currentTime >= 1.5 && !a.paused; }",
        timeout=15000,
    )
    # it stops where the statement ends (4.0 s)
    page.wait_for_function("() => document.getElementById('player').paused", timeout=15000)
    stopped = player.evaluate("a => a.currentTime")
    assert 3.9 <= stopped <= 4.6, stopped
    expect(page.locator("#now-playing")).to_contain_text(f"{LAST}-")
    page.screenshot(path=str(SCREENSHOTS / "reason.png"), full_page=True)
    page.close()


def test_a_team_sees_its_own_calls_and_flags(reasons_client: TestClient) -> None:
    sign_in(reasons_client, "quinn")
    page = reasons_client.get("/reasons?team=TEAM-02").text
    assert "Rising on 2026-11-30 in TEAM-02" in page
    table = page[page.index('id="reason-table"') :]
    # TEAM-02 takes the odd calls: reasons R0002 and R0004, and half of the new one
    assert sorted(set(re.findall(r'data-reason="(R\d+)"', table))) == ["R0002", "R0004", "R0005"]
    detail = reasons_client.get("/reasons/R0005?team=TEAM-02").text
    assert detail.count('class="play"') == 3


def test_a_reason_of_one_call_says_one_call(tmp_path: Path) -> None:
    root = tmp_path / "wh"
    write_night(str(root), LAST, [0])
    app = review_app(root, build_archive(tmp_path), f"sqlite:///{tmp_path / 'r.sqlite'}")
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, "quinn")
        page = client.get("/reasons/R0001").text
        overview = client.get("/reasons").text
    assert "1 call since" in page and "1 calls" not in page
    assert "1 calls" not in overview
