"""Spend and quality aggregates over the history store: per day, model and route; latency
percentiles; error and fallback rates; votes; savings against a baseline model."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime, timedelta

from playground.catalog import ModelInfo
from playground.store import Store, utc_text

@dataclass(frozen=True)
class Percentiles:
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class Outcomes:
    """Replies whose success is known (feedback, votes) and what they cost, fallbacks included."""

    judged: int = 0
    successes: int = 0
    cost_usd: float = 0.0

    @property
    def cost_per_success(self) -> float | None:
        return self.cost_usd / self.successes if self.successes else None

    def add(self, success: bool, cost: float) -> Outcomes:
        return Outcomes(self.judged + 1, self.successes + int(success), self.cost_usd + cost)


@dataclass(frozen=True)
class Votes:
    """Side-by-side verdicts on the prompts this model answered."""

    shown: int = 0
    wins: int = 0
    ties: int = 0
    all_bad: int = 0


@dataclass(frozen=True)
class ModelStats:
    model_alias: str
    requests: int
    cancelled: int
    """Stopped by the user: neither a success nor an error, but what they cost is spent."""
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    ttft: Percentiles
    latency: Percentiles
    votes: Votes = Votes()
    outcomes: Outcomes = Outcomes()

    @property
    def error_rate(self) -> float:
        finished = self.requests - self.cancelled
        return self.errors / finished if finished else 0.0


@dataclass(frozen=True)
class RouteStats:
    route: str
    turns: int
    cost_usd: float
    outcomes: Outcomes = Outcomes()


@dataclass(frozen=True)
class DaySpend:
    day: str
    requests: int
    cost_usd: float


@dataclass(frozen=True)
class Savings:
    """What the same successful calls would have cost on the baseline model, token for token,
    against what they did cost (failed hops included)."""

    baseline: str
    actual_usd: float
    baseline_usd: float

    @property
    def saved_usd(self) -> float:
        return self.baseline_usd - self.actual_usd


@dataclass(frozen=True)
class Stats:
    since: datetime | None
    turns: int
    requests: int
    cancelled: int
    errors: int
    fallback_turns: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unpriced_requests: int
    ttft: Percentiles
    latency: Percentiles
    by_day: list[DaySpend] = field(default_factory=list)
    by_model: list[ModelStats] = field(default_factory=list)
    by_route: list[RouteStats] = field(default_factory=list)
    savings: Savings | None = None

    @property
    def error_rate(self) -> float:
        finished = self.requests - self.cancelled
        return self.errors / finished if finished else 0.0

    @property
    def fallback_rate(self) -> float:
        return self.fallback_turns / self.turns if self.turns else 0.0

    @property
    def votes(self) -> Votes:
        return Votes(*(sum(getattr(m.votes, f) for m in self.by_model) for f in ("shown", "wins", "ties", "all_bad")))


def percentiles(values: list[float]) -> Percentiles:
    """Nearest-rank p50 and p95: always a value that was measured."""
    if not values:
        return Percentiles(None, None)
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return Percentiles(rank(0.50), rank(0.95))


def to_dict(value):
    """Stats as JSON-ready data, the derived rates and costs included."""
    if is_dataclass(value):
        data = {f.name: to_dict(getattr(value, f.name)) for f in fields(value)}
        derived = [name for name, attr in vars(type(value)).items() if isinstance(attr, property)]
        return data | {name: to_dict(getattr(value, name)) for name in derived}
    if isinstance(value, list):
        return [to_dict(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def local_utc_offset() -> timedelta:
    return datetime.now().astimezone().utcoffset() or timedelta(0)


def compute(store: Store, since: datetime | None = None, baseline: ModelInfo | None = None,
            utc_offset: timedelta | None = None) -> Stats:
    """Days are calendar days at `utc_offset` (the machine's current offset by default)."""
    offset = local_utc_offset() if utc_offset is None else utc_offset
    window = "started_at >= ?" if since else "1"
    params: tuple = (utc_text(since),) if since else ()

    models = store.query(
        f"SELECT model_alias, count(*) AS requests, count(*) FILTER (WHERE failure = 'cancelled') AS cancelled, "
        f"count(*) FILTER (WHERE failure != 'cancelled') AS errors, "
        f"coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens, "
        f"coalesce(sum(cost_usd), 0) AS cost_usd, count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced, "
        f"coalesce(sum(CASE WHEN failure IS NULL THEN input_tokens END), 0) AS ok_input, "
        f"coalesce(sum(CASE WHEN failure IS NULL THEN output_tokens END), 0) AS ok_output "
        f"FROM attempts WHERE {window} GROUP BY model_alias ORDER BY cost_usd DESC, model_alias",
        params)
    timings: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for alias, ttft, latency in store.query(
            f"SELECT model_alias, ttft_ms, latency_ms FROM attempts WHERE {window} AND failure IS NULL", params):
        if ttft is not None:
            timings[alias][0].append(ttft)
        if latency is not None:
            timings[alias][1].append(latency)
    turns = store.query(
        f"SELECT count(*) AS turns, coalesce(sum(fell_back), 0) AS fallbacks FROM (SELECT max(hop) > 0 AS fell_back "
        f"FROM attempts WHERE {window} GROUP BY prompt_message_id)", params)[0]
    days = store.query(
        f"SELECT date(started_at, ?) AS day, count(*) AS requests, coalesce(sum(cost_usd), 0) AS cost_usd "
        f"FROM attempts WHERE {window} GROUP BY day ORDER BY day",
        (f"{offset.total_seconds() / 60:+.0f} minutes", *params))
    routes = store.query(
        f"SELECT route, count(DISTINCT prompt_message_id) AS turns, coalesce(sum(cost_usd), 0) AS cost_usd "
        f"FROM attempts WHERE {window} GROUP BY route ORDER BY cost_usd DESC, route", params)

    model_outcomes, route_outcomes = _outcomes(store, since)
    votes = _votes(store, since)
    by_model = [ModelStats(
        model_alias=row["model_alias"], requests=row["requests"], cancelled=row["cancelled"], errors=row["errors"],
        input_tokens=row["input_tokens"], output_tokens=row["output_tokens"], cost_usd=row["cost_usd"],
        ttft=percentiles(timings[row["model_alias"]][0]), latency=percentiles(timings[row["model_alias"]][1]),
        votes=votes.get(row["model_alias"], Votes()), outcomes=model_outcomes.get(row["model_alias"], Outcomes()),
    ) for row in models]
    all_timings = list(timings.values())

    savings = None
    if baseline is not None:
        baseline_usd = baseline.cost(sum(r["ok_input"] for r in models), sum(r["ok_output"] for r in models))
        if baseline_usd is not None:
            savings = Savings(baseline.alias, sum(r["cost_usd"] for r in models), baseline_usd)

    return Stats(
        since=since, turns=turns["turns"], requests=sum(m.requests for m in by_model),
        cancelled=sum(m.cancelled for m in by_model),
        errors=sum(m.errors for m in by_model), fallback_turns=turns["fallbacks"],
        input_tokens=sum(m.input_tokens for m in by_model), output_tokens=sum(m.output_tokens for m in by_model),
        cost_usd=sum(m.cost_usd for m in by_model), unpriced_requests=sum(r["unpriced"] for r in models),
        ttft=percentiles([v for t in all_timings for v in t[0]]),
        latency=percentiles([v for t in all_timings for v in t[1]]),
        by_day=[DaySpend(row["day"], row["requests"], row["cost_usd"]) for row in days],
        by_model=by_model,
        by_route=[RouteStats(row["route"], row["turns"], row["cost_usd"], route_outcomes.get(row["route"], Outcomes()))
                  for row in routes],
        savings=savings,
    )


def _outcomes(store: Store, since: datetime | None) -> tuple[dict[str, Outcomes], dict[str, Outcomes]]:
    """Success per model and per route, from good/bad feedback on replies and from side-by-side votes
    (the winner and both sides of a tie succeeded; 'all_bad' failed them all)."""
    by_model: dict[str, Outcomes] = defaultdict(Outcomes)
    by_route: dict[str, Outcomes] = defaultdict(Outcomes)
    window = "WHERE created_at >= ?" if since else ""
    params: tuple = (utc_text(since),) if since else ()
    for row in store.query(
            "SELECT f.model_alias, f.route, f.good, (SELECT coalesce(sum(cost_usd), 0) FROM attempts a "
            f"WHERE a.reply_message_id = f.message_id) AS cost FROM (SELECT * FROM feedback {window}) f", params):
        by_model[row["model_alias"]] = by_model[row["model_alias"]].add(bool(row["good"]), row["cost"])
        if row["route"]:
            by_route[row["route"]] = by_route[row["route"]].add(bool(row["good"]), row["cost"])
    if store.has_table("votes"):
        for row in store.query(
                "SELECT v.route, v.outcome, v.winner_model_alias AS winner, j.value AS model, "
                "(SELECT coalesce(sum(cost_usd), 0) FROM attempts a WHERE a.prompt_message_id = v.prompt_message_id "
                " AND a.model_alias = j.value) AS cost "
                f"FROM (SELECT * FROM votes {window}) v, json_each(v.models) j", params):
            success = row["outcome"] == "tie" or (row["outcome"] == "win" and row["winner"] == row["model"])
            by_model[row["model"]] = by_model[row["model"]].add(success, row["cost"])
            if row["route"]:
                by_route[row["route"]] = by_route[row["route"]].add(success, row["cost"])
    return dict(by_model), dict(by_route)


def _votes(store: Store, since: datetime | None) -> dict[str, Votes]:
    if not store.has_table("votes"):
        return {}
    window = "WHERE created_at >= ?" if since else ""
    rows = store.query(
        "SELECT j.value AS model, count(*) AS shown, "
        "count(*) FILTER (WHERE v.outcome = 'win' AND v.winner_model_alias = j.value) AS wins, "
        "count(*) FILTER (WHERE v.outcome = 'tie') AS ties, count(*) FILTER (WHERE v.outcome = 'all_bad') AS all_bad "
        f"FROM (SELECT * FROM votes {window}) v, json_each(v.models) j GROUP BY j.value",
        (utc_text(since),) if since else ())
    return {row["model"]: Votes(row["shown"], row["wins"], row["ties"], row["all_bad"]) for row in rows}
