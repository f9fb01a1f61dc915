"""Export a profile as a LiteLLM proxy config, so production serves the policy tried here.

Mapping: every model is a deployment named by its alias; every tier is a model group `tier-NAME`
(one deployment per member, balanced by the routing strategy); the fallback chain, retries per
failure class, timeouts and cooldowns become router_settings; semantic routes become an
auto_router deployment. Prompt-level rules and the learned classifier have no LiteLLM equivalent:
they are listed in the header comment and returned as `unmapped` for the caller to print.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from playground.config.catalog import Catalog
from playground.config.profile import Profile

_STRATEGY = {"cheapest": "cost-based-routing", "fastest": "latency-based-routing", "weighted": "simple-shuffle",
             "balance": "simple-shuffle", "first": "simple-shuffle"}


@dataclass(frozen=True)
class Export:
    config: dict
    unmapped: list[str]

    def to_yaml(self, profile: Profile) -> str:
        header = [f"# LiteLLM proxy config exported from profile {profile.name!r} by llm-routing-playground.",
                  "# Keys are environment references (os.environ/NAME); set them where the proxy runs.",
                  "# Call a model by alias, or a tier as `tier-NAME` (its models are balanced and fall back)."]
        if self.unmapped:
            header.append("# Not expressible in LiteLLM, so not applied by this config:")
            header += [f"#   - {line}" for line in self.unmapped]
        return "\n".join(header) + "\n" + yaml.safe_dump(self.config, sort_keys=False, allow_unicode=True)


def _params(alias: str, catalog: Catalog) -> dict:
    info = catalog[alias]
    spec = info.spec
    params: dict = {"model": spec.model}
    if spec.key_env:
        params["api_key"] = f"os.environ/{spec.key_env}"
    if spec.api_base:
        params["api_base"] = spec.api_base
    if info.input_price is not None and info.output_price is not None:
        params["input_cost_per_token"] = info.input_price
        params["output_cost_per_token"] = info.output_price
    if spec.max_output_tokens:
        params["max_tokens"] = spec.max_output_tokens
    if spec.weight != 1.0:
        params["weight"] = spec.weight
    return params


def _deployment(name: str, alias: str, catalog: Catalog) -> dict:
    row = {"model_name": name, "litellm_params": _params(alias, catalog)}
    if catalog[alias].context_window:
        row["model_info"] = {"max_input_tokens": catalog[alias].context_window}
    return row


def to_litellm(profile: Profile, catalog: Catalog) -> Export:
    unmapped: list[str] = []
    model_list = [_deployment(alias, alias, catalog) for alias in profile.models]
    for tier, members in profile.tiers.items():
        for info in catalog.members(members):
            if info.alias in profile.models:
                model_list.append(_deployment(f"tier-{tier}", info.alias, catalog))

    fallbacks = []
    chain = list(profile.fallbacks)
    for alias in profile.models:
        rest = [a for a in chain if a != alias]
        if rest:
            fallbacks.append({alias: rest})
    for tier in profile.tiers:
        if chain:
            fallbacks.append({f"tier-{tier}": chain})

    # The default route carries most traffic, so its policy becomes the router's strategy.
    policies = {route.select for route in profile.routes}
    strategy = _STRATEGY[profile.routes[-1].select]
    if len(policies) > 1:
        unmapped.append(f"per-route selection ({', '.join(sorted(policies))}): LiteLLM has one routing strategy "
                        f"per router; using {strategy}")
    retries = profile.retries
    settings = {
        "routing_strategy": strategy,
        "num_retries": max(retries.rate_limited, retries.server_error, retries.timeout, retries.connection),
        "retry_policy": {
            "RateLimitErrorRetries": retries.rate_limited,
            "InternalServerErrorRetries": retries.server_error,
            "TimeoutErrorRetries": retries.timeout,
            "BadRequestErrorRetries": 0,
            "AuthenticationErrorRetries": 0,
            "ContentPolicyViolationErrorRetries": 0,
        },
        "retry_after": retries.backoff_s,
        "timeout": profile.timeouts.total,
        "stream_timeout": profile.timeouts.idle,
        "allowed_fails": profile.cooldown.after_failures,
        "cooldown_time": profile.cooldown.seconds,
        "fallbacks": fallbacks,
    }

    semantic = profile.semantic_routes
    if semantic:
        routes: dict[str, dict] = {}
        for route in semantic:
            target = routes.setdefault(f"tier-{route.tier}", {"name": f"tier-{route.tier}", "utterances": [],
                                                              "description": route.name})
            target["utterances"] += list(route.semantic.utterances)
            if route.semantic.threshold is None:
                unmapped.append(f"semantic route {route.name!r} has a fitted threshold: LiteLLM's auto_router "
                                f"uses its encoder's default unless you set `threshold`")
            else:
                target["score_threshold"] = min(target.get("score_threshold", 1.0), route.semantic.threshold)
        default = next(r for r in reversed(profile.routes) if r.stage == "default")
        embedding = profile.embeddings.model
        params = {"model": "auto_router/semantic", "auto_router_config": json.dumps({"routes": list(routes.values())}),
                  "auto_router_default_model": f"tier-{default.tier}",
                  "auto_router_embedding_model": embedding if embedding != "local" else "embedding"}
        model_list.append({"model_name": "auto", "litellm_params": params})
        if embedding == "local":
            unmapped.append("semantic routes use the playground's offline MiniLM embeddings; add a deployment "
                            "named `embedding` (any embedding model) for the `auto` router")
        unmapped.append("semantic top_k aggregation: LiteLLM's auto_router scores utterances its own way")

    for route in profile.routes:
        if route.stage == "rules":
            unmapped.append(f"rule route {route.name!r} → tier-{route.tier}: call `tier-{route.tier}` from your "
                            f"application when the rule holds")
        elif route.stage == "learned":
            unmapped.append(f"learned route {route.name!r} (a classifier choosing tier-{route.learned.cheap_tier} "
                            f"or tier-{route.tier}): apply it in your application")
    if any(m.model.startswith("local/") for m in profile.models.values()):
        unmapped.append("local/… models are the playground's embedded llama.cpp provider; serve them with an "
                        "OpenAI-compatible server (llama.cpp server, Ollama) and point api_base at it")
    return Export({"model_list": model_list, "router_settings": settings}, unmapped)


def to_profile_yaml(profile: Profile) -> str:
    """The profile as validated: defaults written out, so the file says everything the router will do."""
    data = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)

