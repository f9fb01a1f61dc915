"""Export a profile as a LiteLLM proxy config that routes as the playground does.

Three files go together: the config (`model_list`, `router_settings`, `litellm_settings`), the profile the
proxy runs (written beside it, see `proxy_profile`), and a small module the proxy loads from the config's
folder (`litellm_settings.callbacks`). That module hands each request for `model: <profile name>` to the
playground's own decide(), so rules, semantic and learned routes, selection and the fallback chain are the
playground's, not an approximation. Every model is also a deployment named by its alias, and every tier a
model group `tier-NAME`, for clients that pick a model themselves.

What LiteLLM cannot do the playground's way is listed in the header (`unmapped`); what the export had to
change so the proxy can load the config is listed too (`changes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from playground.base.files import write_private
from playground.config.catalog import LOCAL_PREFIX, Catalog
from playground.config.profile import ModelSpec, Price, Profile

PLACEHOLDER_KEY = "no-key"
"""Sent to keyless OpenAI-compatible servers: LiteLLM refuses a deployment with an api_base and no key."""

_STRATEGY = {"cheapest": "cost-based-routing", "fastest": "latency-based-routing", "weighted": "simple-shuffle",
             "balance": "simple-shuffle", "first": "simple-shuffle"}


class ExportError(ValueError):
    """The profile cannot be served by the proxy as asked; the message says what to pass instead."""


def per_mtok(per_token: float) -> float:
    """Dollars per million tokens from dollars per token, without float noise (0.15000000000000002)."""
    return float(f"{per_token * 1e6:.12g}")


def module_name(profile: Profile) -> str:
    """The routing module's name: importable (letters, digits, _) and unlikely to shadow anything."""
    return "playground_routing_" + re.sub(r"\W", "_", profile.name.lower())


def profile_file(profile: Profile) -> str:
    return module_name(profile) + ".yaml"


_MODULE = '''"""Routing of profile {name!r} inside the LiteLLM proxy, written by `playground export`.

The proxy loads this file from the config's folder (litellm_settings.callbacks). It needs
llm-routing-playground installed in the proxy's Python, and reads the profile beside it:
{profile_file}. Requests for `model: {name}` are routed by the playground's decide().
"""

from pathlib import Path

from playground.policy.proxy_routing import ProfileRouting

proxy_handler = ProfileRouting(Path(__file__).with_name({profile_file!r}))
'''


@dataclass(frozen=True)
class Export:
    profile: Profile
    """The profile the proxy runs: local models rewritten or left out, prices and windows frozen."""
    config: dict
    changes: list[str]
    """What was changed from the source profile so the proxy can load it, and why."""
    unmapped: list[str]
    """What the proxy does not do as the playground does."""
    routing: bool
    """The config names the routing module: write `files()`, not the config alone."""

    def to_yaml(self) -> str:
        name = self.profile.name
        header = [f"# LiteLLM proxy config exported from profile {name!r} by llm-routing-playground.",
                  "# Keys are environment references (os.environ/NAME); set them where the proxy runs, with",
                  "# LITELLM_MASTER_KEY (the proxy refuses to start without it)."]
        if self.routing:
            header += [f"# Call `model: {name}` to be routed as the playground routes: {module_name(self.profile)}.py",
                       f"# (next to this file) runs the playground's decide() on {profile_file(self.profile)}.",
                       "# It needs llm-routing-playground installed in the proxy's Python (pip install -e",
                       "# '.[proxy]' in its checkout); start the proxy with `litellm --config` on this file."]
        header.append("# A model is also callable by its alias, a tier as `tier-NAME` (balanced, with fallbacks).")
        if self.changes:
            header.append("# Changed from the profile so the proxy can serve it:")
            header += [f"#   - {line}" for line in self.changes]
        if self.unmapped:
            header.append("# Not done by the proxy as the playground does it:")
            header += [f"#   - {line}" for line in self.unmapped]
        return "\n".join(header) + "\n" + yaml.safe_dump(self.config, sort_keys=False, allow_unicode=True)

    def files(self) -> dict[str, str]:
        """Name → text of every file that goes in the config's folder, besides the config itself."""
        if not self.routing:
            return {}
        return {profile_file(self.profile): to_profile_yaml(self.profile),
                module_name(self.profile) + ".py": _MODULE.format(name=self.profile.name,
                                                                  profile_file=profile_file(self.profile))}


def write_export(export: Export, config: Path) -> list[Path]:
    """Write the config and the files that go beside it (each created 0600); the paths written, config first."""
    written = [config]
    write_private(config, export.to_yaml())
    for name, text in export.files().items():
        write_private(config.with_name(name), text)
        written.append(config.with_name(name))
    return written


