"""Spend limits against spend so far: how close each limit is, what is left, and which models it stops.

Pure: the spend comes from history (`history.queries.spend_by_model`), the limits from the profile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from playground.base.money import dollars
from playground.config.profile import Budget, BudgetLimit

PRESSURE_FROM = 0.8
"""Share of a limit spent after which the router leans towards cheaper models."""
COST_BOOST = 4.0
"""How much the weighted selection's cost weight grows by the time a limit is reached: it is multiplied
by 1 + COST_BOOST × pressure, where pressure rises linearly from 0 at 80% of the limit to 1 at 100%
(×5 at the limit). A linear ramp keeps the shift gradual and easy to predict from the status line."""
PROFILE = ""
"""The scope of the profile's own limits (a model's limits are scoped by its alias)."""


@dataclass(frozen=True)
class Spend:
    """What was spent: the priced part, and how many attempts had no known price (never counted as $0)."""

    known_usd: float = 0.0
    unpriced: int = 0

    def __add__(self, other: Spend) -> Spend:
        return Spend(self.known_usd + other.known_usd, self.unpriced + other.unpriced)


@dataclass(frozen=True)
class SpendSnapshot:
    """A profile's spend by model alias, today and this month (local calendar)."""

    day: Mapping[str, Spend] = field(default_factory=dict)
    month: Mapping[str, Spend] = field(default_factory=dict)


@dataclass(frozen=True)
class Limit:
    scope: str
    """PROFILE, or the model alias the limit is for."""
    period: str
    """"today" or "this month"."""
    limit_usd: float
    spent: Spend

    @property
    def used(self) -> float:
        return self.spent.known_usd / self.limit_usd

    @property
    def left_usd(self) -> float:
        return max(0.0, self.limit_usd - self.spent.known_usd)

    @property
    def reached(self) -> bool:
        return self.spent.known_usd >= self.limit_usd

    @property
    def pressure(self) -> float:
        return min(1.0, max(0.0, (self.used - PRESSURE_FROM) / (1 - PRESSURE_FROM)))

    def describe(self) -> str:
        """"$4.80 of $5.00 spent today (excludes 2 unpriced replies)" for the profile or one model."""
        who = "" if self.scope == PROFILE else f" on {self.scope}"
        unpriced = "" if not self.spent.unpriced else \
            f" (excludes {self.spent.unpriced} unpriced repl{'y' if self.spent.unpriced == 1 else 'ies'})"
        return f"{dollars(self.spent.known_usd)} of {dollars(self.limit_usd)} spent{who} {self.period}{unpriced}"

    def left(self) -> str:
        """"$0.42 left today"; "≤$0.42" when unpriced replies may have used some of it."""
        if self.reached:
            return f"budget reached {self.period}"
        # Rounded down ("$5.00 left" must not be shown when a fraction of a cent is spent), after float noise.
        step = 100 if self.left_usd >= 1 else 10_000
        left = math.floor(round(self.left_usd * step, 6)) / step
        return f"{'≤' if self.spent.unpriced else ''}{dollars(left)} left {self.period}"


@dataclass(frozen=True)
class BudgetStatus:
    limits: tuple[Limit, ...] = ()

    def applying(self, alias: str) -> list[Limit]:
        return [limit for limit in self.limits if limit.scope in (PROFILE, alias)]

    def pressure(self, alias: str) -> float:
        return max((limit.pressure for limit in self.applying(alias)), default=0.0)

    def cost_boost(self, alias: str) -> float:
        """The factor on the weighted selection's cost weight for this model."""
        return 1.0 + COST_BOOST * self.pressure(alias)

    def reached(self, alias: str) -> Limit | None:
        """The limit that stops this model (the profile's first), if any."""
        return next((limit for limit in self.applying(alias) if limit.reached), None)

    def profile_pressure(self) -> float:
        """How near the profile's own limits (not single models') are to their end, 0 to 1."""
        return max((limit.pressure for limit in self.limits if limit.scope == PROFILE), default=0.0)

    def tightest(self) -> Limit | None:
        """The profile's limit with the least left: what the status line shows."""
        own = [limit for limit in self.limits if limit.scope == PROFILE]
        return min(own, key=lambda limit: limit.left_usd, default=None)


def _limits(scope: str, spec: BudgetLimit, day: Spend, month: Spend) -> list[Limit]:
    found = []
    if spec.daily_usd is not None:
        found.append(Limit(scope, "today", spec.daily_usd, day))
    if spec.monthly_usd is not None:
        found.append(Limit(scope, "this month", spec.monthly_usd, month))
    return found


def assess(spec: Budget | None, spend: SpendSnapshot) -> BudgetStatus:
    if spec is None:
        return BudgetStatus()
    limits = _limits(PROFILE, spec, sum(spend.day.values(), Spend()), sum(spend.month.values(), Spend()))
    for alias, model_spec in spec.models.items():
        limits += _limits(alias, model_spec, spend.day.get(alias, Spend()), spend.month.get(alias, Spend()))
    return BudgetStatus(tuple(limits))
