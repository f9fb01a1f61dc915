"""Helpers shared by the tests: stub-server profiles and guarded subprocess environments."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import yaml

PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY", "DEEPSEEK_API_KEY",
                 "GROQ_API_KEY")

NETGUARD_DIR = Path(__file__).resolve().parent / "netguard"
"""Holds a sitecustomize.py: first on PYTHONPATH, it makes a child Python refuse non-loopback hosts."""

NO_RETRIES = {"rate_limited": 0, "server_error": 0, "timeout": 0, "connection": 0, "stream_cut": 0}


PATIENT_TIMEOUTS = {"first_token": 30, "idle": 30, "total": 60}
"""For tests that are not about time limits. The first-token limit also covers LiteLLM's first call in a
process (client set-up, seconds on a loaded 2-core machine under pytest -n auto), so a short one made
tests time out, retry or fall back only under load. Tests about timeouts set their own, well below."""

STUB_PRICE = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}
"""$1/$2 per Mtok: with the stub server's usage (prompt words + 7 in, reply words out) costs are exact."""


def profile_data(api_base: str | None, models, *, tiers=None, routes=None, fallbacks=None, name: str = "stub",
                 price: dict | None = None, defaults: bool = True, body: str = "", **sections) -> dict:
    """A profile whose models are behaviours of the stub server: the one builder the tests share.

    `models` is a list of behaviour names (alias = behaviour name) or {alias: spec overrides}. By
    default the first model is the only tier member, the others are the fallbacks in order, nothing is
    retried (so the server's hit counts are exact) and the timeouts are PATIENT_TIMEOUTS. A dict given for a
    section that has defaults (retries, timeouts) is merged into them; None leaves a section out (the
    product's default). `price` is given to every model that has none; api_base None leaves it out.
    `defaults=False` writes only the models and the sections given, for tests of the router and the
    profile itself. `body` is more sections as YAML text (dedented), as a profile's author writes them.
    """
    if not isinstance(models, dict):
        models = {m: {} for m in models}
    specs = {}
    for alias, overrides in models.items():
        spec = {"model": f"openai/{alias}"} | ({"api_base": api_base} if api_base else {})
        specs[alias] = spec | ({"price": price} if price else {}) | overrides
    aliases = list(specs)
    data: dict = {"version": 1, "name": name, "models": specs}
    if defaults:
        data |= {
            "tiers": tiers if tiers is not None else {"main": [aliases[0]]},
            "routes": routes if routes is not None else [{"name": "all", "tier": "main"}],
            "fallbacks": fallbacks if fallbacks is not None else aliases[1:],
            "retries": dict(NO_RETRIES),
            "timeouts": dict(PATIENT_TIMEOUTS),
        }
    else:
        data |= {key: value for key, value in (("tiers", tiers), ("routes", routes), ("fallbacks", fallbacks))
                 if value is not None}
    for key, value in (sections | (yaml.safe_load(textwrap.dedent(body)) or {})).items():
        if value is None:
            data.pop(key, None)
        elif isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def write_profile(directory: Path, api_base: str | None, models, filename: str = "profile.yaml", **kwargs) -> Path:
    """`profile_data` written as YAML, one key per line in block style: a test about file:line positions
    reads the text back (`path.read_text()`) to find the line it means."""
    path = Path(directory) / filename
    path.write_text(yaml.safe_dump(profile_data(api_base, models, **kwargs), sort_keys=False))
    return path


def compare_profile(directory: Path, api_base: str, models: list[str], **sections) -> str:
    """Every model in one tier at STUB_PRICE, a `code` and an `everything` route, product retries;
    `sections` as for profile_data."""
    defaults = {"name": "compare-test", "price": STUB_PRICE, "tiers": {"main": list(models)}, "fallbacks": [],
                "retries": None, "routes": [{"name": "code", "when": {"code": True}, "tier": "main"},
                                            {"name": "everything", "tier": "main"}]}
    return str(write_profile(directory, api_base, models, **(defaults | sections)))


def guarded_env(netlog: Path | None = None, **extra: str) -> dict[str, str]:
    """Environment for a `python -m playground` child: no provider keys, loopback only, offline prices."""
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS and k != "PLAYGROUND_DB"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD_DIR), os.environ.get("PYTHONPATH")]))
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    if netlog is not None:
        env["PLAYGROUND_TEST_NETLOG"] = str(netlog)
    env.update(extra)
    return env


async def routed_turn(session, prompt: str = "hello there"):
    """Send one prompt through the session's chat: the router's decision and the reply (None when the turn
    failed before one)."""
    from playground.services.events import ReplyDone, Routed

    decision = reply = None
    async for event in session.chat.send(prompt):
        if isinstance(event, Routed):
            decision = event.decision
        elif isinstance(event, ReplyDone):
            reply = event.reply
    return decision, reply
