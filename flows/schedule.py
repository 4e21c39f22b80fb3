"""``earmark schedule``: serve the nightly deployment on a cron schedule.

Prefect runs schedules only against a real Prefect server (the embedded engine that
``earmark run`` uses refuses). Two ways:

* an existing server: ``PREFECT_API_URL=http://prefect:4200/api earmark schedule --cron "0 2 * * *" …``
  (or ``--server-url``);
* a local server managed by earmark: without ``PREFECT_API_URL`` earmark starts a
  Prefect server on 127.0.0.1, waits until it is healthy, and stops it on exit; it dies
  with earmark even when earmark is killed with SIGKILL (see :mod:`flows.lifetime`).

The deployment's runs never overlap: the deployment's concurrency limit is 1 and the
warehouse lock refuses a second night on the same warehouse anyway. For many machines,
create a Prefect work pool and start workers on each (``prefect worker start --pool
earmark``); see the README.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator

from flows.lifetime import start_server, wait_healthy
from pipeline import errors

DEPLOYMENT = "nightly"
FLOW_NAME = "earmark-nightly"


@contextlib.contextmanager
def prefect_server(*, timeout_s: float = 120.0) -> Iterator[str]:
    """Start a Prefect server (with its services: schedules) on loopback; stop it after.

    It runs as a child that dies with this process even when this one is SIGKILLed
    (:func:`flows.lifetime.die_with_parent`).
    """
    api = start_server(services=True, timeout_s=timeout_s)
    try:
        yield api.url
    finally:
        api.stop()


def _check_cron(cron: str) -> None:
    """Refuse a malformed cron before anything starts (five fields, each a cron term)."""
    import re

    term = r"(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*|[A-Za-z]{3}"
    fields = cron.split()
    if len(fields) != 5 or not all(re.fullmatch(term, f) for f in fields):
        raise errors.CRON_INVALID(cron=cron)


def serve(
    *, cron: str, archive: str, warehouse: str, config_path: str | None, server_url: str | None
) -> None:
    """Register the deployment with ``cron`` and run it from this process until stopped."""
    _check_cron(cron)
    url = server_url or os.environ.get("PREFECT_API_URL")
    with contextlib.ExitStack() as stack:
        if not url:
            url = stack.enter_context(prefect_server())
            print(f"earmark: started a local Prefect server at {url}", flush=True)
        else:
            wait_healthy(url, timeout_s=30)
        # Prefect reads its settings when first imported: set the API before that
        os.environ["PREFECT_API_URL"] = url
        print(
            f"earmark: serving {FLOW_NAME}/{DEPLOYMENT} on '{cron}' (one night at a time); Ctrl-C stops",
            flush=True,
        )
        # stop cleanly on SIGTERM too (systemd, docker stop): the managed server goes with us
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        from flows.deploy import earmark_nightly

        earmark_nightly.serve(
            name=DEPLOYMENT,
            cron=cron,
            parameters={"archive": archive, "warehouse": warehouse, "config_path": config_path},
            global_limit=1,
            limit=1,
            print_starting_message=False,
        )
