"""The models a profile offers, with their prices, context windows and whether they can be called now."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from playground.config import local_model
from playground.config.prices import PriceTable, load_prices, lookup
from playground.config.profile import ModelSpec, Profile

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
    cache_read_price: float | None = None
    """Dollars per prompt token read from the provider's cache; None: billed as any input token."""
    cache_write_price: float | None = None
    """Dollars per prompt token written to the provider's cache; None: billed as any input token."""

    @property
    def is_local(self) -> bool:
        return self.spec.model.startswith(LOCAL_PREFIX) or "local" in self.spec.tags

    @property
    def label(self) -> str:
        return self.spec.label or self.alias

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> float | None:
        """`input_tokens` counts every prompt token; `cache_read` and `cache_write` of them are billed at
        the cache rates (as providers report them: OpenAI's cached_tokens, Anthropic's cache reads and
        writes, Gemini's cached content, all normalised by LiteLLM)."""
        if self.input_price is None or self.output_price is None:
            return None
        read_price = self.input_price if self.cache_read_price is None else self.cache_read_price
        write_price = self.input_price if self.cache_write_price is None else self.cache_write_price
        plain = max(0, input_tokens - cache_read - cache_write)
        total = (plain * self.input_price + cache_read * read_price + cache_write * write_price
                 + output_tokens * self.output_price)
        # Rounded to a millionth of a cent: float noise (8.999999999999999e-05) is not a figure.
        return round(total, 12)


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


def describe(alias: str, spec: ModelSpec, env: Mapping[str, str], prices: PriceTable) -> ModelInfo:
    available, reason = True, None
    if spec.model.startswith(LOCAL_PREFIX):
        problem = local_model.runtime_problem()
        if problem:
            available, reason = False, problem
    elif spec.key_env and not env.get(spec.key_env):
        available, reason = False, f"{spec.key_env} is not set"
    entry = lookup(prices, spec.model) or {}
    if spec.price is not None:
        input_price: float | None
        output_price: float | None
        input_price, output_price = spec.price.input_per_mtok / 1e6, spec.price.output_per_mtok / 1e6
        source = "profile"
    elif "input_cost_per_token" in entry and "output_cost_per_token" in entry:
        input_price, output_price = entry["input_cost_per_token"], entry["output_cost_per_token"]
        source = prices.source
    else:
        input_price = output_price = None
        source = None
    window = spec.context_window or entry.get("max_input_tokens") or entry.get("max_tokens")
    # The map's cache rates go with the map's prices only: a profile price is the whole price.
    cache_read = entry.get("cache_read_input_token_cost") if spec.price is None else None
    cache_write = entry.get("cache_creation_input_token_cost") if spec.price is None else None
    return ModelInfo(alias, spec, available, reason, input_price, output_price, source, window,
                     cache_read if isinstance(cache_read, (int, float)) else None,
                     cache_write if isinstance(cache_write, (int, float)) else None)


def build_catalog(profile: Profile, env: Mapping[str, str] | None = None,
                  extra: Mapping[str, ModelSpec] | None = None, prices: PriceTable | None = None) -> Catalog:
    """`extra` adds models found at run time (Ollama) that the profile does not name."""
    env = os.environ if env is None else env
    prices = prices or load_prices()
    models = {alias: describe(alias, spec, env, prices) for alias, spec in profile.models.items()}
    for alias, spec in (extra or {}).items():
        models.setdefault(alias, describe(alias, spec, env, prices))
    return Catalog(models)
