"""What a bench script sets up before it imports earmark, and where it keeps its files.

A bench script runs from the checkout (``python bench/NAME.py``), so this module, beside
it, is importable before the checkout itself is on ``sys.path``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The checkout this ``bench/`` folder belongs to."""

REALCALLS = Path(os.environ.get("EARMARK_REALCALLS", ROOT.parent / "shared" / "realcalls"))
"""``../shared/realcalls`` beside the checkout, or ``$EARMARK_REALCALLS``."""


def use_checkout(*, home: bool = True, environment: bool = False) -> None:
    """Put the checkout first on ``sys.path`` so ``pipeline``/``flows``/``models`` import.

    Parameters
    ----------
    home
        Also default ``EARMARK_HOME`` to the checkout's ``.state`` (models, caches).
    environment
        Also apply :func:`flows.env.configure_environment` (offline, quiet Prefect), which
        must run before Prefect is imported.
    """
    sys.path.insert(0, str(ROOT))
    if home:
        os.environ.setdefault("EARMARK_HOME", str(ROOT / ".state"))
    if environment:
        from flows.env import configure_environment

        configure_environment()


def state_path(name: str) -> Path:
    """``.state/bench/NAME``: where a bench script keeps its figures and work files."""
    return ROOT / ".state" / "bench" / name