def proxy_profile(profile: Profile, catalog: Catalog, local_url: str | None = None) -> tuple[Profile, list[str]]:
    """The profile as the proxy can run it, and what changed.

    `local/…` models are the playground's embedded llama.cpp runtime, which the proxy does not have: with
    `local_url` they become OpenAI-compatible deployments at that URL (a llama.cpp server, Ollama's /v1);
    without it they are left out of the models, tiers, preferences and fallbacks. Prices and context windows
    the playground knew are written into each model, so the proxy decides on the same figures whatever
    price cache its machine has.
    """
    changes: list[str] = []
    local = [alias for alias, spec in profile.models.items() if spec.model.startswith(LOCAL_PREFIX)]
    models: dict[str, ModelSpec] = {}
    for alias, spec in profile.models.items():
        if alias in local and local_url is None:
            continue
        info = catalog[alias]
        update: dict = {}
        if alias in local:
            update |= {"model": "openai/" + spec.model.removeprefix(LOCAL_PREFIX), "api_base": local_url}
        if spec.price is None and info.input_price is not None and info.output_price is not None:
            update["price"] = Price(input_per_mtok=per_mtok(info.input_price),
                                    output_per_mtok=per_mtok(info.output_price))
        if spec.context_window is None and info.context_window:
            update["context_window"] = info.context_window
        models[alias] = spec.model_copy(update=update)
    if local and local_url is not None:
        changes.append(f"{', '.join(local)}: the embedded local model becomes an OpenAI-compatible deployment at "
                       f"{local_url} (a llama.cpp server or Ollama must serve it there under that name)")
    elif local:
        changes.append(f"{', '.join(local)} left out: the embedded local model runs only inside the playground; "
                       f"export with --local-url URL to serve it from a llama.cpp server or Ollama instead")
    if not models:
        raise ExportError(f"profile {profile.name!r} has only embedded local models ({', '.join(local)}); "
                          f"give --local-url URL of a llama.cpp server or Ollama that serves them")
    gone = set(profile.models) - set(models)
    tiers = {name: tuple(m for m in members if m not in gone) for name, members in profile.tiers.items()}
    routes = tuple(r.model_copy(update={"prefer": tuple(a for a in r.prefer if a not in gone)})
                   for r in profile.routes)
    fallbacks = tuple(a for a in profile.fallbacks if a not in gone)
    exported = profile.model_copy(update={"models": models, "tiers": tiers, "routes": routes, "fallbacks": fallbacks})
    exported = Profile.model_validate(exported.model_dump(by_alias=True))  # revalidate the references
    if gone:
        for name, members in tiers.items():
            using = [r.name for r in routes if name in (r.tier, r.learned.cheap_tier if r.learned else None)]
            if using and not _members(exported, members):
                changes.append(f"tier {name!r} is empty without {', '.join(sorted(gone))}: route "
                               f"{', '.join(using)} goes straight to the fallbacks "
                               f"({', '.join(fallbacks) or 'none: its requests fail'})")
        if fallbacks != profile.fallbacks:
            changes.append(f"fallbacks: {', '.join(profile.fallbacks)} → {', '.join(fallbacks) or 'none'}")
    return exported, changes


def _members(profile: Profile, names: tuple[str, ...]) -> list[str]:
    """Tier members resolved to aliases (a `tag:NAME` member names every model with that tag)."""
    seen: dict[str, None] = {}
    for name in names:
        if name.startswith("tag:"):
            seen.update(dict.fromkeys(a for a, s in profile.models.items() if name[4:] in s.tags))
        elif name in profile.models:
            seen[name] = None
    return list(seen)


def _params(spec: ModelSpec) -> dict:
    params: dict = {"model": spec.model}
    if spec.api_base:
        params["api_base"] = spec.api_base
    if spec.key_env:
        params["api_key"] = f"os.environ/{spec.key_env}"
    elif spec.api_base:
        params["api_key"] = PLACEHOLDER_KEY
    if spec.price is not None:
        params["input_cost_per_token"] = spec.price.input_per_mtok / 1e6
        params["output_cost_per_token"] = spec.price.output_per_mtok / 1e6
    if spec.max_output_tokens:
        params["max_tokens"] = spec.max_output_tokens
    if spec.weight != 1.0:
        params["weight"] = spec.weight
    return params


def _deployment(name: str, spec: ModelSpec) -> dict:
    row = {"model_name": name, "litellm_params": _params(spec)}
    if spec.context_window:
        row["model_info"] = {"max_input_tokens": spec.context_window}
    return row


def _retry_policy(profile: Profile) -> dict:
    """LiteLLM picks retries by exception class; a refused connection (APIConnectionError) takes DefaultRetries."""
    r = profile.retries
    return {"RateLimitErrorRetries": r.rate_limited, "InternalServerErrorRetries": r.server_error,
            "ServiceUnavailableErrorRetries": r.server_error, "TimeoutErrorRetries": r.timeout,
            "DefaultRetries": r.connection, "BadRequestErrorRetries": 0, "AuthenticationErrorRetries": 0,
            "ContentPolicyViolationErrorRetries": 0, "NotFoundErrorRetries": 0}


