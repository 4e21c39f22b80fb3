"""Sign-in: required everywhere, wrong passwords, rate limit, CSRF, cookies, accounts file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from reviewkit import PASSWORDS, csrf_of, review_app, sign_in

from pipeline.config import load_config
from pipeline.errors import ConfigError
from review.auth import (
    Account,
    SessionSigner,
    account_toml,
    accounts_from_entries,
    hash_password,
    verify_password,
)


@pytest.mark.parametrize("path", ["/", "/queue", "/call/C-LENA-1", "/calibration"])
def test_every_page_needs_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_audio_without_sign_in_is_401(client: TestClient) -> None:
    assert client.get("/audio/C-LENA-1").status_code == 401


def _lena_signs_in(client: TestClient, login_page: str, *, then: str) -> Response:
    """Lena posts the sign-in form of ``login_page``, asking to go to ``then`` after."""
    data = {
        "csrf": csrf_of(login_page),
        "name": "lena",
        "password": PASSWORDS["lena"],
        "next": then,
    }
    return client.post("/login", data=data)


def test_sign_in_then_back_to_the_page_asked_for(client: TestClient) -> None:
    first = client.get("/call/C-LENA-1")
    target = first.headers["location"]
    page = client.get(target)
    assert 'name="next" value="/call/C-LENA-1"' in page.text
    response = _lena_signs_in(client, page.text, then="/call/C-LENA-1")
    assert response.status_code == 303 and response.headers["location"] == "/call/C-LENA-1"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    max_age = int(re.search(r"max-age=(\d+)", cookie).group(1))  # type: ignore[union-attr]
    assert 8 * 3600 - 5 <= max_age <= 8 * 3600
    assert client.get("/call/C-LENA-1").status_code == 200


def test_next_cannot_leave_the_site(client: TestClient) -> None:
    page = client.get("/login")
    response = _lena_signs_in(client, page.text, then="//evil.example/x")
    assert response.headers["location"] == "/queue"


@pytest.mark.parametrize(("name", "password"), [("lena", "wrong"), ("nobody", "lena-pw-1")])
def test_wrong_password_or_unknown_name_is_refused(
    client: TestClient, name: str, password: str
) -> None:
    page = client.get("/login")
    response = client.post(
        "/login", data={"csrf": csrf_of(page.text), "name": name, "password": password}
    )
    assert response.status_code == 401
    assert "Wrong name or password." in response.text
    assert client.get("/queue").status_code == 303  # still not signed in


def test_five_failures_block_that_name_from_that_address(client: TestClient) -> None:
    csrf = csrf_of(client.get("/login").text)
    for _ in range(5):
        bad = client.post("/login", data={"csrf": csrf, "name": "lena", "password": "guess"})
        assert bad.status_code == 401
    blocked = client.post(
        "/login", data={"csrf": csrf, "name": "lena", "password": PASSWORDS["lena"]}
    )
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "300"
    assert "Too many failed sign-ins" in blocked.text
    other = client.post(
        "/login", data={"csrf": csrf, "name": "omar", "password": PASSWORDS["omar"]}
    )
    assert other.status_code == 303  # another account is not locked out


def test_login_without_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"name": "lena", "password": PASSWORDS["lena"]})
    assert response.status_code == 403
    forged = client.post(
        "/login", data={"csrf": "forged", "name": "lena", "password": PASSWORDS["lena"]}
    )
    assert forged.status_code == 403


def test_posts_without_the_session_token_are_refused(client: TestClient) -> None:
    sign_in(client, "lena")
    form = {"verdict:inbound-support|3|greeting": "correct", "overall": "pass"}
    assert client.post("/call/C-LENA-1", data=form).status_code == 403
    assert client.post("/call/C-LENA-1", data={**form, "csrf": "x"}).status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    page = client.get("/call/C-LENA-1")
    assert "Not reviewed yet." in page.text  # nothing was saved
    ok = client.post("/call/C-LENA-1", data={**form, "csrf": csrf_of(page.text)})
    assert ok.status_code == 303


def test_the_token_changes_at_sign_in(client: TestClient) -> None:
    before = csrf_of(client.get("/login").text)
    sign_in(client, "lena")
    after = csrf_of(client.get("/queue").text)
    assert before != after


def test_sign_out(client: TestClient) -> None:
    sign_in(client, "lena")
    csrf = csrf_of(client.get("/queue").text)
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    assert client.get("/queue").status_code == 303


def test_forged_expired_or_orphan_sessions_are_refused(
    warehouse: Path, archive: Path, accounts: dict[str, Account], database_url: str
) -> None:
    def app(ttl: float, known: dict[str, Account]) -> FastAPI:
        return review_app(
            warehouse, archive, database_url, accounts=known, secret_key="k", session_ttl_s=ttl
        )

    def cookie_of(key: str, ttl: float, name: str) -> str:
        signer = SessionSigner(key, ttl_s=ttl)
        return signer.dumps(signer.new(name))

    with TestClient(app(3600, accounts), follow_redirects=False) as c:
        c.cookies.set("earmark_session", cookie_of("k", 3600, "quinn"))
        assert c.get("/queue").status_code == 200  # the right key signs a valid session
        c.cookies.set("earmark_session", cookie_of("k", -10, "quinn"))
        assert c.get("/queue").status_code == 303  # expired
        c.cookies.set("earmark_session", cookie_of("other-key", 3600, "quinn"))
        assert c.get("/queue").status_code == 303  # forged
        body, sig = cookie_of("k", 3600, "lena").split(".")
        c.cookies.set("earmark_session", body.replace("bGVuYS", "cXVpbm4") + "." + sig)
        assert c.get("/queue").status_code == 303  # tampered payload
    with TestClient(app(3600, accounts), follow_redirects=False) as c:
        sign_in(c, "omar")
        cookie = c.cookies.get("earmark_session")
    without_omar = {k: v for k, v in accounts.items() if k != "omar"}
    with TestClient(app(3600, without_omar), follow_redirects=False) as c:
        c.cookies.set("earmark_session", cookie or "")
        assert c.get("/queue").status_code == 303  # a removed account's session ends


def test_security_headers(client: TestClient) -> None:
    page = client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'nonce-" in csp and "default-src 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"


# ---------------------------------------------------------------- hashes and accounts


def test_password_hash_format_and_check() -> None:
    h = hash_password("correct horse")
    parts = h.split("$")
    assert (
        parts[:4] == ["scrypt", "16384", "8", "1"] and len(parts[4]) == 32 and len(parts[5]) == 64
    )
    assert verify_password("correct horse", h)
    assert not verify_password("correct horsE", h)
    assert hash_password("correct horse") != h  # salted
    for broken in ("", "scrypt$1$8$1$00$00", "md5$x", h.replace("16384", "16385"), h + "00"):
        assert not verify_password("correct horse", broken)


def _accounts(path: Path) -> dict:
    """What `earmark serve` does with the file: load the config, validate its accounts."""
    return accounts_from_entries(
        [a.model_dump() for a in load_config(path).accounts], source=str(path)
    )


def _raw_accounts(path: Path) -> dict:
    """The validator on the raw tables (what pydantic would already refuse, too)."""
    return accounts_from_entries(
        tomllib.loads(path.read_text()).get("accounts", []), source=str(path)
    )


def test_accounts_from_the_config(tmp_path: Path) -> None:
    path = tmp_path / "earmark.toml"
    path.write_text(
        'warehouse = "wh"\n'
        + account_toml("lena", "inspector", "pw1")
        + "\n"
        + account_toml("quinn", "lead", "pw2")
    )
    accounts = _accounts(path)
    assert {n: a.role for n, a in accounts.items()} == {"lena": "inspector", "quinn": "lead"}
    assert verify_password("pw2", accounts["quinn"].password_hash)
    empty = tmp_path / "empty.toml"
    empty.write_text('warehouse = "wh"\n')
    assert _accounts(empty) == {}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            'name = "x"\nrole = "boss"\npassword_hash = "{h}"',
            "role must be 'inspector', 'lead' or 'agent'",
        ),
        ('name = "x"\nrole = "agent"\npassword_hash = "{h}"', "an agent account needs agent_id"),
        (
            'name = "x"\nrole = "lead"\nagent_id = "A1"\npassword_hash = "{h}"',
            "only an agent account has one",
        ),
        ('name = "x"\nrole = "lead"\npassword_hash = "plain"', "password_hash must be"),
        ('name = ""\nrole = "lead"\npassword_hash = "{h}"', "name must be a non-empty string"),
        ('name = "x"\nrole = "lead"\npasword_hash = "{h}"', "unknown field 'pasword_hash'"),
    ],
)
def test_bad_accounts_are_refused_with_a_code(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "earmark.toml"
    path.write_text("[[accounts]]\n" + entry.format(h=hash_password("p")) + "\n")
    with pytest.raises(ConfigError, match=r"\[C039\].*" + message):
        _raw_accounts(path)


def test_duplicate_account_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "earmark.toml"
    path.write_text(account_toml("lena", "inspector", "a") + account_toml("lena", "lead", "b"))
    with pytest.raises(ConfigError, match=r"\[C039\].*duplicate account name 'lena'"):
        _accounts(path)
