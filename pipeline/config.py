"""``earmark.toml``: one file for the archive, warehouse, languages, model, rubrics and inspectors.

Every key has a default, so ``earmark run --archive A --warehouse W`` works with no file.
"""

from __future__ import annotations

import codecs
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from pipeline import errors
from pipeline.rubric.shipped import shipped_rubrics
from pipeline.text import did_you_mean
from pipeline.textfile import read_text

ServedLanguage = Literal["en", "zh", "ru"]
DEFAULT_RUBRICS = shipped_rubrics("inbound-support")
"""The shipped rubric of each language a call type does not choose (``[rubrics]``)."""
OUTBOUND_RUBRICS = shipped_rubrics("outbound-sales")
READ_METRICS = (
    "longest_dead_air_s",
    "dead_air_s",
    "dead_air_count",
    "silence_s",
    "longest_hold_s",
    "hold_s",
    "hold_count",
)
"""Metric items whose evidence (a silence, a hold) is read in the transcript, not heard
(``[queue] read_metrics``; :class:`pipeline.queue.PlanOptions`)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AsrConfig(_Strict):
    """Which model and how to run it. ``model`` is a path, ``"base"`` (the bundled
    weights), ``"tiny.en"`` (the optional English-only package) or a hub name
    (downloaded by faster-whisper, only when online)."""

    model: str = "base"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "int8"
    beam_size: Annotated[int, Field(ge=1, le=10)] = 3
    """Beam 3 by default: with VAD 0.3, pooled WER 0.201 on ``bench/throughput.py``'s
    calls against 0.252 greedy with VAD 0.5 and 0.203 for faster-whisper's batched
    pipeline (beam 5). 1 = greedy, the fastest."""
    batch_size: Annotated[int, Field(ge=1, le=64)] = 4
    """Whisper windows decoded together. On 2 CPU cores 8 was no faster than 4 and held
    300 MB more (the encoder's attention grows with the batch)."""
    cpu_threads: Annotated[int, Field(ge=0)] = 0
    """Threads per model replica; 0 (default): the cores shared among the workers."""
    workers: Annotated[int, Field(ge=0)] = 0
    """Recordings transcribed at once, each by its own model replica. 0 (default): one per
    core, as many as memory allows (:data:`WORKER_MEMORY_BYTES` each); see
    :attr:`worker_count`. On 2 cores, two one-thread workers were 2.0-2.1x plain
    faster-whisper against 1.1-1.5x for one two-thread worker (``bench/throughput.py``).
    A replica no recording holds (the night's last long call) takes a call's other
    channel, so no core waits while one call is left."""
    windows: Literal["channel", "conversation"] = "channel"
    """How a stereo call's speech fills Whisper's 30 s windows. ``channel`` (default): each
    channel's speech in its own windows (faster-whisper's batched pipeline per channel).
    ``conversation``: the stretches of both channels in time order (each from its own
    channel), one stream per call, each word given back to its channel and time
    (:func:`models.windows.conversation_speech`): the decoder hears the replies (WER on the
    real English call 0.303 → 0.272 greedy), but with beam 3 and VAD 0.3 both layouts
    transcribe as well (pooled 0.199 / 0.201) at the same speed, and on the synthetic
    sample calls it gave words at a turn's edge to the wrong party now and then."""
    window_s: Annotated[int, Field(ge=10, le=30)] = 30
    """Seconds of speech a Whisper window holds at most (the VAD also splits speech longer
    than this at its pauses). Whisper reads 30 s; shorter windows make more of them."""
    encoder_input: Literal["padded", "speech"] = "padded"
    """What the encoder reads of a window: ``padded`` (default), its features padded to
    Whisper's 30 s as it was trained; ``speech``, cut to the longest speech of its batch
    and 2 s after it (whole seconds, at least 10 s), so the encoder runs on fewer positions."""
    pack_channels: bool = False
    """Transcribe both channels' speech packed into one stream (``pipeline/packing.py``):
    about 1.3x faster on short stereo calls, but Whisper then hears the two parties in one
    window and its word error rate rose on our test calls, so it is off by default."""
    max_decode_s_per_audio_s: Annotated[float, Field(gt=0)] = 3.0
    """Wall-clock cap on decoding, per second of audio: a garbage file cannot loop for minutes."""
    models: dict[ServedLanguage, str] = Field(default_factory=dict)
    """A model per language (``[asr.models] ru = "/models/whisper-small-ru-ct2"``), the same
    kinds of names as ``model``; a language not listed uses ``model``. The language is
    detected with ``model``, then the call is transcribed with its language's model."""
    hotwords: str = ""
    """Words to bias the decoder towards (company, product and agent names), given to
    faster-whisper as ``hotwords``: e.g. ``"Acme, AcmePay, Zorbex"``."""
    initial_prompt: str = ""
    """Text given to Whisper as the preceding context of every window (style and
    vocabulary); empty: none. Unlike ``hotwords`` it can make Whisper repeat it on silence."""
    vad_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.3
    """Silero VAD speech probability threshold. 0.3 (faster-whisper's default is 0.5): on
    its own telephone channel speech often scores 0.4-0.6, and 0.5 missed 22 s of the real
    English call; pooled WER by threshold 0.25 / 0.3 / 0.35 / 0.4 / 0.5 (beam 5,
    conversation windows): 0.195 / 0.198 / 0.203 / 0.201 / 0.214; beam 3, per-channel
    windows (eighteenth session): 0.3 0.201, 0.5 0.238."""
    normalize_level: bool = False
    """Scale each channel to a common speech level before the VAD and the ASR (quiet
    telephone lines); see ``bench/asr_real.py`` for what it measured."""

    def model_for(self, language: str) -> str:
        """The model name or path that transcribes ``language``."""
        return self.models.get(language, self.model)  # type: ignore[call-overload,no-any-return]

    @property
    def worker_count(self) -> int:
        """``workers``, or when 0 the cores this process may use, capped by memory."""
        if self.workers:
            return self.workers
        by_memory = _memory_bytes() // WORKER_MEMORY_BYTES
        return max(1, min(usable_cores(), by_memory))


WORKER_MEMORY_BYTES = 1536 * 2**20
"""What one ASR worker may hold at its peak: a one-hour stereo call measured 1.4 GB
(``bench/long_call.py``)."""


CGROUP = Path("/sys/fs/cgroup")


def usable_cores() -> int:
    """The cores this process may run on: its affinity mask, capped by a container's CPU
    quota (cgroup v2 ``cpu.max``, as ``docker --cpus`` and Kubernetes limits set it)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota, _, period = _cgroup("cpu.max").partition(" ")
    if quota.isdigit() and period.isdigit() and int(period):
        cores = min(cores, max(1, -(-int(quota) // int(period))))
    return cores


def _memory_bytes() -> int:
    """The machine's memory, capped by a container's limit (cgroup v2 ``memory.max``)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return WORKER_MEMORY_BYTES  # unknown: one worker
    limit = _cgroup("memory.max")
    return min(total, int(limit)) if limit.isdigit() else total


def _cgroup(name: str) -> str:
    try:
        return (CGROUP / name).read_text().strip()
    except OSError:
        return ""


Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]
"""A language as Whisper names it: an ISO 639-1 code (``"en"``, ``"ru"``, ``"pl"``)."""


