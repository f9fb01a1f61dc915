"""Import a LiteLLM proxy config (model_list, fallbacks, router_settings) as a playground profile.

People who already run LiteLLM start from what they have. What the config says wins: models, prices, windows,
fallbacks, retries per exception class, cooldowns and timeouts are read from its LiteLLM fields. What only a
playground profile can say (routes, selection weights, tags, labels) comes from the profile that
`playground export` wrote beside the config, when its routing module is named in `litellm_settings.callbacks`;
otherwise the profile gets one default route over every model, to be refined in the playground.
Keys written literally in the config are never copied: a profile names environment variables only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from playground.base.yamlsource import load_yaml
from playground.config.profile import Profile, ProfileError, load_profile
from playground.policy.export import PLACEHOLDER_KEY, per_mtok

_SELECT = {"cost-based-routing": "cheapest", "latency-based-routing": "fastest", "simple-shuffle": "balance"}
_ENV_KEY = re.compile(r"^os\.environ/([A-Za-z_][A-Za-z0-9_]*)$")


class ImportProblem(ValueError):
    """The config cannot be read as a profile; one line saying where and why."""


@dataclass(frozen=True)
class Imported:
    profile: Profile
    notes: list[str]
    """What was not imported, or was guessed, and why."""


def _is_loopback(url: str) -> bool:
    host = re.sub(r"^[a-z]+://", "", url).split("/")[0].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def _spec(group: str, params: dict, info: dict, notes: list[str]) -> dict:
    spec: dict = {"model": params["model"]}
    if params.get("api_base"):
        spec["api_base"] = params["api_base"]
    key = params.get("api_key")
    if isinstance(key, str) and (match := _ENV_KEY.match(key)):
        spec["key_env"] = match.group(1)
        if spec.get("api_base") and not _is_loopback(spec["api_base"]):
            spec["allow_key_to_api_base"] = True  # the config already sends that key there
    elif key and key != PLACEHOLDER_KEY:
        notes.append(f"{group}: its api_key is written in the config; not copied (a profile names the environment "
                     f"variable that holds a key: add `key_env: NAME`)")
    if "input_cost_per_token" in params and "output_cost_per_token" in params:
        spec["price"] = {"input_per_mtok": per_mtok(params["input_cost_per_token"]),
                         "output_per_mtok": per_mtok(params["output_cost_per_token"])}
    if info.get("max_input_tokens"):
        spec["context_window"] = info["max_input_tokens"]
    if params.get("max_tokens"):
        spec["max_output_tokens"] = params["max_tokens"]
    if params.get("weight") not in (None, 1, 1.0):
        spec["weight"] = params["weight"]
    return spec


def _routing_profile(config: dict, folder: Path | None) -> Profile | None:
    """The profile a playground-exported config routes with, when its routing module and file are there."""
    callbacks = (config.get("litellm_settings") or {}).get("callbacks") or []
    callbacks = [callbacks] if isinstance(callbacks, str) else callbacks
    for callback in callbacks:
        module = str(callback).rsplit(".", 1)[0]
        if folder is not None and module.startswith("playground_routing_"):
            path = folder / f"{module}.yaml"
            if path.is_file():
                return load_profile(path)
    return None


def _models_and_groups(config: dict, notes: list[str]) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """(alias → spec, group → aliases). A tier-NAME group whose deployments repeat models already listed by
    alias names those aliases; any other group with several deployments gets one alias per deployment."""
    rows = config.get("model_list")
    if not isinstance(rows, list) or not rows:
        raise ImportProblem("model_list: missing or empty; a LiteLLM config lists its deployments there")
    groups: dict[str, list[dict]] = {}
    for i, row in enumerate(rows):
        params = row.get("litellm_params") if isinstance(row, dict) else None
        if not isinstance(params, dict) or not row.get("model_name") or not params.get("model"):
            raise ImportProblem(f"model_list[{i}]: needs model_name and litellm_params.model")
        if str(params["model"]).startswith("auto_router/"):
            notes.append(f"{row['model_name']}: LiteLLM's auto_router is not imported (write semantic routes)")
            continue
        groups.setdefault(str(row["model_name"]), []).append(row)
    models: dict[str, dict] = {}
    by_params: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for name, group in sorted(groups.items(), key=lambda item: item[0].startswith("tier-")):
        aliases = []
        for n, row in enumerate(group):
            spec = _spec(name, row["litellm_params"], row.get("model_info") or {}, notes)
            signature = repr(sorted(spec.items()))
            if name.startswith("tier-") and signature in by_params:
                aliases.append(by_params[signature])
                continue
            alias = name if len(group) == 1 else f"{name}-{n + 1}"
            models[alias] = spec
            by_params.setdefault(signature, alias)
            aliases.append(alias)
        members[name] = aliases
    return models, members


def from_litellm(config: dict, *, name: str, folder: Path | None = None) -> Imported:
    """`folder` is where the config lives, to find the routing profile an export wrote beside it."""
    if not isinstance(config, dict):
        raise ImportProblem("not a LiteLLM config: expected a mapping with model_list")
    notes: list[str] = []
    models, groups = _models_and_groups(config, notes)
    settings = config.get("router_settings") or {}
    policy = settings.get("retry_policy") or {}
    default_retries = min(int(settings.get("num_retries", 0) or 0), 5)

    def retries(key: str) -> int:
        value = policy.get(key)
        return min(int(value if value is not None else policy.get("DefaultRetries", default_retries) or 0), 5)

    def aliases(group: str) -> list[str]:
        return groups.get(group, [group] if group in models else [])

    # The export gives each model its chain without itself, and each tier the whole chain: take a tier's.
    rules = [(str(group), chain) for rule in settings.get("fallbacks") or [] if isinstance(rule, dict)
             for group, chain in rule.items() if isinstance(chain, list)]
    tier_chains = [chain for group, chain in rules if group.startswith("tier-")]
    chain: list = max(tier_chains or [chain for _, chain in rules], key=len, default=[])
    fallbacks = list(dict.fromkeys(a for group in chain for a in aliases(str(group))))
    tiers = {group.removeprefix("tier-"): members for group, members in groups.items()
             if group.startswith("tier-") or len(members) > 1}
    stream_timeout = settings.get("stream_timeout")
    data: dict = {
        "version": 1, "name": name, "models": models,
        "fallbacks": fallbacks,
        "retries": {"rate_limited": retries("RateLimitErrorRetries"),
                    "server_error": retries("InternalServerErrorRetries"),
                    "timeout": retries("TimeoutErrorRetries"), "connection": retries("DefaultRetries"),
                    "backoff_s": min(float(settings.get("retry_after", 0) or 0), 30.0)},
        "cooldown": {"after_failures": max(1, int(settings.get("allowed_fails", 3) or 1)),
                     "seconds": float(settings.get("cooldown_time", 30.0))},
    }
    timeouts = {}
    if settings.get("timeout"):
        timeouts["total"] = float(settings["timeout"])
    if stream_timeout:
        timeouts["first_token"] = timeouts["idle"] = float(stream_timeout)
    data["timeouts"] = timeouts

    routing = _routing_profile(config, folder)
    if routing is not None:
        # What LiteLLM's fields cannot hold comes from the profile the export routes with.
        data["name"], data["description"] = routing.name, routing.description
        for alias, spec in models.items():
            if alias in routing.models:
                own = routing.models[alias]
                spec.update({k: v for k, v in (("label", own.label), ("tags", list(own.tags))) if v})
        data["tiers"] = {tier: list(members) for tier, members in routing.tiers.items()}
        data["routes"] = [r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in routing.routes]
        for section in ("selection", "embeddings", "provenance"):
            data[section] = getattr(routing, section).model_dump(mode="json") if section != "provenance" \
                else dict(routing.provenance)
        data["expected_output_tokens"] = routing.expected_output_tokens
        data["retries"]["stream_cut"] = routing.retries.stream_cut
        data["timeouts"]["idle"] = routing.timeouts.idle
    else:
        tiers["all"] = list(models)
        strategy = settings.get("routing_strategy", "simple-shuffle")
        select = _SELECT.get(strategy, "first")
        if strategy not in _SELECT:
            notes.append(f"routing_strategy {strategy!r} has no playground equivalent: the default route takes "
                         f"models in order (`select: first`)")
        data["tiers"] = tiers
        data["routes"] = [{"name": "default", "tier": "all", "select": select}]
        notes.append("no playground routing in the config: one default route over every model; add rule, semantic "
                     "or learned routes to the profile")
    try:
        return Imported(Profile.model_validate(data), notes)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ImportProblem(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None


def import_litellm(path: Path, name: str | None = None) -> Imported:
    """`name` is the profile's name unless the export's routing profile gives one (default: the file's stem)."""
    try:
        document = load_yaml(path)
        return from_litellm(document.data, name=name or path.stem, folder=path.parent)
    except (ImportProblem, ProfileError) as exc:
        raise ImportProblem(f"{path}: {exc}") from None
