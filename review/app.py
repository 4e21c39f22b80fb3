"""The inspector review web app: queues, calls with their audio, verdicts, calibration.

Server-rendered (FastAPI + Jinja2, a little inline JavaScript, no build step). The
warehouse is only read; what inspectors write goes to an SQL database (SQLite under the
warehouse by default). Every page needs sign-in; every form carries a CSRF token;
inspectors see only the calls of the teams paired with them.

Run it with :func:`serve` (``earmark serve``) or mount :func:`create_app` anywhere ASGI runs.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import logging
import math
import os
import re
import secrets
import shlex
import shutil
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NamedTuple
from urllib.parse import parse_qs, quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline import errors
from pipeline import warehouse as wh
from pipeline.config import Config
from pipeline.periods import is_date
from pipeline.queue import UNASSIGNED, plan_options_from_config
from pipeline.reason_store import ReasonCallIndex
from pipeline.scoring import CRITICAL_PREFIX, distinct_reasons
from pipeline.triage import triage_calls
from review import charts, data
from review.audio import audio_response, audio_status, resolve_audio
from review.auth import SESSION_TTL_S, Account, Session, SessionSigner, check_sign_in
from review.calibration import calibrate
from review.feedback import FeedbackIndex
from review.formats import FILTERS, clock_or_dash, time_hint
from review.scope import may_open, teams_of
from review.store import (
    NOT_APPLICABLE,
    OVERALL,
    RESPONSE_KINDS,
    VERDICTS,
    AgentResponse,
    FindingVerdict,
    MissedItem,
    Review,
    ReviewStore,
    default_database_url,
)
from review.suggest import suggest, suggestions_yaml

log = logging.getLogger("earmark.review")

HERE = Path(__file__).resolve().parent
COOKIE = "earmark_session"
MAX_FORM_BYTES = 256 * 1024
SIGNIN_WINDOW_S = 300.0
SIGNIN_MAX_FAILURES = 5
_TIME = re.compile(r"^(?:(\d+):)?(\d+(?:\.\d+)?)$")
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<circle cx="8" cy="8" r="7.5" fill="#20303f"/><path d="M5 6v4M8 3.5v9M11 5v6" '
    'stroke="#fff" stroke-width="1.6" stroke-linecap="round"/></svg>'
)


@dataclass(frozen=True, slots=True)
class ReviewApp:
    """What every request handler needs (``app.state.review``)."""

    warehouse: str
    archive: Path
    audio_cache: Path | None
    """Where redacted copies of a remote warehouse are downloaded to (``None``: local)."""
    config: Config
    accounts: Mapping[str, Account]
    store: ReviewStore
    signer: SessionSigner
    index: data.CallIndex
    templates: Jinja2Templates
    feedback: FeedbackIndex
    reasons: ReasonCallIndex


class SignInRequired(Exception):
    """Raised by :func:`signed_in`: pages redirect to the sign-in form, audio gets 401."""


def create_app(
    warehouse: str | Path,
    config: Config,
    *,
    archive: str | Path | None = None,
    accounts: Mapping[str, Account] | Iterable[Account] = (),
    database_url: str | None = None,
    secret_key: str | None = None,
    session_ttl_s: float = SESSION_TTL_S,
) -> FastAPI:
    """Build the review app.

    Parameters
    ----------
    warehouse
        Warehouse folder or URL (read only).
    config
        Inspectors, their teams and the rotation (``earmark.toml``).
    archive
        Recording archive root the ``calls.source_path`` values are relative to;
        defaults to ``config.archive``.
    accounts
        Who may sign in (see :func:`review.auth.accounts_from_entries`).
    database_url
        Review database; default ``sqlite:///{warehouse}/reviews.sqlite`` (a warehouse
        in an object store needs one).
    secret_key
        Signs session cookies. Servers sharing a database must share it; when ``None``
        a random key is made, so sessions end when the process does.
    session_ttl_s
        How long a sign-in lasts (8 hours by default).

    Returns
    -------
    FastAPI
        The ASGI app.

    Raises
    ------
    ConfigError
        ``C004`` when no archive folder is given or it does not exist; ``C005`` when
        the warehouse is remote and no ``database_url`` is given.
    WarehouseError
        ``W012`` when the warehouse folder does not exist, ``W010`` when it holds no calls
        (as every command that reads a warehouse); nothing is created there.
    """
    root = archive if archive is not None else config.archive
    if not root or not Path(root).is_dir():
        raise errors.ARCHIVE_FOLDER_MISSING(path=str(root))
    wh.require_calls(warehouse)
    by_name = dict(accounts) if isinstance(accounts, Mapping) else {a.name: a for a in accounts}
    if secret_key is None:
        log.warning("no secret key given: sessions end when this server stops")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters.update(FILTERS)
    store = ReviewStore(database_url or default_database_url(warehouse))
    remote = not wh.is_local(warehouse)
    audio_cache = Path(tempfile.mkdtemp(prefix="earmark-review-audio-")) if remote else None
    state = ReviewApp(
        warehouse=os.fspath(warehouse),
        archive=Path(root).resolve(),
        audio_cache=audio_cache,
        config=config,
        accounts=by_name,
        store=store,
        signer=SessionSigner(secret_key or secrets.token_hex(32), ttl_s=session_ttl_s),
        index=data.CallIndex(warehouse),
        templates=templates,
        feedback=FeedbackIndex(warehouse),
        reasons=ReasonCallIndex(os.fspath(warehouse)),
    )
    app = FastAPI(
        title="earmark review",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_warm_on_start,
    )
    app.state.review = state
    if audio_cache is not None:  # customers' audio, even redacted, is not left behind
        weakref.finalize(app, shutil.rmtree, audio_cache, ignore_errors=True)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_required)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    _routes(app)
    return app


@asynccontextmanager
async def _warm_on_start(app: FastAPI) -> AsyncIterator[None]:
    """Read the dashboards' nights and reviews and compile the pages in the background as
    the server starts, so that the first lead to open a dashboard does not wait for it."""
    state = app.state.review
    threading.Thread(target=_warm, args=(state,), name="earmark-warm", daemon=True).start()
    yield


def _warm(state: ReviewApp) -> None:
    try:
        for page in state.templates.env.list_templates():
            state.templates.get_template(page)
        state.store.latest_reviews()
        state.feedback.warm()
    except Exception as e:  # a page that needs the data reads it again and says what failed
        log.warning("could not read the dashboards' data ahead: %s", e)


def serve(
    warehouse: str | Path,
    config: Config,
    *,
    archive: str | Path | None = None,
    accounts: Mapping[str, Account] | Iterable[Account] = (),
    host: str = "127.0.0.1",
    port: int = 8765,
    database_url: str | None = None,
    secret_key: str | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    """Run the review app with uvicorn until interrupted (``earmark serve``).

    Parameters are those of :func:`create_app`, plus the address to listen on and
    ``ready``, called once the app is built (its archive and warehouse checked) and before
    it listens: where the caller says where it serves. Without ``secret_key``,
    ``$EARMARK_SECRET_KEY`` signs the session cookies (set the same value on every server
    sharing a database; when neither is set, sessions end at restart).
    """
    import uvicorn

    secret_key = secret_key or os.environ.get("EARMARK_SECRET_KEY") or None

    app = create_app(
        warehouse,
        config,
        archive=archive,
        accounts=accounts,
        database_url=database_url,
        secret_key=secret_key,
    )
    listening = listen_socket(host, port)  # a busy port is one earmark error, said first
    with listening:
        if ready is not None:
            ready()
        # earmark says where it serves; uvicorn speaks only of what goes wrong
        server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", proxy_headers=False)
        )
        server.run(sockets=[listening])


def listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port``, for uvicorn to listen on: binding it here, before
    the server says where it serves, turns a busy port into one clear error (and no other
    program can take the port between the check and the serving).

    Raises
    ------
    ConfigError
        ``C047`` when the address cannot be bound (in use, not this machine's, privileged).
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as e:
        raise errors.SERVE_PORT_UNAVAILABLE(host=host, port=port, problem=e.strerror) from e
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is free
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        problem = (e.strerror or str(e)).lower()
        if e.errno == errno.EADDRINUSE:
            problem += "; another program listens there: stop it or give another --port"
        raise errors.SERVE_PORT_UNAVAILABLE(host=host, port=port, problem=problem) from e
    return sock


# ---------------------------------------------------------------- plumbing


class SecurityHeaders:
    """Adds a per-request CSP nonce (``request.state.csp_nonce``) and security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault(
                    "Content-Security-Policy",
                    f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; "
                    "img-src 'self'; media-src 'self'; form-action 'self'; "
                    "frame-ancestors 'none'; base-uri 'none'",
                )
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _state(request: Request) -> ReviewApp:
    return request.app.state.review  # type: ignore[no-any-return]


