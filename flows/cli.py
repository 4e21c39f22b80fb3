"""The ``earmark`` command.

Heavy libraries (Prefect, faster-whisper, spaCy) are imported inside the commands
that need them, so ``earmark --help`` and the rubric tools start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import errors
from pipeline.errors import EarmarkError
from pipeline.periods import iso_date, iso_month

if TYPE_CHECKING:
    from flows.rubrics import RubricsByLanguage
    from pipeline.config import Config
    from pipeline.row_records import CallRow
    from pipeline.types import Finding, QueueEntry

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: a bug in earmark; 3-5 follow the error's class
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as the shell reports `cat big | head`'s cat


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:  # dates and months are checked as they are parsed, before anything is loaded
        args = parser.parse_args(argv)
        if getattr(args, "check_args", None):  # what the options say together (a date range)
            args.check_args(args)
    except EarmarkError as exc:
        print(f"earmark: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from flows.env import configure_environment

    configure_environment(quiet=not getattr(args, "verbose", False))
    try:
        if getattr(args, "warehouse", None):
            from pipeline import warehouse as wh

            wh.check_reachable(args.warehouse)
        return int(args.func(args))
    except EarmarkError as exc:
        print(f"earmark: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("earmark: interrupted; re-run to continue where it stopped", file=sys.stderr)
        return 130
    except Exception as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_is_gone():
            # whoever read the output stopped reading (`earmark queue show | head`): stop
            # quietly, as cat does, rather than call it a bug; another pipe broken is one
            _stdout_to_devnull()
            return EXIT_BROKEN_PIPE
        if getattr(args, "verbose", False):
            raise
        print(
            f"earmark: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in earmark, not in your data; for the details, run it again "
            f"with -v: {_verbose_command(argv)}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _stdout_is_gone() -> bool:
    """Whether standard output is a pipe whose reader has closed it (its write end polls
    as an error), as opposed to some other pipe or socket that broke."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no descriptor (a test's capture), no poll
        return False


def _stdout_to_devnull() -> None:
    """Point standard output at /dev/null, so that Python's flush at exit does not hit
    the closed pipe again and print "Exception ignored … BrokenPipeError"."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # an output without a descriptor (a test's capture)
        pass


def _verbose_command(argv: Sequence[str] | None) -> str:
    """The command that failed with ``-v`` right after ``earmark``, ready to paste; the
    value of an option that may hold a password (``--database``, a SQLAlchemy URL with
    its credentials) is masked, since this goes to terminals, cron mails and CI logs.

    >>> _verbose_command(["queue", "show", "--database", "postgresql://u:pw@h/db"])
    "earmark -v queue show --database '<your --database>'"
    >>> _verbose_command(["serve", "--database=postgresql://u:pw@h/db"])
    "earmark -v serve '--database=<your --database>'"
    """
    import shlex

    words = list(sys.argv[1:] if argv is None else argv)
    for k, word in enumerate(words):
        for option in _SECRET_OPTIONS:
            if word == option and k + 1 < len(words):
                words[k + 1] = f"<your {option}>"
            elif word.startswith(option + "="):
                words[k] = f"{option}=<your {option}>"
    return shlex.join(["earmark", "-v", *words])


_SECRET_OPTIONS = ("--database",)
"""Options whose value may carry a password, never echoed back."""


DATABASE_HELP = "SQLAlchemy URL for reviews (default: SQLite in the warehouse)"


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        # unset unless given here, so `earmark -v CMD` is not undone by CMD's own default
        default=argparse.SUPPRESS,
        help="more detail: Prefect's logs, a traceback on an internal error",
    )


def _add_verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """``-v`` before the command (``earmark -v queue show``) and after it
    (``earmark queue show -v``) alike, on every command: the internal-error message
    sends users to it, whichever command failed."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                if "-v" not in sub._option_string_actions:
                    _add_verbose(sub)
                _add_verbose_everywhere(sub)


