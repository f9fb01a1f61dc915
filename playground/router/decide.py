"""The routing decision: which route a prompt takes, which model answers, what to try next, and why.

Pure: everything it needs (health, the semantic index, randomness) is passed in.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from playground.config.catalog import Catalog, ModelInfo
from playground.config.profile import Profile, Route
from playground.router import rules
from playground.router.budget import COST_BOOST, BudgetStatus
from playground.router.drift import DRIFT_PENALTY, ModelDrift
from playground.router.experiment import Assignment, Tally, assign
from playground.router.features import cheap_score
from playground.router.health import ModelHealth
from playground.router.select import Estimate, estimate, order


@dataclass(frozen=True)
class RouteRequest:
    prompt: str
    prompt_tokens: int
    """Tokens of the new prompt alone."""
    conversation_tokens: int | None = None
    """Tokens of the whole request (history plus prompt): what must fit the context window and is billed."""
    tags: frozenset[str] = frozenset()

    @property
    def request_tokens(self) -> int:
        return self.conversation_tokens if self.conversation_tokens is not None else self.prompt_tokens


@dataclass(frozen=True)
class SemanticScores:
    similarities: dict[str, float]
    """Similarity of the text to each semantic route (by name)."""
    generic: float | None = None
    """Its similarity, measured the same way, to generic text that asks for nothing in particular."""
    generic_cut: float | None = None
    """How much more like generic text than like the best route the text may be and still take it (fitted by
    the matcher); None: the matcher's margin."""
    thresholds: Mapping[str, float] | None = None
    """The thresholds and margin of the encoder that read this text, when it is not the matcher's own (a
    non-English prompt read by the multilingual encoder); None: the matcher's."""
    margin: float | None = None
    note: str = ""
    """Said after the match in "why": which encoder read the prompt, when it is not the profile's own."""


class SemanticMatcher(Protocol):
    def match(self, text: str) -> SemanticScores:
        """How similar the text is to each semantic route, and to generic text."""

    def thresholds(self) -> dict[str, float]:
        """The similarity each route needs when it is the most similar one (set or fitted)."""

    def margin(self) -> float:
        """A lead over the runner-up that is enough on its own, however low the similarity."""

    def embed(self, text: str) -> Sequence[float]:
        """The prompt's sentence embedding as the semantic stage reads it (for a learned route's features)."""


@dataclass(frozen=True)
class Candidate:
    alias: str
    available: bool
    estimated_cost: float | None
    note: str
    expected_latency_s: float | None = None
    error_rate: float | None = None
    score: float | None = None
    price_source: str | None = None
    dropped: bool = False
    latency_samples: int = 0
    """Measured replies behind `expected_latency_s` (none: unknown)."""
    drift: str = ""
    """What moved beyond the model's recent range: the weighted score adds a penalty for it."""


@dataclass(frozen=True)
class Decision:
    route: str
    stage: str
    match: str
    model: str
    fallbacks: tuple[str, ...]
    prompt_tokens: int
    candidates: tuple[Candidate, ...] = field(default=())
    tier: str = ""
    score: float | None = None
    """Similarity (semantic) or P(cheap is enough) (learned) that decided the route."""
    threshold: float | None = None
    skipped: tuple[str, ...] = ()
    """Routes considered before this one and why they did not match."""
    similarities: dict[str, float] = field(default_factory=dict)
    """Each semantic route's similarity to the prompt, when the semantic stage ran."""
    runner_up: str | None = None
    """The second most similar semantic route, when the semantic stage ran."""
    margin: float | None = None
    """The most similar route's lead over the runner-up."""
    budget: str = ""
    """How a spend limit near or past its end shaped the choice."""
    experiment: str | None = None
    """The route's experiment, when one of its arms answers first."""
    arm: str | None = None
    """That arm's label (`fast@temperature=1.2`): its settings go with its model's attempts."""
    assigned: bool = False
    """The reply counts towards the experiment (False once it is stopped and its winner answers)."""

    @property
    def reason(self) -> str:
        """A short explanation for the reply's metadata line."""
        chosen = next((c for c in self.candidates if c.alias == self.model), None)
        how = chosen.note if chosen else ""
        return f"{self.route} ({self.match}) → {how}" if self.match else f"{self.route} → {how}"

    def to_dict(self) -> dict:
        return asdict(self) | {"reason": self.reason}


