"""The ``calls``, ``call_reasons`` and ``contact_reasons`` tables as they are stored,
written out column by column (``name: Arrow type``, as earmark wrote them before the
tables were derived from their records): deriving them must not change a name, an order
or a type, so the warehouse on disk still reads with ``SCHEMA_VERSION`` unchanged."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipeline import warehouse as wh

CALLS = """
call_id: string
source_path: string
audio_sha256: string
size_bytes: int64
duration_s: double
channels: int16
sample_rate: int32
codec: string
language: string
language_probability: double
agent_id: string
team_id: string
started_at: string
direction: string
customer_id: string
metadata: map<string, string>
status: string
status_reason: string
call_type: string
rubric_id: string
asr_model: string
asr_confidence: double
speech_s: double
dropped_segments: list<item: string>
handle_s: double
talk_s: double
talk_agent_s: double
talk_customer_s: double
talk_ratio_agent: double
silence_s: double
dead_air_s: double
longest_dead_air_s: double
dead_air_count: double
hold_count: double
hold_s: double
longest_hold_s: double
overtalk_s: double
overtalk_count: double
interruptions_agent: double
interruptions_customer: double
wpm_agent: double
wpm_customer: double
customer_agitation_max: double
sentiment_start: double
sentiment_end: double
sentiment_min: double
sentiment_change: double
metric_spans: list<item: struct<metric: string, start_s: double, end_s: double>>
redactions: list<item: struct<kind: string, start_s: double, end_s: double>>
diarization: struct<outcome: string, embedder: string, voice_gain: double>
repeat_contacts: int32
embed_model: string
decode_warnings: int32
metadata_issues: list<item: string>
"""

CALL_REASONS = """
call_id: string
reason_id: string
similarity: double
opened: bool
language: string
text: string
start_s: double
end_s: double
vector: binary
repeat_of: string
"""

CONTACT_REASONS = """
reason_id: string
label: string
languages: list<item: string>
language_counts: map<string, int64>
n_calls: int64
centroid: binary
created: string
last_seen: string
examples: list<item: struct<call_id: string, call_date: string, language: string,
    text: string, start_s: double, end_s: double, similarity: double, vector: binary>>
"""


def _written_out(schema: pa.Schema) -> list[str]:
    """Each column as ``name: type`` (the words of it: a long type may wrap above)."""
    return " ".join(f"{f.name}: {f.type}" for f in schema).split()


@pytest.mark.parametrize(
    ("name", "schema", "columns"),
    [
        ("calls", wh.SCHEMAS["calls"], CALLS),
        ("call_reasons", wh.SCHEMAS["call_reasons"], CALL_REASONS),
        ("contact_reasons", wh.REASONS_SCHEMA, CONTACT_REASONS),
    ],
)
def test_a_table_keeps_the_columns_it_is_stored_with(
    name: str, schema: pa.Schema, columns: str
) -> None:
    assert _written_out(schema) == columns.split()
    assert all(f.nullable for f in schema)
    assert schema.metadata == {b"earmark.table": name.encode(), b"earmark.schema_version": b"1"}