def _add_compute(parser: argparse.ArgumentParser) -> None:
    """Where a command that transcribes runs its calls: local workers or a Dask cluster."""
    parser.add_argument(
        "--workers", type=int, help="recordings processed at once (0: one per core)"
    )
    parser.add_argument(
        "--dask-address", help="run the calls on a Dask cluster (tcp://scheduler:8786)"
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="earmark", description="Pre-score call recordings for QA review."
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="show a traceback on an internal error"
    )
    sub = p.add_subparsers(title="commands")

    run = sub.add_parser("run", help="run the nightly job on an archive of recordings")
    run.add_argument("--archive", help="folder of recordings (+ optional metadata.csv)")
    run.add_argument("--warehouse", help="output folder for the Parquet tables")
    run.add_argument("--config", help="earmark.toml")
    run.add_argument("--model", help="ASR model: base (bundled), tiny.en, a folder, or a hub name")
    run.add_argument(
        "--language", action="append", choices=["en", "zh", "ru"], help="fix the language(s)"
    )
    _add_compute(run)
    when = run.add_mutually_exclusive_group()
    when.add_argument(
        "--date",
        type=_date_arg("--date"),
        help="only calls of this date (YYYY-MM-DD), e.g. one day of a dated archive",
    )
    when.add_argument(
        "--since", type=_date_arg("--since"), help="only calls from this date on (YYYY-MM-DD)"
    )
    run.add_argument("--top", type=int, default=10, help="queue rows to print (default 10)")
    _add_verbose(run)
    run.set_defaults(func=cmd_run)

    backfill = sub.add_parser(
        "backfill", help="process a range of dates of an archive, in resumable chunks"
    )
    backfill.add_argument("--archive", help="folder of recordings (+ optional metadata.csv)")
    backfill.add_argument("--warehouse", help="output folder or URL for the Parquet tables")
    backfill.add_argument(
        "--from", dest="first", type=_date_arg("--from"), help="first call date (YYYY-MM-DD)"
    )
    backfill.add_argument(
        "--to", dest="last", type=_date_arg("--to"), help="last call date (YYYY-MM-DD)"
    )
    backfill.add_argument("--config", help="earmark.toml")
    backfill.add_argument(
        "--chunk-calls", type=int, default=500, help="calls per chunk of whole dates (500)"
    )
    backfill.add_argument("--batch-calls", type=int, default=20, help="calls per Prefect task (20)")
    _add_compute(backfill)
    _add_verbose(backfill)
    backfill.set_defaults(func=cmd_backfill, check_args=_check_backfill_range)

    serve = sub.add_parser("serve", help="the inspectors' review web app")
    serve.add_argument("--warehouse", required=True)
    serve.add_argument("--archive", help="the recordings' folder (default: archive in the config)")
    serve.add_argument("--config", help="earmark.toml with [[inspectors]] and [[accounts]]")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--database", help=DATABASE_HELP)
    serve.set_defaults(func=cmd_serve)

    calibration = sub.add_parser("calibration", help="detector vs inspector agreement")
    csub = calibration.add_subparsers(title="calibration commands")
    report = csub.add_parser("report", help="per rubric item: precision, recall, disagreements")
    report.add_argument("--warehouse", required=True)
    report.add_argument("--database", help=DATABASE_HELP)
    report.set_defaults(func=cmd_calibration_report)

    monthly = sub.add_parser(
        "report", help="a team's monthly check as one HTML file (opens offline, prints)"
    )
    monthly.add_argument("--warehouse", required=True)
    monthly.add_argument("--team", required=True, help="team_id of the calls")
    monthly.add_argument("--month", required=True, type=_month_arg, help="YYYY-MM")
    monthly.add_argument("--out", required=True, help="the HTML file to write")
    monthly.add_argument("--config", help="earmark.toml (coverage target, inspectors' budgets)")
    monthly.add_argument("--database", help=DATABASE_HELP)
    monthly.set_defaults(func=cmd_report)

    account = sub.add_parser("account", help="review app accounts")
    asub = account.add_subparsers(title="account commands")
    ahash = asub.add_parser("hash", help="print an [[accounts]] block with a hashed password")
    ahash.add_argument("--name", required=True)
    ahash.add_argument("--role", choices=["inspector", "lead", "agent"], default="inspector")
    ahash.add_argument("--agent-id", default="", help="for --role agent: their calls' agent_id")
    ahash.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (for scripts)",
    )
    ahash.set_defaults(func=cmd_account_hash)

    schedule = sub.add_parser(
        "schedule", help="serve the nightly job on a cron schedule (Prefect server)"
    )
    schedule.add_argument("--cron", required=True, help='e.g. "0 2 * * *" (02:00 every night)')
    schedule.add_argument("--archive", required=True)
    schedule.add_argument("--warehouse", required=True)
    schedule.add_argument("--config", help="earmark.toml")
    schedule.add_argument(
        "--server-url", help="an existing Prefect API (default: PREFECT_API_URL, else start one)"
    )
    _add_verbose(schedule)
    schedule.set_defaults(func=cmd_schedule)

    triage = sub.add_parser(
        "triage",
        help="calls kept out of the QA queues: unsupported language, no rubric for the call type",
    )
    triage.add_argument("--warehouse", required=True)
    triage.add_argument(
        "--date",
        action="append",
        type=_date_arg("--date"),
        help="YYYY-MM-DD (repeatable; default: all)",
    )
    triage.set_defaults(func=cmd_triage)

    models = sub.add_parser(
        "models", help="show which model files are in use and where they came from"
    )
    models.add_argument("--config", help="earmark.toml")
    models.add_argument("--model", help="model name or folder (default: from config, else base)")
    models.set_defaults(func=cmd_models)

    rubric = sub.add_parser("rubric", help="validate and test rubric files")
    rsub = rubric.add_subparsers(title="rubric commands")
    check = rsub.add_parser("check", help="validate rubric files (coded errors)")
    check.add_argument("files", nargs="+")
    check.set_defaults(func=cmd_rubric_check)
    test = rsub.add_parser("test", help="run each item's examples.match / examples.no_match")
    test.add_argument("files", nargs="+")
    test.set_defaults(func=cmd_rubric_test)
    schema = rsub.add_parser("schema", help="print the rubric JSON Schema")
    schema.set_defaults(func=cmd_rubric_schema)
    apply = rsub.add_parser(
        "apply",
        help="score existing transcripts (JSON lines, or the warehouse's) without ASR; "
        "prints, writes nothing",
    )
    source = apply.add_mutually_exclusive_group()
    source.add_argument("--transcripts", help="JSONL: call_id, language, duration_s, utterances")
    source.add_argument(
        "--warehouse",
        help="the warehouse's stored calls, with the night's utterance vectors and metrics",
    )
    apply.add_argument(
        "--since",
        type=_date_arg("--since"),
        help="with --warehouse: only call dates from this one (YYYY-MM-DD)",
    )
    apply.add_argument("--call", help="with --warehouse: only this call id")
    apply.add_argument(
        "--rubric", action="append", help="rubric file(s); default: the shipped one per language"
    )
    apply.add_argument("--config", help="earmark.toml")
    apply.add_argument("--format", choices=["jsonl", "table"], default="table")
    apply.set_defaults(func=cmd_rubric_apply)
    tune = rsub.add_parser(
        "tune", help="pick a meaning item's threshold for a target precision from labels"
    )
    tune.add_argument("item", help="rubric item id, e.g. customer_dissatisfaction")
    tune.add_argument(
        "--labels",
        required=True,
        help='JSONL: {"text": ..., "speaker": ..., "present": true} per line, or '
        '{"call_id": ..., "present": ...} with --transcripts',
    )
    tune.add_argument("--transcripts", help="JSONL transcripts (as rubric apply reads)")
    tune.add_argument("--rubric", required=True, help="the rubric file holding the item")
    tune.add_argument("--precision", type=float, default=0.9, help="target precision (0.9)")
    tune.set_defaults(func=cmd_rubric_tune)
    suggest = rsub.add_parser(
        "suggest",
        help="propose examples and counter-examples from inspector verdicts (a YAML patch)",
    )
    suggest.add_argument("--warehouse", required=True)
    suggest.add_argument("--database", help=DATABASE_HELP)
    suggest.add_argument("--config", help="earmark.toml (the rubric of each language)")
    suggest.add_argument("--out", help="write the YAML here (default: print it)")
    suggest.set_defaults(func=cmd_rubric_suggest)
    explain = rsub.add_parser("explain", help="why each item of a stored call passed or failed")
    explain.add_argument("--call", required=True, help="call_id")
    explain.add_argument("--warehouse", required=True)
    explain.add_argument(
        "--rubric", help="rubric file (default: the configured one for the call's language)"
    )
    explain.add_argument("--config", help="earmark.toml")
    explain.add_argument(
        "--full-rules",
        action="store_true",
        help="print each evidence's rule in full (default: its first 120 characters)",
    )
    explain.set_defaults(func=cmd_rubric_explain)

    rescore = sub.add_parser("rescore", help="re-apply a rubric to stored transcripts (no ASR)")
    rescore.add_argument("--warehouse", required=True)
    rescore.add_argument(
        "--rubric", action="append", help="rubric file(s); default: the configured ones"
    )
    rescore.add_argument(
        "--since", type=_date_arg("--since"), help="only call dates from this one (YYYY-MM-DD)"
    )
    rescore.add_argument("--config", help="earmark.toml")
    _add_verbose(rescore)
    rescore.set_defaults(func=cmd_rescore)

    reasons = sub.add_parser("reasons", help="why customers call, and what is rising")
    reasons.add_argument("--warehouse", required=True)
    reasons.add_argument("--config", help="earmark.toml ([reasons] thresholds)")
    reasons.add_argument(
        "--since",
        type=_date_arg("--since"),
        help="first day of the period (YYYY-MM-DD; default: 7 days)",
    )
    reasons.add_argument("--team", help="only this team's calls and flags")
    reasons.add_argument("--top", type=int, default=30, help="reasons to print (default 30)")
    reasons.set_defaults(func=cmd_reasons)

    queue = sub.add_parser("queue", help="review queues")
    qsub = queue.add_subparsers(title="queue commands")
    show = qsub.add_parser("show", help="print a queue from the warehouse")
    show.add_argument("--warehouse", required=True)
    show.add_argument("--date", type=_date_arg("--date"), help="YYYY-MM-DD (default: every date)")
    show.add_argument("--inspector", help="only this inspector's queue")
    show.add_argument("--csv", help="also write the rows to this CSV file")
    show.set_defaults(func=cmd_queue_show)
    build = qsub.add_parser(
        "build", help="rebuild queues from the warehouse (e.g. after changing inspectors)"
    )
    build.add_argument("--warehouse", required=True)
    build.add_argument("--config", help="earmark.toml with [[inspectors]] and [queue]")
    build.add_argument(
        "--date",
        action="append",
        type=_date_arg("--date"),
        help="YYYY-MM-DD (repeatable; default: every date)",
    )
    _add_verbose(build)
    build.set_defaults(func=cmd_queue_build)
    _add_verbose_everywhere(p)
    return p


# ---------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    from flows.nightly import run_night
    from pipeline.config import load_config
    from pipeline.file_index import DateRange

    config = load_config(args.config)
    updates: dict[str, object] = {}
    if args.language:
        updates["languages"] = list(dict.fromkeys(args.language))
    if args.model or args.workers is not None:
        pairs = (("model", args.model), ("workers", args.workers))
        asr = config.asr.model_copy(update={k: v for k, v in pairs if v is not None})
        updates["asr"] = asr
    config = config.model_copy(update=updates)
    archive, warehouse = _locations(args, config)
    dates = DateRange(args.date or args.since, args.date)
    with _progress("calls"):
        summary = run_night(archive, warehouse, config, dask_address=args.dask_address, dates=dates)
    _print_summary(summary, warehouse, top=args.top)
    return EXIT_OK


