"""Profiles: the bundled ones load; every mistake is one line naming file:line:column and what is expected."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from playground.paths import bundled_profiles_dir, resolve_profile
from playground.profile import ProfileError, load_profile

GOOD = """\
name: t
models:
  a: {model: openai/a}
  b: {model: openai/b}
tiers:
  main: [a]
routes:
  - name: rest
    tier: main
fallbacks: [b]
"""


@pytest.mark.parametrize("path", sorted(bundled_profiles_dir().rglob("*.yaml")), ids=lambda p: p.name)
def test_bundled_profiles_load(path):
    assert load_profile(path).routes


def error_for(tmp_path, text: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    return message.removeprefix(str(path))


@pytest.mark.parametrize("change, expected", [
    (("  b: {model: openai/b}", "  b: {model: openai/b, colour: red}"), ":4:24: models.b.colour: unknown key"),
    (("  a: {model: openai/a}", "  a: {model: openai/a, price: {input_per_mtok: cheap, output_per_mtok: 1}}"),
     ":3:48: models.a.price.input_per_mtok: Input should be a valid number"),
    (("  - name: rest\n    tier: main", "  - name: rest"), ":8:5: routes.0.tier: missing required key"),
    (("  main: [a]", "  main: [a, nope]"), ":6:13: tiers.main.1: unknown model 'nope' (models: a, b)"),
    (("    tier: main", "    tier: other"), ":9:11: routes.0.tier: unknown tier 'other' (tiers: main)"),
    (("fallbacks: [b]", "fallbacks: [b, zzz]"), ":10:16: fallbacks.1: unknown model 'zzz' (models: a, b)"),
    (("fallbacks: [b]", "fallbacks: [b, a, b]"), ":10:19: fallbacks.2: 'b' is named twice: the chain would loop"),
    (("    tier: main", "    tier: main\n    when: {code: true}"), ":8:5: routes.0: the last route must have no"),
    (("  a: {model: openai/a}", "  a: {model: openai/a, key_env: sk-abc123}"),
     ":3:33: models.a.key_env: must be the NAME of an environment variable"),
    (("    tier: main", "    tier: main\n    when: {regex: '(unclosed'}"),
     ":10:19: routes.0.when.regex: invalid regular expression: missing ), unterminated subpattern"),
    (("  - name: rest", "  - name: first\n    tier: main\n    when: {}\n  - name: rest"),
     ":10:11: routes.0.when: an empty condition"),
    (("  - name: rest", "  - name: rest\n    tier: main\n  - name: rest"),
     ":10:11: routes.1.name: route name 'rest' is used twice"),
    (("  b: {model: openai/b}", "  b: {model: openai/b, key_env: B_KEY, api_base: 'https://evil.example/v1'}"),
     "models.b: would send $B_KEY to https://evil.example/v1"),
])
def test_each_mistake_names_its_place(tmp_path, change, expected):
    old, new = change
    assert old in GOOD
    assert expected in error_for(tmp_path, GOOD.replace(old, new, 1))


def test_key_may_go_to_a_declared_proxy_or_to_loopback(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(GOOD.replace("  b: {model: openai/b}", "  b: {model: openai/b, key_env: B_KEY, api_base: "
                                 "'https://proxy.corp/v1', allow_key_to_api_base: true}\n"
                                 "  c: {model: openai/c, key_env: C_KEY, api_base: 'http://127.0.0.1:4000'}"))
    assert load_profile(path).models["b"].allow_key_to_api_base


def test_yaml_syntax_error_points_at_the_line(tmp_path):
    assert error_for(tmp_path, "name: t\nmodels: {a: [1, 2}\n").startswith(":2:")


def test_duplicate_keys_are_refused(tmp_path):
    assert error_for(tmp_path, GOOD + "name: again\n") == ":11:1: duplicate key 'name'"


def test_python_tags_are_refused(tmp_path):
    message = error_for(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\n")
    assert message == ":1:7: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]" for i in range(1, 9)]
    started = time.monotonic()
    assert "too many values" in error_for(tmp_path, "\n".join(lines) + "\n")
    assert time.monotonic() - started < 2


def test_huge_and_binary_files_are_refused(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("# " + "x" * 1_100_000)
    with pytest.raises(ProfileError, match="profiles are limited to 1,000,000"):
        load_profile(path)
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ProfileError, match=r"p.yaml: not UTF-8 text \(byte 9\)"):
        load_profile(path)
    with pytest.raises(ProfileError, match="no such file"):
        load_profile(tmp_path / "missing.yaml")


def test_profile_check_command(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("  main: [a]", "  main: [a, nope]"))
    result = subprocess.run([sys.executable, "-m", "playground", "profile", "check", "default", str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout.startswith(f"{resolve_profile('default')}: ok (default:")
    assert result.stderr.strip() == f"{bad}:6:13: tiers.main.1: unknown model 'nope' (models: a, b)"
