"""The ``calls``, ``call_reasons`` and ``contact_reasons`` tables as they are stored,
written out column by column: deriving them from their records must not change a name,
an order or a type (the warehouse on disk still reads, ``SCHEMA_VERSION`` unchanged)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipeline import warehouse as wh

_f64, _str = pa.float64(), pa.string()
_span = [("start_s", _f64), ("end_s", _f64)]

CALLS = [
    ("call_id", _str),
    ("source_path", _str),
    ("audio_sha256", _str),
    ("size_bytes", pa.int64()),
    ("duration_s", _f64),
    ("channels", pa.int16()),
    ("sample_rate", pa.int32()),
    ("codec", _str),
    ("language", _str),
    ("language_probability", _f64),
    ("agent_id", _str),
    ("team_id", _str),
    ("started_at", _str),
    ("direction", _str),
    ("customer_id", _str),
    ("metadata", pa.map_(_str, _str)),
    ("status", _str),
    ("status_reason", _str),
    ("call_type", _str),
    ("rubric_id", _str),
    ("asr_model", _str),
    ("asr_confidence", _f64),
    ("speech_s", _f64),
    ("dropped_segments", pa.list_(_str)),
    ("handle_s", _f64),
    ("talk_s", _f64),
    ("talk_agent_s", _f64),
    ("talk_customer_s", _f64),
    ("talk_ratio_agent", _f64),
    ("silence_s", _f64),
    ("dead_air_s", _f64),
    ("longest_dead_air_s", _f64),
    ("dead_air_count", _f64),
    ("hold_count", _f64),
    ("hold_s", _f64),
    ("longest_hold_s", _f64),
    ("overtalk_s", _f64),
    ("overtalk_count", _f64),
    ("interruptions_agent", _f64),
    ("interruptions_customer", _f64),
    ("wpm_agent", _f64),
    ("wpm_customer", _f64),
    ("customer_agitation_max", _f64),
    ("sentiment_start", _f64),
    ("sentiment_end", _f64),
    ("sentiment_min", _f64),
    ("sentiment_change", _f64),
    ("metric_spans", pa.list_(pa.struct([("metric", _str), *_span]))),
    ("redactions", pa.list_(pa.struct([("kind", _str), *_span]))),
    ("diarization", pa.struct([("outcome", _str), ("embedder", _str), ("voice_gain", _f64)])),
    ("repeat_contacts", pa.int32()),
    ("embed_model", _str),
    ("decode_warnings", pa.int32()),
    ("metadata_issues", pa.list_(_str)),
]

CALL_REASONS = [
    ("call_id", _str),
    ("reason_id", _str),
    ("similarity", _f64),
    ("opened", pa.bool_()),
    ("language", _str),
    ("text", _str),
    *_span,
    ("vector", pa.binary()),
    ("repeat_of", _str),
]

_example = [
    ("call_id", _str),
    ("call_date", _str),
    ("language", _str),
    ("text", _str),
    *_span,
    ("similarity", _f64),
    ("vector", pa.binary()),
]
CONTACT_REASONS = [
    ("reason_id", _str),
    ("label", _str),
    ("languages", pa.list_(_str)),
    ("language_counts", pa.map_(_str, pa.int64())),
    ("n_calls", pa.int64()),
    ("centroid", pa.binary()),
    ("created", _str),
    ("last_seen", _str),
    ("examples", pa.list_(pa.struct(_example))),
]


@pytest.mark.parametrize(
    ("name", "schema", "written_out"),
    [
        ("calls", wh.SCHEMAS["calls"], CALLS),
        ("call_reasons", wh.SCHEMAS["call_reasons"], CALL_REASONS),
        ("contact_reasons", wh.REASONS_SCHEMA, CONTACT_REASONS),
    ],
)
def test_a_table_keeps_the_columns_it_is_stored_with(name, schema, written_out) -> None:
    expected = pa.schema(
        written_out,
        metadata={"earmark.table": name, "earmark.schema_version": wh.SCHEMA_VERSION},
    )
    assert wh.SCHEMA_VERSION == "1"
    assert schema.names == expected.names
    for field in expected:
        assert schema.field(field.name).equals(field), (name, field.name)
    assert schema.equals(expected, check_metadata=True)