def cmd_backfill(args: argparse.Namespace) -> int:
    from flows.backfill import run_backfill
    from pipeline.config import load_config
    from pipeline.file_index import DateRange

    config = load_config(args.config)
    if args.workers is not None:
        config = config.model_copy(
            update={"asr": config.asr.model_copy(update={"workers": args.workers})}
        )
    archive, warehouse = _locations(args, config)
    for name in ("chunk_calls", "batch_calls"):
        if getattr(args, name) < 1:
            option = "--" + name.replace("_", "-")
            raise errors.COUNT_TOO_SMALL(option=option, value=getattr(args, name))
    dates = DateRange(args.first, args.last)
    with _progress("backfill"):
        summary = run_backfill(
            archive,
            warehouse,
            config,
            dates=dates,
            chunk_calls=args.chunk_calls,
            batch_calls=args.batch_calls,
            dask_address=args.dask_address,
        )
    _print_summary(summary, warehouse, top=0)
    return EXIT_OK


def _locations(args: argparse.Namespace, config: Config) -> tuple[str, str]:
    """The archive and warehouse of ``run`` or ``backfill``: the options, else the config."""
    archive = args.archive or config.archive
    warehouse = args.warehouse or config.warehouse
    if not archive or not warehouse:
        raise errors.LOCATION_MISSING(
            options="--archive and --warehouse", keys="archive and warehouse"
        )
    return archive, warehouse


def _progress(desc: str) -> contextlib.AbstractContextManager[None]:
    """The night's progress on stderr: a bar on a terminal, else a line per call done."""
    from flows.progress import shown_on

    return shown_on(sys.stderr, desc=desc)


def _date_arg(option: str) -> Callable[[str], str]:
    """The ``type`` of a date option: its value as ``YYYY-MM-DD``, or ``C040`` naming the
    option and the value, raised while the arguments are parsed (before any loading)."""

    def date(value: str) -> str:
        return iso_date(value, option)

    return date


def _month_arg(value: str) -> str:
    """The ``type`` of ``--month``: ``C060`` naming the value, raised as it is parsed."""
    return iso_month(value)


def _check_backfill_range(args: argparse.Namespace) -> None:
    """``C041`` when ``--from`` (already a checked date) is after ``--to``."""
    if args.first and args.last and args.first > args.last:
        raise errors.DATE_RANGE_REVERSED(first="--from", lo=args.first, second="--to", hi=args.last)


METADATA_ISSUES_SHOWN = 10


def _print_summary(summary: object, warehouse: str, *, top: int) -> None:
    from flows.nightly import NightSummary

    assert isinstance(summary, NightSummary)
    s = summary
    print(
        f"earmark: {s.processed} calls processed ({s.cached} from cache), "
        f"{len(s.quarantined)} quarantined, {s.audio_s / 60:.1f} min of audio in {s.wall_s:.1f} s"
    )
    if s.asr_wall_s:
        print(
            f"ASR: {s.asr_audio_s / 60:.1f} min of new audio in {s.asr_wall_s:.1f} worker-s "
            f"(summed over workers): {s.throughput:.1f} audio s per worker-second"
        )
        share = s.embed_wall_s / s.asr_wall_s
        print(f"meaning model: {s.embed_wall_s:.1f} s ({share:.0%} of the ASR time)")
        share = s.reasons_wall_s / s.asr_wall_s
        print(f"contact reasons step: {s.reasons_wall_s:.2f} s ({share:.1%} of the ASR time)")
    _print_reasons(s)
    print(
        f"archive: {s.hashed} new or changed file(s) read, {s.unchanged} unchanged (not read), "
        f"{len(s.moved)} moved, {s.touched} touched, {len(s.vanished)} vanished"
        + (f", {s.outside} outside the dates asked for" if s.outside else "")
    )
    for old, new in s.moved[:5]:
        print(f"  moved: {old} -> {new}")
    for path in s.vanished[:5]:
        print(f"  vanished: {path} (its rows are kept)")
    if len(s.vanished) > 5:
        print(f"  … {len(s.vanished) - 5} more vanished: see the file_index table")
    if s.queues_kept:
        print(
            f"  queues kept for {', '.join(s.queues_kept)} (calls arrived late; "
            "earmark queue build --date D rebuilds one on purpose)"
        )
    for q in s.quarantined:
        print(f"  quarantined [{q.error_code}] {q.reason}")
    if s.metadata_issues:
        print(
            f"  metadata.csv: {len(s.metadata_issues)} problem(s), the rows kept (calls.metadata_issues)"
        )
        for issue in s.metadata_issues[:METADATA_ISSUES_SHOWN]:
            print(f"    {issue}")
        if len(s.metadata_issues) > METADATA_ISSUES_SHOWN:
            print(
                f"    … and {len(s.metadata_issues) - METADATA_ISSUES_SHOWN} more (each call's in calls.metadata_issues)"
            )
    if s.decode_warnings:
        print(
            f"  decoder warnings: {sum(s.decode_warnings.values())} frame(s) repaired or skipped "
            f"in {len(s.decode_warnings)} recording(s) (calls.decode_warnings)"
        )
    for q in s.deferred:
        print(f"  not processed [{q.error_code}] {q.reason}")
    if s.cache_repaired:
        print(
            f"  warning [W008]: {s.cache_repaired} damaged transcript cache "
            f"entr{'y' if s.cache_repaired == 1 else 'ies'} transcribed again and rewritten"
        )
    if s.ignored:
        print(
            f"  not audio, left alone: {', '.join(s.ignored[:5])}{' …' if len(s.ignored) > 5 else ''}"
        )
    if s.not_scored:
        print(f"  {len(s.not_scored)} call(s) not scored, listed for triage (earmark triage):")
        _print_triage(s.not_scored[:top])
        if len(s.not_scored) > top:
            print(f"  … {len(s.not_scored) - top} more: earmark triage --warehouse {warehouse}")
    dates = f"  (dates {', '.join(s.call_dates)})" if s.call_dates else ""
    print(f"warehouse: {warehouse}{dates}\n")
    if s.queue:
        _print_queues(s.queue, top=top, warehouse=warehouse)
    else:
        _print_stored_queues(warehouse, s)


EARLIER_QUEUES_SHOWN = 3


def _print_stored_queues(warehouse: str, summary: object) -> None:
    """After a night that queued nothing (no new calls, or none needing review, every
    recording quarantined, or late calls of dates whose queues were kept): the queues
    stored before are still there (a night does not rebuild them), so say where, instead
    of an empty queue. Tonight's own dates are not "earlier" ones (a night of quarantined
    recordings stores an empty queue for its date), unless their queue was kept, and an
    empty queue is not one to point at."""
    from flows.nightly import NightSummary
    from pipeline.stored import queued_inspectors

    assert isinstance(summary, NightSummary)
    s = summary
    tonight = set(s.call_dates) - set(s.queues_kept)
    dates = [d for d, names in queued_inspectors(warehouse).items() if names and d not in tonight]
    if s.quarantined and not s.processed:
        lead = (
            f"no queue tonight: every recording read ({len(s.quarantined)}) was quarantined, "
            "see above"
        )
    else:
        lead = "no new queue tonight" if s.call_dates else "no new calls tonight"
    if not dates:
        print(lead if s.quarantined and not s.processed else "Review queue — no call needs review")
        return
    shown = dates[-EARLIER_QUEUES_SHOWN:]
    more = f"{len(dates) - len(shown)} earlier, " if len(dates) > len(shown) else ""
    print(
        f"{lead}; queues of earlier dates are unchanged ({more}{', '.join(shown)}): "
        f"earmark queue show --warehouse {warehouse} --date {dates[-1]}"
    )


