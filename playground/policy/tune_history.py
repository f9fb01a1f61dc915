"""Tuning from your own history: selection weights from observed errors and latency, and per-route
model preferences from comparison votes and good/bad marks."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from playground.base.records import Outcome
from playground.config.profile import Profile
from playground.history.stats import percentiles
from playground.history.store import Store

MIN_ATTEMPTS = 5
"""A model needs this many attempts before its error rate or latency counts."""
MIN_JUDGEMENTS = 3
"""A route needs this many votes and marks before it gets a preference."""


@dataclass
class HistoryTuning:
    attempts: int
    error_rates: dict[str, float]
    latency_p50_ms: dict[str, float]
    judgements: dict[str, dict[str, int]] = field(default_factory=dict)
    """route → model → net score (wins and good marks minus losses and bad marks)."""


def observe(store: Store) -> HistoryTuning:
    attempts = store.recent_attempts(limit=100_000)
    errors: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    latencies: dict[str, list[float]] = defaultdict(list)
    for attempt in attempts:
        if attempt.failure == "cancelled":
            continue
        counts[attempt.model_alias] += 1
        if attempt.failure is not None:
            errors[attempt.model_alias] += 1
        elif attempt.latency_s is not None:
            latencies[attempt.model_alias].append(attempt.latency_s * 1000)
    observed = HistoryTuning(
        len(attempts), {m: errors[m] / n for m, n in counts.items() if n >= MIN_ATTEMPTS},
        {m: p50 for m, v in latencies.items() if len(v) >= MIN_ATTEMPTS and (p50 := percentiles(v).p50_ms) is not None})
    scores: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for vote in store.votes():
        for model in vote.models:
            if vote.outcome is Outcome.WIN:
                scores[vote.route][model] += 1 if model == vote.winner_model_alias else -1
            elif vote.outcome is Outcome.ALL_BAD:
                scores[vote.route][model] -= 1
    for route, model_alias, good in store.feedback_marks():
        if route and model_alias:
            scores[route][model_alias] += 1 if good else -1
    observed.judgements = {route: dict(models) for route, models in scores.items()}
    return observed


def tune_from_history(profile: Profile, store: Store, now: datetime | None = None) -> tuple[Profile, dict]:
    """The profile with weights and preferences adjusted to what history shows, and a report of why."""
    seen = observe(store)
    selection = profile.selection
    report: dict = {"attempts": seen.attempts}
    if len(seen.error_rates) >= 2:
        spread = max(seen.error_rates.values()) - min(seen.error_rates.values())
        # Models that fail more than others should lose more often: up to 5× the default weight.
        health = round(min(5.0, 1.0 + 10 * spread), 3)
        selection = selection.model_copy(update={"health": health})
        report["error_spread"] = round(spread, 4)
    if len(seen.latency_p50_ms) >= 2:
        fast, slow = min(seen.latency_p50_ms.values()), max(seen.latency_p50_ms.values())
        ratio = slow / fast if fast > 0 else 1.0
        # A latency gap worth noticing (2× and more) earns latency a say next to price.
        latency = round(min(2.0, max(0.1, 0.3 * math.log2(max(ratio, 1.0)) + 0.1)), 3)
        selection = selection.model_copy(update={"latency": latency})
        report["latency_ratio"] = round(ratio, 2)
    routes = []
    preferred = {}
    for route in profile.routes:
        votes = seen.judgements.get(route.name, {})
        members = {info for info in profile.tiers.get(route.tier, ()) if not info.startswith("tag:")}
        liked = [m for m, score in sorted(votes.items(), key=lambda kv: -kv[1])
                 if score > 0 and m in profile.models and (m in members or not members)]
        if sum(abs(v) for v in votes.values()) >= MIN_JUDGEMENTS and liked:
            preferred[route.name] = liked
            route = route.model_copy(update={"prefer": tuple(liked)})
        routes.append(route)
    report["preferences"] = preferred
    report["selection"] = selection.model_dump()
    provenance = {"history_tuned_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
                  "history_attempts": seen.attempts, "health_weight": selection.health,
                  "latency_weight": selection.latency, "preferred_routes": len(preferred)}
    tuned = profile.model_copy(update={"selection": selection, "routes": tuple(routes), "provenance": provenance})
    return Profile.model_validate(tuned.model_dump(by_alias=True)), report
