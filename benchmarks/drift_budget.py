"""Drift and budget reads on the 100k-attempt store of `history_scale`: what the monitor costs after each
turn, against the day-cost query every turn already runs (the baseline, same store, same run).

Target: a whole refresh (every model's drift and the profile's spend) <= 20 ms p95, off the event loop.
Then the drift rule on synthetic streams: false alarms on steady models and turns to detect a step, against
a naive rule (means and ratios, no spread, no test) on the same streams.

    .venv/bin/python -m benchmarks.drift_budget [--db PATH] [--runs 50]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from benchmarks.history_scale import MODELS, _line, _timed, generate
from playground.config.catalog import build_catalog
from playground.config.profile import Profile
from playground.history.store import Store
from playground.router import RouteRequest, decide, drift
from playground.router import budget as budgets
from playground.services.monitor import read_drift, read_spend

TARGET_MS = 20.0


def _stream(rng: random.Random, n: int, step_at: int | None, ttft_factor: float, error_rates: tuple[float, float],
            sigma: float) -> list[drift.Observation]:
    """Oldest first: TTFT lognormal around 0.8 s, steady speed, Bernoulli errors; a step at `step_at`."""
    found = []
    for i in range(n):
        after = step_at is not None and i >= step_at
        failed = rng.random() < error_rates[after]
        ttft = rng.lognormvariate(math.log(0.8), sigma) * (ttft_factor if after else 1.0)
        found.append(drift.Observation(float(i), failed, None if failed else ttft,
                                       None if failed else rng.lognormvariate(math.log(80), 0.2)))
    return found


def _naive(window: list[drift.Observation]) -> bool:
    """The baseline rule: the last 10 replies' mean TTFT over 1.5× the 50 before, or their error rate over
    twice theirs (and at least 2 errors)."""
    recent, base = window[:drift.RECENT], window[drift.RECENT:drift.RECENT + drift.BASELINE]
    if len(base) < drift.MIN_BASELINE:
        return False
    mean = [statistics.fmean(t) if (t := [o.ttft_s for o in w if o.ttft_s is not None]) else 0.0
            for w in (recent, base)]
    errors = [sum(o.failed for o in w) / len(w) for w in (recent, base)]
    return mean[0] > 1.5 * mean[1] or (sum(o.failed for o in recent) >= 2 and errors[0] > 2 * errors[1])


def _simulate(trials: int) -> None:
    """False alarms per turn on steady streams, and turns until a step is flagged, for the drift rule and the
    naive baseline, on the same synthetic streams (a turn refreshes drift, so each turn is a test)."""
    rng = random.Random(11)
    cases = [("steady, TTFT spread 0.3", None, 1.0, (0.05, 0.05), 0.3),
             ("steady, TTFT spread 0.6 (heavy tail)", None, 1.0, (0.05, 0.05), 0.6),
             ("TTFT ×2 at turn 300", 300, 2.0, (0.05, 0.05), 0.3),
             ("errors 5% → 30% at turn 300", 300, 1.0, (0.05, 0.30), 0.3)]
    print(f"{'synthetic streams, ' + str(trials) + ' × 600 turns':44} {'drift rule':>24} {'naive baseline':>24}")
    print("(steady: share of turns flagged; a step: median turns until flagged, and streams never flagged)")
    for name, step_at, factor, errors, sigma in cases:
        alarms = {"rule": 0, "naive": 0}
        delays: dict[str, list[int]] = {"rule": [], "naive": []}
        turns = 0
        for _ in range(trials):
            stream = _stream(rng, 600, step_at, factor, errors, sigma)
            seen = {"rule": None, "naive": None}
            for end in range(drift.RECENT + drift.MIN_BASELINE, len(stream)):
                window = stream[max(0, end - drift.RECENT - drift.BASELINE):end][::-1]
                verdicts = {"rule": drift.assess("m", window).flagged, "naive": _naive(window)}
                if step_at is None or end <= step_at:
                    turns += 1
                    for key, flagged in verdicts.items():
                        alarms[key] += flagged
                else:
                    for key, flagged in verdicts.items():
                        if flagged and seen[key] is None:
                            seen[key] = end - step_at
            for key in delays:
                delays[key].append(seen[key] if seen[key] is not None else 10_000)
        if step_at is None:
            cells = [f"{alarms[k] / turns:.2%} of turns flagged" for k in ("rule", "naive")]
        else:
            cells = [f"{statistics.median(delays[k]):.0f} turns, {sum(d == 10_000 for d in delays[k])} missed"
                     for k in ("rule", "naive")]
        print(f"{name:44} {cells[0]:>24} {cells[1]:>24}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="reuse (or create) the generated store here")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--trials", type=int, default=20, help="synthetic streams per case for the drift rule")
    args = parser.parse_args()
    db = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="pg-drift-")) / "big.db"
    if not db.exists():
        print(f"generating {db} …")
        generate(db)
    started = time.perf_counter()
    store = Store(db)  # applies pending migrations (the drift and spend indexes) once
    print(f"open (with any pending migration): {time.perf_counter() - started:.2f} s")
    aliases = [alias for alias, *_ in MODELS]
    # The generated history ends in the past: read it as of its last attempt, so the month has spend in it.
    last = store.db.execute("SELECT max(started_at) FROM attempts").fetchone()[0]
    now = datetime.fromisoformat(last)
    profile = Profile.model_validate({
        "name": "default", "models": {alias: {"model": f"openai/{alias}", "price": {"input_per_mtok": i,
                                                                                    "output_per_mtok": o}}
                                      for alias, i, o in MODELS},
        "tiers": {"main": aliases}, "routes": [{"name": "all", "tier": "main"}],
        "budget": {"daily_usd": 5, "monthly_usd": 100, "models": {"gpt-4.1": {"daily_usd": 2}}}})

    spend = read_spend(store, profile, now)
    month = sum(spend.month.values(), budgets.Spend())
    print(f"spend this month (as of {last[:10]}): ${month.known_usd:.2f} over "
          f"{sum(1 for _ in spend.month)} models, {month.unpriced} unpriced")
    baseline = _timed(store.today_cost, args.runs)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month_baseline = _timed(lambda: store.cost_since(month_start), args.runs)
    drift_times = _timed(lambda: read_drift(store, aliases, now.timestamp()), args.runs)
    spend_times = _timed(lambda: read_spend(store, profile, now), args.runs)
    refresh = [d + s for d, s in zip(drift_times, spend_times)]
    print(_line("baseline: today_cost (every turn)", baseline))
    print(_line("baseline: cost_since(month start), all profiles", month_baseline))
    print(_line(f"drift, {len(aliases)} models", drift_times))
    print(_line("spend, the profile's month by model", spend_times))
    print(_line("refresh (drift + spend)", refresh, TARGET_MS))
    print(f"spend / cost_since(month start): {statistics.median(spend_times) / statistics.median(month_baseline):.2f}x")

    catalog = build_catalog(profile, env={})
    found = read_drift(store, aliases, now.timestamp())
    status = budgets.assess(profile.budget, spend)
    request = RouteRequest("explain this stack trace please", 8, 8)
    rng = random.Random(1)
    plain = _timed(lambda: decide(request, profile, catalog, rng=rng, now=0.0), args.runs * 10)
    watched = _timed(lambda: decide(request, profile, catalog, rng=rng, now=0.0, drift=found, budget=status),
                     args.runs * 10)
    print(_line("decide()", plain))
    print(_line("decide() with drift and budget", watched))
    print(f"decide with / without: {statistics.median(watched) / statistics.median(plain):.2f}x")
    print("flagged: " + (", ".join(f"{a}: {d.summary()}" for a, d in found.items() if d.flagged) or "none"))
    store.close()
    _simulate(args.trials)


if __name__ == "__main__":
    main()
