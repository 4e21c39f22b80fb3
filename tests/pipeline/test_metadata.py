"""``metadata.csv`` as contact-center systems and spreadsheets export it (issue 14, part 5)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline import rows
from pipeline import warehouse as wh
from pipeline.archive import discover
from pipeline.config import load_config
from pipeline.errors import ConfigError, InputError
from pipeline.metadata import MetadataOptions, options_from_config, read_metadata, sniff_delimiter

HEADER = ["call_id", "file", "agent_id", "team_id", "started_at", "direction", "комментарий"]


def _archive(tmp_path: Path, lines: list[list[str]], *, sep: str, encoding: str, eol: str) -> Path:
    """An archive of two recordings (discovery hashes files, it never decodes them) and a
    ``metadata.csv`` written the way a spreadsheet saves it."""
    root = tmp_path / "arch"
    (root / "2026-12-04").mkdir(parents=True)
    (root / "2026-12-04" / "a.wav").write_bytes(b"RIFF call a")
    (root / "b.wav").write_bytes(b"RIFF call b")
    text = eol.join(sep.join(cells) for cells in [HEADER, *lines]) + eol
    (root / "metadata.csv").write_bytes(text.encode(encoding))
    return root


RU_ROWS = [
    [
        "C-1",
        "2026-12-04/a.wav",
        "A-101",
        "TEAM-01",
        "05.12.2026 09:00",
        "inbound",
        "жалоба; повтор",
    ],
    ["C-2", "b.wav", "A-102", "TEAM-02", "05.12.2026 23:30", "outbound", "продажа"],
]


def _quoted(rows_: list[list[str]], sep: str) -> list[list[str]]:
    return [[f'"{c}"' if sep in c else c for c in r] for r in rows_]


def test_a_russian_spreadsheet_export_semicolons_bom_crlf_dd_mm_yyyy(tmp_path: Path) -> None:
    root = _archive(tmp_path, _quoted(RU_ROWS, ";"), sep=";", encoding="utf-8-sig", eol="\r\n")
    found = discover(root, metadata=MetadataOptions(timezone="Europe/Moscow"))
    by_id = {r.call_id: r for r in found.recordings}
    assert set(by_id) == {"C-1", "C-2"}
    c1 = by_id["C-1"]
    assert (c1.metadata["agent_id"], c1.metadata["team_id"]) == ("A-101", "TEAM-01")
    assert c1.metadata["started_at"] == "2026-12-05T09:00:00+03:00"
    assert c1.call_date == "2026-12-05"  # started_at wins over the folder's date
    assert c1.metadata["комментарий"] == "жалоба; повтор"  # a quoted delimiter stays in its field
    assert by_id["C-2"].metadata["direction"] == "outbound"
    assert found.quarantined == [] and found.metadata_issues == []


def test_without_a_time_zone_times_stay_as_written(tmp_path: Path) -> None:
    root = _archive(tmp_path, _quoted(RU_ROWS, ";"), sep=";", encoding="utf-8-sig", eol="\r\n")
    by_id = {r.call_id: r for r in discover(root).recordings}
    assert by_id["C-2"].metadata["started_at"] == "2026-12-05T23:30:00"
    assert by_id["C-2"].call_date == "2026-12-05"


def test_a_time_with_an_offset_is_dated_in_the_configured_zone(tmp_path: Path) -> None:
    lines = [["C-1", "2026-12-04/a.wav", "A-1", "T", "2026-12-05T22:30:00Z", "inbound", "x"]]
    root = _archive(tmp_path, lines, sep=",", encoding="utf-8", eol="\n")
    rec = discover(root, metadata=MetadataOptions(timezone="Europe/Moscow")).recordings[0]
    assert rec.metadata["started_at"] == "2026-12-06T01:30:00+03:00"
    assert rec.call_date == "2026-12-06"


def test_cp1251_without_a_bom_is_read_and_reported(tmp_path: Path) -> None:
    root = _archive(tmp_path, _quoted(RU_ROWS, ";"), sep=";", encoding="cp1251", eol="\r\n")
    found = discover(root)
    c1 = next(r for r in found.recordings if r.call_id == "C-1")
    assert c1.metadata["комментарий"] == "жалоба; повтор"
    assert [str(i) for i in found.metadata_issues] == [
        "metadata.csv: [I010] not UTF-8 text; read as cp1251 (Windows Cyrillic)"
    ]


def test_excel_unicode_text_utf16_with_tabs(tmp_path: Path) -> None:
    lines = [["C-1", "2026-12-04/a.wav", "A-1", "TEAM-01", "12/25/2026 9:05 PM", "inbound", "x"]]
    root = _archive(tmp_path, lines, sep="\t", encoding="utf-16", eol="\r\n")
    rec = discover(root).recordings[0]
    assert rec.metadata["started_at"] == "2026-12-25T21:05:00" and rec.call_date == "2026-12-25"


def test_a_bad_date_keeps_agent_and_team_and_says_where_the_date_came_from(
    tmp_path: Path,
) -> None:
    lines = [
        ["C-1", "2026-12-04/a.wav", "A-101", "TEAM-01", "31.02.2026 09:00", "inbound", "x"],
        ["C-2", "b.wav", "A-102", "TEAM-02", "вчера", "inbound", "y"],
        ["C-3", "c.wav", "A-103", "TEAM-03", "05.12.2026 10:00", "inbound", "z"],
    ]
    root = _archive(tmp_path, lines, sep=",", encoding="utf-8", eol="\n")
    mtime = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC).timestamp()
    os.utime(root / "b.wav", (mtime, mtime))
    found = discover(root)
    assert found.quarantined == []
    by_id = {r.call_id: r for r in found.recordings}
    c1, c2 = by_id["C-1"], by_id["C-2"]
    assert (c1.metadata["agent_id"], c1.metadata["team_id"]) == ("A-101", "TEAM-01")
    assert (c2.metadata["agent_id"], c2.metadata["team_id"]) == ("A-102", "TEAM-02")
    assert c1.metadata["started_at"] == "" and c1.call_date == "2026-12-04"
    assert c2.call_date == "2026-11-30"
    assert c1.metadata_issues == (
        "metadata.csv:2 column 5 (started_at): [I005] started_at '31.02.2026 09:00' is not a "
        "date and time in dd.mm.yyyy or ISO 8601; call date 2026-12-04 taken from the path",
    )
    assert c2.metadata_issues[0].endswith(
        "call date 2026-11-30 taken from the file's modification time"
    )
    assert [(i.line, i.column, i.code) for i in found.metadata_issues] == [
        (2, 5, "I005"),
        (3, 5, "I005"),
        (4, 0, "I011"),  # c.wav is not in the archive
    ]
    # the issues reach the calls table with the call
    row = rows.call_row(c1, None, None, "quarantined")
    table = pa.Table.from_pylist([row], schema=wh.SCHEMAS["calls"])
    assert table["metadata_issues"].to_pylist() == [list(c1.metadata_issues)]
    assert table["team_id"].to_pylist() == ["TEAM-01"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["03/04/2026 10:00", "12/25/2026 08:15"], ["2026-03-04T10:00:00", "2026-12-25T08:15:00"]),
        (["03/04/2026 10:00", "25/12/2026 08:15"], ["2026-04-03T10:00:00", "2026-12-25T08:15:00"]),
        (
            ["2026/12/05 09:00:30", "2026-12-06T10:00"],
            ["2026-12-05T09:00:30", "2026-12-06T10:00:00"],
        ),
        (["05-12-2026", "5.12.2026 9:00"], ["2026-12-05T00:00:00", "2026-12-05T09:00:00"]),
    ],
)
def test_date_forms_are_recognised_per_file(
    tmp_path: Path, values: list[str], expected: list[str]
) -> None:
    path = tmp_path / "metadata.csv"
    path.write_text(
        "call_id,started_at\n" + "".join(f"C{n},{v}\n" for n, v in enumerate(values)),
        encoding="utf-8",
    )
    table = read_metadata(path)
    assert [table.by_id[f"C{n}"].values["started_at"] for n in range(len(values))] == expected


def test_day_and_month_order_is_never_guessed(tmp_path: Path) -> None:
    path = tmp_path / "metadata.csv"
    path.write_text("call_id,agent_id,started_at\nC1,A1,03/04/2026 10:00\n", encoding="utf-8")
    table = read_metadata(path)
    assert table.by_id["C1"].started is None and table.by_id["C1"].values["agent_id"] == "A1"
    assert "ambiguous" in table.issues[0].problem and "date_format" in table.issues[0].problem
    told = read_metadata(path, options=MetadataOptions(date_format="%d/%m/%Y %H:%M"))
    assert told.by_id["C1"].values["started_at"] == "2026-04-03T10:00:00" and not told.issues


def test_metadata_settings_come_from_earmark_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "earmark.toml"
    cfg.write_text(
        '[metadata]\ndate_format = "%d.%m.%Y %H:%M"\ntimezone = "Europe/Moscow"\n'
        'delimiter = ";"\nencoding = "cp1251"\n',
        encoding="utf-8",
    )
    options = options_from_config(load_config(cfg))
    assert options == MetadataOptions("%d.%m.%Y %H:%M", "Europe/Moscow", ";", "cp1251")


@pytest.mark.parametrize(
    ("toml", "match"),
    [
        ('timezone = "Mars/Olympus"', "metadata.timezone: .*unknown time zone"),
        ('encoding = "klingon"', "metadata.encoding: .*unknown encoding"),
        ('date_format = "dd.mm.yyyy"', "metadata.date_format: .*strptime"),
        ('delimiter = "::"', "metadata.delimiter"),
    ],
)
def test_bad_metadata_settings_are_coded_config_errors(
    tmp_path: Path, toml: str, match: str
) -> None:
    cfg = tmp_path / "earmark.toml"
    cfg.write_text(f"[metadata]\n{toml}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as info:
        load_config(cfg)
    assert info.value.code == "C002"


def test_the_wrong_configured_encoding_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "metadata.csv"
    path.write_bytes("call_id\nC1\n".encode("utf-16"))
    with pytest.raises(InputError, match=r"metadata.csv: not utf-8 text") as info:
        read_metadata(path, options=MetadataOptions(encoding="utf-8"))
    assert info.value.code == "I002"


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("call_id,file,note\nC1,a.wav,x\n", ","),
        ('call_id;file;note\nC1;a.wav;"x, y, z"\n', ";"),
        ("call_id\tfile\nC1\ta, b.wav\n", "\t"),
        ("file|agent_id\na.wav|A1\n", "|"),
        ("file\na.wav\n", ","),  # one column: nothing to sniff, the default
    ],
)
def test_delimiter_sniffing(text: str, delimiter: str) -> None:
    assert sniff_delimiter(text) == delimiter


def test_excel_sep_line_and_duplicates_are_handled(tmp_path: Path) -> None:
    path = tmp_path / "metadata.csv"
    path.write_text("sep=;\nfile;agent_id\na.wav;A1\na.wav;A2\n", encoding="utf-8")
    table = read_metadata(path)
    assert table.delimiter == ";" and table.by_file["a.wav"].values["agent_id"] == "A2"
    assert [(i.line, i.code) for i in table.issues] == [(4, "I012")]
    assert "also described on line 3" in table.issues[0].problem


def test_a_configured_utf8_still_skips_the_bom(tmp_path: Path) -> None:
    path = tmp_path / "metadata.csv"
    path.write_bytes("call_id;agent_id\r\nC1;A1\r\n".encode("utf-8-sig"))
    table = read_metadata(path, options=MetadataOptions(encoding="utf-8", delimiter=";"))
    assert table.by_id["C1"].values == {"call_id": "C1", "agent_id": "A1"}
