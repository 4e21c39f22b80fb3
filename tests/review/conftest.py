"""Fixtures of the review tests (builders in :mod:`reviewkit`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from reviewkit import build_archive, build_warehouse, make_accounts, make_config

from review.app import create_app
from review.auth import Account


@pytest.fixture(scope="session")
def _built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # The app never writes the warehouse or the archive: build them once per session.
    tmp = tmp_path_factory.mktemp("review-data")
    return build_archive(tmp), build_warehouse(tmp)


@pytest.fixture
def archive(_built: tuple[Path, Path]) -> Path:
    return _built[0]


@pytest.fixture
def warehouse(_built: tuple[Path, Path]) -> Path:
    return _built[1]


@pytest.fixture(scope="session")
def accounts() -> dict[str, Account]:
    return make_accounts()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'reviews.sqlite'}"


@pytest.fixture
def app(warehouse: Path, archive: Path, accounts: dict[str, Account], database_url: str) -> FastAPI:
    return create_app(
        str(warehouse),
        make_config(),
        archive=str(archive),
        accounts=accounts,
        database_url=database_url,
        secret_key="test-secret",
    )


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
