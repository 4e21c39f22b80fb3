"""What the derived row converters cost: records to Parquet and back, per table.

For N synthetic findings (two pieces of evidence each) and N queue entries (a plan of
three stretches), times each step of a warehouse write and read: the records to rows
(:mod:`pipeline.shapes` through :mod:`pipeline.rows`), the rows to an Arrow table with
the table's schema, the table to Parquet and back, and the rows back to records. The
converters' share of the whole is what deriving them from the dataclasses costs (they
replaced hand-written dicts; the Arrow and Parquet steps are unchanged).

Run: ``.venv/bin/python bench/rows.py [--rows 50000]``; prints and writes JSON (with the
load average, since other work on the machine slows it down).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from benchenv import state_path, use_checkout  # bench/benchenv.py

use_checkout(home=False)

from pipeline import rows  # noqa: E402
from pipeline import warehouse as wh  # noqa: E402
from pipeline.types import Evidence, Finding, PlanSpan, QueueEntry  # noqa: E402


def findings(n: int) -> list[Finding]:
    return [
        Finding(
            f"C{i:06d}",
            "inbound-support",
            3,
            f"item{i % 12}",
            1,
            bool(i % 3),
            "fail" if i % 5 == 0 else "pass",
            0.5 + (i % 50) / 100,
            (
                Evidence("agent", i % 300, i % 300 + 2.5, "thank you for calling", "phrase"),
                Evidence("customer", i % 300 + 4, i % 300 + 6, "this is a joke"),
            ),
            weight=10.0,
            title=f"Item {i % 12}",
        )
        for i in range(n)
    ]


def queue(n: int) -> list[QueueEntry]:
    plan = (PlanSpan(0.0, 12.5), PlanSpan(40.0, 70.0, "read"), PlanSpan(90.0, 101.0))
    return [
        QueueEntry(
            f"inspector{i % 7}",
            "2026-11-20",
            i,
            f"C{i:06d}",
            "review",
            100.0 + i % 400,
            ("critical: forbidden_language", "low score 42"),
            plan,
            agent_id=f"A-{i % 90}",
            team_id=f"T-{i % 6}",
            cost_s=31.0,
        )
        for i in range(n)
    ]


def _timed(step: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = step()
    return out, time.perf_counter() - start


def measure(
    table: str, records: Sequence[Any], write: Callable[[Any], Any], read: Callable[[Any], Any]
) -> dict[str, float]:
    schema = wh.SCHEMAS[table]
    row_list, to_rows = _timed(lambda: [write(r) for r in records])
    arrow, to_arrow = _timed(lambda: pa.Table.from_pylist(row_list, schema=schema))
    buffer = io.BytesIO()
    _, to_parquet = _timed(lambda: pq.write_table(arrow, buffer, compression="zstd"))
    buffer.seek(0)
    back, from_parquet = _timed(lambda: pq.read_table(buffer).to_pylist())
    again, from_rows = _timed(lambda: [read(r) for r in back])
    assert again == list(records)
    total = to_rows + to_arrow + to_parquet + from_parquet + from_rows
    return {
        "rows": len(records),
        "to_rows_us": 1e6 * to_rows / len(records),
        "from_rows_us": 1e6 * from_rows / len(records),
        "arrow_and_parquet_us": 1e6 * (to_arrow + to_parquet + from_parquet) / len(records),
        "converters_share": (to_rows + from_rows) / total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=state_path("rows.json"))
    args = parser.parse_args()
    result = {
        "findings": measure(
            "findings", findings(args.rows), rows.finding_row, rows.finding_from_row
        ),
        "queue": measure("queue", queue(args.rows), rows.queue_row, rows.queue_entry_from_row),
        "load_average": os.getloadavg()[0],
    }
    for table in ("findings", "queue"):
        r = result[table]
        print(
            f"{table:9s} to row {r['to_rows_us']:5.1f} µs, from row {r['from_rows_us']:5.1f} µs, "
            f"Arrow + Parquet both ways {r['arrow_and_parquet_us']:5.1f} µs per row; "
            f"converters {100 * r['converters_share']:.0f} % of the round trip"
        )
    print(f"load average {result['load_average']:.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
