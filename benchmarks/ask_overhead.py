"""End-to-end overhead of `playground ask` over a bare litellm.acompletion stream, same server, same run.

(a) in one process, warm: ChatService.send() (routing, SQLite writes, accounting) vs the bare stream;
(b) whole processes, cold: `python -m playground ask --json` vs a script doing one bare call.

    .venv/bin/python benchmarks/ask_overhead.py [--n 30] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.openai_server import OpenAIStubServer  # noqa: E402

from playground.events import ReplyDone  # noqa: E402
from playground.providers import engine  # noqa: E402
from playground.session import open_session  # noqa: E402

TEXT = " ".join(f"word{i}" for i in range(200))
BARE = """
import asyncio, os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
import litellm
litellm.suppress_debug_info = True
async def main():
    stream = await litellm.acompletion(model="openai/bench", api_base=sys.argv[1], api_key="x", stream=True,
                                       messages=[{"role": "user", "content": "hello"}], max_retries=0)
    async for chunk in stream:
        pass
asyncio.run(main())
"""


def summary(name: str, samples: list[float]) -> float:
    p50 = statistics.median(samples)
    p95 = sorted(samples)[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(f"  {name:44} p50 {p50 * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms")
    return p50


async def in_process(api_base: str, home: Path, n: int) -> tuple[list[float], list[float]]:
    litellm = engine.load()
    profile = home / "bench.yaml"
    profile.write_text(f"name: bench\nmodels:\n  bench: {{model: openai/bench, api_base: '{api_base}'}}\n"
                       "tiers: {t: [bench]}\nroutes: [{name: all, tier: t}]\n")
    session = open_session(str(profile), home / "h.db")

    async def bare() -> None:
        stream = await litellm.acompletion(model="openai/bench", api_base=api_base, api_key="x", stream=True,
                                           messages=[{"role": "user", "content": "hello"}], max_retries=0)
        async for _ in stream:
            pass

    async def ours() -> None:
        async for event in session.chat.send("hello"):
            if isinstance(event, ReplyDone):
                assert event.reply.status == "complete"

    for _ in range(3):
        await bare()
        await ours()
    bare_samples, our_samples = [], []
    for _ in range(n):  # interleaved so drift hits both alike
        started = time.perf_counter()
        await bare()
        bare_samples.append(time.perf_counter() - started)
        started = time.perf_counter()
        await ours()
        our_samples.append(time.perf_counter() - started)
    return bare_samples, our_samples


def processes(api_base: str, home: Path, runs: int) -> tuple[list[float], list[float]]:
    env = {**os.environ, "PLAYGROUND_HOME": str(home)}
    ask = [sys.executable, "-m", "playground", "ask", "hello", "--model", "bench", "--api-base", api_base, "--json"]
    bare = [sys.executable, "-c", BARE, api_base]
    bare_samples, our_samples = [], []
    for _ in range(runs + 1):
        for command, samples in ((bare, bare_samples), (ask, our_samples)):
            started = time.perf_counter()
            subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            samples.append(time.perf_counter() - started)
    return bare_samples[1:], our_samples[1:]  # the first run of each warms the page cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="pg-bench-"))
    with OpenAIStubServer() as server:
        server.script("bench", text=TEXT, words_per_chunk=1)
        print(f"stub server streams {len(TEXT.split())} one-word chunks\n(a) in process, warm, n={args.n}")
        bare, ours = asyncio.run(in_process(server.api_base, home, args.n))
        b, o = summary("bare litellm.acompletion stream", bare), summary("playground ChatService.send", ours)
        print(f"  overhead {1000 * (o - b):.1f} ms per request · ratio {o / b:.2f}x")
        print(f"(b) whole processes, cold, runs={args.runs}")
        bare, ours = processes(server.api_base, home, args.runs)
        b, o = summary("python -c '<one bare litellm call>'", bare), summary("playground ask --json", ours)
        print(f"  overhead {1000 * (o - b):.0f} ms per process · ratio {o / b:.2f}x")


if __name__ == "__main__":
    main()
