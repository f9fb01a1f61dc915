"""Experiments: profile syntax, the traffic split, Thompson sampling, intervals and stopping one, over real
HTTP against the local test server."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from playground.base.intervals import fisher_exact, proportions_differ, ratio_of_sums, wilson
from playground.base.records import Attempt
from playground.cli.main import main
from playground.config.catalog import build_catalog
from playground.config.profile import ProfileError, load_profile
from playground.present.format import decision_trace
from playground.router.budget import BudgetStatus, Limit, Spend
from playground.router.decide import RouteRequest, decide
from playground.router.experiment import Tally, assign
from playground.services import experiments
from playground.services.session import open_session
from tests.support.helpers import routed_turn

PROFILE = """\
# An experiment on the default route.
name: trial
models:
  fast: {{model: openai/fast, api_base: '{base}', price: {{input_per_mtok: 1, output_per_mtok: 2}}}}
  slow: {{model: openai/slow, api_base: '{base}', price: {{input_per_mtok: 1, output_per_mtok: 2}}}}
tiers: {{main: [fast, slow]}}   # both models
routes:
  - name: all
    tier: main
    experiment:
      # which settings do better?
      name: temps
      strategy: {strategy}
      outcome: {outcome}
      variants:
        - {{model: fast, weight: 3}}
        - slow@temperature=1.2
fallbacks: []
retries: {{rate_limited: 0, server_error: 0, timeout: 0, connection: 0, stream_cut: 0}}
timeouts: {{first_token: 30, idle: 30, total: 60}}  # see PATIENT_TIMEOUTS in tests.support.helpers
"""


@pytest.fixture
def stub(server):
    server.script("fast", text="fast answer")
    server.script("slow", text="slow answer")
    return server


def write(tmp_path, base: str, strategy: str = "fixed", outcome: str = "marks"):
    path = tmp_path / "trial.yaml"
    path.write_text(PROFILE.format(base=base, strategy=strategy, outcome=outcome))
    return path


def opened(tmp_path, path, seed: int = 7):
    session = open_session(str(path), tmp_path / "h.db")
    session.chat.rng = random.Random(seed)
    return session


def assigned_arms(store) -> list[str]:
    """Every assigned reply's arm, in reply order, read straight from the table."""
    return [row[0] for row in store.read(
        lambda cursor: cursor.execute("SELECT arm FROM assignments ORDER BY reply_message_id").fetchall())]



# Profile syntax -----------------------------------------------------------------------------------

@pytest.mark.parametrize("change, expected", [
    ("- slow@temperature=1.2", "- nowhere"),
    ("outcome: marks", "outcome: vibes"),
    ("- slow@temperature=1.2", "- {model: fast, weight: 3}"),
], ids=["unknown model", "unknown outcome", "same arm twice"])
def test_a_bad_experiment_is_one_error_with_file_and_line(tmp_path, change, expected):
    path = write(tmp_path, "http://127.0.0.1:9/v1")
    path.write_text(path.read_text().replace(change, expected))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:") and "\n" not in message
    assert "experiment" in message
    line = int(message.split(":")[1])
    assert 8 <= line <= 17  # inside the experiment block


def test_arms_take_compare_variant_text_and_mappings(tmp_path):
    profile = load_profile(write(tmp_path, "http://127.0.0.1:9/v1"))
    experiment = profile.routes[0].experiment
    assert [arm.label for arm in experiment.variants] == ["fast", "slow@temperature=1.2"]
    assert [arm.weight for arm in experiment.variants] == [3, 1]


# The split --------------------------------------------------------------------------------------

