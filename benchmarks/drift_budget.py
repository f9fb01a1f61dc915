"""Drift and budget reads on the 100k-attempt store of `history_scale`: what the monitor costs after each
turn, against the day-cost query every turn already runs (the baseline, same store, same run).

Target: a whole refresh (every model's drift and the profile's spend) <= 20 ms p95, off the event loop.

    .venv/bin/python -m benchmarks.drift_budget [--db PATH] [--runs 50]
"""

from __future__ import annotations

import argparse
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
from playground.router import RouteRequest, decide
from playground.router import budget as budgets
from playground.services.monitor import read_drift, read_spend

TARGET_MS = 20.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="reuse (or create) the generated store here")
    parser.add_argument("--runs", type=int, default=50)
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


if __name__ == "__main__":
    main()