class InspectorConfig(_Strict):
    """``[[inspectors]]``: who listens, to which teams (before rotation), how long a day,
    and the languages they understand (empty: any)."""

    name: Annotated[str, Field(min_length=1)]
    teams: list[str] = Field(default_factory=list)
    budget_minutes: Annotated[float, Field(gt=0)] = 30.0
    languages: list[Language] = Field(default_factory=list)


class TeamConfig(_Strict):
    """``[teams.TEAM-01]``: what the warehouse cannot tell about a team.

    ``languages``: the languages its calls are in; when set, they replace the languages
    detected on the team's stored calls for pairing inspectors (see :mod:`pipeline.rotation`).
    """

    languages: list[Language] = Field(default_factory=list)


class MetadataConfig(_Strict):
    """``[metadata]``: how ``metadata.csv`` is written (see :mod:`pipeline.metadata`)."""

    date_format: str = ""
    """A strptime form for ``started_at``, e.g. ``"%d.%m.%Y %H:%M"``; empty: recognised
    (ISO 8601, dd.mm.yyyy, yyyy/mm/dd, mm/dd/yyyy or dd/mm/yyyy when unambiguous)."""
    timezone: str = ""
    """IANA zone of times written without an offset (``"Europe/Moscow"``); empty: as written."""
    delimiter: Literal["auto", ",", ";", "\t", "|"] = "auto"
    encoding: str = "auto"
    """``"auto"`` (UTF-8, else cp1251/cp1252, reported) or a Python codec name."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(
                    f"unknown time zone (IANA names, e.g. 'Europe/Moscow'): {exc}"
                ) from None
        return value

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError("unknown encoding (e.g. 'auto', 'utf-8', 'cp1251')") from None
        return value

    @field_validator("date_format")
    @classmethod
    def _has_directives(cls, value: str) -> str:
        if value and "%" not in value:
            raise ValueError("a strptime form needs % directives, e.g. '%d.%m.%Y %H:%M'")
        return value


class PriorityConfig(_Strict):
    """``[queue.priority]``: the weights of the queue's priority formula (see README)."""

    critical: Annotated[float, Field(ge=0)] = 1000.0
    conduct: Annotated[float, Field(ge=0)] = 400.0
    signal: Annotated[float, Field(ge=0)] = 200.0
    moment: Annotated[float, Field(ge=0)] = 20.0
    max_moments: Annotated[int, Field(ge=0)] = 3
    strength: Annotated[float, Field(ge=0)] = 100.0
    agitation: Annotated[float, Field(ge=0)] = 100.0
    agitation_z: Annotated[float, Field(gt=0)] = 3.0
    unhappy: Annotated[float, Field(ge=0)] = 150.0
    unhappy_below: Annotated[float, Field(ge=-1, le=1)] = -0.8
    unhappy_count: Annotated[int, Field(ge=0)] = 2
    low_asr: Annotated[float, Field(ge=0)] = 20.0
    low_asr_below: Annotated[float, Field(ge=0, le=1)] = 0.6
    low_score: Annotated[float, Field(ge=0)] = 1.0


