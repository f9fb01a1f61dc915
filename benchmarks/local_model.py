"""Embedded model speed: generation tokens/s with the old thread choice (one per logical CPU) and the new one
(PLAYGROUND_LOCAL_THREADS, else physical cores minus one), on an idle machine and beside one busy process.

    .venv/bin/python -m benchmarks.local_model [--runs 3] [--tokens 48] [--seconds 15]

Both models are loaded in this process and measured in alternation, so both see the same machine; the
competing load is one `python -c 'while 1: pass'` at normal priority, as any other program would be.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

from playground.config.local_model import gguf_path, local_threads, physical_cores, runtime_problem

PROMPT = [{"role": "user", "content": "Write a short paragraph about the sea."}]


def tokens_per_second(llama, tokens: int, seconds: float) -> float:
    """Decode speed: tokens after the first one, over the time since the first one (prompt reading excluded).
    A run stops after `seconds`, so a starved configuration cannot stretch the benchmark to many minutes."""
    llama.reset()
    first = None
    count = 0
    started = time.perf_counter()
    for chunk in llama.create_chat_completion(messages=PROMPT, max_tokens=tokens, temperature=0.0, stream=True,
                                              seed=1):
        if chunk["choices"][0].get("delta", {}).get("content"):
            count += 1
            if first is None:
                first = time.perf_counter()
        if time.perf_counter() - started > seconds:
            break
    return (count - 1) / (time.perf_counter() - first) if first and count > 1 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--seconds", type=float, default=15, help="longest run")
    args = parser.parse_args()
    # Killed or interrupted, it still stops the busy process it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    problem = runtime_problem()
    if problem:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 1
    from llama_cpp import Llama

    choices = {"old: every logical CPU": os.cpu_count() or 2, "new: local_threads()": local_threads()}
    print(f"{os.cpu_count()} logical CPUs, {physical_cores()} physical cores; load average "
          f"{os.getloadavg()[0]:.2f} at start")
    models = {name: Llama(model_path=str(gguf_path()), n_ctx=512, n_threads=n, n_threads_batch=n, verbose=False)
              for name, n in choices.items()}
    for llama in models.values():  # warm-up: page the weights in
        tokens_per_second(llama, 4, args.seconds)

    results: dict[tuple[str, str], list[float]] = {}
    for condition in ("idle", "beside 1 busy process"):
        hog = None
        if condition != "idle":
            hog = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
            time.sleep(0.5)
        try:
            for _ in range(args.runs):
                for name, llama in models.items():
                    speed = tokens_per_second(llama, args.tokens, args.seconds)
                    results.setdefault((condition, name), []).append(speed)
                    print(f"  {condition}, {name}: {speed:.1f} tok/s", flush=True)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()

    print(f"\ngeneration tok/s, median of {args.runs} runs of up to {args.tokens} tokens or {args.seconds:g} s "
          f"(min-max); load average {os.getloadavg()[0]:.2f} at the end")
    for condition in ("idle", "beside 1 busy process"):
        medians = {}
        for name, n in choices.items():
            runs = results[(condition, name)]
            medians[name] = statistics.median(runs)
            print(f"  {condition:22} {name:24} {n} threads: {medians[name]:6.1f}  ({min(runs):.1f}-{max(runs):.1f})")
        old, new = medians.values()
        print(f"  {condition:22} new / old: {new / old:.2f}x" if old else f"  {condition:22} old made no tokens")
    for llama in models.values():
        llama.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