async def test_fixed_split_follows_the_weights_and_is_recorded_per_reply(tmp_path, stub):
    session = opened(tmp_path, write(tmp_path, stub.api_base))
    arms = []
    for i in range(40):
        decision, reply = await routed_turn(session, f"question {i}")
        assert reply.status == "complete"
        arms.append(decision.arm)
    assert assigned_arms(session.store) == arms  # every reply's arm, in order
    counts = Counter(arms)
    # Seeded: the same 40 draws every run; the 3:1 weights give 30 expected on fast (binomial sd 2.7).
    assert 24 <= counts["fast"] <= 36 and counts["fast"] + counts["slow@temperature=1.2"] == 40
    # The arm's settings went with its model's requests, and only with them.
    for request in stub.requests:
        assert request.get("temperature") == (1.2 if request["model"] == "slow" else None)
    assert stub.hits["slow"] == counts["slow@temperature=1.2"]
    # Replaying the seed gives the same assignments.
    again = [assign(session.profile.routes[0].experiment, {"fast", "slow"}, {}, random.Random(s)).arm
             for s in range(5)]
    assert again == [assign(session.profile.routes[0].experiment, {"fast", "slow"}, {}, random.Random(s)).arm
                     for s in range(5)]
    session.store.close()


async def test_the_why_panel_names_the_experiment_arm(tmp_path, stub):
    session = opened(tmp_path, write(tmp_path, stub.api_base))
    decision, _ = await routed_turn(session)
    trace = "\n".join(decision_trace(decision))
    assert f"experiment temps: this reply is arm {decision.arm}" in trace
    assert f"experiment temps, arm {decision.arm}" in decision.reason
    stored = json.loads(session.store.attempts(session.store.latest_conversation())[0]["decision"])
    assert stored["experiment"] == "temps" and stored["arm"] == decision.arm and stored["assigned"] is True
    session.store.close()


def test_an_arm_whose_model_cannot_answer_now_is_left_out_and_the_trace_says_so(tmp_path):
    experiment = load_profile(write(tmp_path, "http://127.0.0.1:9/v1")).routes[0].experiment
    picks = {assign(experiment, {"slow"}, {}, random.Random(seed)).arm for seed in range(20)}
    assert picks == {"slow@temperature=1.2"}
    assert "1 arm unusable now" in assign(experiment, {"slow"}, {}, random.Random(0)).note
    assert assign(experiment, set(), {}, random.Random(0)) is None  # the route then routes as usual


async def test_thompson_shifts_traffic_to_the_arm_with_better_outcomes(tmp_path, stub):
    session = opened(tmp_path, write(tmp_path, stub.api_base, strategy="thompson"), seed=11)
    arms = []
    for i in range(60):
        decision, reply = await routed_turn(session, f"question {i}")
        arms.append(decision.arm)
        # The user likes slow's answers and dislikes fast's (Ctrl+G / Ctrl+F in the chat).
        session.store.record_feedback(reply.message_id, decision.arm.startswith("slow"))
    first, last = Counter(arms[:15]), Counter(arms[-20:])
    assert last["slow@temperature=1.2"] >= 17, (first, last)
    assert last["slow@temperature=1.2"] / 20 > first["slow@temperature=1.2"] / 15
    result = experiments.report_one(session.store, session.profile.routes[0])
    assert result.leader == "slow@temperature=1.2"
    session.store.close()


def test_thompson_on_cost_per_success_prefers_the_cheaper_success():
    from playground.config.profile import Experiment

    experiment = Experiment.model_validate({"name": "c", "strategy": "thompson", "outcome": "cost_per_success",
                                            "variants": ["a", "b"]})
    # Equal success rates; b costs a tenth of a per judged reply.
    tallies = {"a": Tally(30, 10, 4.0), "b": Tally(30, 10, 0.4)}
    picks = Counter(assign(experiment, {"a", "b"}, tallies, random.Random(s)).arm for s in range(200))
    assert picks["b"] > 190


async def test_votes_outcome_counts_compare_votes_that_showed_an_arm(tmp_path, stub):
    from playground.base.records import Outcome

    session = opened(tmp_path, write(tmp_path, stub.api_base, strategy="thompson", outcome="votes"))
    await routed_turn(session)  # the experiment's first assigned reply: votes count from here
    arms = ["fast", "slow@temperature=1.2"]
    for outcome, winner in ((Outcome.WIN, 1), (Outcome.WIN, 1), (Outcome.WIN, 0), (Outcome.TIE, None),
                            (Outcome.ALL_BAD, None)):
        comparison = None
        async for event in session.compare.run("which is better?", arms):
            comparison = getattr(event, "comparison", comparison)
        session.compare.vote(comparison, outcome, winner)
    result = experiments.report_one(session.store, session.profile.routes[0])
    # Four votes say something (the tie does not): slow won 2, fast 1, and "all bad" failed both.
    assert [(a.label, a.successes, a.judged) for a in result.arms] == [("fast", 1, 4), ("slow@temperature=1.2", 2, 4)]
    assert experiments.tallies(session.store, session.profile)["temps"]["slow@temperature=1.2"].failures == 2
    # Each arm's cost is what its own replies cost: slow's columns were sent at its temperature.
    found = experiments.outcomes(session.store, session.profile.routes[0], session.profile.routes[0].experiment)
    assert all(arm.cost > 0 and not arm.unpriced for arm in found.values())
    session.store.close()


