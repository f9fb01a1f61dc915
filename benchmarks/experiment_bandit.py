"""Experiments: Thompson sampling against a fixed even split on simulated outcomes, how often the stats'
"better at 95%" fires (rightly, and wrongly on equal arms), and what reading the outcomes adds to a turn.

The arm choice is the router's own (`playground.router.experiment.assign`) and the verdict the report's
own rule (`playground.services.experiments.rate_leader` at its threshold); only the outcomes are simulated
(Bernoulli draws at the true rates given). The baseline is the fixed split in the same run, on the same
seeds. Z_ADAPTIVE (3.0) was chosen on equal arms at rates 0.3/0.5/0.7/0.9 and 100/400/1,000 prompts; the
equal-arm cases below (0.4, 0.6, 0.8 at 250 and 1,500 prompts, three arms) were not used to choose it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from playground.base.intervals import wilson
from playground.config.profile import Experiment, load_profile
from playground.history.store import Store
from playground.router.experiment import Tally, assign
from playground.services.experiments import ArmReport, rate_leader, threshold


def simulate(strategy: str, rates: tuple[float, ...], prompts: int, seed: int) -> tuple[list[int], list[int]]:
    """Each arm's (replies, successes) after `prompts` prompts, with outcomes known at once."""
    labels = [f"arm{i}" for i in range(len(rates))]
    experiment = Experiment.model_validate({"name": "sim", "strategy": strategy, "variants": labels})
    choices, outcomes = random.Random(seed), random.Random(seed + 10_000)
    replies, successes = [0] * len(rates), [0] * len(rates)
    for _ in range(prompts):
        tallies = {label: Tally(successes[i], replies[i] - successes[i]) for i, label in enumerate(labels)}
        chosen = assign(experiment, set(labels), tallies, choices)
        assert chosen is not None
        i = labels.index(chosen.arm)
        replies[i] += 1
        successes[i] += outcomes.random() < rates[i]
    return replies, successes


def called_better(strategy: str, replies: list[int], successes: list[int]) -> int | None:
    """The arm the report calls better than every other at 95% (its own rule and threshold), if any."""
    arms = [ArmReport(f"arm{i}", 1.0, n, n, s, wilson(s, n)) for i, (n, s) in enumerate(zip(replies, successes))]
    leader, beaten = rate_leader(arms, threshold(strategy))
    return int(leader.removeprefix("arm")) if leader is not None and len(beaten) == len(arms) - 1 else None


def run_case(rates: tuple[float, ...], prompts: int, seeds: int) -> None:
    best = max(range(len(rates)), key=lambda i: rates[i])
    equal = len(set(rates)) == 1
    print(f"\ntrue success rates {', '.join(f'{r:.2f}' for r in rates)} · {prompts} prompts · {seeds} seeds")
    print(f"  {'strategy':10} {'share to best':>14} {'successes/100':>14} {'regret/100':>11} "
          f"{'called better':>14} {'called wrongly':>15}")
    for strategy in ("fixed", "thompson"):
        shares, rates_won, called, wrong = [], [], 0, 0
        for seed in range(seeds):
            replies, successes = simulate(strategy, rates, prompts, seed)
            shares.append(replies[best] / prompts)
            rates_won.append(100 * sum(successes) / prompts)
            verdict = called_better(strategy, replies, successes)
            called += verdict is not None
            wrong += verdict is not None and (equal or verdict != best)
        regret = 100 * max(rates) - statistics.mean(rates_won)
        print(f"  {strategy:10} {statistics.mean(shares):>13.0%} {statistics.mean(rates_won):>14.1f} "
              f"{regret:>11.1f} {called / seeds:>14.0%} {wrong / seeds:>15.0%}")


def read_cost(assigned: int) -> None:
    """Per-turn reading of a Thompson experiment's outcomes, against the routing decision itself."""
    from playground.config.catalog import build_catalog
    from playground.router import RouteRequest, decide
    from playground.services.experiments import tallies

    folder = Path(tempfile.mkdtemp())
    profile_path = folder / "p.yaml"
    profile_path.write_text(
        "name: bench\nmodels:\n  a: {model: openai/a, api_base: 'http://127.0.0.1:9/v1'}\n"
        "  b: {model: openai/b, api_base: 'http://127.0.0.1:9/v1'}\ntiers: {main: [a, b]}\n"
        "routes:\n  - {name: all, tier: main, experiment: {name: e, strategy: thompson, variants: [a, b]}}\n")
    profile = load_profile(profile_path)
    store = Store(folder / "h.db")
    conversation, _ = store.start_turn(None, "q", "bench")
    with store._write() as conn:  # bulk set-up: one transaction, not one per row
        for i in range(assigned):
            prompt = conn.execute("INSERT INTO messages (conversation_id, role, content, status, created_at, "
                                  "updated_at) VALUES (?, 'user', 'q', 'complete', '2025', '2025')",
                                  (conversation,)).lastrowid
            reply = conn.execute("INSERT INTO messages (conversation_id, role, content, status, created_at, "
                                 "updated_at) VALUES (?, 'assistant', 'a', 'complete', '2025', '2025')",
                                 (conversation,)).lastrowid
            conn.execute("INSERT INTO assignments VALUES (?, ?, ?, 'e', ?, 'all', 'bench', '2025')",
                         (reply, conversation, prompt, "a" if i % 2 else "b"))
            if i % 10 == 0:  # one reply in ten marked: marks are a person's clicks
                conn.execute("INSERT INTO feedback (message_id, conversation_id, model_alias, route, good, "
                             "created_at) VALUES (?, ?, 'a', 'all', ?, '2025')", (reply, conversation, i % 3 > 0))
    catalog = build_catalog(profile)
    request = RouteRequest("hello there", 3)

    def per_call_ms(work, n: int = 200) -> float:
        work()
        started = time.perf_counter()
        for _ in range(n):
            work()
        return (time.perf_counter() - started) * 1000 / n

    read = per_call_ms(lambda: tallies(store, profile))
    route = per_call_ms(lambda: decide(request, profile, catalog, rng=random.Random(1)))
    print(f"  {assigned:>7,} assigned replies ({assigned // 10:,} marked): reading outcomes {read:.2f} ms per turn, "
          f"decide() {route:.2f} ms ({read / route:.1f}×)")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=200)
    args = parser.parse_args()
    for rates in ((0.60, 0.75), (0.50, 0.55, 0.70)):
        run_case(rates, args.prompts, args.seeds)
    print("\nequal arms, held out from choosing Z_ADAPTIVE: every call is wrong")
    for rates, prompts in (((0.4, 0.4), 250), ((0.6, 0.6), 1500), ((0.8, 0.8), 1500), ((0.6, 0.6, 0.6), 1500)):
        run_case(rates, prompts, args.seeds)
    print("\nper-turn cost of Thompson sampling's outcome read (marks), against decide() on the same profile:")
    for assigned in (1_000, 20_000):
        read_cost(assigned)


if __name__ == "__main__":
    main()
