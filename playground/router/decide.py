"""The routing decision: which route a prompt takes, which model answers, what to try next, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from playground.catalog import Catalog, ModelInfo
from playground.profile import Profile, Route
from playground.router import rules


@dataclass(frozen=True)
class RouteRequest:
    prompt: str
    prompt_tokens: int
    """Tokens of the whole request: the conversation so far plus the new prompt."""


@dataclass(frozen=True)
class Candidate:
    alias: str
    available: bool
    estimated_cost: float | None
    note: str


@dataclass(frozen=True)
class Decision:
    route: str
    stage: str
    match: str
    model: str
    fallbacks: tuple[str, ...]
    prompt_tokens: int
    candidates: tuple[Candidate, ...] = field(default=())

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


def _estimate(info: ModelInfo, prompt_tokens: int, expected_output: int) -> float | None:
    return info.cost(prompt_tokens, expected_output)


def _unfit(info: ModelInfo, prompt_tokens: int) -> str | None:
    if not info.available:
        return f"unavailable: {info.unavailable_reason}"
    if info.context_window and prompt_tokens > info.context_window:
        return f"does not fit: {prompt_tokens:,} tokens > {info.context_window:,} window"
    return None


def route_for(request: RouteRequest, profile: Profile) -> tuple[Route, str]:
    """The first route whose conditions hold, and why; the profile guarantees the last one always does."""
    for route in profile.routes:
        matched, why = rules.matches(route.when, request.prompt, request.prompt_tokens)
        if matched:
            return route, why
    return profile.routes[-1], "default route"


def decide(request: RouteRequest, profile: Profile, catalog: Catalog, forced: str | None = None) -> Decision:
    if forced is not None:
        info = catalog[forced]
        problem = _unfit(info, request.prompt_tokens)
        if problem:
            raise NoModelAvailable(f"{forced} cannot take this request: {problem}")
        cost = _estimate(info, request.prompt_tokens, profile.expected_output_tokens)
        return Decision("manual", "manual", "", forced, (), request.prompt_tokens,
                        (Candidate(forced, True, cost, "chosen by you"),))

    route, why = route_for(request, profile)
    tier = catalog.members(profile.tiers[route.tier])
    costs = {info.alias: _estimate(info, request.prompt_tokens, profile.expected_output_tokens)
             for info in tier + [catalog[alias] for alias in profile.fallbacks]}
    notes: dict[str, Candidate] = {}
    viable: list[ModelInfo] = []
    for info in tier:
        if problem := _unfit(info, request.prompt_tokens):
            notes[info.alias] = Candidate(info.alias, info.available, costs[info.alias], problem)
        else:
            viable.append(info)
    if route.select == "cheapest":
        # Unknown prices sort last; ties keep the tier's order (sort is stable).
        viable.sort(key=lambda m: (costs[m.alias] is None, costs[m.alias] or 0.0))
    chain = [m.alias for m in viable]
    for alias in profile.fallbacks:
        if alias in chain or alias in notes:
            continue
        if problem := _unfit(catalog[alias], request.prompt_tokens):
            notes[alias] = Candidate(alias, catalog[alias].available, costs[alias], problem)
        else:
            chain.append(alias)
    if not chain:
        reasons = "; ".join(f"{c.alias}: {c.note}" for c in notes.values()) or "the tier is empty"
        raise NoModelAvailable(f"no model can take this request ({route.name} route, {route.tier} tier): {reasons}")

    in_tier = {m.alias for m in viable}
    policy = "cheapest available" if route.select == "cheapest" else "first available"
    candidates = []
    for position, alias in enumerate(chain):
        if position == 0:
            note = f"{route.tier} tier, {policy}" if alias in in_tier else f"fallback (no {route.tier} model available)"
        else:
            note = f"fallback #{position}"
        candidates.append(Candidate(alias, True, costs[alias], note))
    candidates.extend(notes.values())
    return Decision(route.name, "rules", why, chain[0], tuple(chain[1:]), request.prompt_tokens, tuple(candidates))