class NoModelAvailable(Exception):
    """No model can take this request; the message says why for each candidate."""


class BudgetReached(NoModelAvailable):
    """A spend limit is reached and no free or local model can answer; the message is one line."""


def _free(info: ModelInfo, cost: float | None) -> bool:
    return info.is_local or cost == 0


def over_budget(budget: BudgetStatus | None, info: ModelInfo, cost: float | None) -> str | None:
    if budget is None or _free(info, cost) or (limit := budget.reached(info.alias)) is None:
        return None
    return f"budget reached: {limit.describe()}"


def _budget_refusal(reason: str) -> BudgetReached:
    return BudgetReached(f"{reason}; no free or local model can answer (raise `budget:` in the profile, "
                         f"or wait for the next day or month)")


def unfit(info: ModelInfo, tokens: int, health: ModelHealth | None, now: float) -> str | None:
    if not info.available:
        return f"unavailable: {info.unavailable_reason}"
    if info.context_window and tokens > info.context_window:
        return f"does not fit: {tokens:,} tokens > {info.context_window:,} window"
    if health is not None and (left := health.cooling(now)) > 0:
        return f"cooling down {left:.0f} s more: {health.cooldown_reason}"
    return None


def tier_cost(catalog: Catalog, profile: Profile, tier: str, tokens: int) -> float | None:
    """The lowest estimated price of a request among the tier's usable models."""
    costs = [c for info in catalog.members(profile.tiers[tier]) if info.available
             and (c := info.cost(tokens, profile.expected_output_tokens)) is not None]
    return min(costs, default=None)


def _pick_route(request: RouteRequest, profile: Profile, catalog: Catalog, facts: rules.PromptFacts,
                semantic: SemanticMatcher | None, similarities: dict[str, float]
                ) -> tuple[Route, str, str, float | None, float | None, list[str]]:
    """(route, tier, why, score, threshold, skipped) for the first confident match in profile order;
    fills `similarities` when the semantic stage runs."""
    skipped: list[str] = []
    semantic_done = False
    for route in profile.routes:
        stage = route.stage
        if stage == "rules":
            assert route.when is not None  # a route's stage is named by the section it has
            ok, why = rules.matches(route.when, facts)
            if ok:
                return route, route.tier, ", ".join(why), None, None, skipped
            skipped.append(f"{route.name}: rule did not match")
        elif stage == "semantic":
            if semantic is None:
                skipped.append(f"{route.name}: semantic index not loaded yet")
                continue
            if semantic_done:
                continue
            # Semantic routes compete as a group: only the most similar route can win (a lower threshold
            # elsewhere never lets a less similar route through); it wins if similar enough or far enough
            # ahead of the runner-up, else the prompt is unlike every route and falls through.
            semantic_done = True
            found = semantic.match(request.prompt)
            similarities.update(found.similarities)
            ranked = sorted(profile.semantic_routes, key=lambda r: similarities.get(r.name, -1.0), reverse=True)
            best = ranked[0]
            score = similarities.get(best.name, -1.0)
            thresholds = found.thresholds if found.thresholds is not None else semantic.thresholds()
            threshold = thresholds.get(best.name, 1.0)
            margin = found.margin if found.margin is not None else semantic.margin()
            lead = score - similarities.get(ranked[1].name, -1.0) if len(ranked) > 1 else None
            ahead = f", {lead:.2f} ahead of {ranked[1].name}" if lead is not None else ""
            ahead += f"; {found.note}" if found.note else ""
            cut = found.generic_cut if found.generic_cut is not None else margin
            if found.generic is not None and found.generic - score >= cut:
                skipped.append(f"semantic: more like generic text ({found.generic:.2f}) than like any route "
                               f"(best {best.name} {score:.2f})")
                continue
            if score >= threshold:
                return best, best.tier, f"similarity {score:.2f} ≥ {threshold:.2f}{ahead}", score, threshold, skipped
            if lead is not None and lead >= margin:
                return best, best.tier, f"similarity {score:.2f}{ahead} (≥ {margin:.2f})", score, threshold, skipped
            skipped.append(f"semantic: no route similar enough (best {best.name} {score:.2f} < {threshold:.2f}{ahead})")
        elif stage == "learned":
            spec = route.learned
            assert spec is not None
            gap = None
            if spec.cost_scale is not None:
                strong_cost = tier_cost(catalog, profile, route.tier, request.request_tokens)
                cheap_cost = tier_cost(catalog, profile, spec.cheap_tier, request.request_tokens)
                if strong_cost is not None and cheap_cost is not None:
                    gap = strong_cost - cheap_cost
            embedding: Sequence[float] = ()
            if spec.uses_embedding:
                if semantic is None:  # not loaded yet: the safe choice is the route's own (strong) tier
                    return route, route.tier, "prompt embedding not loaded yet, so not the cheap tier", None, \
                        spec.threshold, skipped
                embedding = semantic.embed(request.prompt)
            p = cheap_score(spec, facts, gap, embedding)
            if p >= spec.threshold:
                return route, spec.cheap_tier, f"cheap-enough score {p:.2f} ≥ {spec.threshold:.2f}", p, \
                    spec.threshold, skipped
            return route, route.tier, f"cheap-enough score {p:.2f} < {spec.threshold:.2f}", p, spec.threshold, skipped
        else:
            return route, route.tier, "default route", None, None, skipped
    raise AssertionError("profile validation guarantees a default route")


