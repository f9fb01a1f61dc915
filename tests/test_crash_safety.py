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
