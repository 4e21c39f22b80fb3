"""One exception tree and one table of error codes.

Codes are searchable like spaCy's ``[E###]``: ``A###`` audio, ``R###`` rubric,
``C###`` configuration, ``M###`` models, ``W###`` warehouse, ``I###`` input archive,
``Q###`` queues. Every code earmark shows a user is an entry of :data:`TABLE`: code →
class → message template. A raise site names the entry::

    raise CONFIG_UNREADABLE(path=path, reason=exc.strerror)

Codes reported without raising (a quarantined recording, a ``metadata.csv`` issue) are
entries too; their ``.code`` is what is stored. The exit code of the ``earmark`` command
follows the class (:attr:`EarmarkError.exit_code`, the README's table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

EXIT_USAGE, EXIT_INPUT, EXIT_STORAGE, EXIT_MODEL = 2, 3, 4, 5


class EarmarkError(Exception):
    """Base of every error earmark raises on purpose."""

    code = "E000"
    exit_code = EXIT_USAGE
    detail = ""
    """A library's own words about the failure: stored and logged, kept off the terminal."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message
        super().__init__(f"[{self.code}] {message}")


class AudioError(EarmarkError):
    """A recording could not be decoded or holds no usable speech: it is quarantined."""

    code = "A000"
    exit_code = EXIT_INPUT


class RubricError(EarmarkError):
    """A rubric file is invalid; the message names the file, item, field and value."""

    code = "R000"


class ConfigError(EarmarkError):
    """``earmark.toml``, a command-line option or an options object is invalid."""

    code = "C000"


class ModelError(EarmarkError):
    """A model could not be found, assembled, verified or loaded."""

    code = "M000"
    exit_code = EXIT_MODEL


class WarehouseError(EarmarkError):
    """The warehouse cannot be read or written (or another night holds its lock)."""

    code = "W000"
    exit_code = EXIT_STORAGE


class InputError(EarmarkError):
    """The recording archive or its ``metadata.csv`` is unusable."""

    code = "I000"
    exit_code = EXIT_INPUT


class QueueError(EarmarkError):
    """The inspector configuration cannot produce a valid queue (e.g. too many agents)."""

    code = "Q000"


E = TypeVar("E", bound=EarmarkError)


@dataclass(frozen=True, slots=True)
class ErrorCode(Generic[E]):
    """One entry of the table: calling it builds the error, ``.code`` is what is stored."""

    code: str
    kind: type[E]
    template: str

    def __call__(self, **fields: object) -> E:
        return self.kind(self.template.format(**fields), code=self.code)

    def message(self, **fields: object) -> str:
        """The message alone, for a code that is reported rather than raised."""
        return self.template.format(**fields)


TABLE: dict[str, ErrorCode[EarmarkError]] = {}


def _entry(code: str, kind: type[E], template: str) -> ErrorCode[E]:
    if code in TABLE:
        raise AssertionError(f"error code {code} is defined twice")
    entry = ErrorCode(code, kind, template)
    TABLE[code] = entry  # type: ignore[assignment]
    return entry


# --- audio (A): the recording is quarantined -------------------------------------------
AUDIO_EMPTY = _entry("A001", AudioError, "{path}: empty file (0 bytes)")
AUDIO_UNDECODABLE = _entry("A002", AudioError, "{path}: {problem}")
AUDIO_NO_FRAMES = _entry("A003", AudioError, "{path}: {problem}")
AUDIO_TRUNCATED = _entry("A004", AudioError, "{path}: truncated WAV, {problem}")
AUDIO_TOO_SHORT = _entry("A005", AudioError, "{path}: too short to hold a call ({problem})")
AUDIO_SILENT = _entry("A006", AudioError, "{path}: silent recording ({problem})")
AUDIO_NO_SPEECH = _entry("A007", AudioError, "{path}: no speech found in {problem}")
AUDIO_CHANNELS = _entry("A008", AudioError, "{path}: {channels} channels; {problem}")
AUDIO_UNREADABLE = _entry("A009", AudioError, "{path}: cannot read file ({reason})")
AUDIO_CHANGED = _entry(
    "A010",
    AudioError,
    "{path}: the recording changed since it was transcribed; no redacted copy written",
)

