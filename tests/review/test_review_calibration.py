"""Calibration numbers on a small known set of reviews: the page, the report, the maths."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from reviewkit import sign_in

from review.calibration import calibrate, calibration_report
from review.store import FindingVerdict, MissedItem, Review, ReviewStore, default_database_url


def _v(item: str, detected: bool, verdict: str, note: str = "") -> FindingVerdict:
    return FindingVerdict(
        "inbound-support",
        3,
        item,
        detected,
        "pass" if detected else "fail",
        verdict,
        note,  # type: ignore[arg-type]
    )


def known_reviews(store: ReviewStore) -> None:
    """Four reviewed calls; C3 reviewed twice (only the latest counts)."""
    store.save_review(
        Review(
            "C1",
            "lena",
            "fail",
            findings=(
                _v("greeting", True, "correct"),  # TP
                _v("forbidden_language", True, "incorrect", "a quote, not an insult"),  # FP
                _v("empathy", False, "incorrect"),  # FN (and added as missed: once)
                _v("closing", False, "correct"),  # TN
                _v("hold_etiquette", False, "na"),  # no hold on the call: neither hit nor miss
            ),
            missed=(MissedItem("empathy", 12.0, "sorry to hear that"),),
        )
    )
    store.save_review(
        Review(
            "C2",
            "omar",
            "pass",
            findings=(
                _v("greeting", True, "correct"),  # TP
                _v("forbidden_language", True, "correct"),  # TP
                _v("empathy", False, "correct"),  # TN
                _v("hold_etiquette", True, "na"),  # detected where no hold was: FP
            ),
            missed=(MissedItem("closing", 30.0),),  # FN, no finding judged
        )
    )
    store.save_review(Review("C3", "lena", findings=(_v("greeting", True, "incorrect"),)))
    store.save_review(Review("C3", "quinn", findings=(_v("greeting", True, "correct"),)))  # TP
    store.save_review(
        Review(
            "C4",
            "omar",
            findings=(_v("forbidden_language", True, "incorrect"),),  # FP …
            missed=(MissedItem("forbidden_language", 50.0),),  # … and FN: wrong moment
        )
    )


EXPECTED = {
    # item: (reviewed, tp, fp, fn, tn, na, precision, recall)
    "closing": (2, 0, 0, 1, 1, 0, math.nan, 0.0),
    "empathy": (2, 0, 0, 1, 1, 0, math.nan, 0.0),
    "forbidden_language": (3, 1, 2, 1, 0, 0, 1 / 3, 0.5),
    "greeting": (3, 3, 0, 0, 0, 0, 1.0, 1.0),
    "hold_etiquette": (1, 0, 1, 0, 0, 1, 0.0, math.nan),
}


def test_calibration_numbers(database_url: str) -> None:
    store = ReviewStore(database_url)
    known_reviews(store)
    items, diffs = calibrate(store.latest_reviews())
    got = {
        i.item_id: (i.reviewed, i.tp, i.fp, i.fn, i.tn, i.na, i.precision, i.recall) for i in items
    }
    assert got.keys() == EXPECTED.keys()
    for item, want in EXPECTED.items():
        assert got[item][:6] == want[:6], item
        for g, w in zip(got[item][6:], want[6:], strict=True):
            assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w), item
    assert [(d.call_id, d.item_id, d.kind) for d in diffs] == [
        ("C1", "empathy", "false negative"),
        ("C1", "forbidden_language", "false positive"),
        ("C2", "closing", "false negative"),
        ("C2", "hold_etiquette", "false positive"),
        ("C4", "forbidden_language", "false negative"),
        ("C4", "forbidden_language", "false positive"),
    ]
    empathy = diffs[0]
    assert empathy.at_s == 12.0 and empathy.inspector == "heard at 0:12"
    assert diffs[1].note == "a quote, not an insult"


def test_calibration_page_for_the_lead(client: TestClient, database_url: str) -> None:
    known_reviews(ReviewStore(database_url))
    sign_in(client, "quinn")
    page = client.get("/calibration")
    assert page.status_code == 200
    row = page.text.split("<code>forbidden_language</code>", 1)[1].split("</tr>", 1)[0]
    cells = [c.split("<", 1)[0] for c in row.split('class="num')[1:]]
    # the last cell: no proposals (calls C1–C4 are not in the warehouse)
    assert [c.split(">", 1)[1] for c in cells] == [
        *("3", "1", "2", "1", "0", "0"),
        *("33%", "50%", "33%", ""),
    ]
    assert 'href="/call/C4"' in page.text and "a quote, not an insult" in page.text


def test_calibration_report_text(tmp_path: Path) -> None:
    warehouse = tmp_path / "wh"
    known_reviews(ReviewStore(default_database_url(warehouse)))
    text = calibration_report(warehouse)  # the default database under the warehouse
    lines = text.splitlines()
    assert lines[0].split() == [
        *("item", "reviewed", "TP", "FP", "FN", "TN", "n/a", "precision", "recall")
    ]
    rows = [" ".join(line.split()) for line in lines]
    assert "forbidden_language 3 1 2 1 0 0 33% 50%" in rows
    assert "empathy 2 0 0 1 1 0 — 0%" in rows
    assert "hold_etiquette 1 0 1 0 0 1 0% —" in rows
    assert "C4  forbidden_language: false positive" in text
    empty = calibration_report(tmp_path / "other")
    assert empty == "no reviews yet: nothing to calibrate\n"
