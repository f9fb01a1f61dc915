"""Cascades (a route's `escalate:`): the cheap model answers, its answer is checked, and on failure the next
tier is asked; over real HTTP against the test server, recorded in history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from playground.config.profile import ProfileError, load_profile
from playground.services.events import AttemptStarted, Checked, ReplyDone
from playground.services.session import open_session
from tests.support.helpers import STUB_PRICE, guarded_env, write_profile

CHEAP, STRONG = "cheap-model", "strong-model"


def cascade_profile(tmp_path, api_base, escalate: dict, *, models=None, **sections):
    models = models or {CHEAP: {"price": {"input_per_mtok": 0.1, "output_per_mtok": 0.2}}, STRONG: {}}
    return write_profile(tmp_path, api_base, models, price=STUB_PRICE, tiers={"cheap": [CHEAP], "strong": [STRONG]},
                         routes=[{"name": "answers", "tier": "cheap", "escalate": {"to": ["strong"], **escalate}}],
                         fallbacks=[], **sections)


async def turn(session, prompt="give me the settings as JSON", **kwargs):
    events = [e async for e in session.chat.send(prompt, **kwargs)]
    return events, next(e.reply for e in events if isinstance(e, ReplyDone))


async def test_a_passing_cheap_answer_stands_and_the_strong_model_is_never_asked(tmp_path, server):
    server.script(CHEAP, text='{"theme": "dark"}')
    server.script(STRONG, text='{"theme": "light"}')
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"json": True})), tmp_path / "h.db")
    events, reply = await turn(session)
    assert reply.text == '{"theme": "dark"}' and reply.final.model_alias == CHEAP
    assert server.hits[STRONG] == 0
    checked = [e for e in events if isinstance(e, Checked)]
    assert [(c.verdict.passed, c.next_model) for c in checked] == [(True, None)]
    rows = session.store.attempts(reply.conversation_id)
    assert [(r["model_alias"], r["stage"], r["verdict"]) for r in rows] == [(CHEAP, 0, "pass")]
    assert not reply.escalated


async def test_a_failing_cheap_answer_is_replaced_by_the_next_tier_and_both_are_paid_for(tmp_path, server):
    server.script(CHEAP, text="Sure! The theme is dark.")
    server.script(STRONG, text='{"theme": "dark"}')
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"json": True})), tmp_path / "h.db")
    events, reply = await turn(session)
    assert reply.status == "complete" and reply.text == '{"theme": "dark"}' and reply.final.model_alias == STRONG
    checked = [e for e in events if isinstance(e, Checked)]
    assert checked[0].verdict.failed == "json" and checked[0].next_model == STRONG
    assert checked[1].verdict.passed
    starts = [e for e in events if isinstance(e, AttemptStarted)]
    assert starts[1].model_alias == STRONG and starts[1].reason.startswith(f"escalated: {CHEAP}'s answer failed json")
    rows = session.store.attempts(reply.conversation_id)
    assert [(r["model_alias"], r["stage"], r["verdict"], r["fallback"]) for r in rows] == \
        [(CHEAP, 0, "fail", 0), (STRONG, 1, "pass", 0)]
    assert rows[0]["output"] == "Sure! The theme is dark."  # the replaced answer is kept in history
    assert rows[0]["check_detail"].startswith("json: not JSON")
    # Both answers are paid for: the reply's cost is the sum, and neither part is unknown.
    assert reply.cost.unknown == 0 and reply.cost.known_usd == pytest.approx(sum(r["cost_usd"] for r in rows))
    assert all(r["cost_usd"] > 0 for r in rows)
    # The conversation's context is the final answer only.
    assert [m.content for m in session.store.messages(reply.conversation_id)][-1] == '{"theme": "dark"}'


async def test_escalation_sends_the_next_tier_the_same_conversation(tmp_path, server):
    server.script(CHEAP, text="I'm sorry, but I can't help with that.")
    server.script(STRONG, text="Here is how to rotate the logs: use logrotate.")
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"refusal": True})), tmp_path / "h.db")
    _, reply = await turn(session, "how do I rotate logs?")
    assert reply.final.model_alias == STRONG
    cheap_request, strong_request = server.requests
    assert cheap_request["messages"] == strong_request["messages"] == [{"role": "user",
                                                                        "content": "how do I rotate logs?"}]


async def test_a_json_schema_a_regex_and_length_bounds_are_checked(tmp_path, server):
    schema = {"type": "object", "required": ["theme"], "properties": {"theme": {"enum": ["dark", "light"]}}}
    server.script(CHEAP, text='{"theme": "purple"}')
    server.script(STRONG, text='```json\n{"theme": "dark"}\n```')
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"json": schema, "regex": "dark",
                                                                            "max_chars": 100})), tmp_path / "h.db")
    events, reply = await turn(session)
    first = next(e for e in events if isinstance(e, Checked))
    assert first.verdict.failed == "json" and "schema at theme" in first.verdict.detail
    assert reply.final.model_alias == STRONG and reply.final.check_detail == "passed json, regex, length"


async def test_when_every_tier_fails_the_check_the_last_answer_stands_and_says_so(tmp_path, server):
    server.script(CHEAP, text="no json here")
    server.script(STRONG, text="none here either")
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"json": True})), tmp_path / "h.db")
    events, reply = await turn(session)
    checked = [e for e in events if isinstance(e, Checked)]
    assert [(c.verdict.passed, c.next_model) for c in checked] == [(False, STRONG), (False, None)]
    assert reply.status == "complete" and reply.text == "none here either"


async def test_an_escalation_that_cannot_answer_keeps_the_cheap_answer(tmp_path, server):
    server.script(CHEAP, text="plain words")
    server.script(STRONG, status=500)
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"json": True})), tmp_path / "h.db")
    _, reply = await turn(session)
    assert reply.status == "complete" and reply.text == "plain words" and reply.final.model_alias == CHEAP
    assert [a.model_alias for a in reply.attempts] == [CHEAP, STRONG] and not reply.attempts[-1].ok


async def test_stated_confidence_asks_for_it_and_escalates_below_the_bar(tmp_path, server):
    server.script(CHEAP, text="Paris, probably. Confidence: 40%")
    server.script(STRONG, text="Paris. Confidence: 95%")
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"confidence": 0.7})), tmp_path / "h.db")
    events, reply = await turn(session, "capital of France?")
    first = next(e for e in events if isinstance(e, Checked))
    assert first.verdict.failed == "confidence" and first.verdict.detail == "stated 40% < 70%"
    assert reply.final.model_alias == STRONG
    # Every stage is asked the same thing, the request to state a confidence included.
    assert server.requests[0]["messages"] == server.requests[1]["messages"]
    assert "Confidence: N%" in server.requests[0]["messages"][0]["content"]


async def test_token_logprobs_are_requested_and_a_doubtful_answer_escalates(tmp_path, server):
    server.script(CHEAP, text="maybe forty two", logprobs=[-2.5, -3.0])
    server.script(STRONG, text="forty two", logprobs=[-0.05])
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"logprob": -1.0})), tmp_path / "h.db")
    events, reply = await turn(session, "what is six times seven?")
    assert server.requests[0]["logprobs"] is True
    first = next(e for e in events if isinstance(e, Checked))
    assert first.verdict.failed == "logprob" and "-2.67 < -1.00" in first.verdict.detail
    assert reply.final.model_alias == STRONG and reply.final.check_detail == "passed logprob"


async def test_without_logprobs_from_the_provider_the_logprob_check_does_not_run(tmp_path, server):
    server.script(CHEAP, text="forty two")
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"logprob": -1.0})), tmp_path / "h.db")
    _, reply = await turn(session)
    assert reply.final.model_alias == CHEAP and reply.final.verdict == "pass" and server.hits[STRONG] == 0


async def test_the_judge_is_a_profile_model_whose_call_is_recorded_and_paid_for(tmp_path, server):
    server.script(CHEAP, text="The answer is 41.")
    server.script(STRONG, text="The answer is 42.")
    server.script("judge-model", text="FAIL")
    models = {CHEAP: {}, STRONG: {}, "judge-model": {}}
    path = cascade_profile(tmp_path, server.api_base, {"judge": {"model": "judge-model", "criterion": "says 42"}},
                           models=models)
    session = open_session(str(path), tmp_path / "h.db")
    events, reply = await turn(session, "six times seven?")
    first = next(e for e in events if isinstance(e, Checked))
    assert first.verdict.failed == "judge" and len(first.judged) == 1
    judge_request = next(r for r in server.requests if r["model"] == "judge-model")
    assert "six times seven?" in judge_request["messages"][0]["content"] and "says 42" in \
        judge_request["messages"][0]["content"]
    rows = session.store.attempts(reply.conversation_id)
    judges = [r for r in rows if r["purpose"] == "judge"]
    assert len(judges) == 2 and all(r["reply_message_id"] is None for r in judges)
    # The judge's calls are part of what the reply cost, here and in the history export.
    assert reply.cost.known_usd == pytest.approx(sum(r["cost_usd"] for r in rows))
    assert len(reply.judged) == 2
    from playground.history.export import rows as exported

    (answer,) = [r for r in exported(session.store) if r["role"] == "assistant"]
    assert answer["cost_usd"] == pytest.approx(reply.cost.known_usd)


async def test_a_model_chosen_by_hand_is_not_escalated(tmp_path, server):
    server.script(CHEAP, text="not json")
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"json": True})), tmp_path / "h.db")
    events, _ = await turn(session, model=CHEAP)
    assert not any(isinstance(e, Checked) for e in events) and server.hits[STRONG] == 0


@pytest.mark.parametrize(("escalate", "message"), [
    ({"to": ["nowhere"], "json": True}, "routes.0.escalate.to.0: 'nowhere' is neither a tier nor a model"),
    ({"to": ["strong"]}, "escalate needs at least one check"),
    ({"to": ["strong"], "json": {"type": "objekt"}}, "routes.0.escalate.json: not a valid JSON Schema"),
    ({"to": ["strong"], "judge": "nobody"}, "routes.0.escalate.judge.model: unknown model 'nobody'"),
    ({"to": ["strong"], "regex": "("}, "invalid regular expression"),
    ({"to": ["strong"], "min_chars": 10, "max_chars": 5}, "min_chars 10 is above max_chars 5"),
])
def test_a_bad_escalate_section_is_one_line_with_file_and_line(tmp_path, escalate, message):
    path = write_profile(tmp_path, "http://127.0.0.1:9/v1", [CHEAP, STRONG],
                         tiers={"cheap": [CHEAP], "strong": [STRONG]},
                         routes=[{"name": "answers", "tier": "cheap", "escalate": escalate}])
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(caught.value).startswith(f"{path}:") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def _ask(*args: str, home, profile) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "playground", "ask", *args, "--profile", str(profile)],
                          capture_output=True, text=True, timeout=60, env=guarded_env(PLAYGROUND_HOME=str(home)))


def test_ask_prints_only_the_answer_that_stands_and_says_why_it_escalated(tmp_path, server):
    server.script(CHEAP, text="I cannot help with that request.")
    server.script(STRONG, text="Use logrotate.")
    profile = cascade_profile(tmp_path, server.api_base, {"refusal": True})
    result = _ask("how do I rotate logs?", home=tmp_path / "home", profile=profile)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Use logrotate.\n"  # into a pipe, the refused answer is never written
    err = result.stderr.splitlines()
    assert err[0].startswith(f"⤴ {CHEAP}'s answer failed refusal: the model declined to answer ($0.0000")
    assert err[0].endswith(f"asking {STRONG}")
    assert err[1].startswith(f"{STRONG} · escalated: {CHEAP}'s answer failed refusal")
    assert err[2].startswith(f"⤴ escalated: {CHEAP} ✗ refusal $0.0000")
    assert f"→ {STRONG} ✓ $0.0000" in err[2] and " · total $0.0000" in err[2]


def test_ask_json_lists_every_attempt_with_its_stage_and_verdict(tmp_path, server):
    server.script(CHEAP, text='{"ok": true}')
    profile = cascade_profile(tmp_path, server.api_base, {"json": True})
    result = _ask("settings?", "--json", home=tmp_path / "home", profile=profile)
    out = json.loads(result.stdout)
    assert out["escalated"] is False and out["model"] == CHEAP
    assert [(a["stage"], a["verdict"], a["check_detail"]) for a in out["attempts"]] == [(0, "pass", "passed json")]


async def test_the_chat_shows_the_cheap_answer_replaced_why_and_what_both_cost(tmp_path, server):
    from playground.tui.app import PlaygroundApp
    from playground.tui.widgets.reply import ReplyView
    from tests.support.pilot import painted_text, wait_for

    server.script(CHEAP, text="Not JSON, sorry.")
    server.script(STRONG, text='{"theme": "dark"}')
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"json": True})), tmp_path / "h.db")
    async with PlaygroundApp(session).run_test(size=(120, 40)) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"settings as json", "enter")
        await wait_for(pilot, lambda: bool(pilot.app.screen.query(ReplyView)))
        reply = pilot.app.screen.query(ReplyView).last()
        await wait_for(pilot, lambda: "TTFT" in str(reply.query_one(".reply-meta").render()))
        await wait_for(pilot, lambda: reply.text and reply.body.shown_chars == len(reply.text))
        assert reply.text == '{"theme": "dark"}'  # the cheap answer was replaced
        rows = [str(row.render()) for row in reply.query(".escalation-row")]
        assert len(rows) == 1 and rows[0].startswith(f"⤴ {CHEAP}'s answer failed json: not JSON")
        assert rows[0].endswith(f"asking {STRONG}")
        head = str(reply.query_one(".reply-head").render())
        assert head.startswith(f"→ {STRONG} · escalated: {CHEAP}'s answer failed json")
        meta = str(reply.query_one(".reply-meta").render())
        assert f"⤴ escalated: {CHEAP} ✗ json $" in meta and f"→ {STRONG} ✓ $" in meta and "total $" in meta
        painted = painted_text(reply)
        assert "Not JSON, sorry." not in painted and '{"theme": "dark"}' in painted
        await pilot.click(".reply-why CollapsibleTitle")
        await wait_for(pilot, lambda: reply.query_one(".reply-trace").region.height > 0)
        assert "⤴ escalated:" in str(reply.query_one(".reply-trace").render())


async def test_stats_give_the_escalation_rate_and_cost_per_successful_task(tmp_path, server):
    from playground.cli.history import render_stats
    from playground.history.stats import compute

    server.script(CHEAP, text="maybe")  # fails the regex: escalated
    server.script(STRONG, text="answer: 42")
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"regex": "answer: \\d+"})),
                           tmp_path / "h.db")
    replies = [(await turn(session, f"question {i}"))[1] for i in range(2)]
    server.script(CHEAP, text="answer: 7")  # passes: kept
    replies.append((await turn(session, "question 2"))[1])
    stats = compute(session.store)
    assert stats.turns == 3 and stats.fallbacks == 0  # an escalation is neither a new turn nor a fallback
    (route,) = stats.by_route
    assert (route.escalations.checked, route.escalations.failed) == (3, 2)
    cost = sum(r.cost.known_usd for r in replies)
    assert route.outcomes.judged == 3 and route.outcomes.successes == 3
    assert route.outcomes.cost_per_success == pytest.approx(cost / 3)
    models = {m.model_alias: m for m in stats.by_model}
    assert (models[CHEAP].escalations.checked, models[CHEAP].escalations.failed) == (3, 2)
    assert (models[STRONG].escalations.checked, models[STRONG].escalations.failed) == (2, 0)
    # A task is credited to the model whose answer stood, at the cost of every call behind it.
    assert models[STRONG].outcomes.cost_per_success == pytest.approx((replies[0].cost.known_usd +
                                                                      replies[1].cost.known_usd) / 2)
    assert models[CHEAP].outcomes.cost_per_success == pytest.approx(replies[2].cost.known_usd)
    text = render_stats(stats)
    assert "cascades: 2 of 3 first answers failed their checks and were escalated (66.7%)" in text
    route_line = next(line for line in text.splitlines() if line.strip().startswith("answers"))
    assert "66.7%" in route_line

    from textual.widgets import DataTable

    from playground.tui.app import PlaygroundApp
    from playground.tui.screens.stats import ROUTE_COLUMNS
    from tests.support.pilot import wait_for

    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("f4")
        await wait_for(pilot, lambda: bool(app.screen.query("#stats-routes")) and
                       app.screen.query_one("#stats-routes", DataTable).row_count == 1)
        row = [str(cell) for cell in app.screen.query_one("#stats-routes", DataTable).get_row_at(0)]
        assert row[ROUTE_COLUMNS.index("Escalated")] == "66.7%" and row[ROUTE_COLUMNS.index("Succeeded")] == "3"


async def test_an_unpriced_call_makes_the_cost_per_success_unknown_not_lower(tmp_path, server):
    from playground.history.stats import compute
    from playground.present.format import per_success

    server.script(CHEAP, text="nope")
    server.script(STRONG, text="answer: 1")
    # The strong model has no price (none in the profile, unknown to LiteLLM's map).
    path = write_profile(tmp_path, server.api_base, {CHEAP: {"price": STUB_PRICE}, STRONG: {}},
                         tiers={"cheap": [CHEAP], "strong": [STRONG]}, fallbacks=[],
                         routes=[{"name": "answers", "tier": "cheap",
                                  "escalate": {"to": ["strong"], "regex": "answer"}}])
    session = open_session(str(path), tmp_path / "h.db")
    _, reply = await turn(session, "q")
    assert reply.cost.unknown == 1 and reply.cost.known_usd > 0
    (route,) = compute(session.store).by_route
    assert route.outcomes.successes == 1 and route.outcomes.unpriced == 1
    assert route.outcomes.cost_per_success is None and per_success(route.outcomes).endswith(" + unknown")
    from playground.history.stats import to_dict

    as_json = to_dict(compute(session.store))["by_route"][0]
    assert as_json["outcomes"]["cost_per_success"] is None and as_json["outcomes"]["unpriced"] == 1
    assert as_json["outcomes"]["per_success"]["usd"] is None and as_json["escalations"]["rate"] == 1.0


REPLAY = Path(__file__).resolve().parent.parent / "playground" / "data" / "replay" / "mmlu-sample.jsonl"
WEAK, STRONG_REPLAY = "mixtral-8x7b-instruct", "gpt-4-1106-preview"


def replay_profile(tmp_path, escalate: dict) -> Path:
    path = tmp_path / "cascade.yaml"
    path.write_text(yaml.safe_dump({
        "name": "replay-cascade",
        "models": {STRONG_REPLAY: {"model": "openai/gpt-4-1106-preview", "price": {"input_per_mtok": 10,
                                                                                  "output_per_mtok": 30}},
                   WEAK: {"model": "together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1",
                          "price": {"input_per_mtok": 0.6, "output_per_mtok": 0.6}}},
        "tiers": {"strong": [STRONG_REPLAY], "weak": [WEAK]},
        "routes": [{"name": "everything", "tier": "weak", "escalate": {"to": ["strong"], **escalate}}],
    }))
    return path


def test_replay_refuses_a_cascade_without_the_checks_accuracy(tmp_path):
    from playground.policy.evaluation import EvalError, evaluate
    from playground.policy.replay import load_replay

    with pytest.raises(EvalError, match="give the checks' accuracy"):
        evaluate(load_profile(replay_profile(tmp_path, {"refusal": True})), load_replay(REPLAY))


@pytest.mark.parametrize("accuracy", [1.0, 0.0, 0.8])
def test_replay_simulates_checks_of_the_given_accuracy_and_prices_both_answers(tmp_path, accuracy):
    from playground.policy.evaluation import CORRECT, evaluate
    from playground.policy.replay import load_replay

    items = load_replay(REPLAY)
    report = evaluate(load_profile(replay_profile(tmp_path, {"refusal": True})), items, check_accuracy=accuracy,
                      seed=3)
    cascade = report.cascade
    weak_right = sum(item.outcomes[WEAK].score >= CORRECT for item in items)
    if accuracy == 1.0:  # a perfect check escalates exactly the weak model's wrong answers
        assert cascade.escalated == len(items) - weak_right and cascade.wrong_kept == 0
    elif accuracy == 0.0:  # an always-wrong check escalates exactly its right ones
        assert cascade.escalated == weak_right and cascade.right_escalated == weak_right
    else:
        assert cascade.wrong_kept > 0 and cascade.right_escalated > 0
        again = evaluate(load_profile(replay_profile(tmp_path, {"refusal": True})), items, check_accuracy=accuracy,
                         seed=3)
        assert again.cascade == cascade  # seeded
    weak, strong = report.baselines[WEAK].total, report.baselines[STRONG_REPLAY].total
    # The cascade pays for the weak answer every time and the strong one on escalation, in the same run as
    # the single-model baselines.
    assert weak.cost < report.router.total.cost <= weak.cost + strong.cost
    assert report.router.total.strong == cascade.escalated
    assert cascade.calls == len(items) + cascade.escalated and cascade.judge_usd == 0


def test_replay_counts_what_the_judge_costs(tmp_path):
    from playground.policy.evaluation import evaluate
    from playground.policy.replay import load_replay

    items = load_replay(REPLAY)
    plain = evaluate(load_profile(replay_profile(tmp_path, {"refusal": True})), items, check_accuracy=0.9)
    judged = evaluate(load_profile(replay_profile(tmp_path, {"judge": STRONG_REPLAY})), items, check_accuracy=0.9)
    assert judged.cascade.judge_usd > 0
    assert judged.router.total.cost == pytest.approx(plain.router.total.cost + judged.cascade.judge_usd)


def test_eval_cli_reports_the_cascade_next_to_the_baselines(tmp_path):
    result = subprocess.run([sys.executable, "-m", "playground", "eval", str(replay_profile(tmp_path, {
        "refusal": True})), str(REPLAY), "--check-accuracy", "0.9"], capture_output=True, text=True, timeout=60,
        env=guarded_env(PLAYGROUND_HOME=str(tmp_path / "home")))
    assert result.returncode == 0, result.stderr
    assert "replay-cascade (profile)" in result.stdout and f"{WEAK} alone" in result.stdout
    assert "replay-cascade: cascades on 399 prompts · " in result.stdout and "simulated checks 90% accurate" in \
        result.stdout


def test_checks_can_be_more_accurate_on_right_answers_than_on_wrong_ones(tmp_path):
    from playground.policy.evaluation import CORRECT, CheckAccuracy, evaluate
    from playground.policy.replay import load_replay

    items = load_replay(REPLAY)
    profile = load_profile(replay_profile(tmp_path, {"refusal": True}))
    # Passes every right answer, fails no wrong one: nothing is ever escalated.
    lenient = evaluate(profile, items, check_accuracy=CheckAccuracy.parse("1:0"))
    assert lenient.cascade.escalated == 0
    assert lenient.cascade.wrong_kept == sum(item.outcomes[WEAK].score < CORRECT for item in items)
    assert str(CheckAccuracy.parse("0.95:0.7")) == "passing 95% of right answers, failing 70% of wrong ones"
    with pytest.raises(ValueError, match="P_RIGHT:P_WRONG"):
        CheckAccuracy.parse("1.5")
    result = subprocess.run([sys.executable, "-m", "playground", "eval", str(replay_profile(tmp_path, {
        "refusal": True})), str(REPLAY), "--check-accuracy", "0.9:2"], capture_output=True, text=True, timeout=60,
        env=guarded_env(PLAYGROUND_HOME=str(tmp_path / "home")))
    assert result.returncode == 2 and "Invalid value for '--check-accuracy'" in result.stderr


def test_live_eval_runs_cascades_and_measures_the_checks_accuracy(tmp_path, server):
    server.script(CHEAP, text="it is 42, not JSON")
    server.script(STRONG, text='{"answer": 42}')
    profile = cascade_profile(tmp_path, server.api_base, {"json": True})
    prompts = tmp_path / "prompts.jsonl"
    # The cheap answer fails the cascade's JSON check both times; by the prompts' own checks it was right for
    # the first prompt (the check was wrong to escalate) and wrong for the second (right to).
    prompts.write_text(json.dumps({"id": "a", "prompt": "six times seven?", "check": "contains", "expected": "42"})
                       + "\n" + json.dumps({"id": "b", "prompt": "say nope", "check": "contains",
                                            "expected": "nope"}) + "\n")
    result = subprocess.run([sys.executable, "-m", "playground", "--db", str(tmp_path / "h.db"), "eval", str(profile),
                             str(prompts), "--live", "--json"], capture_output=True, text=True, timeout=120,
                            env=guarded_env(PLAYGROUND_HOME=str(tmp_path / "home")))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["cascaded"] == 2 and summary["escalated"] == 2
    # One right first answer, wrongly failed; one wrong one, rightly failed.
    assert (summary["right_first"], summary["check_pass_right"]) == (1, 0.0)
    assert (summary["wrong_first"], summary["check_fail_wrong"]) == (1, 1.0)
    assert summary["by_model"][STRONG]["prompts"] == 2
    assert server.hits == {CHEAP: 2, STRONG: 2}
    rows = [json.loads(line) for line in (tmp_path / "prompts.results.jsonl").read_text().splitlines()]
    assert {(r["id"], r["first_correct"], r["first_verdict"], r["escalated"]) for r in rows} == \
        {("a", True, False, True), ("b", False, False, True)}
    # Run again (resumed: nothing left to call), as text: the figure to replay with.
    again = subprocess.run([sys.executable, "-m", "playground", "--db", str(tmp_path / "h.db"), "eval", str(profile),
                            str(prompts), "--live"], capture_output=True, text=True, timeout=120,
                           env=guarded_env(PLAYGROUND_HOME=str(tmp_path / "home")))
    assert "cascades: 2 of 2 escalated" in again.stdout and "--check-accuracy 0.00:1.00" in again.stdout
    assert server.hits == {CHEAP: 2, STRONG: 2}


@pytest.mark.parametrize(("text", "refused"), [
    ("I'm sorry, but I can't help with that.", True),
    ("I cannot assist with this request.", True),
    ("Sorry, I can't do that.", True),
    ("As an AI, I have no opinions.", True),
    ("I can't stress enough how useful logrotate is.", False),
    ("Here is the answer. I'm sorry it took long; I cannot wait to hear back.", False),
])
def test_refusal_detection_looks_at_how_the_answer_opens(text, refused):
    from playground.router.checks import is_refusal

    assert is_refusal(text) is refused


@pytest.mark.parametrize(("text", "value"), [
    ("Paris.\nConfidence: 80%", 0.8), ("confidence 0.35", 0.35), ("Confidence: 7/10", 0.7),
    ("Confidence: 90", 0.9), ("Confidence: 20%. On reflection, confidence: 60%", 0.6), ("no figure", None),
])
def test_stated_confidence_reads_the_last_one_the_answer_gives(text, value):
    from playground.router.checks import stated_confidence

    assert stated_confidence(text) == (pytest.approx(value) if value is not None else None)


def test_judge_verdicts_are_read_strictly():
    from playground.router.checks import judge_verdict, unfenced

    assert judge_verdict("PASS") is True and judge_verdict("**FAIL**") is False and judge_verdict("Maybe") is None
    assert unfenced('```json\n{"a": 1}\n```') == '{"a": 1}' and unfenced("plain") == "plain"


async def test_an_incognito_cascade_stores_which_check_failed_but_no_text(tmp_path, server):
    schema = {"type": "object", "properties": {"theme": {"enum": ["dark"]}}}
    server.script(CHEAP, text='{"theme": "my secret colour"}')
    server.script(STRONG, text='{"theme": "dark"}')
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"json": schema})), tmp_path / "h.db")
    events, reply = await turn(session, incognito=True)
    assert "my secret colour" in next(e for e in events if isinstance(e, Checked)).verdict.detail  # shown, once
    rows = session.store.attempts(reply.conversation_id)
    assert [(r["verdict"], r["check_detail"], r["output"]) for r in rows] == [("fail", "json", ""),
                                                                             ("pass", "passed json", "")]
    files = [session.store.path, session.store.path.with_name("h.db-wal")]
    assert not any(b"secret" in f.read_bytes() for f in files if f.exists())


async def test_a_cascaded_reply_reopened_from_history_says_how_it_stood(tmp_path, server):
    from playground.tui.app import PlaygroundApp
    from playground.tui.widgets.reply import StoredReplyView
    from tests.support.pilot import wait_for

    server.script(CHEAP, text="plain words")
    server.script(STRONG, text='{"a": 1}')
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"json": True})), tmp_path / "h.db")
    _, reply = await turn(session)
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.screen.open_conversation(reply.conversation_id)
        await wait_for(pilot, lambda: bool(app.screen.query(StoredReplyView)))
        view = app.screen.query(StoredReplyView).last()
        assert str(view.query_one(".reply-head").render()).startswith(f"→ {STRONG} · escalated: {CHEAP}'s answer "
                                                                      "failed json")
        assert "⤴ escalated, passed json" in str(view.query_one(".reply-meta").render())


def test_ask_in_a_terminal_streams_the_cheap_answer_then_says_it_was_replaced(tmp_path, server):
    import os
    import pty

    server.script(CHEAP, text="I'm sorry, but I can't help with that.")
    server.script(STRONG, text="Use logrotate.")
    profile = cascade_profile(tmp_path, server.api_base, {"refusal": True})
    pid, fd = pty.fork()
    if pid == 0:  # the child: `ask` with a terminal as its output, as a user runs it
        os.execve(sys.executable, [sys.executable, "-m", "playground", "ask", "rotate logs?", "--profile",
                                   str(profile)], guarded_env(PLAYGROUND_HOME=str(tmp_path / "home")))
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    lines = out.decode().splitlines()
    assert lines[0] == "I'm sorry, but I can't help with that." and lines[2] == "Use logrotate."
    assert lines[1].startswith(f"⤴ {CHEAP}'s answer failed refusal: the model declined to answer ($0.0000")
    assert lines[1].endswith(f"); asking {STRONG}")


async def test_a_step_with_no_usable_model_is_passed_over_and_the_user_told_why(tmp_path, server):
    from playground.present.format import escalation_line

    server.script(CHEAP, text="not json")
    models = {CHEAP: {}, STRONG: {"key_env": "STRONG_TEST_KEY"}}  # no such variable: unavailable
    session = open_session(str(cascade_profile(tmp_path, server.api_base, {"json": True}, models=models)),
                           tmp_path / "h.db")
    events, reply = await turn(session)
    (checked,) = [e for e in events if isinstance(e, Checked)]
    assert checked.next_model is None and checked.skipped[0].startswith(f"strong: {STRONG}: unavailable")
    line = escalation_line(checked)
    assert "no tier left to ask: this answer stands (skipped strong: " in line and "STRONG_TEST_KEY" in line
    assert reply.text == "not json" and server.hits[STRONG] == 0


async def test_an_escalation_past_its_models_spend_limit_is_not_made(tmp_path, server):
    server.script(CHEAP, text="not json")
    server.script(STRONG, text='{"a": 1}')
    path = cascade_profile(tmp_path, server.api_base, {"json": True},
                           budget={"models": {STRONG: {"daily_usd": 0.000001}}})
    session = open_session(str(path), tmp_path / "h.db")
    first, _ = await turn(session, "the first question, which spends the strong model's whole day")
    assert next(e for e in first if isinstance(e, Checked)).next_model == STRONG
    session.state.refresh_monitor(session.store)
    events, reply = await turn(session)
    (checked,) = [e for e in events if isinstance(e, Checked)]
    assert checked.next_model is None and "budget reached" in checked.skipped[0]
    assert reply.final.model_alias == CHEAP and server.hits[STRONG] == 1