# --- configuration and command-line options (C) ----------------------------------------
CONFIG_UNREADABLE = _entry("C001", ConfigError, "{path}: {problem}")
CONFIG_INVALID = _entry("C002", ConfigError, "{path}: {problems}")
LOCATION_MISSING = _entry("C003", ConfigError, "give {options} (or set {keys} in earmark.toml)")
ARCHIVE_FOLDER_MISSING = _entry("C004", ConfigError, "archive folder {path!r} does not exist")
REVIEW_DATABASE_REMOTE = _entry("C005", ConfigError, "{path}: {problem}")
LANGUAGE_UNSUPPORTED = _entry(
    "C010", ConfigError, "language {language!r} is not supported; {problem}"
)
RUBRIC_LANGUAGE_MISMATCH = _entry("C011", ConfigError, "rubric {path} is written for {problem}")
RUBRIC_NOT_CONFIGURED = _entry(
    "C012", ConfigError, "no rubric configured for language {language!r}"
)
RUBRIC_TWICE = _entry(
    "C013", ConfigError, "two rubrics {which}for language {language!r}: {first} and {second}"
)
CALL_TYPE_NAME_TWICE = _entry("C014", ConfigError, "{where}: the name is used twice")
CALL_TYPE_EMPTY_VALUE = _entry(
    "C015", ConfigError, "{where}: when.{column} needs a non-empty value, got {value!r}"
)
CALL_TYPE_NO_RUBRIC = _entry(
    "C016", ConfigError, "{where}: rubrics.{served}: no such rubric file {path!r}"
)
FALLBACK_NOT_SERVED = _entry(
    "C017",
    ConfigError,
    "{where}: language_detection.fallback.{detected} = {target!r} is not one of "
    "the served languages {served}",
)
METADATA_TIMEZONE = _entry("C018", ConfigError, "[metadata] timezone {timezone!r} is unknown")
PREFECT_SERVER_FAILED = _entry("C020", ConfigError, "the local Prefect server {problem}")
PREFECT_SERVER_UNHEALTHY = _entry("C021", ConfigError, "no healthy Prefect server at {problem}")
CRON_INVALID = _entry(
    "C022", ConfigError, "--cron {cron!r} is not a 5-field cron expression like '0 2 * * *'"
)
REDACT_KIND_NAME = _entry(
    "C030", ConfigError, "redaction kind must match [A-Z][A-Z0-9_]*, got {kind!r}"
)
REDACT_PATTERN = _entry(
    "C031",
    ConfigError,
    "redaction pattern for {kind!r} is not a valid regex: {pattern!r} ({reason})",
)
REDACT_PHONE_REGIONS = _entry("C032", ConfigError, "unknown phone regions: {regions!r}")
REDACT_CUE_WINDOW = _entry(
    "C033", ConfigError, "cue windows must be >= 0, got {before} and {after}"
)
REDACT_AFTER_CARD = _entry(
    "C046", ConfigError, "redact.after_card_s must be >= 0 seconds, got {seconds}"
)
AUDIO_REDACT_MODE = _entry("C034", ConfigError, "audio redaction mode must be {problem}")
AUDIO_REDACT_PADDING = _entry(
    "C035", ConfigError, "audio redaction padding and fade must be {problem}"
)
AUDIO_REDACT_TONE = _entry("C036", ConfigError, "the redaction tone needs {problem}")
PASSWORD_NO_TERMINAL = _entry(
    "C037",
    ConfigError,
    "no terminal to ask the password on; from a script, pipe it in: "
    "printf '%s\\n' \"$PASSWORD\" | earmark account hash --name NAME --password-stdin",
)
PASSWORD_EMPTY = _entry("C038", ConfigError, "{problem}")
ACCOUNT_INVALID = _entry("C039", ConfigError, "{where}: {problem}")
DATE_INVALID = _entry("C040", ConfigError, "{option} {value!r} is not a date like 2026-11-20")
DATE_RANGE_REVERSED = _entry("C041", ConfigError, "{first} {lo} is after {second} {hi}")
COUNT_TOO_SMALL = _entry("C042", ConfigError, "{option} must be at least 1, got {value}")
OPTIONS_INVALID = _entry("C045", ConfigError, "{problem}")
SUGGESTIONS_OUT_TAKEN = _entry(
    "C043", ConfigError, "{path}: exists and is not an earmark suggestions file; give another --out"
)
NO_ACCOUNTS = _entry(
    "C044",
    ConfigError,
    "no [[accounts]] in the config: nobody could sign in. "
    "Create one with: earmark account hash --name NAME --role lead",
)
SERVE_PORT_UNAVAILABLE = _entry("C047", ConfigError, "cannot listen on {host}:{port}: {problem}")
MONTH_INVALID = _entry(
    "C060", ConfigError, "--month must be a month like 2026-12 (YYYY-MM), got {month!r}"
)
TEAM_NO_CALLS = _entry(
    "C061",
    ConfigError,
    "team {team!r} took no call in {month} in {warehouse}; teams with calls that month: {teams}",
)
OUTPUT_UNWRITABLE = _entry("C062", ConfigError, "{option} {path}: {problem}")
PRECISION_INVALID = _entry("C070", ConfigError, "--precision must be in (0, 1], got {value}")
TUNE_INPUT_INVALID = _entry("C071", ConfigError, "{where}: {problem}")
TRANSCRIPTS_UNREADABLE = _entry(
    "C072", ConfigError, "--transcripts {path}: cannot read the transcripts ({problem})"
)
APPLY_SOURCE_MISSING = _entry("C073", ConfigError, "rubric apply: {problem}")