def _session(request: Request) -> Session | None:
    return _state(request).signer.loads(request.cookies.get(COOKIE))


def signed_in(request: Request) -> Account:
    """FastAPI dependency: the signed-in account (the account must still exist)."""
    session = _session(request)
    account = _state(request).accounts.get(session.name) if session and session.name else None
    if session is None or account is None:
        raise SignInRequired
    request.state.session = session
    return account


SignedIn = Annotated[Account, Depends(signed_in)]


def _set_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        _state(request).signer.dumps(session),
        max_age=max(1, int(session.expires_at - time.time())),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


async def _sign_in_required(request: Request, _exc: SignInRequired) -> Response:
    if request.url.path.startswith("/audio/"):
        return Response("sign in first", status_code=401, media_type="text/plain")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if request.url.path.startswith(("/audio/", "/static/")):
        return Response(
            str(exc.detail),
            status_code=exc.status_code,
            headers=exc.headers,
            media_type="text/plain",
        )
    session = _session(request)
    account = _state(request).accounts.get(session.name) if session and session.name else None
    return _render(
        request,
        "error.html",
        {"status": exc.status_code, "detail": exc.detail, "account": account},
        status_code=exc.status_code,
        headers=exc.headers,
    )


def _render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    session = getattr(request.state, "session", None) or _session(request)
    context = {
        "csrf": session.csrf if session else "",
        "nonce": getattr(request.state, "csp_nonce", ""),
        "account": None,
        **context,
    }
    response = _state(request).templates.TemplateResponse(
        request, name, context, status_code=status_code, headers=dict(headers or {})
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded body of a POST (size-limited), as ``{name: [values…]}``.

    Raises
    ------
    HTTPException
        413 for a body over :data:`MAX_FORM_BYTES`, 415 for another content type.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, "form too large")
    if not body:
        return {}
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def _one(fields: Mapping[str, list[str]], name: str, default: str = "") -> str:
    values = fields.get(name)
    return values[0] if values else default


