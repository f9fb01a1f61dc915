"""What the UI remembers between runs (the theme); never keys or text."""

from __future__ import annotations

import json
import os
from pathlib import Path

from playground.base.paths import preferences_path


def load(path: Path | None = None) -> dict:
    """An unreadable or malformed file counts as no preferences: they are a convenience, never a reason to fail."""
    try:
        data = json.loads((path or preferences_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(changes: dict, path: Path | None = None) -> None:
    path = path or preferences_path()
    data = {**load(path), **changes}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(temporary, path)
