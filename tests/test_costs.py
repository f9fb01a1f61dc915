"""Costs over real HTTP: an unknown price stays unknown in every total, money prints one way."""

from __future__ import annotations

import asyncio

from playground.base.money import dollars
from playground.base.records import Cost
from playground.config.profile import load_profile
from playground.history.export import rows
from playground.history.store import HistoryFilter, Store
from playground.services.chat import ChatService
from playground.services.events import ReplyDone, TextDelta
from playground.services.routing_state import RoutingState
from playground.services.session import open_session
from tests.support.helpers import write_profile

PRICE = {"input_per_mtok": 3.0, "output_per_mtok": 3.0}


async def _reply(chat: ChatService, prompt: str) -> ReplyDone:
    events = [event async for event in chat.send(prompt)]
    assert isinstance(events[-1], ReplyDone), events
    return events[-1]


def test_a_priced_failure_then_an_unpriced_answer_is_not_zero(server, make_profile, tmp_path):
    server.script("priced", text="a b c d e f", cut_after=3)  # streams, then the connection drops
    server.script("unpriced", text="the answer")
    profile = load_profile(make_profile({"priced": {"price": PRICE}, "unpriced": {}}))
    store = Store(tmp_path / "h.db")
    try:
        done = asyncio.run(_reply(ChatService(RoutingState.new(profile), store), "hello there"))
        failed, answered = done.reply.attempts
        assert failed.failure is not None and failed.cost_usd > 0 and answered.ok and answered.cost_usd is None
        assert done.reply.cost_usd is None and done.reply.cost == Cost(failed.cost_usd, 1)
        assert done.conversation_cost.usd is None and done.day_cost.usd is None
        assert dollars(done.conversation_cost) == f"{dollars(failed.cost_usd)} + unknown"
        [summary] = store.conversations(HistoryFilter())
        assert summary.cost_usd is None and dollars(summary.cost) == f"{dollars(failed.cost_usd)} + unknown"
        reply_row = next(r for r in rows(store) if r["role"] == "assistant")
        assert reply_row["cost_usd"] is None and reply_row["attempts"] == 2
    finally:
        store.close()


def test_a_fully_priced_reply_keeps_its_number(server, make_profile, tmp_path):
    server.script("priced", text="one two three")
    profile = load_profile(make_profile({"priced": {"price": PRICE}}))
    store = Store(tmp_path / "h.db")
    try:
        done = asyncio.run(_reply(ChatService(RoutingState.new(profile), store), "hello"))
        attempt = done.reply.final
        # The stub counts 1 + 7 prompt tokens and 3 completion tokens: 11 tokens at $3/Mtok.
        assert (attempt.input_tokens, attempt.output_tokens) == (8, 3)
        assert attempt.cost_usd == 3.3e-05 and repr(attempt.cost_usd) == "3.3e-05"
        assert done.conversation_cost == Cost(3.3e-05, 0) and dollars(done.conversation_cost) == "$0.000033"
    finally:
        store.close()


def test_money_prints_one_way():
    assert dollars(8.999999999999999e-05) == "$0.00009"
    assert dollars(0.0123456) == "$0.0123"
    assert dollars(2.5) == "$2.50" and dollars(1234.5) == "$1,234.50" and dollars(0.46) == "$0.46"
    assert dollars(-0.0123) == "-$0.0123" and dollars(0.0000451) == "$0.000045"
    assert dollars(0) == "$0" and dollars(None) == "$?"
    assert dollars(1e-9) == "<$0.000001"
    assert dollars(Cost(0.0, 2)) == "$?" and dollars(Cost(0.012, 1)) == "$0.012 + unknown"
    assert Cost.of([0.01, None, 0.02]) == Cost(0.03, 1) and Cost.of([0.01, None, 0.02]).usd is None


def test_live_eval_totals_keep_unknown_costs_unknown():
    from playground.services.live_eval import LiveResult, summarise

    priced = LiveResult("a", "complete", "m1", "r", True, 0.002, 1.0, "c1")
    unpriced = LiveResult("b", "complete", "m2", "r", True, None, 1.0, "c2")
    summary = summarise([priced, unpriced])
    assert summary["cost_usd"] is None
    assert summary["by_model"]["m1"]["cost_usd"] == 0.002 and summary["by_model"]["m2"]["cost_usd"] is None
    assert summarise([priced])["cost_usd"] == 0.002


async def test_a_free_models_call_in_flight_is_known_to_cost_nothing(tmp_path, server):
    # Found in tmux: while the local model streamed, the status line's "today" read "$?": the attempt's row,
    # written when it starts, had no cost yet. A priced model's in-flight call stays unknown.
    server.script("free", text="a b c d e f", hold_after=2)
    server.script("paid", text="a b c d e f", hold_after=2)
    path = write_profile(tmp_path, server.api_base, {"free": {"price": {"input_per_mtok": 0, "output_per_mtok": 0}},
                                                     "paid": {"price": {"input_per_mtok": 1, "output_per_mtok": 2}}})
    session = open_session(str(path), tmp_path / "h.db")
    for model, expected in (("free", Cost(0.0, 0)), ("paid", Cost(0.0, 1))):
        events = session.chat.send("hi", model=model)
        while not isinstance(await anext(events), TextDelta):
            pass
        for _ in range(100):  # the start row is written by the history thread while the request goes out
            if session.store.read(lambda c, m=model: c.execute("SELECT count(*) FROM attempts WHERE model_alias = ?",
                                                               (m,)).fetchone()[0]):
                break
            await asyncio.sleep(0.02)
        assert session.store.today_cost() == expected
        server.release()
        async for _event in events:
            pass
    assert session.store.today_cost().unknown == 0