def route_for(request: RouteRequest, profile: Profile, catalog: Catalog,
              semantic: SemanticMatcher | None = None) -> tuple[Route, str]:
    """The route a prompt takes and why, without choosing a model (compare uses it as the category)."""
    facts = rules.PromptFacts(request.prompt, request.prompt_tokens, request.request_tokens, request.tags)
    route, _, why, *_ = _pick_route(request, profile, catalog, facts, semantic, {})
    return route, why


def decide(request: RouteRequest, profile: Profile, catalog: Catalog, *,
           health: Mapping[str, ModelHealth] | None = None, semantic: SemanticMatcher | None = None,
           forced: str | None = None, rng: random.Random | None = None, now: float | None = None,
           drift: Mapping[str, ModelDrift] | None = None, budget: BudgetStatus | None = None,
           tallies: Mapping[str, Mapping[str, Tally]] | None = None) -> Decision:
    """`now` is on the health tracker's clock (monotonic), for cooldowns. `drift` (by alias) and `budget`
    come from history (services.monitor): a drifted model is penalised, a spend limit near its end makes
    cost weigh more, and one past its end stops every model that is not free. `tallies` are each
    experiment's outcomes so far, by experiment name and arm label (for Thompson sampling)."""
    health = health or {}
    drift = drift or {}

    def drifted(alias: str) -> str:
        found = drift.get(alias)
        return found.summary() if found is not None else ""

    def boost(alias: str) -> float:
        return budget.cost_boost(alias) if budget is not None else 1.0
    now = time.monotonic() if now is None else now
    tokens = request.request_tokens
    output = profile.expected_output_tokens
    if forced is not None:
        info = catalog[forced]
        if problem := unfit(info, tokens, None, now):
            raise NoModelAvailable(f"{forced} cannot take this request: {problem}")
        est = estimate(info, tokens, output, health.get(forced))
        if stop := over_budget(budget, info, est.cost):
            raise _budget_refusal(f"{forced}: {stop}")
        return Decision("manual", "manual", "", forced, (), request.prompt_tokens,
                        (Candidate(forced, True, est.cost, "chosen by you", est.latency_s, est.error_rate,
                                   price_source=info.price_source, latency_samples=est.samples),), tier="")

    facts = rules.PromptFacts(request.prompt, request.prompt_tokens, tokens, request.tags)
    similarities: dict[str, float] = {}
    route, tier_name, why, score, threshold, skipped = _pick_route(request, profile, catalog, facts, semantic,
                                                                   similarities)
    tier_name, stepped = _step_down(tier_name, profile, catalog, budget, tokens, output, health, now)
    rng = rng or random.Random()
    assignment = _assignment(route, catalog, tokens, output, health, now, budget, tallies or {}, rng)
    tier = catalog.members(profile.tiers[tier_name])
    dropped: dict[str, Candidate] = {}
    viable: list[Estimate] = []
    for info in tier:
        est = estimate(info, tokens, output, health.get(info.alias), drifted(info.alias), boost(info.alias))
        if problem := unfit(info, tokens, health.get(info.alias), now) or over_budget(budget, info, est.cost):
            dropped[info.alias] = Candidate(info.alias, info.available, est.cost, problem, est.latency_s,
                                            est.error_rate, price_source=info.price_source, dropped=True,
                                            latency_samples=est.samples, drift=est.drift)
        else:
            viable.append(est)
    ranked = order(viable, route.select, profile.selection, rng)
    if route.prefer:
        # Learned from votes and marks: preferred models first, in their order; the policy orders the rest.
        # A drifted model loses its preference until it recovers: the votes were for the model it was.
        rank = {alias: i for i, alias in enumerate(route.prefer)}
        ranked.sort(key=lambda e: (bool(e.drift), rank.get(e.info.alias, len(rank))))
    if assignment is not None:
        # The arm's model answers first, wherever it sits in the tier; the tier's others remain its fallbacks.
        arm_model = catalog[assignment.model]
        ranked = [estimate(arm_model, tokens, output, health.get(arm_model.alias), drifted(arm_model.alias),
                           boost(arm_model.alias)),
                  *(e for e in ranked if e.info.alias != assignment.model)]
    chain: list[Estimate] = list(ranked)
    for alias in profile.fallbacks:
        if alias in dropped or any(e.info.alias == alias for e in chain):
            continue
        info = catalog[alias]
        est = estimate(info, tokens, output, health.get(alias), drifted(alias), boost(alias))
        if problem := unfit(info, tokens, health.get(alias), now) or over_budget(budget, info, est.cost):
            dropped[alias] = Candidate(alias, info.available, est.cost, problem, est.latency_s, est.error_rate,
                                       price_source=info.price_source, dropped=True, latency_samples=est.samples,
                                       drift=est.drift)
        else:
            chain.append(est)
    stopped = [c.note for c in dropped.values() if c.note.startswith("budget reached")]
    if not chain and stopped:
        # The limit is spent: any free or local model of the profile may still answer, tier or not.
        for info in catalog.available():
            est = estimate(info, tokens, output, health.get(info.alias), drifted(info.alias))
            if _free(info, est.cost) and not unfit(info, tokens, health.get(info.alias), now):
                chain.append(est)
        if not chain:
            raise _budget_refusal(stopped[0])
    if not chain:
        reasons = "; ".join(f"{c.alias}: {c.note}" for c in dropped.values()) or "the tier is empty"
        raise NoModelAvailable(f"no model can take this request ({route.name} route, {tier_name} tier): {reasons}")

    in_tier = {e.info.alias for e in ranked}
    policy = {"cheapest": "cheapest", "first": "first available", "fastest": "fastest", "weighted": "best score",
              "balance": "weighted share"}[route.select]
    candidates = []
    for position, est in enumerate(chain):
        alias = est.info.alias
        if position == 0:
            note = f"{tier_name} tier, {policy}" if alias in in_tier else f"fallback (no {tier_name} model available)"
            if alias in route.prefer:
                note = f"{tier_name} tier, preferred by your votes and marks"
            if assignment is not None:
                note = assignment.note
            if stopped and alias not in in_tier and alias not in profile.fallbacks:
                note = "free model (the budget is spent)"
        else:
            note = f"fallback #{position}"
        if est.drift and route.select == "weighted":
            note += f"; drift penalty +{DRIFT_PENALTY * profile.selection.health:.2f}"
        elif est.drift:
            note += "; drifted: ranked behind the others"
        candidates.append(Candidate(alias, True, est.cost, note, est.latency_s, est.error_rate, est.score,
                                    est.info.price_source, latency_samples=est.samples, drift=est.drift))
    candidates.extend(dropped.values())
    runner_up = margin = None
    if len(similarities) > 1:
        first, second = sorted(similarities.items(), key=lambda item: item[1], reverse=True)[:2]
        runner_up, margin = second[0], first[1] - second[1]
    return Decision(route.name, route.stage, why, chain[0].info.alias, tuple(e.info.alias for e in chain[1:]),
                    request.prompt_tokens, tuple(candidates), tier_name, score, threshold, tuple(skipped),
                    similarities, runner_up, margin,
                    budget=_budget_note(budget, route.select, stopped, {e.info.alias for e in chain}, stepped),
                    experiment=assignment.experiment if assignment else None,
                    arm=assignment.arm if assignment else None, assigned=bool(assignment and assignment.assigned))