def _print_reasons(s: object) -> None:
    from flows.nightly import NightSummary

    assert isinstance(s, NightSummary)
    assigned = sum(r.night.assigned for r in s.reasons)
    if not assigned:
        return
    opened = sum(len(r.night.opened) for r in s.reasons)
    repeats = sum(r.night.repeats for r in s.reasons)
    print(
        f"contact reasons: {assigned} call(s) assigned, {opened} new reason(s), "
        f"{repeats} repeat contact(s) about the same reason"
    )
    for report in s.reasons:
        for f in report.rising[:5]:
            print(f"  rising: {f.why(report.labels.get(f.reason_id, ''))}")


def _print_triage(calls: Sequence[object]) -> None:
    from pipeline.triage import Triage

    for t in calls:
        assert isinstance(t, Triage)
        print(f"  {t.status:20}  {t.call_date}  {t.source_path}: {t.reason}")


def cmd_triage(args: argparse.Namespace) -> int:
    from pipeline import warehouse as wh
    from pipeline.triage import triage_calls

    wh.require_calls(args.warehouse)
    calls = triage_calls(args.warehouse, call_dates=args.date or None)
    if not calls:
        print("no call was kept out of the queues (every stored call was scored or quarantined)")
        return EXIT_OK
    print(f"{len(calls)} call(s) stored but not scored or queued:")
    _print_triage(calls)
    return EXIT_OK


UNASSIGNED_NOTE = (
    "  (no inspector is paired with these calls' teams, in [[inspectors]] of the config: "
    "every call that needs review is listed, without a budget; a control sample, skims and "
    "highlights are picked only for an inspector's own queue)"
)


def _print_queues(queue: Sequence[object], *, top: int, warehouse: str) -> None:
    from pipeline.queue import UNASSIGNED
    from pipeline.types import QueueEntry

    groups: dict[tuple[str, str], list[QueueEntry]] = {}
    for q in queue:
        assert isinstance(q, QueueEntry)
        groups.setdefault((q.inspector, q.date), []).append(q)
    if not groups:
        print("Review queue — no call needs review")
    read_speeds: list[float] = []
    for (inspector, date), entries in sorted(groups.items()):
        review = [q for q in entries if q.kind != "highlight"]
        heard = sum(s.duration_s for q in review for s in q.plan if s.kind == "hear")
        read = sum(s.duration_s for q in review for s in q.plan if s.kind == "read")
        price = sum(q.price_s for q in review)
        if read and price - heard > 0.5:  # the speed the queue was built with, from its prices
            read_speeds.append(read / (price - heard))
        print(
            f"{_queue_title(inspector, date)} — {len(review)} call(s) to review, "
            f"{_cost_line(inspector, price=price, heard=heard, read=read)}; "
            f"{len(entries) - len(review)} highlight(s)"
        )
        if inspector == UNASSIGNED:
            print(UNASSIGNED_NOTE)
        _print_queue(entries[:top])
        if len(entries) > top:
            print(
                f"… {len(entries) - top} more: earmark queue show --warehouse {warehouse} --inspector {inspector} --date {date}"
            )
        print()
    if groups:
        print(_queue_legend(max(read_speeds, default=None)))


def _cost_line(inspector: str, *, price: float, heard: float, read: float) -> str:
    """What a queue costs, added up: heard seconds plus read seconds at the reading speed
    (the read part as charged, then how much transcript that is).

    Examples
    --------
    >>> _cost_line("lena", price=47.75, heard=34.5, read=53.0)
    '0:47 of budget = 0:34 to hear + 0:13 to read 0:53 of transcript'
    >>> _cost_line("unassigned", price=34.0, heard=34.0, read=0.0)
    '0:34 = 0:34 to hear (no inspector, so no budget)'
    """
    from pipeline.queue import UNASSIGNED
    from pipeline.scoring import clock

    parts = f"{clock(heard)} to hear"
    if read:
        # the whole seconds printed add up: the read part is what is left of the total
        parts += f" + {clock(int(price) - int(heard))} to read {clock(read)} of transcript"
    if inspector == UNASSIGNED:
        return f"{clock(price)} = {parts} (no inspector, so no budget)"
    return f"{clock(price)} of budget = {parts}"


def _queue_legend(read_speed: float | None) -> str:
    """The columns of :func:`_print_queue` explained once, under the queues.

    >>> "charged at 1/4 of their length" in _queue_legend(None)
    True
    """
    from pipeline.config import QueueConfig
    from pipeline.scoring import PriorityWeights

    w = PriorityWeights()
    # no stretch to read tonight says nothing of the speed: the configured default then
    speed = f"{read_speed or QueueConfig().read_speed:.1f}".removesuffix(".0")
    return (
        "prio: how urgently the call should be heard, highest first (by default a failed "
        f"critical item counts {w.critical:.0f}, the agent's conduct {w.conduct:.0f}, a "
        f"customer's complaint or escalation {w.signal:.0f}, a low score up to "
        f"{w.low_score * 100:.0f}; [queue.priority] sets them).\n"
        "cost: the listening time the call takes: its moments to hear, plus the stretches "
        f"of transcript to read, charged at 1/{speed} of their length (reading is {speed}x "
        "faster than listening; [queue] read_speed)."
    )


def _print_queue(queue: Sequence[object]) -> None:
    from pipeline.scoring import clock, distinct_reasons
    from pipeline.types import QueueEntry

    print(f"{'rank':>4}  {'kind':9}  {'call':24}  {'agent':8}  {'prio':>5}  {'cost':>6}  why")
    for q in queue:
        assert isinstance(q, QueueEntry)
        print(
            f"{q.rank:>4}  {q.kind:9}  {q.call_id[-24:]:24}  {(q.agent_id or '—')[:8]:8}  "
            f"{q.priority:>5.0f}  {clock(q.price_s):>6}  {_why(distinct_reasons(q.reasons))}"
        )


def _queue_title(inspector: str, date: str) -> str:
    from pipeline.queue import UNASSIGNED

    if inspector == UNASSIGNED:
        return f"Queue for {date} (unassigned calls)"
    return f"Queue of {inspector} for {date}"


WHY_CHARS = 90
QUOTE_CHARS = 40
"""What a queue row keeps at least of its first reason's quote: the words said are what an
inspector reads the row for, so a long item title gives way to them."""
TITLE_CHARS = 34
"""A title is not cut shorter than this (it must still say which item); the row grows
instead."""


def _why(reasons: Sequence[str]) -> str:
    """A queue row's first reason, cut at a word with its quote closed, and how many more
    reasons the call has (failed items, flags, signals: ``queue show --csv`` lists them).

    A reason that quotes what was said keeps :data:`QUOTE_CHARS` of the quote and cuts the
    item's title instead:

    >>> _why(['Agent uses profanity, insults or dismissive language — agent at 0:06: '
    ...       '"I have had it with you people, you never listen to a word I say"', 'b'])
    'Agent uses profanity, insults or… — agent at 0:06: "I have had it with you people, you…" (+1 more reason)'
    """
    if not reasons:
        return ""
    more = len(reasons) - 1
    return _first_reason(" ".join(reasons[0].split())) + (
        f" (+{more} more reason{'s' * (more > 1)})" if more else ""
    )


def _first_reason(reason: str) -> str:
    """One reason in about :data:`WHY_CHARS`: a quote keeps :data:`QUOTE_CHARS`, the title
    before it gives way down to :data:`TITLE_CHARS`, and the quote is closed."""
    from pipeline.text import shorten

    head, said, quote = reason.partition(': "')
    if not said or len(reason) <= WHY_CHARS:
        first = shorten(reason, WHY_CHARS)
        return first + '"' * (first.count('"') % 2)
    quote = quote.removesuffix('"')
    title, dash, where = head.rpartition(" — ")
    shown = max(QUOTE_CHARS, WHY_CHARS - len(head) - 4)
    room = WHY_CHARS - 4 - min(shown, len(quote)) - len(dash) - len(where)
    if len(title) > room:
        title = shorten(title, max(room, TITLE_CHARS))
    return f'{title}{dash}{where}{said}{shorten(quote, shown)}"'