class QueueConfig(_Strict):
    """``[queue]``: how the QA lead runs listening."""

    rotation: Literal["off", "monthly", "schedule"] = "monthly"
    schedule: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
    """``[queue.schedule."2026-12"] lena = ["TEAM-02"]`` when ``rotation = "schedule"``."""
    max_agents_per_inspector: Annotated[int, Field(ge=1)] = 15
    coverage_per_week: Annotated[int, Field(ge=0)] = 1
    control_share: Annotated[float, Field(ge=0, le=1)] = 0.05
    highlights_per_team: Annotated[int, Field(ge=0)] = 2
    highlight_min_score: Annotated[float, Field(ge=0, le=100)] = 90.0
    control_max_minutes: Annotated[float, Field(gt=0)] = 2.0
    seed: str = "earmark"
    team_language_min_share: Annotated[float, Field(gt=0, le=1)] = 0.1
    """A language counts as a team's when at least this share of its recent calls is in it
    (a few misdetected calls do not make a team bilingual); see :mod:`pipeline.rotation`."""
    read_speed: Annotated[float, Field(ge=1)] = 4.0
    """Reading a stretch of transcript costs 1/read_speed of hearing it."""
    missed_item_max_s: Annotated[float, Field(gt=0)] = 30.0
    """A missed scripted item is read in its own window, at most this long."""
    context_before_s: Annotated[float, Field(ge=0)] = 3.0
    context_after_s: Annotated[float, Field(ge=0)] = 5.0
    read_metrics: list[str] = Field(default_factory=lambda: list(READ_METRICS))
    """Metric items whose evidence (silence, hold) is read in the transcript, not heard."""
    skim: bool = True
    """Spend budget left after the flagged calls on reading the other calls' transcripts."""
    priority: PriorityConfig = PriorityConfig()


