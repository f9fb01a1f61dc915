"""`playground route`: decisions without calling a model, accuracy and confusion with expected routes, and
the shipped default profile routing plain-language requests semantically (the real offline encoder)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from playground.cli.main import main
from tests.support.helpers import guarded_env


def test_a_coding_request_in_words_takes_the_code_tier_of_the_default_profile(capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")  # routing only: no call is made
    # Before the default profile had a semantic stage this took `simple`, the cheap tier.
    assert main(["route", "write a python function to reverse a list", "--json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert (decision["route"], decision["stage"], decision["tier"]) == ("coding", "semantic", "strong")
    assert decision["runner_up"] and decision["margin"] > 0
    assert decision["score"] >= decision["threshold"]
    assert decision["where"] is None and decision["expected"] is None  # a prompt of the command line, not of a file


def test_a_file_with_expected_routes_prints_accuracy_and_a_confusion_table(tmp_path, capsys):
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(json.dumps(c) for c in [
        {"prompt": "hi, how are you doing today?", "expected": "small-talk"},
        {"prompt": "Translate 'good night' into Italian", "expected": "translation"},
        {"prompt": "```python\nprint(1)\n```\nwhy does this print 1", "expected": "code"},
        {"prompt": "Translate 'thank you' into German", "expected": "small-talk"},  # deliberately wrong
    ]) + "\n")
    assert main(["route", "--file", str(cases)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("✓ small-talk · semantic · ")
    assert out[2].startswith("✓ code · rules · ") and "code in prompt" in out[2]
    assert out[3].startswith("✗ (expected small-talk) translation · semantic")
    assert "accuracy 75.0% (3/4)" in out
    header = next(line for line in out if line.startswith("expected ↓ / routed →"))
    assert header.split()[-3:] == ["code", "small-talk", "translation"]
    row = next(line for line in out if line.startswith("small-talk "))
    assert row.split()[1:] == [".", "1", "1"]


def test_plain_prompts_one_a_line_and_json_lines_out(tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("tell me a joke\n\nsummarise this report in two sentences\n")
    assert main(["route", "--file", str(prompts), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["route"] for d in lines] == ["small-talk", "summarise"]
    assert [d["where"] for d in lines] == [f"{prompts}:1", f"{prompts}:3"]


@pytest.mark.parametrize(("content", "message"), [
    ('{"prompt": "hi", "expected": "nonsense"}\n', ":1: expected route 'nonsense' is not in profile 'default'"),
    ('{"prompt": "hi"}\n{"prompt": ""}\n', ":2: `prompt` must be a non-empty string"),
    ('{"prompt": "hi"}\n{oops\n', ":2: invalid JSON"),
])
def test_a_bad_prompt_file_is_one_line_naming_the_line(tmp_path, capsys, content, message):
    cases = tmp_path / "cases.jsonl"
    cases.write_text(content)
    assert main(["route", "--file", str(cases)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"playground: error: {cases}") and message in err and len(err.splitlines()) == 1


def test_profile_check_warns_when_a_threshold_is_out_of_reach_of_its_own_utterances(tmp_path, capsys):
    profile = tmp_path / "p.yaml"
    profile.write_text("""
models: {m: {model: openai/m}}
tiers: {t: [m]}
routes:
  - name: translate
    tier: t
    semantic:
      threshold: 0.9
      utterances: [translate this into French, how do you say hello in Spanish, render this in German]
  - name: fitted
    tier: t
    semantic: {utterances: [tell me a joke, hi there, how are you]}
  - {name: rest, tier: t}
""")
    assert main(["profile", "check", str(profile)]) == 0  # a warning, not a failure
    err = capsys.readouterr().err
    assert "warning: route 'translate': threshold 0.90 is above what half of its own utterances reach" in err
    assert "'fitted'" not in err


def test_route_as_a_process_prints_one_decision(tmp_path):
    netlog = tmp_path / "net.log"
    result = subprocess.run([sys.executable, "-m", "playground", "route", "hello there!"], capture_output=True,
                            text=True, timeout=120, env=guarded_env(netlog, PLAYGROUND_HOME=str(tmp_path / "h")))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("small-talk · semantic · ")
    assert not netlog.exists()
