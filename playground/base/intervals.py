"""95% confidence intervals and two-sided tests for proportions and for ratios of sums (cost per success)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

Z95 = 1.959963984540054
"""The standard normal's 97.5th percentile: a two-sided 95% interval or test."""


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def wilson(successes: int, n: int, z: float = Z95) -> Interval | None:
    """Wilson score interval of a proportion (sound near 0 and 1, unlike estimate ± z·SE); None with no data."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def proportions_differ(s1: int, n1: int, s2: int, n2: int, z: float = Z95) -> float | None:
    """The pooled two-proportion z statistic of p1 − p2 when the rates differ at the level `z` stands for.

    With fewer than 5 expected successes or failures in either group the normal approximation is not to
    be trusted (a bandit starves its losing arm of samples): the difference must then also pass Fisher's
    exact test at that level."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (s1 + s2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return None
    statistic = (s1 / n1 - s2 / n2) / spread
    if abs(statistic) < z:
        return None
    if min(n * p for n in (n1, n2) for p in (pooled, 1 - pooled)) < 5 and \
            fisher_exact(s1, n1, s2, n2) > 2 * (1 - _normal_cdf(z)):
        return None
    return statistic


def _hypergeometric(n1: int, n2: int, successes: int) -> Callable[[int], float]:
    """With the margins fixed, the chance that group 1 (of n1) holds k of the `successes` (of n1 + n2)."""
    whole = math.comb(n1 + n2, successes)
    return lambda k: math.comb(n1, k) * math.comb(n2, successes - k) / whole


def fisher_exact(s1: int, n1: int, s2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test on the 2×2 table (successes, failures) × (group 1, group 2):
    the probability, with the margins fixed, of a table no more likely than the one observed."""
    successes = s1 + s2
    chance = _hypergeometric(n1, n2, successes)
    observed = chance(s1)
    low, high = max(0, successes - n2), min(successes, n1)
    return min(1.0, sum(p for k in range(low, high + 1) if (p := chance(k)) <= observed * (1 + 1e-9)))


def fisher_greater(s1: int, n1: int, s2: int, n2: int) -> float:
    """One-sided p-value of Fisher's exact test: with the margins fixed, the chance that group 1 holds at
    least s1 of the successes."""
    chance = _hypergeometric(n1, n2, s1 + s2)
    return sum(chance(k) for k in range(s1, min(s1 + s2, n1) + 1))


def _normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


@dataclass(frozen=True)
class RatioEstimate:
    """Σcost / Σsuccess over n observations, with its delta-method (normal approximation) standard error."""

    ratio: float
    se: float

    def interval(self, z: float = Z95) -> Interval:
        return Interval(self.ratio, max(0.0, self.ratio - z * self.se), self.ratio + z * self.se)


def ratio_of_sums(n: int, cost: float, successes: int, cost_squared: float,
                  cost_of_successes: float) -> RatioEstimate | None:
    """Cost per success R = Σc/Σs over n observations (s is 0 or 1), from sums. Var(R) ≈ Σ(cᵢ − R·sᵢ)² /
    ((n − 1)·n·s̄²), the ratio estimator's delta-method variance, where Σ(c − R·s)² = Σc² − 2R·Σcs + R²·Σs.
    None below two observations or with no success."""
    if n < 2 or successes == 0:
        return None
    ratio = cost / successes
    mean_successes = successes / n
    residual = max(0.0, cost_squared - 2 * ratio * cost_of_successes + ratio * ratio * successes) / (n - 1)
    return RatioEstimate(ratio, math.sqrt(residual / n) / mean_successes)


def ratios_differ(a: RatioEstimate, b: RatioEstimate, z: float = Z95) -> float | None:
    """The z statistic of a − b (independent samples), when |z| ≥ `z`."""
    spread = math.hypot(a.se, b.se)
    if spread == 0:
        return None
    statistic = (a.ratio - b.ratio) / spread
    return statistic if abs(statistic) >= z else None
