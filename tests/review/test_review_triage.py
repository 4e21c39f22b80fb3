"""The triage page: calls kept out of the queues, with why, each person seeing their share."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from reviewkit import (
    DATE,
    build_archive,
    build_warehouse,
    csrf_of,
    review_app,
    sign_in,
)
from rowkit import analysis

from pipeline import rows
from pipeline import warehouse as wh
from pipeline.types import Recording


def _not_scored(root: Path) -> None:
    german = Recording(
        "C-DE", "de call.wav", "", "1" * 64, DATE, 100, {"agent_id": "A1", "team_id": "TEAM-01"}
    )
    internal = Recording(
        "C-INT", "int.wav", "", "2" * 64, DATE, 100, {"agent_id": "B1", "team_id": "TEAM-02"}
    )
    audio_de = analysis(
        duration_s=61.0, language="de", language_probability=0.91, status="unsupported_language"
    )
    audio_int = analysis(duration_s=30.0, language="zh", language_probability=0.99)
    calls = [
        rows.call_row(
            german,
            audio_de,
            None,
            "unsupported_language",
            status_reason="language 'de' (probability 0.91) is not served (languages: en, zh, ru)",
        ),
        rows.call_row(
            internal,
            audio_int,
            None,
            "no_rubric",
            status_reason="call type 'internal' has no rubric for language 'zh'",
            call_type="internal",
        ),
    ]
    wh.upsert(root, "calls", {DATE: calls})


def _client(tmp_path: Path) -> TestClient:
    archive, warehouse = build_archive(tmp_path), build_warehouse(tmp_path)
    _not_scored(warehouse)
    app = review_app(warehouse, archive, f"sqlite:///{tmp_path / 'reviews.sqlite'}")
    return TestClient(app, follow_redirects=False)


def test_lead_sees_every_call_kept_out_of_the_queues(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        page = sign_in(client, "quinn").get("/triage")
    assert page.status_code == 200
    assert "C-DE" in page.text and "unsupported_language" in page.text
    assert "91%" in page.text and "is not served" in page.text
    assert "C-INT" in page.text and "no rubric for language" in page.text
    assert "C-LENA-1" not in page.text  # scored calls are in the queues, not here


def test_inspector_sees_only_their_teams(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        page = sign_in(client, "lena").get("/triage")  # lena: TEAM-01
    assert page.status_code == 200
    assert "C-DE" in page.text
    assert "C-INT" not in page.text


def test_triage_needs_sign_in(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        assert client.get("/triage").status_code in (303, 401)


def _banner(page_text: str) -> str:
    """The call page's notice of why the call is out of the queues."""
    found = re.search(
        r'<div class="warning triage" role="alert" id="triage">(.*?)</div>', page_text, re.S
    )
    assert found is not None, page_text
    return found[1]


def test_a_call_in_a_language_not_served_says_why_and_offers_no_findings_form(
    tmp_path: Path,
) -> None:
    with _client(tmp_path) as client:
        page = sign_in(client, "lena").get("/call/C-DE")
        banner = _banner(page.text)
        assert "Not transcribed: language de (91%) is not one this centre serves" in banner
        assert "(languages: en, zh, ru)" in banner  # what the night noted, for the routing
        for absent in ('id="verdict"', "No findings", "Missed items", 'class="timeline-box"'):
            assert absent not in page.text, absent
        assert "<audio" in page.text  # it can still be heard, to tell what it is
        saved = client.post("/call/C-DE", data={"csrf": csrf_of(page.text), "overall": "fail"})
    assert saved.status_code == 409 and "not one this centre serves" in saved.text


def test_a_call_with_no_rubric_for_its_type_says_so(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        page = sign_in(client, "quinn").get("/call/C-INT").text
    banner = _banner(page)
    assert "Not scored: no rubric for this type of call in its language" in banner
    assert "call type &#39;internal&#39; has no rubric for language &#39;zh&#39;" in banner
    assert 'id="verdict"' not in page
