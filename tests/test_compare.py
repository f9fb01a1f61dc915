"""The compare service over real HTTP through LiteLLM, against the local test server."""

from __future__ import annotations

import asyncio
import os

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import pytest

from playground.base.records import Outcome
from playground.services.compare import CompareError
from playground.services.events import (
    ColumnDelta,
    ColumnEnded,
    ColumnProgress,
    ColumnWaiting,
    CompareDone,
    CompareStarted,
    ReplyDone,
)
from playground.services.session import open_session
from tests.support.helpers import compare_profile


@pytest.fixture
def stub(server):
    return server


@pytest.fixture
def session(tmp_path, stub):
    stub.script("fast", text="fast answer here", chunk_delay=0.01)
    stub.script("slow", text=" ".join(f"s{i}" for i in range(30)), chunk_delay=0.03)
    stub.script("broken", status=500)
    stub.script("endless", text=" ".join(f"e{i}" for i in range(500)), chunk_delay=0.02)
    opened = open_session(compare_profile(tmp_path, stub.api_base, ["fast", "slow", "broken", "endless"]),
                          tmp_path / "h.db")
    yield opened
    opened.store.close()


async def _collect(events) -> list:
    return [event async for event in events]


async def test_columns_stream_concurrently_and_a_failure_stays_in_its_column(session, stub):
    # The slow column holds after 5 words until the failing column has ended (a fixed slow stream was not
    # slow enough under load: LiteLLM's error path for the 500 alone took longer than 0.9 s). Had the
    # failure waited for the slow column, the hold would run out and the order check below fail. Its 0.9 s
    # of stream (chunk_delay) is for the live figures, shown at most every 0.1 s.
    slow = stub.script("slow", text=" ".join(f"s{i}" for i in range(30)), chunk_delay=0.03, hold_after=5)
    events = []
    async for event in session.compare.run("hello there", ["slow", "broken"]):
        events.append(event)
        if isinstance(event, ColumnEnded) and event.column == 1:
            slow.resume.set()
    assert isinstance(events[0], CompareStarted) and isinstance(events[-1], CompareDone)
    ended = {e.column: e for e in events if isinstance(e, ColumnEnded)}
    assert ended[0].status == "compared" and ended[0].attempt.ok
    assert ended[1].status == "failed" and ended[1].attempt.error.startswith("HTTP 500")
    # The failing column ended while the slow one was still streaming: nothing waited for anything.
    order = [e for e in events if isinstance(e, (ColumnDelta, ColumnEnded))]
    assert order.index(ended[1]) < order.index(ended[0]) - 5
    text = "".join(e.text for e in events if isinstance(e, ColumnDelta) and e.column == 0)
    assert text == " ".join(f"s{i}" for i in range(30))
    assert any(isinstance(e, ColumnProgress) and e.live.output_tokens for e in events)

    comparison = events[-1].comparison
    store = session.store
    messages = store.messages(comparison.conversation_id)
    assert [(m.role, m.status, m.model_alias) for m in messages] == [
        ("user", "complete", None), ("assistant", "compared", "slow"), ("assistant", "failed", "broken")]
    attempts = store.attempts(comparison.conversation_id)
    assert {(a["model_alias"], a["failure"], a["route"]) for a in attempts} == {
        ("slow", None, "everything"), ("broken", "server_error", "everything")}
    assert all(a["prompt_message_id"] == comparison.prompt_message_id for a in attempts)
    # Usage came from the server, so costs are exact: (2 prompt words + 7) in, 30 out at $1/$2 per Mtok.
    slow = next(a for a in attempts if a["model_alias"] == "slow")
    assert slow["cost_usd"] == pytest.approx((9 * 1 + 30 * 2) / 1e6)


async def test_cancelling_keeps_partial_answers_marked_cancelled(session):
    seen: list = []

    async def consume():
        async for event in session.compare.run("count", ["fast", "endless"]):
            seen.append(event)

    task = asyncio.create_task(consume())
    for _ in range(200):
        if sum(isinstance(e, ColumnDelta) and e.column == 1 for e in seen) >= 5 and \
                any(isinstance(e, ColumnEnded) for e in seen):
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    comparison = seen[0].comparison
    messages = session.store.messages(comparison.conversation_id)
    assert [(m.model_alias, m.status) for m in messages[1:]] == [("fast", "compared"), ("endless", "cancelled")]
    assert messages[2].content.startswith("e0 e1 e2 e3 e4") and len(messages[2].content.split()) < 500
    failures = {a["model_alias"]: a["failure"] for a in session.store.attempts(comparison.conversation_id)}
    assert failures == {"fast": None, "endless": "cancelled"}


async def test_vote_is_stored_with_route_and_category_and_the_winner_continues_the_chat(session, stub):
    events = await _collect(session.compare.run("```\nprint(1)\n```", ["fast", "slow"]))
    comparison = events[-1].comparison
    assert (comparison.route, comparison.category) == ("code", "code")
    vote = session.compare.vote(comparison, Outcome.WIN, winner=1, blind=True)
    assert session.store.votes() == [vote]
    assert (vote.winner_model_alias, vote.models, vote.blind) == ("slow", ("fast", "slow"), True)
    assert vote.reply_message_ids == tuple(c.message_id for c in comparison.columns)

    session.compare.continue_with(comparison, 1)
    async for _event in session.chat.send("and then?", conversation_id=comparison.conversation_id, model="fast"):
        pass
    context = stub.requests[-1]["messages"]
    assert [m["role"] for m in context] == ["user", "assistant", "user"]
    assert context[1]["content"] == " ".join(f"s{i}" for i in range(30))


