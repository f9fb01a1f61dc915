"""Drive the real app in tmux at 80x24 and 200x50 and check what a person would see.

It types a prompt (answered by the embedded model), opens history, stats, the leaderboard, experiments, help, the
conversation settings and the pickers, and checks each screen for its landmarks and for tracebacks;
exits 1 on any failure.

    .venv/bin/python -m scripts.tmux_check
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SESSION = "playground-check"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-t", SESSION, "-p")


def wait_for(text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen()
        if text in shown:
            return shown
        time.sleep(0.3)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")


def check(width: int, height: int) -> list[str]:
    problems = []
    home = tempfile.mkdtemp(prefix="pg-tmux-")
    command = f"PLAYGROUND_HOME={home} {ROOT / '.venv' / 'bin' / 'playground'}"
    tmux("new-session", "-d", "-s", SESSION, "-x", str(width), "-y", str(height), command)
    try:
        steps = [
            ("first paint", None, "Ask anything", 15),
            ("engine ready", None, "ready", 60),
            ("streamed reply with metadata", "Name two colours.\r", "TTFT", 120),
            ("history screen", "F3", "Any model", 15),
            ("stats screen", "Escape F4", "since", 30),
            ("leaderboard", "Escape F8", "Leaderboard", 15),
            ("experiments", "Escape F12", "No experiments in this profile", 15),
            ("help", "Escape F1", "Ask the last prompt again", 15),
            ("conversation settings", "Escape C-s", "System prompt", 15),
            ("ask another model", "Escape C-r", "Ask the last prompt again, of", 15),
            # "Copied the reply … to the clipboard", or, with no clipboard here, where the text was saved.
            ("copy the reply", "Escape C-o", "the reply (", 15),
        ]
        for name, keys, landmark, timeout in steps:
            for key in (keys or "").split(" ") if keys and not keys.endswith("\r") else []:
                tmux("send-keys", "-t", SESSION, key)
                time.sleep(0.5)
            if keys and keys.endswith("\r"):
                tmux("send-keys", "-t", SESSION, "-l", keys[:-1])
                tmux("send-keys", "-t", SESSION, "Enter")
            try:
                shown = wait_for(landmark, timeout)
            except AssertionError as exc:
                problems.append(f"{width}x{height} {name}: {exc}")
                break
            if "Traceback" in shown:
                problems.append(f"{width}x{height} {name}: a traceback is on screen")
            print(f"  {width}x{height} {name}: ok")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    return problems


def main() -> int:
    if shutil.which("tmux") is None:
        print("tmux is not installed (Debian: apt-get install tmux)", file=sys.stderr)
        return 2
    os.environ.pop("TMUX", None)
    problems = check(80, 24) + check(200, 50)
    for problem in problems:
        print(problem, file=sys.stderr)
    print("all checks passed" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
