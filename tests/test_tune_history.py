"""Tuning from history: weights from observed errors and latency, route preferences from votes and marks."""

from __future__ import annotations

import subprocess
import sys

from playground.base.records import Attempt, Failure, Outcome, Vote
from playground.config.catalog import build_catalog
from playground.config.profile import load_profile
from playground.history.store import Store
from playground.policy.tune_history import tune_from_history
from playground.router import RouteRequest, decide
from tests.support.helpers import guarded_env

PROFILE = """\
name: mine
models:
  flaky: {model: openai/flaky, price: {input_per_mtok: 1, output_per_mtok: 1}}
  steady: {model: openai/steady, price: {input_per_mtok: 2, output_per_mtok: 2}}
  slow: {model: openai/slow, price: {input_per_mtok: 3, output_per_mtok: 3}}
tiers: {main: [flaky, steady, slow]}
routes:
  - {name: chat, tier: main, select: cheapest}
"""


def history(path):
    store = Store(path)
    conversation, prompt = store.start_turn(None, "hello", "mine")
    for i in range(10):
        for alias, failure, latency in (("flaky", Failure.SERVER_ERROR if i < 5 else None, 1.0),
                                        ("steady", None, 1.0), ("slow", None, 8.0)):
            reply = store.start_reply(conversation)
            store.record_attempt(Attempt(alias, f"openai/{alias}", "chat", "", 0, 0.0, latency_s=latency,
                                         failure=failure), conversation, prompt, reply, None)
            store.save_reply(reply, "answer", "complete", alias)
    replies = [r["reply_message_id"] for r in store.attempts(conversation)]
    for _ in range(2):
        store.record_vote(Vote(conversation, prompt, Outcome.WIN, "steady", ("flaky", "steady"),
                               (replies[0], replies[1]), "chat", "chat", False))
    store.record_feedback(replies[2], good=False)  # a "slow" reply marked bad
    return store


def test_weights_and_preferences_follow_history(tmp_path):
    (tmp_path / "p.yaml").write_text(PROFILE)
    profile = load_profile(tmp_path / "p.yaml")
    tuned, report = tune_from_history(profile, history(tmp_path / "h.db"))
    # flaky fails half the time, the others never: health weight 1 + 10 × 0.5, capped at 5.
    assert tuned.selection.health == 5.0 and report["error_spread"] == 0.5
    # slow's median latency is 8× the fastest: 0.3 × log2(8) + 0.1 = 1.0.
    assert tuned.selection.latency == 1.0 and report["latency_ratio"] == 8.0
    assert tuned.routes[0].prefer == ("steady",)
    assert tuned.provenance["history_attempts"] == 30
    decision = decide(RouteRequest("hi", 1, 8), tuned, build_catalog(tuned, env={}))
    # Cheapest would be flaky; the votes put steady first.
    assert decision.model == "steady" and "preferred by your votes" in decision.reason


def test_cli_writes_the_tuned_profile(tmp_path):
    (tmp_path / "p.yaml").write_text(PROFILE)
    history(tmp_path / "h.db").close()
    result = subprocess.run([sys.executable, "-m", "playground", "tune", str(tmp_path / "p.yaml"), "--history",
                             "--db", str(tmp_path / "h.db"), "-o", str(tmp_path / "tuned.yaml")],
                            capture_output=True, text=True, timeout=60, env=guarded_env(PLAYGROUND_HOME=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert "preferences: chat: steady" in result.stdout
    assert load_profile(tmp_path / "tuned.yaml").routes[0].prefer == ("steady",)
    nothing = subprocess.run([sys.executable, "-m", "playground", "tune", str(tmp_path / "p.yaml"), "-o", "x.yaml"],
                             capture_output=True, text=True, timeout=60, env=guarded_env(PLAYGROUND_HOME=str(tmp_path)))
    assert nothing.returncode == 2 and "needs --data DATA.jsonl, --history, or both" in nothing.stderr
