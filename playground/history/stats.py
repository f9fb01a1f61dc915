"""Spend and quality aggregates over the history store: per day, model and route; latency
percentiles; error and fallback rates; votes; savings against a baseline model."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime, timedelta

from playground.base.records import Cost
from playground.config.catalog import ModelInfo
from playground.history import queries
from playground.history.store import Store


@dataclass(frozen=True)
class Percentiles:
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class Outcomes:
    """Replies whose success is known (feedback, votes, a cascade's checks) and what they cost: every call
    behind them, fallbacks, escalations and judges included."""

    judged: int = 0
    successes: int = 0
    cost_usd: float = 0.0
    """The priced part."""
    unpriced: int = 0
    """Calls behind these replies that had no known price: the cost per success is then unknown, never low."""

    @property
    def cost_per_success(self) -> float | None:
        """None when nothing succeeded or any call's price is unknown (as JSON: null)."""
        return self.cost_usd / self.successes if self.successes and not self.unpriced else None

    @property
    def per_success(self) -> Cost | None:
        """The cost per success with its unknown part kept (shown as "$x + unknown"); None without a success."""
        return Cost(self.cost_usd / self.successes, self.unpriced) if self.successes else None

    def add(self, success: bool, cost: float, unpriced: int = 0) -> Outcomes:
        return Outcomes(self.judged + 1, self.successes + int(success), self.cost_usd + cost,
                        self.unpriced + unpriced)


@dataclass(frozen=True)
class Escalations:
    """A cascade's checks on answers: how many were checked and how many failed (and were escalated from)."""

    checked: int = 0
    failed: int = 0

    @property
    def rate(self) -> float | None:
        return self.failed / self.checked if self.checked else None


@dataclass(frozen=True)
class Votes:
    """Side-by-side verdicts on the prompts this model answered."""

    shown: int = 0
    wins: int = 0
    ties: int = 0
    all_bad: int = 0


class _PricedPart:
    """A spend figure whose `cost_usd` is the priced part and `unpriced` counts the calls with no known price."""

    cost_usd: float
    unpriced: int

    @property
    def cost(self) -> Cost:
        """The figure as shown: "$x + unknown" when any call behind it had no known price, never a lower $x."""
        return Cost(self.cost_usd, self.unpriced)


@dataclass(frozen=True)
class ModelStats(_PricedPart):
    model_alias: str
    requests: int
    cancelled: int
    """Stopped by the user: neither a success nor an error, but what they cost is spent."""
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    """The priced part; `unpriced` requests had no known price."""
    ttft: Percentiles
    latency: Percentiles
    unpriced: int = 0
    votes: Votes = Votes()
    outcomes: Outcomes = Outcomes()
    escalations: Escalations = Escalations()
    """This model's answers a cascade checked, and those that failed (another model was asked)."""

    @property
    def error_rate(self) -> float:
        finished = self.requests - self.cancelled
        return self.errors / finished if finished else 0.0


@dataclass(frozen=True)
class RouteStats(_PricedPart):
    route: str
    turns: int
    cost_usd: float
    outcomes: Outcomes = Outcomes()
    escalations: Escalations = Escalations()
    """The route's first answers a cascade checked, and those that failed: its escalation rate."""
    unpriced: int = 0


@dataclass(frozen=True)
class DaySpend(_PricedPart):
    day: str
    requests: int
    cost_usd: float
    """The priced part."""
    unpriced: int = 0


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
    """Prompts sent, counted by first attempts: a prompt put to several models side by side counts once each."""
    requests: int
    cancelled: int
    errors: int
    answered: int
    """Replies that an attempt answered (a prompt put to several models side by side has one each)."""
    fallbacks: int
    """Answered replies whose answer came from a model other than the first one tried for them."""
    retries: int
    """Attempts on a model already tried for the same reply: retries, not fallbacks."""
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
    def cost(self) -> Cost:
        return Cost(self.cost_usd, self.unpriced_requests)

    @property
    def error_rate(self) -> float:
        finished = self.requests - self.cancelled
        return self.errors / finished if finished else 0.0

    @property
    def fallback_rate(self) -> float:
        """Share of answered replies that a fallback model answered."""
        return self.fallbacks / self.answered if self.answered else 0.0

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
    # One pass over a covering index, grouped finely enough for every per-model and per-route figure;
    # the groups (models × routes) are few next to the attempts.
    groups = store.read(queries.totals_by_model_route, since)
    checks = store.read(queries.escalations_by_model_route, since)
    day_groups = store.read(queries.spend_by_day, since, round(offset.total_seconds() / 60))

    models = _totals(groups, "model_alias")
    routes = _totals(groups, "route")
    model_checks = _totals(checks, "model_alias", _CHECKED)
    route_checks = _totals(checks, "route", _CHECKED)
    model_outcomes, route_outcomes = _outcomes(store, since)
    votes = {row["model"]: Votes(row["shown"], row["wins"], row["ties"], row["all_bad"])
             for row in store.read(queries.votes_by_model, since)}
    by_model = [ModelStats(
        model_alias=alias, requests=int(row["requests"]), cancelled=int(row["cancelled"]), errors=int(row["errors"]),
        input_tokens=int(row["input_tokens"]), output_tokens=int(row["output_tokens"]), cost_usd=row["cost_usd"],
        ttft=_percentiles(store, "ttft_ms", since, int(row["timed_ttft"]), alias),
        latency=_percentiles(store, "latency_ms", since, int(row["timed_latency"]), alias),
        unpriced=int(row["unpriced"]), votes=votes.get(alias, Votes()), outcomes=model_outcomes.get(alias, Outcomes()),
        escalations=Escalations(*_escalations(model_checks.get(alias), "checked", "check_failed")),
    ) for alias, row in sorted(models.items(), key=lambda item: (-item[1]["cost_usd"], item[0]))]

    savings = None
    if baseline is not None:
        baseline_usd = baseline.cost(int(sum(r["ok_input"] for r in models.values())),
                                     int(sum(r["ok_output"] for r in models.values())))
        if baseline_usd is not None:
            savings = Savings(baseline.alias, sum(r["cost_usd"] for r in models.values()), baseline_usd)

    return Stats(
        since=since, turns=int(sum(r["turns"] for r in models.values())), requests=sum(m.requests for m in by_model),
        cancelled=sum(m.cancelled for m in by_model), errors=sum(m.errors for m in by_model),
        answered=int(sum(r["answered"] for r in models.values())),
        fallbacks=int(sum(r["fallbacks"] for r in models.values())),
        retries=int(sum(r["retries"] for r in models.values())),
        input_tokens=sum(m.input_tokens for m in by_model), output_tokens=sum(m.output_tokens for m in by_model),
        cost_usd=sum(m.cost_usd for m in by_model), unpriced_requests=int(sum(r["unpriced"] for r in models.values())),
        ttft=_percentiles(store, "ttft_ms", since, int(sum(r["timed_ttft"] for r in models.values()))),
        latency=_percentiles(store, "latency_ms", since, int(sum(r["timed_latency"] for r in models.values()))),
        by_day=[DaySpend(row["day"], row["requests"], row["cost_usd"], row["unpriced"]) for row in day_groups],
        by_model=by_model,
        by_route=[RouteStats(route, int(row["turns"]), row["cost_usd"], route_outcomes.get(route, Outcomes()),
                             Escalations(*_escalations(route_checks.get(route), "first_checked", "escalated")),
                             int(row["unpriced"]))
                  for route, row in sorted(routes.items(), key=lambda item: (-item[1]["cost_usd"], item[0] or ""))],
        savings=savings,
    )


def _percentiles(store: Store, column: str, since: datetime | None, count: int,
                 model_alias: str | None = None) -> Percentiles:
    """`percentiles()` of the `count` successful attempts' `column`, computed by the store."""
    if not count:
        return Percentiles(None, None)
    return Percentiles(*store.read(queries.percentiles, column, since, model_alias, count, (0.50, 0.95)))


_SUMMED = ("requests", "cancelled", "errors", "input_tokens", "output_tokens", "cost_usd", "unpriced", "ok_input",
           "ok_output", "timed_ttft", "timed_latency", "turns", "answered", "retries", "fallbacks")
_CHECKED = ("checked", "check_failed", "first_checked", "escalated")


def _totals(groups: list, key: str, summed: tuple[str, ...] = _SUMMED) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(summed, 0))
    for row in groups:
        into = totals[row[key]]
        for name in summed:
            into[name] += row[name]
    return dict(totals)


