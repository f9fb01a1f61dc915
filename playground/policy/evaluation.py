"""Replay evaluation: route every recorded prompt with a profile, price the recorded outcome, and score
the policy against single-model baselines and the per-prompt oracle (RouteLLM's metrics)."""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from playground.base import tokens
from playground.config.catalog import Catalog, ModelInfo, build_catalog
from playground.config.profile import Profile, Route
from playground.policy.replay import ReplayItem
from playground.router import Decision, RouteRequest, decide
from playground.router.checks import JUDGE_PROMPT
from playground.router.escalation import step_chain
from playground.router.semantic import AnyIndex

Progress = Callable[[int, int], None]
MAX_CURVE_POINTS = 200
CORRECT = 0.5
"""A replay outcome scoring at least this counts as correct: the label a simulated check agrees with or not."""


class EvalError(ValueError):
    """The profile and the data do not fit together; the message says how."""


@dataclass
class Tally:
    n: int = 0
    quality: float = 0.0
    cost: float = 0.0
    strong: int = 0

    def add(self, score: float, cost: float, strong: bool) -> None:
        self.n += 1
        self.quality += score
        self.cost += cost
        self.strong += strong

    def summary(self) -> dict:
        n = max(self.n, 1)
        return {"n": self.n, "quality": self.quality / n, "cost_usd": self.cost, "strong_share": self.strong / n}


@dataclass
class PolicyResult:
    total: Tally = field(default_factory=Tally)
    categories: dict[str, Tally] = field(default_factory=dict)

    def add(self, category: str, score: float, cost: float, strong: bool) -> None:
        self.total.add(score, cost, strong)
        self.categories.setdefault(category, Tally()).add(score, cost, strong)

    def to_dict(self) -> dict:
        return self.total.summary() | {"categories": {c: t.summary() for c, t in sorted(self.categories.items())}}


@dataclass(frozen=True)
class CurvePoint:
    threshold: float | None
    strong_share: float
    quality: float
    cost_usd: float


