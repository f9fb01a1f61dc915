"""`playground import litellm`: a LiteLLM proxy config becomes a profile; export then import gives it back."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import yaml

from playground.base.paths import bundled_profiles_dir
from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.policy.export import to_litellm, write_export
from playground.policy.litellm_import import ImportProblem, import_litellm
from playground.router.decide import RouteRequest, decide

BUNDLED = sorted(bundled_profiles_dir().glob("**/*.yaml"))


def exported(folder, path, url="http://127.0.0.1:8080/v1"):
    profile = load_profile(path)
    export = to_litellm(profile, build_catalog(profile, env={}), local_url=url)
    folder.mkdir()
    write_export(export, folder / "config.yaml")
    return export


def members(profile, tier):
    return build_catalog(profile, env={}).members(profile.tiers[tier])


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_export_then_import_gives_the_exported_profile_back(tmp_path, path):
    export = exported(tmp_path / "out", path)
    back = import_litellm(tmp_path / "out" / "config.yaml")
    assert back.profile == export.profile

    # Without the routing files, what LiteLLM's own fields hold still comes back.
    for name in export.files():
        (tmp_path / "out" / name).unlink()
    bare = import_litellm(tmp_path / "out" / "config.yaml").profile
    source = export.profile
    strip = {"label", "tags"}
    assert {a: s.model_dump(exclude=strip) for a, s in bare.models.items()} == \
        {a: s.model_dump(exclude=strip) for a, s in source.models.items()}
    assert bare.fallbacks == source.fallbacks and bare.cooldown == source.cooldown
    assert bare.retries.model_dump(exclude={"stream_cut"}) == source.retries.model_dump(exclude={"stream_cut"})
    assert (bare.timeouts.total, bare.timeouts.first_token) == (source.timeouts.total, source.timeouts.first_token)
    for tier in source.tiers:
        if members(source, tier):
            assert [m.alias for m in members(bare, tier)] == [m.alias for m in members(source, tier)]
    assert [r.stage for r in bare.routes] == ["default"]


def test_a_hand_written_proxy_config_becomes_a_working_profile(tmp_path):
    config = tmp_path / "proxy.yaml"
    config.write_text(textwrap.dedent("""\
        model_list:
          - model_name: gpt-4o
            litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY, rpm: 100}
          - model_name: fast
            litellm_params: {model: groq/llama-3.1-8b-instant, api_key: os.environ/GROQ_API_KEY, weight: 3}
          - model_name: fast
            litellm_params: {model: openai/llama3, api_base: "http://127.0.0.1:11434/v1", api_key: sk-literal-1234,
                             input_cost_per_token: 0.0000001, output_cost_per_token: 0.0000002}
            model_info: {max_input_tokens: 8192}
        router_settings:
          routing_strategy: simple-shuffle
          num_retries: 2
          retry_policy: {RateLimitErrorRetries: 4}
          fallbacks: [{fast: [gpt-4o]}]
          allowed_fails: 2
          cooldown_time: 45
          timeout: 120
          stream_timeout: 15
        """))
    imported = import_litellm(config)
    profile = imported.profile
    assert set(profile.models) == {"gpt-4o", "fast-1", "fast-2"}
    assert profile.tiers["fast"] == ("fast-1", "fast-2") and profile.fallbacks == ("gpt-4o",)
    local = profile.models["fast-2"]
    assert local.key_env is None and local.context_window == 8192
    assert (local.price.input_per_mtok, local.price.output_per_mtok) == (0.1, 0.2)
    assert profile.models["fast-1"].weight == 3
    assert "sk-literal-1234" not in yaml.safe_dump(profile.model_dump(mode="json"))
    assert any("fast: its api_key is written in the config; not copied" in note for note in imported.notes)
    assert (profile.retries.rate_limited, profile.retries.server_error) == (4, 2)
    assert (profile.cooldown.after_failures, profile.cooldown.seconds) == (2, 45.0)
    assert (profile.timeouts.total, profile.timeouts.first_token) == (120.0, 15.0)
    assert profile.routes[-1].select == "balance"
    decision = decide(RouteRequest("hi", 1), profile, build_catalog(profile, env={}))
    assert decision.model == "fast-2"  # the only model usable without keys


def test_bad_configs_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_list: []\n")
    with pytest.raises(ImportProblem, match=r"bad.yaml: model_list: missing or empty"):
        import_litellm(bad)
    bad.write_text("model_list:\n  - model_name: x\n    litellm_params: {}\n")
    with pytest.raises(ImportProblem, match=r"bad.yaml: model_list\[0\]: needs model_name and litellm_params.model"):
        import_litellm(bad)


def test_cli_export_then_import_round_trips(tmp_path):
    config = tmp_path / "proxy" / "config.yaml"
    config.parent.mkdir()
    run = [sys.executable, "-m", "playground"]
    done = subprocess.run([*run, "export", "default", "-o", str(config)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    target = tmp_path / "back.yaml"
    done = subprocess.run([*run, "import", "litellm", str(config), "-o", str(target)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    source = load_profile(bundled_profiles_dir() / "default.yaml")
    assert load_profile(target) == to_litellm(source, build_catalog(source, env={})).profile

    (tmp_path / "empty.yaml").write_text("model_list: []\n")
    done = subprocess.run([*run, "import", "litellm", str(tmp_path / "empty.yaml"), "-o", str(target)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip() == f"playground: error: {tmp_path / 'empty.yaml'}: model_list: missing or empty; a " \
                                  f"LiteLLM config lists its deployments there"
