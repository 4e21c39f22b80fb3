"""``earmark rubric suggest``: inspector verdicts saved through the app → proposed examples."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from reviewkit import csrf_of, make_config, sign_in

from flows.cli import EXIT_OK, EXIT_USAGE, main
from pipeline.config import DEFAULT_RUBRICS
from pipeline.errors import EXIT_STORAGE
from pipeline.rubric.schema import load_rubric
from review.store import FindingVerdict, MissedItem, Review, ReviewStore
from review.suggest import suggest, suggestions_yaml

KEY = "inbound-support|3|"
EN = DEFAULT_RUBRICS["en"]


def _review(client: TestClient, who: str, call_id: str, **fields: str | list[str]) -> None:
    sign_in(client, who)
    page = client.get(f"/call/{call_id}")
    assert page.status_code == 200
    form = {
        "csrf": csrf_of(page.text),
        f"verdict:{KEY}greeting": "correct",
        f"verdict:{KEY}forbidden_language": "incorrect",
        f"note:{KEY}forbidden_language": "a figure of speech, not rude",
        f"verdict:{KEY}escalation_request": "correct",
        **fields,
    }
    assert client.post(f"/call/{call_id}", data=form).status_code == 303


@pytest.fixture
def reviewed(client: TestClient, make_client, database_url: str) -> str:  # type: ignore[no-untyped-def]
    _review(
        client,
        "lena",
        "C-LENA-1",
        missed_item=["closing", "empathy"],
        missed_at=["0:21", "0:30"],  # the closing line; nothing said near 0:30
        missed_note=["", ""],
    )
    _review(  # the same false positive on another call, and no occasion for a closing
        make_client(), "omar", "C-OMAR-1", **{f"verdict:{KEY}closing": "na"}
    )
    return database_url


def test_missed_items_become_examples_and_false_hits_counter_examples(
    reviewed: str, warehouse: Path
) -> None:
    store = ReviewStore(reviewed)
    found = suggest(store.latest_reviews(), warehouse, make_config())
    got = {(p.item_id, p.field, p.text): p.sources for p in found.proposals}
    assert set(got) == {
        ("closing", "match", "Is there anything else I can help you with?"),
        ("forbidden_language", "no_match", "that's not my problem"),
    }
    assert all(p.rubric_file == EN for p in found.proposals)
    assert got[("closing", "match", "Is there anything else I can help you with?")] == (
        "missed: C-LENA-1 at 0:21 (lena)",
    )
    assert len(got[("forbidden_language", "no_match", "that's not my problem")]) == 2
    assert found.counts() == {"closing": (1, 0), "forbidden_language": (0, 1)}
    assert found.skipped == ("missed: C-LENA-1 at 0:30 (lena): no utterance within 3 s",)
    omar = store.latest_review("C-OMAR-1")
    assert (
        omar is not None
    )  # a verdict of "not applicable" proposes nothing, is skipped for nothing
    assert {f.item_id: f.verdict for f in omar.findings}["closing"] == "na"
    assert not found.measured


def test_the_patch_is_yaml_that_a_rubric_accepts(
    reviewed: str, warehouse: Path, tmp_path: Path
) -> None:
    store = ReviewStore(reviewed)
    text = suggestions_yaml(suggest(store.latest_reviews(), warehouse, make_config()))
    patch = yaml.safe_load(text)
    assert patch[EN]["closing"]["examples"]["match"] == [
        "Is there anything else I can help you with?"
    ]
    assert "# not proposed:" in text and "0:30" in text
    # accepting it: the examples go into the rubric and the rubric still validates
    rubric = yaml.safe_load(Path(EN).read_text(encoding="utf-8"))
    for item in rubric["items"]:
        for field, lines in patch[EN].get(item["id"], {}).get("examples", {}).items():
            item.setdefault("examples", {}).setdefault(field, []).extend(lines)
    accepted = tmp_path / "inbound-support.yaml"
    accepted.write_text(yaml.safe_dump(rubric, allow_unicode=True), encoding="utf-8")
    closing = next(i for i in load_rubric(accepted).items if i.id == "closing")
    assert "Is there anything else I can help you with?" in closing.examples.match


def test_cli_writes_the_file_and_refuses_to_overwrite_a_rubric(
    reviewed: str, warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "suggestions.yaml"
    args = ["rubric", "suggest", "--warehouse", str(warehouse), "--database", reviewed]
    assert main([*args, "--out", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "wrote 2 proposal(s) for 2 item(s)" in printed
    assert "closing: 1 example(s), 0 counter-example(s)" in printed
    assert yaml.safe_load(out.read_text(encoding="utf-8"))[EN]["forbidden_language"]
    assert main([*args, "--out", str(out)]) == EXIT_OK  # its own file may be rewritten
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text("schema_version: 1\n", encoding="utf-8")
    assert main([*args, "--out", str(rubric)]) == EXIT_USAGE
    assert "[C043]" in capsys.readouterr().err
    assert rubric.read_text(encoding="utf-8") == "schema_version: 1\n"
    assert main(args) == EXIT_OK
    assert capsys.readouterr().out.startswith("# earmark rubric suggest: 2 proposal(s)")
    typo = tmp_path / "no-such-warehouse"
    assert (
        main(["rubric", "suggest", "--warehouse", str(typo), "--database", reviewed])
        == EXIT_STORAGE
    )
    assert "[W012]" in capsys.readouterr().err and not typo.exists()


def test_no_reviews_prints_an_empty_patch(warehouse: Path, database_url: str) -> None:
    text = suggestions_yaml(suggest([], warehouse, make_config()))
    assert yaml.safe_load(text) == {} and "0 proposal(s)" in text


def test_calibration_page_links_to_suggest(reviewed: str, client: TestClient) -> None:
    sign_in(client, "quinn")
    page = client.get("/calibration")
    assert page.status_code == 200
    assert (
        "earmark rubric suggest --warehouse" in page.text and "--out suggestions.yaml" in page.text
    )
    assert "<strong>1</strong> example(s)" in page.text
    assert "<strong>1</strong> counter-example(s)" in page.text
    row = page.text.split("<code>closing</code>", 1)[1].split("</tr>", 1)[0]
    assert "1 / 0" in row


def test_a_measured_item_gets_no_example_and_its_note_is_listed(
    warehouse: Path, database_url: str
) -> None:
    # interrupting and dead_air are metric.v1 items: a sentence cannot teach a threshold
    review = Review(
        "C-LENA-1",
        "lena",
        findings=(
            FindingVerdict("inbound-support", 3, "dead_air", True, "fail", "incorrect", "on hold"),
        ),
        missed=(MissedItem("interrupting", 21.0, "talked over her three times"),),
    )
    found = suggest([review], warehouse, make_config())
    assert found.proposals == ()
    assert [(m.item_id, m.measure, m.note) for m in found.measured] == [
        ("interrupting", "agent_overtalk_count >= 3", "talked over her three times"),
        ("dead_air", "longest_dead_air_s > 10", "on hold"),
    ]
    text = suggestions_yaml(found)
    assert yaml.safe_load(text) == {}  # nothing to copy into the rubric
    assert (
        "#   interrupting is measured (agent_overtalk_count >= 3), not matched on words: "
        'no example proposed; missed: C-LENA-1 at 0:21 (lena), note: "talked over her three times"'
    ) in text