# Intervals, against hand-computed figures ----------------------------------------------------------

def test_intervals_match_hand_computed_values():
    # Wilson 8/10: centre (0.8 + 1.96²/20) / (1 + 1.96²/10) = 0.71675; half-width 0.22658.
    interval = wilson(8, 10)
    assert interval.low == pytest.approx(0.49016, abs=1e-4) and interval.high == pytest.approx(0.94332, abs=1e-4)
    # Cost per success: costs 1,1,1,1, successes 1,0,1,0 → R = 2; residuals −1,1,−1,1; Var = 4/3 / 4 / 0.5².
    ratio = ratio_of_sums(4, cost=4.0, successes=2, cost_squared=4.0, cost_of_successes=2.0)
    assert ratio.ratio == 2 and ratio.se == pytest.approx((4 / 3 / 4) ** 0.5 / 0.5)
    # 18/20 against 8/20: pooled 0.65, z = 0.5 / sqrt(0.65 · 0.35 · 0.1) = 3.3150.
    assert proportions_differ(18, 20, 8, 20) == pytest.approx(3.3150, abs=1e-3)
    assert proportions_differ(11, 20, 9, 20) is None  # not significant at 95%
    # Small counts: 0/2 against 28/28 passes Fisher's exact test (p = 1 / C(30, 2) = 1/435); 3/3 against 0/3
    # has z = 2.45 but Fisher's p = 2 / C(6, 3) = 0.1, so it is not called better.
    assert fisher_exact(0, 2, 28, 28) == pytest.approx(1 / 435)
    assert proportions_differ(28, 28, 0, 2) == pytest.approx(5.4772, abs=1e-3)
    assert fisher_exact(3, 3, 0, 3) == pytest.approx(0.1) and proportions_differ(3, 3, 0, 3) is None


def test_thompson_experiments_need_a_larger_z_to_call_an_arm_better():
    # 16/20 against 9/20: pooled 0.625, z = 0.35 / sqrt(0.625 · 0.375 · 0.1) = 2.286: enough for a fixed
    # split (1.96), not for adaptive traffic (3.0).
    arms = [experiments.ArmReport("a", 1, 20, 20, 16, wilson(16, 20)), experiments.ArmReport("b", 1, 20, 20, 9,
                                                                                              wilson(9, 20))]
    leader, better = experiments.rate_leader(arms, experiments.threshold("fixed"))
    assert leader == "a" and better[0][1] == pytest.approx(2.286, abs=1e-3)
    assert experiments.rate_leader(arms, experiments.threshold("thompson")) == ("a", [])


def _assigned_reply(store, arm: str, good: bool, cost: float) -> None:
    conversation, prompt_id = store.start_turn(None, "q", "trial")
    reply_id = store.start_reply(conversation)
    model = arm.partition("@")[0]
    store.record_attempt(Attempt(model, f"openai/{model}", "all", "experiment", 0, 1_740_821_400.0, text="a",
                                 cost_usd=cost), conversation, prompt_id, reply_id, None)
    store.save_reply(reply_id, "a", "complete", model)
    store.record_assignment(reply_id, conversation, prompt_id, "temps", arm, "all", "trial")
    store.record_feedback(reply_id, good)


