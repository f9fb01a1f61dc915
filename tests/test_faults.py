"""Provider faults over real HTTP: each is classified, recorded, and answered by the fallback model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from playground.history.store import Store
from playground.services.events import ReplyDone, TurnFailed
from playground.services.session import open_session
from tests.support.helpers import guarded_env
from tests.support.openai_server import Behaviour, OpenAIStubServer

PLANTED = "sk-planted-4f3a9c2b7d1e8f6a5b4c3d2e1f0a9b8c"

FAULTS = {
    "rate_limited_no_retry_after": (Behaviour(status=429), "rate_limited"),
    "http_500": (Behaviour(status=500), "server_error"),
    "http_502": (Behaviour(status=502, body="<html>Bad Gateway</html>", content_type="text/html"), "server_error"),
    "http_503": (Behaviour(status=503), "server_error"),
    "http_401": (Behaviour(status=401), "auth"),
    "http_403": (Behaviour(status=403), "auth"),
    "cut_stream": (Behaviour(text="a b c d e f", cut_after=2), "stream_cut"),
    "malformed_sse": (Behaviour(preamble=["data: {not json"]), "stream_error"),
    "html_200": (Behaviour(body="<html><body>maintenance</body></html>", content_type="text/html"), "bad_response"),
    "empty_completion": (Behaviour(text=""), "empty"),
}


@pytest.fixture(scope="module")
def server():
    # Its own server: scripted once for the module; the shared one is reset (cleared) before each test.
    with OpenAIStubServer() as stub:
        for name, (behaviour, _) in FAULTS.items():
            stub.script(name, behaviour)
        stub.script("comments", preamble=[": OPENROUTER PROCESSING", ": keep-alive"], text="fine despite comments")
        stub.script("backup", text="the fallback answered")
        yield stub


def session_for(tmp_path, server, first: str, api_base: str | None = None):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: faults
        models:
          first: {{model: "openai/{first}", api_base: "{api_base or server.api_base}"}}
          backup: {{model: openai/backup, api_base: "{server.api_base}"}}
        tiers: {{main: [first]}}
        routes: [{{name: all, tier: main}}]
        fallbacks: [backup]
        retries: {{rate_limited: 0, server_error: 0, connection: 0}}
        timeouts: {{first_token: 5, idle: 5, total: 15}}
        """))
    return open_session(str(path), tmp_path / "h.db")


async def run_turn(session):
    async for event in session.chat.send("hello there"):
        if isinstance(event, (ReplyDone, TurnFailed)):
            return event


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_fault_is_classified_recorded_and_survived(tmp_path, server, fault):
    session = session_for(tmp_path, server, fault)
    done = await run_turn(session)
    expected = FAULTS[fault][1]
    assert isinstance(done, ReplyDone) and done.reply.status == "complete"
    assert done.reply.text == "the fallback answered"
    failed, _answered = done.reply.attempts
    assert failed.failure == expected and failed.error and "\n" not in failed.error
    rows = session.store.attempts(done.reply.conversation_id)
    assert [(r["model_alias"], r["failure"]) for r in rows] == [("first", expected), ("backup", None)]
    if fault == "cut_stream":
        assert rows[0]["output"] == "a b " and failed.tokens_estimated  # partial kept, usage not trusted
    messages = session.store.messages(done.reply.conversation_id)
    assert [(m.role, m.status) for m in messages] == [("user", "complete"), ("assistant", "complete")]


async def test_connection_refused(tmp_path, server):
    session = session_for(tmp_path, server, "any", api_base="http://127.0.0.1:9/v1")
    done = await run_turn(session)
    assert done.reply.attempts[0].failure == "connection" and done.reply.text == "the fallback answered"


async def test_sse_comment_lines_are_not_failures(tmp_path, server):
    done = await run_turn(session_for(tmp_path, server, "comments"))
    assert [a.failure for a in done.reply.attempts] == [None]
    assert done.reply.text == "fine despite comments"


