"""The same night on a local Dask cluster of worker processes gives the same tables.

The cluster's night writes to an S3 warehouse (a real S3 API on loopback): the way a
center spreads a night over machines, which share no disk.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from runkit import child_env, earmark
from s3kit import S3

from pipeline import lease
from pipeline import warehouse as wh

pytestmark = pytest.mark.slow
TABLES = ("calls", "utterances", "findings", "scores", "queue", "quarantine")


def _tables(warehouse: str | Path) -> dict[str, list[dict]]:
    out = {}
    for t in TABLES:
        rows = wh.read_table(warehouse, t).to_pylist()
        out[t] = sorted(rows, key=lambda r: repr(sorted(r.items())))
    return out


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return earmark(*args, timeout=900)


def _run(archive: Path, warehouse: str | Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _cli("run", "--archive", archive, "--warehouse", warehouse, "--language", "en", *extra)


@pytest.fixture
def dask_cluster(s3: S3) -> Iterator[str]:
    """A real scheduler and two single-threaded worker processes, started as an operator would
    (with the S3 credentials and endpoint in their environment)."""
    from distributed import Client

    from flows.lifetime import free_port

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = child_env()
    dask = str(Path(sys.executable).with_name("dask"))
    procs = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
            env=env,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=60)


def test_dask_cluster_into_s3_gives_the_default_runners_tables(
    tmp_path: Path, data: Path, stereo_call: Path, dask_cluster: str, s3: S3
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(stereo_call, archive / "stereo.wav")
    shutil.copy(data / "osr_us_000_0034_8k.wav", archive / "mono.wav")
    shutil.copy(data / "azure_whatstheweatherlike_mulaw.wav", archive / "short ulaw.wav")
    (archive / "broken.wav").write_text("no audio here")

    default = _run(archive, tmp_path / "default")
    assert default.returncode == 0, default.stderr
    shared = f"{s3.bucket()}/earmark"
    on_dask = _run(archive, shared, "--dask-address", dask_cluster)
    assert on_dask.returncode == 0, on_dask.stderr
    assert "3 calls processed" in on_dask.stdout and "1 quarantined" in on_dask.stdout
    assert _tables(shared) == _tables(tmp_path / "default")
    assert wh.list_names(wh.join(shared, "_cache", "asr"))  # the workers' transcripts
    assert not wh.list_names(shared).count(lease.LOCK_NAME)  # the night let go of its lock

    again = _run(archive, shared)  # a second night: all from the shared cache, same tables
    assert again.returncode == 0, again.stderr
    assert _tables(shared) == _tables(tmp_path / "default")
    # the other commands on the shared warehouse
    rescored = _cli("rescore", "--warehouse", shared)
    assert rescored.returncode == 0, rescored.stderr
    assert _tables(shared) == _tables(tmp_path / "default")
    shown = _cli("queue", "show", "--warehouse", shared)
    assert shown.returncode == 0 and "3 call(s) to review" in shown.stdout, shown.stderr
