"""Drift: a model whose latest figures have moved beyond the range of its own recent past.

Pure: history supplies each model's latest attempts and judgements (good/bad marks, compare votes),
newest first. The rule, per model and signal, compares a *recent* window (the model's last RECENT
attempts, or last QUALITY_RECENT judgements) with the *baseline* just before it (up to BASELINE more):

- Windows are counted in replies, not hours: traffic is bursty, and a fixed count gives every test
  the same sample size whatever the hour. A window too small to judge flags nothing (MIN_* counts).
- TTFT and tokens/s are skewed and have outliers (a cold start, a stall), so the baseline's range is
  robust: median ± SPREAD × 1.4826 × MAD (the MAD scaled to a standard deviation for normal data).
  The recent *median* must cross that single-reply range (a conservative test: the median of several
  replies varies far less than one reply) and also move by at least MIN_CHANGE of the baseline (and
  TTFT by MIN_TTFT_RISE_S), so a very steady model (a MAD near zero) is not flagged for milliseconds.
- Error rate and quality are proportions: a one-sided two-proportion test, Fisher's exact test at ALPHA,
  with at least MIN_EVENTS bad outcomes in the recent window. Exact, because the counts are small: the
  pooled z-test's normal approximation flagged a steady model with 5% errors on 0.6% of turns (three
  errors in ten after a lucky baseline), Fisher's on 0.12% (`python -m benchmarks.drift_budget`).
- Only worse counts (slower, more errors, worse judged): a model that got better needs no action.
- Evidence goes stale: with no attempt for FRESH_S, findings lapse, so a model that lost its traffic
  through a flag is tried again later instead of being shunned for ever on old evidence.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from playground.base.intervals import fisher_greater

RECENT = 10
BASELINE = 50
MIN_BASELINE = 20
"""Attempts (for the error rate) or timed replies (TTFT, speed) the baseline needs."""
MIN_RECENT_TIMED = 5
"""Timed successful replies the recent window needs for TTFT and speed."""
QUALITY_RECENT = 10
QUALITY_BASELINE = 50
QUALITY_MIN_BASELINE = 10
SPREAD = 3.0
MAD_TO_SIGMA = 1.4826
MIN_CHANGE = 0.5
"""TTFT must rise by half, or speed fall by a third (1 / 1.5), of the baseline median, besides the MADs."""
MIN_TTFT_RISE_S = 0.25
"""And TTFT must rise by at least this much: a wait a person notices, not scheduling noise."""
ALPHA = 0.01
"""One-sided significance of the proportion tests: they run after every turn, so false alarms add up."""
MIN_EVENTS = 3
FRESH_S = 24 * 3600.0
DRIFT_PENALTY = 1.0
"""Added to a drifted model's error rate in the weighted score (times the health weight): it is ranked as if
it had failed every recent request, which costs it the first place unless it is far cheaper or faster."""


@dataclass(frozen=True)
class Observation:
    """One attempt that says something about the model (not cancelled, not a bad request of ours)."""

    at: float
    """When it started (epoch seconds)."""
    failed: bool
    ttft_s: float | None = None
    tokens_per_s: float | None = None


@dataclass(frozen=True)
class Judgement:
    at: float
    good: bool


@dataclass(frozen=True)
class Signal:
    """One figure, recent against baseline, and whether it crossed the baseline's range."""

    name: str
    """"errors", "ttft", "speed" or "quality" (share of judgements that were bad)."""
    recent: float
    baseline: float
    recent_n: int
    baseline_n: int
    bound: float | None = None
    """The edge of the baseline's range the recent figure was held against (TTFT and speed)."""
    drifted: bool = False

    def describe(self) -> str:
        if self.name in ("errors", "quality"):
            what = "errors" if self.name == "errors" else "judged bad"
            return f"{what} {self.recent:.0%} of the last {self.recent_n} vs {self.baseline:.0%} of " \
                   f"{self.baseline_n} before"
        label, way = ("TTFT", "up") if self.name == "ttft" else ("speed", "down")
        edge = "" if self.bound is None else f", range {way} to {_show(self.name, self.bound)}"
        return f"{label} {_show(self.name, self.recent)} (median of last {self.recent_n}) vs " \
               f"{_show(self.name, self.baseline)} before{edge}"


    def short(self) -> str:
        """"TTFT 0.52 s, was 0.48 s": the figure now and before, in a few words."""
        if self.name in ("errors", "quality"):
            what = "errors" if self.name == "errors" else "judged bad"
            return f"{what} {self.recent:.0%}, was {self.baseline:.0%}"
        label = "TTFT" if self.name == "ttft" else "speed"
        return f"{label} {_show(self.name, self.recent)}, was {_show(self.name, self.baseline)}"


