"""Child processes that never outlive the earmark command that started them.

Prefect needs an API server. Left to itself, Prefect 3 starts a temporary one in a
subprocess (``uvicorn … prefect.server.api.server:create_app``) and stops it from an
``atexit`` hook: a command killed with SIGKILL (the OOM killer, an operator, a test)
runs no hook, and that server lived on, parented to init, holding a port and ~200 MB.

earmark starts that server itself instead (:func:`ensure_api`), as
``python -m flows.lifetime``, and points Prefect at it with ``PREFECT_API_URL``. The
server process calls :func:`die_with_parent` first thing: Linux kills it with SIGKILL
the moment its parent dies (``prctl(PR_SET_PDEATHSIG)``), and a watchdog thread checks
the parent's pid every half second where that call does not exist. The same start-up
cost as Prefect's own temporary server: one process, the same app.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence

from pipeline.errors import ConfigError

PR_SET_PDEATHSIG = 1
_WATCH_S = 0.5


def die_with_parent(parent: int) -> None:
    """End this process when ``parent`` (the pid that started it) dies, however it dies.

    Parameters
    ----------
    parent
        The pid of the process whose death ends this one (its parent when it started).
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the prctl above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCH_S)
        os._exit(1)

    threading.Thread(target=watch, name="earmark-parent-watch", daemon=True).start()


class LocalApi:
    """A Prefect API server in a child process of this one, started once per process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log = ""
        self._lock = threading.Lock()
        self._registered = False

    def spawn(self, *, services: bool = False) -> None:
        """Start the server process (once) without waiting for it to answer.

        The child is started from a thread kept alive until it ends: Linux sends the
        parent-death signal when the *thread* that forked a child exits, so a child
        forked from a short-lived worker thread would die too early.
        """
        with self._lock:
            if self.proc is None or self.proc.poll() is not None:
                self._spawn(services=services)

    def start(self, *, services: bool = False, timeout_s: float = 120.0) -> str:
        """Start the server (once) and wait until it answers; returns its API URL."""
        self.spawn(services=services)
        with self._lock:
            for _ in range(3):  # a port taken between choosing and binding it: another one
                assert self.proc is not None
                if wait_healthy(
                    self.url, proc=self.proc, timeout_s=timeout_s, port_retry=True, log=self.log
                ):
                    return self.url
                self._spawn(services=services)
        raise ConfigError(
            f"the local Prefect server could not bind a loopback port (3 tries); see {self.log}",
            code="C020",
        )

    def _spawn(self, *, services: bool) -> None:
        port = free_port()
        home = os.environ.get("PREFECT_HOME") or os.path.expanduser("~/.prefect")
        os.makedirs(home, exist_ok=True)
        self.log = os.path.join(home, "api-server.log")
        self.proc = _spawn_kept(_server_command(port, services=services), log=self.log)
        self.url = f"http://127.0.0.1:{port}/api"
        if not self._registered:
            atexit.register(self.stop)
            self._registered = True

    def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL after 10 s."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_API = LocalApi()


def ensure_api() -> str:
    """The Prefect API this process talks to: ``PREFECT_API_URL``, or a local child server.

    Without ``PREFECT_API_URL``, starts the server of :class:`LocalApi` (once per
    process) and sets ``PREFECT_API_URL`` for Prefect (and for any child process, which
    then uses the same server); Prefect's own temporary server, which would outlive a
    SIGKILL, is never started. Call it before running a flow.

    Returns
    -------
    str
        The API URL.

    Raises
    ------
    ConfigError
        ``C020`` when the local server exits while starting, ``C021`` when it does not
        answer within ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``.
    """
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    timeout_s = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"))
    url = _API.start(timeout_s=timeout_s)
    os.environ["PREFECT_API_URL"] = url
    if "prefect.context" in sys.modules:  # Prefect read its settings when imported: again
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()
    return url


def prestart_api() -> None:
    """Start the local API server now, without waiting: it boots while the caller checks
    its inputs and loads models. :func:`ensure_api` waits for it."""
    if not os.environ.get("PREFECT_API_URL"):
        _API.spawn()


def start_server(*, services: bool, timeout_s: float = 120.0) -> LocalApi:
    """A separate server that dies with this process (``earmark schedule`` needs services)."""
    api = LocalApi()
    api.start(services=services, timeout_s=timeout_s)
    return api


def wait_healthy(
    url: str,
    *,
    proc: subprocess.Popen[bytes] | None = None,
    timeout_s: float = 120.0,
    port_retry: bool = False,
    log: str = "",
) -> bool:
    """Wait until ``url/health`` answers 200.

    Returns ``False`` only with ``port_retry`` when ``proc`` exited because its port was
    taken (exit code 3, as uvicorn reports it), so the caller can try another port.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            if port_retry and proc.returncode == 3:
                return False
            raise ConfigError(
                f"the local Prefect server exited with code {proc.returncode}"
                + (f"; its log: {log}" if log else ""),
                code="C020",
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    raise ConfigError(f"no healthy Prefect server at {url} after {timeout_s:.0f} s", code="C021")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_command(port: int, *, services: bool) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "flows.lifetime",
        "--port",
        str(port),
        "--parent",
        str(os.getpid()),
    ]
    return cmd + (["--services"] if services else [])


def _spawn_kept(cmd: list[str], *, log: str) -> subprocess.Popen[bytes]:
    """Popen ``cmd`` from a daemon thread that lives as long as the child."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env["PREFECT_UI_ENABLED"] = "false"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    started: list[subprocess.Popen[bytes] | BaseException] = []
    ready = threading.Event()

    def keep() -> None:
        try:
            with open(log, "ab") as err:  # the server's own errors, not the user's terminal
                proc = subprocess.Popen(
                    cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
                )
        except BaseException as exc:
            started.append(exc)
            ready.set()
            return
        started.append(proc)
        ready.set()
        proc.wait()

    threading.Thread(target=keep, name="earmark-api-keeper", daemon=True).start()
    ready.wait()
    if isinstance(started[0], BaseException):
        raise started[0]
    return started[0]


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m flows.lifetime --port N --parent PID [--services]``: the API server."""
    parser = argparse.ArgumentParser(prog="python -m flows.lifetime")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--services", action="store_true", help="schedules and the rest")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    import uvicorn
    from prefect.server.api.server import create_app

    app = create_app(ephemeral=not args.services, final=True)
    # uvicorn exits with code 3 when it cannot start (a port taken meanwhile among others)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="error", lifespan="on")


if __name__ == "__main__":
    main()
