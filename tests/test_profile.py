"""Profiles: the bundled ones load; every mistake is one line naming file:line:column and what is expected."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from playground.base.paths import bundled_profiles_dir, resolve_profile
from playground.config.profile import ProfileError, load_profile
from tests.support.helpers import guarded_env

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
                            capture_output=True, text=True, timeout=60, env=guarded_env())
    assert result.returncode == 1
    assert result.stdout.startswith(f"{resolve_profile('default')}: ok (default:")
    assert result.stderr.strip() == f"{bad}:6:13: tiers.main.1: unknown model 'nope' (models: a, b)"


# More mistakes, each pinned to its exact line and column ---------------------------------------------

NESTED_ROUTE = GOOD.replace("  - name: rest\n", "  - name: code\n    tier: main\n    when:\n      any:\n"
                                                "        - code: true\n        - colour: red\n  - name: rest\n")


@pytest.mark.parametrize("text, expected", [
    # Unknown keys deep in a rule, including under the `not` alias.
    (NESTED_ROUTE, ":13:11: routes.0.when.any.1.colour: unknown key"),
    (GOOD.replace("  - name: rest\n", "  - name: c\n    tier: main\n    when:\n      not: {tagz: [x]}\n"
                                      "  - name: rest\n"), ":11:13: routes.0.when.not.tagz: unknown key"),
    # Wrong types.
    (GOOD.replace("  main: [a]", "  main: a"), ":6:9: tiers.main: Input should be a valid tuple"),
    (GOOD.replace("  a: {model: openai/a}", "  a:\n    model: openai/a\n    context_window: lots"),
     ":5:21: models.a.context_window: Input should be a valid integer, unable to parse string as an integer"),
    (GOOD + "timeouts: {first_token: -1}\n", ":11:25: timeouts.first_token: Input should be greater than 0"),
    (GOOD.replace("    tier: main", "    tier: main\n    select: fastestest"),
     ":10:13: routes.0.select: Input should be 'cheapest', 'first', 'fastest', 'weighted' or 'balance'"),
    ("version: 2\n" + GOOD, ":1:10: version: Input should be 1"),
    # Missing keys point at the mapping that lacks them.
    (GOOD.replace("models:\n  a: {model: openai/a}\n  b: {model: openai/b}\n", ""),
     ":1:1: models: missing required key"),
    (GOOD.replace("  a: {model: openai/a}", "  a: {label: A}"), ":3:6: models.a.model: missing required key"),
    # YAML itself.
    ("name: t\nmodels:\n  a: {model: openai/a\ntiers: x\n", ":4:6: invalid YAML: expected ',' or '}', but got ':'"),
    ("name: t\nmodels:\n\ta: 1\n", ":3:1: invalid YAML: found character '\\t' that cannot start any token"),
    ("name: t\nmodels: !!python/object:os.system {}\n",
     ":2:9: tag 'tag:yaml.org,2002:python/object:os.system' is not allowed"),
    ("name: t\ndescription: !!python/name:os.system ''\n",
     ":2:14: tag 'tag:yaml.org,2002:python/name:os.system' is not allowed"),
    ("name: !secret t\n", ":1:7: tag '!secret' is not allowed"),
    ("base: &b {model: openai/a}\nmodels:\n  a:\n    <<: *b\n", ":4:5: YAML merge keys (<<) are not supported"),
    ("- a\n- b\n", ":1:1: a profile is a mapping with `name`, `models`, `tiers` and `routes`"),
    ("", ":1:1: a profile is a mapping with `name`, `models`, `tiers` and `routes`"),
], ids=["unknown-in-any", "unknown-in-not", "tier-not-a-list", "window-not-int", "negative-timeout",
        "bad-select", "version", "no-models", "no-model-string", "yaml-syntax", "yaml-tab", "python-object",
        "python-name", "custom-tag", "merge-key", "top-level-list", "empty-file"])
def test_more_mistakes_name_their_exact_place(tmp_path, text, expected):
    assert error_for(tmp_path, text) == expected


def test_alias_bomb_error_names_the_line(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]" for i in range(1, 9)]
    started = time.monotonic()
    message = error_for(tmp_path, "\n".join(lines) + "\n")
    assert time.monotonic() - started < 2
    assert message == ":1:34: too many values (over 50,000); is an alias expanding recursively?"


def test_whole_file_problems_are_one_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(GOOD + "#" * (1_000_000 - len(GOOD)))
    assert load_profile(path).name == "t"  # exactly at the limit: accepted
    path.write_text(GOOD + "#" * (1_000_001 - len(GOOD)))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(caught.value) == f"{path}: file is 1,000,001 bytes; profiles are limited to 1,000,000"
    path.write_bytes(GOOD.encode() + b"# caf\xe9\n")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(caught.value) == f"{path}: not UTF-8 text (byte {len(GOOD) + 5})"
    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path / "missing.yaml")
    assert str(caught.value) == f"{tmp_path / 'missing.yaml'}: no such file"
    with pytest.raises(ProfileError) as caught:
        load_profile(tmp_path)
    assert str(caught.value) == f"{tmp_path}: cannot read: Is a directory"


def test_union_typed_values_are_named_by_their_key(tmp_path):
    text = GOOD.replace("    tier: main\n", "    tier: main\n    learned: {cheap_tier: main, cheap: {}, "
                                           "provenance: {a: [1]}}\n")
    message = error_for(tmp_path, text)
    assert message.startswith(":10:60: routes.0.learned.provenance.a: ")
