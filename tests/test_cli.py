"""`python -m playground ask` as a real subprocess: JSON output, history, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.helpers import guarded_env

from playground.history.store import Store

PROMPT = "Supercalifragilisticexpialidocious antidisestablishmentarianism"


def playground(*args: str, home, netlog, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "playground", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, env=guarded_env(netlog, PLAYGROUND_HOME=str(home), **env))


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def netlog(tmp_path):
    """Hosts the child tried to reach outside loopback; must stay empty."""
    path = tmp_path / "net.log"
    yield path
    assert not path.exists(), f"the child process tried to reach: {path.read_text().split()}"


def test_ask_json_answers_and_records_the_turn(server, home, netlog):
    server.script("ok", text="four, of course")
    result = playground("ask", PROMPT, "--json", "--model", "openai/ok", "--api-base", server.api_base,
                        home=home, netlog=netlog)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = json.loads(result.stdout)
    assert out["status"] == "complete" and out["text"] == "four, of course"
    assert out["model"] == f"openai/ok@{server.api_base}"
    assert out["cost_usd"] == 0 and out["conversation_cost_usd"] == 0 and out["day_cost_usd"] == 0
    (attempt,) = out["attempts"]
    assert attempt["failure"] is None and attempt["text"] is None  # the text is given once, at the top
    assert attempt["input_tokens"] == len(PROMPT.split()) + 7 and not attempt["tokens_estimated"]
    assert attempt["output_tokens"] == 3 and attempt["finish_reason"] == "stop"
    assert attempt["route"] == "manual"
    assert server.hits == {"ok": 1}

    store = Store(home / "history.db")
    try:
        assert store.latest_conversation() == out["conversation_id"]
        messages = store.messages(out["conversation_id"])
        assert [(m.role, m.content, m.status) for m in messages] == [
            ("user", PROMPT, "complete"), ("assistant", "four, of course", "complete")]
        assert messages[1].id == out["message_id"]
        assert [r["model"] for r in store.attempts(out["conversation_id"])] == ["openai/ok"]
    finally:
        store.close()


def test_ask_text_streams_and_continues_a_conversation(server, home, netlog):
    store = Store(home / "history.db")
    conversation, _ = store.start_turn(None, "question one", "default")
    store.save_reply(store.start_reply(conversation), "first answer", "complete", "ok")
    store.save_reply(store.start_reply(conversation), "a cancelled half", "cancelled", "ok")
    store.close()
    server.script("ok", text="second answer")
    result = playground("ask", "-", "--model", "ok", "--api-base", server.api_base, "--conversation", conversation,
                        home=home, netlog=netlog, stdin="question two")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "second answer\n"
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"conversation {conversation} · ")
    assert server.requests[-1]["model"] == "ok"  # a bare name with --api-base speaks OpenAI
    assert server.requests[-1]["messages"] == [
        {"role": "user", "content": "question one"}, {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "question two"}]


def test_ask_exits_1_when_the_model_fails(server, home, netlog):
    server.script("broken", status=503)
    result = playground("ask", "hi", "--json", "--model", "broken", "--api-base", server.api_base,
                        home=home, netlog=netlog)
    assert result.returncode == 1
    out = json.loads(result.stdout)
    assert out["status"] == "failed" and out["text"] == ""
    # --model skips routing and fallbacks, not the default profile's one retry of a server error.
    assert [(a["hop"], a["failure"]) for a in out["attempts"]] == [(0, "server_error"), (1, "server_error")]
    assert server.hits["broken"] == 2
    assert result.stderr == ""


@pytest.mark.parametrize("args, stdin", [(["ask", ""], None), (["ask", "  \n\t "], None), (["ask", "-"], "")],
                         ids=["empty", "blank", "empty-stdin"])
def test_empty_prompt_is_a_one_line_error(home, netlog, args, stdin):
    result = playground(*args, home=home, netlog=netlog, stdin=stdin)
    assert result.returncode == 2
    assert result.stderr == "playground: error: the prompt is empty\n"
    assert result.stdout == ""
    assert not (home / "history.db").exists()  # refused before anything was opened


def test_bad_profiles_are_one_line_errors(tmp_path, home, netlog):
    missing = tmp_path / "nope.yaml"
    result = playground("ask", "hi", "--profile", str(missing), home=home, netlog=netlog)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"playground: error: {missing}: no such file\n"

    broken = tmp_path / "broken.yaml"
    broken.write_text("name: b\nmodels:\n  a: {model: openai/a}\ntiers:\n  main: [a, ghost]\n"
                      "routes:\n  - {name: all, tier: main}\n")
    result = playground("ask", "hi", "--profile", str(broken), home=home, netlog=netlog)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == f"playground: error: {broken}:5:13: tiers.main.1: unknown model 'ghost' (models: a)\n"


def test_api_base_without_model_is_refused(server, home, netlog):
    result = playground("ask", "hi", "--api-base", server.api_base, home=home, netlog=netlog)
    assert result.returncode == 2
    assert result.stderr == "playground: error: --api-base needs --model (the model name that server serves)\n"
    assert server.hits == {}
