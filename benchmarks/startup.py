"""Time from process start to the TUI's first paint, and to ready, in a real pseudo-terminal.

First paint: the chat's welcome is drawn. Ready: the status line says "ready" (LiteLLM imported, the
local model loaded, the first prompt can be sent at once). Baselines in the same run: a minimal
Textual app (the floor any Textual TUI pays) and a bare `import litellm` (what the first paint would
cost if LiteLLM were imported up front).

    .venv/bin/python -m benchmarks.startup [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

MINIMAL_TEXTUAL = """
from textual.app import App
from textual.widgets import Static
class Hello(App):
    def compose(self):
        yield Static("Profile default")
Hello().run()
"""


def time_to_marker(argv: list[str], marker: bytes, env: dict[str, str], timeout: float = 30.0) -> float:
    """Seconds from spawning `argv` on a pty until `marker` appears in what it draws."""
    controller, terminal = pty.openpty()
    os.set_blocking(controller, False)
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdin=terminal, stdout=terminal, stderr=terminal, env=env,
                               start_new_session=True)
    os.close(terminal)
    seen = b""
    try:
        while time.perf_counter() - started < timeout:
            ready, _, _ = select.select([controller], [], [], 0.01)
            if ready:
                try:
                    seen += os.read(controller, 65536)
                except OSError:
                    break
                # Textual may split text into styled spans; compare with escapes removed.
                if marker in _plain(seen):
                    return time.perf_counter() - started
        raise RuntimeError(f"{argv[:3]}: marker {marker!r} not drawn within {timeout}s")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        os.close(controller)


def _plain(data: bytes) -> bytes:
    import re

    return re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", data)


def time_command(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="pg-bench-")
    env = dict(os.environ, PLAYGROUND_HOME=home, TERM="xterm-256color", COLUMNS="120", LINES="40",
               LITELLM_LOCAL_MODEL_COST_MAP="True")
    python = sys.executable
    cases = {
        "playground (first paint)": lambda: time_to_marker([python, "-m", "playground"], b"Profile default", env),
        "playground (ready)": lambda: time_to_marker([python, "-m", "playground"], "· ready".encode(), env, 120),
        "minimal Textual app": lambda: time_to_marker([python, "-c", MINIMAL_TEXTUAL], b"Profile default", env),
        "python -c 'import litellm'": lambda: time_command([python, "-c", "import litellm"], env),
    }
    for case in cases.values():  # warm the page cache and .pyc files
        case()
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, case in cases.items():  # interleaved, so machine noise hits every case alike
            results[name].append(case())
    print(f"{'case':32} {'median':>9} {'p90':>9} {'min':>9}   ({args.runs} runs, {os.cpu_count()} cores)")
    for name, values in results.items():
        values.sort()
        p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
        print(f"{name:32} {statistics.median(values) * 1000:7.0f}ms {p90 * 1000:7.0f}ms {values[0] * 1000:7.0f}ms")
    ours = statistics.median(results["playground (first paint)"])
    floor = statistics.median(results["minimal Textual app"])
    lite = statistics.median(results["python -c 'import litellm'"])
    ready = statistics.median(results["playground (ready)"])
    print(f"\nfirst paint / minimal Textual app: {ours / floor:.2f}x  (target <= 1.5x: "
          f"{'met' if ours / floor <= 1.5 else 'NOT met'})")
    print(f"first paint / import litellm:      {ours / lite:.2f}x  (below 1: LiteLLM loads after the paint)")
    print(f"ready / import litellm:            {ready / lite:.2f}x  (time to ready: {ready:.2f} s)")


if __name__ == "__main__":
    main()