async def test_a_comparison_takes_the_route_the_chat_would_take_semantic_routes_included(tmp_path, stub):
    # Before, compare routed without the semantic stage: small talk was filed (and voted on) under `everything`.
    routes = [{"name": "small-talk", "tier": "main", "semantic": {"utterances": ["hi", "hello, how are you",
                                                                              "good morning", "thanks a lot"]}},
              {"name": "everything", "tier": "main"}]
    opened = open_session(compare_profile(tmp_path, stub.api_base, ["fast", "slow"], routes=routes), tmp_path / "h.db")
    try:
        assert opened.build_semantic_index() == 1
        events = await _collect(opened.compare.run("hello there, how are you today?", ["fast", "slow"]))
        comparison = events[-1].comparison
        assert (comparison.route, comparison.category) == ("small-talk", "small-talk")
        assert {a["route"] for a in opened.store.db["attempts"].rows} == {"small-talk"}
    finally:
        opened.store.close()


async def test_reasking_a_chat_prompt_hides_its_old_reply_and_the_winner_replaces_it(session, stub):
    async for event in session.chat.send("first question", model="fast"):
        if isinstance(event, ReplyDone):
            old = event.reply
    prompt_id = session.store.messages(old.conversation_id)[0].id
    events = await _collect(session.compare.run("first question", ["slow", "fast"],
                                                conversation_id=old.conversation_id, prompt_message_id=prompt_id))
    # Both compare calls saw only the prompt, not the answer it already had.
    assert [[m["role"] for m in r["messages"]] for r in stub.requests[-2:]] == [["user"], ["user"]]
    comparison = events[-1].comparison
    session.compare.continue_with(comparison, 0)
    statuses = {m.id: m.status for m in session.store.messages(old.conversation_id)}
    assert statuses[old.message_id] == "compared"
    assert statuses[comparison.columns[0].message_id] == "complete"
    assert statuses[comparison.columns[1].message_id] == "compared"


async def test_feedback_marks_a_reply_with_its_model_and_route(session):
    async for event in session.chat.send("rate me", model="fast"):
        if isinstance(event, ReplyDone):
            reply = event.reply
    session.store.record_feedback(reply.message_id, good=False)
    session.store.record_feedback(reply.message_id, good=True)
    row = session.store.feedback(reply.message_id)
    assert (row["model_alias"], row["route"], row["good"], row["conversation_id"]) == (
        "fast", "manual", 1, reply.conversation_id)


@pytest.mark.parametrize("models, message", [
    (["fast"], "compare needs 2 to 6 models, got 1"),
    (["fast", "fast"], "fast is given twice"),
    (["fast", "nope"], "unknown model 'nope' (not in profile 'compare-test')"),
])
def test_bad_model_lists_are_refused_before_anything_is_saved(session, models, message):
    with pytest.raises(CompareError, match=message.replace("(", r"\(").replace(")", r"\)")):
        session.compare.check(models)


async def test_one_model_twice_as_variants_sends_each_its_own_settings(session, stub):
    models = ["fast", "fast@temperature=1.2,max_tokens=7,system=Answer in French."]
    events = await _collect(session.compare.run("hello there", models))
    comparison = events[-1].comparison
    assert comparison.models == ("fast", "fast@temperature=1.2,max_tokens=7,system=Answer in French.")
    sent = sorted(stub.requests, key=lambda r: "temperature" in r)
    assert "temperature" not in sent[0] and "max_tokens" not in sent[0]
    assert sent[0]["messages"][0]["role"] == "user"
    assert (sent[1]["temperature"], sent[1]["max_tokens"]) == (1.2, 7)
    assert sent[1]["messages"][0] == {"role": "system", "content": "Answer in French."}
    assert all(c.attempt.ok and c.attempt.model_alias == "fast" for c in comparison.columns)
    assert "temperature=1.2" in comparison.columns[1].attempt.reason
    vote = session.compare.vote(comparison, Outcome.WIN, 1)
    assert vote.winner_model_alias == models[1] and vote.models == tuple(models)


@pytest.mark.parametrize(("models", "says"), [
    (["fast", "fast@temperature=1", "fast@temperature=1"],
     r"fast@temperature=1 is given twice: .* e\.g\. fast@temperature=1\.2$"),
    (["fast", "fast@temperature=9"], "temperature must be a number"),
    (["fast", "nope@temperature=1"], "unknown model 'nope'"),
])
def test_a_bad_variant_is_refused_before_anything_is_saved(session, models, says):
    with pytest.raises(CompareError, match=says):
        session.compare.check(models)


async def test_variants_of_one_local_server_model_take_turns_and_report_their_wait_apart(session, stub):
    # The test server is on loopback: one local model, whose columns must not share its cores.
    events = await _collect(session.compare.run("hello there", ["slow", "slow@temperature=1", "fast"]))
    first, second, other = events[-1].comparison.columns
    assert all(c.attempt.ok for c in (first, second, other)) and first.waited_s == 0 == other.waited_s
    assert second.attempt.started_at >= first.attempt.started_at + first.attempt.latency_s - 0.05
    assert second.waited_s >= first.attempt.latency_s * 0.9
    assert second.attempt.ttft_s < first.attempt.latency_s  # its own TTFT, without the wait
    assert any(isinstance(e, ColumnWaiting) and (e.column, e.behind) == (1, 0) for e in events)
    assert [e.waited_s for e in events if isinstance(e, ColumnEnded) and e.column == 1] == [second.waited_s]
    # Another model on the same server does not queue.
    assert other.attempt.started_at < first.attempt.started_at + first.attempt.latency_s
