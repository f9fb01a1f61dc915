"""Ordering a tier's usable models by price, expected latency and health, per the route's policy."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from playground.config.catalog import ModelInfo
from playground.config.profile import Selection
from playground.router.drift import DRIFT_PENALTY
from playground.router.health import ModelHealth


@dataclass(frozen=True)
class Estimate:
    info: ModelInfo
    cost: float | None
    latency_s: float | None
    error_rate: float
    score: float | None = None
    samples: int = 0
    """Measured replies behind `latency_s`."""
    drift: str = ""
    """What moved beyond the model's recent range (router.drift), if anything: it costs the model its place."""
    cost_boost: float = 1.0
    """The factor on the cost weight as a spend limit nears (router.budget)."""


def estimate(info: ModelInfo, input_tokens: int, output_tokens: int, health: ModelHealth | None,
             drift: str = "", cost_boost: float = 1.0) -> Estimate:
    health = health or ModelHealth()
    return Estimate(info, info.cost(input_tokens, output_tokens), health.expected_latency(output_tokens),
                    health.error_rate, samples=health.samples, drift=drift, cost_boost=cost_boost)


def _normalised(values: list[float | None]) -> list[float]:
    """Each value over the largest; unknown values count as the largest (no free pass for no data)."""
    known = [v for v in values if v is not None]
    top = max(known, default=0.0)
    return [1.0 if v is None else (v / top if top > 0 else 0.0) for v in values]


def order(estimates: list[Estimate], policy: str, weights: Selection, rng: random.Random) -> list[Estimate]:
    if len(estimates) < 2:
        return estimates
    if policy in ("first", "cheapest", "fastest", "balance"):
        # Policies without a cost or health dial: near a spend limit they become `cheapest`, and a drifted
        # model goes behind the others (the sort is stable, so the policy's order stands among equals).
        if any(e.cost_boost > 1 for e in estimates):
            policy = "cheapest"
        return sorted(_by_policy(estimates, policy, rng), key=lambda e: bool(e.drift))
    costs = _normalised([e.cost for e in estimates])
    latencies = _normalised([e.latency_s for e in estimates])
    scored = [replace(e, score=weights.cost * e.cost_boost * c + weights.latency * lat
                      + weights.health * (e.error_rate + (DRIFT_PENALTY if e.drift else 0.0)))
              for e, c, lat in zip(estimates, costs, latencies)]
    return sorted(scored, key=lambda e: e.score if e.score is not None else math.inf)


def _by_policy(estimates: list[Estimate], policy: str, rng: random.Random) -> list[Estimate]:
    if policy == "first":
        return estimates
    if policy == "cheapest":
        return sorted(estimates, key=lambda e: (e.cost is None, e.cost or 0.0))
    if policy == "fastest":
        return sorted(estimates, key=lambda e: (e.latency_s is None, e.latency_s or 0.0))
    pool, chosen = list(estimates), []
    while pool:  # balance: weighted sampling without replacement; the first pick carries the traffic share
        pick = rng.choices(range(len(pool)), weights=[e.info.spec.weight for e in pool])[0]
        chosen.append(pool.pop(pick))
    return chosen
