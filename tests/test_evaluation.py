"""Replay metrics against hand-computed values, tuning determinism, and profile → tune → export → load."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import pytest
import yaml

from playground.base.errors import SourceError
from playground.base.tokens import count_text
from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.policy.evaluation import evaluate
from playground.policy.export import module_name, to_litellm, to_profile_yaml
from playground.policy.replay import load_replay
from playground.policy.tune import tune
from playground.router import RouteRequest, decide
from tests.support import helpers

# Four prompts; recorded costs keep the arithmetic exact. Strong is right on 1, 2, 4; weak on 1, 3.
ROWS = [
    ("p1", "easy one", 1, 1),
    ("p2", "hard: prove this", 1, 0),
    ("p3", "easy three", 0, 1),
    ("p4", "hard: prove that", 1, 0),
]


def write_data(path, rows=ROWS):
    with path.open("w") as f:
        for rid, prompt, strong, weak in rows:
            f.write(json.dumps({"id": rid, "category": "hard" if "hard" in prompt else "easy", "prompt": prompt,
                                "outcomes": {"S": {"score": strong, "cost_usd": 0.10},
                                             "W": {"score": weak, "cost_usd": 0.01}}}) + "\n")
    return path


def write_profile(path, routes: str):
    """A strong (S) and a weak (W) model, no provider; `routes` is the YAML of the routes section."""
    models = {"S": {"model": "openai/s", "price": {"input_per_mtok": 10, "output_per_mtok": 10}},
              "W": {"model": "openai/w", "price": {"input_per_mtok": 1, "output_per_mtok": 1}}}
    return load_profile(helpers.write_profile(path.parent, None, models, filename=path.name, name="tiny",
                                              tiers={"strong": ["S"], "weak": ["W"]}, fallbacks=[],
                                              routes=yaml.safe_load(textwrap.dedent(routes))["routes"],
                                              retries=None, timeouts=None))


def test_single_models_oracle_and_a_fixed_policy(tmp_path):
    items = load_replay(write_data(tmp_path / "d.jsonl"))
    report = evaluate(write_profile(tmp_path / "p.yaml", "routes: [{name: all, tier: weak}]"), items)
    assert (report.strong_model, report.weak_model) == ("S", "W")
    assert report.baselines["S"].total.summary() == pytest.approx(
        {"n": 4, "quality": 0.75, "cost_usd": 0.40, "strong_share": 1.0})
    assert report.oracle.total.summary() == pytest.approx({"n": 4, "quality": 1.0, "cost_usd": 0.22,
                                                          "strong_share": 0.5})
    assert report.router.total.summary() == pytest.approx({"n": 4, "quality": 0.5, "cost_usd": 0.04,
                                                          "strong_share": 0.0})
    assert report.metrics() == {"cpt50": None, "cpt80": None, "apgr": None, "cost_saved_at_95": None}


def test_a_rule_that_matches_the_oracle(tmp_path):
    items = load_replay(write_data(tmp_path / "d.jsonl"))
    profile = write_profile(tmp_path / "p.yaml", """\
        routes:
          - {name: hard, when: {keywords: [hard]}, tier: strong}
          - {name: rest, tier: weak}
        """)
    report = evaluate(profile, items)
    assert report.router.total.summary()["quality"] == 1.0
    assert report.router.categories["hard"].summary()["strong_share"] == 1.0
    metrics = report.metrics()
    assert metrics["cpt50"] == 0.5 and metrics["cost_saved_at_95"] == pytest.approx(1 - 0.22 / 0.40)


def test_threshold_sweep_of_a_learned_route(tmp_path):
    items = load_replay(write_data(tmp_path / "d.jsonl"))
    profile = write_profile(tmp_path / "p.yaml", """\
        routes:
          - name: learned
            tier: strong
            learned: {cheap_tier: weak, threshold: 0.5, cheap: {bias: 2.0, weights: {reasoning_words: -4.0}}}
        """)
    report = evaluate(profile, items)
    points = sorted((p.strong_share, p.quality, round(p.cost_usd, 6)) for p in report.curve)
    assert points == [(0.0, 0.5, 0.04), (0.5, 1.0, 0.22), (1.0, 0.75, 0.4)]
    # PGR at those shares: 0, 2, 1 → trapezoids 0.5 + 0.75
    assert report.apgr() == pytest.approx(1.25)
    assert report.cpt(0.5) == 0.5 and report.cpt(0.8) == 0.5
    assert report.cost_saved_at(0.95) == pytest.approx(0.45)


def synthetic(path, n=240):
    """Weak is right on 'breezy' prompts and wrong on 'thorny' ones; strong is right on both."""
    rows = []
    for i in range(n):
        thorny = i % 3 == 0
        rows.append((f"s{i}", f"{'thorny' if thorny else 'breezy'} question number {i}", 1, 0 if thorny else 1))
    return write_data(path, rows)


def test_tuning_is_deterministic_and_learns_the_signal(tmp_path):
    items = load_replay(synthetic(tmp_path / "d.jsonl"))
    profile = write_profile(tmp_path / "p.yaml", "routes: [{name: all, tier: weak}]")
    when = datetime(2026, 1, 2, tzinfo=UTC)
    first, report = tune(profile, items, target_quality=0.95, folds=4, seed=3, now=when)
    second, _ = tune(profile, items, target_quality=0.95, folds=4, seed=3, now=when)
    assert to_profile_yaml(first) == to_profile_yaml(second)
    # Held-out folds: thorny prompts go strong, breezy ones cheap, so quality holds and cost falls.
    assert report.cv_quality >= 0.95 and report.cost_saved_at_target > 0.5
    assert report.cv_strong_share == pytest.approx(1 / 3, abs=0.05)
    catalog = build_catalog(first, env={})

    def route(prompt: str) -> str:
        n = count_text(prompt)  # the chat counts a one-message request as prompt + 7 tokens
        return decide(RouteRequest(prompt, n, n + 7), first, catalog).model

    assert route("thorny question number 999") == "S"
    assert route("breezy question number 999") == "W"
    learned = first.routes[-1].learned
    assert learned.provenance["folds"] == 4 and learned.provenance["target_quality"] == 0.95


def test_profile_tune_export_load_round_trip(tmp_path):
    import litellm

    items = load_replay(synthetic(tmp_path / "d.jsonl"))
    tuned, _ = tune(write_profile(tmp_path / "p.yaml", "routes: [{name: all, tier: weak}]"), items, folds=3)
    saved = tmp_path / "tuned.yaml"
    saved.write_text(to_profile_yaml(tuned))
    reloaded = load_profile(saved)
    assert reloaded == tuned
    export = to_litellm(reloaded, build_catalog(reloaded, env={}))
    # The learned route goes with the export: the proxy's routing module runs it on this profile.
    assert export.profile.routes[-1].learned == tuned.routes[-1].learned
    assert export.config["litellm_settings"]["callbacks"] == f"{module_name(reloaded)}.proxy_handler"
    config = yaml.safe_load(export.to_yaml())
    router = litellm.Router(model_list=config["model_list"], **config["router_settings"])
    assert {d["model_name"] for d in router.model_list} >= {"S", "W", "tier-strong", "tier-weak"}


def test_bad_replay_lines_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"prompt": "ok", "outcomes": {"m": {"score": 1}}}\n{"prompt": "x", "outcomes": {}}\n')
    with pytest.raises(SourceError, match=r"bad.jsonl:2: `outcomes` must map"):
        load_replay(bad)
    bad.write_bytes(b'{"prompt": "caf\xe9", "outcomes": {"m": {"score": 1}}}\n')
    with pytest.raises(SourceError, match=r"bad.jsonl:1: not UTF-8"):
        load_replay(bad)
    bad.write_text('{"prompt": "x", "outcomes": {"m": {"score": "high"}}}\n')
    with pytest.raises(SourceError, match=r"bad.jsonl:1: outcomes.m: an outcome needs a numeric `score`"):
        load_replay(bad)


def test_eval_cli_json_and_errors(tmp_path):
    data = write_data(tmp_path / "d.jsonl")
    write_profile(tmp_path / "p.yaml", "routes: [{name: all, tier: weak}]")
    result = subprocess.run([sys.executable, "-m", "playground", "eval", str(tmp_path / "p.yaml"), str(data),
                             "--json", "--plot", str(tmp_path / "curve.svg")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["profiles"][0]
    assert report["router"]["quality"] == 0.5 and report["oracle"]["quality"] == 1.0
    assert report["baselines"]["S"]["strong_share"] == 1.0
    assert (tmp_path / "curve.svg").read_text().startswith("<svg")
    (tmp_path / "bad.jsonl").write_bytes(b"\xff\xfe\n")
    result = subprocess.run([sys.executable, "-m", "playground", "eval", str(tmp_path / "p.yaml"),
                             str(tmp_path / "bad.jsonl")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "bad.jsonl:1: not UTF-8" in result.stderr
