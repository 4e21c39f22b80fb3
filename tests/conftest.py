"""Shared fixtures. Tests use the real audio under tests/data/ and the real models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
os.environ.setdefault("EARMARK_HOME", str(ROOT / ".state"))

from flows.env import configure_environment  # noqa: E402

configure_environment()


@pytest.fixture(scope="session")
def data() -> Path:
    return DATA


@pytest.fixture(scope="session")
def stereo_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8 kHz stereo "call": real speech, agent (JFK) left, customer (OSR) right.

    Parties alternate with silence on the other channel, as a recorder writes them.
    """
    jfk, sr_jfk = sf.read(DATA / "faster_whisper_jfk.flac", dtype="float32", always_2d=True)
    jfk = jfk.mean(axis=1)
    osr, _ = sf.read(DATA / "osr_us_000_0034_8k.wav", dtype="float32")
    import librosa

    jfk = librosa.resample(jfk, orig_sr=sr_jfk, target_sr=8000)
    osr = osr[: 8000 * 9]
    gap = np.zeros(8000, dtype=np.float32)
    left = np.concatenate([jfk, gap, np.zeros_like(osr), gap])
    right = np.concatenate([np.zeros_like(jfk), gap, osr, gap])
    path = tmp_path_factory.mktemp("stereo") / "stereo_call.wav"
    sf.write(path, np.stack([left, right], axis=1), 8000, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def s3() -> Iterator[object]:
    """A real S3 API on loopback for the session (see :class:`s3kit.S3`)."""
    import logging

    from moto.server import ThreadedMotoServer
    from s3kit import S3

    from flows.lifetime import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    store = S3(f"http://127.0.0.1:{port}")
    saved = {k: os.environ.get(k) for k in store.env}
    os.environ.update(store.env)
    try:
        yield store
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
