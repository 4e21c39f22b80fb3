"""Calls with redactions play their redacted copy, never the original (unless audio
redaction is off), with the same Range support and path checks as originals."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from reviewkit import (
    DATE,
    WAV,
    build_archive,
    build_warehouse,
    make_accounts,
    make_config,
    review_app,
    sign_in,
    write_call,
)
from s3kit import S3

from pipeline import warehouse as wh
from pipeline.archive import sha256_file
from pipeline.config import RedactConfig
from pipeline.errors import ConfigError
from pipeline.redact_audio import AudioRedactOptions, copy_key, write_redacted_copy
from review.app import create_app

SPANS = (("CARD", 5.0, 7.5), ("CVV", 20.0, 21.0))
SHA = sha256_file(WAV)
REDACTED = {
    # call_id: source path, the copy written (spans it covers, or a path it links to)
    "C-RED": ("2026-11 calls/c2.wav", SPANS),
    "C-RED-NOCOPY": ("2026-11 calls/c2.wav", None),
    "C-RED-STALE": ("2026-11 calls/c2.wav", (("CARD", 5.0, 6.0),)),  # older, shorter spans
    "C-RED-TRAVERSAL": ("../secret.wav", None),
    "C-RED-LINK": ("2026-11 calls/c2.wav", "link"),  # the copy's name links out of the warehouse
}


def _copy_path(warehouse: Path, call_id: str, spans: tuple[tuple[str, float, float], ...]) -> Path:
    key = copy_key(call_id, SHA, [(s, e) for _, s, e in spans])
    return Path(wh.redacted_audio_path(warehouse, DATE, call_id, key))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("redacted-review")
    archive, warehouse = build_archive(tmp), build_warehouse(tmp)
    for call_id, (source, copy) in REDACTED.items():
        spec = {"team": "TEAM-01", "agent": "A1", "date": DATE, "sha256": SHA, "redactions": SPANS}
        write_call(warehouse, call_id, spec, source)
        if isinstance(copy, tuple):
            write_redacted_copy(
                archive / source,
                str(_copy_path(warehouse, call_id, copy)),
                audio_sha256=SHA,
                sample_rate=8000,
                spans=[(s, e) for _, s, e in copy],
                options=AudioRedactOptions(),
            )
        elif copy == "link":
            link = _copy_path(warehouse, call_id, SPANS)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(tmp / "secret.wav")
    return archive, warehouse


@pytest.fixture
def off_client(warehouse: Path, archive: Path, database_url: str) -> Iterator[TestClient]:
    """The app of an operator who set ``[redact] audio = "off"``."""
    config = make_config().model_copy(update={"redact": RedactConfig(audio="off")})
    app = review_app(warehouse, archive, database_url, config=config)
    with TestClient(app, follow_redirects=False) as c:
        yield sign_in(c, "lena")


def _copy_bytes(warehouse: Path) -> bytes:
    return _copy_path(warehouse, "C-RED", SPANS).read_bytes()


@pytest.mark.parametrize(
    ("header", "first", "last"), [("bytes=0-99", 0, 99), ("bytes=-10", -10, -1)]
)
def test_a_range_of_the_redacted_copy(
    client: TestClient, warehouse: Path, header: str, first: int, last: int
) -> None:
    sign_in(client, "lena")
    copy = _copy_bytes(warehouse)
    first, last = first % len(copy), last % len(copy)
    response = client.get("/audio/C-RED", headers={"Range": header})
    assert response.status_code == 206
    assert response.content == copy[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(copy)}"
    assert response.headers["content-type"] == "audio/flac"
    assert not response.content.startswith(b"RIFF")


def test_whole_copy_head_and_416(client: TestClient, warehouse: Path) -> None:
    sign_in(client, "lena")
    copy = _copy_bytes(warehouse)
    assert client.get("/audio/C-RED").content == copy
    head = client.head("/audio/C-RED", headers={"Range": "bytes=10-19"})
    assert head.status_code == 206 and head.headers["content-length"] == "10"
    response = client.get("/audio/C-RED", headers={"Range": f"bytes={len(copy)}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(copy)}"
    page = client.get("/call/C-RED")
    assert "Redacted copy: the 2 redacted moment(s) are covered." in page.text


@pytest.mark.parametrize(
    "call_id", ["C-RED-NOCOPY", "C-RED-STALE", "C-RED-LINK", "C-RED-TRAVERSAL"]
)
def test_no_current_copy_means_no_audio(client: TestClient, call_id: str) -> None:
    sign_in(client, "lena")
    for headers in ({}, {"Range": "bytes=0-99"}):
        response = client.get(f"/audio/{call_id}", headers=headers)
        assert response.status_code == 409
        assert "withheld" in response.text and "redacted copy has not been written" in response.text
        assert response.headers["content-type"].startswith("text/plain")
    page = client.get(f"/call/{call_id}")
    assert page.status_code == 200 and "The recording is withheld" in page.text


def test_audio_redaction_off_serves_originals_but_still_prefers_a_copy(
    off_client: TestClient, warehouse: Path
) -> None:
    response = off_client.get("/audio/C-RED-NOCOPY", headers={"Range": "bytes=0-99"})
    assert response.status_code == 206 and response.content == WAV.read_bytes()[:100]
    assert "Audio redaction is off" in off_client.get("/call/C-RED-NOCOPY").text
    assert off_client.get("/audio/C-RED").content == _copy_bytes(warehouse)
    # the path checks of originals still hold
    for call_id, status in (("C-RED-TRAVERSAL", 403), ("C-RED-LINK", 200)):
        response = off_client.get(f"/audio/{call_id}")
        assert response.status_code == status
        assert b"not-for-inspectors" not in response.content


def test_a_warehouse_on_s3_serves_the_same_pages_and_copies(
    s3: S3, warehouse: Path, archive: Path, database_url: str
) -> None:
    url = f"{s3.bucket()}/earmark"
    fs, _ = wh.storage(url)
    for path in sorted(warehouse.rglob("*")):
        if path.is_file() and not path.is_symlink():  # an object store has no symlinks
            fs.put_file(str(path), wh.join(url, path.relative_to(warehouse).as_posix()))
    options = {"archive": str(archive), "accounts": make_accounts(), "secret_key": "test-secret"}
    with pytest.raises(ConfigError, match=r"\[C005\] .*give --database"):
        create_app(url, make_config(), **options)  # type: ignore[arg-type]
    app = create_app(url, make_config(), database_url=database_url, **options)  # type: ignore[arg-type]
    cache = app.state.review.audio_cache
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, "lena")
        response = client.get("/audio/C-RED", headers={"Range": "bytes=0-99"})
        assert response.status_code == 206 and response.content == _copy_bytes(warehouse)[:100]
        assert (
            "Redacted copy: the 2 redacted moment(s) are covered." in client.get("/call/C-RED").text
        )
        for call_id in ("C-RED-NOCOPY", "C-RED-STALE", "C-RED-LINK"):
            assert client.get(f"/audio/{call_id}").status_code == 409
        assert "C-LENA-1" in client.get("/queue").text  # the queue, read from S3
    played = [p.name.split(".", 1)[1] for p in cache.iterdir()]  # <version>.<name>
    assert played == [_copy_path(warehouse, "C-RED", SPANS).name]
    del app, client
    # the test client's portal thread may hold the last page's template context (and so
    # the app) for a moment after the block: the app goes as soon as nothing holds it
    for _ in range(100):
        gc.collect()
        if not cache.exists():
            break
        time.sleep(0.05)
    assert not cache.exists()  # customers' audio, even redacted, is not left on disk
