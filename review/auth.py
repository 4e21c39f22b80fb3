"""Accounts, password hashes and signed session cookies for the review app.

Accounts live in ``earmark.toml`` as ``[[accounts]]`` tables (``name``, ``role``,
``password_hash``); the hash is ``scrypt$n$r$p$salt_hex$hash_hex`` from
:func:`hash_password`, so the file never holds a password. A session is a cookie
carrying ``{name, exp, csrf}`` signed with HMAC-SHA256 (itsdangerous): no server-side session store,
so several servers sharing the secret key accept each other's sessions.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeSerializer

from pipeline import errors

Role = Literal["inspector", "lead", "agent"]
ROLES: tuple[Role, ...] = ("inspector", "lead", "agent")

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_MAX_N = 2**20
"""A hash asking for more work than this is refused: a bad file cannot stall sign-in."""
SESSION_TTL_S = 8 * 3600


@dataclass(frozen=True, slots=True)
class Account:
    """Someone who may sign in: an inspector (their teams' calls), a QA lead (all), or an
    agent (their own reviewed calls, as ``agent_id`` in the warehouse)."""

    name: str
    role: Role
    password_hash: str
    agent_id: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """What a valid session cookie says: who (``""`` before sign-in), until when, CSRF token."""

    name: str
    expires_at: float
    csrf: str


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """Hash a password with scrypt and a random salt.

    Parameters
    ----------
    password
        The password, any length (UTF-8).
    n, r, p
        scrypt cost parameters (CPU/memory, block size, parallelism).

    Returns
    -------
    str
        ``scrypt$n$r$p$salt_hex$hash_hex``, what ``password_hash`` in ``[[accounts]]`` holds.

    Examples
    --------
    >>> h = hash_password("s3cret")
    >>> h.startswith("scrypt$16384$8$1$"), verify_password("s3cret", h)
    (True, True)
    """
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n, r, p)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (constant-time compare).

    A malformed hash or out-of-range cost never matches; it does not raise.
    """
    parsed = _parse_hash(password_hash)
    if parsed is None:
        return False
    n, r, p, salt, expected = parsed
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r * p, dklen=32
    )


def _parse_hash(text: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return None
    if not (2 <= n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        return None
    if len(salt) < 8 or len(digest) != 32:
        return None
    return n, r, p, salt, digest


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))


def check_sign_in(accounts: Mapping[str, Account], name: str, password: str) -> Account | None:
    """The account when ``name``/``password`` match, else ``None``.

    An unknown name costs the same scrypt work as a known one, so response time does
    not tell which names exist.
    """
    account = accounts.get(name)
    ok = verify_password(password, account.password_hash if account else _dummy_hash())
    return account if account is not None and ok else None


_ROLE_PROBLEM = "role must be 'inspector', 'lead' or 'agent', got {!r}"


def accounts_from_entries(
    entries: Iterable[Any], *, source: str = "accounts"
) -> dict[str, Account]:
    """Validate ``[{name, role, password_hash, agent_id}, …]`` (``Config.accounts`` dumped)
    into accounts by name: known roles, scrypt hashes that parse, no duplicate names, an
    ``agent_id`` for every agent (and only for agents)."""
    accounts: dict[str, Account] = {}
    for k, entry in enumerate(entries):
        where = f"{source}: accounts[{k}]"
        if not isinstance(entry, dict):
            raise errors.ACCOUNT_INVALID(where=where, problem=f"must be a table, got {entry!r}")
        name, role, hashed = entry.get("name"), entry.get("role"), entry.get("password_hash")
        extra = sorted(set(entry) - {"name", "role", "password_hash", "agent_id"})
        if extra:
            raise errors.ACCOUNT_INVALID(where=where, problem=f"unknown field {extra[0]!r}")
        if not isinstance(name, str) or not name.strip():
            raise errors.ACCOUNT_INVALID(
                where=where, problem=f"name must be a non-empty string, got {name!r}"
            )
        if role not in ROLES:
            raise errors.ACCOUNT_INVALID(
                where=f"{where} ({name})", problem=_ROLE_PROBLEM.format(role)
            )
        agent_id = entry.get("agent_id") or ""
        if not isinstance(agent_id, str) or (role == "agent") != bool(agent_id.strip()):
            raise errors.ACCOUNT_INVALID(
                where=f"{where} ({name})",
                problem="an agent account needs agent_id (the agent_id of its calls) and only "
                f"an agent account has one; got role {role!r}, agent_id {agent_id!r}",
            )
        if not isinstance(hashed, str) or _parse_hash(hashed) is None:
            raise errors.ACCOUNT_INVALID(
                where=f"{where} ({name})",
                problem="password_hash must be 'scrypt$n$r$p$salt$hash' "
                "(make one with `earmark account hash`)",
            )
        if name in accounts:
            raise errors.ACCOUNT_INVALID(where=where, problem=f"duplicate account name {name!r}")
        accounts[name] = Account(name, role, hashed, agent_id.strip())
    return accounts


def account_toml(name: str, role: Role, password: str, *, agent_id: str = "") -> str:
    """An ``[[accounts]]`` block to paste into ``earmark.toml`` (for ``earmark account hash``).

    Examples
    --------
    >>> print(account_toml("lena", "inspector", "pw").splitlines()[0])
    [[accounts]]
    """
    if role not in ROLES:
        raise errors.ACCOUNT_INVALID(where="--role", problem=_ROLE_PROBLEM.format(role))
    if (role == "agent") != bool(agent_id):
        raise errors.ACCOUNT_INVALID(
            where="--agent-id", problem="an agent account needs --agent-id (and only an agent)"
        )
    return (
        f"[[accounts]]\nname = {json.dumps(name)}\nrole = {json.dumps(role)}\n"
        + (f"agent_id = {json.dumps(agent_id)}\n" if agent_id else "")
        + f"password_hash = {json.dumps(hash_password(password))}\n"
    )


# ---------------------------------------------------------------- signed sessions


class SessionSigner:
    """Encode and check session cookies: ``{name, exp, csrf}`` as JSON, signed with
    HMAC-SHA256 by itsdangerous; the expiry is in the payload, checked on every load."""

    def __init__(self, secret_key: str, *, ttl_s: float = SESSION_TTL_S) -> None:
        self._serializer = URLSafeSerializer(
            secret_key,
            salt="earmark-review-session",
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        self.ttl_s = ttl_s

    def new(self, name: str = "", *, now: float | None = None) -> Session:
        """A fresh session (a new CSRF token) for ``name``, or anonymous before sign-in."""
        now = time.time() if now is None else now
        return Session(name=name, expires_at=now + self.ttl_s, csrf=secrets.token_urlsafe(24))

    def dumps(self, session: Session) -> str:
        payload = {"n": session.name, "e": round(session.expires_at), "c": session.csrf}
        return self._serializer.dumps(payload)

    def loads(self, cookie: str | None, *, now: float | None = None) -> Session | None:
        """The session a cookie carries, or ``None`` if it is missing, forged or expired."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie)
            session = Session(name=str(data["n"]), expires_at=float(data["e"]), csrf=str(data["c"]))
        except (BadSignature, ValueError, KeyError, TypeError):
            return None
        if session.expires_at < (time.time() if now is None else now):
            return None
        return session
