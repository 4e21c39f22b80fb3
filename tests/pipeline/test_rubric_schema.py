from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from rubrickit import GREETING, rubric_doc

from pipeline.errors import RubricError
from pipeline.rubric.schema import json_schema_text, load_rubric, parse_rubric

ROOT = Path(__file__).resolve().parents[2]

GOOD = rubric_doc(GREETING)


def _with_item(**changes: object) -> dict:
    item = {**GOOD["items"][0], **changes}  # type: ignore[dict-item]
    return {**GOOD, "items": [item]}


def test_good_rubric_loads() -> None:
    rubric = parse_rubric(GOOD, source="t.yaml")
    assert rubric.item("greeting").window is not None


@pytest.mark.parametrize(
    ("doc", "code", "message"),
    [
        (
            {**_with_item(), "items": [{**GOOD["items"][0], "expcet": "present"}]},
            "R002",
            "item 'greeting': unknown field 'expcet' (did you mean 'expect'?)",
        ),
        (
            _with_item(window={"first_s": -5}),
            "R002",
            "item 'greeting': window.first_s: Input should be greater than 0, got -5",
        ),
        (_with_item(window={"first_s": 5, "last_s": 5}), "R002", "window bounds one end"),
        (_with_item(window={"first_pct": 50, "last_s": 5}), "R002", "window bounds one end"),
        (_with_item(window={}), "R002", "window bounds one end"),
        (
            _with_item(expect="maybe"),
            "R002",
            "expect: Input should be 'present' or 'absent', got 'maybe'",
        ),
        (
            _with_item(detector="phrase.v9"),
            "R003",
            "unknown detector 'phrase.v9' (did you mean 'phrase.v1'?)",
        ),
        (_with_item(params={"phrases": []}), "R005", "params.phrases"),
        (
            _with_item(params={"phrase": ["x"]}),
            "R005",
            "params.phrase: unknown (did you mean 'phrases'?)",
        ),
        (
            _with_item(params={"phrases": ["x"], "tolerance": 2}),
            "R005",
            "params.tolerance: Value error, tolerance is 0 (exact phrases) or 1",
        ),
        (
            _with_item(detector="regex.v1", params={"patterns": ["x"], "tolerance": 1}),
            "R005",
            # a plugin registered by another test may follow the two built-in ones
            "params.tolerance: regex.v1 does not take it (only lemma.v1, phrase.v1",
        ),
        ({**GOOD, "items": GOOD["items"] * 2}, "R004", "duplicate item id"),
        ({**GOOD, "language": "fr"}, "R006", "language must be one of en, zh, ru, got 'fr'"),
        ({**GOOD, "schema_version": 2}, "R007", "schema_version must be 1, got 2"),
        ({**GOOD, "itmes": []}, "R002", "unknown field 'itmes' (did you mean 'items'?)"),
        ({k: v for k, v in GOOD.items() if k != "id"}, "R002", "missing required field 'id'"),
        (
            _with_item(
                na_when={
                    "not_detected": {
                        "detector": "phrase.v1",
                        "params": {"phrases": ["hold"]},
                        "speakr": "agent",
                    }
                }
            ),
            "R002",
            "unknown field 'speakr' (did you mean 'speaker'?)",
        ),
    ],
)
def test_mistakes_get_coded_messages_naming_file_item_field_value(
    doc: dict, code: str, message: str
) -> None:
    with pytest.raises(RubricError) as info:
        parse_rubric(doc, source="rubrics/en/x.yaml")
    assert info.value.code == code
    assert message in str(info.value)
    assert "rubrics/en/x.yaml" in str(info.value)


def test_every_problem_of_a_rubric_is_reported_in_one_go() -> None:
    """No schema_version, a bad weight, an unknown detector and a misspelt param of another
    item: all of them, each coded, not only the first (a user fixed one per check)."""
    second = {**GOOD["items"][0], "id": "closing", "params": {"phrase": ["bye"]}}  # type: ignore[dict-item]
    first = {**GOOD["items"][0], "weight": -3, "detector": "phrase.v9"}  # type: ignore[dict-item]
    doc = {k: v for k, v in GOOD.items() if k != "schema_version"}
    with pytest.raises(RubricError) as info:
        parse_rubric({**doc, "items": [first, second]}, source="x.yaml")
    assert info.value.code == "R007"
    lines = str(info.value).splitlines()
    assert lines[0] == "[R007] x.yaml: schema_version must be 1, got None"
    assert lines[1].startswith("[R002] x.yaml item 'greeting': weight: ")
    assert lines[1].endswith(", got -3")
    assert lines[2].startswith("[R003] x.yaml item 'greeting': unknown detector 'phrase.v9'")
    assert lines[3].startswith("[R005] x.yaml item 'closing': detector 'phrase.v1': ")
    assert "params.phrase: unknown (did you mean 'phrases'?)" in lines[3]
    assert len(lines) == 4  # schema_version said once, not again as a schema error
    with pytest.raises(RubricError) as info:
        parse_rubric({**GOOD, "language": "fr", "items": [first, second]}, source="x.yaml")
    assert [line[:6] for line in str(info.value).splitlines()] == [
        "[R006]",
        "[R002]",
        "[R003]",
        "[R005]",
    ]


def test_yaml_syntax_error_names_file_line_and_column_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("schema_version: 1\nitems:\n  - id: x\n    weight: : 3\n")
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    assert info.value.code == "R001"
    assert str(info.value) == (
        f"[R001] {path}: not valid YAML at line 4, column 13: "
        "mapping values are not allowed in this context"
    )
    path.write_text("schema_version: 1\nitems: [\n  - id: x\n")
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    message = str(info.value)
    assert message.startswith(f"[R001] {path}: not valid YAML at line 3, column 3: ")
    assert message.endswith("(while parsing a flow node at line 3, column 3)")
    assert "\n" not in message and "<unicode string>" not in message


def test_round_trip_through_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(GOOD))
    assert load_rubric(path).source == str(path)


def test_checked_in_json_schema_is_current() -> None:
    checked_in = (ROOT / "rubrics" / "rubric.schema.json").read_text(encoding="utf-8")
    assert json.loads(checked_in) == json.loads(json_schema_text()), (
        "rubrics/rubric.schema.json is stale: run `earmark rubric schema > rubrics/rubric.schema.json`"
    )


MEANING = {"detector": "meaning.v1", "params": {"examples": ["hello there friend"]}}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # a param written on the item: where it belongs, not only the item's fields
        (
            {**MEANING, "threshold": 0.5},
            "item 'greeting': unknown field 'threshold' (a param of meaning.v1: put it "
            "under params, as params.threshold)",
        ),
        (
            {"tolerance": 1},
            "item 'greeting': unknown field 'tolerance' (a param of phrase.v1: put it "
            "under params, as params.tolerance)",
        ),
        # a check of several params together had no field: "params.: Value error, …"
        (
            {**MEANING, "params": {**MEANING["params"], "threshold": -3.0}},
            "detector 'meaning.v1': params.threshold: threshold -3.0 is a margin of cosine "
            "similarities with method: nearest",
        ),
    ],
)
def test_a_misplaced_or_cross_checked_param_is_named(changes: dict, message: str) -> None:
    with pytest.raises(RubricError) as exc:
        parse_rubric(_with_item(**changes), source="t.yaml")
    assert message in str(exc.value)