def _escalations(row: dict[str, float] | None, checked: str, failed: str) -> tuple[int, int]:
    return (int(row[checked]), int(row[failed])) if row else (0, 0)


def _outcomes(store: Store, since: datetime | None) -> tuple[dict[str, Outcomes], dict[str, Outcomes]]:
    """Success per model and per route, from good/bad feedback on replies, from side-by-side votes (the
    winner and both sides of a tie succeeded; 'all_bad' failed them all), and from a cascade's checks on
    replies nobody marked (its last checked answer passed or not)."""
    by_model: dict[str, Outcomes] = defaultdict(Outcomes)
    by_route: dict[str, Outcomes] = defaultdict(Outcomes)

    def add(model: str, route: str | None, success: bool, cost: float, unpriced: int) -> None:
        by_model[model] = by_model[model].add(success, cost, int(unpriced))
        if route:
            by_route[route] = by_route[route].add(success, cost, int(unpriced))

    for row in store.read(queries.feedback_outcomes, since):
        add(row["model_alias"], row["route"], bool(row["good"]), row["cost"], row["unpriced"])
    for row in store.read(queries.vote_outcomes, since):
        success = row["outcome"] == "tie" or (row["outcome"] == "win" and row["winner"] == row["model"])
        add(row["model"], row["route"], success, row["cost"], row["unpriced"])
    for row in store.read(queries.check_outcomes, since):
        add(row["model_alias"], row["route"], bool(row["good"]), row["cost"], row["unpriced"])
    return dict(by_model), dict(by_route)
