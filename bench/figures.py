"""How a bench script hands back its figures: printed as one JSON line, kept as a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def publish(figures: dict[str, Any], path: Path) -> None:
    """Print ``figures`` as one JSON line and write them, indented, to ``path``."""
    print(json.dumps(figures, ensure_ascii=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=1, ensure_ascii=False))
