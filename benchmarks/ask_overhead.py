"""End-to-end overhead of `playground ask` over a bare litellm.acompletion stream, same server, same run.

(a) one process, warm: ChatService.send() (routing, SQLite writes, token accounting) vs a bare
    litellm.acompletion(stream=True), interleaved, against the same scripted local server;
(b) whole processes, cold: `python -m playground ask --json` vs a script that imports LiteLLM and makes one
    bare streamed call (and, for scale, one that only imports LiteLLM).

The stub server runs in a child process so its threads do not share a GIL with the client being timed.

    .venv/bin/python -m benchmarks.ask_overhead [--n 30] [--runs 5] [--words 200]
"""

from __future__ import annotations

import os

# Before anything imports litellm: otherwise it downloads its price map at import time.
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import argparse
import asyncio
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.openai_server import Behaviour
from tests.support.server_process import ServerProcess

ROOT = Path(__file__).resolve().parent.parent

MODEL = "openai/bench"
PROMPT = "hello"
WARMUP = 3

BARE_CALL = """
import asyncio, os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
import litellm
litellm.suppress_debug_info = True
async def main():
    stream = await litellm.acompletion(model=sys.argv[2], api_base=sys.argv[1], api_key="x", stream=True,
                                       messages=[{"role": "user", "content": sys.argv[3]}], max_retries=0)
    text = ""
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    print(len(text.split()))
asyncio.run(main())
"""
IMPORT_ONLY = 'import os; os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"; import litellm'


# Figures ---------------------------------------------------------------------------------------------

def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def row(label: str, samples: list[float]) -> None:
    print(f"  {label:<46} {ms(statistics.median(samples)):>10} {ms(p95(samples)):>10} {len(samples):>4}")


def header(title: str) -> None:
    print(f"\n{title}")
    print(f"  {'':<46} {'median ms':>10} {'p95 ms':>10} {'n':>4}")


def compare(bare: list[float], ours: list[float], unit: str) -> None:
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"  {'overhead (difference of medians)':<46} {ms(o - b):>10} ms {unit}")
    print(f"  {'ratio of medians (playground / bare)':<46} {o / b:>10.2f}x")


# (a) in process --------------------------------------------------------------------------------------

PHASES = ("TurnStarted", "Routed", "AttemptStarted", "TextDelta", "AttemptEnded", "ReplyDone")


async def in_process(api_base: str, home: Path, n: int, words: int) -> dict:
    import litellm

    from playground.providers import engine
    from playground.services.events import ReplyDone
    from playground.services.session import open_session

    # The module ChatService uses, configured once (quiet, drop_params, the local provider): both paths
    # share it, so the difference is the playground's own work.
    assert engine.load() is litellm
    profile = home / "bench.yaml"
    profile.write_text(f"version: 1\nname: bench\nmodels:\n  bench: {{model: {MODEL}, api_base: '{api_base}'}}\n"
                       "tiers: {only: [bench]}\nroutes: [{name: all, tier: only}]\n")
    session = open_session(str(profile), home / "in-process.db")
    messages = [{"role": "user", "content": PROMPT}]

    async def bare(marks: dict[str, float] | None = None) -> None:
        started = time.perf_counter()
        stream = await litellm.acompletion(model=MODEL, api_base=api_base, api_key="x", stream=True,
                                           messages=messages, max_retries=0)
        text = []
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                if marks is not None and not text:
                    marks["first text"] = time.perf_counter() - started
                text.append(chunk.choices[0].delta.content)
        if len("".join(text).split()) != words:
            raise RuntimeError(f"bare stream returned {len(''.join(text).split())} words, expected {words}")

    async def ours(marks: dict[str, float] | None = None) -> None:
        started = time.perf_counter()
        async for event in session.chat.send(PROMPT):
            name = type(event).__name__
            if marks is not None and name not in marks:
                marks[name] = time.perf_counter() - started
            if isinstance(event, ReplyDone):
                reply = event.reply
                if reply.status != "complete" or len(reply.text.split()) != words:
                    raise RuntimeError(f"ChatService reply {reply.status}: {len(reply.text.split())} words")

    for _ in range(WARMUP):
        await bare()
        await ours()
    bare_times, our_times, bare_marks, our_marks = [], [], [], []
    for _ in range(n):  # interleaved, so drift (CPU frequency, other load) hits both alike
        marks: dict[str, float] = {}
        started = time.perf_counter()
        await bare(marks)
        bare_times.append(time.perf_counter() - started)
        bare_marks.append(marks)
        marks = {}
        started = time.perf_counter()
        await ours(marks)
        our_times.append(time.perf_counter() - started)
        our_marks.append(marks)
    session.store.close()
    return {"bare": bare_times, "ours": our_times, "bare_marks": bare_marks, "our_marks": our_marks}


