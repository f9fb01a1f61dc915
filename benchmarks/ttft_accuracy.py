"""TTFT and total latency as the app reports them against the server's own clock, cold and warm, same run.

The server (tests/support/openai_server.py, in a child process) notes when each request's connection
was accepted, when it wrote the first text chunk and when it wrote the last byte. The app's figures
should match: (a) warm, one process, `AttemptStream` N times; (b) cold, `python -m playground ask --json`
per request, where LiteLLM's import and first-call set-up must not count. The baseline is the same
stream read by bare `litellm.acompletion`, timed naively from the call, in the same process.

    .venv/bin/python -m benchmarks.ttft_accuracy [--n 30] [--cold 30] [--delay 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playground.config.catalog import ModelInfo
from playground.config.profile import ModelSpec, Timeouts
from playground.providers import engine
from playground.providers.stream import AttemptStream
from tests.support.openai_server import Behaviour
from tests.support.server_process import ServerProcess

ROOT = Path(__file__).resolve().parent.parent

TEXT = " ".join(f"word{i}" for i in range(20))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def report(label: str, errors: list[float]) -> None:
    absolute = [abs(e) * 1000 for e in errors]
    print(f"  {label:<40} {statistics.median(absolute):>8.1f} {p95(absolute):>8.1f} {max(absolute):>8.1f} "
          f"{len(errors):>4}")


async def warm(api_base: str, n: int) -> tuple[list, list]:
    info = ModelInfo("m", ModelSpec(model="openai/m", api_base=api_base), True, None, None, None, None, None)
    litellm = engine.load()
    ours, bare = [], []
    for _ in range(n):
        stream = AttemptStream(info, [{"role": "user", "content": "hi"}], route="r", reason="bench", hop=0,
                               timeouts=Timeouts(), secrets=[])
        async for _piece in stream:
            pass
        ours.append((stream.attempt.ttft_s, stream.attempt.latency_s))
        started = time.perf_counter()
        first = None
        response = await litellm.acompletion(model="openai/m", api_base=api_base, api_key="x", stream=True,
                                             messages=[{"role": "user", "content": "hi"}], max_retries=0)
        async for chunk in response:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        bare.append((first, time.perf_counter() - started))
    return ours, bare


def cold(api_base: str, n: int) -> list:
    figures = []
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, PLAYGROUND_HOME=home)
        for index in range(n):
            result = subprocess.run([sys.executable, "-m", "playground", "ask", f"q{index}", "--json", "--model",
                                     "openai/m", "--api-base", api_base], capture_output=True, text=True, env=env,
                                    cwd=ROOT, timeout=120)
            if result.returncode != 0:
                raise SystemExit(f"ask failed: {result.stderr.strip()}")
            attempt = json.loads(result.stdout)["attempts"][-1]
            figures.append((attempt["ttft_s"], attempt["latency_s"], attempt["setup_s"]))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="warm requests")
    parser.add_argument("--cold", type=int, default=30, help="cold processes")
    parser.add_argument("--delay", type=float, default=0.1, help="the server's wait before its first chunk")
    args = parser.parse_args()
    behaviour = Behaviour(text=TEXT, first_chunk_delay=args.delay, chunk_delay=0.005)
    with ServerProcess({"m": behaviour}) as server:
        ours, bare = asyncio.run(warm(server.api_base, args.n))
        warm_server = server.timings()
        processes = cold(server.api_base, args.cold)
        cold_server = server.timings()[len(warm_server):]
    ours_server, bare_server = warm_server[0::2], warm_server[1::2]
    print(f"server: first chunk after {args.delay * 1000:.0f} ms, 20 chunks 5 ms apart")
    print(f"\n|app - server| in ms{'':<21} {'median':>8} {'p95':>8} {'max':>8} {'n':>4}")
    report("warm TTFT (playground)", [o[0] - s[1] for o, s in zip(ours, ours_server)])
    report("warm TTFT (bare acompletion, from call)", [b[0] - s[1] for b, s in zip(bare, bare_server)])
    report("warm total (playground)", [o[1] - s[2] for o, s in zip(ours, ours_server)])
    report("warm total (bare acompletion, from call)", [b[1] - s[2] for b, s in zip(bare, bare_server)])
    report("cold TTFT (playground ask)", [c[0] - s[1] for c, s in zip(processes, cold_server)])
    report("cold total (playground ask)", [c[1] - s[2] for c, s in zip(processes, cold_server)])
    setup = [c[2] * 1000 for c in processes]
    print(f"\ncold set-up before the request left (reported apart): median {statistics.median(setup):.1f} ms, "
          f"p95 {p95(setup):.1f} ms")


if __name__ == "__main__":
    main()
