"""Budgets: the profile section, then spend from history over real HTTP shifting to cheaper models near a
limit, refusing past it (in the service and in `playground ask`), free models still answering, and doctor."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from playground.config.profile import ProfileError, load_profile
from playground.router.budget import Limit, Spend
from playground.services.compare import CompareError
from playground.services.doctor import run_checks
from playground.services.events import ReplyDone, Routed, TurnFailed
from playground.services.session import open_session
from tests.support.helpers import guarded_env, profile_data

CHEAP = {"input_per_mtok": 25_000, "output_per_mtok": 50_000}
PRICEY = {"input_per_mtok": 100_000, "output_per_mtok": 200_000}
"""Dollars a reply (a few tokens each way at these rates), so the limits below read like real ones."""


def test_budget_section_is_validated_with_file_and_line(tmp_path):
    path = tmp_path / "p.yaml"
    data = profile_data("http://127.0.0.1:9/v1", ["a"], budget={"daily_usd": 5, "models": {"nope": {"daily_usd": 1}}})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ProfileError, match=r"p\.yaml:\d+:\d+: budget\.models\.nope: unknown model 'nope'"):
        load_profile(path)
    data["budget"] = {"models": {}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ProfileError, match=r"p\.yaml:\d+:\d+: budget: a budget needs daily_usd or monthly_usd"):
        load_profile(path)
    data["budget"] = {"daily_usd": -1}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ProfileError, match=r"budget\.daily_usd: Input should be greater than 0"):
        load_profile(path)


def test_a_limit_says_what_it_leaves_out():
    limit = Limit("", "today", 5.0, Spend(4.2, 3))
    assert limit.describe() == "$4.20 of $5.00 spent today (excludes 3 unpriced replies)"
    assert limit.left() == "≤$0.80 left today"
    assert limit.pressure == pytest.approx(0.2)  # 84% used: a fifth of the way from 80% to 100%
    assert Limit("gpt", "this month", 1.0, Spend(1.0)).left() == "budget reached this month"


# Over real HTTP ----------------------------------------------------------------------------------------

def write(tmp_path, api_base: str, budget: dict | None, free: bool = True):
    """`pricey` is fast and wins on latency; `cheap` is slow and a quarter of the price; `free` costs
    nothing and is in no tier."""
    models = {"cheap": {"price": CHEAP}, "pricey": {"price": PRICEY}}
    if free:
        models["free"] = {"price": {"input_per_mtok": 0, "output_per_mtok": 0}}
    data = profile_data(api_base, models, name="budget-test", tiers={"main": ["cheap", "pricey"]}, fallbacks=[],
                        selection={"cost": 0.5, "latency": 1.0, "health": 1.0})
    if budget is not None:
        data["budget"] = budget
    path = tmp_path / "budget.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def turn(session, prompt="how much is left", model=None):
    decision = done = failed = None
    async for event in session.chat.send(prompt, model=model):
        if isinstance(event, Routed):
            decision = event.decision
        elif isinstance(event, ReplyDone):
            done = event
        elif isinstance(event, TurnFailed):
            failed = event.message
    return decision, done, failed


def with_budget(session, path, budget: dict | None, free: bool = True) -> None:
    write(path.parent, session.profile.models["cheap"].api_base, budget, free)
    session.apply_profile(load_profile(path))
    session.state.refresh_monitor(session.store)  # the app does this on a worker after a profile change


async def test_spend_near_the_limit_shifts_to_cheaper_models_and_past_it_refuses(tmp_path, server):
    server.script("cheap", text="a cheap answer", first_chunk_delay=0.3, chunk_delay=0.01)
    server.script("pricey", text="a pricey answer", chunk_delay=0.01)
    server.script("free", text="a free answer")
    path = write(tmp_path, server.api_base, None)
    session = open_session(str(path), tmp_path / "h.db")
    for model in ("cheap", "pricey", "cheap", "pricey"):  # both measured, so latency counts
        await turn(session, model=model)
    decision, done, _ = await turn(session)
    assert decision.model == "pricey" and not decision.budget  # no budget: the fast model wins

    spent = done.day_cost.known_usd
    with_budget(session, path, {"daily_usd": round(spent / 0.95, 6)})
    decision, done, _ = await turn(session)
    assert decision.model == "cheap"
    assert decision.budget.startswith("95% of a limit used") and "cost weight ×4.0" in decision.budget
    assert done.reply.status == "complete" and done.reply.final.model_alias == "cheap"

    with_budget(session, path, {"daily_usd": round(done.day_cost.known_usd * 0.99, 6)})
    decision, done, _ = await turn(session)
    assert decision.model == "free" and done.reply.text == "a free answer"
    chosen = next(c for c in decision.candidates if c.alias == "free")
    assert chosen.note == "free model (the budget is spent)"
    assert {c.alias for c in decision.candidates if c.dropped} == {"cheap", "pricey"}
    assert decision.budget.startswith("budget reached: ") and "spent today" in decision.budget

    hits = dict(server.hits)
    with_budget(session, path, {"daily_usd": round(done.day_cost.known_usd * 0.99, 6)}, free=False)
    decision, done, failed = await turn(session)
    assert decision is None and done is None
    assert failed.startswith("budget reached: $") and "spent today; no free or local model can answer" in failed
    assert "\n" not in failed
    assert dict(server.hits) == hits  # nothing was sent
    with pytest.raises(CompareError, match=r"^cheap: budget reached: \$.* spent today \(compare free or local"):
        session.compare.check(["cheap", "pricey"])

    # `playground ask` on the same history: the same refusal, one line, a non-zero exit.
    result = ask_cli(tmp_path, path, "one more?")
    assert result.returncode == 1
    assert result.stderr.startswith("playground: error: budget reached: $") and result.stderr.count("\n") == 1
    assert dict(server.hits) == hits

    checks = {c.name: c for c in run_checks(str(path), str(tmp_path / "h.db"))}
    day = checks["budget today"]
    assert not day.ok and day.optional and "spent today" in day.detail and "budget reached today" in day.detail


def ask_cli(tmp_path, profile, prompt: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "playground", "ask", prompt, "--profile", str(profile),
                           "--db", str(tmp_path / "h.db")], capture_output=True, text=True, timeout=120,
                          env=guarded_env(PLAYGROUND_HOME=str(tmp_path / "home")))


async def test_unpriced_replies_are_counted_not_taken_as_free(tmp_path, server):
    server.script("cheap", text="priced")
    server.script("pricey", text="priced")
    server.script("mystery", text="who knows")
    path = tmp_path / "p.yaml"
    data = profile_data(server.api_base, {"cheap": {"price": CHEAP}, "mystery": {}}, name="unpriced",
                        tiers={"main": ["cheap"]}, fallbacks=[], budget={"daily_usd": 100, "monthly_usd": 1000,
                                                                          "models": {"cheap": {"daily_usd": 50}}})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    session = open_session(str(path), tmp_path / "h.db")
    await turn(session, model="mystery")
    await turn(session, model="mystery")
    _, done, _ = await turn(session)
    status = session.state.monitor.budget(session.profile)
    day = status.tightest()
    assert day is not None and day.period == "today"
    assert day.spent.known_usd == pytest.approx(done.day_cost.known_usd) and day.spent.unpriced == 2
    assert day.left().startswith("≤$") and "excludes 2 unpriced replies" in day.describe()
    # The model's own limit counts only its own spend.
    (own,) = [limit for limit in status.limits if limit.scope == "cheap"]
    assert own.spent == Spend(pytest.approx(done.day_cost.known_usd), 0)
    # `ask` says what is left after its reply; "≤" because unpriced replies may have used some of it.
    result = ask_cli(tmp_path, path, "and now?")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1].endswith("today $0.60 + unknown · ≤$99.40 left today")


def test_near_a_limit_policies_without_a_cost_weight_take_the_cheapest():
    from playground.config.catalog import build_catalog
    from playground.config.profile import Profile
    from playground.router import RouteRequest, decide
    from playground.router.budget import SpendSnapshot, assess

    profile = Profile.model_validate({
        "name": "pure", "models": {"strong": {"model": "openai/strong", "price": PRICEY},
                                   "cheap": {"model": "openai/cheap", "price": CHEAP}},
        "tiers": {"main": ["strong", "cheap"]}, "routes": [{"name": "all", "tier": "main", "select": "first"}],
        "budget": {"daily_usd": 10}})
    catalog = build_catalog(profile, env={})
    request = RouteRequest("hi", 1, 1)
    for spent, expected in ((7.9, "strong"), (8.5, "cheap")):
        status = assess(profile.budget, SpendSnapshot(day={"strong": Spend(spent)}, month={"strong": Spend(spent)}))
        decision = decide(request, profile, catalog, now=0.0, budget=status)
        assert decision.model == expected
    assert decision.budget == "85% of a limit used ($8.50 of $10.00 spent today): cheapest first"


def test_near_the_limit_routes_step_down_to_cheaper_tiers():
    from playground.config.catalog import build_catalog
    from playground.config.profile import Profile
    from playground.router import RouteRequest, decide
    from playground.router.budget import SpendSnapshot, assess

    def profile(step_down: bool = True) -> Profile:
        return Profile.model_validate({
            "name": "tiers", "models": {"strong": {"model": "openai/strong", "price": PRICEY},
                                        "mid": {"model": "openai/mid", "price": CHEAP},
                                        "cheap": {"model": "openai/cheap", "price": {"input_per_mtok": 1_000,
                                                                                     "output_per_mtok": 2_000}},
                                        "mystery": {"model": "openai/mystery"}},
            "tiers": {"strong": ["strong"], "mid": ["mid"], "cheap": ["cheap"], "unpriced": ["mystery"]},
            "routes": [{"name": "all", "tier": "strong", "select": "first"}],
            "budget": {"daily_usd": 10, "step_down": step_down}})

    request = RouteRequest("hi", 1, 1)
    chosen = {}
    for spent in (7.9, 8.5, 9.0, 9.5):
        # Two tiers are cheaper than `strong` (the unpriced one cannot be ranked): a step per third of 80–100%.
        status = assess(profile().budget, SpendSnapshot(day={"strong": Spend(spent)}, month={"strong": Spend(spent)}))
        decision = decide(request, profile(), build_catalog(profile(), env={}), now=0.0, budget=status)
        chosen[spent] = (decision.tier, decision.model)
        if spent == 9.0:
            assert decision.budget == "90% of a limit used ($9.00 of $10.00 spent today): strong → mid tier; " \
                                      "cheapest first"
    assert chosen == {7.9: ("strong", "strong"), 8.5: ("strong", "strong"), 9.0: ("mid", "mid"),
                      9.5: ("cheap", "cheap")}
    # A model's own limit makes that model cheaper-first but moves no route off its tier.
    status = assess(profile().budget, SpendSnapshot())
    assert decide(request, profile(), build_catalog(profile(), env={}), now=0.0, budget=status).tier == "strong"
    kept = profile(step_down=False)
    status = assess(kept.budget, SpendSnapshot(day={"strong": Spend(9.5)}, month={"strong": Spend(9.5)}))
    decision = decide(request, kept, build_catalog(kept, env={}), now=0.0, budget=status)
    assert (decision.tier, decision.model) == ("strong", "strong")
    assert decision.budget == "95% of a limit used ($9.50 of $10.00 spent today): cheapest first"


async def test_a_budget_scoped_to_all_counts_every_profiles_spend(tmp_path, server):
    server.script("cheap", text="counted")
    server.script("pricey", text="counted")
    path = write(tmp_path, server.api_base, None, free=False)
    other = open_session(str(path), tmp_path / "h.db")
    _, done, _ = await turn(other, model="pricey")  # spent under the profile `budget-test`
    spent = done.day_cost.known_usd

    def budgeted(scope: str):
        data = yaml.safe_load(path.read_text())
        data.update(name="watcher", budget={"daily_usd": round(spent * 0.9, 6), "scope": scope})
        mine = tmp_path / f"{scope}.yaml"
        mine.write_text(yaml.safe_dump(data, sort_keys=False))
        session = open_session(str(mine), tmp_path / "h.db")
        session.seed_health()  # as `ask` and the app do once the session is open: spend read from history
        return session

    decision, done, failed = await turn(budgeted("profile"))
    assert failed is None and done.reply.text == "counted" and not decision.budget  # its own spend: nothing yet
    decision, done, failed = await turn(budgeted("all"))
    assert decision is None and done is None
    assert failed.startswith("budget reached: $") and "spent today" in failed


async def test_near_the_limit_a_turn_is_answered_by_a_cheaper_tier_over_http(tmp_path, server):
    server.script("pricey", text="the strong tier")
    server.script("cheap", text="the cheap tier")
    path = tmp_path / "tiers.yaml"
    data = profile_data(server.api_base, {"pricey": {"price": PRICEY}, "cheap": {"price": CHEAP}}, name="tiers",
                        tiers={"strong": ["pricey"], "light": ["cheap"]}, fallbacks=[],
                        routes=[{"name": "all", "tier": "strong"}])
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    session = open_session(str(path), tmp_path / "h.db")
    decision, done, _ = await turn(session)
    assert (decision.tier, done.reply.text) == ("strong", "the strong tier")

    data["budget"] = {"daily_usd": round(done.day_cost.known_usd / 0.92, 6)}  # 92% spent: past 90%, one step
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    session.apply_profile(load_profile(path))
    session.state.refresh_monitor(session.store)
    decision, done, _ = await turn(session)
    assert (decision.tier, decision.model, done.reply.text) == ("light", "cheap", "the cheap tier")
    assert decision.budget.startswith("92% of a limit used") and "strong → light tier" in decision.budget
    assert done.reply.final.route == "all" and server.hits == {"pricey": 1, "cheap": 1}
