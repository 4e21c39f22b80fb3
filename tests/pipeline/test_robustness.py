"""Bad input never crashes the loader or the parser: property-based tests (hypothesis)."""

from __future__ import annotations

import string
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError, RubricError
from pipeline.metadata import read_metadata
from pipeline.rubric.schema import load_rubric, parse_rubric

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 1000),
    st.floats(allow_nan=True),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
item_keys = st.sampled_from(
    [
        "id",
        "version",
        "speaker",
        "window",
        "expect",
        "weight",
        "critical",
        "flag",
        "detector",
        "params",
        "na_when",
        "examples",
        "expcet",
        "wieght",
    ]
)
items = st.dictionaries(item_keys, values, max_size=10)
rubrics = st.fixed_dictionaries(
    {"schema_version": st.sampled_from([1, 1, 1, 2, "1", None])},
    optional={
        "id": st.sampled_from(["ok", "Bad Id", 3]),
        "version": values,
        "language": st.sampled_from(["en", "zh", "ru", "xx", None]),
        "items": st.one_of(st.lists(items, max_size=3), values),
        "extra": values,
    },
)


@settings(max_examples=300, deadline=None)
@given(rubrics)
def test_rubric_parser_only_ever_raises_rubric_errors(doc: dict) -> None:
    try:
        parse_rubric(doc, source="fuzz.yaml")
    except RubricError as exc:
        assert str(exc).startswith("[R0") and "fuzz.yaml" in str(exc)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet=string.printable + "ёж中：", max_size=300))
def test_rubric_loader_on_arbitrary_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_rubric(path)
    except RubricError as exc:
        assert str(path) in str(exc)


def test_valid_rubric_survives_a_yaml_round_trip(tmp_path: Path) -> None:
    doc = {
        "schema_version": 1,
        "id": "r",
        "version": 1,
        "language": "en",
        "items": [
            {"id": "g", "expect": "present", "detector": "phrase.v1", "params": {"phrases": ["hi"]}}
        ],
    }
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert load_rubric(path).items[0].id == "g"


cells = st.text(alphabet=string.ascii_letters + string.digits + ' ,"\n\r:-+éЖ中/.', max_size=20)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(cells, min_size=0, max_size=8), max_size=8), st.booleans())
def test_metadata_parser_never_crashes(
    tmp_path: Path, rows: list[list[str]], with_header: bool
) -> None:
    header = "call_id,file,agent_id,team_id,started_at\n" if with_header else ""
    body = "\n".join(",".join(r) for r in rows)
    path = tmp_path / "metadata.csv"
    path.write_text(header + body, encoding="utf-8")
    try:
        table = read_metadata(path)
    except InputError as exc:
        assert "metadata.csv" in str(exc)
        return
    for q in table.refused:
        assert q.source_path.startswith("metadata.csv:") and q.error_code == "I004"
    for issue in table.issues:
        assert issue.line >= 0 and issue.code in ("I005", "I011", "I012", "I013")
    assert all(isinstance(r.values, dict) for r in (*table.by_file.values(), *table.by_id.values()))


def test_metadata_in_another_encoding_is_read_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "metadata.csv"
    path.write_bytes("call_id,file\nC1,Café.wav\n".encode("cp1252"))
    table = read_metadata(path)
    assert table.by_file["Café.wav"].values["call_id"] == "C1"
    assert [(i.code, i.line) for i in table.issues] == [("I010", 0)]
    assert "read as cp1252" in str(table.issues[0])