# --- input archive and metadata.csv (I) ------------------------------------------------
ARCHIVE_NOT_FOUND = _entry("I001", InputError, "{path}: archive folder not found")
METADATA_UNREADABLE = _entry("I002", InputError, "{path}: {problem}")
CALL_ID_TWICE = _entry("I003", InputError, "call_id {call_id!r} is also used by {other!r}")
METADATA_ROW_REFUSED = _entry("I004", InputError, "{problem}")
METADATA_STARTED_AT = _entry("I005", InputError, "{problem}")
CALL_NOT_FOUND = _entry("I006", InputError, "{warehouse}: no call {call!r} in the calls table")
CALL_NOT_SCORED = _entry("I007", InputError, "call {call!r} was {problem}")
CALL_LANGUAGE_NO_RUBRIC = _entry(
    "I008", InputError, "no rubric for the call's language {language!r}"
)
ARCHIVE_UNREACHABLE = _entry("I009", InputError, "{problem}")
METADATA_ENCODING = _entry("I010", InputError, "not UTF-8 text; read as {encoding} ({label})")
METADATA_ROW_NO_RECORDING = _entry("I011", InputError, "{problem}")
METADATA_ROW_TWICE = _entry("I012", InputError, "{problem}")
METADATA_ROW_SHORT = _entry("I013", InputError, "{problem}")

# --- models (M) ------------------------------------------------------------------------
MODEL_NO_WEIGHTS = _entry("M001", ModelError, "{path}: {problem}")
MODEL_PACKAGE_MISSING = _entry("M002", ModelError, "{problem}")
MODEL_CHECKSUM = _entry("M003", ModelError, "assembled model.bin has sha256 {problem}")
MODEL_UNLOADABLE = _entry("M004", ModelError, "cannot load ASR model {path!r}: {problem}")
MODEL_INCOMPLETE = _entry(
    "M005", ModelError, "the Whisper base weight packages are incomplete ({problem}"
)
VOICE_EXTRA_MISSING = _entry(
    "M010", ModelError, "[diarize] embedder = 'resemblyzer' needs {problem}"
)
MEANING_MODEL_MISSING = _entry(
    "M020", ModelError, "the meaning model package is missing ({problem}"
)
MEANING_MODEL_UNLOADABLE = _entry(
    "M021", ModelError, "the meaning model could not be loaded: {problem}"
)
CUE_FILE_INVALID = _entry("M022", ModelError, "{path}: {problem}")

# --- queues (Q) ------------------------------------------------------------------------
TOO_MANY_AGENTS = _entry("Q001", QueueError, "inspector {name!r} is paired with {problem}")
INSPECTOR_LANGUAGES = _entry("Q002", QueueError, "inspector {name!r} {problem}")

