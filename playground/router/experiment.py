"""Which experiment arm answers a prompt: a fixed weighted share, or Thompson sampling on recorded outcomes.

Pure: the outcomes so far and the random generator are passed in, so a seeded generator gives the same
assignments every run.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from playground.config.profile import Experiment


@dataclass(frozen=True)
class Tally:
    """An arm's outcomes so far: replies judged a success or a failure, and what those judged replies cost."""

    successes: int = 0
    failures: int = 0
    cost_usd: float | None = 0.0
    """Total cost of the judged replies; None when any of them had no known price."""

    @property
    def judged(self) -> int:
        return self.successes + self.failures


@dataclass(frozen=True)
class Assignment:
    experiment: str
    arm: str
    """The arm's label (`fast@temperature=1.2`)."""
    model: str
    note: str
    """Why this arm, for the reply's trace."""
    assigned: bool = True
    """False once the experiment is stopped: the winner answers, and the reply is not an experiment reply."""


def assign(experiment: Experiment, usable: Collection[str], tallies: Mapping[str, Tally],
           rng: random.Random) -> Assignment | None:
    """The arm for one prompt among those whose model is `usable`; None when no arm's model is."""
    if experiment.winner is not None:
        winner = experiment.arm(experiment.winner)
        if winner.model not in usable:
            return None
        return Assignment(experiment.name, winner.label, winner.model,
                          f"experiment {experiment.name} stopped: its winner answers", assigned=False)
    arms = [arm for arm in experiment.variants if arm.model in usable]
    if not arms:
        return None
    left_out = len(experiment.variants) - len(arms)
    unusable = f"; {left_out} arm{'s' if left_out > 1 else ''} unusable now" if left_out else ""
    if experiment.strategy == "fixed":
        total = sum(arm.weight for arm in experiment.variants)
        arm = rng.choices(arms, weights=[a.weight for a in arms])[0]
        note = f"fixed share {arm.weight / total:.0%}"
    else:
        arm, note = _thompson(experiment, arms, tallies, rng)
    return Assignment(experiment.name, arm.label, arm.model, f"experiment {experiment.name}, arm {arm.label} "
                                                             f"({note}{unusable})")


def _thompson(experiment: Experiment, arms, tallies: Mapping[str, Tally], rng: random.Random):
    """Draw each arm's success rate from its Beta(1 + successes, 1 + failures) posterior and take the best
    draw; for cost per success, the lowest mean judged cost over the drawn rate (by rate alone while any
    arm's cost is unknown)."""
    draws = {}
    for arm in arms:
        tally = tallies.get(arm.label, Tally())
        draws[arm.label] = rng.betavariate(1 + tally.successes, 1 + tally.failures)
    costs = {arm.label: _mean_cost(tallies.get(arm.label, Tally())) for arm in arms}
    if experiment.outcome == "cost_per_success" and all(c is not None for c in costs.values()):
        best = min(arms, key=lambda a: (costs[a.label] or 0.0) / max(draws[a.label], 1e-9))
        return best, f"Thompson sampling: drawn success rate {draws[best.label]:.2f}, lowest cost per success"
    best = max(arms, key=lambda a: draws[a.label])
    return best, f"Thompson sampling: drawn success rate {draws[best.label]:.2f}, the highest"


def _mean_cost(tally: Tally) -> float | None:
    if tally.cost_usd is None or not tally.judged:
        return None
    return tally.cost_usd / tally.judged
