"""The same night on a local Dask cluster of worker processes gives the same tables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TABLES = ("calls", "utterances", "findings", "scores", "queue", "quarantine")


def _tables(warehouse: Path) -> dict[str, list[dict]]:
    out = {}
    for t in TABLES:
        rows = (
            ds.dataset(warehouse / t, format="parquet", partitioning="hive").to_table().to_pylist()
        )
        out[t] = sorted(rows, key=lambda r: repr(sorted(r.items())))
    return out


def _run(archive: Path, warehouse: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    cmd = [
        sys.executable,
        "-m",
        "flows.cli",
        "run",
        "--archive",
        str(archive),
        "--warehouse",
        str(warehouse),
        "--language",
        "en",
        *extra,
    ]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture
def dask_cluster() -> Iterator[str]:
    """A real scheduler and two single-threaded worker processes, started as an operator would."""
    from distributed import Client

    from flows.schedule import free_port

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
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


def test_dask_cluster_results_equal_the_default_runner(
    tmp_path: Path, data: Path, stereo_call: Path, dask_cluster: str
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(stereo_call, archive / "stereo.wav")
    shutil.copy(data / "osr_us_000_0034_8k.wav", archive / "mono.wav")
    shutil.copy(data / "azure_whatstheweatherlike_mulaw.wav", archive / "short ulaw.wav")
    (archive / "broken.wav").write_text("no audio here")

    default = _run(archive, tmp_path / "default")
    assert default.returncode == 0, default.stderr
    on_dask = _run(archive, tmp_path / "dask", "--dask-address", dask_cluster)
    assert on_dask.returncode == 0, on_dask.stderr
    assert "3 calls processed" in on_dask.stdout and "1 quarantined" in on_dask.stdout
    assert _tables(tmp_path / "dask") == _tables(tmp_path / "default")
