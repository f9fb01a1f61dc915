"""Decision time per prompt: our rules router against LiteLLM's own routing in the same run.

Baselines: litellm.Router's deployment selection (`get_available_deployment`, simple-shuffle over a
model group) and its offline complexity router (`ComplexityRouter.classify`, rule-based scoring).
Target: a rules-only profile decides in p50 <= 100 µs.

    .venv/bin/python -m benchmarks.router_decision [--n 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from playground.base import tokens
from playground.base.paths import resolve_profile
from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.router import RouteRequest, decide
from playground.router.health import HealthTracker

PROMPTS = [
    "hi!",
    "What is the capital of Australia?",
    "#code write a function that reverses a linked list",
    "```python\ndef f(x):\n    return x * 2\n```\nWhy does this return the wrong type?",
    "Prove that the square root of two is irrational, step by step.",
    " ".join(["Summarise the following meeting notes for the team and list the action items."] * 14),  # ~200 tokens
]

KEYS = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY", "DEEPSEEK_API_KEY", "GROQ_API_KEY"]


def timed(fn, n: int) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - started)
    return sorted(samples)


def report(name: str, samples: list[float]) -> float:
    p50 = statistics.median(samples)
    p95 = samples[int(len(samples) * 0.95)]
    print(f"{name:52} p50 {p50 * 1e6:8.1f} µs   p95 {p95 * 1e6:8.1f} µs")
    return p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()

    profile = load_profile(resolve_profile("default"))
    env = {key: "bench-not-a-key" for key in KEYS}  # every cloud model counts as available
    catalog = build_catalog(profile, env=env)
    health = HealthTracker(profile.cooldown).snapshot()
    requests = [RouteRequest(p, tokens.count_text(p), tokens.count_text(p) + 10) for p in PROMPTS]
    tokens.count_text("warm")
    print(f"{len(catalog.models)} models, {len(profile.routes)} routes; {len(PROMPTS)} prompts round-robin; "
          f"n={args.n}\n")

    ours = report("playground decide() (rules-only default profile)",
                  timed(lambda i: decide(requests[i % len(requests)], profile, catalog, health=health, now=0.0),
                        args.n))
    with_tokens = report("  … including tiktoken counting of the prompt",
                         timed(lambda i: decide(RouteRequest(PROMPTS[i % len(PROMPTS)],
                                                             tokens.count_text(PROMPTS[i % len(PROMPTS)]), 20),
                                                profile, catalog, health=health, now=0.0), args.n))

    import litellm
    from litellm.router_strategy.complexity_router.complexity_router import ComplexityRouter

    litellm.suppress_debug_info = True
    deployments = [{"model_name": "cheap", "litellm_params": {"model": f"openai/m{i}", "api_key": "x"}}
                   for i in range(6)]
    router = litellm.Router(model_list=deployments, num_retries=0, timeout=30)
    messages = [[{"role": "user", "content": p}] for p in PROMPTS]
    router_p50 = report("litellm.Router.get_available_deployment (6 deployments)",
                        timed(lambda i: router.get_available_deployment(model="cheap", messages=messages[i % 6]),
                              args.n))
    complexity = ComplexityRouter("smart", router, {"tiers": {"SIMPLE": "cheap", "MEDIUM": "cheap",
                                                              "COMPLEX": "cheap", "REASONING": "cheap"}})
    complexity_p50 = report("litellm ComplexityRouter.classify (offline rules)",
                            timed(lambda i: complexity.classify(PROMPTS[i % len(PROMPTS)]), args.n))

    print(f"\nours / Router deployment selection: {ours / router_p50:.2f}x")
    print(f"ours / ComplexityRouter.classify:    {ours / complexity_p50:.2f}x")
    print(f"target rules-only p50 <= 100 µs: {'met' if ours <= 100e-6 else 'NOT met'} ({ours * 1e6:.1f} µs; "
          f"{with_tokens * 1e6:.1f} µs with token counting)")


if __name__ == "__main__":
    main()
