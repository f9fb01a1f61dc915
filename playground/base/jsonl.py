"""Reading JSON Lines input files line by line, each problem one error naming file:line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from playground.base.errors import SourceError

MAX_LINE_BYTES = 5_000_000


def read_objects(path: Path) -> Iterator[tuple[int, str, dict]]:
    """(line number, "file:line", object) for each non-blank line; anything else raises SourceError."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if len(raw) > MAX_LINE_BYTES:
                raise SourceError(f"{where}: line longer than {MAX_LINE_BYTES:,} bytes")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SourceError(f"{where}: not UTF-8 text (byte {exc.start} of the line)") from None
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SourceError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
            if not isinstance(data, dict):
                raise SourceError(f"{where}: each line must be a JSON object")
            yield number, where, data