def check_date(value: str | None, name: str) -> None:
    """Refuse a query's ``name`` that is given and not a date ``YYYY-MM-DD`` (400)."""
    if value is not None and not is_date(value):
        raise HTTPException(400, f"{name} must be YYYY-MM-DD, got {value!r}")


def day_count(days: int | None, *, default: int) -> int:
    """A page's ``days`` query (``default`` when absent); 400 outside 1..366."""
    days = default if days is None else days
    if not 1 <= days <= 366:
        raise HTTPException(400, f"days must be 1 to 366, got {days}")
    return days


def newest_night(root: str, table: str) -> str:
    """The newest night stored in ``table`` (today when there is none): where a page's
    period of ``days`` ends."""
    dates = wh.partition_dates(root, table)
    return dates[-1] if dates else dt.date.today().isoformat()


def check_csrf(session: Session | None, fields: Mapping[str, list[str]]) -> None:
    """Refuse a form whose ``csrf`` field is not the session's token (403)."""
    sent = _one(fields, "csrf")
    if session is None or not sent or not secrets.compare_digest(sent, session.csrf):
        raise HTTPException(
            403, "this form has expired or did not come from this site; reload the page"
        )


FormSave = Callable[[ReviewApp, Account, str, Mapping[str, list[str]]], Response]
"""Saves a signed-in form about one call or agent: ``(state, account, key, fields)``."""


async def save_form(request: Request, save: FormSave, account: Account, key: str) -> Response:
    """A signed-in user's form post: read it, check its CSRF token, save it off the event
    loop (a save writes the review database)."""
    fields = await read_form(request)
    check_csrf(request.state.session, fields)
    return await run_in_threadpool(save, _state(request), account, key, fields)


# ---------------------------------------------------------------- routes


