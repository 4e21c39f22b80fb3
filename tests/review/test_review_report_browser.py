"""The monthly report as Chromium lays it out on an A4 page's width (794 px at 96 dpi):
the "Numbers" tables, one with a column per rubric item, fit their cards (on paper
nothing scrolls, and a column cut off at the right edge is lost)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser
from reviewkit import (
    DATE,
    SHIPPED_ITEMS,
    _finding,
    build_newcomer_warehouse,
    make_config,
    needs_chromium,
)

from pipeline import rows
from pipeline import warehouse as wh
from review.report import monthly_check, render_report
from review.store import ReviewStore

pytestmark = needs_chromium


def test_the_numbers_tables_fit_an_a4_page(tmp_path: Path, browser: Browser) -> None:
    root = build_newcomer_warehouse(tmp_path)
    found = [_finding("C-LENA-1", item, True, "pass") for item in SHIPPED_ITEMS]
    wh.upsert(root, "findings", {DATE: [rows.finding_row(f) for f in found]})
    store = ReviewStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    check = monthly_check(root, make_config(), "TEAM-01", "2026-11", store=store)
    # every item of the shipped rubric that is the agents' skill (the customer's are not)
    customers = {"customer_dissatisfaction", "escalation_request"}
    assert set(SHIPPED_ITEMS) - customers <= set(check.view.items)
    page = browser.new_page(viewport={"width": 794, "height": 1100})
    page.set_content(render_report(check))
    edges = page.evaluate(
        """() => [...document.querySelectorAll('details.numbers table')].map(t => [
            t.getBoundingClientRect().right, t.closest('section').getBoundingClientRect().right])"""
    )
    page.close()
    assert len(edges) >= 2
    assert all(table <= card + 0.5 for table, card in edges), edges
