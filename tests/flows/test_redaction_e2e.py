"""A spoken card number goes in; no digit of it comes out anywhere the run wrote.

Real ASR on a real (synthesised, µ-law 8 kHz) call in which the customer reads a card
number, its expiry and security code. Everything the run wrote is searched: every
Parquet table (decoded), the transcript cache, Prefect's database and logs. The audio
copy the review app plays has a tone over the spans, and the ASR hears no digit there.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from runkit import child_env, earmark

from pipeline import warehouse as wh
from pipeline.audio import decode
from pipeline.config import Config, RedactConfig
from review.app import create_app
from review.auth import Account, hash_password

pytestmark = pytest.mark.slow
# a group of the card on its own: not inside a UUID, a hash, a timestamp or a decimal
# (a confidence of 0.4532 is not a leak)
SECRETS = [
    re.compile(rf"(?<![0-9A-Za-z.]){g}(?![0-9A-Za-z])") for g in ("4532", "1876", "4932", "1571")
]
SECRETS += [re.compile("four five three two"), re.compile(r"4-5-3-2"), re.compile(r"4532\s*1876")]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""Prefect's ids: a random UUID holds a group like ``-4932-`` now and then. No word
boundaries: in SQLite's pages a UUID often runs straight into the next column's digits."""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, data: Path) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("redact")
    archive = tmp / "archive"
    archive.mkdir()
    shutil.copy(data / "card_call_8k.wav", archive / "payment call.wav")
    out = earmark(
        *("run", "--archive", archive, "--warehouse", tmp / "wh", "--language", "en"),
        env=child_env(PREFECT_HOME=str(tmp / "prefect")),
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    (tmp / "stdout.txt").write_text(out.stdout + out.stderr)
    return {"tmp": tmp, "wh": tmp / "wh", "prefect": tmp / "prefect"}


def _everything_written(run: dict[str, Path]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted(
        p for p in run["tmp"].rglob("*") if p.is_file() and "archive" not in p.parts
    ):
        if path.suffix == ".parquet":
            texts[str(path)] = str(pq.read_table(path).to_pylist())
        else:
            texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    return {path: UUID.sub("<uuid>", text) for path, text in texts.items()}


def test_the_card_was_heard_and_tagged(run: dict[str, Path]) -> None:
    utterances = pq.read_table(run["wh"] / "utterances").to_pylist()
    text = " ".join(u["text"] for u in utterances)
    assert "[CARD]" in text and "[CVV]" in text
    words = [w["text"] for u in utterances for w in u["words"]]
    assert any("[CARD]" in w for w in words)
    calls = pq.read_table(run["wh"] / "calls").to_pylist()
    kinds = {r["kind"] for r in calls[0]["redactions"]}
    assert {"CARD", "CVV"} <= kinds


def test_no_digit_of_the_card_anywhere(run: dict[str, Path]) -> None:
    written = _everything_written(run)
    assert any("prefect" in p for p in written), "Prefect's own files should be searched too"
    leaks = [(path, s.pattern) for path, text in written.items() for s in SECRETS if s.search(text)]
    assert leaks == []


# ---------------------------------------------------------------- the redacted audio copy

NUMBER_WORDS = re.compile(
    r"[0-9]|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)\b",
    re.IGNORECASE,
)


def _call(run: dict[str, Path]) -> dict:
    calls = wh.read_table(run["wh"], "calls").to_pylist()
    assert len(calls) == 1
    return calls[0]


def _copy(run: dict[str, Path]) -> Path:
    copies = sorted((run["wh"] / wh.REDACTED_AUDIO).rglob("*.flac"))
    assert len(copies) == 1, copies
    return copies[0]


def _mask(spans: list[tuple[float, float]], frames: int, sr: int, *, grow_s: float) -> np.ndarray:
    out = np.zeros(frames, dtype=bool)
    for s, e in spans:
        out[max(0, round((s - grow_s) * sr)) : max(0, round((e + grow_s) * sr))] = True
    return out


def test_the_redacted_copy_has_a_tone_over_the_spans_and_the_call_elsewhere(
    run: dict[str, Path],
) -> None:
    call, copy = _call(run), _copy(run)
    assert copy.parent.name == f"call_date={call['call_date']}"
    info = sf.info(str(copy))
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 8000, 2)
    original = decode(run["tmp"] / "archive" / "payment call.wav", sr=8000).samples
    covered = decode(copy, sr=8000).samples
    spans = [(r["start_s"], r["end_s"]) for r in call["redactions"]]
    frames = original.shape[1]
    outside = ~_mask(spans, frames, 8000, grow_s=0.25 + 0.001)
    assert np.array_equal(covered[:, outside], original[:, outside])
    for span in spans:  # the tone (-20 dBFS peak: RMS 0.0707) on both channels, nothing else
        inside = _mask([span], frames, 8000, grow_s=0.2)
        rms = np.sqrt(np.mean(covered[:, inside].astype(np.float64) ** 2, axis=1))
        assert rms == pytest.approx([0.1 / np.sqrt(2)] * 2, abs=1e-3)
        spectrum = np.abs(np.fft.rfft(covered[1, inside]))
        peak_hz = np.fft.rfftfreq(int(inside.sum()), 1 / 8000)[spectrum.argmax()]
        assert peak_hz == pytest.approx(1000, abs=5)


def test_the_asr_hears_no_digit_around_the_covered_spans(run: dict[str, Path]) -> None:
    """Word times are approximate: a second either side of each covered stretch, the
    ASR must hear no number (the padding covered the first and last digits too)."""
    from flows.process import get_transcriber

    transcriber = get_transcriber(Config().asr)
    customer = decode(_copy(run), sr=16_000).samples[1]  # the customer reads on the right
    stretches: list[list[float]] = []
    for r in sorted(_call(run)["redactions"], key=lambda r: r["start_s"]):
        if stretches and r["start_s"] - stretches[-1][1] < 2.0:
            stretches[-1][1] = max(stretches[-1][1], r["end_s"])
        else:
            stretches.append([r["start_s"], r["end_s"]])
    for start_s, end_s in stretches:
        piece = customer[max(0, int((start_s - 1.0) * 16_000)) : int((end_s + 1.0) * 16_000)]
        heard = " ".join(s.text for s in transcriber.transcribe(piece, language="en").segments)
        assert NUMBER_WORDS.findall(heard) == [], (start_s, end_s)
    whole = " ".join(s.text for s in transcriber.transcribe(customer, language="en").segments)
    assert "card" in whole.lower()  # the rest of the customer's speech is still there
    assert [s.pattern for s in SECRETS if s.search(whole)] == []


def _signed_in(warehouse: Path, archive: Path, config: Config, tmp_path: Path) -> TestClient:
    app = create_app(
        str(warehouse),
        config,
        archive=str(archive),
        accounts={"quinn": Account("quinn", "lead", hash_password("quinn-pw"))},
        database_url=f"sqlite:///{tmp_path / 'reviews.sqlite'}",
        secret_key="test-secret",
    )
    client = TestClient(app, follow_redirects=False)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"csrf": csrf.group(1), "name": "quinn", "password": "quinn-pw"}
    assert client.post("/login", data=form).status_code == 303
    return client