def _budget_note(budget: BudgetStatus | None, policy: str, stopped: list[str], aliases: set[str],
                 stepped: str) -> str:
    if budget is None:
        return ""
    if stopped:
        return stopped[0]
    near = max((limit for alias in aliases for limit in budget.applying(alias)), key=lambda limit: limit.pressure,
               default=None)
    if near is None or not near.pressure:
        return ""
    how = f"cost weight ×{1 + COST_BOOST * near.pressure:.1f}" if policy == "weighted" else "cheapest first"
    return f"{near.used:.0%} of a limit used ({near.describe()}): {stepped + '; ' if stepped else ''}{how}"


def _step_down(tier_name: str, profile: Profile, catalog: Catalog, budget: BudgetStatus | None, tokens: int,
               output: int, health: Mapping[str, ModelHealth], now: float) -> tuple[str, str]:
    """The tier that answers near the profile's limit, and "strong → cheap tier" when it is not the route's.
    Tiers are ranked by the cheapest priced model that can take the prompt; a tier with none is never chosen."""
    pressure = budget.profile_pressure() if budget is not None else 0.0
    if not pressure or profile.budget is None or not profile.budget.step_down:
        return tier_name, ""

    def cheapest(name: str) -> float | None:
        known = [cost for info in catalog.members(profile.tiers[name])
                 if unfit(info, tokens, health.get(info.alias), now) is None
                 and (cost := estimate(info, tokens, output, health.get(info.alias)).cost) is not None]
        return min(known, default=None)

    own = cheapest(tier_name)
    if own is None:
        return tier_name, ""
    cheaper = sorted(((cost, name) for name in profile.tiers
                      if name != tier_name and (cost := cheapest(name)) is not None and cost < own), reverse=True)
    steps = min(len(cheaper), math.floor(pressure * (len(cheaper) + 1)))
    if not steps:
        return tier_name, ""
    chosen = cheaper[steps - 1][1]
    return chosen, f"{tier_name} → {chosen} tier"


def _assignment(route: Route, catalog: Catalog, tokens: int, output: int, health: Mapping[str, ModelHealth],
                now: float, budget: BudgetStatus | None, tallies: Mapping[str, Mapping[str, Tally]],
                rng: random.Random) -> Assignment | None:
    """The route's experiment arm for this prompt, among arms whose model can take it now (and afford it)."""
    if route.experiment is None:
        return None

    def usable(alias: str) -> bool:
        info = catalog[alias]
        cost = estimate(info, tokens, output, health.get(alias)).cost
        return unfit(info, tokens, health.get(alias), now) is None and over_budget(budget, info, cost) is None

    usable_models = {arm.model for arm in route.experiment.variants if arm.model in catalog and usable(arm.model)}
    return assign(route.experiment, usable_models, tallies.get(route.experiment.name, {}), rng)
