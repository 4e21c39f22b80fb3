"""Read ``metadata.csv`` the way contact-center systems and spreadsheets really export it.

Delimiter (``,`` ``;`` tab ``|``) found by :class:`csv.Sniffer` on a sample, checked
against the header; a UTF-8 byte-order mark, UTF-16 ("Unicode text") and CRLF line ends
accepted; a file that is not UTF-8 read as Windows Cyrillic (cp1251) or Western
(cp1252) and reported; ``started_at`` in ISO 8601, ``dd.mm.yyyy hh:mm``, ``mm/dd/yyyy``,
``dd/mm/yyyy``, ``dd-mm-yyyy`` or ``yyyy/mm/dd`` recognised per file when unambiguous,
or in the configured ``date_format``, and placed in the configured time zone.

A bad field is a :class:`~pipeline.types.MetadataIssue` naming its line and column;
the rest of its row is kept; a row short of fields keeps those it has. Only a row with
more fields than the header is refused (its columns cannot be trusted).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.config import Config
from pipeline.errors import METADATA_TIMEZONE, InputError
from pipeline.types import MetadataIssue, QuarantineEntry

METADATA_FILE = "metadata.csv"
KEY_COLUMNS = ("file", "call_id")
DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024
CYRILLIC_SHARE = 0.5
"""A non-UTF-8 file is read as cp1251 when at least this share of its non-ASCII
characters are Cyrillic letters in cp1251, else as cp1252."""

DATE_FAMILIES: dict[str, str] = {
    "dd.mm.yyyy": "%d.%m.%Y",
    "yyyy/mm/dd": "%Y/%m/%d",
    "mm/dd/yyyy": "%m/%d/%Y",
    "dd/mm/yyyy": "%d/%m/%Y",
    "dd-mm-yyyy": "%d-%m-%Y",
}
"""Date forms recognised beside ISO 8601, by name (what a report shows) and strptime form."""
TIME_FORMS = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p", " %H:%M:%S.%f")
_SEP_LINE = re.compile(r"^sep=(.)\s*$")


@dataclass(frozen=True, slots=True)
class MetadataOptions:
    """How to read ``metadata.csv`` (``[metadata]`` in ``earmark.toml``).

    Attributes
    ----------
    date_format
        A :func:`datetime.datetime.strptime` form for ``started_at`` (ISO 8601 is always
        accepted too); empty: recognised per file (see :data:`DATE_FAMILIES`).
    timezone
        An IANA zone (``"Europe/Moscow"``) for times written without an offset; times with
        one are converted to it, and the call's date is its date there. Empty: times stay
        as written and file dates are UTC.
    delimiter
        ``"auto"`` (sniffed) or the one character that separates fields.
    encoding
        ``"auto"`` (UTF-8, else cp1251 or cp1252, reported) or a Python codec name.
    """

    date_format: str = ""
    timezone: str = ""
    delimiter: str = "auto"
    encoding: str = "auto"

    @property
    def zone(self) -> dt.tzinfo | None:
        """The configured time zone, or ``None``.

        Raises
        ------
        ConfigError
            ``C018`` when the zone is unknown.
        """
        if not self.timezone:
            return None
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise METADATA_TIMEZONE(timezone=self.timezone) from exc


@dataclass(frozen=True, slots=True)
class MetadataRow:
    """One row of ``metadata.csv``: its values, where it is, its time and its problems."""

    values: dict[str, str]
    line: int
    started: dt.datetime | None = None
    issues: tuple[MetadataIssue, ...] = ()


@dataclass(frozen=True, slots=True)
class MetadataTable:
    """A parsed ``metadata.csv``: rows by ``file`` and by ``call_id``, the rows refused, and
    every problem found (the rows kept included)."""

    by_file: dict[str, MetadataRow] = field(default_factory=dict)
    by_id: dict[str, MetadataRow] = field(default_factory=dict)
    refused: list[QuarantineEntry] = field(default_factory=list)
    issues: list[MetadataIssue] = field(default_factory=list)
    delimiter: str = ","
    encoding: str = "utf-8"


def read_metadata(path: Path, *, options: MetadataOptions = MetadataOptions()) -> MetadataTable:
    """Parse ``metadata.csv`` (an absent file is an empty table).

    Parameters
    ----------
    path
        The file.
    options
        Date form, time zone, delimiter and encoding (all recognised by default).

    Returns
    -------
    MetadataTable
        Rows with a bad field are kept with an issue naming the line and column, rows
        short of fields too (``I013``); rows with more fields than the header are
        refused (``I004``).

    Raises
    ------
    InputError
        ``I002``: unreadable, not text in the configured encoding, or no ``file`` /
        ``call_id`` column.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "metadata.csv"
    >>> _ = p.write_bytes(b"\\xef\\xbb\\xbfcall_id;agent_id;started_at\\r\\nC1;A7;05.12.2026 09:00\\r\\n")
    >>> t = read_metadata(p, options=MetadataOptions(timezone="Europe/Moscow"))
    >>> t.delimiter, t.by_id["C1"].values["started_at"], t.by_id["C1"].values["agent_id"]
    (';', '2026-12-05T09:00:00+03:00', 'A7')
    """
    if not path.exists():
        return MetadataTable()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})", code="I002") from exc
    text, encoding = decode_text(raw, encoding=options.encoding, path=path)
    issues: list[MetadataIssue] = []
    if encoding not in ("utf-8", "utf-8-sig", "utf-16"):
        issues.append(
            MetadataIssue(
                0, 0, "", "I010", f"not UTF-8 text; read as {encoding} ({_LABEL[encoding]})"
            )
        )
    lines_before = 0
    first, _, rest = text.partition("\n")
    if sep := _SEP_LINE.match(first.rstrip("\r")):  # Excel's "sep=;" first line
        delimiter, text, lines_before = sep[1], rest, 1
    elif options.delimiter != "auto":
        delimiter = options.delimiter
    else:
        delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
        if not any(k in header for k in KEY_COLUMNS):
            raise InputError(
                f"{path}: needs a 'file' or 'call_id' column, got {header} "
                f"(fields separated by {_name(delimiter)})",
                code="I002",
            )
        records, refused = _rows(reader, header, lines_before=lines_before)
    except csv.Error as exc:  # a NUL byte, an unterminated quote at the end: not a CSV file
        raise InputError(
            f"{path}:{reader.line_num + lines_before}: not CSV ({exc})", code="I002"
        ) from exc
    columns = {name: n for n, name in enumerate(header, 1)}
    reading = DateReading.for_values(
        [v["started_at"] for _, v, _ in records if v.get("started_at")],
        date_format=options.date_format,
    )
    table = MetadataTable(refused=refused, issues=issues, delimiter=delimiter, encoding=encoding)
    zone = options.zone
    for n, values, shape in records:
        _add_row(table, n, values, shape, reading=reading, columns=columns, zone=zone)
    return table


def _rows(
    reader: Any, header: list[str], *, lines_before: int
) -> tuple[list[tuple[int, dict[str, str], tuple[MetadataIssue, ...]]], list[QuarantineEntry]]:
    """The rows kept, by first line number, with what was wrong with their shape, and the
    rows refused.

    A row with fewer fields than the header is kept, the missing last ones empty (some
    systems drop trailing empty fields; the fields present still line up). A row with
    more is refused: a separator inside an unquoted field shifted every column after it.
    """
    records: list[tuple[int, dict[str, str], tuple[MetadataIssue, ...]]] = []
    refused: list[QuarantineEntry] = []
    line = 1
    for row in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        at = start + lines_before
        problem = f"row has {len(row)} fields, header has {len(header)}"
        if len(row) > len(header):
            refused.append(QuarantineEntry(f"{METADATA_FILE}:{at}", "I004", problem))
            continue
        shape: tuple[MetadataIssue, ...] = ()
        if len(row) < len(header):
            missing = header[len(row) :]
            shape = (
                MetadataIssue(
                    at,
                    len(row) + 1,
                    missing[0],
                    "I013",
                    f"{problem}: the missing {', '.join(missing)} taken as empty",
                ),
            )
            row = [*row, *[""] * len(missing)]
        values = {k: v.strip() for k, v in zip(header, row, strict=True)}
        records.append((at, values, shape))
    return records, refused


def _add_row(
    table: MetadataTable,
    line: int,
    values: dict[str, str],
    shape: tuple[MetadataIssue, ...],
    *,
    reading: DateReading,
    columns: dict[str, int],
    zone: dt.tzinfo | None,
) -> None:
    issues = list(shape)
    started = None
    if values.get("started_at"):
        started, problem = reading.parse(values["started_at"])
        if started is None:
            issues.append(MetadataIssue(line, columns["started_at"], "started_at", "I005", problem))
            values["started_at"] = ""
        else:
            started = _in_zone(started, zone)
            values["started_at"] = started.isoformat()
    for key, index in (("file", table.by_file), ("call_id", table.by_id)):
        if not values.get(key):
            continue
        name = values[key].replace("\\", "/").lstrip("./") if key == "file" else values[key]
        if name in index:
            issues.append(
                MetadataIssue(
                    line,
                    columns[key],
                    key,
                    "I012",
                    f"{key} {name!r} is also described on line {index[name].line}; this line is used",
                )
            )
    if not values.get("file") and not values.get("call_id"):
        issues.append(
            MetadataIssue(
                line,
                0,
                "",
                "I011",
                "the row has neither file nor call_id: it describes no recording",
            )
        )
    row = MetadataRow(values, line, started, tuple(issues))
    if values.get("file"):
        table.by_file[values["file"].replace("\\", "/").lstrip("./")] = row
    if values.get("call_id"):
        table.by_id[values["call_id"]] = row
    table.issues.extend(issues)


def _in_zone(when: dt.datetime, zone: dt.tzinfo | None) -> dt.datetime:
    if zone is None:
        return when
    return when.replace(tzinfo=zone) if when.tzinfo is None else when.astimezone(zone)


_LABEL = {"cp1251": "Windows Cyrillic", "cp1252": "Windows Western", "latin-1": "ISO 8859-1"}


def decode_text(raw: bytes, *, encoding: str = "auto", path: Path) -> tuple[str, str]:
    """The file's text and the encoding it was read with.

    ``auto``: a UTF-8 or UTF-16 byte-order mark decides; else UTF-8; else cp1251 when most
    non-ASCII characters are then Cyrillic letters, else cp1252 (latin-1 for the five
    bytes cp1252 leaves undefined).

    Raises
    ------
    InputError
        ``I002`` when a configured encoding does not fit the bytes.
    """
    if encoding != "auto":
        try:
            name = codecs.lookup(encoding).name
            if name == "utf-8":  # a spreadsheet's BOM is not part of the first column's name
                return raw.decode("utf-8-sig"), name
            return raw.decode(encoding), name
        except (UnicodeDecodeError, LookupError) as exc:
            raise InputError(f"{path}: not {encoding} text ({exc})", code="I002") from exc
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace"), "utf-16"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    cyrillic = raw.decode("cp1251", errors="replace")
    if _looks_cyrillic(cyrillic):
        return cyrillic, "cp1251"
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _looks_cyrillic(text: str) -> bool:
    """Whether most non-ASCII characters are Cyrillic letters in runs (Russian words are
    all non-ASCII; a Western ``Café`` has one such letter among ASCII ones)."""
    high = [i for i, c in enumerate(text) if ord(c) > 127]
    if not high:
        return False
    letters = sum("\u0400" <= text[i] <= "\u04ff" for i in high)
    marks = set(high)
    in_runs = sum(i - 1 in marks or i + 1 in marks for i in high)
    return min(letters, in_runs) / len(high) >= CYRILLIC_SHARE


def sniff_delimiter(text: str) -> str:
    """The field delimiter: :class:`csv.Sniffer`'s guess on a sample when it splits the
    header into a ``file`` or ``call_id`` column, else the candidate that does, else the
    one the header line holds most of, else ``,``.

    Examples
    --------
    >>> sniff_delimiter("call_id;file;note\\nC1;a.wav;x, y\\n")
    ';'
    """
    sample = text[:SNIFF_BYTES]
    if len(text) > SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    header = sample.splitlines()[0] if sample.strip() else ""
    try:
        guess = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        guess = ""
    candidates = [guess] if guess else []
    candidates += sorted(DELIMITERS, key=lambda d: -header.count(d))
    for d in candidates:
        if any(k in (h.strip() for h in _split(header, d)) for k in KEY_COLUMNS):
            return d
    return max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _name(delimiter: str) -> str:
    return {"\t": "tabs", ",": "commas", ";": "semicolons", "|": "bars"}.get(
        delimiter, repr(delimiter)
    )


_DATE_SHAPE = re.compile(r"^\s*(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})(?!\d)")
SLASHED = "dd/mm/yyyy or mm/dd/yyyy"
"""A slashed date whose day and month are both 12 or less: either order reads it."""


def date_family(value: str) -> str | None:
    """Which of :data:`DATE_FAMILIES` ``value`` is written in, by its shape alone (cheap:
    no parsing); :data:`SLASHED` when day and month order cannot be told from it.

    Examples
    --------
    >>> [date_family(v) for v in ("05.12.2026 09:00", "12/25/2026", "03/04/2026", "x")]
    ['dd.mm.yyyy', 'mm/dd/yyyy', 'dd/mm/yyyy or mm/dd/yyyy', None]
    """
    shape = _DATE_SHAPE.match(value)
    if shape is None:
        return None
    first, sep, middle, last = shape.groups()
    if len(first) == 4:
        return "yyyy/mm/dd" if sep == "/" else None
    if len(last) != 4:
        return None
    if sep != "/":
        return "dd.mm.yyyy" if sep == "." else "dd-mm-yyyy"
    if int(first) > 12 >= int(middle):
        return "dd/mm/yyyy"
    if int(middle) > 12 >= int(first):
        return "mm/dd/yyyy"
    return SLASHED


@dataclass(frozen=True, slots=True)
class DateReading:
    """How a file's ``started_at`` values are read: ISO 8601 always, then the configured
    form, or each value's own recognised form (:func:`date_family`), slashed dates in the
    order the file shows; ``slashed`` is ``None`` when that order cannot be told."""

    configured: str = ""
    slashed: str | None = None
    expected: str = "ISO 8601"

    @classmethod
    def for_values(cls, values: Sequence[str], *, date_format: str = "") -> DateReading:
        """Recognise how ``values`` are written (or take ``date_format``).

        Only ``dd/mm/yyyy`` and ``mm/dd/yyyy`` can be confused: a value with a day above 12
        tells the order for the whole file; when no value does (or both orders occur),
        the slashed dates are ambiguous and none of them is guessed.
        """
        if date_format:
            return cls(date_format, expected=f"{date_format!r} ([metadata] date_format)")
        families = Counter(date_family(v) for v in values if _iso(v) is None)
        told = [f for f in ("dd/mm/yyyy", "mm/dd/yyyy") if families[f]]
        usual = [f for f, _ in families.most_common() if f not in (None, SLASHED)]
        expected = f"{usual[0]} or ISO 8601" if usual else "ISO 8601 or " + ", ".join(DATE_FAMILIES)
        return cls(slashed=told[0] if len(told) == 1 else None, expected=expected)

    def parse(self, value: str) -> tuple[dt.datetime | None, str]:
        """The time ``value`` holds, or ``None`` and what is wrong with it."""
        when = _iso(value)
        if when is None and self.configured:
            when = _strp(value, (self.configured,))
        elif when is None:
            family = date_family(value)
            if family in (SLASHED, "dd/mm/yyyy", "mm/dd/yyyy"):
                if self.slashed is None:
                    return None, (
                        f"started_at {value!r} is ambiguous: day and month order cannot be "
                        f'told from the file ({SLASHED}); set [metadata] date_format (e.g. "%d/%m/%Y %H:%M")'
                    )
                family = self.slashed
            if family is not None:
                when = _strp(value, _forms(DATE_FAMILIES[family]))
        if when is not None:
            return when, ""
        return None, f"started_at {value!r} is not a date and time in {self.expected}"


def _forms(date_form: str) -> tuple[str, ...]:
    return tuple(date_form + t for t in TIME_FORMS)


def _iso(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _strp(value: str, forms: Iterable[str]) -> dt.datetime | None:
    text = " ".join(value.split())
    for form in forms:
        try:
            return dt.datetime.strptime(text, form)
        except ValueError:
            continue
    return None


def options_from_config(config: Config) -> MetadataOptions:
    """``[metadata]`` of ``earmark.toml`` as :class:`MetadataOptions`."""
    m = config.metadata
    return MetadataOptions(
        date_format=m.date_format, timezone=m.timezone, delimiter=m.delimiter, encoding=m.encoding
    )
