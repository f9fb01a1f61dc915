"""Profile → LiteLLM proxy config → litellm.Router, routing real requests to the local test server."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import yaml
from support.openai_server import OpenAIStubServer

from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.policy.export import to_litellm, to_profile_yaml

PLANTED = "sk-planted-secret-0123456789abcdef"


def profile_at(tmp_path, api_base: str):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: exported
        models:
          broken: {{model: openai/broken, api_base: "{api_base}", key_env: TEST_EXPORT_KEY,
                   price: {{input_per_mtok: 1, output_per_mtok: 2}}}}
          good: {{model: openai/good, api_base: "{api_base}", key_env: TEST_EXPORT_KEY, context_window: 4000}}
        tiers: {{main: [broken]}}
        routes:
          - {{name: code, when: {{code: true}}, tier: main}}
          - {{name: rest, tier: main, select: cheapest}}
        fallbacks: [good]
        retries: {{server_error: 0, rate_limited: 2}}
        cooldown: {{after_failures: 2, seconds: 15}}
        timeouts: {{total: 20, idle: 5}}
        """))
    return path


async def test_export_loads_into_litellm_router_and_falls_back(tmp_path, monkeypatch):
    import litellm

    monkeypatch.setenv("TEST_EXPORT_KEY", PLANTED)
    with OpenAIStubServer() as server:
        server.script("broken", status=500)
        server.script("good", text="served by the exported config")
        profile = load_profile(profile_at(tmp_path, server.api_base))
        export = to_litellm(profile, build_catalog(profile))
        text = export.to_yaml(profile)
        assert PLANTED not in text and "os.environ/TEST_EXPORT_KEY" in text
        assert "rule route 'code' → tier-main" in text  # what could not be mapped is said

        config = yaml.safe_load(text)
        settings = config["router_settings"]
        assert settings["fallbacks"] == [{"broken": ["good"]}, {"tier-main": ["good"]}]
        assert (settings["allowed_fails"], settings["cooldown_time"], settings["num_retries"]) == (2, 15.0, 2)
        assert settings["routing_strategy"] == "cost-based-routing"
        broken = next(d for d in config["model_list"] if d["model_name"] == "broken")["litellm_params"]
        assert (broken["input_cost_per_token"], broken["output_cost_per_token"]) == (1e-6, 2e-6)

        router = litellm.Router(model_list=config["model_list"], **settings)
        response = await router.acompletion(model="tier-main", messages=[{"role": "user", "content": "hi"}])
        assert response.choices[0].message.content == "served by the exported config"
        assert server.hits["broken"] == 1 and server.hits["good"] == 1  # no retries on 500, then fallback


def test_cli_writes_private_file_and_lists_what_was_not_exported(tmp_path):
    out = tmp_path / "config.yaml"
    result = subprocess.run([sys.executable, "-m", "playground", "export", "default", "-o", str(out)],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "OPENAI_API_KEY": PLANTED})
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert PLANTED not in out.read_text()
    assert "playground: not exported: rule route 'code' → tier-strong" in result.stderr


def test_normalised_yaml_round_trips(tmp_path):
    profile = load_profile(profile_at(tmp_path, "http://127.0.0.1:1/v1"))
    again = tmp_path / "again.yaml"
    again.write_text(to_profile_yaml(profile))
    assert load_profile(again) == profile
