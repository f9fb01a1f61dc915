"""`playground eval --live`: real calls to the local test server, checks, history, and resuming."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.support.helpers import guarded_env

PROMPTS = [
    {"id": "a", "prompt": "What is six times seven?", "check": "contains", "expected": "42"},
    {"id": "b", "prompt": "Say exactly nope", "check": "exact", "expected": "nope"},
    {"id": "c", "prompt": "Give me JSON", "check": "json"},
    {"id": "d", "prompt": "Is the answer polite?", "check": "judge", "expected": "it is polite"},
    {"id": "e", "prompt": "Anything at all"},
]


def run(tmp_path, *extra):
    return subprocess.run([sys.executable, "-m", "playground", "--db", str(tmp_path / "h.db"), "eval",
                           str(tmp_path / "p.yaml"), str(tmp_path / "prompts.jsonl"), "--live", "--json", *extra],
                          capture_output=True, text=True, timeout=120,
                          env=guarded_env(PLAYGROUND_HOME=str(tmp_path / "home")))


def test_live_eval_checks_records_and_resumes(server, tmp_path):
    server.script("answerer", text="The answer is 42.")
    server.script("grader", text="PASS")
    (tmp_path / "p.yaml").write_text(textwrap.dedent(f"""\
        name: live
        models:
          answerer: {{model: openai/answerer, api_base: "{server.api_base}",
                      price: {{input_per_mtok: 1, output_per_mtok: 1}}}}
          grader: {{model: openai/grader, api_base: "{server.api_base}"}}
        tiers: {{main: [answerer]}}
        routes: [{{name: all, tier: main}}]
        """))
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    results = tmp_path / "prompts.results.jsonl"
    first = run(tmp_path, "--judge", "grader")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["prompts"], summary["answered"], summary["checked"], summary["passed"]) == (5, 5, 4, 2)
    rows = {r["id"]: r for r in map(json.loads, results.read_text().splitlines())}
    assert rows["a"]["passed"] is True and rows["b"]["passed"] is False and rows["c"]["passed"] is False
    assert rows["d"]["passed"] is True and rows["e"]["passed"] is None
    assert server.hits["answerer"] == 5 and server.hits["grader"] == 1

    # As if the run had been interrupted after "a" and "b", while writing a third line.
    results.write_text("\n".join(results.read_text().splitlines()[:2]) + '\n{"id": "c", "sta')
    again = run(tmp_path, "--judge", "grader")
    assert again.returncode == 0, again.stderr
    assert server.hits["answerer"] == 5 + 3  # only the three unfinished prompts ran again
    from playground.history.store import Store

    store = Store(tmp_path / "h.db")
    assert len(store.conversations()) >= 8  # every live call is in history, judge calls too


def test_bad_prompt_files_are_one_line(tmp_path):
    (tmp_path / "p.yaml").write_text("name: x\nmodels: {m: {model: openai/m}}\ntiers: {t: [m]}\n"
                                     "routes: [{name: r, tier: t}]\n")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "x", "check": "regex", "expected": "("}\n')
    result = run(tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "prompts.jsonl:1: invalid regular expression" in result.stderr
