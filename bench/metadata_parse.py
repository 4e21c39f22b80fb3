"""How fast ``metadata.csv`` is read: rows per second, recognised dates vs a configured form.

Writes a synthetic export of N rows as a Russian-locale spreadsheet saves it (BOM,
semicolons, CRLF, ``dd.mm.yyyy hh:mm``), then times :func:`pipeline.metadata.read_metadata`
with the date form recognised, with a time zone, and with ``date_format`` configured.
Target: a night's export of 100,000 rows read in under 10 s on 2 cores.

Also decodes the real telephone MP3s under ``../shared/realcalls/`` (or
``$EARMARK_REALCALLS``) when the folder is there (skipped when not): the decoder warnings counted per call, and whether anything
reached the terminal (fd 2).

Run: ``.venv/bin/python bench/metadata_parse.py [--rows 100000]``; prints and writes JSON.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchenv import REALCALLS, state_path, use_checkout  # bench/benchenv.py
from figures import publish  # bench/figures.py, beside this script

use_checkout()

from pipeline.audio import decode  # noqa: E402
from pipeline.metadata import MetadataOptions, read_metadata  # noqa: E402


def _export(path: Path, rows: int) -> None:
    lines = ["call_id;file;agent_id;team_id;started_at;direction;комментарий"]
    lines += [
        f"C{i};2026-12-05/call {i}.mp3;A-{i % 150};TEAM-{i % 10:02d};"
        f"{1 + i % 28:02d}.12.2026 {i % 24:02d}:{i % 60:02d};inbound;жалоба {i % 7}"
        for i in range(rows)
    ]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))


def _time_parse(path: Path, rows: int) -> dict[str, float]:
    out = {}
    for name, options in (
        ("recognised", MetadataOptions()),
        ("recognised_with_timezone", MetadataOptions(timezone="Europe/Moscow")),
        ("date_format", MetadataOptions(date_format="%d.%m.%Y %H:%M", timezone="Europe/Moscow")),
    ):
        started = time.perf_counter()
        table = read_metadata(path, options=options)
        wall = time.perf_counter() - started
        assert len(table.by_id) == rows and not table.issues
        out[f"{name}_s"] = round(wall, 2)
        out[f"{name}_rows_per_s"] = round(rows / wall)
    return out


def _real_mp3s() -> dict[str, object]:
    calls = sorted(REALCALLS.glob("*.mp3")) if REALCALLS.is_dir() else []
    if not calls:
        return {"realcalls": "skipped: ../shared/realcalls is not there"}
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)  # whatever escapes the decoder's own capture lands here
        try:
            found = {p.name: decode(p, sr=16_000).decode_warnings for p in calls}
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        leaked = sink.read()
    return {"decode_warnings": found, "bytes_on_stderr": len(leaked)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json", type=Path, default=state_path("metadata_parse.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "metadata.csv"
        _export(path, args.rows)
        result: dict[str, object] = {"rows": args.rows, **_time_parse(path, args.rows)}
    result.update(_real_mp3s())
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    publish(result, args.json)


if __name__ == "__main__":
    main()
