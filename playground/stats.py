"""Aggregates over history: spend, requests, tokens, latency percentiles, errors, fallbacks, savings."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

from playground.store import Store


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of the values, None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(q * 100 * len(ordered)) // 100))  # ceil(q × n), at least the first value
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class ModelStats:
    model: str
    attempts: int = 0
    failures: int = 0
    spend_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    ttft_ms: list[float] = field(default_factory=list, repr=False)
    latency_ms: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k not in ("ttft_ms", "latency_ms")}
        return data | {
            "error_rate": self.failures / self.attempts if self.attempts else 0.0,
            "ttft_p50_ms": percentile(self.ttft_ms, 0.5), "ttft_p95_ms": percentile(self.ttft_ms, 0.95),
            "latency_p50_ms": percentile(self.latency_ms, 0.5), "latency_p95_ms": percentile(self.latency_ms, 0.95),
        }


@dataclass
class Stats:
    since: str | None
    turns: int = 0
    answered: int = 0
    fell_back: int = 0
    attempts: int = 0
    failures: int = 0
    spend_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    per_day: dict[str, dict] = field(default_factory=dict)
    per_model: dict[str, ModelStats] = field(default_factory=dict)
    per_route: dict[str, dict] = field(default_factory=dict)
    baseline: dict | None = None

    def to_dict(self) -> dict:
        return {
            "since": self.since, "turns": self.turns, "answered": self.answered, "attempts": self.attempts,
            "failures": self.failures, "spend_usd": self.spend_usd, "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "error_rate": self.failures / self.attempts if self.attempts else 0.0,
            "fallback_rate": self.fell_back / self.answered if self.answered else 0.0,
            "per_day": self.per_day, "per_model": {m: s.to_dict() for m, s in self.per_model.items()},
            "per_route": self.per_route, "baseline": self.baseline,
        }


def compute(store: Store, since: str | None = None,
            baseline: tuple[str, float, float] | None = None) -> Stats:
    """`since` is an ISO date or time (UTC); `baseline` is (model, $ per input token, $ per output token):
    what the same token counts would have cost on that one model."""
    stats = Stats(since)
    where, params = ("WHERE started_at >= ?", (since,)) if since else ("", ())
    with store._lock:
        rows = store.db.execute(
            "SELECT reply_message_id, hop, model_alias, route, started_at, ttft_ms, latency_ms, input_tokens, "
            f"output_tokens, cost_usd, failure FROM attempts {where} ORDER BY id", params).fetchall()
    turns: dict[int, list] = defaultdict(list)
    for row in rows:
        reply, hop, model, route, started, ttft, latency, tokens_in, tokens_out, cost, failure = row
        turns[reply].append(row)
        if failure == "cancelled":
            continue
        m = stats.per_model.setdefault(model, ModelStats(model))
        m.attempts += 1
        stats.attempts += 1
        cost = cost or 0.0
        m.spend_usd += cost
        stats.spend_usd += cost
        day = stats.per_day.setdefault(started[:10], {"spend_usd": 0.0, "attempts": 0})
        day["spend_usd"] += cost
        day["attempts"] += 1
        if failure:
            m.failures += 1
            stats.failures += 1
            continue
        m.input_tokens += tokens_in or 0
        m.output_tokens += tokens_out or 0
        stats.input_tokens += tokens_in or 0
        stats.output_tokens += tokens_out or 0
        if ttft is not None:
            m.ttft_ms.append(ttft)
        if latency is not None:
            m.latency_ms.append(latency)
    saved_tokens = [0, 0]
    for attempts in turns.values():
        stats.turns += 1
        answer = next((a for a in attempts if a[10] is None), None)
        route = attempts[0][3] or "?"
        bucket = stats.per_route.setdefault(route, {"turns": 0, "answered": 0, "spend_usd": 0.0})
        bucket["turns"] += 1
        bucket["spend_usd"] += sum(a[9] or 0.0 for a in attempts)
        if answer is not None:
            stats.answered += 1
            bucket["answered"] += 1
            stats.fell_back += answer[1] > 0
            saved_tokens[0] += answer[7] or 0
            saved_tokens[1] += answer[8] or 0
    if baseline is not None:
        model, input_price, output_price = baseline
        would_cost = saved_tokens[0] * input_price + saved_tokens[1] * output_price
        stats.baseline = {"model": model, "would_cost_usd": would_cost, "actual_usd": stats.spend_usd,
                          "saved_usd": would_cost - stats.spend_usd}
    for route, bucket in stats.per_route.items():
        bucket["cost_per_answer_usd"] = bucket["spend_usd"] / bucket["answered"] if bucket["answered"] else None
    return stats