def _routes(app: FastAPI) -> None:
    app.add_api_route("/", _home, methods=["GET"], include_in_schema=False)
    app.add_api_route("/login", _login_form, methods=["GET"])
    app.add_api_route("/login", _login, methods=["POST"])
    app.add_api_route("/logout", _logout, methods=["POST"])
    app.add_api_route("/queue", _queue, methods=["GET"])
    # Call ids made from archive paths hold slashes: ``{call_id:path}``.
    app.add_api_route("/call/{call_id:path}", _call, methods=["GET"])
    app.add_api_route("/respond/{call_id:path}", _respond, methods=["POST"])
    app.add_api_route("/call/{call_id:path}", _save, methods=["POST"])
    app.add_api_route("/audio/{call_id:path}", _audio, methods=["GET", "HEAD"])
    app.add_api_route("/calibration", _calibration, methods=["GET"])
    app.add_api_route("/calibration/suggest", _suggest_page, methods=["GET"])
    app.add_api_route("/calibration/suggest.yaml", _suggest_file, methods=["GET"])
    # The feedback pages (review.pages) use this module's plumbing: imported once it exists.
    from review.pages import feedback_routes

    feedback_routes(app)
    from review.reasons_page import reasons_routes

    reasons_routes(app)
    app.add_api_route("/triage", _triage, methods=["GET"])
    for path in ("/favicon.svg", "/favicon.ico"):
        app.add_api_route(path, _favicon, methods=["GET"], include_in_schema=False)


def _favicon() -> Response:
    return Response(
        FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )


def _home(account: SignedIn) -> Response:
    return RedirectResponse(_start_page(account), status_code=303)


def _start_page(account: Account) -> str:
    """Where an account lands: an agent on their own scorecard, everyone else the queue."""
    if account.role == "agent":
        return f"/agents/{quote(account.agent_id, safe='')}"
    return "/queue"


def _safe_next(target: str) -> str:
    """Only a local path is a place to go after sign-in (no open redirect)."""
    ok = target.startswith("/") and not target.startswith(("//", "/\\"))
    return target if ok else "/queue"


def _login_form(request: Request, next: str = "/queue") -> Response:
    session = _session(request)
    if session is None or session.name:
        session = _state(request).signer.new()
    response = _render(request, "login.html", {"next": _safe_next(next), "csrf": session.csrf})
    _set_cookie(request, response, session)
    return response


async def _login(request: Request) -> Response:
    fields = await read_form(request)
    check_csrf(_session(request), fields)
    state = _state(request)
    name, password = _one(fields, "name").strip(), _one(fields, "password")
    target = _safe_next(_one(fields, "next", "/queue"))
    ip = request.client.host if request.client else "?"
    now = time.time()
    failures = await run_in_threadpool(state.store.failures_since, name, ip, now - SIGNIN_WINDOW_S)
    if failures >= SIGNIN_MAX_FAILURES:
        log.warning("sign-in for %r from %s refused: too many failures", name, ip)
        return _render(
            request,
            "login.html",
            {"next": target, "error": "Too many failed sign-ins. Wait five minutes and try again."},
            status_code=429,
            headers={"Retry-After": str(int(SIGNIN_WINDOW_S))},
        )
    account = await run_in_threadpool(check_sign_in, state.accounts, name, password)
    if account is None:
        await run_in_threadpool(
            state.store.add_failure, name, ip, now, forget_before=now - 24 * 3600
        )
        return _render(
            request,
            "login.html",
            {"next": target, "error": "Wrong name or password.", "name": name},
            status_code=401,
        )
    await run_in_threadpool(state.store.clear_failures, name, ip)
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, state.signer.new(account.name))  # a fresh CSRF token
    return response