async def test_unknown_provider_is_a_clear_failure(tmp_path, server):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nmodels:\n  odd: {model: nosuchprovider/model}\n  backup: {model: openai/backup, "
                    f"api_base: '{server.api_base}'}}\ntiers: {{t: [odd]}}\nroutes: [{{name: r, tier: t}}]\n"
                    "fallbacks: [backup]\n")
    done = await run_turn(open_session(str(path), tmp_path / "h.db"))
    first = done.reply.attempts[0]
    assert first.failure == "bad_request" and "nosuchprovider" in first.error and "\n" not in first.error


async def test_a_prompt_larger_than_every_window_is_refused_but_kept(tmp_path):
    session = open_session("local-only", tmp_path / "h.db")
    done = await run_turn_with(session, "word " * 9000)
    assert isinstance(done, TurnFailed)
    assert "does not fit" in done.message and "8,192 window" in done.message
    assert session.store.messages(done.conversation_id)[0].content.startswith("word word")


async def run_turn_with(session, prompt):
    async for event in session.chat.send(prompt):
        if isinstance(event, (ReplyDone, TurnFailed)):
            return event


def test_planted_key_never_reaches_store_output_or_exports(tmp_path):
    with OpenAIStubServer() as stub:
        stub.script("leaky", status=401, body='{"error": {"message": "bad key {auth} for you"}}',
                    content_type="application/json")
        stub.script("backup", text="ok")
        profile = tmp_path / "p.yaml"
        profile.write_text(textwrap.dedent(f"""\
            name: secrets
            models:
              leaky: {{model: openai/leaky, api_base: "{stub.api_base}", key_env: PLANTED_KEY}}
              backup: {{model: openai/backup, api_base: "{stub.api_base}"}}
            tiers: {{t: [leaky]}}
            routes: [{{name: r, tier: t}}]
            fallbacks: [backup]
            """))
        env = {**os.environ, "PLANTED_KEY": PLANTED, "PLAYGROUND_HOME": str(tmp_path / "home")}
        ask = subprocess.run([sys.executable, "-m", "playground", "ask", "hi", "--profile", str(profile), "--json"],
                             capture_output=True, text=True, timeout=60, env=env)
        export = subprocess.run([sys.executable, "-m", "playground", "export", str(profile)],
                                capture_output=True, text=True, timeout=60, env=env)
    assert stub.requests[0]["model"] == "leaky"  # the key was really sent, and echoed back
    assert ask.returncode == 0, ask.stderr
    result = json.loads(ask.stdout)
    assert result["attempts"][0]["failure"] == "auth" and "[redacted]" in result["attempts"][0]["error"]
    db = tmp_path / "home" / "history.db"
    assert (db.stat().st_mode & 0o777) == 0o600
    for blob in (ask.stdout, ask.stderr, export.stdout, export.stderr, db.read_bytes().decode("latin-1")):
        assert PLANTED not in blob and PLANTED[3:20] not in blob
    assert "os.environ/PLANTED_KEY" in export.stdout


def test_corrupt_history_file_is_reported_and_left_untouched(tmp_path):
    db = tmp_path / "history.db"
    db.write_bytes(b"this is not a database" * 100)
    before = db.read_bytes()
    result = subprocess.run([sys.executable, "-m", "playground", "ask", "hi", "--db", str(db)],
                            capture_output=True, text=True, timeout=60, env=guarded_env(PLAYGROUND_HOME=str(tmp_path)))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "not a usable history database" in result.stderr and "Traceback" not in result.stderr
    assert db.read_bytes() == before


def test_unwritable_data_directory_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = subprocess.run([sys.executable, "-m", "playground", "ask", "hi"], capture_output=True, text=True,
                            timeout=60, env=guarded_env(PLAYGROUND_HOME=str(blocker / "data")))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "cannot create the history database" in result.stderr


def test_empty_prompt_is_refused_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "playground", "ask", "   "], capture_output=True, text=True,
                            timeout=60, env=guarded_env(PLAYGROUND_HOME=str(tmp_path)))
    assert result.returncode == 2 and result.stderr == "playground: error: the prompt is empty\n"
    assert not (tmp_path / "history.db").exists() or Store(tmp_path / "history.db").latest_conversation() is None
