"""Files the app writes for the user."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO


def open_private(path: Path | str, newline: str | None = None) -> IO[str]:
    """A text file created (or truncated) 0600, for writing as a stream. Exports name where keys come from,
    what a team pays and, for history, every prompt: nobody else on the machine may read them."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file that already existed
    return os.fdopen(fd, "w", encoding="utf-8", newline=newline)


def write_private(path: Path, text: str) -> None:
    with open_private(path) as handle:
        handle.write(text)
