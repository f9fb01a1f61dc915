"""Provider calls over real HTTP (LiteLLM → the loopback stub server): accounting, every failure class,
failover in ChatService, what the store keeps, and cancellation."""

from __future__ import annotations

import asyncio

import pytest

from playground.base import tokens
from playground.base.records import Failure
from playground.config.catalog import build_catalog
from playground.config.profile import Profile, Timeouts, load_profile
from playground.history.store import Store
from playground.providers import engine
from playground.providers.stream import AttemptStream
from playground.services.chat import ChatService
from playground.services.events import AttemptEnded, AttemptStarted, ReplyDone, Routed, TextDelta, TurnStarted
from playground.services.routing_state import RoutingState
from tests.support.helpers import profile_data

# Long words: the stub counts 1 token a word (+7), tiktoken many, so the two counts differ.
PROMPT = "Supercalifragilisticexpialidocious antidisestablishmentarianism floccinaucinihilipilification"
STUB_INPUT_TOKENS = len(PROMPT.split()) + 7
BACKUP_TEXT = "the backup model answered"
PRICE = {"input_per_mtok": 2.0, "output_per_mtok": 8.0}


@pytest.fixture
def chat_for(tmp_path, make_profile):
    """chat_for(["first", "backup"], **profile sections) → a ChatService on the stub server, with a store."""
    stores: list[Store] = []

    def build(models, **sections) -> ChatService:
        profile = load_profile(make_profile(models, **sections))
        store = Store(tmp_path / "h.db")
        stores.append(store)
        return ChatService(RoutingState.new(profile), store)

    yield build
    for store in stores:
        store.close()


async def turn(chat: ChatService, prompt: str = PROMPT, **kwargs):
    """(events, the ReplyDone event) of one turn."""
    events = [event async for event in chat.send(prompt, **kwargs)]
    done = events[-1]
    assert isinstance(done, ReplyDone), events
    return events, done


