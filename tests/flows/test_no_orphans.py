"""Nothing outlives a command: an earmark command killed with SIGKILL leaves no process.

Each test starts a real command, waits until its children run, kills it with SIGKILL
and walks ``/proc`` for what is left: its descendants (by pid and start time, so a
recycled pid is not mistaken for one) and any process whose environment carries the
test's own ``PREFECT_HOME``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from prockit import Proc, alive, cmdline, descendants, with_home
from runkit import EARMARK, ROOT, child_env, shifted_calls

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def env_for(tmp: Path) -> dict[str, str]:
    return child_env(PREFECT_HOME=str(tmp / "prefect"), PYTHONPATH=str(ROOT))


def kill_when(
    proc: subprocess.Popen[bytes], ready: Callable[[set[Proc]], bool], timeout_s: float = 300
) -> dict[Proc, str]:
    """SIGKILL ``proc`` once ``ready(its descendants)``; returns the descendants it had,
    with their command lines."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        below = descendants(proc.pid)
        if ready(below):
            named = {p: cmdline(p[0]) for p in below}
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return named
        assert proc.poll() is None, "the command ended before it could be killed"
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise AssertionError("the command never got to the point where it is killed")


def assert_nothing_left(procs: Iterable[Proc], prefect_home: Path, timeout_s: float = 5.0) -> None:
    """Within ``timeout_s`` (the parent-death signal is immediate; the watchdog 0.5 s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = alive(set(procs)) | {p for p in with_home(prefect_home)}
        if not left:
            return
        time.sleep(0.1)
    pids = {p if isinstance(p, int) else p[0] for p in left}
    for pid in pids:  # clean up, then fail with what was left
        os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"left running after SIGKILL: {[cmdline(p) for p in pids]}")


def _transcribed(cache: Path) -> int:
    """Calls whose transcript is cached (their meaning vectors are cached beside them)."""
    return sum('"utterances"' in p.read_text() for p in cache.rglob("*.json"))


def _server(below: set[Proc]) -> bool:
    return any("flows.lifetime" in cmdline(pid) for pid, _ in below)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Prefect home for the module: its database is created once."""
    return tmp_path_factory.mktemp("lifetime")


def test_the_api_server_stops_with_its_parent_on_a_normal_exit(home: Path) -> None:
    code = "from flows.lifetime import ensure_api\nprint(ensure_api(), flush=True)\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("http://127.0.0.1:")
    assert not with_home(home / "prefect")


def test_the_api_server_dies_with_a_sigkilled_parent(home: Path) -> None:
    """The smallest case: a process that started its API server, killed."""
    env = env_for(home)
    code = "from flows.lifetime import ensure_api; print(ensure_api(), flush=True); input()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().decode().strip()
    assert url.startswith("http://127.0.0.1:"), url
    below = kill_when(proc, _server, timeout_s=30)
    assert len(below) == 1
    assert_nothing_left(below, home / "prefect")


@pytest.mark.slow
def test_a_night_killed_mid_way_leaves_no_process(
    tmp_path: Path, home: Path, stereo_call: Path, data: Path
) -> None:
    archive = shifted_calls(tmp_path / "archive", stereo_call, data, calls=3)
    warehouse = tmp_path / "wh"
    cache = warehouse / "_cache" / "asr"
    cmd = [*EARMARK, "run", "--archive", str(archive)]
    cmd += ["--warehouse", str(warehouse), "--language", "en"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env_for(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    below = kill_when(proc, lambda b: _server(b) and _transcribed(cache) >= 1)
    assert _transcribed(cache) < 4, "the kill should land in the middle"
    assert_nothing_left(below, home / "prefect")


@pytest.mark.slow
def test_schedule_killed_during_a_night_leaves_no_process(
    tmp_path: Path, home: Path, data: Path
) -> None:
    """`earmark schedule` has two kinds of children: its Prefect server and, while a night
    runs, the night's process (started by Prefect's runner). Killed, neither stays."""
    archive = tmp_path / "archive"
    archive.mkdir()
    for n in range(3):
        shutil.copy(data / "osr_us_000_0034_8k.wav", archive / f"call-{n}.wav")
    (tmp_path / "earmark.toml").write_text('languages = ["en"]\n')
    env = env_for(home)
    log = tmp_path / "schedule.log"
    cmd = [*EARMARK, "schedule", "--cron", "0 2 * * *"]
    cmd += ["--archive", str(archive), "--warehouse", str(tmp_path / "wh")]
    cmd += ["--config", str(tmp_path / "earmark.toml")]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    while "serving earmark-nightly" not in log.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)
    url = log.read_text().split("Prefect server at ")[1].split()[0]
    trigger = subprocess.Popen(
        [sys.executable, "-c", RUN_NOW],
        cwd=ROOT,
        env={**env, "PREFECT_API_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        cache = tmp_path / "wh" / "_cache" / "asr"

        def mid_night(below: set[Proc]) -> bool:
            return len(below) >= 2 and _transcribed(cache) >= 1

        below = kill_when(proc, mid_night, timeout_s=400)
    finally:
        trigger.kill()
        trigger.wait()
    assert _transcribed(cache) < 3, "the kill should land in the middle"
    assert any("flows.lifetime" in line for line in below.values())
    assert any("flows.lifetime" not in line for line in below.values()), "no night running"
    assert_nothing_left(below, home / "prefect")


RUN_NOW = """
import time
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
for _ in range(240):
    try:
        run_deployment("earmark-nightly/nightly", timeout=0)
        break
    except ObjectNotFound:
        time.sleep(0.5)
"""


def test_serve_killed_leaves_no_process(tmp_path: Path, home: Path) -> None:
    """The review app runs in its own process (uvicorn in-process, no worker children):
    killed, nothing of it stays, and no port stays bound."""
    import socket
    import urllib.request

    from pipeline import warehouse as wh
    from review.auth import account_toml

    (tmp_path / "archive").mkdir()
    wh.upsert(str(tmp_path / "wh"), "calls", {"2026-11-20": [{"call_id": "c1", "status": "ok"}]})
    config = tmp_path / "earmark.toml"
    config.write_text(account_toml("lena", "lead", "pw") + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [*EARMARK, "serve", "--warehouse", str(tmp_path / "wh")]
    cmd += ["--archive", str(tmp_path / "archive"), "--config", str(config), "--port", str(port)]
    terminal = tmp_path / "terminal.txt"
    with terminal.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env_for(home), stdout=out, stderr=out)

    def answering(_: set[Proc]) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2):
                return True
        except OSError:
            return False

    below = kill_when(proc, answering, timeout_s=120)
    assert_nothing_left(below, home / "prefect")
    with socket.socket() as s:  # no listener left (TIME_WAIT of the probe aside)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
    said = terminal.read_text()  # earmark's own lines; no server library chatter, no access log
    assert f"review app on http://127.0.0.1:{port}/" in said
    assert "INFO:" not in said and "GET /login" not in said, said
