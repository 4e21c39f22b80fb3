"""Streaming recordings: Range requests (206/416/400) and paths that must never be served."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from reviewkit import LENA_AUDIO, WAV, sign_in

SIZE = WAV.stat().st_size
BYTES = WAV.read_bytes()


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-99", 0, 99),
        ("bytes=44-", 44, SIZE - 1),
        ("bytes=-10", SIZE - 10, SIZE - 1),
        (f"bytes=-{SIZE + 5000}", 0, SIZE - 1),  # a suffix longer than the file: all of it
        (f"bytes={SIZE - 10}-{SIZE + 5000}", SIZE - 10, SIZE - 1),  # clipped to the file
    ],
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


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 9}", "bytes=-0"])
def test_a_range_past_the_end_is_416_with_the_size(client: TestClient, header: str) -> None:
    sign_in(client, "lena")
    response = client.get("/audio/C-LENA-1", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize("header", ["bytes=20-10", "bytes=abc", "items=0-1", "bytes=-"])
def test_a_malformed_range_is_400(client: TestClient, header: str) -> None:
    sign_in(client, "lena")
    response = client.get("/audio/C-LENA-1", headers={"Range": header})
    assert response.status_code == 400 and BYTES[:4] not in response.content


def test_several_ranges_come_as_multipart_byteranges(client: TestClient) -> None:
    sign_in(client, "lena")
    response = client.get("/audio/C-LENA-1", headers={"Range": "bytes=0-3,100-103"})
    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert f"bytes 0-3/{SIZE}".encode() in response.content and BYTES[:4] in response.content
    assert f"bytes 100-103/{SIZE}".encode() in response.content
    assert BYTES[100:104] in response.content


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