class ReasonsConfig(_Strict):
    """``[reasons]``: contact reasons and what is rising (see :class:`pipeline.reasons.ReasonOptions`)."""

    enabled: bool = True
    join_similarity: Annotated[float, Field(gt=-1, lt=1)] = 0.175
    small_talk_margin: Annotated[float, Field(ge=-1, le=1)] = 0.0
    read_out_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    statement_turns: Annotated[int, Field(ge=1)] = 2
    first_turns: Annotated[int, Field(ge=1)] = 6
    examples: Annotated[int, Field(ge=1)] = 5
    baseline_days: Annotated[int, Field(ge=1)] = 28
    min_count: Annotated[int, Field(ge=1)] = 3
    min_baseline_calls: Annotated[int, Field(ge=1)] = 100
    min_baseline_days: Annotated[int, Field(ge=1)] = 14
    p_value: Annotated[float, Field(gt=0, lt=1)] = 0.001
    min_ratio: Annotated[float, Field(ge=1)] = 2.0
    trend_calls: Annotated[int, Field(ge=0)] = 2
    dissatisfaction_items: list[str] = Field(default_factory=lambda: ["customer_dissatisfaction"])
    escalation_items: list[str] = Field(default_factory=lambda: ["escalation_request"])


class RedactConfig(_Strict):
    """``[redact]``: extra patterns to redact, as ``[KIND, regex]`` pairs, and the audio.

    Cards, security codes, expiry dates, one-time codes, phone numbers and e-mails are
    always redacted (see :mod:`pipeline.redact`); add e.g. ``["ACCOUNT", "acc-\\d{6,}"]``.
    """

    patterns: list[tuple[str, str]] = Field(default_factory=list)
    audio: Literal["tone", "silence", "off"] = "tone"
    """The copies the review app plays of calls with redactions: a 1 kHz tone or silence over
    every redacted span (see :mod:`pipeline.redact_audio`). With ``"off"`` no copy is written
    and the app plays the originals, redacted moments included; otherwise it never does."""
    audio_pad_s: Annotated[float, Field(ge=0, le=5)] = 0.25
    """Seconds covered before and after each span: word timestamps are approximate."""
    after_card_s: Annotated[float, Field(ge=0, le=600)] = 60.0
    """Digit groups that fit a card's expiry date or security code, said by either party
    within this many seconds after a card number, are redacted whatever words surround
    them (no cue needed); 0: only with a cue, as any other number."""


class AccountConfig(_Strict):
    """``[[accounts]]``: who may sign in to the review app (``earmark account hash`` makes one)."""

    name: Annotated[str, Field(min_length=1)]
    role: Literal["inspector", "lead", "agent"] = "inspector"
    password_hash: Annotated[str, Field(pattern=r"^scrypt\$")]
    agent_id: str = ""
    """For ``role = "agent"``: the ``agent_id`` of their calls (they see only those)."""


class DiarizeConfig(_Strict):
    """``[diarize]``: how mono calls get their two parties.

    ``librosa`` (the default) clusters MFCC and pitch features; ``resemblyzer`` uses its
    voice encoder (optional extra ``earmark[voice]``, see README): similar word accuracy
    on our test calls at about 2.4x the cost; ``auto`` takes resemblyzer when installed.
    """

    embedder: Literal["librosa", "resemblyzer", "auto"] = "librosa"