def test_stats_report_intervals_and_say_which_arm_is_better(tmp_path, stub):
    path = write(tmp_path, stub.api_base)
    session = opened(tmp_path, path)
    for i in range(20):
        _assigned_reply(session.store, "fast", i < 8, 0.001)
        _assigned_reply(session.store, "slow@temperature=1.2", i < 18, 0.002)
    result = experiments.report_one(session.store, session.profile.routes[0])
    fast, slow = result.arms
    assert (fast.judged, fast.successes, slow.successes) == (20, 8, 18)
    assert slow.rate.low == pytest.approx(wilson(18, 20).low) and slow.rate.estimate == 0.9
    assert result.leader == "slow@temperature=1.2"
    assert [label for label, _ in result.better] == ["fast"]
    assert result.better[0][1] == pytest.approx(3.3150, abs=1e-3)
    # Cost per success: slow $0.04 over 18 successes.
    assert slow.cost_per_success.estimate == pytest.approx(0.04 / 18)
    session.store.close()
    code, out = _run(["stats", "--experiments", "--profile", str(path), "--db", str(tmp_path / "h.db")])
    assert code == 0
    assert "slow@temperature=1.2 is better than every other arm at 95%" in out
    assert "90% (70–97%)" in out  # Wilson 18/20: 0.6990–0.9721
    assert "Wilson" in out and "delta method" in out
    code, out = _run(["stats", "--experiments", "--json", "--profile", str(path), "--db", str(tmp_path / "h.db")])
    data = json.loads(out)
    assert data[0]["leader"] == "slow@temperature=1.2" and data[0]["arms"][1]["successes"] == 18
    assert data[0]["arms"][1]["rate"]["low"] == pytest.approx(wilson(18, 20).low)
    # Deleting a conversation takes its assignment with it.
    session = opened(tmp_path, path)
    conversation = session.store.latest_conversation()
    session.store.delete_conversation(conversation)
    assert len(assigned_arms(session.store)) == 39
    session.store.close()


def test_cost_per_success_reports_the_cheaper_arm_better(tmp_path, stub):
    path = write(tmp_path, stub.api_base, outcome="cost_per_success")
    session = opened(tmp_path, path)
    for i in range(20):
        _assigned_reply(session.store, "fast", i % 4 != 0, 0.001 if i % 2 else 0.002)
        _assigned_reply(session.store, "slow@temperature=1.2", i % 4 != 0, 0.004 if i % 2 else 0.006)
    result = experiments.report_one(session.store, session.profile.routes[0])
    fast, slow = result.arms
    # 15 successes each: fast $0.030 in all → $0.002 per success; slow $0.100 → $0.00667.
    assert fast.cost_per_success.estimate == pytest.approx(0.002)
    assert slow.cost_per_success.estimate == pytest.approx(0.1 / 15)
    assert result.leader == "fast" and [label for label, _ in result.better] == ["slow@temperature=1.2"]
    # An unpriced reply makes its arm's cost per success unknown, never $0.
    _assigned_reply(session.store, "fast", True, None)
    result = experiments.report_one(session.store, session.profile.routes[0])
    assert result.arms[0].cost_per_success is None and result.arms[0].unpriced == 1
    assert result.leader is None and result.verdict.startswith("cost per success unknown for fast")
    session.store.close()


def _run(argv):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


# Stopping --------------------------------------------------------------------------------------

async def test_stop_writes_the_winner_keeping_the_file_and_routing_follows(tmp_path, stub):
    path = write(tmp_path, stub.api_base, strategy="thompson")
    before = path.read_text()
    session = opened(tmp_path, path)
    for i in range(6):
        _assigned_reply(session.store, "slow@temperature=1.2", True, 0.002)
        _assigned_reply(session.store, "fast", i < 2, 0.001)
    session.store.close()
    code, out = _run(["experiment", "stop", "temps", "--profile", str(path), "--db", str(tmp_path / "h.db")])
    assert code == 0 and "slow@temperature=1.2 is the winner" in out
    after = path.read_text()
    # One line added, inside the experiment, at its keys' indentation; every comment and line kept.
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == ['      winner: "slow@temperature=1.2"']
    assert [line for line in after.splitlines() if line != added[0]] == before.splitlines()
    profile = load_profile(path)
    assert profile.routes[0].experiment.winner == "slow@temperature=1.2"
    # Stopping again with another winner replaces the value in place.
    code, _ = _run(["experiment", "stop", "temps", "--winner", "fast", "--profile", str(path),
                    "--db", str(tmp_path / "h.db")])
    assert code == 0 and path.read_text() == after.replace('winner: "slow@temperature=1.2"', 'winner: "fast"')
    # The reloaded profile routes every prompt to the winner, and no longer assigns replies.
    session = opened(tmp_path, path)
    decision, _ = await routed_turn(session)
    assert decision.model == "fast" and decision.arm == "fast" and not decision.assigned
    assert "experiment temps is stopped: its winner fast answers" in decision_trace(decision)
    assert len(assigned_arms(session.store)) == 12
    session.store.close()