def report_in_process(result: dict, n: int) -> None:
    header(f"(a) in process, warm: {n} interleaved requests each, after {WARMUP} warm-up requests")
    row("bare litellm.acompletion(stream=True)", result["bare"])
    row("ChatService.send() (playground ask's core)", result["ours"])
    compare(result["bare"], result["ours"], "per request")

    print("\n  where ChatService.send() spends it (median ms from the call to each event's first arrival)")
    bare_first = [m["first text"] for m in result["bare_marks"]]
    for name in PHASES:
        samples = [m[name] for m in result["our_marks"] if name in m]
        label = "first TextDelta" if name == "TextDelta" else name
        print(f"    {label:<44} {ms(statistics.median(samples)):>10}")
    print(f"    {'bare: first text chunk':<44} {ms(statistics.median(bare_first)):>10}")


# (b) whole processes ---------------------------------------------------------------------------------

def processes(api_base: str, home: Path, runs: int, words: int) -> dict[str, list[float]]:
    env = {**os.environ, "PLAYGROUND_HOME": str(home / "ask-home")}
    env.pop("PLAYGROUND_DB", None)
    commands = {
        "import": [sys.executable, "-c", IMPORT_ONLY],
        "bare": [sys.executable, "-c", BARE_CALL, api_base, MODEL, PROMPT],
        "ask": [sys.executable, "-m", "playground", "ask", PROMPT, "--model", MODEL, "--api-base", api_base,
                "--json"],
    }
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for run in range(runs + 1):  # the first round warms the page cache and .pyc files; not counted
        for name, command in commands.items():
            started = time.perf_counter()
            done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
            elapsed = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(f"{name} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
            if name == "bare" and int(done.stdout.split()[-1]) != words:
                raise RuntimeError(f"bare process received {done.stdout.strip()} words, expected {words}")
            if name == "ask":
                reply = json.loads(done.stdout)
                if reply["status"] != "complete" or len(reply["text"].split()) != words:
                    raise RuntimeError(f"ask reply {reply['status']}: {len(reply['text'].split())} words")
            if run:
                samples[name].append(elapsed)
    return samples


def report_processes(samples: dict[str, list[float]], runs: int) -> None:
    header(f"(b) whole processes, cold: {runs} runs each, after 1 uncounted round")
    row("python -c 'import litellm' (reference)", samples["import"])
    row("python -c '<import litellm, one bare stream>'", samples["bare"])
    row("python -m playground ask --json", samples["ask"])
    compare(samples["bare"], samples["ask"], "per process")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="in-process requests per side (default 30)")
    parser.add_argument("--runs", type=int, default=5, help="process runs per command (default 5)")
    parser.add_argument("--words", type=int, default=200, help="words the stub streams, one per chunk")
    parser.add_argument("--words-per-chunk", type=int, default=1)
    args = parser.parse_args()
    text = " ".join(f"word{i}" for i in range(args.words))
    began = time.perf_counter()
    bench = Behaviour(text=text, words_per_chunk=args.words_per_chunk)
    with tempfile.TemporaryDirectory(prefix="pg-bench-") as tmp, ServerProcess({MODEL.split("/")[-1]: bench}) as server:
        api = server.api_base
        home = Path(tmp)
        chunks = math.ceil(args.words / args.words_per_chunk)
        print(f"stub server {api}: model {MODEL!r} streams {args.words} words in {chunks} chunks, no delay")
        print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPUs")
        report_in_process(asyncio.run(in_process(api, home, args.n, args.words)), args.n)
        report_processes(processes(api, home, args.runs, args.words), args.runs)
    print(f"\ntotal benchmark time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
