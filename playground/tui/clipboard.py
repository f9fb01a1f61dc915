"""Copying text somewhere the user can paste it from, and saying truthfully where it went.

Textual's copy_to_clipboard only sends an OSC 52 escape: many terminals ignore it, and tmux drops it
unless set-clipboard is on, so "Copied" was often untrue. The system clipboard tools are tried first,
then tmux's own paste buffer; when none exists the text is written to a file in the data directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from playground.base.files import write_private
from playground.base.paths import data_dir

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Copied:
    where: str
    """Where the text is now, said as the user would look for it."""
    confirmed: bool
    """False when the only sure copy is the fallback file."""


def _tools() -> list[tuple[str, list[str]]]:
    """Clipboard commands that can work in this session, best first."""
    tools: list[tuple[str, list[str]]] = []
    if sys.platform == "darwin":
        tools.append(("the clipboard", ["pbcopy"]))
    if os.environ.get("WAYLAND_DISPLAY"):
        tools.append(("the clipboard", ["wl-copy"]))
    if os.environ.get("DISPLAY"):
        tools.append(("the clipboard", ["xclip", "-selection", "clipboard"]))
        tools.append(("the clipboard", ["xsel", "--clipboard", "--input"]))
    if os.environ.get("TMUX"):
        # -w also hands the text to the outer terminal's clipboard when tmux's set-clipboard allows it.
        tools.append(("tmux's paste buffer (prefix + ] pastes it)", ["tmux", "load-buffer", "-w", "-"]))
    return tools


def fallback_path() -> Path:
    return data_dir() / "clipboard.txt"


def copy(text: str) -> Copied:
    """Put `text` on the first clipboard that takes it, else in fallback_path() (private to the user)."""
    for where, command in _tools():
        if shutil.which(command[0]) is None:
            continue
        try:
            done = subprocess.run(command, input=text.encode(), capture_output=True, timeout=TIMEOUT_S,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return Copied(where, True)
    path = fallback_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, text)
    return Copied(str(path), False)
