"""Inspectors see only their teams' calls (pairing of the call's month); leads see all."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from reviewkit import (
    DEC_DATE,
    PATH_ID,
    csrf_of,
    make_accounts,
    make_config,
    review_app,
    sign_in,
)

from review.auth import Account, hash_password
from review.store import ReviewStore


def test_queue_shows_only_my_calls_with_highlights_beside(client: TestClient) -> None:
    sign_in(client, "lena")
    page = client.get("/queue")
    assert page.status_code == 200
    assert "Queue of lena · 2026-11-20" in page.text
    assert "C-LENA-1" in page.text and "C-LENA-2" in page.text
    assert "C-OMAR-1" not in page.text
    main, highlights = page.text.split("Highlights", 1)
    assert "C-LENA-1" in main and "critical: forbidden_language" in main
    assert "C-LENA-2" in highlights and "highlight: score 95" in highlights
    assert ">0:22<" in main  # the plan: 10 s + 11 s heard, 5 s read at 4x
    sneaky = client.get("/queue", params={"inspector": "omar"})
    assert "C-OMAR-1" not in sneaky.text  # an inspector cannot pick another's queue


def test_an_inspector_paired_with_no_team_is_told_why_the_queue_is_empty(
    warehouse: Path, archive: Path, database_url: str
) -> None:
    """A new inspector with an account whom ``[[inspectors]]`` pairs with no team (found
    trying the product as one) saw "Your teams this month: none" above an empty queue,
    with nothing saying where the calls are."""
    accounts = make_accounts() | {
        "nia": Account("nia", "inspector", hash_password("nia-password-1"))
    }
    app = review_app(warehouse, archive, database_url, accounts=accounts)
    with TestClient(app, follow_redirects=False) as client:
        page = sign_in(client, "nia", "nia-password-1").get("/queue").text
    assert "Your teams this month: none." in page and "Nothing queued" in page
    assert "<code>[[inspectors]]</code> block of <code>earmark.toml</code>" in page
    with TestClient(app, follow_redirects=False) as client:
        page = sign_in(client, "lena").get("/queue").text
    assert "Your teams this month: TEAM-01." in page and "[[inspectors]]" not in page


def test_call_page_plays_the_heard_plan_and_marks_the_read_stretch(client: TestClient) -> None:
    sign_in(client, "lena")
    page = client.get("/call/C-LENA-1")
    assert page.status_code == 200
    assert "▶ Play the plan (0:21)" in page.text  # only the heard spans play
    assert 'data-read="0.0"' in page.text and "read 0:00–0:05" in page.text
    plan_json = page.text.split('id="plan-data">', 1)[1].split("</script>", 1)[0]
    assert "read" not in plan_json and "17.0" in plan_json


def test_lead_sees_every_queue_and_can_pick_one(client: TestClient) -> None:
    sign_in(client, "quinn")
    page = client.get("/queue")
    assert "All queues" in page.text and "C-LENA-1" in page.text and "C-OMAR-1" in page.text
    omar = client.get("/queue", params={"inspector": "omar", "date": "2026-11-20"})
    assert "C-OMAR-1" in omar.text and "C-LENA-1" not in omar.text
    assert client.get("/queue", params={"date": "20-11-2026"}).status_code == 400


@pytest.mark.parametrize(("who", "call_id"), [("lena", "C-OMAR-1"), ("omar", "C-LENA-1")])
def test_another_teams_call_is_refused(client: TestClient, who: str, call_id: str) -> None:
    sign_in(client, who)
    page = client.get(f"/call/{call_id}")
    assert page.status_code == 403
    assert "belongs to a team you are not paired with" in page.text
    assert client.get(f"/audio/{call_id}", headers={"Range": "bytes=0-9"}).status_code == 403
    csrf = csrf_of(client.get("/queue").text)
    saved = client.post(f"/call/{call_id}", data={"csrf": csrf, "overall": "fail"})
    assert saved.status_code == 403


def test_refused_opens_are_not_audited_and_allowed_ones_are(
    client: TestClient, database_url: str
) -> None:
    sign_in(client, "lena")
    assert client.get("/call/C-OMAR-1").status_code == 403
    assert client.get("/call/C-LENA-1").status_code == 200
    store = ReviewStore(database_url)
    assert [(o.who, o.call_id) for o in store.opens()] == [("lena", "C-LENA-1")]


def test_unknown_call_is_404(client: TestClient) -> None:
    sign_in(client, "lena")
    assert client.get("/call/NOPE").status_code == 404


def test_lead_opens_everything_and_inspector_not_calibration(client: TestClient) -> None:
    sign_in(client, "quinn")
    for call_id in ("C-LENA-1", "C-OMAR-1"):
        assert client.get(f"/call/{call_id}").status_code == 200
    assert client.get("/calibration").status_code == 200
    client.cookies.clear()
    sign_in(client, "lena")
    assert client.get("/calibration").status_code == 403


def test_monthly_rotation_moves_teams_between_inspectors(
    warehouse: Path, archive: Path, accounts: dict[str, Account], database_url: str
) -> None:
    # November 2026 keeps the configured pairing; December shifts it by one inspector.
    app = review_app(
        warehouse,
        archive,
        database_url,
        config=make_config("monthly"),
        accounts=accounts,
        secret_key="k",
    )
    with (
        TestClient(app, follow_redirects=False) as lena,
        TestClient(app, follow_redirects=False) as omar,
    ):
        sign_in(lena, "lena")
        sign_in(omar, "omar")
        assert lena.get("/call/C-LENA-1").status_code == 200
        assert omar.get("/call/C-LENA-1").status_code == 403
        # C-DEC is TEAM-01's, dated in December: omar's month for TEAM-01
        assert DEC_DATE.startswith("2026-12")
        assert lena.get("/call/C-DEC").status_code == 403
        assert omar.get("/call/C-DEC").status_code == 200


def test_call_ids_made_from_paths_open_play_and_save(client: TestClient) -> None:
    sign_in(client, "lena")
    url = "/call/" + quote(PATH_ID)
    page = client.get(url)
    assert page.status_code == 200 and "call one é" in page.text
    assert f'src="/audio/{quote(PATH_ID)}"' in page.text
    audio = client.get("/audio/" + quote(PATH_ID), headers={"Range": "bytes=0-3"})
    assert audio.status_code == 206 and audio.content == b"RIFF"
    saved = client.post(url, data={"csrf": csrf_of(page.text), "overall": "excellent"})
    assert saved.status_code == 303 and saved.headers["location"].startswith(url + "?saved=")
    assert client.get(saved.headers["location"]).status_code == 200
