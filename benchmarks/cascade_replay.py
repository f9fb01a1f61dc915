"""A cascade (cheap model first, the strong one when a check fails the answer) replayed on recorded outcomes,
at several check accuracies and seeds: quality and cost against each model alone, in the same run.

The check is simulated: with probability P its verdict agrees with the data's correctness label, so the
figures say what a cascade is worth *if* its checks are that accurate; `eval --live` measures P for real.

    .venv/bin/python -m benchmarks.cascade_replay [--data FILE.jsonl ...] [--seeds 5]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from playground.base.paths import resolve_profile
from playground.config.profile import load_profile
from playground.policy.evaluation import evaluate
from playground.policy.replay import load_replay

BUNDLED = Path(__file__).resolve().parents[1] / "playground" / "data" / "replay" / "mmlu-sample.jsonl"
ACCURACIES = (0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


def first_model(profile) -> str:
    return ", ".join(profile.tiers[profile.routes[0].tier])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="*", default=None,
                        help="replay files with RouteLLM's two models (default: the bundled MMLU sample)")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    files = [Path(d) for d in args.data] if args.data else [BUNDLED]
    # The bundled cascade without its judge: the judge's price would hide what the check's accuracy does.
    profile = load_profile(resolve_profile("replay/routellm-cascade"))
    route = profile.routes[0]
    assert route.escalate is not None
    plain = profile.model_copy(update={"routes": (route.model_copy(update={
        "escalate": route.escalate.model_copy(update={"judge": None})}),)})
    for path in files:
        items = load_replay(path)
        then = ", ".join(profile.tiers[route.escalate.to[0]])
        print(f"{path.name}: {len(items):,} prompts · cascade {first_model(profile)} → {then} · "
              f"{args.seeds} seeds per accuracy")
        first = evaluate(plain, items, check_accuracy=1.0)
        strong, weak = first.baselines[first.strong_model].total, first.baselines[first.weak_model].total
        print(f"  {'policy':30} {'quality':>8} {'cost $':>9} {'cost/strong':>11} {'quality/strong':>14} "
              f"{'escalated':>9}")
        for name, tally in ((f"{first.strong_model} alone", strong), (f"{first.weak_model} alone", weak)):
            print(f"  {name:30} {tally.quality / tally.n:8.3f} {tally.cost:9.3f} {tally.cost / strong.cost:11.2f} "
                  f"{tally.quality / strong.quality:14.3f} {'–':>9}")
        for accuracy in ACCURACIES:
            runs = [evaluate(plain, items, check_accuracy=accuracy, seed=seed) for seed in range(args.seeds)]
            quality = [r.router.total.quality / r.router.total.n for r in runs]
            cost = [r.router.total.cost for r in runs]
            escalated = [r.cascade.escalation_rate or 0.0 for r in runs if r.cascade]
            spread = f"±{statistics.stdev(quality):.3f}" if len(runs) > 1 else ""
            print(f"  {f'cascade, checks {accuracy:.0%} right':30} {statistics.mean(quality):8.3f} "
                  f"{statistics.mean(cost):9.3f} {statistics.mean(cost) / strong.cost:11.2f} "
                  f"{statistics.mean(quality) * strong.n / strong.quality:14.3f} {statistics.mean(escalated):9.1%} "
                  f"{spread}")
        print()


if __name__ == "__main__":
    main()