async def _logout(request: Request) -> Response:
    check_csrf(_session(request), await read_form(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _queue(
    request: Request,
    account: SignedIn,
    date: str | None = None,
    inspector: str | None = None,
) -> Response:
    state = _state(request)
    if account.role == "agent":  # agents have no queue: their scorecard is their page
        return RedirectResponse(_start_page(account), status_code=303)
    check_date(date, "date")
    who = account.name if account.role == "inspector" else (inspector or None)
    dates = data.queue_dates(state.warehouse)
    date = date or data.latest_queue_date(state.warehouse, inspector=who)
    items = data.read_queue(state.warehouse, date, inspector=who) if date else []
    reviewed = state.store.reviewed(i.call_id for i in items)
    names = sorted({i.inspector for i in items})
    return _render(
        request,
        "queue.html",
        {
            "account": account,
            "date": date,
            "dates": dates,
            "who": who,
            "inspectors": [i.name for i in state.config.inspectors],
            "teams": (
                teams_of(state.config, account.name, date=date, warehouse=state.warehouse)
                if date
                else ()
            ),
            "groups": [
                (
                    name,
                    [i for i in items if i.inspector == name and i.kind != "highlight"],
                    [i for i in items if i.inspector == name and i.kind == "highlight"],
                )
                for name in names
            ],
            "reviewed": reviewed,
            "unassigned": UNASSIGNED,
            "highlight_min_score": state.config.queue.highlight_min_score,
            "quarantined": (
                data.quarantined_on(state.warehouse, date)
                if date and not items and account.role == "lead"
                else 0
            ),
        },
    )


def _allowed_ref(state: ReviewApp, account: Account, call_id: str) -> data.CallRef:
    """The call's reference, or 404 (unknown) / 403 (another team's call)."""
    ref = state.index.get(call_id)
    if ref is None:
        raise HTTPException(404, f"no call {call_id!r} in the warehouse")
    queued = data.queued_for(state.warehouse, ref)
    if not may_open(account, ref, state.config, queued_for=queued, warehouse=state.warehouse):
        log.warning("%s refused call %s (team %s)", account.name, call_id, ref.team_id)
        if account.role == "agent":
            raise HTTPException(403, "this call is not one of yours")
        raise HTTPException(403, "this call belongs to a team you are not paired with")
    if account.role == "agent" and state.store.latest_review(call_id) is None:
        raise HTTPException(403, "this call has not been reviewed yet: it opens once it is")
    return ref


class MissedRow(NamedTuple):
    """A row of the missed-items table as shown: ``at`` as typed, ``error`` what is wrong."""

    item_id: str
    at: str
    note: str
    error: str


@dataclass(frozen=True, slots=True)
class CallForm:
    """The call page's review form as shown: the current review's values, or what was
    posted when a value was refused (then nothing typed is lost)."""

    verdicts: Mapping[str, tuple[str, str]]
    """Finding key → (verdict or ``""``, note)."""
    missed: tuple[MissedRow, ...]
    overall: str = ""
    coaching_note: str = ""
    base_review_id: str = ""
    error: str = ""
    """Why the form was refused (``""``: it was not)."""

    @classmethod
    def of_review(cls, review: Review | None) -> CallForm:
        """The form holding ``review`` (an empty one when ``None``)."""
        if review is None:
            return cls(verdicts={}, missed=())
        return cls(
            verdicts={finding_key_of(f): (f.verdict, f.note) for f in review.findings},
            missed=tuple(
                MissedRow(m.item_id, clock_or_dash(m.at_s), m.note, "") for m in review.missed
            ),
            overall=review.overall,
            coaching_note=review.coaching_note,
            base_review_id=str(review.id),
        )

    @classmethod
    def as_posted(
        cls, view: data.CallView, fields: Mapping[str, list[str]], *, error: str
    ) -> CallForm:
        """The form as the browser sent it, refused for ``error`` (each bad missed row
        says why beside it)."""
        items, times, notes = (
            fields.get(k, []) for k in ("missed_item", "missed_at", "missed_note")
        )
        rows = []
        for k, item in enumerate(items):
            at = times[k] if k < len(times) else ""
            note = notes[k] if k < len(notes) else ""
            if item.strip() or at.strip() or note.strip():
                rows.append(MissedRow(item, at, note, _missed_problem(view, item, at) or ""))
        return cls(
            verdicts={
                f.key: (_one(fields, f"verdict:{f.key}"), _one(fields, f"note:{f.key}"))
                for f in view.findings
            },
            missed=tuple(rows),
            overall=_one(fields, "overall"),
            coaching_note=_one(fields, "coaching_note"),
            base_review_id=_one(fields, "base_review_id"),
            error=error,
        )


class FormInvalid(Exception):
    """A call's review form with a bad value: the page is shown again with ``form``."""

    def __init__(self, form: CallForm) -> None:
        super().__init__(form.error)
        self.form = form


def _call(
    request: Request,
    call_id: str,
    account: SignedIn,
    saved: int | None = None,
    other: int | None = None,
    responded: int | None = None,
) -> Response:
    state = _state(request)
    ref = _allowed_ref(state, account, call_id)
    if saved is None:  # the redirect after a save is not a new opening
        state.store.record_open(account.name, call_id)
    return _call_page(request, account, ref, saved=saved, other=other, responded=responded)


def _call_page(
    request: Request,
    account: Account,
    ref: data.CallRef,
    *,
    saved: int | None = None,
    other: int | None = None,
    responded: int | None = None,
    form: CallForm | None = None,
) -> Response:
    """The call page; ``form`` is a refused form to show again (status 400)."""
    state = _state(request)
    call_id = ref.call_id
    view = data.read_call(
        state.warehouse, ref, viewer=account.name if account.role == "inspector" else None
    )
    history = state.store.history(call_id, limit=50)
    if account.role == "agent":  # the agent sees the current review, not who saved what when
        history = history[:1]
    current = history[0] if history else None
    plan_options = plan_options_from_config(state.config)
    timeline = data.timeline_of(view, options=plan_options)
    # the findings keep their order (the keys step through them as the plan plays); the
    # reasons heading the page put what an inspector overruled last, struck through
    overruled = overruled_items(view, current)
    return _render(
        request,
        "call.html",
        {
            "account": account,
            "view": view,
            "current": current,
            "verdicts": {finding_key_of(f): f for f in current.findings} if current else {},
            "overruled": overruled,
            "reasons": call_reasons(view, overruled),
            "form": form or CallForm.of_review(current),
            "history": history,
            "timeline": charts.timeline(timeline),
            "has_sentiment": bool(timeline.sentiment),
            "saved": next((r for r in history if r.id == saved), None) if saved else None,
            "other": next((r for r in history if r.id == other), None) if other else None,
            "overall_choices": OVERALL,
            "missed_items": missed_choices(view.findings),
            "openers": state.store.openers(call_id) if account.role == "lead" else [],
            "responses": state.store.responses(call_id=call_id),
            "response_kinds": RESPONSE_KINDS,
            "responded": responded,
            "duration_s": view.call.duration_s or 0.0,
            "hear_window": functools.partial(
                data.heard_window,
                duration_s=view.call.duration_s or math.inf,
                options=plan_options,
            ),
            "audio_status": audio_status(
                state.warehouse, ref, audio_mode=state.config.redact.audio
            ),
        },
        status_code=400 if form is not None and form.error else 200,
    )


def overruled_items(view: data.CallView, review: Review | None) -> dict[str, str]:
    """``finding key → who overruled it`` for the call's findings its current review marked
    incorrect (the reviewer) or not applicable (the reviewer, "(not applicable)"): the
    inspector overruled the detector there. A verdict on a pass or fail that a rescore has
    since changed overrules nothing."""
    if review is None:
        return {}
    outcome = {f.key: f.outcome for f in view.findings}
    why = {"incorrect": "", NOT_APPLICABLE: " (not applicable)"}
    return {
        k: review.reviewer + why[f.verdict]
        for f in review.findings
        if f.verdict in why
        and f.detector_outcome in ("pass", "fail")
        # the finding as judged: a rescore since that changed it leaves the verdict behind
        and outcome.get(k := finding_key_of(f)) == f.detector_outcome
    }


def call_reasons(view: data.CallView, overruled: Mapping[str, str]) -> list[tuple[str, str]]:
    """The score's reasons as the call page heads with them: ``(reason, overruled by)``,
    those about a finding an inspector overruled (``""`` for the rest) last.

    A reason names its item by title or id (see :func:`pipeline.scoring.score_call`):
    ``critical: <title> — …``, ``<title> failed``, ``missed <item_id> (<title>)``, and in
    scores written before titles ``<item_id> (agent at 0:08)``.
    """
    reasons = distinct_reasons(view.score.get("reasons") or ()) if view.score else ()
    out = []
    for reason in reasons:
        text = reason.removeprefix(CRITICAL_PREFIX).removeprefix("missed ")
        who = next(
            (
                by
                for f in view.findings
                if (by := overruled.get(f.key))
                and any(
                    text == name or text.startswith((f"{name} — ", f"{name} (", f"{name} failed"))
                    for name in {f.title, f.item_id}
                )
            ),
            "",
        )
        out.append((reason, who))
    return sorted(out, key=lambda r: bool(r[1]))


def missed_choices(findings: Iterable[data.FindingView]) -> list[tuple[str, str]]:
    """``(item id, title)`` of the items an inspector may add as missed, by title: the
    form posts the id, the inspector reads the title."""
    titles = {f.item_id: f.title or f.item_id for f in findings}
    return sorted(titles.items(), key=lambda it: (it[1].casefold(), it[0]))


def finding_key_of(f: FindingVerdict) -> str:
    return data.finding_key(f.rubric_id, f.rubric_version, f.item_id)


async def _save(request: Request, call_id: str, account: SignedIn) -> Response:
    try:
        return await save_form(request, _save_review, account, call_id)
    except FormInvalid as refused:  # the page again, as typed, with what is wrong
        ref = _allowed_ref(_state(request), account, call_id)
        return await run_in_threadpool(_call_page, request, account, ref, form=refused.form)


def _save_review(
    state: ReviewApp, account: Account, call_id: str, fields: Mapping[str, list[str]]
) -> Response:
    if account.role == "agent":
        raise HTTPException(403, "agents answer a review; they do not review calls")
    ref = _allowed_ref(state, account, call_id)
    view = data.read_call(state.warehouse, ref, viewer=None)
    if view.quarantine is not None:
        raise HTTPException(409, "this recording was quarantined: it has nothing to review")
    if view.triage is not None:
        raise HTTPException(409, f"{view.triage.headline}: it has nothing to review")
    try:
        review = review_from_form(call_id, account.name, view, fields)
    except HTTPException as e:
        if e.status_code != 400:
            raise
        raise FormInvalid(CallForm.as_posted(view, fields, error=str(e.detail))) from e
    mine, other = state.store.save_review(review)
    target = f"/call/{quote(call_id, safe='/')}?saved={mine.id}"
    if other is not None:
        target += f"&other={other.id}"
    return RedirectResponse(target, status_code=303)


def review_from_form(
    call_id: str, reviewer: str, view: data.CallView, fields: Mapping[str, list[str]]
) -> Review:
    """Turn the call page's form into a :class:`Review` (400 on a bad value)."""
    verdicts = []
    for f in view.findings:
        verdict = _one(fields, f"verdict:{f.key}")
        note = _one(fields, f"note:{f.key}").strip()[:2000]
        if verdict not in VERDICTS:
            continue
        verdicts.append(
            FindingVerdict(
                f.rubric_id, f.rubric_version, f.item_id, f.detected, f.outcome, verdict, note
            )
        )
    overall = _one(fields, "overall")
    if overall and overall not in OVERALL:
        raise HTTPException(400, f"overall verdict must be one of {', '.join(OVERALL)}")
    missed = _missed_items(view, fields)
    both = sorted(
        {f.item_id for f in verdicts if f.verdict == NOT_APPLICABLE} & {m.item_id for m in missed}
    )
    if both:  # no occasion for it, yet heard: a miss or not applicable, not both
        raise HTTPException(
            400, f"{', '.join(both)} is marked not applicable and also added as missed"
        )
    base = _one(fields, "base_review_id")
    return Review(
        call_id=call_id,
        reviewer=reviewer,
        overall=overall,
        coaching_note=_one(fields, "coaching_note").strip()[:5000],
        findings=tuple(verdicts),
        missed=tuple(missed),
        base_review_id=int(base) if base.isdigit() else None,
    )


def _missed_items(view: data.CallView, fields: Mapping[str, list[str]]) -> list[MissedItem]:
    items, times, notes = (fields.get(k, []) for k in ("missed_item", "missed_at", "missed_note"))
    out = []
    for k, item in enumerate(items):
        item = item.strip()
        at = times[k].strip() if k < len(times) else ""
        if not item and not at:
            continue
        problem = _missed_problem(view, item, at)
        if problem is not None:
            raise HTTPException(400, problem)
        at_s = parse_time(at)
        assert at_s is not None  # _missed_problem refuses what is not a time
        note = notes[k].strip()[:2000] if k < len(notes) else ""
        out.append(MissedItem(item, at_s, note))
    return out


def _missed_problem(view: data.CallView, item: str, at: str) -> str | None:
    """What is wrong with a missed-item row (``None``: nothing, or the row is empty)."""
    item, at = item.strip(), at.strip()
    if not item and not at:
        return None
    if item not in {f.item_id for f in view.findings}:
        return f"missed item {item!r} is not an item of this call's rubric"
    at_s = parse_time(at)
    duration_s = view.call.duration_s
    if at_s is None or at_s > float(duration_s or math.inf) + 1:
        within = f"it lasts {clock_or_dash(duration_s)}; " if duration_s else ""
        return (
            f"missed {item}: time {at!r} is not a moment of the call "
            f"({within}use {time_hint(duration_s)})"
        )
    return None


def parse_time(text: str) -> float | None:
    """``"1:15"`` or ``"75"`` or ``"75.5"`` → seconds; ``None`` when not a time.

    Examples
    --------
    >>> parse_time("1:15"), parse_time("7.5"), parse_time("x")
    (75.0, 7.5, None)
    """
    match = _TIME.match(text.strip())
    if match is None:
        return None
    minutes, seconds = match.groups()
    if minutes is not None and float(seconds) >= 60:
        return None
    return int(minutes or 0) * 60 + float(seconds)


def _audio(request: Request, call_id: str, account: SignedIn) -> Response:
    state = _state(request)
    ref = _allowed_ref(state, account, call_id)
    path = resolve_audio(
        state.archive,
        state.warehouse,
        ref,
        audio_mode=state.config.redact.audio,
        cache=state.audio_cache,
    )
    return audio_response(path)


def lead_only(account: Account, refusal: str) -> None:
    """Refuse anyone but a QA lead: 403 with ``refusal`` (what the page is, for leads)."""
    if account.role != "lead":
        raise HTTPException(403, refusal)


def _suggest_command(state: ReviewApp) -> str:
    """The command that writes the same patch as :func:`_suggest_file` (the README's form)."""
    where = shlex.quote(state.warehouse)
    return f".venv/bin/earmark rubric suggest --warehouse {where} --out suggestions.yaml"


def _calibration(request: Request, account: SignedIn) -> Response:
    lead_only(account, "calibration is for QA leads")
    state = _state(request)
    reviews = state.store.latest_reviews()
    items, diffs = calibrate(reviews)
    proposals = suggest(reviews, state.warehouse, state.config)
    command = _suggest_command(state)
    return _render(
        request,
        "calibration.html",
        {
            "account": account,
            "items": items,
            "diffs": diffs,
            "suggested": proposals.counts(),
            "suggest_command": command,
        },
    )


def _suggest_page(request: Request, account: SignedIn) -> Response:
    """The YAML patch ``earmark rubric suggest`` would write from the current reviews."""
    lead_only(account, "calibration is for QA leads")
    state = _state(request)
    proposals = suggest(state.store.latest_reviews(), state.warehouse, state.config)
    return _render(
        request,
        "suggest.html",
        {
            "account": account,
            "suggestions": proposals,
            "patch": suggestions_yaml(proposals),
            "suggest_command": _suggest_command(state),
        },
    )


def _suggest_file(account: SignedIn, request: Request) -> Response:
    """The same patch as a file to save (``suggestions.yaml``)."""
    lead_only(account, "calibration is for QA leads")
    state = _state(request)
    proposals = suggest(state.store.latest_reviews(), state.warehouse, state.config)
    return Response(
        suggestions_yaml(proposals),
        media_type="application/yaml; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="suggestions.yaml"',
            "Cache-Control": "no-store",
        },
    )


def _triage(request: Request, account: SignedIn) -> Response:
    """Calls kept out of the queues (unsupported language, no rubric for the call type):
    a lead sees all; an inspector those of the teams paired with them that day."""
    if account.role == "agent":
        raise HTTPException(403, "triage is for inspectors and QA leads")
    state = _state(request)
    calls = triage_calls(state.warehouse)
    if account.role != "lead":
        calls = [
            t
            for t in calls
            if t.team_id and t.team_id in teams_of(state.config, account.name, date=t.call_date)
        ]
    return _render(request, "triage.html", {"account": account, "calls": calls})


# ---------------------------------------------------------------- agents answer reviews


async def _respond(request: Request, call_id: str, account: SignedIn) -> Response:
    return await save_form(request, _save_response, account, call_id)


def _save_response(
    state: ReviewApp, account: Account, call_id: str, fields: Mapping[str, list[str]]
) -> Response:
    if account.role != "agent":
        raise HTTPException(403, "only the agent of a call answers its review")
    _allowed_ref(state, account, call_id)
    review = state.store.latest_review(call_id)
    assert review is not None  # _allowed_ref refuses an agent an unreviewed call
    kind = _one(fields, "kind")
    if kind not in RESPONSE_KINDS:
        raise HTTPException(400, f"kind must be one of {', '.join(RESPONSE_KINDS)}, got {kind!r}")
    item = _one(fields, "item_id").strip()
    if item and item not in {f.item_id for f in review.findings}:
        raise HTTPException(400, f"{item!r} is not an item the review judged")
    comment = _one(fields, "comment").strip()[:2000]
    if kind == "dispute" and not comment:
        raise HTTPException(400, "say why you dispute the verdict: the comment is empty")
    saved = state.store.add_response(
        AgentResponse(call_id, review.id, account.agent_id, kind, item, comment)
    )
    return RedirectResponse(
        f"/call/{quote(call_id, safe='/')}?responded={saved.id}", status_code=303
    )