MetadataColumn = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_ .-]*$")]


class CallTypeConfig(_Strict):
    """``[[call_types]]``: calls whose metadata match ``when`` are scored with ``rubrics``.

    ``when`` maps a ``metadata.csv`` column (``direction``, ``queue``, ``campaign``, any
    column) to a value or a list of values; every column must match (case and surrounding
    spaces ignored). ``rubrics`` maps a language to a rubric file; a language missing from
    it (or ``rubrics = {}``) means the type's calls in that language are stored but not
    scored (status ``no_rubric``).
    """

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    when: Annotated[dict[MetadataColumn, str | list[str]], Field(min_length=1)]
    rubrics: dict[ServedLanguage, str] = Field(default_factory=dict)

    def matches(self, metadata: Mapping[str, str]) -> bool:
        """Whether every ``when`` column of ``metadata`` holds one of its values."""
        for column, wanted in self.when.items():
            value = metadata.get(column, "").strip().casefold()
            values = [wanted] if isinstance(wanted, str) else wanted
            if value not in {v.strip().casefold() for v in values}:
                return False
        return True


DEFAULT_CALL_TYPES = (
    CallTypeConfig(
        name="outbound-sales",
        when={"direction": ["outbound", "outgoing", "out"]},
        rubrics=dict(OUTBOUND_RUBRICS),  # type: ignore[arg-type]
    ),
)
"""Without ``[[call_types]]``: outbound calls get the outbound-sales rubric, the rest
``[rubrics]`` (inbound support)."""


class LanguageDetectionConfig(_Strict):
    """``[language_detection]``: what happens to a call in a language the center does not serve."""

    min_probability: Annotated[float, Field(ge=0, le=1)] = 0.5
    """A call is ``unsupported_language`` when Whisper's likeliest language (over all of its
    languages) is not served and at least this likely; when less sure, the call is
    transcribed in the likeliest served language."""
    segments: Annotated[int, Field(ge=1, le=20)] = 4
    """30-second windows of speech the language is judged on."""
    fallback: dict[str, ServedLanguage] = Field(default_factory=dict)
    """Route a language to a served one: ``fallback = {uk = "ru", be = "ru"}``: the call is
    transcribed and scored in the served language."""


class Config(_Strict):
    archive: str = ""
    warehouse: str = ""
    languages: Annotated[list[ServedLanguage], Field(min_length=1)] = ["en", "zh", "ru"]
    agent_channel: Literal["left", "right"] = "left"
    repeat_contact_days: Annotated[float, Field(gt=0)] = 7.0
    """A call counts as a repeat contact when the same customer called within this many days."""
    asr: AsrConfig = AsrConfig()
    rubrics: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RUBRICS))
    inspectors: list[InspectorConfig] = Field(default_factory=list)
    teams: dict[str, TeamConfig] = Field(default_factory=dict)
    metadata: MetadataConfig = MetadataConfig()
    queue: QueueConfig = QueueConfig()
    reasons: ReasonsConfig = ReasonsConfig()
    redact: RedactConfig = RedactConfig()
    diarize: DiarizeConfig = DiarizeConfig()
    accounts: list[AccountConfig] = Field(default_factory=list)
    call_types: list[CallTypeConfig] = Field(default_factory=lambda: list(DEFAULT_CALL_TYPES))
    """Tried in order; the first whose ``when`` matches a call's metadata picks its rubric.
    A call no type matches is scored with ``[rubrics]`` (the default per language)."""
    language_detection: LanguageDetectionConfig = LanguageDetectionConfig()


