"""Profile → LiteLLM proxy config → litellm.Router, routing real requests to the local test server; every
bundled profile's export loads."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import yaml

from playground.base.paths import bundled_profiles_dir
from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.policy.export import PLACEHOLDER_KEY, ExportError, module_name, to_litellm, to_profile_yaml
from tests.support.helpers import write_profile

PLANTED = "sk-planted-secret-0123456789abcdef"
BUNDLED = sorted(bundled_profiles_dir().glob("**/*.yaml"))


def profile_at(tmp_path, api_base: str):
    models = {"broken": {"key_env": "TEST_EXPORT_KEY", "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
              "good": {"key_env": "TEST_EXPORT_KEY", "context_window": 4000},
              "keyless": {}}
    return write_profile(tmp_path, api_base, models, "p.yaml", defaults=False, name="exported",
                         tiers={"main": ["broken"]}, fallbacks=["good"], routes=[
                             {"name": "code", "when": {"code": True}, "tier": "main"},
                             {"name": "rest", "tier": "main", "select": "cheapest"}],
                         retries={"server_error": 0, "rate_limited": 2, "connection": 1},
                         cooldown={"after_failures": 2, "seconds": 15},
                         timeouts={"total": 20, "idle": 5, "first_token": 7})


async def test_export_loads_into_litellm_router_and_falls_back(server, tmp_path, monkeypatch):
    import litellm

    monkeypatch.setenv("TEST_EXPORT_KEY", PLANTED)
    server.script("broken", status=500)
    server.script("good", text="served by the exported config")
    server.script("keyless", text="no key needed")
    profile = load_profile(profile_at(tmp_path, server.api_base))
    export = to_litellm(profile, build_catalog(profile))
    text = export.to_yaml()
    assert PLANTED not in text and "os.environ/TEST_EXPORT_KEY" in text
    assert "model: exported" in text and "LITELLM_MASTER_KEY" in text  # how to call it, how to start it

    config = yaml.safe_load(text)
    settings = config["router_settings"]
    assert settings["fallbacks"] == [{"broken": ["good"]}, {"keyless": ["good"]}, {"tier-main": ["good"]}]
    assert (settings["allowed_fails"], settings["cooldown_time"], settings["num_retries"]) == (2, 15.0, 2)
    # The first-token timeout bounds a stream's start; a refused connection is retried as the profile says.
    assert (settings["timeout"], settings["stream_timeout"]) == (20.0, 7.0)
    policy = settings["retry_policy"]
    assert (policy["InternalServerErrorRetries"], policy["RateLimitErrorRetries"], policy["DefaultRetries"]) \
        == (0, 2, 1)
    assert any("timeouts.idle (5 s)" in line for line in export.unmapped)
    assert settings["routing_strategy"] == "cost-based-routing"
    params = {d["model_name"]: d["litellm_params"] for d in config["model_list"]}
    assert (params["broken"]["input_cost_per_token"], params["broken"]["output_cost_per_token"]) == (1e-6, 2e-6)
    assert params["keyless"]["api_key"] == PLACEHOLDER_KEY  # LiteLLM: api_base without a key → Missing credentials
    assert config["litellm_settings"]["callbacks"] == "playground_routing_exported.proxy_handler"

    router = litellm.Router(model_list=config["model_list"], **settings)
    response = await router.acompletion(model="tier-main", messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "served by the exported config"
    assert server.hits["broken"] == 1 and server.hits["good"] == 1  # no retries on 500, then fallback
    response = await router.acompletion(model="keyless", messages=[{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "no key needed"


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_profile_exports_a_config_litellm_loads(path):
    import litellm

    profile = load_profile(path)
    catalog = build_catalog(profile, env={})
    local = any(m.model.startswith("local/") for m in profile.models.values())
    urls = [None, "http://127.0.0.1:8080/v1"] if local else [None]
    for url in urls:
        try:
            export = to_litellm(profile, catalog, local_url=url)
        except ExportError as exc:
            assert url is None and "--local-url" in str(exc)  # only local models, and no server named
            continue
        config = yaml.safe_load(export.to_yaml())
        router = litellm.Router(model_list=config["model_list"], **config["router_settings"])
        names = {d["model_name"] for d in router.model_list}
        assert not any(d["litellm_params"]["model"].startswith("local/") for d in config["model_list"])
        for rule in config["router_settings"]["fallbacks"]:  # no chain points at a missing deployment
            for group, chain in rule.items():
                assert group in names and set(chain) <= names, rule
        assert set(export.profile.models) <= names
        for deployment in config["model_list"]:
            params = deployment["litellm_params"]
            assert "api_key" in params or "api_base" not in params
        if local and url is None:
            assert any("smollm2 left out" in line for line in export.changes)
            assert "smollm2" not in export.profile.fallbacks
        elif local:
            assert {"model": "openai/smollm2", "api_base": url}.items() <= \
                next(d for d in config["model_list"] if d["model_name"] == "smollm2")["litellm_params"].items()
        files = export.files()
        assert set(files) == {f"{module_name(profile)}.py", f"{module_name(profile)}.yaml"}
        assert yaml.safe_load(files[f"{module_name(profile)}.yaml"])["name"] == profile.name


def test_cli_writes_private_files_and_says_what_changed(tmp_path):
    out = tmp_path / "proxy" / "config.yaml"  # a folder that does not exist yet is created
    result = subprocess.run([sys.executable, "-m", "playground", "export", "default", "-o", str(out)],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "OPENAI_API_KEY": PLANTED})
    assert result.returncode == 0, result.stderr
    written = [out, out.parent / "playground_routing_default.py", out.parent / "playground_routing_default.yaml"]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert PLANTED not in path.read_text()
    assert "playground: changed: smollm2 left out" in result.stderr
    assert "playground: not exported: timeouts.idle" in result.stderr

    only_local = subprocess.run([sys.executable, "-m", "playground", "export", "local-only"],
                                capture_output=True, text=True, timeout=60)
    assert only_local.returncode != 0
    assert only_local.stderr.strip().endswith("give --local-url URL of a llama.cpp server or Ollama that serves them")


def test_normalised_yaml_round_trips(tmp_path):
    profile = load_profile(profile_at(tmp_path, "http://127.0.0.1:1/v1"))
    again = tmp_path / "again.yaml"
    again.write_text(to_profile_yaml(profile))
    assert load_profile(again) == profile


def test_the_header_says_budgets_and_bandits_do_not_reach_the_proxy(tmp_path):
    from playground.config.profile import Profile

    profile = Profile.model_validate({
        "name": "limits", "models": {"a": {"model": "openai/a", "api_base": "http://127.0.0.1:9/v1"},
                                     "b": {"model": "openai/b", "api_base": "http://127.0.0.1:9/v1"}},
        "tiers": {"main": ["a", "b"]},
        "routes": [{"name": "all", "tier": "main",
                    "experiment": {"name": "ab", "strategy": "thompson", "variants": ["a", "b"]}}],
        "budget": {"daily_usd": 5}})
    export = to_litellm(profile, build_catalog(profile, env={}))
    assert any(line.startswith("experiment (all): the proxy records no outcomes") for line in export.unmapped)
    assert any(line.startswith("budget: the proxy does not read the playground's history") for line in export.unmapped)
    assert "#   - budget: the proxy does not read" in export.to_yaml()
    profile = profile.model_copy(update={"budget": None, "routes": [profile.routes[0].model_copy(
        update={"experiment": None})]})
    assert not [line for line in to_litellm(profile, build_catalog(profile, env={})).unmapped
                if line.startswith(("budget", "experiment"))]
