"""Whom a cascade asks next: the models of one `escalate.to` step, ordered as the route orders its own tier."""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping

from playground.config.catalog import Catalog
from playground.config.profile import Profile, Route
from playground.router.budget import BudgetStatus
from playground.router.decide import over_budget, unfit
from playground.router.health import ModelHealth
from playground.router.select import estimate, order


def step_chain(step: str, route: Route, profile: Profile, catalog: Catalog, tokens: int, *,
               exclude: Collection[str] = (),
               health: Mapping[str, ModelHealth] | None = None, now: float = 0.0,
               rng: random.Random | None = None, budget: BudgetStatus | None = None
               ) -> tuple[tuple[str, ...], list[str]]:
    """(usable models of the step in the route's order, why the others were left out). A step is a tier or a
    model alias; models that already answered this prompt (`exclude`) are not asked again, nor models past
    a spend limit."""
    health = health or {}
    members = catalog.members(profile.tiers[step]) if step in profile.tiers else [catalog[step]]
    viable, dropped = [], []
    for info in members:
        if info.alias in exclude:
            continue
        found = estimate(info, tokens, profile.expected_output_tokens, health.get(info.alias))
        if problem := unfit(info, tokens, health.get(info.alias), now) or over_budget(budget, info, found.cost):
            dropped.append(f"{info.alias}: {problem}")
        else:
            viable.append(found)
    ranked = order(viable, route.select, profile.selection, rng or random.Random())
    return tuple(e.info.alias for e in ranked), dropped