def deltas(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# One attempt, directly ------------------------------------------------------------------------------

async def stream_once(server, name: str, timeouts: Timeouts | None = None, **spec):
    """One AttemptStream against the stub's `name` behaviour; (attempt, pieces, messages)."""
    profile = Profile.model_validate(profile_data(server.api_base, {name: {"price": PRICE, **spec}}))
    info = build_catalog(profile, env={})[name]
    messages = [{"role": "user", "content": PROMPT}]
    stream = AttemptStream(info, messages, route="all", reason="test", hop=0,
                           timeouts=timeouts or Timeouts(first_token=5, idle=5, total=20), secrets=[])
    pieces = [piece async for piece in stream]
    return stream.attempt, pieces, messages


async def test_streamed_reply_uses_the_providers_usage(server):
    server.script("ok", text="one two three four")
    attempt, pieces, messages = await stream_once(server, "ok")
    assert pieces == ["one ", "two ", "three ", "four"]
    assert attempt.ok and attempt.text == "one two three four" and attempt.finish_reason == "stop"
    assert not attempt.tokens_estimated
    assert attempt.input_tokens == STUB_INPUT_TOKENS != tokens.count_messages(messages)
    assert attempt.output_tokens == 4
    assert attempt.cost_usd == pytest.approx((STUB_INPUT_TOKENS * 2.0 + 4 * 8.0) / 1e6)
    assert attempt.price_source == "profile"
    assert 0 < attempt.ttft_s <= attempt.latency_s
    assert server.hits["ok"] == 1
    request = server.requests[0]
    assert request["stream"] is True and request["messages"] == messages
    assert request["stream_options"] == {"include_usage": True}


async def test_the_attempt_ends_at_the_providers_last_byte_without_litellms_assembly(server, monkeypatch):
    """With include_usage LiteLLM assembles the whole reply after the provider's last byte before it yields
    the usage (and once more to log it): the attempt reads the provider's usage and the end of the body
    itself, and waits for no assembly."""
    litellm = engine.load()  # its warm-up assembles a stream of its own
    assembled = []
    assemble = litellm.stream_chunk_builder

    def counted(*args, **kwargs):
        assembled.append(kwargs.get("chunks"))
        return assemble(*args, **kwargs)

    monkeypatch.setattr(litellm, "stream_chunk_builder", counted)
    server.script("ok", text=" ".join(f"w{i}" for i in range(50)))
    attempt, pieces, _ = await stream_once(server, "ok")
    assert len(pieces) == 50 and attempt.ok and attempt.finish_reason == "stop"
    assert not attempt.tokens_estimated and attempt.output_tokens == 50
    assert assembled == []


async def test_a_stream_does_not_start_a_task_per_chunk(server):
    """LiteLLM reads the OpenAI client's stream with a new `async for` for each chunk, and each left behind a
    suspended generator that asyncio closed with a task of its own: one task per chunk."""
    loop = asyncio.get_running_loop()
    made = []

    def counted(loop, coro, **kwargs):
        made.append(getattr(coro, "__qualname__", repr(coro)))
        return asyncio.Task(coro, loop=loop, **kwargs)

    server.script("many", text=" ".join(f"w{i}" for i in range(100)))
    loop.set_task_factory(counted)
    try:
        attempt, pieces, _ = await stream_once(server, "many")
    finally:
        loop.set_task_factory(None)
    assert attempt.ok and len(pieces) == 100
    assert len(made) < 20, made[:5]


async def test_usage_sent_well_after_the_finish_reason_is_waited_for_and_timed(server):
    server.script("late", text="one two three", tail_delay=0.3)
    attempt, pieces, _ = await stream_once(server, "late")
    assert pieces == ["one ", "two ", "three"] and attempt.ok and attempt.finish_reason == "stop"
    assert not attempt.tokens_estimated and attempt.output_tokens == 3
    # The latency ends with the provider's last byte, not with the finish reason.
    assert attempt.latency_s >= 0.3


async def test_without_usage_tokens_are_counted_and_marked_estimated(server):
    server.script("quiet", text="one two three four", send_usage=False)
    attempt, _, messages = await stream_once(server, "quiet")
    assert attempt.ok and attempt.tokens_estimated
    assert attempt.input_tokens == tokens.count_messages(messages) != STUB_INPUT_TOKENS
    assert attempt.output_tokens == tokens.count_text("one two three four")
    assert attempt.cost_usd == pytest.approx((attempt.input_tokens * 2.0 + attempt.output_tokens * 8.0) / 1e6)


async def test_rate_limit_is_one_request_with_its_retry_after(server):
    server.script("limited", status=429, headers={"Retry-After": "3"})
    attempt, pieces, _ = await stream_once(server, "limited")
    assert pieces == [] and attempt.failure is Failure.RATE_LIMITED
    assert attempt.retry_after_s == 3.0
    assert attempt.error.startswith("HTTP 429: ") and "scripted 429" in attempt.error
    assert attempt.cost_usd == 0.0 and attempt.input_tokens is None  # refused calls are not billed
    assert server.hits["limited"] == 1  # neither LiteLLM nor the OpenAI client retried behind our back


# Failover in ChatService -------------------------------------------------------------------------------

FAULTS = {
    # name: (behaviour, extra profile sections, failure, partial text the failed attempt keeps)
    "rate_limited": (dict(status=429, headers={"Retry-After": "3"}), {}, Failure.RATE_LIMITED, ""),
    "server_error": (dict(status=500), {}, Failure.SERVER_ERROR, ""),
    "bad_gateway_html": (dict(status=502, body="<html><h1>502</h1></html>", content_type="text/html"), {},
                         Failure.SERVER_ERROR, ""),
    "stream_cut": (dict(text="alpha beta gamma delta", cut_after=2), {}, Failure.STREAM_CUT, "alpha beta "),
    "html_200": (dict(body="<html><body>Down for maintenance</body></html>", content_type="text/html"), {},
                 Failure.BAD_RESPONSE, ""),
    "empty": (dict(text=""), {}, Failure.EMPTY, ""),
    "malformed_sse": (dict(preamble=["data: {this is not json"]), {}, Failure.STREAM_ERROR, ""),
    "in_band_error": (dict(preamble=['data: {"error": {"message": "overloaded", "code": 503}}']), {},
                      Failure.STREAM_ERROR, ""),
    "silent": (dict(hang=True), {"timeouts": {"first_token": 0.5}}, Failure.TIMEOUT, ""),
    "slow_headers": (dict(first_chunk_delay=1.5), {"timeouts": {"first_token": 0.5}}, Failure.TIMEOUT, ""),
    "stalls": (dict(text="tick tock late", chunk_delay=1.0), {"timeouts": {"idle": 0.4}}, Failure.TIMEOUT,
               "tick "),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_each_failure_falls_back_and_every_attempt_is_stored(server, chat_for, fault):
    behaviour, sections, failure, partial = FAULTS[fault]
    server.script(fault, **behaviour)
    server.script("backup", text=BACKUP_TEXT)
    chat = chat_for({fault: {"price": PRICE}, "backup": {"price": PRICE}}, **sections)
    events, done = await turn(chat)
    reply = done.reply

    assert reply.status == "complete" and reply.text == BACKUP_TEXT
    assert deltas(events) == partial + BACKUP_TEXT  # the user saw the partial text, then the answer
    failed, answered = reply.attempts
    assert (failed.model_alias, failed.failure, failed.text) == (fault, failure, partial)
    assert failed.error and "\n" not in failed.error
    assert (answered.model_alias, answered.failure, answered.hop) == ("backup", None, 1)
    assert dict(server.hits) == {fault: 1, "backup": 1}

    started = [e for e in events if isinstance(e, AttemptStarted)]
    assert [(s.model_alias, s.hop) for s in started] == [(fault, 0), ("backup", 1)]
    assert started[1].reason == f"failover after {fault} failed ({failure})"
    assert [e.attempt.failure for e in events if isinstance(e, AttemptEnded)] == [failure, None]

    rows = chat.store.attempts(reply.conversation_id)
    assert [(r["model_alias"], r["hop"], r["failure"], r["output"]) for r in rows] == [
        (fault, 0, failure.value, partial), ("backup", 1, None, BACKUP_TEXT)]
    assert rows[0]["error"] == failed.error
    assert rows[0]["decision"] is not None and rows[1]["decision"] is None
    messages = chat.store.messages(reply.conversation_id)
    assert [(m.role, m.content, m.status, m.model_alias) for m in messages] == [
        ("user", PROMPT, "complete", None), ("assistant", BACKUP_TEXT, "complete", "backup")]
    # The answer's tokens are the provider's; the turn's cost is every attempt's.
    assert answered.input_tokens == STUB_INPUT_TOKENS and not answered.tokens_estimated
    assert done.conversation_cost.usd == pytest.approx(reply.cost_usd)
    if failure is Failure.TIMEOUT:
        limit = sections["timeouts"].get("first_token") or sections["timeouts"]["idle"]
        assert limit * 0.8 < failed.latency_s < limit + (1.5 if partial else 1.0)


async def test_sse_comment_lines_are_ignored(server, chat_for):
    server.script("chatty", preamble=[": OPENROUTER PROCESSING", ": keep-alive"], text="fine thanks")
    _, done = await turn(chat_for(["chatty"]))
    assert done.reply.status == "complete" and done.reply.text == "fine thanks"
    assert [a.failure for a in done.reply.attempts] == [None]


async def test_malformed_sse_is_not_reported_as_an_http_500(server):
    server.script("garbled", preamble=["data: {this is not json"])
    attempt, _, _ = await stream_once(server, "garbled")
    assert attempt.failure is Failure.STREAM_ERROR  # as test_faults pins it
    assert not attempt.error.startswith("HTTP 500")


async def test_auth_errors_are_redacted_everywhere(server, chat_for, monkeypatch, tmp_path):
    shaped, plain = "sk-test-SECRET123456", "plain-planted-credential-93xk"
    monkeypatch.setenv("STUB_KEY_A", shaped)
    monkeypatch.setenv("STUB_KEY_B", plain)
    server.script("denied_a", status=401, content_type="application/json",
                  body=f'{{"error": {{"message": "Incorrect API key provided: {shaped}. Get one at ..."}}}}')
    server.script("denied_b", status=403, content_type="application/json",
                  body=f'{{"error": {{"message": "key {plain} may not use this model"}}}}')
    server.script("backup", text=BACKUP_TEXT)
    chat = chat_for({"denied_a": {"key_env": "STUB_KEY_A"}, "denied_b": {"key_env": "STUB_KEY_B"}, "backup": {}},
                    retries={"server_error": 3, "rate_limited": 3})
    events, done = await turn(chat)
    first, second, answered = done.reply.attempts
    assert (first.failure, second.failure, answered.failure) == (Failure.AUTH, Failure.AUTH, None)
    assert dict(server.hits) == {"denied_a": 1, "denied_b": 1, "backup": 1}  # auth errors are never retried
    assert first.error.startswith("HTTP 401: ") and "Incorrect API key provided: [redacted]." in first.error
    assert second.error.startswith("HTTP 403: ") and "key [redacted] may not use this model" in second.error
    chat.store.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("h.db"))
    shown = repr(events).encode() + on_disk
    for secret in (shaped, plain):
        assert secret.encode() not in shown
    assert b"SECRET123456" not in shown


async def test_when_every_model_fails_the_longest_partial_is_kept(server, chat_for):
    server.script("short", text="a b c d", cut_after=1)
    server.script("long", text="one two three four five", cut_after=3)
    server.script("dead", status=500)
    chat = chat_for(["short", "long", "dead"])
    _events, done = await turn(chat)
    reply = done.reply
    assert reply.status == "failed" and reply.text == "one two three "
    assert [(a.model_alias, a.failure) for a in reply.attempts] == [
        ("short", Failure.STREAM_CUT), ("long", Failure.STREAM_CUT), ("dead", Failure.SERVER_ERROR)]
    rows = chat.store.attempts(reply.conversation_id)
    assert [(r["model_alias"], r["failure"], r["output"]) for r in rows] == [
        ("short", "stream_cut", "a "), ("long", "stream_cut", "one two three "), ("dead", "server_error", "")]
    stored = chat.store.messages(reply.conversation_id)[1]
    assert (stored.content, stored.status) == ("one two three ", "failed")
    # A failed reply is not context for the next turn.
    server.script("short", text="recovered")
    await turn(chat, "again", conversation_id=reply.conversation_id)
    assert server.requests[-1]["messages"] == [{"role": "user", "content": PROMPT},
                                               {"role": "user", "content": "again"}]


async def test_a_failed_reply_names_the_model_whose_text_it_keeps(server, chat_for):
    server.script("long", text="one two three four five", cut_after=3)
    server.script("dead", status=500)
    chat = chat_for(["long", "dead"])
    _, done = await turn(chat)
    stored = chat.store.messages(done.reply.conversation_id)[1]
    assert (stored.content, stored.status) == ("one two three ", "failed")
    assert stored.model_alias == "long"


async def test_history_is_sent_on_the_next_turn(server, chat_for):
    server.script("ok", text="first answer")
    chat = chat_for(["ok"])
    _, done = await turn(chat, "first question")
    _, second = await turn(chat, "second question", conversation_id=done.reply.conversation_id)
    assert second.reply.conversation_id == done.reply.conversation_id
    assert server.requests[-1]["messages"] == [
        {"role": "user", "content": "first question"}, {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"}]
    assert second.reply.final.input_tokens == 6 + 7  # the stub counts every message's words
    # No price known for openai/ok: nothing is made up, and it never becomes $0.
    assert second.conversation_cost.usd is None and second.conversation_cost.unknown == 2


# Cancellation ---------------------------------------------------------------------------------------------

SLOW_TEXT = " ".join(f"w{i}" for i in range(60))


async def test_cancelling_mid_stream_keeps_the_partial_reply(server, chat_for):
    server.script("slow", text=SLOW_TEXT, chunk_delay=0.05)
    chat = chat_for(["slow"])
    seen: list = []
    three = asyncio.Event()

    async def consume():
        async for event in chat.send(PROMPT):
            seen.append(event)
            if sum(isinstance(e, TextDelta) for e in seen) == 3:
                three.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(three.wait(), timeout=15)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    partial = deltas(seen)
    # Usually exactly three pieces; a loaded machine may deliver one already buffered before the cancel lands.
    assert partial.startswith("w0 w1 w2 ") and len(partial) < len(SLOW_TEXT)
    assert not any(isinstance(e, ReplyDone) for e in seen)
    conversation = next(e for e in seen if isinstance(e, TurnStarted)).conversation_id
    messages = chat.store.messages(conversation)
    assert [(m.role, m.content, m.status) for m in messages] == [
        ("user", PROMPT, "complete"), ("assistant", partial, "cancelled")]
    assert messages[1].model_alias == "slow"
    rows = chat.store.attempts(conversation)
    assert len(rows) == 1
    row = rows[0]
    assert (row["model_alias"], row["failure"], row["output"], row["error"]) == (
        "slow", "cancelled", partial, "cancelled by the user")
    assert row["tokens_estimated"] == 1 and row["decision"] is not None
    assert server.hits["slow"] == 1
    # Cancelling is not the model's fault, and a cancelled reply is not context for the next turn.
    assert "slow" not in chat.state.health.snapshot()
    server.script("slow", text="a full answer")
    _, done = await turn(chat, "try again", conversation_id=conversation)
    assert done.reply.text == "a full answer"
    assert server.requests[-1]["messages"] == [{"role": "user", "content": PROMPT},
                                               {"role": "user", "content": "try again"}]


async def test_closing_the_event_stream_early_finalises_the_reply(server, chat_for):
    server.script("slow", text=SLOW_TEXT, chunk_delay=0.05)
    chat = chat_for(["slow"])
    events = chat.send(PROMPT)
    conversation, pieces = None, 0
    async for event in events:
        if isinstance(event, TurnStarted):
            conversation = event.conversation_id
        elif isinstance(event, TextDelta):
            pieces += 1
            if pieces == 3:
                break
    await events.aclose()
    assert [m.status for m in chat.store.messages(conversation)] == ["complete", "cancelled"]
    assert [r["failure"] for r in chat.store.attempts(conversation)] == ["cancelled"]


async def test_routing_event_comes_before_any_call(server, chat_for):
    server.script("ok", text="hi")
    events, _ = await turn(chat_for(["ok"]))
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["TurnStarted", "Routed", "AttemptStarted"] and kinds[-2:] == ["AttemptEnded", "ReplyDone"]
    routed = next(e for e in events if isinstance(e, Routed))
    assert routed.decision.model == "ok" and routed.decision.prompt_tokens == tokens.count_text(PROMPT)
