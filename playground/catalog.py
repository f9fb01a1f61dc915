"""The models a profile offers, with their prices, context windows and whether they can be called now."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from playground.profile import ModelSpec, Profile
from playground.providers import local

LOCAL_PREFIX = "local/"


@dataclass(frozen=True)
class ModelInfo:
    alias: str
    spec: ModelSpec
    available: bool
    unavailable_reason: str | None
    input_price: float | None  # dollars per token
    output_price: float | None
    price_source: str | None  # "profile", "litellm price map", or None when unknown
    context_window: int | None

    @property
    def is_local(self) -> bool:
        return self.spec.model.startswith(LOCAL_PREFIX) or "local" in self.spec.tags

    @property
    def label(self) -> str:
        return self.spec.label or self.alias

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        if self.input_price is None or self.output_price is None:
            return None
        return input_tokens * self.input_price + output_tokens * self.output_price


@dataclass(frozen=True)
class Catalog:
    models: dict[str, ModelInfo] = field(default_factory=dict)

    def __getitem__(self, alias: str) -> ModelInfo:
        return self.models[alias]

    def __contains__(self, alias: object) -> bool:
        return alias in self.models

    def members(self, names: tuple[str, ...]) -> list[ModelInfo]:
        """Resolve tier members (`alias` or `tag:NAME`) in order, each model once."""
        seen: dict[str, ModelInfo] = {}
        for name in names:
            if name.startswith("tag:"):
                tag = name[4:]
                for info in self.models.values():
                    if tag in info.spec.tags:
                        seen.setdefault(info.alias, info)
            elif name in self.models:
                seen.setdefault(name, self.models[name])
        return list(seen.values())

    def available(self) -> list[ModelInfo]:
        return [m for m in self.models.values() if m.available]


@functools.cache
def price_map() -> dict[str, dict]:
    """LiteLLM's bundled price map, read from its package without importing litellm (seconds)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _price_entry(model: str) -> dict | None:
    prices = price_map()
    if model in prices:
        return prices[model]
    # "openai/gpt-4o" is listed as "gpt-4o"; "groq/openai/gpt-oss-20b" as itself.
    provider, _, rest = model.partition("/")
    entry = prices.get(rest)
    if entry and entry.get("litellm_provider") in (provider, None):
        return entry
    return None


def describe(alias: str, spec: ModelSpec, env: Mapping[str, str]) -> ModelInfo:
    available, reason = True, None
    if spec.model.startswith(LOCAL_PREFIX):
        problem = local.runtime_problem()
        if problem:
            available, reason = False, problem
    elif spec.key_env and not env.get(spec.key_env):
        available, reason = False, f"{spec.key_env} is not set"
    entry = _price_entry(spec.model) or {}
    if spec.price is not None:
        input_price, output_price = spec.price.input_per_mtok / 1e6, spec.price.output_per_mtok / 1e6
        source = "profile"
    elif "input_cost_per_token" in entry and "output_cost_per_token" in entry:
        input_price, output_price = entry["input_cost_per_token"], entry["output_cost_per_token"]
        source = "litellm price map"
    else:
        input_price = output_price = None
        source = None
    window = spec.context_window or entry.get("max_input_tokens") or entry.get("max_tokens")
    return ModelInfo(alias, spec, available, reason, input_price, output_price, source, window)


def build_catalog(profile: Profile, env: Mapping[str, str] | None = None,
                  extra: Mapping[str, ModelSpec] | None = None) -> Catalog:
    """`extra` adds models found at run time (Ollama) that the profile does not name."""
    env = os.environ if env is None else env
    models = {alias: describe(alias, spec, env) for alias, spec in profile.models.items()}
    for alias, spec in (extra or {}).items():
        models.setdefault(alias, describe(alias, spec, env))
    return Catalog(models)
