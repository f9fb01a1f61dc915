"""Drift: the rule on its own, then a model that degrades mid-run over real HTTP, flagged and losing traffic."""

from __future__ import annotations

import random
import re
import time

import pytest

from playground.base.intervals import fisher_greater
from playground.base.records import Outcome, Vote
from playground.history import queries
from playground.history.store import Store
from playground.present.format import decision_trace
from playground.router import drift
from playground.router.drift import Judgement, Observation
from playground.services.doctor import run_checks
from playground.services.session import open_session
from tests.support.helpers import STUB_PRICE, routed_turn

NOW = 1_800_000_000.0


def series(ttfts: list[float], failed: set[int] = frozenset(), speed: float = 50.0) -> list[Observation]:
    """Oldest first in the arguments, newest first in the result, as history hands them over."""
    found = [Observation(NOW - 60 * (len(ttfts) - i), i in failed, None if i in failed else t,
                         None if i in failed else speed) for i, t in enumerate(ttfts)]
    return found[::-1]


def steady(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(-0.7, 0.25) for _ in range(n)]  # ~0.5 s, with real-looking spread


def test_a_steady_model_is_not_flagged():
    for seed in range(20):
        assert not drift.assess("m", series(steady(60, seed)), now=NOW).flagged


def test_a_ttft_jump_beyond_the_recent_range_is_flagged_and_explained():
    found = drift.assess("m", series(steady(50) + [2.0] * 10), now=NOW)
    assert found.flagged and [s.name for s in found.findings] == ["ttft"]
    assert re.fullmatch(r"TTFT 2\.00 s \(median of last 10\) vs [45]\d\d ms before, range up to \d+ ms",
                        found.summary())


def test_a_few_slow_replies_do_not_move_the_median():
    assert not drift.assess("m", series(steady(50) + [2.0] * 4 + steady(6, 9)), now=NOW).flagged


def test_a_small_rise_in_a_very_steady_ttft_is_not_drift():
    # MAD near zero: 3 MADs is nothing, so the relative and absolute floors decide.
    assert not drift.assess("m", series([0.100] * 50 + [0.140] * 10), now=NOW).flagged


def test_errors_use_a_two_proportion_test_with_a_minimum_count():
    base = steady(50)
    two = drift.assess("m", series(base + steady(10, 3), failed={50, 51}), now=NOW)
    assert not two.flagged  # 2 of 10 after 0 of 50: too few to say
    four = drift.assess("m", series(base + steady(10, 3), failed={50, 52, 54, 56}), now=NOW)
    assert [s.name for s in four.findings] == ["errors"]
    assert "errors 40% of the last 10 vs 0% of 50 before" in four.summary()
    # A model that always failed a little is judged against its own rate: 4 of 10 after 10 of 50 is not drift.
    usual = drift.assess("m", series(base + steady(10, 3), failed={*range(0, 50, 5), 50, 52, 54, 56}), now=NOW)
    assert not usual.flagged


def test_too_little_history_flags_nothing():
    assert drift.assess("m", series(steady(15) + [3.0] * 10), now=NOW).signals == ()


def test_slower_generation_is_flagged():
    observations = series(steady(60))
    slowed = [o if i >= 10 else Observation(o.at, False, o.ttft_s, 10.0) for i, o in enumerate(observations)]
    assert [s.name for s in drift.assess("m", slowed, now=NOW).findings] == ["speed"]


def test_quality_marks_and_votes_drift():
    judged = [Judgement(NOW - i, good=i >= 10 or i % 2 == 0) for i in range(40)]  # newest first: half bad lately
    found = drift.assess("m", [], judged, now=NOW)
    assert [s.name for s in found.findings] == ["quality"]


def test_old_evidence_lapses():
    observations = series(steady(50) + [2.0] * 10)
    assert not drift.assess("m", observations, now=NOW + drift.FRESH_S + 3600).flagged


# Over real HTTP ----------------------------------------------------------------------------------------

def degrading_session(tmp_path, api_base: str):
    """`fast` is the cheap model that wins the weighted score; `other` costs three times as much."""
    path = tmp_path / "p.yaml"
    path.write_text(f"""
name: drift-test
models:
  fast: {{model: openai/fast, api_base: '{api_base}', price: {STUB_PRICE}}}
  other: {{model: openai/other, api_base: '{api_base}', price: {{input_per_mtok: 3, output_per_mtok: 6}}}}
tiers: {{main: [fast, other]}}
routes: [{{name: all, tier: main}}]
retries: {{rate_limited: 0, server_error: 0, timeout: 0, connection: 0, stream_cut: 0}}
timeouts: {{first_token: 30, idle: 30, total: 60}}
""")
    return open_session(str(path), tmp_path / "h.db")



