"""Retries, backoff, cooldown and the fallback chain, over real HTTP against the local test server."""

from __future__ import annotations

import textwrap

import pytest

from playground.services.events import AttemptStarted, ReplyDone
from playground.services.session import open_session


@pytest.fixture
def stub(server):
    return server


def session_for(tmp_path, api_base: str, chain: list[str], retries: str = "", cooldown: str = ""):
    models = "\n".join(f"  {m}: {{model: openai/{m}, api_base: '{api_base}'}}" for m in chain)
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent("""\
        name: failover
        models:
        {models}
        tiers: {{main: [{first}]}}
        routes: [{{name: all, tier: main}}]
        fallbacks: [{rest}]
        timeouts: {{first_token: 30, idle: 30, total: 60}}  # see PATIENT_TIMEOUTS in tests.support.helpers
        {retries}
        {cooldown}
        """).format(models=models, first=chain[0], rest=", ".join(chain[1:]), retries=retries, cooldown=cooldown))
    return open_session(str(path), tmp_path / "h.db")


def with_timeouts(session, **limits) -> None:
    timeouts = session.profile.timeouts.model_copy(update=limits)
    session.apply_profile(session.profile.model_copy(update={"timeouts": timeouts}))


async def turn(session, prompt="hi", sleeps=None):
    async def record_sleep(seconds):
        sleeps.append(seconds)

    if sleeps is not None:
        session.chat._sleep = record_sleep
    starts, reply = [], None
    async for event in session.chat.send(prompt):
        if isinstance(event, AttemptStarted):
            starts.append((event.model_alias, event.reason))
        elif isinstance(event, ReplyDone):
            reply = event.reply
    return starts, reply


async def test_server_errors_are_retried_with_exponential_backoff_then_fall_back(tmp_path, stub):
    stub.script("flaky", status=503)
    stub.script("backup", text="fine")
    session = session_for(tmp_path, stub.api_base, ["flaky", "backup"],
                          retries="retries: {server_error: 2, backoff_s: 0.25}")
    sleeps: list[float] = []
    starts, reply = await turn(session, sleeps=sleeps)
    assert stub.hits["flaky"] == 3 and stub.hits["backup"] == 1
    assert sleeps == [0.25, 0.5]
    assert [s[1].split(" (")[0] for s in starts[1:]] == ["retry 1 after server_error", "retry 2 after server_error",
                                                         "failover after flaky failed"]
    assert reply.status == "complete" and reply.text == "fine"
    rows = session.store.attempts(reply.conversation_id)
    assert [(r["model_alias"], r["hop"], r["failure"]) for r in rows] == [
        ("flaky", 0, "server_error"), ("flaky", 1, "server_error"), ("flaky", 2, "server_error"), ("backup", 3, None)]
    assert rows[0]["decision"] and all(r["decision"] is None for r in rows[1:])


async def test_retry_after_is_honoured_and_the_model_cools_down(tmp_path, stub):
    stub.script("limited", status=429, headers={"Retry-After": "7"})
    stub.script("backup", text="fine")
    session = session_for(tmp_path, stub.api_base, ["limited", "backup"], retries="retries: {rate_limited: 1}")
    sleeps: list[float] = []
    _, reply = await turn(session, sleeps=sleeps)
    assert sleeps == [7.0] and stub.hits["limited"] == 2
    assert reply.final.model_alias == "backup"
    # Next prompt: the rate-limited model is still cooling down, so it is not even tried.
    starts, reply = await turn(session, sleeps=sleeps)
    assert stub.hits["limited"] == 2 and starts[0][0] == "backup"
    assert "fallback (no main model available)" in starts[0][1]


async def test_hostile_retry_after_is_capped(tmp_path, stub):
    stub.script("limited", status=429, headers={"Retry-After": "86400"})
    stub.script("backup", text="fine")
    session = session_for(tmp_path, stub.api_base, ["limited", "backup"], retries="retries: {rate_limited: 1}")
    sleeps: list[float] = []
    await turn(session, sleeps=sleeps)
    assert sleeps == [60.0]


async def test_no_retry_for_auth_errors(tmp_path, stub):
    stub.script("denied", status=401)
    stub.script("backup", text="fine")
    session = session_for(tmp_path, stub.api_base, ["denied", "backup"],
                          retries="retries: {server_error: 3, rate_limited: 3}")
    _, reply = await turn(session, sleeps=[])
    assert stub.hits["denied"] == 1 and reply.final.model_alias == "backup"
    assert reply.attempts[0].failure == "auth"


async def test_every_model_failing_ends_within_the_chain(tmp_path, stub):
    for name in ("a", "b", "c"):
        stub.script(name, status=500)
    session = session_for(tmp_path, stub.api_base, ["a", "b", "c"], retries="retries: {server_error: 1}")
    _, reply = await turn(session, sleeps=[])
    assert reply.status == "failed"
    assert [a.model_alias for a in reply.attempts] == ["a", "a", "b", "b", "c", "c"]
    assert dict(stub.hits) == {"a": 2, "b": 2, "c": 2}


async def test_repeated_failures_take_a_model_out_of_rotation(tmp_path, stub):
    stub.script("sick", cut_after=1, text="half an answer")
    stub.script("backup", text="fine")
    session = session_for(tmp_path, stub.api_base, ["sick", "backup"], retries="retries: {stream_cut: 0}",
                          cooldown="cooldown: {after_failures: 2, seconds: 60}")
    for _ in range(2):
        _, reply = await turn(session, sleeps=[])
        assert reply.attempts[0].failure == "stream_cut" and reply.attempts[0].text == "half "
    starts, _ = await turn(session, sleeps=[])
    assert stub.hits["sick"] == 2 and starts[0][0] == "backup"


async def test_a_server_that_never_answers_times_out_and_falls_back(tmp_path, stub):
    stub.script("silent", hang=True)
    stub.script("backup", text="fine")
    session = session_for(tmp_path, stub.api_base, ["silent", "backup"], retries="retries: {timeout: 0}")
    with_timeouts(session, first_token=0.5)
    _, reply = await turn(session, sleeps=[])
    first = reply.attempts[0]
    assert first.failure == "timeout" and first.error == "no first token within the time limit"
    assert 0.4 < first.latency_s < 2.0
    assert reply.final.model_alias == "backup" and reply.status == "complete"


async def test_a_stream_that_stalls_keeps_its_partial_text(tmp_path, stub):
    stub.script("stalls", text=" ".join(["tick"] * 3 + ["late"]), chunk_delay=1.5)
    stub.script("backup", text="fine")
    session = session_for(tmp_path, stub.api_base, ["stalls", "backup"], retries="retries: {timeout: 0}")
    with_timeouts(session, idle=0.5)
    _, reply = await turn(session, sleeps=[])
    first = reply.attempts[0]
    assert first.failure == "timeout" and first.error == "no next chunk within the time limit"
    assert first.text == "tick " and first.tokens_estimated
    rows = session.store.attempts(reply.conversation_id)
    assert rows[0]["output"] == "tick " and rows[0]["failure"] == "timeout"
    assert reply.text == "fine"