def cmd_serve(args: argparse.Namespace) -> int:
    from pipeline.config import load_config
    from review.app import serve
    from review.auth import accounts_from_entries

    config = load_config(args.config)
    accounts = accounts_from_entries(
        [a.model_dump() for a in config.accounts], source=args.config or "earmark.toml"
    )
    if not accounts:
        raise errors.NO_ACCOUNTS()
    archive = args.archive or config.archive
    if not archive:
        raise errors.LOCATION_MISSING(options="--archive (the recordings' folder)", keys="archive")
    secret_key, note = _session_key()

    def announce() -> None:  # after the app has checked the archive and the warehouse
        if note:
            print(note, file=sys.stderr)
        print(f"earmark: review app on http://{args.host}:{args.port}/ (Ctrl-C stops)", flush=True)

    serve(
        args.warehouse,
        config,
        archive=archive,
        accounts=accounts,
        host=args.host,
        port=args.port,
        database_url=args.database,
        secret_key=secret_key,
        ready=announce,
    )
    return EXIT_OK


SECRET_KEY_VARIABLE = "EARMARK_SECRET_KEY"


def _session_key() -> tuple[str, str]:
    """The key that signs the review app's session cookies, and a note when it is a fresh
    random one (``$EARMARK_SECRET_KEY`` unset): then sign-ins end when the server stops."""
    import os
    import secrets

    key = os.environ.get(SECRET_KEY_VARIABLE)
    if key:
        return key, ""
    note = (
        f"earmark: no {SECRET_KEY_VARIABLE} set: sign-ins end when this server stops. To keep "
        f"them across restarts (and share them between servers), set it once, e.g. "
        f"export {SECRET_KEY_VARIABLE}=$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
    )
    return secrets.token_hex(32), note


def cmd_calibration_report(args: argparse.Namespace) -> int:
    from pipeline import warehouse as wh
    from review.calibration import calibration_report

    wh.require_calls(args.warehouse)
    print(calibration_report(args.warehouse, args.database), end="")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from pipeline import warehouse as wh
    from pipeline.config import load_config
    from pipeline.textfile import check_output_file
    from review.report import write_report

    config = load_config(args.config)
    check_output_file(args.out, option="--out")  # before reading the warehouse
    wh.require_calls(args.warehouse)
    check = write_report(
        args.warehouse,
        config,
        args.team,
        args.month,
        args.out,
        database_url=args.database,
    )
    left = "".join(f", {n} {why}" for why, n in check.not_scored)
    print(
        f"earmark: wrote {args.out}: team {args.team}, {check.month}, "
        f"{len(check.view.agents)} agents, {check.calls} scored calls"
        + (f"{left} (left out of the counts and means)" if left else "")
    )
    return EXIT_OK


def cmd_account_hash(args: argparse.Namespace) -> int:
    import getpass

    from review.auth import account_toml

    if args.password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            raise errors.PASSWORD_EMPTY(
                problem="--password-stdin: the first line of standard input is empty"
            )
    elif not sys.stdin.isatty():
        raise errors.PASSWORD_NO_TERMINAL()
    else:
        try:
            password = getpass.getpass(f"password for {args.name}: ")
            again = getpass.getpass("again: ")
        except EOFError:  # Ctrl-D at the prompt
            raise errors.PASSWORD_EMPTY(problem="no password given (end of input)") from None
        if not password or password != again:
            print("earmark: error: the passwords are empty or differ", file=sys.stderr)
            return EXIT_USAGE
    print(account_toml(args.name, args.role, password, agent_id=args.agent_id))
    return EXIT_OK


def cmd_schedule(args: argparse.Namespace) -> int:
    from flows.schedule import serve
    from pipeline import warehouse as wh

    config_path = str(Path(args.config).resolve()) if args.config else None
    serve(
        cron=args.cron,
        archive=str(Path(args.archive).resolve()),
        warehouse=wh.absolute(args.warehouse),
        config_path=config_path,
        server_url=args.server_url,
    )
    return EXIT_OK


# ---------------------------------------------------------------- models


def cmd_models(args: argparse.Namespace) -> int:
    from models.asr import pick_device
    from models.bundle import resolve_model
    from pipeline.config import load_config

    config = load_config(args.config)
    name = args.model or config.asr.model
    source = resolve_model(name)
    device, compute = pick_device(config.asr.device)
    print(f"ASR model: {source.name}  ({name!r})")
    print(f"  from:    {source.origin}")
    print(f"  folder:  {source.path}")
    if source.sha256:
        print(f"  sha256:  {source.sha256} (verified)")
    print(f"  device:  {device}, compute {config.asr.compute_type if device == 'cpu' else compute}")
    for path, size in source.files():
        print(f"  {size / 1e6:9.1f} MB  {path}")
    for language in config.languages:
        chosen = config.asr.model_for(language)
        if args.model or chosen == name:
            print(f"  language {language}: {source.name}")
            continue
        other = resolve_model(chosen)
        print(f"  language {language}: {other.name}  ({chosen!r}, {other.origin})")
        print(f"    folder:  {other.path}")
    if config.asr.hotwords or config.asr.initial_prompt:
        print(f"  hotwords: {config.asr.hotwords!r}  initial prompt: {config.asr.initial_prompt!r}")
    print(
        "  language detection: over all Whisper languages; served "
        f"{', '.join(config.languages)}; others are unsupported_language when at least "
        f"{config.language_detection.min_probability:.0%} likely"
    )
    import faster_whisper

    vad = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
    print(f"VAD model: Silero VAD v6 (inside faster-whisper {faster_whisper.__version__})\n  {vad}")
    print("Text analysis: spaCy blank pipelines (tokenizers only, no downloaded weights)")
    return EXIT_OK


# ---------------------------------------------------------------- rubric tools


def cmd_rubric_check(args: argparse.Namespace) -> int:
    """Validate each file and compile it as ``rubric test`` and the night do (its detectors
    built for its language's analyzer and the meaning model, which loads only for example
    lines it has not kept), so what compiling refuses is refused here, not the night."""
    from models.embed import get_embedder
    from models.nlp import get_analyzer
    from pipeline.rubric.loader import compiled_rubric
    from pipeline.rubric.schema import weights_problem

    failed = 0
    for path in args.files:
        try:
            compiled = compiled_rubric(path, analyzer_for=get_analyzer, embedder=get_embedder)
            rubric = compiled.rubric
            problem = weights_problem(rubric)
            if problem is not None:
                raise problem
        except EarmarkError as exc:
            failed += 1
            print(f"FAIL {exc}")
        else:
            print(
                f"ok   {path}: rubric {rubric.id!r} v{rubric.version} ({rubric.language}), {len(rubric.items)} items"
            )
            for c in compiled.items:
                for note in getattr(c.detector, "notes", ()):
                    print(f"note {path} item {c.item.id!r}: {note}")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_rubric_test(args: argparse.Namespace) -> int:
    from models.embed import get_embedder
    from models.nlp import get_analyzer
    from pipeline.rubric.engine import check_examples
    from pipeline.rubric.loader import compiled_rubric

    failed_total = 0
    for path in args.files:
        try:
            compiled = compiled_rubric(path, analyzer_for=get_analyzer, embedder=get_embedder)
        except EarmarkError as exc:
            failed_total += 1
            print(f"FAIL {exc}")
            continue
        total, failures = check_examples(compiled)
        for f in failures:
            want = "should match" if f.expected_match else "should not match"
            print(f"FAIL {path} item {f.item_id!r}: {want}: {f.text!r}")
        print(f"{path}: {total - len(failures)} passed, {len(failures)} failed")
        failed_total += len(failures)
    return EXIT_FAILED if failed_total else EXIT_OK


