"""Semantic routing: decision time with a warm route index, and accuracy on labelled intents.

Baseline in the same run: LiteLLM's offline ComplexityRouter.classify on the same prompts.
Target: p50 <= 15 ms for a 200-token prompt; accuracy >= 90% on clear-cut intents.

    .venv/bin/python -m benchmarks.semantic_routing [--n 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from playground.base import tokens
from playground.base.paths import resolve_profile
from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.router import RouteRequest, decide
from playground.router.embeddings import EmbeddingCache
from playground.router.semantic import build_index

INTENTS = Path(__file__).parent / "data" / "intents.jsonl"
LONG = ("Summarise the following meeting notes for the team and list the action items: the launch moved to "
        "March, design owes new mock-ups, legal reviews the terms, and support needs a FAQ. ") * 5


def percentile(samples: list[float], q: float) -> float:
    return sorted(samples)[min(len(samples) - 1, int(len(samples) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    profile = load_profile(resolve_profile("semantic"))
    catalog = build_catalog(profile, env={})
    started = time.perf_counter()
    index = build_index(profile, EmbeddingCache(Path(tempfile.mkdtemp()) / "e.db"))
    cold = time.perf_counter() - started
    n_tokens = tokens.count_text(LONG)
    request = RouteRequest(LONG, n_tokens, n_tokens + 7)
    for _ in range(5):
        decide(request, profile, catalog, semantic=index, now=0.0)
    samples = []
    for _ in range(args.n):
        t = time.perf_counter()
        decision = decide(request, profile, catalog, semantic=index, now=0.0)
        samples.append(time.perf_counter() - t)
    rows = [json.loads(line) for line in INTENTS.open()]
    correct = 0
    for row in rows:
        t_prompt = tokens.count_text(row["prompt"])
        d = decide(RouteRequest(row["prompt"], t_prompt, t_prompt + 7), profile, catalog, semantic=index, now=0.0)
        correct += d.route == row["intent"]

    import litellm
    from litellm.router_strategy.complexity_router.complexity_router import ComplexityRouter

    router = litellm.Router(model_list=[{"model_name": "m", "litellm_params": {"model": "openai/m", "api_key": "x"}}])
    complexity = ComplexityRouter("smart", router, {"tiers": {t: "m" for t in ("SIMPLE", "MEDIUM", "COMPLEX",
                                                                             "REASONING")}})
    baseline = []
    for _ in range(args.n):
        t = time.perf_counter()
        complexity.classify(LONG)
        baseline.append(time.perf_counter() - t)

    p50, base50 = statistics.median(samples), statistics.median(baseline)
    print(f"index: {sum(len(r.semantic.utterances) for r in profile.semantic_routes)} utterances, "
          f"built in {cold:.2f} s cold (model load + embedding)")
    print(f"decide() with semantic stage, {n_tokens}-token prompt: p50 {p50 * 1000:.1f} ms · "
          f"p95 {percentile(samples, 0.95) * 1000:.1f} ms (route {decision.route})")
    print(f"litellm ComplexityRouter.classify, same prompt:   p50 {base50 * 1000:.2f} ms (rules, no embedding)")
    print(f"ratio ours / complexity router: {p50 / base50:.1f}x")
    print(f"accuracy on {len(rows)} labelled intents: {correct / len(rows):.1%} ({correct}/{len(rows)})")
    print(f"targets: p50 <= 15 ms -> {'met' if p50 <= 0.015 else 'NOT met'}; accuracy >= 90% -> "
          f"{'met' if correct / len(rows) >= 0.9 else 'NOT met'}")


if __name__ == "__main__":
    main()