# --- rubrics (R) -----------------------------------------------------------------------
RUBRIC_UNREADABLE = _entry("R001", RubricError, "{path}: {problem}")
RUBRIC_INVALID = _entry("R002", RubricError, "{problem}")
DETECTOR_UNKNOWN = _entry("R003", RubricError, "{where}unknown detector {name!r} ({hint})")
ITEM_ID_TWICE = _entry("R004", RubricError, "{path} item {item!r}: duplicate item id")
DETECTOR_PARAMS = _entry("R005", RubricError, "{where}: detector {name!r}: {problems}")
RUBRIC_LANGUAGE = _entry("R006", RubricError, "{path}: language must be one of {problem}")
SCHEMA_VERSION = _entry("R007", RubricError, "{path}: schema_version must be {problem}")
DETECTOR_NEEDS = _entry(
    "R008", RubricError, "{where}: needs {needs}, which this run does not produce"
)
SEMANTIC_MODEL = _entry("R009", RubricError, "semantic.v1{problem}")
MEANING_MODEL_NOT_GIVEN = _entry(
    "R010", RubricError, "meaning.v1 needs the meaning model (models/embed.py), and none was given"
)
MEANING_FILE_INVALID = _entry("R011", RubricError, "{path}: {problem}")
TUNE_ITEM = _entry("R012", RubricError, "{problem}")
REDACTION_CUES_INVALID = _entry("R013", RubricError, "{path}: {problem}")
SHIPPED_FILE_MISSING = _entry(
    "R014", RubricError, "{path}: a shipped rubric file is missing; reinstall earmark"
)
REASON_ANCHORS_INVALID = _entry("R016", RubricError, "{path}: {problem}")
MEANING_LINEAR_ALONE = _entry(
    "R015",
    RubricError,
    "meaning.v1 with method: linear needs counter_examples or neutral: true",
)
DETECTOR_LANGUAGE = _entry("R017", RubricError, "{problem}")
"""A detector's params that the rubric's language cannot do (lemmas in Chinese, a near
match of phrases too short for one): found when the rubric is compiled."""
WEIGHTS_TOTAL = _entry(
    "R018", RubricError, "{path}: the scored items' weights add up to {total:g}, not 100 ({items})"
)

# --- warehouse (W) ---------------------------------------------------------------------
WAREHOUSE_LOCKED = _entry(
    "W001",
    WarehouseError,
    "{root}: another earmark run ({holder}) is writing this warehouse; "
    "wait for it to finish or point --warehouse elsewhere",
)
PARTITION_UNREADABLE = _entry(
    "W002",
    WarehouseError,
    "{path}: unreadable partition ({reason}). The night stops here rather than overwrite it: "
    "move it aside (restore it from a backup if there is one) and run again; the calls of "
    "the archive are rewritten from the transcript cache",
)
WAREHOUSE_UNREACHABLE = _entry(
    "W003", WarehouseError, "{url}: cannot open this warehouse ({reason})"
)
WAREHOUSE_UNWRITABLE = _entry("W004", WarehouseError, "{root}: {problem}")
LOCK_LOST = _entry("W005", WarehouseError, "{root}: this night lost its lock {problem}")
DISK_FULL = _entry(
    "W006",
    WarehouseError,
    "{path}: no space left on the device; the file was not changed (its previous version "
    "is intact). Free some space and run again: finished transcripts are cached and not redone",
)
CACHE_ENTRY_DAMAGED = _entry("W008", WarehouseError, "{path}: damaged cache entry, {problem}")
WAREHOUSE_NO_CALLS = _entry(
    "W010",
    WarehouseError,
    "{root}: no calls in this warehouse (is it the right folder? run "
    "`earmark run --archive A --warehouse W` first)",
)
WAREHOUSE_MISSING = _entry(
    "W012",
    WarehouseError,
    "{root}: no such folder (is --warehouse the right path? `earmark run --archive A "
    "--warehouse W` writes one)",
)
WAREHOUSE_NO_REASONS = _entry(
    "W011",
    WarehouseError,
    "{root}: no contact reasons yet: the nights that wrote it predate them or have "
    "[reasons] enabled = false; run `earmark run` on new calls",
)

# --- not an error of the data: a bug, reported for the one recording it hit -------------
INTERNAL = _entry("E999", EarmarkError, "{path}: internal error {problem}")
