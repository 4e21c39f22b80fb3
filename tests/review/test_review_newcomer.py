"""What a new user tripped over, over HTTP: a quarantined call's page says so and has
nothing to review, a critical flag item is one reason on the queue and call pages, and
``earmark serve`` on a busy port fails with one earmark error naming the port."""

from __future__ import annotations

import html
import re
import socket
from pathlib import Path

import pytest
import reviewkit as kit
from fastapi.testclient import TestClient

from flows.cli import main
from pipeline.errors import ConfigError
from review.app import listen_socket
from review.auth import account_toml
from review.store import ReviewStore


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("newcomer")
    return kit.build_archive(tmp), kit.build_newcomer_warehouse(tmp)


def test_a_quarantined_call_says_why_and_has_nothing_to_review(
    client: TestClient, database_url: str
) -> None:
    kit.sign_in(client, "quinn")
    page = client.get(f"/call/{kit.BROKEN}")
    assert page.status_code == 200
    banner = re.search(
        r'<div class="warning quarantine" role="alert" id="quarantine">(.*?)</div>', page.text, re.S
    )
    assert banner is not None
    assert "Quarantined" in banner[1]
    assert "[A002] 2026-11 calls/broken.wav: not a decodable audio file" in banner[1]
    for absent in ("<audio", 'id="verdict"', 'class="timeline-box"', "<script nonce"):
        assert absent not in page.text, absent
    assert "<dt>length</dt><dd>—</dd>" in page.text  # not 0:00: it was never measured
    saved = client.post(
        f"/call/{kit.BROKEN}", data={"csrf": kit.csrf_of(page.text), "overall": "fail"}
    )
    assert saved.status_code == 409 and "quarantined" in saved.text
    assert ReviewStore(database_url).history(kit.BROKEN) == []


def test_a_critical_flag_item_is_one_reason_on_the_queue_and_the_call(client: TestClient) -> None:
    kit.sign_in(client, "lena")
    queue = html.unescape(client.get("/queue").text)
    assert queue.count(f"forbidden_language — {kit.SAID}") == 1
    assert f"critical: forbidden_language — {kit.SAID}" in queue
    call = client.get(f"/call/{kit.WIDE}").text
    reasons = re.search(r'<ul class="reasons">(.*?)</ul>', call, re.S)
    assert reasons is not None and reasons[1].count("<li>") == 1


def test_serve_on_a_busy_port_is_one_earmark_error_naming_it(
    built: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive, warehouse = built
    config = tmp_path / "earmark.toml"
    config.write_text(account_toml("lena", "lead", "pw") + "\n", encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"\[C047\] cannot listen on 127.0.0.1:{port}"):
            listen_socket("127.0.0.1", port)
        args = ["serve", "--warehouse", str(warehouse), "--archive", str(archive)]
        code = main([*args, "--config", str(config), "--port", str(port)])
    out, err = capsys.readouterr()
    assert code == 2
    assert "review app on" not in out
    assert err.strip().splitlines() == [
        f"earmark: error: [C047] cannot listen on 127.0.0.1:{port}: address already in use; "
        "another program listens there: stop it or give another --port"
    ]


def test_the_unassigned_queue_says_why_it_has_no_budget_and_no_highlights(
    tmp_path: Path, database_url: str
) -> None:
    """Without ``[[inspectors]]`` every queued call is ``unassigned``: the page names the
    group in words and says why its side panel is empty, though a call scored 100."""
    from pipeline import rows
    from pipeline import warehouse as wh
    from pipeline.config import Config
    from pipeline.queue import UNASSIGNED
    from pipeline.types import PlanSpan, QueueEntry

    archive, root = kit.build_archive(tmp_path), kit.build_warehouse(tmp_path)
    entry = QueueEntry(
        UNASSIGNED, kit.DATE, 1, "C-LENA-1", "review", 1000.0, ("x",), (PlanSpan(0.0, 9.0),)
    )
    wh.upsert(str(root), "queue", {kit.DATE: [rows.queue_row(entry)]})
    app = kit.review_app(root, archive, database_url, config=Config())
    with TestClient(app, follow_redirects=False) as client:
        kit.sign_in(client, "quinn")
        page = html.unescape(client.get(f"/queue?date={kit.DATE}").text)
    assert '<h2 id="unassigned">Unassigned calls</h2>' in page
    assert "the configuration has no <code>[[inspectors]]</code>" in page
    assert "the control sample, the skims and the highlights are picked only" in page
    assert "No highlights today." not in page
    assert "No highlights: they are picked for an inspector's own queue" in page
    # no daily budget for them: the time is what the calls take, not a share of a budget
    assert re.search(r"1 call · (\d+:\d\d) to hear and read</span>", page), page
    assert "of budget" not in page


def test_an_inspector_without_highlights_is_told_why(client: TestClient) -> None:
    kit.sign_in(client, "omar")
    page = client.get(f"/queue?date={kit.DATE}").text
    assert "No highlights: no call of these teams scored 90 or more on 2026-11-20" in page
    assert "Unassigned calls" not in page
    assert re.search(r"\d+ calls? · \d+:\d\d of budget</span>", page)  # omar has a budget


def test_evidence_says_what_fired_in_words_to_an_inspector_and_as_written_to_a_lead(
    client: TestClient,
) -> None:
    kit.sign_in(client, "lena")
    page = html.unescape(client.get(f"/call/{kit.WIDE}").text)
    assert '<summary class="muted">(the words “not my problem”)</summary>' in page
    assert '<summary class="muted">(a phrase rule)</summary>' in page  # the names' regex
    assert '<span class="muted rule"' not in page
    kit.sign_in(client, "quinn")
    page = html.unescape(client.get(f"/call/{kit.WIDE}").text)
    assert "(phrase 'not my problem')</span>" in page and '<details class="rule">' not in page


def test_the_missed_item_list_shows_item_titles_with_ids_as_values(client: TestClient) -> None:
    kit.sign_in(client, "lena")
    page = html.unescape(client.get(f"/call/{kit.WIDE}").text)
    shown_findings = re.findall(r"<strong>(.*?)</strong> <code>([a-z_]+)</code>", page)
    titles = {item_id: title for title, item_id in shown_findings}
    select = re.search(r'<select name="missed_item">(.*?)</select>', page, re.S)
    assert select is not None
    options = re.findall(r'<option value="([a-z_]+)"[^>]*>(.*?)</option>', select[1])
    assert options and {i for i, _ in options} == set(titles)
    assert all(shown == titles[i] for i, shown in options)  # the title, not the raw id
    assert any(shown != i for i, shown in options)
    assert [shown.casefold() for _, shown in options] == sorted(
        shown.casefold() for _, shown in options
    )
