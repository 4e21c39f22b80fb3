"""Streaming recordings: Range requests (206/416) and paths that must never be served."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from reviewkit import LENA_AUDIO, WAV, sign_in

from review.audio import RangeNotSatisfiable, parse_range

SIZE = WAV.stat().st_size
BYTES = WAV.read_bytes()


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("bytes=0-0", (0, 0)),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-10", (990, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=900-5000", (900, 999)),
    ],
)
def test_parse_range(header: str | None, span: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == span


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=5-2", "bytes=-0", "bytes=-", "items=0-1", "bytes=0-1,5-6", "x"]
)
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=44-", 44, SIZE - 1), ("bytes=-10", SIZE - 10, SIZE - 1)],
)
def test_range_request_gives_206_and_exactly_those_bytes(
    client: TestClient, header: str, first: int, last: int
) -> None:
    sign_in(client, "lena")
    response = client.get("/audio/C-LENA-1", headers={"Range": header})
    assert response.status_code == 206
    assert response.content == BYTES[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["content-type"] == "audio/wav"


def test_whole_file_without_range(client: TestClient) -> None:
    sign_in(client, "lena")
    response = client.get("/audio/C-LENA-1")
    assert response.status_code == 200 and response.content == BYTES
    assert response.headers["accept-ranges"] == "bytes"
    head = client.head("/audio/C-LENA-1", headers={"Range": "bytes=10-19"})
    assert head.status_code == 206 and head.headers["content-length"] == "10" and not head.content


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", "bytes=20-10", "bytes=abc", "bytes=0-1,4-5"])
def test_bad_range_is_416_with_the_size(client: TestClient, header: str) -> None:
    sign_in(client, "lena")
    response = client.get("/audio/C-LENA-1", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize(
    ("call_id", "status"),
    [
        ("C-TRAVERSAL", 403),  # source_path "../secret.wav"
        ("C-ABSOLUTE", 403),  # an absolute path outside the archive
        ("C-SYMLINK", 403),  # a symlink inside the archive pointing out of it
        ("C-GONE", 404),  # listed, but the file is gone
        ("..%2Fsecret.wav", 404),  # not a call id at all
        ("..%2F..%2Fetc%2Fpasswd", 404),
        ("%2Fetc%2Fpasswd", 404),
    ],
)
def test_paths_outside_the_archive_are_never_served(
    client: TestClient, call_id: str, status: int
) -> None:
    sign_in(client, "lena")
    response = client.get(f"/audio/{call_id}")
    assert response.status_code == status
    assert b"not-for-inspectors" not in response.content


def test_only_paths_listed_in_calls_are_served(client: TestClient, archive: Path) -> None:
    sign_in(client, "quinn")  # the lead may open every call, yet not arbitrary files
    assert (archive / LENA_AUDIO).is_file()
    for url in (f"/audio/{LENA_AUDIO}", "/static/../reviews.sqlite", "/audio/"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert not response.content.startswith(b"RIFF")
