"""A call killed with its process (SIGKILL, a real subprocess) leaves an attempt row, finished as
'interrupted' on the next start with what is known."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from playground.history.store import Store
from playground.services.session import open_session
from tests.support.helpers import write_profile


def _kill_while(server_api_base: str, db, model: str, until) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "playground", "ask", "tell me a long story", "--db", str(db), "--model", model,
         "--api-base", server_api_base],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 60
        while not until(process) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


@pytest.mark.parametrize("phase", ["before the first byte", "mid-stream"])
def test_a_killed_call_leaves_an_attempt_finished_on_the_next_start(server, tmp_path, phase):
    db = tmp_path / "h.db"
    if phase == "mid-stream":
        server.script("slow", text=" ".join(f"word{i}" for i in range(400)), chunk_delay=0.02)
        seen = bytearray()

        def until(process) -> bool:
            seen.extend(os.read(process.stdout.fileno(), 4096))
            return b"word60 " in seen
    else:
        server.script("slow", hang=True)

        def until(process) -> bool:
            return server.hits["slow"] > 0
    _kill_while(server.api_base, db, "slow", until)
    store = Store(db)
    try:
        conversation = store.latest_conversation()
        [row] = store.attempts(conversation)
        assert row["failure"] == "interrupted" and row["model"] == "openai/slow"
        reply = store.messages(conversation)[1]
        assert reply.status == "streaming" and reply.model_alias is not None  # credited from the start
        # Later: a new process closes what the dead one left open.
        store.db.execute("UPDATE messages SET updated_at = '2000-01-01T00:00:00.000+00:00' WHERE id = ?",
                         (reply.id,))
        store.db.conn.commit()
    finally:
        store.close()
    profile = write_profile(tmp_path, "http://127.0.0.1:9/v1", ["unused"])
    session = open_session(str(profile), db)
    try:
        reply = session.store.messages(conversation)[1]
        [row] = session.store.attempts(conversation)
        assert reply.status == "interrupted" and row["failure"] == "interrupted"
        assert row["error"] == "the process ended before the attempt finished"
        assert row["output"] == reply.content
        if phase == "mid-stream":
            assert reply.content.startswith("word0 word1")
    finally:
        session.store.close()


def test_a_live_reply_is_not_closed_by_another_process(tmp_path):
    store = Store(tmp_path / "h.db")
    try:
        conversation, _ = store.start_turn(None, "hi", "p")
        reply = store.start_reply(conversation)
        assert store.finish_interrupted(older_than_s=60) == 0
        assert store.messages(conversation)[1].status == "streaming"
        assert store.finish_interrupted(older_than_s=-1) == 1
        assert store.messages(conversation)[1].status == "interrupted" and reply
    finally:
        store.close()