def _unmapped(profile: Profile) -> list[str]:
    r, t = profile.retries, profile.timeouts
    lines = []
    if r.stream_cut != r.server_error:
        lines.append(f"retries.stream_cut ({r.stream_cut}): LiteLLM counts a cut stream as a 503 "
                     f"(ServiceUnavailableError), so it is retried like a server error ({r.server_error})")
    if r.backoff_s:
        lines.append(f"retries.backoff_s ({r.backoff_s:g} s, doubling): LiteLLM's retry_after is a minimum wait "
                     f"before each retry, set to {r.backoff_s:g} s")
    if t.idle != t.first_token:
        lines.append(f"timeouts.idle ({t.idle:g} s): LiteLLM's stream_timeout is the first-token timeout "
                     f"({t.first_token:g} s) and also bounds each wait between chunks")
    lines.append(f"cooldown: the playground cools a model after {profile.cooldown.after_failures} failures in a "
                 f"row; LiteLLM after allowed_fails ({profile.cooldown.after_failures}) failures within a minute, "
                 f"and after a 429 at once (cooldown_time {profile.cooldown.seconds:g} s)")
    latency = any(route.select == "fastest" for route in profile.routes) or (
        profile.selection.latency and any(route.select == "weighted" for route in profile.routes))
    if latency:
        lines.append("latency in selection: the playground ranks by latencies measured in its history; the proxy's "
                     "routing module has none, so `fastest` keeps the tier's order and `weighted` weighs cost and "
                     "health only, as the playground does before its first replies")
    cascades = [route.name for route in profile.routes if route.escalate is not None]
    if cascades:
        lines.append(f"escalate ({', '.join(cascades)}): the proxy answers with the route's first choice and never "
                     "checks the answer, so it does not escalate; LiteLLM's fallbacks cover failed calls only")
    bandits = [route.name for route in profile.routes
               if route.experiment is not None and route.experiment.strategy == "thompson"]
    if bandits:
        lines.append(f"experiment ({', '.join(bandits)}): the proxy records no outcomes, so Thompson sampling "
                     "keeps its prior and splits traffic evenly between the variants")
    if profile.budget is not None:
        lines.append("budget: the proxy does not read the playground's history, so these limits are not enforced "
                     "there (no step down, no refusal); LiteLLM's own max_budget and budget_duration (on keys, "
                     "teams or the proxy, with its database) can take their place")
    return lines


def to_litellm(profile: Profile, catalog: Catalog, *, local_url: str | None = None,
               routing: bool = True) -> Export:
    """`routing=False` (a config alone, e.g. on standard output) leaves the routing module out and says so."""
    served, changes = proxy_profile(profile, catalog, local_url)
    model_list = [_deployment(alias, spec) for alias, spec in served.models.items()]
    for tier, members in served.tiers.items():
        model_list += [_deployment(f"tier-{tier}", served.models[alias]) for alias in _members(served, members)]

    chain = list(served.fallbacks)
    fallbacks = [{alias: rest} for alias in served.models if (rest := [a for a in chain if a != alias])]
    fallbacks += [{f"tier-{tier}": chain} for tier, members in served.tiers.items()
                  if chain and _members(served, members)]
    settings = {
        # The default route carries most traffic, so its policy is the strategy of the tier-NAME groups.
        "routing_strategy": _STRATEGY[served.routes[-1].select],
        "num_retries": max(served.retries.rate_limited, served.retries.server_error, served.retries.timeout,
                           served.retries.connection),
        "retry_policy": _retry_policy(served),
        "retry_after": served.retries.backoff_s,
        "timeout": served.timeouts.total,
        "stream_timeout": served.timeouts.first_token,
        "allowed_fails": served.cooldown.after_failures,
        "cooldown_time": served.cooldown.seconds,
        "fallbacks": fallbacks,
    }
    config: dict = {"model_list": model_list, "router_settings": settings}
    unmapped = _unmapped(served)
    if routing:
        config["litellm_settings"] = {"callbacks": f"{module_name(served)}.proxy_handler"}
        if served.uses_embeddings and served.embeddings.model in ("local", "local-multilingual"):
            unmapped.append("semantic routes and a learned route on embeddings embed prompts with the playground's "
                            "offline MiniLM model: it must be installed where the proxy runs (it comes with "
                            "llm-routing-playground)")
    else:
        unmapped.append(f"routing: written to standard output, the config cannot carry the routing module; export "
                        f"with -o DIR/config.yaml to route `model: {served.name}` as the playground does "
                        f"(until then call a model or a tier-NAME group)")
    return Export(served, config, changes, unmapped, routing)


def to_profile_yaml(profile: Profile) -> str:
    """The profile as validated: defaults written out, so the file says everything the router will do."""
    data = profile.model_dump(mode="json", by_alias=True, exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