def _show(name: str, value: float) -> str:
    if name != "ttft":
        return f"{value:.0f} tok/s"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


@dataclass(frozen=True)
class ModelDrift:
    alias: str
    signals: tuple[Signal, ...] = ()
    stale: bool = False
    """No attempt for FRESH_S: the figures are shown but flag nothing."""

    @property
    def findings(self) -> tuple[Signal, ...]:
        return () if self.stale else tuple(s for s in self.signals if s.drifted)

    @property
    def flagged(self) -> bool:
        return bool(self.findings)

    def summary(self) -> str:
        """What moved, in one line; empty when nothing did."""
        return "; ".join(s.describe() for s in self.findings)


def _proportion_worse(bad_recent: int, n_recent: int, bad_base: int, n_base: int) -> bool:
    if bad_recent < MIN_EVENTS or bad_recent / n_recent <= bad_base / n_base:
        return False
    # Fisher's exact test, one-sided: with the bad outcomes of both windows pooled, the chance that the
    # recent window drew at least this many of them.
    return fisher_greater(bad_recent, n_recent, bad_base, n_base) < ALPHA


def _proportion(name: str, recent: Sequence[bool], base: Sequence[bool], minimum: int) -> Signal | None:
    """`recent` and `base`: True for a bad outcome."""
    if not recent or len(base) < minimum:
        return None
    bad_recent, bad_base = sum(recent), sum(base)
    return Signal(name, bad_recent / len(recent), bad_base / len(base), len(recent), len(base),
                  drifted=_proportion_worse(bad_recent, len(recent), bad_base, len(base)))


def _spread(name: str, recent: list[float], base: list[float], higher_is_worse: bool) -> Signal | None:
    if len(recent) < MIN_RECENT_TIMED or len(base) < MIN_BASELINE:
        return None
    middle = statistics.median(base)
    sigma = MAD_TO_SIGMA * statistics.median(abs(x - middle) for x in base)
    now = statistics.median(recent)
    if higher_is_worse:
        bound = max(middle + SPREAD * sigma, middle * (1 + MIN_CHANGE), middle + MIN_TTFT_RISE_S)
        drifted = now > bound
    else:
        bound = min(middle - SPREAD * sigma, middle / (1 + MIN_CHANGE))
        drifted = now < bound
    return Signal(name, now, middle, len(recent), len(base), bound, drifted)


def assess(alias: str, observations: Sequence[Observation], judgements: Sequence[Judgement] = (),
           now: float | None = None) -> ModelDrift:
    """`observations` and `judgements` newest first (only the first RECENT + BASELINE, and QUALITY_RECENT +
    QUALITY_BASELINE, are read)."""
    recent, base = observations[:RECENT], observations[RECENT:RECENT + BASELINE]
    signals: list[Signal | None] = []
    if len(recent) == RECENT:
        signals.append(_proportion("errors", [o.failed for o in recent], [o.failed for o in base], MIN_BASELINE))

        def timed(window: Sequence[Observation], field: str) -> list[float]:
            return [v for o in window if not o.failed and (v := getattr(o, field)) is not None]

        signals.append(_spread("ttft", timed(recent, "ttft_s"), timed(base, "ttft_s"), higher_is_worse=True))
        signals.append(_spread("speed", timed(recent, "tokens_per_s"), timed(base, "tokens_per_s"),
                               higher_is_worse=False))
    judged_recent = judgements[:QUALITY_RECENT]
    if len(judged_recent) == QUALITY_RECENT:
        signals.append(_proportion("quality", [not j.good for j in judged_recent],
                                   [not j.good for j in judgements[QUALITY_RECENT:QUALITY_RECENT + QUALITY_BASELINE]],
                                   QUALITY_MIN_BASELINE))
    latest = max([o.at for o in observations[:1]] + [j.at for j in judgements[:1]], default=None)
    stale = now is not None and latest is not None and now - latest > FRESH_S
    return ModelDrift(alias, tuple(s for s in signals if s is not None), stale)