def _call_rubric_paths(args: argparse.Namespace, call: CallRow) -> list[str]:
    """The rubric a stored call's type picks (the night's rules, from the call's metadata)."""
    from pipeline.calltypes import choose_rubric
    from pipeline.config import load_config
    from pipeline.rows import call_metadata

    choice = choose_rubric(load_config(args.config), call_metadata(call), str(call.language))
    return [choice.path] if choice.path else []


def _rubric_paths(args: argparse.Namespace) -> list[str]:
    from pipeline.config import load_config

    if args.rubric:
        return list(args.rubric)
    config = load_config(args.config)
    return [config.rubrics[lang] for lang in config.languages if lang in config.rubrics]


def cmd_rubric_apply(args: argparse.Namespace) -> int:
    from flows.rubrics import RubricsByLanguage, iter_json_objects
    from pipeline.scoring import assess
    from pipeline.transcript import transcript_from_json

    if args.warehouse is None and args.transcripts is None:
        raise errors.APPLY_SOURCE_MISSING(
            problem="what to score? --transcripts FILE.jsonl, or --warehouse W for the "
            "night's stored calls (with their stored vectors)"
        )
    if args.warehouse is None and (args.since or args.call):
        raise errors.APPLY_SOURCE_MISSING(problem="--since and --call filter --warehouse")
    rubric_for = RubricsByLanguage(_rubric_paths(args))
    if args.warehouse is not None:
        return _apply_to_warehouse(args, rubric_for)
    try:
        source = open(args.transcripts, encoding="utf-8")  # noqa: SIM115  (closed below)
    except OSError as exc:
        raise errors.TRANSCRIPTS_UNREADABLE(path=args.transcripts, problem=exc.strerror) from None
    bad = 0
    with source:
        for n, obj, problem in iter_json_objects(source):
            where = f"{args.transcripts}:{n}"
            try:
                if obj is None:
                    raise ValueError(problem)
                transcript = transcript_from_json(obj)
                rubric = rubric_for(transcript.language)
                if rubric is None:
                    have = ", ".join(rubric_for.languages)
                    raise ValueError(
                        f"no rubric for language {transcript.language!r} (have {have})"
                    )
            except ValueError as exc:
                bad += 1
                print(f"{where}: skipped: {exc}", file=sys.stderr)
                continue
            findings, score = assess(rubric, transcript)
            if args.format == "jsonl":
                _print_finding_rows(findings)
            else:
                _print_assessment(transcript.call_id, findings, score)
    if bad:
        print(f"earmark: {bad} line(s) skipped, see above", file=sys.stderr)
    return EXIT_FAILED if bad else EXIT_OK


