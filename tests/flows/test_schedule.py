"""`earmark schedule` against a local Prefect server: the deployment is registered with
its cron and a concurrency limit of 1, and a run of it does the night."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prockit import cmdline, with_home

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_schedule_serves_the_nightly_deployment(tmp_path: Path, data: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "call.wav").write_bytes((data / "azure_whatstheweatherlike_mulaw.wav").read_bytes())
    (tmp_path / "earmark.toml").write_text('languages = ["en"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    log = (tmp_path / "schedule.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "schedule",
            "--cron",
            "0 2 * * *",
            "--archive",
            str(archive),
            "--warehouse",
            str(tmp_path / "wh"),
            "--config",
            str(tmp_path / "earmark.toml"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = _wait_for(
            tmp_path / "schedule.log",
            r"serving earmark-nightly/nightly",
            r"Prefect server at (\S+)",
            proc,
        )
        os.environ["PREFECT_API_URL"] = url
        result = subprocess.run(
            [sys.executable, "-c", RUN_IT],
            cwd=ROOT,
            env={**env, "PREFECT_API_URL": url},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        cron, limit, state = result.stdout.strip().splitlines()[-3:]
        assert cron == "0 2 * * *" and limit == "1" and state == "COMPLETED"
        assert list((tmp_path / "wh" / "scores").rglob("*.parquet"))
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while with_home(tmp_path / "prefect") and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [cmdline(pid) for pid in with_home(tmp_path / "prefect")]
    assert not left, f"the managed Prefect server must stop with earmark: {left}"


RUN_IT = """
import asyncio

from prefect import get_client
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound

async def info():
    # `serve` registers the deployment a moment after it says it is serving
    async with get_client() as c:
        for _ in range(240):
            try:
                d = await c.read_deployment_by_name("earmark-nightly/nightly")
                return d.schedules[0].schedule.cron, d.global_concurrency_limit.limit
            except ObjectNotFound:
                await asyncio.sleep(0.5)
    raise SystemExit("deployment never registered")

cron, limit = asyncio.run(info())
run = run_deployment("earmark-nightly/nightly", timeout=500)
print(cron); print(limit); print(run.state.type.name)
"""


def _wait_for(
    log: Path, ready: str, url_pattern: str, proc: subprocess.Popen[bytes], timeout_s: float = 240
) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text()
        if re.search(ready, text):
            match = re.search(url_pattern, text)
            assert match, text
            return match.group(1)
        assert proc.poll() is None, text
        time.sleep(0.5)
    raise AssertionError(f"earmark schedule did not start: {log.read_text()}")
