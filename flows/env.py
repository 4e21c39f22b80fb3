"""Process environment for offline, unattended runs — applied before Prefect is imported."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.bundle import state_dir


def configure_environment(*, quiet: bool = True) -> Path:
    """Silence telemetry, forbid hub downloads by default, give Prefect and numba homes.

    Values already set in the environment win, so an operator can point Prefect at a
    real server (``PREFECT_API_URL``) or allow downloads (``HF_HUB_OFFLINE=0``).
    """
    home = state_dir()
    defaults = {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        # the embedded server starts in a subprocess; a busy 2-core machine needs more than 20 s
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        # quiet: the CLI reports errors itself, in one line; Prefect's own log would repeat
        # them with a traceback (-v shows Prefect's log)
        "PREFECT_LOGGING_LEVEL": "CRITICAL" if quiet else "INFO",
        "DO_NOT_TRACK": "1",
        "ORT_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "NUMBA_CACHE_DIR": str(home / "numba"),
        "TOKENIZERS_PARALLELISM": "false",
        # One BLAS/OpenMP thread, as Dask workers set it: the mel features then sum in the
        # same order everywhere and transcripts are identical on every runner. CTranslate2
        # keeps its own thread count (cpu_threads); measured: no slower.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    for key in ("PREFECT_HOME", "NUMBA_CACHE_DIR"):
        Path(os.environ[key]).mkdir(parents=True, exist_ok=True)
    return home


def prefect_server() -> str | None:
    """The Prefect API this process reports to (``PREFECT_API_URL``), or ``None``.

    Commands that run no ASR (``rescore``, ``queue build``) run as Prefect flows only
    when there is such a server to record them: without one, Prefect would start a
    temporary server (about 20 s on two cores) for a command that takes one second.
    """
    return os.environ.get("PREFECT_API_URL") or None


def uncached_task(fn: Callable[..., Any], name: str) -> Any:
    """``fn`` as a Prefect task whose result is neither cached nor persisted: its work lands
    in the warehouse, and the night's batches, paths and records are not hashed for a
    cache key (Prefect is imported here, at the first task, not with the module)."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    return task(fn, name=name, cache_policy=NO_CACHE, persist_result=False)