def load_config(path: str | Path | None) -> Config:
    """Read ``earmark.toml`` (or return the defaults when ``path`` is ``None``).

    Relative paths in the file are resolved against the file's folder.

    Raises
    ------
    ConfigError
        ``C001`` unreadable or not TOML, ``C002`` an invalid key or value (named).
    """
    if path is None:
        return Config()
    path = Path(path)
    text = read_text(path, what="config", error=errors.CONFIG_UNREADABLE)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise errors.CONFIG_UNREADABLE(path=path, problem=f"not valid TOML ({exc})") from exc
    base = path.resolve().parent
    for key in ("archive", "warehouse"):
        if raw.get(key):
            raw[key] = str(base / raw[key])
    if isinstance(raw.get("rubrics"), dict):
        raw["rubrics"] = {
            **DEFAULT_RUBRICS,
            **{k: str(base / v) if isinstance(v, str) else v for k, v in raw["rubrics"].items()},
        }
    asr = raw.get("asr")
    if isinstance(asr, dict) and isinstance(asr.get("models"), dict):
        asr["models"] = {k: _local(base, v) for k, v in asr["models"].items()}
    for call_type in raw.get("call_types") or ():
        if isinstance(call_type, dict) and isinstance(call_type.get("rubrics"), dict):
            call_type["rubrics"] = {
                k: str(base / v) if isinstance(v, str) else v
                for k, v in call_type["rubrics"].items()
            }
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise errors.CONFIG_INVALID(path=path, problems=problems) from None
    check_call_types(config, source=str(path))
    return config


def _problem(error: ErrorDetails) -> str:
    """One pydantic error as a line; an unknown key says which known key was meant."""
    loc = error["loc"]
    where = ".".join(str(p) for p in loc)
    if error["type"] == "extra_forbidden":
        known = _keys_at(Config, loc[:-1])
        return f"{where}: unknown key {str(loc[-1])!r} ({did_you_mean(str(loc[-1]), known)})"
    got = f", got {error['input']!r}" if error["type"] != "missing" else ""
    return f"{where}: {error['msg']}{got}"


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys the config accepts at ``loc`` (a table of the TOML file); ``[]`` when
    ``loc`` is not a table of ours (a mapping of free keys, say)."""
    for part in loc:
        if isinstance(part, int):  # an array of tables: its element's keys
            continue
        field = model.model_fields.get(part)
        nested = _model_in(field.annotation) if field is not None else None
        if nested is None:
            return []
        model = nested
    return sorted(model.model_fields)


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The config table a field holds: itself, or inside ``list[…]``, ``… | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, (_model_in(a) for a in get_args(annotation))), None)


def _local(base: Path, value: object) -> object:
    """A model value as written, or resolved against the config's folder when it names one."""
    if isinstance(value, str) and (value.startswith((".", "/", "~")) or "/" in value):
        candidate = base / Path(value).expanduser()
        if candidate.exists():
            return str(candidate)
    return value


def check_call_types(config: Config, *, source: str = "earmark.toml") -> None:
    """Refuse call types that cannot work, naming the type and the value.

    Raises
    ------
    ConfigError
        ``C014`` two call types with one name; ``C015`` a ``when`` value that is empty;
        ``C016`` a rubric file that does not exist; ``C017`` a fallback to a language the
        center does not serve.
    """
    seen: set[str] = set()
    for n, call_type in enumerate(config.call_types):
        where = f"{source}: call_types[{n}] {call_type.name!r}"
        if call_type.name in seen:
            raise errors.CALL_TYPE_NAME_TWICE(where=where)
        seen.add(call_type.name)
        for column, wanted in call_type.when.items():
            values = [wanted] if isinstance(wanted, str) else wanted
            if not values or any(not v.strip() for v in values):
                raise errors.CALL_TYPE_EMPTY_VALUE(where=where, column=column, value=wanted)
        for served, rubric in call_type.rubrics.items():
            if not Path(rubric).is_file():
                raise errors.CALL_TYPE_NO_RUBRIC(where=where, served=served, path=rubric)
    for detected, target in config.language_detection.fallback.items():
        if target not in config.languages:
            raise errors.FALLBACK_NOT_SERVED(
                where=source, detected=detected, target=target, served=config.languages
            )