def _apply_to_warehouse(args: argparse.Namespace, rubric_for: RubricsByLanguage) -> int:
    """``rubric apply --warehouse``: the stored calls scored with their stored vectors
    and metrics, as ``rescore`` scores them, printed and never written."""
    from flows.rescore import iter_stored_calls
    from pipeline import warehouse as wh

    since = args.since
    wh.require_calls(args.warehouse)
    scored = skipped = 0
    for stored in iter_stored_calls(args.warehouse, since=since, call=args.call):
        transcript = stored.transcript
        rubric = rubric_for(transcript.language)
        if rubric is None:
            skipped += 1
            continue
        findings, score = stored.assess(rubric)
        scored += 1
        if args.format == "jsonl":
            _print_finding_rows(findings)
        else:
            _print_assessment(transcript.call_id, findings, score)
    if skipped:
        have = ", ".join(rubric_for.languages)
        print(
            f"earmark: {skipped} call(s) in no rubric's language skipped (have {have})",
            file=sys.stderr,
        )
    if not scored:
        where = f" call {args.call!r}" if args.call else ""
        print(
            f"earmark: no scored{where} call in {args.warehouse} to apply the rubric to",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _print_finding_rows(findings: Sequence[Finding]) -> None:
    """Findings as ``findings`` table rows, one JSON object a line (the table's Arrow
    stack is imported only for this format)."""
    import json

    from pipeline.rows import finding_row

    for f in findings:
        print(json.dumps(finding_row(f), ensure_ascii=False))


def cmd_rubric_tune(args: argparse.Namespace) -> int:
    from flows.rubrics import compile_rubrics
    from pipeline.rubric.tune import few_labels_warning, item_margins, meaning_of, pick_threshold

    if not 0 < args.precision <= 1:
        raise errors.PRECISION_INVALID(value=args.precision)
    compiled = next(iter(compile_rubrics([args.rubric]).values()))
    target = next((c for c in compiled.items if c.item.id == args.item), None)
    if target is None:
        known = ", ".join(c.item.id for c in compiled.items)
        raise errors.TUNE_ITEM(problem=f"no item {args.item!r} in {args.rubric} (has {known})")
    current = meaning_of(target).params.threshold  # an item without meaning: its error
    calls, labels = _tune_examples(args, compiled.rubric.language, target.item.speaker)
    margins = item_margins(compiled, args.item, calls)
    result = pick_threshold(args.item, margins, labels, precision=args.precision, current=current)
    print(
        f"{args.item}: {result.positives} labelled present, {result.negatives} absent "
        f"({args.labels})"
    )
    now = result.current
    print(
        f"  now      threshold {current:+.4f}: P {now.precision:.3f} R {now.recall:.3f} F1 {now.f1:.3f}"
    )
    if result.chosen is None:
        print(f"  no threshold reaches precision {args.precision}: add counter-examples")
        warning = few_labels_warning(result, margins, labels)
        if warning:
            print(f"  {warning}")
        return EXIT_FAILED
    c = result.chosen
    print(
        f"  proposed threshold {c.threshold:+.4f}: P {c.precision:.3f} R {c.recall:.3f} F1 {c.f1:.3f}"
    )
    print(f"  in {args.rubric}, item {args.item!r}, meaning.v1 params:  threshold: {c.threshold}")
    warning = few_labels_warning(result, margins, labels)
    if warning:
        print(f"  {warning}")
    return EXIT_OK


def _tune_examples(
    args: argparse.Namespace, language: str, item_speaker: str
) -> tuple[list[object], list[bool]]:
    """Labelled calls for ``rubric tune``: one-line calls from ``text`` (said by the item's
    speaker unless the label names one, which must then be it), or stored transcripts by
    ``call_id``. A bad line is an error naming the file and line."""
    from flows.rubrics import iter_json_objects
    from pipeline.transcript import transcript_from_json
    from pipeline.types import Transcript, Utterance

    by_id: dict[str, Transcript] = {}
    if args.transcripts:
        try:
            source = open(args.transcripts, encoding="utf-8")  # noqa: SIM115  (closed below)
        except OSError as exc:
            raise errors.TRANSCRIPTS_UNREADABLE(
                path=args.transcripts, problem=exc.strerror
            ) from None
        with source:
            for n, obj, problem in iter_json_objects(source):
                if obj is None:
                    raise errors.TUNE_INPUT_INVALID(
                        where=f"{args.transcripts}:{n}", problem=problem
                    )
                t = transcript_from_json(obj)
                by_id[t.call_id] = t
    calls: list[object] = []
    labels: list[bool] = []
    try:
        lines = open(args.labels, encoding="utf-8").read().splitlines()  # noqa: SIM115
    except OSError as exc:
        raise errors.TUNE_INPUT_INVALID(
            where=args.labels, problem=f"cannot read ({exc.strerror})"
        ) from None
    for n, obj, problem in iter_json_objects(lines):
        try:
            if obj is None:
                raise ValueError(problem)
            present = obj["present"]
            if not isinstance(present, bool):
                raise ValueError("'present' must be true or false")
            if "text" in obj:
                speaker = obj.get("speaker", item_speaker)
                if item_speaker != "any" and speaker != item_speaker:
                    raise ValueError(
                        f"a {speaker!r} line, but {args.item} judges the {item_speaker}'s lines"
                    )
                utt = Utterance(speaker, 0.0, 2.0, str(obj["text"]), (), 1.0, 0)
                calls.append(Transcript(f"line-{n}", language, 2.0, (utt,)))
            elif obj.get("item_id", args.item) != args.item:
                continue
            else:
                calls.append(by_id[obj["call_id"]])
            labels.append(present)
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.TUNE_INPUT_INVALID(
                where=f"{args.labels}:{n}",
                problem=f"not a label line ({exc}; see earmark rubric tune --help)",
            ) from None
    if not labels:
        raise errors.TUNE_INPUT_INVALID(
            where=args.labels, problem=f"no labels for item {args.item!r}"
        )
    return calls, labels


def _print_assessment(
    call_id: str,
    findings: Sequence[object],
    score: object,
    *,
    explain: bool = False,
    full_rules: bool = False,
) -> None:
    from pipeline.scoring import clock_span, distinct_reasons
    from pipeline.text import short_rule
    from pipeline.types import CallScore, Finding

    assert isinstance(score, CallScore)
    review = "needs review" if score.needs_review else "ok"
    print(
        f"{call_id}: score {score.score:.0f} ({review}) — rubric {score.rubric_id} v{score.rubric_version}"
    )
    for f in findings:
        assert isinstance(f, Finding)
        mark = {"pass": "PASS", "fail": "FAIL", "na": "n/a "}[f.outcome]
        seen = "found" if f.detected else "not found"
        extra = " critical" if f.critical else (" flag" if f.flag else "")
        sure = f"  sure {f.strength:.2f}" if f.detected and f.strength < 1.0 else ""
        print(
            f"  {mark} {f.item_id:26} {seen:9} w={f.weight:g}{extra}  conf {f.confidence:.2f}{sure}"
        )
        for e in f.evidence[: None if explain else 1]:
            rule = e.rule if full_rules else short_rule(e.rule)
            print(
                f"         {clock_span(e.start_s, e.end_s)} {e.speaker}: {e.text[:100]!r}  [{rule}]"
            )
    for reason in distinct_reasons(score.reasons):
        print(f"  why: {reason}")


def cmd_rubric_explain(args: argparse.Namespace) -> int:
    import pyarrow.compute as pc

    from flows.rescore import rebuild_calls
    from flows.rubrics import RubricsByLanguage
    from pipeline import warehouse as wh
    from pipeline.analysis import speakers_line
    from pipeline.stored import stored_calls

    wh.require_calls(args.warehouse)
    found = [
        (date, call)
        for date in wh.partition_dates(args.warehouse, "calls")
        for call in stored_calls(args.warehouse, date, call_id=args.call)
    ]
    if not found:
        raise errors.CALL_NOT_FOUND(warehouse=args.warehouse, call=args.call)
    date, call = found[0]
    if call.status == "quarantined":
        raise errors.CALL_NOT_SCORED(
            call=args.call, problem="quarantined; see the quarantine table"
        )
    if call.status == "unsupported_language":
        raise errors.CALL_NOT_SCORED(
            call=args.call, problem=f"not transcribed: {call.status_reason}"
        )
    utts = wh.read_table(args.warehouse, "utterances", call_dates=[date])
    (stored,) = rebuild_calls([call], utts.filter(pc.equal(utts["call_id"], args.call)))
    paths = [args.rubric] if args.rubric else _call_rubric_paths(args, call)
    language = stored.transcript.language
    compiled = RubricsByLanguage(paths)(language)
    if compiled is None:
        raise errors.CALL_LANGUAGE_NO_RUBRIC(language=language)
    print(f"{call.source_path}  {call.duration_s:.0f} s  {language}  agent {call.agent_id or '—'}")
    print(f"speakers: {speakers_line(call.diarization)}")
    findings, score = stored.assess(compiled)
    _print_assessment(args.call, findings, score, explain=True, full_rules=args.full_rules)
    return EXIT_OK


def cmd_rubric_suggest(args: argparse.Namespace) -> int:
    from pipeline import warehouse as wh
    from pipeline.config import load_config
    from pipeline.textfile import check_output_file, output_error
    from review.store import ReviewStore, default_database_url
    from review.suggest import check_suggestions_file, suggest, suggestions_yaml

    config = load_config(args.config)
    if args.out:
        check_output_file(args.out, option="--out")
        check_suggestions_file(args.out)
    wh.require_calls(args.warehouse)
    store = ReviewStore(args.database or default_database_url(args.warehouse))
    try:
        found = suggest(store.latest_reviews(), args.warehouse, config)
    finally:
        store.close()
    text = suggestions_yaml(found)
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise output_error(args.out, exc, option="--out") from exc
        counts = found.counts()
        print(
            f"earmark: wrote {len(found.proposals)} proposal(s) for {len(counts)} item(s) "
            f"to {args.out}; {len(found.skipped)} verdict(s) gave none (listed at its end)"
        )
        for item_id, (match, no_match) in sorted(counts.items()):
            print(f"  {item_id}: {match} example(s), {no_match} counter-example(s)")
        if found.measured:
            print(
                f"  {len(found.measured)} verdict(s) on measured items: no example proposed, "
                "the inspectors' notes listed for the data engineer"
            )
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_rescore(args: argparse.Namespace) -> int:
    from flows.rescore import run_rescore
    from pipeline import warehouse as wh
    from pipeline.config import load_config

    config = load_config(args.config)
    wh.require_calls(args.warehouse)
    summary = run_rescore(args.warehouse, config, rubrics=args.rubric or (), since=args.since)
    print(
        f"earmark: rescored {summary.calls} calls over {len(summary.dates)} date(s) in {summary.wall_s:.1f} s "
        f"({summary.calls_per_s:.0f} calls/s), no ASR"
        + "".join(f"; {line}" for line in skipped_lines(summary.skipped, summary.languages))
    )
    if summary.edited:
        print(
            f"earmark: warning: rubric {', '.join(summary.edited)}: the item changed since "
            "its stored findings were made, at the same rubric and item version, and its old "
            "rows have been replaced by rows that cannot be told from them; next time bump "
            "the item's version: and the rubric's version: before you rescore, so the old "
            "rows stay beside the new ones",
            file=sys.stderr,
        )
    return EXIT_OK


def skipped_lines(skipped: Sequence[str], languages: Sequence[str]) -> list[str]:
    """Why ``rescore`` left calls as they were, truthfully: not in a language of the rubrics
    given, or in one but scored by another rubric (the one their call type chose).

    Examples
    --------
    >>> skipped_lines(["zh", "ru"], ["en"])
    ["not in the rubric's language en: 2 calls left as scored (ru 1, zh 1)"]
    >>> skipped_lines(["en", "ru", "ru"], ["en", "zh"])
    ["not in the rubrics' languages en, zh: 2 calls left as scored (ru 2)", '1 call in en left as scored: no single rubric given is its own (the one its call type chose, or the only one of its language)']
    >>> skipped_lines([], ["en"])
    []
    """
    from collections import Counter

    def calls(n: int) -> str:
        return f"{n} call{'s' * (n != 1)}"

    other = Counter(lang for lang in skipped if lang not in languages)
    same = Counter(lang for lang in skipped if lang in languages)
    lines = []
    if other:
        whose = "rubric's language" if len(languages) == 1 else "rubrics' languages"
        each = ", ".join(f"{lang} {n}" for lang, n in sorted(other.items()))
        lines.append(
            f"not in the {whose} {', '.join(languages)}: {calls(other.total())} left as scored ({each})"
        )
    if same:
        # a call's own rubric: its call type's, or (stored before call types) the only
        # one of its language given
        lines.append(
            f"{calls(same.total())} in {', '.join(sorted(same))} left as scored: no single "
            "rubric given is its own (the one its call type chose, or the only one of its "
            "language)"
        )
    return lines


def cmd_rubric_schema(args: argparse.Namespace) -> int:
    from pipeline.rubric.schema import json_schema_text

    sys.stdout.write(json_schema_text())
    return EXIT_OK


# ---------------------------------------------------------------- reasons


def cmd_reasons(args: argparse.Namespace) -> int:
    from flows.reasons import reason_lines, reasons_table
    from pipeline.config import load_config

    lines, first, last = reason_lines(
        args.warehouse, load_config(args.config), since=args.since, team=args.team
    )
    print(reasons_table(lines, first, last, top=args.top))
    return EXIT_OK


# ---------------------------------------------------------------- queue


def cmd_queue_build(args: argparse.Namespace) -> int:
    from flows.nightly import run_queue_build
    from pipeline import warehouse as wh
    from pipeline.config import load_config

    config = load_config(args.config)
    wh.require_calls(args.warehouse)
    dates = args.date or wh.partition_dates(args.warehouse, "scores")
    queue = run_queue_build(args.warehouse, dates, config)
    _print_queues(queue, top=20, warehouse=args.warehouse)
    return EXIT_OK


def cmd_queue_show(args: argparse.Namespace) -> int:
    from pipeline import warehouse as wh
    from pipeline.rows import queue_entry_from_row
    from pipeline.stored import queued_inspectors
    from pipeline.textfile import check_output_file

    date = args.date
    if args.csv:
        check_output_file(args.csv, option="--csv")
    wh.require_calls(args.warehouse)
    table = wh.read_table(args.warehouse, "queue", call_dates=[date] if date else None)
    rows = table.to_pylist()
    if args.inspector:
        rows = [r for r in rows if r["inspector"] == args.inspector]
    entries = [queue_entry_from_row(r) for r in rows]
    if entries:
        _print_queues(entries, top=len(entries), warehouse=args.warehouse)
    else:
        for line in empty_queue_notes(
            queued_inspectors(args.warehouse),
            _quarantine_days(args.warehouse),
            date=date,
            inspector=args.inspector,
        ):
            print(line)
    if args.csv:
        _write_queue_csv(args.csv, entries)
        print(f"wrote {len(entries)} rows to {args.csv}")
    return EXIT_OK


NEAREST_DATES_SHOWN = 3
QUARANTINED_SHOWN = 5


@dataclass(frozen=True, slots=True)
class QuarantineDay:
    """A date's recordings the nights quarantined (``[code] reason`` each, as the night's
    summary printed them), and how many of its calls they could process."""

    reasons: tuple[str, ...]
    processed: int


def empty_queue_notes(
    queued: Mapping[str, Sequence[str]],
    quarantine: Mapping[str, QuarantineDay],
    *,
    date: str | None,
    inspector: str | None,
) -> list[str]:
    """Why ``queue show`` found no row, in lines a new user can act on.

    Parameters
    ----------
    queued
        Each date with a ``queue`` partition → the inspectors with rows on it (none: the
        date's queue was built empty).
    quarantine
        Each date with quarantined recordings → their reasons, and its calls processed.
    date, inspector
        What was asked for (``None``: any).

    Examples
    --------
    >>> queued = {"2026-11-20": ["lena", "omar"], "2026-11-21": ["lena"]}
    >>> empty_queue_notes(queued, {}, date=None, inspector="nobody")[0]
    "no inspector 'nobody' in the queues of any date; inspectors with a queue: lena, omar"
    >>> empty_queue_notes(queued, {}, date="2026-11-25", inspector=None)[0]
    'no queue for 2026-11-25; nearest dates with a queue: 2026-11-20, 2026-11-21'
    """
    from pipeline.queue import UNASSIGNED

    known = sorted({name for names in queued.values() for name in names})
    if inspector is not None and inspector not in known:
        if not known:
            return [f"no inspector {inspector!r}: no queue holds any call yet"]
        if known == [UNASSIGNED]:
            return [
                f"no inspector {inspector!r}: the queues are not split by inspector (built "
                "without [[inspectors]] in the config); leave out --inspector"
            ]
        return [
            f"no inspector {inspector!r} in the queues of any date; "
            f"inspectors with a queue: {', '.join(known)}"
        ]
    with_rows = sorted(d for d, names in queued.items() if inspector in (None, *names) and names)
    whose = f" of {inspector}" if inspector else ""
    lost = quarantine.get(date) if date else None
    if date is None:
        lines = ["no queue holds any call yet"]
        reasons = [r for q in quarantine.values() for r in q.reasons]
        return lines + _quarantined_lines(reasons, "")
    lines = []
    if inspector and queued.get(date):  # others have rows that date
        others = ", ".join(queued[date])
        lines.append(f"{inspector} has nothing in the queue of {date} (it holds {others}'s calls)")
    elif lost is not None and lost.reasons and not lost.processed:
        lines.append(f"no queue{whose} for {date}: every recording of that date was quarantined")
    elif date in queued:
        lines.append(f"the queue{whose} for {date} is empty: no call of that date needed review")
    else:
        lines.append(f"no queue{whose} for {date}")
    lines += _quarantined_lines(lost.reasons if lost else (), f" of {date}")
    nearest = _nearest_dates(date, with_rows)
    if nearest:
        lines[0] += f"; nearest dates with a queue: {', '.join(nearest)}"
    return lines


def _quarantined_lines(reasons: Sequence[str], of_date: str) -> list[str]:
    """How many recordings were quarantined, the first few reasons, and where the rest are."""
    if not reasons:
        return []
    many = len(reasons) > 1
    lines = [
        f"{len(reasons)} recording{'s' * many}{of_date} could not be processed and "
        f"{'were' if many else 'was'} quarantined (the warehouse's quarantine table holds "
        f"{'each' if many else 'it'} with the reason):"
    ]
    lines += [f"  {r}" for r in reasons[:QUARANTINED_SHOWN]]
    if len(reasons) > QUARANTINED_SHOWN:
        lines.append(f"  … {len(reasons) - QUARANTINED_SHOWN} more in the quarantine table")
    return lines


def _nearest_dates(date: str, dates: Sequence[str]) -> list[str]:
    """Up to :data:`NEAREST_DATES_SHOWN` of ``dates`` closest to ``date``, in order."""
    import datetime as dt

    day = dt.date.fromisoformat(date)
    by_distance = sorted(dates, key=lambda d: (abs((dt.date.fromisoformat(d) - day).days), d))
    return sorted(by_distance[:NEAREST_DATES_SHOWN])


def _quarantine_days(warehouse: str) -> dict[str, QuarantineDay]:
    """Each date with quarantined recordings → their reasons, and its calls processed."""
    from pipeline import warehouse as wh
    from pipeline.stored import quarantined

    days: dict[str, QuarantineDay] = {}
    for date in wh.partition_dates(warehouse, "quarantine"):
        calls = wh.read_partition(warehouse, "calls", date, columns=["status"])
        statuses = calls.column("status").to_pylist() if calls is not None else []
        days[date] = QuarantineDay(
            tuple(f"[{q.error_code}] {q.reason}" for q in quarantined(warehouse, date)),
            sum(s != "quarantined" for s in statuses),
        )
    return days


def _write_queue_csv(path: str, entries: Sequence[QueueEntry]) -> None:
    """The queue's rows as stored (the ``queue`` table's columns), plan and reasons as text."""
    from pipeline import warehouse as wh
    from pipeline.rows import queue_row
    from pipeline.textfile import output_error

    try:
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=wh.SCHEMAS["queue"].names)
            writer.writeheader()
            for q in entries:
                plan = " ".join(f"{s.kind} {s.start_s:.1f}-{s.end_s:.1f}" for s in q.plan)
                writer.writerow({**queue_row(q), "plan": plan, "reasons": " | ".join(q.reasons)})
    except OSError as exc:
        raise output_error(path, exc, option="--csv") from exc


if __name__ == "__main__":
    raise SystemExit(main())