def test_stop_edits_a_flow_style_experiment_and_refuses_unknown_names(tmp_path, stub):
    path = tmp_path / "flow.yaml"
    text = PROFILE.format(base=stub.api_base, strategy="fixed", outcome="marks")
    start = text.index("    experiment:")
    end = text.index("fallbacks:")
    text = text[:start] + "    experiment: {name: temps, variants: [fast, slow]}  # flow\n" + text[end:]
    path.write_text(text)
    code, _ = _run(["experiment", "stop", "temps", "--winner", "slow", "--profile", str(path),
                    "--db", str(tmp_path / "h.db")])
    assert code == 0
    assert 'experiment: {winner: "slow", name: temps, variants: [fast, slow]}  # flow' in path.read_text()
    assert load_profile(path).routes[0].experiment.winner == "slow"
    unchanged = path.read_text()
    assert _run(["experiment", "stop", "nope", "--profile", str(path), "--db", str(tmp_path / "h.db")])[0] == 2
    assert _run(["experiment", "stop", "temps", "--winner", "slow@temperature=2", "--profile", str(path),
                 "--db", str(tmp_path / "h.db")])[0] == 2
    assert path.read_text() == unchanged
    # A file broken since the profile was loaded is reported where it is broken, and left alone.
    from playground.config.profile_edit import set_experiment_winner

    path.write_text(unchanged + "oops: [\n")
    with pytest.raises(ProfileError, match=rf"^{path}:\d+:\d+: invalid YAML"):
        set_experiment_winner(path, "temps", "fast")
    assert path.read_text() == unchanged + "oops: [\n"


def test_experiment_stats_refuse_options_they_ignore(tmp_path, capsys):
    assert main(["stats", "--experiments", "--since", "7d", "--db", str(tmp_path / "h.db")]) == 2
    assert "--since and --baseline do not apply" in capsys.readouterr().err


def test_stop_without_outcomes_asks_for_a_winner(tmp_path, stub, capsys):
    path = write(tmp_path, stub.api_base)
    before = path.read_text()
    assert main(["experiment", "stop", "temps", "--profile", str(path), "--db", str(tmp_path / "h.db")]) == 2
    assert "no outcomes yet" in capsys.readouterr().err
    assert path.read_text() == before


# The screen --------------------------------------------------------------------------------------

async def test_the_screen_stops_an_experiment_and_the_hot_reload_routes_to_the_winner(tmp_path, stub):
    from playground.tui.app import PlaygroundApp
    from playground.tui.screens.dialogs import Confirm
    from playground.tui.screens.experiments import ExperimentsScreen
    from tests.support.pilot import painted_text, wait_for

    path = write(tmp_path, stub.api_base)
    before = path.read_text()
    session = opened(tmp_path, path)
    for i in range(10):
        _assigned_reply(session.store, "fast", i < 3, 0.001)
        _assigned_reply(session.store, "slow@temperature=1.2", i < 9, 0.002)
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Experiments (f12)" in titles  # in the command palette
        await pilot.press("f12")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentsScreen) and app.screen.reports)
        screen = app.screen
        await pilot.pause(0.1)
        assert "slow@temperature=1.2 is better than every other arm at 95%" in painted_text(screen)
        await pilot.press("down", "s")  # the second arm
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: session.profile.routes[0].experiment.winner == "slow@temperature=1.2")
        await wait_for(pilot, lambda: screen.reports and screen.reports[0].stopped == "slow@temperature=1.2")
        await pilot.pause(0.1)
        assert "stopped: slow@temperature=1.2 answers every prompt on route all" in painted_text(screen)
    assert path.read_text().replace('      winner: "slow@temperature=1.2"\n', "") == before
    session.store.close()