async def test_a_model_whose_ttft_degrades_mid_run_is_flagged_and_loses_traffic(tmp_path, server):
    # A small per-chunk delay keeps tokens/s steady on a loaded machine; only TTFT is meant to move.
    server.script("fast", text="one two three four five", chunk_delay=0.01)
    server.script("other", text="one two three four five", chunk_delay=0.01)
    session = degrading_session(tmp_path, server.api_base)
    for _ in range(drift.MIN_BASELINE + drift.RECENT):
        decision, reply = await routed_turn(session)
        assert decision.model == "fast" and reply.status == "complete"
    assert not session.state.monitor.drift()["fast"].flagged
    steady = {c.name: c for c in run_checks(str(tmp_path / "p.yaml"), str(tmp_path / "h.db"))}["drift"]
    assert steady.ok and steady.detail.startswith("steady: fast (errors 0%, was 0%, TTFT ")

    server.script("fast", text="one two three four five", chunk_delay=0.01, first_chunk_delay=0.6)
    chosen = []
    for _ in range(drift.RECENT):
        decision, _reply = await routed_turn(session)
        chosen.append(decision.model)
    flagged = session.state.monitor.drift()["fast"]
    assert [s.name for s in flagged.findings] == ["ttft"]
    # Still cheapest and only slower: without the drift penalty the cost term keeps it first.
    assert chosen[:5] == ["fast"] * 5
    assert chosen[-1] == "other"
    assert server.hits["other"] >= 1
    trace = "\n".join(decision_trace(decision))
    assert "drifted: TTFT" in trace and "drift penalty +1.00" in trace


async def test_a_model_that_starts_failing_is_flagged_for_its_errors(tmp_path, server):
    server.script("fast", text="fine")
    server.script("other", text="fine")
    session = degrading_session(tmp_path, server.api_base)
    for _ in range(drift.MIN_BASELINE):
        await routed_turn(session)
    server.script("fast", status=500)
    for _ in range(drift.RECENT):
        # Ask `fast` by name, so the errors land on it whatever the router would have chosen.
        async for _event in session.chat.send("hello", model="fast"):
            pass
    found = session.state.monitor.drift()["fast"]
    assert "errors" in [s.name for s in found.findings]
    assert "errors 100% of the last 10 vs 0% of 20 before" in found.summary()
    decision, reply = await routed_turn(session)
    assert decision.model == "other" and reply.status == "complete"


async def test_bad_marks_on_the_latest_replies_flag_quality(tmp_path, server):
    server.script("fast", text="fine")
    server.script("other", text="fine")
    session = degrading_session(tmp_path, server.api_base)
    replies = [(await routed_turn(session))[1] for _ in range(25)]
    for i, reply in enumerate(replies):
        session.store.record_feedback(reply.message_id, good=i < 15)
        time.sleep(0.002)  # marks are ordered by their time, kept to the millisecond
    session.state.refresh_monitor(session.store)
    found = session.state.monitor.drift()["fast"]
    assert [s.name for s in found.findings] == ["quality"]
    assert found.summary() == "judged bad 100% of the last 10 vs 0% of 15 before"
    checks = {c.name: c for c in run_checks(str(tmp_path / "p.yaml"), str(tmp_path / "h.db"))}
    flagged = checks["drift fast"]
    assert not flagged.ok and flagged.optional and flagged.detail == found.summary()
    assert "drift" not in checks  # no model with figures is steady: `other` has none


def test_votes_judge_every_model_shown(tmp_path):
    store = Store(tmp_path / "h.db")
    conversation, prompt = store.start_turn(None, "which is better?", "p")
    for outcome, winner in ((Outcome.WIN, "a"), (Outcome.TIE, None), (Outcome.ALL_BAD, None)):
        store.record_vote(Vote(conversation, prompt, outcome, winner, ("a", "b"), (0, 0), "r", "r", False))
        time.sleep(0.002)
    rows = [(r["model"], bool(r["good"])) for r in store.read(queries.latest_judgements, 10)]
    # Newest first per model; the tie says nothing about either.
    assert rows == [("a", False), ("a", True), ("b", False), ("b", False)]


def _profile(select: str, prefer: list[str]):
    from playground.config.profile import Profile

    return Profile.model_validate({
        "name": "pure", "models": {m: {"model": f"openai/{m}", "price": STUB_PRICE} for m in ("a", "b")},
        "tiers": {"main": ["a", "b"]}, "routes": [{"name": "all", "tier": "main", "select": select, "prefer": prefer}]})


def test_a_drifted_model_loses_its_preference_and_its_place_under_every_policy():
    from playground.config.catalog import build_catalog
    from playground.router import RouteRequest, decide

    flagged = drift.assess("a", series(steady(50) + [2.0] * 10), now=NOW)
    request = RouteRequest("hi", 1, 1)
    for select, prefer in (("weighted", ["a"]), ("first", []), ("balance", [])):
        profile = _profile(select, prefer)
        catalog = build_catalog(profile, env={})
        assert decide(request, profile, catalog, now=0.0, rng=random.Random(3)).model == "a" or select == "balance"
        decision = decide(request, profile, catalog, now=0.0, rng=random.Random(3), drift={"a": flagged})
        assert decision.model == "b", select
        (a,) = [c for c in decision.candidates if c.alias == "a"]
        assert a.drift == flagged.summary() and not a.dropped  # still a fallback


def test_the_one_sided_fisher_test_matches_hand_computed_values():
    assert fisher_greater(3, 3, 0, 3) == pytest.approx(1 / 20)  # all 3 bad in the recent 3: 1 of C(6,3) tables
    assert fisher_greater(2, 3, 0, 3) == pytest.approx(3 / 15)  # 2 of 2 bad in the recent 3: C(3,2) of C(6,2)
    assert fisher_greater(0, 3, 2, 3) == pytest.approx(1.0)