def test_the_review_app_plays_the_copy_with_ranges(run: dict[str, Path], tmp_path: Path) -> None:
    archive = run["tmp"] / "archive"
    client = _signed_in(run["wh"], archive, Config(), tmp_path)
    copy = _copy(run).read_bytes()
    response = client.get("/audio/payment call", headers={"Range": "bytes=100-4195"})
    assert response.status_code == 206
    assert response.content == copy[100:4196]
    assert response.headers["content-range"] == f"bytes 100-4195/{len(copy)}"
    assert response.headers["content-type"] == "audio/flac"
    whole = client.get("/audio/payment call")
    assert whole.status_code == 200 and whole.content == copy
    assert (
        client.get("/audio/payment call", headers={"Range": f"bytes={len(copy)}-"}).status_code
        == 416
    )
    page = client.get("/call/payment call")
    moments = len(_call(run)["redactions"])
    assert (
        page.status_code == 200 and f"Redacted copy: the {moments} redacted moment(s)" in page.text
    )


def test_without_its_copy_the_original_is_withheld_unless_audio_redaction_is_off(
    run: dict[str, Path], tmp_path: Path
) -> None:
    archive = run["tmp"] / "archive"
    warehouse = tmp_path / "wh"
    shutil.copytree(run["wh"], warehouse, ignore=shutil.ignore_patterns(wh.REDACTED_AUDIO))
    client = _signed_in(warehouse, archive, Config(), tmp_path)
    response = client.get("/audio/payment call", headers={"Range": "bytes=0-99"})
    assert response.status_code == 409
    assert "withheld" in response.text and "redacted copy has not been written" in response.text
    assert not response.content.startswith(b"RIFF")
    assert "The recording is withheld" in client.get("/call/payment call").text
    off = Config(redact=RedactConfig(audio="off"))
    client = _signed_in(warehouse, archive, off, tmp_path)
    response = client.get("/audio/payment call", headers={"Range": "bytes=0-99"})
    assert response.status_code == 206
    assert response.content == (archive / "payment call.wav").read_bytes()[:100]
    assert "Audio redaction is off" in client.get("/call/payment call").text