async def test_the_reply_in_the_chat_says_which_arm_answered(tmp_path, stub):
    from textual.widgets import Static

    from playground.tui.app import PlaygroundApp
    from playground.tui.widgets.reply import ReplyView
    from tests.support.pilot import wait_for

    session = opened(tmp_path, write(tmp_path, stub.api_base))
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"hello", "enter")
        await wait_for(pilot, lambda: any(r.message_id for r in app.screen.query(ReplyView)))
        arm = assigned_arms(session.store)[0]
        trace = str(app.screen.query_one(".reply-trace", Static).render())
        assert f"experiment temps: this reply is arm {arm}" in trace
    # And when the conversation is opened again from history.
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.screen.open_conversation(session.store.latest_conversation())
        await wait_for(pilot, lambda: bool(app.screen.query(".reply-trace")))
        trace = str(app.screen.query_one(".reply-trace", Static).render())
        assert f"experiment temps: this reply is arm {arm}" in trace
    session.store.close()


def test_an_arm_whose_model_is_past_its_budget_is_not_assigned(tmp_path):
    profile = load_profile(write(tmp_path, "http://127.0.0.1:9/v1"))
    catalog = build_catalog(profile, env={})
    spent = BudgetStatus((Limit("fast", "today", 1.0, Spend(1.0)),))
    picks = {decide(RouteRequest("hello", 1), profile, catalog, budget=spent, rng=random.Random(seed)).model
             for seed in range(20)}
    assert picks == {"slow"}  # `fast` takes 3 of 4 prompts when it can be paid for
    unlimited = {decide(RouteRequest("hello", 1), profile, catalog, rng=random.Random(seed)).model
                 for seed in range(20)}
    assert unlimited == {"fast", "slow"}


def write_checked(tmp_path, base: str):
    """The experiment's route escalates to `big` when an answer is not JSON; the outcome is that check."""
    text = PROFILE.format(base=base, strategy="fixed", outcome="check")
    text = text.replace("tiers: {main: [fast, slow]}",
                        f"  big: {{model: openai/big, api_base: '{base}', price: {{input_per_mtok: 9, "
                        "output_per_mtok: 9}}\ntiers: {main: [fast, slow], strong: [big]}")
    text = text.replace("    tier: main\n", "    tier: main\n    escalate: {to: [strong], json: true}\n")
    text = text.replace("{model: fast, weight: 3}", "{model: fast, weight: 1}")
    path = tmp_path / "checked.yaml"
    path.write_text(text)
    return path


async def test_a_check_outcome_counts_each_arms_first_answer_passing_the_cascade(tmp_path, server):
    server.script("fast", text="Sure, here it is: a=1")
    server.script("slow", text='{"a": 1}')
    server.script("big", text='{"a": 1}')
    session = opened(tmp_path, write_checked(tmp_path, server.api_base))
    arms = Counter()
    for i in range(12):
        decision, reply = await routed_turn(session, f"question {i} as JSON")
        arms[decision.arm] += 1
        assert reply.final.model_alias == ("big" if decision.arm == "fast" else "slow")
    result = experiments.report_one(session.store, session.profile.routes[0])
    by_arm = {arm.label: arm for arm in result.arms}
    assert by_arm["fast"].judged == arms["fast"] and by_arm["fast"].successes == 0
    assert by_arm["slow@temperature=1.2"].successes == arms["slow@temperature=1.2"] > 0
    assert result.leader == "slow@temperature=1.2"
    # An escalated reply's cost counts both answers: fast's replies cost more than slow's (big is pricier).
    sums = experiments.outcomes(session.store, session.profile.routes[0], session.profile.routes[0].experiment)
    assert sums["fast"].cost / sums["fast"].judged > sums["slow@temperature=1.2"].cost / arms["slow@temperature=1.2"]
    session.store.close()


def test_a_check_outcome_needs_the_routes_cascade(tmp_path):
    path = write(tmp_path, "http://127.0.0.1:9/v1", outcome="check")
    with pytest.raises(ProfileError, match=r"trial\.yaml:\d+:\d+: .*needs the route's `escalate:` checks"):
        load_profile(path)