@dataclass
class EvalReport:
    profile: str
    n: int
    strong_model: str
    weak_model: str
    router: PolicyResult
    baselines: dict[str, PolicyResult]
    oracle: PolicyResult
    curve: list[CurvePoint]
    skipped: int
    cascade: CascadeTally | None = None
    """How the profile's cascades went, when it has any."""

    def pgr(self, quality: float) -> float:
        strong = self.baselines[self.strong_model].total.summary()["quality"]
        weak = self.baselines[self.weak_model].total.summary()["quality"]
        return (quality - weak) / (strong - weak) if strong != weak else 0.0

    def cpt(self, target: float) -> float | None:
        """Smallest share of calls to the strong model at which the policy recovers `target` of the gap."""
        shares = [p.strong_share for p in sorted(self.curve, key=lambda p: p.strong_share)
                  if self.pgr(p.quality) >= target]
        return shares[0] if shares else None

    def apgr(self) -> float | None:
        """Average PGR over strong-call shares 0..1 (trapezoids over the threshold sweep); None for a policy
        without a threshold to sweep."""
        if len(self.curve) < 2:
            return None
        strong = self.baselines[self.strong_model].total.summary()
        weak = self.baselines[self.weak_model].total.summary()
        points = sorted([(0.0, self.pgr(weak["quality"]))] + [(p.strong_share, self.pgr(p.quality)) for p in self.curve]
                        + [(1.0, self.pgr(strong["quality"]))])
        area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(points))
        return area

    def cost_saved_at(self, fraction: float) -> float | None:
        """1 − cost of the cheapest point reaching `fraction` of the strong model's quality / the strong cost."""
        strong = self.baselines[self.strong_model].total.summary()
        target = fraction * strong["quality"]
        costs = [p.cost_usd for p in self.curve if p.quality >= target - 1e-12]
        if not costs or not strong["cost_usd"]:
            return None
        return 1 - min(costs) / strong["cost_usd"]

    def metrics(self) -> dict:
        return {"cpt50": self.cpt(0.5), "cpt80": self.cpt(0.8), "apgr": self.apgr(),
                "cost_saved_at_95": self.cost_saved_at(0.95)}

    def to_dict(self) -> dict:
        return {"profile": self.profile, "n": self.n, "skipped": self.skipped, "strong_model": self.strong_model,
                "weak_model": self.weak_model, "router": self.router.to_dict(),
                "baselines": {m: r.to_dict() for m, r in self.baselines.items()},
                "oracle": self.oracle.to_dict(), "metrics": self.metrics(),
                "curve": [asdict(p) for p in self.curve[::max(1, len(self.curve) // MAX_CURVE_POINTS)]],
                "cascade": asdict(self.cascade) | {"escalation_rate": self.cascade.escalation_rate}
                if self.cascade else None}


@dataclass(frozen=True)
class CheckAccuracy:
    """How often a simulated check gets an answer right: it passes a right answer (score ≥ CORRECT) with
    probability `on_right` and fails a wrong one with probability `on_wrong`."""

    on_right: float
    on_wrong: float

    @classmethod
    def parse(cls, text: str) -> CheckAccuracy:
        """`0.9` (as accurate on right and wrong answers) or `0.95:0.7` (on right, on wrong)."""
        try:
            values = [float(part) for part in text.split(":")]
        except ValueError:
            values = []
        if len(values) not in (1, 2) or not all(0 <= v <= 1 for v in values):
            raise ValueError(f"{text!r}: give P or P_RIGHT:P_WRONG, probabilities from 0 to 1 (e.g. 0.9 or 0.95:0.7)")
        return cls(values[0], values[-1])

    def __str__(self) -> str:
        if self.on_right == self.on_wrong:
            return f"{self.on_right:.0%} accurate"
        return f"passing {self.on_right:.0%} of right answers, failing {self.on_wrong:.0%} of wrong ones"


@dataclass
class CascadeTally:
    """A replay of cascades: the checks are simulated, agreeing with the data's correctness label
    (score ≥ CORRECT) as often as `check_accuracy` says, never the label itself."""

    check_accuracy: CheckAccuracy
    seed: int
    prompts: int = 0
    """Prompts whose route escalates."""
    escalated: int = 0
    """Of those, prompts whose first answer failed its (simulated) check."""
    calls: int = 0
    """Answers paid for on those prompts (each escalation adds one)."""
    judge_usd: float = 0.0
    """What the judge's calls cost (estimated from its price and the tokens it reads), included in the policy's cost."""
    wrong_kept: int = 0
    """Incorrect answers the check let stand."""
    right_escalated: int = 0
    """Correct answers the check sent up anyway (paid for twice)."""

    @property
    def escalation_rate(self) -> float | None:
        return self.escalated / self.prompts if self.prompts else None

    def run(self, route: Route, decision: Decision, chosen: str, row: dict[str, tuple[float, float]],
            profile: Profile, catalog: Catalog, tokens: int, rng: random.Random,
            judge_cost: Callable[[str], float]) -> tuple[str, float, float]:
        """(model whose answer stands, its score, what every call cost) for one prompt; `judge_cost(model)` is
        what grading that model's answer costs (0 without a judge)."""
        assert route.escalate is not None
        self.prompts += 1
        asked, cost = {chosen, decision.model}, 0.0
        model, steps = chosen, list(route.escalate.to)
        while True:
            score, price = row[model]
            judged = judge_cost(model)
            cost += price + judged
            self.judge_usd += judged
            self.calls += 1
            correct = score >= CORRECT
            agrees = rng.random() < (self.check_accuracy.on_right if correct else self.check_accuracy.on_wrong)
            passed = correct if agrees else not correct
            following = None
            while not passed and steps and following is None:
                chain, _ = step_chain(steps.pop(0), route, profile, catalog, tokens, exclude=asked)
                following = next((alias for alias in chain if alias in row), None)
            if following is None:
                self.wrong_kept += int(passed and not correct)
                return model, score, cost
            self.escalated += int(model == chosen)
            self.right_escalated += int(correct)
            asked.add(following)
            model = following


def replay_catalog(profile: Profile) -> Catalog:
    """Every model counts as available: replay asks what the policy would do, not what keys are set here."""
    catalog = build_catalog(profile, env={})
    return Catalog({a: replace(m, available=True, unavailable_reason=None) for a, m in catalog.models.items()})


def _data_name(info: ModelInfo, item: ReplayItem) -> str | None:
    for name in (info.alias, info.spec.model, info.spec.model.split("/", 1)[-1]):
        if name in item.outcomes:
            return name
    return None


class Pricer:
    """Recorded cost, else tokens × list price; output tokens default to the model's median in the data."""

    def __init__(self, items: list[ReplayItem]) -> None:
        outputs: dict[str, list[int]] = {}
        for item in items:
            for model, outcome in item.outcomes.items():
                if outcome.output_tokens is not None:
                    outputs.setdefault(model, []).append(outcome.output_tokens)
        self.median_output = {m: int(statistics.median(v)) for m, v in outputs.items()}
        self._prompt_tokens: dict[str, int] = {}

    def prompt_tokens(self, item: ReplayItem) -> int:
        if item.id not in self._prompt_tokens:
            self._prompt_tokens[item.id] = tokens.count_text(item.prompt)
        return self._prompt_tokens[item.id]

    def cost(self, item: ReplayItem, name: str, info: ModelInfo) -> float:
        outcome = item.outcomes[name]
        if outcome.cost_usd is not None:
            return outcome.cost_usd
        input_tokens = outcome.input_tokens if outcome.input_tokens is not None else self.prompt_tokens(item)
        if outcome.output_tokens is not None:
            output_tokens = outcome.output_tokens
        elif outcome.response:
            output_tokens = tokens.count_text(outcome.response)
        else:
            output_tokens = self.median_output.get(name, 1)
        return info.cost(input_tokens, output_tokens) or 0.0


def _with_threshold(profile: Profile, value: float) -> Profile:
    routes = tuple(r.model_copy(update={"learned": r.learned.model_copy(update={"threshold": value})})
                   if r.learned else r for r in profile.routes)
    return profile.model_copy(update={"routes": routes})


def evaluate(profile: Profile, items: list[ReplayItem], *, semantic: AnyIndex | None = None,
             progress: Progress | None = None, check_accuracy: CheckAccuracy | float | None = None,
             seed: int = 0) -> EvalReport:
    """`check_accuracy`: for a profile that escalates, how often a check's verdict agrees with the data's
    correctness label (seeded by `seed`); required then, since the data cannot say what a real check would do.
    A float is as accurate on right and wrong answers."""
    if isinstance(check_accuracy, (int, float)):
        check_accuracy = CheckAccuracy(check_accuracy, check_accuracy)
    catalog = replay_catalog(profile)
    cascades = {r.name: r for r in profile.routes if r.escalate is not None}
    if cascades and check_accuracy is None:
        raise EvalError(f"profile {profile.name!r} escalates (routes {', '.join(cascades)}): give the checks' "
                        "accuracy (--check-accuracy 0.9, or one measured by `eval --live`); the data's own "
                        "correctness labels would make a perfect check")
    cascade = CascadeTally(check_accuracy, seed) if cascades and check_accuracy is not None else None
    rng = random.Random(seed)
    judge_overhead = tokens.count_text(JUDGE_PROMPT)
    for route in cascades.values():
        judge = route.escalate.judge if route.escalate else None
        if judge is not None and catalog[judge.model].cost(1, 1) is None:
            raise EvalError(f"the judge {judge.model!r} of route {route.name!r} has no known price: give it a price "
                            "in the profile, so that its calls are counted")
    present = [info for info in catalog.models.values() if any(_data_name(info, item) for item in items[:50])]
    if len(present) < 2:
        raise EvalError(f"profile {profile.name!r} names fewer than two models found in the data; "
                        f"name the models as the data does (e.g. {', '.join(sorted(items[0].outcomes))})")
    pricer = Pricer(items)
    baselines = {info.alias: PolicyResult() for info in present}
    scored = []  # (item, {alias: (score, cost)})
    skipped = 0
    for item in items:
        row = {}
        for info in present:
            if name := _data_name(info, item):
                row[info.alias] = (item.outcomes[name].score, pricer.cost(item, name, info))
        if len(row) < len(present):
            skipped += 1
            continue
        scored.append((item, row))
    if not scored:
        raise EvalError("no prompt in the data has outcomes for every model of the profile")
    for item, row in scored:
        for alias, (score, cost) in row.items():
            baselines[alias].add(item.category, score, cost, False)
    quality = {a: r.total.summary()["quality"] for a, r in baselines.items()}
    strong = max(quality, key=lambda alias: quality[alias])
    weak = min(quality, key=lambda alias: quality[alias])
    for alias, result in baselines.items():
        if alias == strong:
            for tally in (result.total, *result.categories.values()):
                tally.strong = tally.n

    oracle = PolicyResult()
    for item, row in scored:
        best = max(s for s, _ in row.values())
        alias, (score, cost) = min(((a, v) for a, v in row.items() if v[0] == best), key=lambda av: av[1][1])
        oracle.add(item.category, score, cost, alias == strong)

    # Route each prompt at the profile's threshold and, for learned routes, at both extremes, so that the
    # threshold sweep needs no further routing.
    if semantic is not None:
        semantic.prefetch([item.prompt for item, _ in scored])
    variants = [profile, _with_threshold(profile, 0.0), _with_threshold(profile, 1.01)] \
        if any(r.learned for r in profile.routes) else [profile]
    router = PolicyResult()
    sweep: list[tuple[float | None, str | None, str | None, dict[str, tuple[float, float]]]] = []
    # (p or None, cheap choice, strong choice, outcomes)
    for done, (item, row) in enumerate(scored, start=1):
        prompt_tokens = pricer.prompt_tokens(item)
        request = RouteRequest(item.prompt, prompt_tokens, prompt_tokens + 7)
        choices = []
        for variant in variants:
            decision = decide(request, variant, catalog, semantic=semantic, now=0.0)
            chain = (decision.model, *decision.fallbacks)
            choices.append((next((a for a in chain if a in row), None), decision))
        chosen, decision = choices[0]
        if chosen is None:
            raise EvalError(f"{item.id}: the profile routes to {decision.model}, which has no outcome in the data")
        score, cost = row[chosen]
        if cascade is not None and decision.route in cascades:
            route = cascades[decision.route]

            def judge_cost(model: str, item: ReplayItem = item, route: Route = route) -> float:
                judge = route.escalate.judge if route.escalate else None
                if judge is None:
                    return 0.0
                outcome = item.outcomes[_data_name(catalog[model], item) or model]
                answer = outcome.output_tokens if outcome.output_tokens is not None else \
                    pricer.median_output.get(_data_name(catalog[model], item) or model, 1)
                # The judge reads its prompt, the question and the answer, and writes one word.
                return catalog[judge.model].cost(pricer.prompt_tokens(item) + answer + judge_overhead, 1) or 0.0

            chosen, score, cost = cascade.run(route, decision, chosen, row, profile, catalog, request.request_tokens,
                                              rng, judge_cost)
        router.add(item.category, score, cost, chosen == strong)
        if decision.route in cascades:
            # The cascade's outcome is fixed for this prompt: the threshold sweep moves other prompts only.
            sweep.append((None, chosen, chosen, {chosen: (score, cost)}))
        elif len(choices) == 3 and decision.stage == "learned" and decision.score is not None:
            sweep.append((decision.score, choices[1][0], choices[2][0], row))
        else:
            sweep.append((None, chosen, chosen, row))
        if progress and (done % 200 == 0 or done == len(scored)):
            progress(done, len(scored))

    total = router.total.summary()
    learned_threshold = next((r.learned.threshold for r in profile.routes if r.learned), None)
    curve = [CurvePoint(learned_threshold, total["strong_share"], total["quality"], total["cost_usd"])]
    if any(p is not None for p, *_ in sweep):
        curve = _sweep(sweep, strong)
    return EvalReport(profile.name, len(scored), strong, weak, router, baselines, oracle, curve, skipped, cascade)


def _sweep(sweep, strong: str) -> list[CurvePoint]:
    """The policy at every learned threshold, in O(n log n): prompts enter the cheap tier in order of
    falling P(cheap is enough)."""
    n = len(sweep)
    quality = cost = strong_calls = 0.0
    movable = []
    for p, cheap, expensive, row in sweep:
        score, price = row[expensive]
        quality, cost, strong_calls = quality + score, cost + price, strong_calls + (expensive == strong)
        if p is not None:
            cheap_score, cheap_price = row[cheap]
            movable.append((p, cheap_score - score, cheap_price - price, (cheap == strong) - (expensive == strong)))
    movable.sort(key=lambda m: -m[0])
    points = [CurvePoint(1.0, strong_calls / n, quality / n, cost)]
    for k, (p, d_score, d_cost, d_strong) in enumerate(movable, start=1):
        quality, cost, strong_calls = quality + d_score, cost + d_cost, strong_calls + d_strong
        # Only where the next prompt has a lower P is there a threshold separating the two.
        if k == len(movable) or movable[k][0] < p:
            points.append(CurvePoint(p, strong_calls / n, quality / n, cost))
    return points
