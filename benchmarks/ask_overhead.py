"""End-to-end overhead of `playground ask` over a bare litellm.acompletion stream, same server, same run.

(a) one process, warm: ChatService.send() (routing, SQLite writes, token accounting) vs a bare
    litellm.acompletion(stream=True), interleaved, against the same scripted local server; and vs the bare
    stream read as the playground reads it (what it skips of LiteLLM's work skipped too), which leaves the
    playground's own work;
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
import contextvars
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


def compare(bare: list[float], ours: list[float], unit: str, against: str = "bare") -> None:
    b, o = statistics.median(bare), statistics.median(ours)
    added = f"{ms(o - b):>10} {ms(p95(ours) - p95(bare)):>10}"
    ratio = f"ratio (playground / {against})"
    print(f"  {'overhead: difference of medians / of p95s':<46} {added} ms {unit}")
    print(f"  {ratio:<46} {o / b:>9.3f}x {p95(ours) / p95(bare):>9.3f}x (medians / p95s)")


# (a) in process --------------------------------------------------------------------------------------

PHASES = ("TurnStarted", "Routed", "AttemptStarted", "TextDelta", "AttemptEnded", "ReplyDone")


async def settle() -> None:
    """Let the previous request's leftovers finish before the next is timed: LiteLLM ends each stream by
    scheduling logging tasks, which would otherwise run inside whichever request comes next."""
    me = asyncio.current_task()
    for _ in range(500):
        if not [task for task in asyncio.all_tasks() if task is not me and not task.done()]:
            break
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.005)


async def in_process(api_base: str, home: Path, n: int, words: int) -> dict:
    import litellm

    from playground.providers import engine
    from playground.providers.stream import _one_iterator as one_iterator
    from playground.services.events import ReplyDone
    from playground.services.session import open_session

    # The module ChatService uses, configured once (quiet, drop_params, the local provider, the shared HTTP
    # client): both paths share it, so the difference is the playground's own work.
    assert engine.load() is litellm
    profile = home / "bench.yaml"
    profile.write_text(f"version: 1\nname: bench\nmodels:\n  bench: {{model: {MODEL}, api_base: '{api_base}'}}\n"
                       "tiers: {only: [bench]}\nroutes: [{name: all, tier: only}]\n")
    session = open_session(str(profile), home / "in-process.db")
    messages = [{"role": "user", "content": PROMPT}]

    async def read_text(stream, marks: dict[str, float], started: float, *, to_finish: bool = False) -> list[str]:
        """The streamed text, marking when its first piece came; `to_finish` stops at the finish reason."""
        text: list[str] = []
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                if not text:
                    marks["first text"] = time.perf_counter() - started
                text.append(chunk.choices[0].delta.content)
            if to_finish and chunk.choices and chunk.choices[0].finish_reason:
                break
        return text

    async def bare(marks: dict[str, float], **options) -> None:
        started = time.perf_counter()
        stream = await litellm.acompletion(model=MODEL, api_base=api_base, api_key="x", stream=True,
                                           messages=messages, max_retries=0, **options)
        text = await read_text(stream, marks, started)
        marks["total"] = time.perf_counter() - started
        if len("".join(text).split()) != words:
            raise RuntimeError(f"bare stream returned {len(''.join(text).split())} words, expected {words}")

    async def usage(marks: dict[str, float]) -> None:
        await bare(marks, stream_options={"include_usage": True})

    async def tail(marks: dict[str, float]) -> None:
        # LiteLLM read as ChatService's attempt reads it: the client's stream as its own iterator (no task per
        # chunk), and after the finish reason the provider's usage chunk and the end of the body read from
        # under LiteLLM's wrapper (no end-of-stream assembly). Against it, the difference is the playground's
        # own work alone.
        started = time.perf_counter()
        stream = await litellm.acompletion(model=MODEL, api_base=api_base, api_key="x", stream=True,
                                           messages=messages, max_retries=0, stream_options={"include_usage": True})
        one_iterator(stream)
        text = await read_text(stream, marks, started, to_finish=True)
        usage = None
        async for raw in stream.completion_stream:
            parsed = stream.chunk_creator(chunk=raw)
            usage = getattr(parsed, "usage", None) or usage
        await stream.aclose()
        marks["total"] = time.perf_counter() - started
        if len("".join(text).split()) != words or usage is None:
            raise RuntimeError(f"bare tail: {len(''.join(text).split())} words, usage {usage}")

    async def ours(marks: dict[str, float]) -> None:
        started = time.perf_counter()
        async for event in session.chat.send(PROMPT):
            name = type(event).__name__
            if name not in marks:
                marks[name] = time.perf_counter() - started
            if isinstance(event, ReplyDone):
                reply = event.reply
                if reply.status != "complete" or len(reply.text.split()) != words:
                    raise RuntimeError(f"ChatService reply {reply.status}: {len(reply.text.split())} words")
                if reply.attempts[-1].tokens_estimated:
                    raise RuntimeError("ChatService estimated the tokens although the server sent usage")
        marks["total"] = time.perf_counter() - started
        marks["first text"] = marks["TextDelta"]

    sides = {"bare": bare, "usage": usage, "tail": tail, "ours": ours}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}

    async def timed(name: str, record: bool) -> None:
        marks: dict[str, float] = {}
        # Each request in a task of its own with a fresh context, as separate callers would make them: no
        # context variable one side sets (the playground's send clock) is seen by the other.
        cpu = time.process_time()
        await asyncio.create_task(sides[name](marks), context=contextvars.Context())
        # CPU seconds of this process (every thread; the stub server is another process): unlike the wall
        # time, hardly moved by other processes competing for the cores.
        marks["cpu"] = time.process_time() - cpu
        if record:
            results[name].append(marks)
        await settle()

    for _ in range(WARMUP):
        for name in sides:
            await timed(name, record=False)
    order = list(sides)
    for i in range(n):  # interleaved, rotating who goes first, so drift and order hit every side alike
        for name in order[i % len(order):] + order[:i % len(order)]:
            await timed(name, record=True)
    session.store.close()
    return results


def report_in_process(results: dict, n: int, load: tuple[float, float]) -> None:
    header(f"(a) in process, warm: {n} interleaved requests each, after {WARMUP} warm-up requests "
           f"(1-min load average {load[0]:.2f} before, {load[1]:.2f} after)")
    labels = {"bare": "bare litellm.acompletion(stream=True)",
              "usage": "  the same with stream_options include_usage",
              "tail": "  the same, read as the playground reads it",
              "ours": "ChatService.send() (playground ask's core)"}
    titles = {"total": "wall time per request", "first text": "wall time to the first text",
              "cpu": "CPU time per request (this process, all threads)"}
    for figure, title in titles.items():
        print(f"  {title}")
        for name, label in labels.items():
            row(label, [m[figure] for m in results[name]])
        bare = [m[figure] for m in results["bare"]]
        compare(bare, [m[figure] for m in results["ours"]], "per request")
        # The playground's own work: against a bare stream that skips what the playground skips of LiteLLM's.
        tail = [m[figure] for m in results["tail"]]
        compare(tail, [m[figure] for m in results["ours"]], "per request", against="bare read alike")
    print("\n  where ChatService.send() spends it (median ms from the call to each event's first arrival)")
    for name in PHASES:
        samples = [m[name] for m in results["ours"] if name in m]
        label = "first TextDelta" if name == "TextDelta" else name
        print(f"    {label:<44} {ms(statistics.median(samples)):>10}")


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
    from playground.config import local_model

    if local_model.runtime_problem() is None and local_model.gguf_path() is not None:
        # As a new user's first command runs: the default profile, its semantic stage, the embedded model.
        commands["default"] = [sys.executable, "-m", "playground", "ask", "hi", "--json"]
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
            if name == "default" and json.loads(done.stdout)["status"] != "complete":
                raise RuntimeError(f"default-profile ask: {done.stdout[-2000:]}")
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
    if "default" in samples:
        row("python -m playground ask hi (default profile)", samples["default"])
        print("    (the semantic stage and the embedded model's reply: no bare counterpart)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="in-process requests per side (default 30)")
    parser.add_argument("--runs", type=int, default=5, help="process runs per command (default 5; 0 skips them)")
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
        before = os.getloadavg()[0]
        results = asyncio.run(in_process(api, home, args.n, args.words))
        report_in_process(results, args.n, (before, os.getloadavg()[0]))
        if args.runs:
            report_processes(processes(api, home, args.runs, args.words), args.runs)
    print(f"\ntotal benchmark time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
