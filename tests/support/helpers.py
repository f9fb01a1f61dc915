"""Helpers shared by the tests: stub-server profiles and guarded subprocess environments."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY", "DEEPSEEK_API_KEY",
                 "GROQ_API_KEY")

NETGUARD_DIR = Path(__file__).resolve().parent / "netguard"
"""Holds a sitecustomize.py: first on PYTHONPATH, it makes a child Python refuse non-loopback hosts."""

NO_RETRIES = {"rate_limited": 0, "server_error": 0, "timeout": 0, "connection": 0, "stream_cut": 0}


def profile_data(api_base: str, models, *, tiers=None, routes=None, fallbacks=None, name: str = "stub",
                 **sections) -> dict:
    """A profile whose models are behaviours of the stub server.

    `models` is a list of behaviour names (alias = behaviour name) or {alias: spec overrides}. By
    default the first model is the only tier member, the others are the fallbacks in order, nothing is
    retried (so the server's hit counts are exact) and the timeouts are short. A dict given for a
    section that has defaults (retries, timeouts) is merged into them.
    """
    if not isinstance(models, dict):
        models = {m: {} for m in models}
    specs = {alias: {"model": f"openai/{alias}", "api_base": api_base, **overrides}
             for alias, overrides in models.items()}
    aliases = list(specs)
    data = {
        "version": 1,
        "name": name,
        "models": specs,
        "tiers": tiers if tiers is not None else {"main": [aliases[0]]},
        "routes": routes if routes is not None else [{"name": "all", "tier": "main"}],
        "fallbacks": fallbacks if fallbacks is not None else aliases[1:],
        "retries": dict(NO_RETRIES),
        "timeouts": {"first_token": 5, "idle": 5, "total": 20},
    }
    for key, value in sections.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) \
            else value
    return data


def write_profile(directory: Path, api_base: str, models, filename: str = "profile.yaml", **kwargs) -> Path:
    path = Path(directory) / filename
    path.write_text(yaml.safe_dump(profile_data(api_base, models, **kwargs), sort_keys=False))
    return path


def guarded_env(netlog: Path | None = None, **extra: str) -> dict[str, str]:
    """Environment for a `python -m playground` child: no provider keys, loopback only, offline prices."""
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS and k != "PLAYGROUND_DB"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD_DIR), os.environ.get("PYTHONPATH")]))
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    if netlog is not None:
        env["PLAYGROUND_TEST_NETLOG"] = str(netlog)
    env.update(extra)
    return env
