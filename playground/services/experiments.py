"""Experiments: each arm's outcomes read from history, their confidence intervals, and stopping one.

An outcome source turns history into each arm's outcomes (judged, successes, cost sums), by name: `marks`
joins good/bad marks to the replies assigned to each arm; `votes` reads compare votes on the route that
named an arm; `check` reads whether the route's cascade passed each assigned reply's first answer.
Register another source in OUTCOME_SOURCES and name it in playground.config.profile.SUCCESS_SOURCES.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playground.base.intervals import (
    Z95,
    Interval,
    RatioEstimate,
    proportions_differ,
    ratio_of_sums,
    ratios_differ,
    wilson,
)
from playground.config.catalog import ModelInfo
from playground.config.profile import Experiment, Profile, Route
from playground.config.profile_edit import set_experiment_winner
from playground.config.variants import parse_variant
from playground.history.records import ArmOutcomes
from playground.history.store import Store
from playground.router.experiment import Tally

OutcomeSource = Callable[[Store, Route, Experiment, bool], dict[str, ArmOutcomes]]
"""(store, the experiment's route, the experiment, whether costs are wanted) → each arm's outcomes by label."""


def _from_marks(store: Store, route: Route, experiment: Experiment, with_cost: bool) -> dict[str, ArmOutcomes]:
    """Assigned replies with a good/bad mark (Ctrl+G / Ctrl+F in the chat); unmarked replies are not judged."""
    return store.experiment_marks(experiment.name, with_cost)


def _from_votes(store: Store, route: Route, experiment: Experiment, with_cost: bool) -> dict[str, ArmOutcomes]:
    """Compare votes on the route that showed an arm (by its label), since the experiment's first assigned
    reply: a win is a success, a loss or "all bad" a failure; a tie says nothing and is left out."""
    found: dict[str, ArmOutcomes] = {}
    since = store.experiment_started(experiment.name) or ""
    for row in store.experiment_votes(route.name, [arm.label for arm in experiment.variants], since):
        if row["outcome"] != "tie":
            won = row["outcome"] == "win" and row["winner"] == row["label"]
            found[row["label"]] = found.get(row["label"], ArmOutcomes()) + ArmOutcomes.one(won, row["cost_usd"])
    return found


def _from_checks(store: Store, route: Route, experiment: Experiment, with_cost: bool) -> dict[str, ArmOutcomes]:
    """Assigned replies whose first answer the route's cascade checked (`escalate:`): passing is a success,
    and the cost is every call behind the reply, so an arm that needs escalating pays for it."""
    return store.experiment_checks(experiment.name, with_cost)


OUTCOME_SOURCES: dict[str, OutcomeSource] = {"marks": _from_marks, "votes": _from_votes, "check": _from_checks}


def outcomes(store: Store, route: Route, experiment: Experiment, with_cost: bool = True) -> dict[str, ArmOutcomes]:
    return OUTCOME_SOURCES[experiment.success_source](store, route, experiment, with_cost)


def tallies(store: Store, profile: Profile) -> dict[str, dict[str, Tally]]:
    """What Thompson sampling needs of each running Thompson experiment: its arms' outcomes so far (costs only
    when the outcome is cost per success)."""
    found: dict[str, dict[str, Tally]] = {}
    for name, route in profile.experiments.items():
        experiment = route.experiment
        assert experiment is not None
        if experiment.strategy != "thompson" or experiment.winner is not None:
            continue
        with_cost = experiment.outcome == "cost_per_success"
        found[name] = {label: Tally(arm.successes, arm.judged - arm.successes,
                                    None if arm.unpriced or not with_cost else arm.cost)
                       for label, arm in outcomes(store, route, experiment, with_cost).items()}
    return found


def arm_request(decision_arm: str | None, info: ModelInfo, messages: list[dict],
                temperature: float | None) -> tuple[ModelInfo, list[dict], float | None]:
    """The request an experiment arm's model is sent with: the arm's temperature, max tokens and system
    prompt (in place of the conversation's) over the conversation's own. Other models are sent as asked."""
    if decision_arm is None:
        return info, messages, temperature
    variant = parse_variant(decision_arm)
    if variant.model != info.alias:
        return info, messages, temperature
    if variant.max_tokens is not None:
        info = dataclasses.replace(info, spec=info.spec.model_copy(update={"max_output_tokens": variant.max_tokens}))
    if variant.system is not None:
        messages = [{"role": "system", "content": variant.system}, *(m for m in messages if m["role"] != "system")]
    return info, messages, variant.temperature if variant.temperature is not None else temperature


# Reports -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ArmReport:
    label: str
    weight: float
    replies: int
    """Replies assigned to this arm."""
    judged: int
    """Of which (or, for votes, votes naming it) have an outcome."""
    successes: int
    rate: Interval | None
    """Success rate with its Wilson 95% interval."""
    cost_per_success: Interval | None = None
    """Delta-method (normal approximation) 95% interval; None with no success, fewer than two judged
    replies, or any unpriced one."""
    unpriced: int = 0
    winner: bool = False


@dataclass(frozen=True)
class ExperimentReport:
    name: str
    route: str
    strategy: str
    outcome: str
    success_source: str
    arms: list[ArmReport]
    leader: str | None
    """The arm with the best estimate (highest rate, or lowest cost per success)."""
    better: list[tuple[str, float]] = field(default_factory=list)
    """Arms the leader beats at 95% (two-sided z test), with the z statistic."""
    stopped: str | None = None
    """The winner written into the profile, once stopped."""

    @property
    def verdict(self) -> str:
        if self.stopped:
            return f"stopped: {self.stopped} answers every prompt on route {self.route}"
        unpriced = [arm.label for arm in self.arms if arm.unpriced]
        if self.outcome == "cost_per_success" and unpriced:
            return (f"cost per success unknown for {', '.join(unpriced)} (replies with no known price): "
                    "price its models in the profile to compare")
        if self.leader is None:
            return "no outcomes yet"
        if not self.better:
            return f"{self.leader} leads, but no arm is better than another at 95% yet"
        others = len(self.arms) - 1
        beaten = ", ".join(f"{label} (z = {z:+.2f})" for label, z in self.better)
        if len(self.better) == others:
            return f"{self.leader} is better than every other arm at 95%: {beaten}"
        return f"{self.leader} is better at 95% than {beaten}; not yet than the rest"


def report(store: Store, profile: Profile) -> list[ExperimentReport]:
    return [report_one(store, route) for route in profile.experiments.values()]


def report_one(store: Store, route: Route) -> ExperimentReport:
    experiment = route.experiment
    assert experiment is not None
    assigned = store.experiment_assigned(experiment.name)
    judged = outcomes(store, route, experiment)
    arms, ratios = [], {}
    for arm in experiment.variants:
        sums = judged.get(arm.label, ArmOutcomes())
        ratio = None if sums.unpriced else ratio_of_sums(sums.judged, sums.cost, sums.successes, sums.cost_squared,
                                                         sums.cost_of_successes)
        ratios[arm.label] = ratio
        arms.append(ArmReport(arm.label, arm.weight, assigned.get(arm.label, 0), sums.judged, sums.successes,
                              wilson(sums.successes, sums.judged), ratio.interval() if ratio else None,
                              sums.unpriced, arm.label == experiment.winner))
    z = threshold(experiment.strategy)
    leader, better = (_cost_leader(arms, ratios, z) if experiment.outcome == "cost_per_success"
                      else rate_leader(arms, z))
    return ExperimentReport(experiment.name, route.name, experiment.strategy, experiment.outcome,
                            experiment.success_source, arms, leader, better, experiment.winner)


Z_ADAPTIVE = 3.0
"""The |z| a Thompson experiment's arms must differ by. Thompson sampling starves an arm that starts unlucky,
so its low estimate is not corrected: at |z| ≥ 1.96, equal arms were called different in up to 22% of
simulated runs; at 3.0, in at most 3% (benchmarks/experiment_bandit.py, where held-out settings are checked)."""


def threshold(strategy: str) -> float:
    """The |z| for "better at 95%": the plain two-sided value for a fixed split, Z_ADAPTIVE for Thompson."""
    return Z_ADAPTIVE if strategy == "thompson" else Z95


def rate_leader(arms: list[ArmReport], z: float = Z95) -> tuple[str | None, list[tuple[str, float]]]:
    """The arm with the highest success rate, and the arms it beats by at least `z`."""
    rated = [a for a in arms if a.rate is not None]
    if not rated:
        return None, []
    best = max(rated, key=lambda a: (a.rate.estimate if a.rate else 0.0, a.judged))
    better = []
    for other in arms:
        if other is not best and (found := proportions_differ(best.successes, best.judged, other.successes,
                                                              other.judged, z)) is not None and found > 0:
            better.append((other.label, found))
    return best.label, better


def _cost_leader(arms: list[ArmReport], ratios: dict[str, RatioEstimate | None], z: float
                 ) -> tuple[str | None, list[tuple[str, float]]]:
    known = {label: r for label, r in ratios.items() if r is not None}
    if not known or any(arm.unpriced for arm in arms):
        return None, []
    best = min(known, key=lambda label: known[label].ratio)
    better = []
    for other in arms:
        if other.label != best and (r := known.get(other.label)) is not None \
                and (found := ratios_differ(r, known[best], z)) is not None and found > 0:
            better.append((other.label, found))
    return best, better


def winner_of(result: ExperimentReport) -> str:
    """The arm a stop promotes when none is named: the leader; without outcomes, no winner can be chosen."""
    if result.leader is None:
        raise ExperimentError(f"experiment {result.name}: {result.verdict}; name the winner (--winner ARM)")
    return result.leader


class ExperimentError(ValueError):
    """An experiment cannot be stopped as asked; the message says why on one line."""


def find(profile: Profile, name: str) -> Route:
    route = profile.experiments.get(name)
    if route is None:
        names = ", ".join(profile.experiments) or "none"
        raise ExperimentError(f"no experiment {name!r} in profile {profile.name} (experiments: {names})")
    return route


def stop(path: Path, profile: Profile, store: Store, name: str, winner: str | None = None) -> str:
    """Write the winner into the profile file (the loader's hot reload picks it up); returns its label."""
    route = find(profile, name)
    assert route.experiment is not None
    if winner is None:
        winner = winner_of(report_one(store, route))
    else:
        try:
            winner = parse_variant(winner).label
        except ValueError as exc:
            raise ExperimentError(str(exc)) from None
        labels = [arm.label for arm in route.experiment.variants]
        if winner not in labels:
            raise ExperimentError(f"{winner!r} is not an arm of {name} (arms: {', '.join(labels)})")
    set_experiment_winner(path, name, winner)
    return winner


