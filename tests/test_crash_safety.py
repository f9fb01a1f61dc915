"""Killed mid-stream (SIGKILL, a real subprocess): the prompt and the partial reply survive."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from playground.history.store import Store


def test_sigkill_mid_stream_keeps_prompt_and_partial_reply(server, tmp_path):
    db = tmp_path / "h.db"
    server.script("slow", text=" ".join(f"word{i}" for i in range(400)), chunk_delay=0.02)
    process = subprocess.Popen(
        [sys.executable, "-m", "playground", "ask", "tell me a long story", "--db", str(db),
         "--model", "slow", "--api-base", server.api_base],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = b""
    deadline = time.monotonic() + 60
    while b"word60 " not in seen and time.monotonic() < deadline:
        seen += os.read(process.stdout.fileno(), 4096)
    time.sleep(0.7)  # past one flush interval after the text we saw
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert b"word60 " in seen

    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = Store(db)
    conversation = store.latest_conversation()
    messages = store.messages(conversation)
    assert [(m.role, m.content) for m in messages][:1] == [("user", "tell me a long story")]
    reply = messages[1]
    assert reply.role == "assistant" and reply.status == "streaming"  # never marked complete
    assert reply.content.startswith("word0 word1 word2") and "word60" in reply.content
    assert "word399" not in reply.content


async def test_the_reply_streams_while_another_writer_holds_the_database(server, make_profile, tmp_path):
    """History writes never hold up the stream: with the database locked by another connection (another
    process writing), every piece of the reply still arrives on time; the turn ends only once the reply is
    stored, after the lock is released."""
    import asyncio

    from playground.config.profile import load_profile
    from playground.providers import engine
    from playground.services.chat import ChatService
    from playground.services.events import AttemptEnded, ReplyDone, TextDelta, TurnStarted
    from playground.services.routing_state import RoutingState

    server.script("fast", text=" ".join(f"word{i}" for i in range(20)), chunk_delay=0.01)
    store = Store(tmp_path / "h.db")
    chat = ChatService(RoutingState.new(load_profile(make_profile(["fast"]))), store)
    other = sqlite3.connect(tmp_path / "h.db", isolation_level=None, check_same_thread=False)
    held_s = 2.0
    engine.load()  # seconds the first time in a process, which are not what this test is about
    seen: dict[str, float] = {}
    async for event in chat.send("hello"):
        name = type(event).__name__
        seen.setdefault(name, time.monotonic())
        if isinstance(event, TurnStarted):
            other.execute("BEGIN IMMEDIATE")  # before the reply's row is written
            asyncio.get_running_loop().call_later(held_s, other.execute, "COMMIT")
        if isinstance(event, ReplyDone):
            assert event.reply.status == "complete"
    start = seen["TurnStarted"]
    assert seen[TextDelta.__name__] - start < held_s / 2 and seen[AttemptEnded.__name__] - start < held_s
    assert seen[ReplyDone.__name__] - start >= held_s
    [_, reply] = store.messages(store.latest_conversation())
    assert (reply.status, reply.content) == ("complete", " ".join(f"word{i}" for i in range(20)))
    assert [a["failure"] for a in store.attempts(store.latest_conversation())] == [None]
    other.close()
    store.close()
