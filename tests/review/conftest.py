"""Fixtures of the review tests (builders in :mod:`reviewkit`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from reviewkit import build_archive, build_warehouse, chromium, make_accounts, review_app

from review.auth import Account


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(archive, warehouse)`` of the tests; a module that needs other data overrides it,
    and ``archive``, ``warehouse``, ``app`` and ``client`` follow."""
    # The app never writes the warehouse or the archive: build them once per session.
    tmp = tmp_path_factory.mktemp("review-data")
    return build_archive(tmp), build_warehouse(tmp)


@pytest.fixture
def archive(built: tuple[Path, Path]) -> Path:
    return built[0]


@pytest.fixture
def warehouse(built: tuple[Path, Path]) -> Path:
    return built[1]


@pytest.fixture(scope="session")
def accounts() -> dict[str, Account]:
    return make_accounts()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'reviews.sqlite'}"


@pytest.fixture
def app(warehouse: Path, archive: Path, accounts: dict[str, Account], database_url: str) -> FastAPI:
    return review_app(warehouse, archive, database_url, accounts=accounts)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def make_client(app: FastAPI) -> Iterator[object]:
    """Open more clients on the same app (one per signed-in person); all closed after."""
    opened: list[TestClient] = []

    def make() -> TestClient:
        c = TestClient(app, follow_redirects=False)
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, for a module's browser tests."""
    with chromium() as b:
        yield b
