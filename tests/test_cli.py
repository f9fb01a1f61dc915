"""`python -m playground ask` as a real subprocess: JSON output, history, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from playground.history.store import Store
from tests.support.helpers import guarded_env

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
    # openai/ok has no known price: unknown, never $0.
    assert out["cost_usd"] is None and out["conversation_cost_usd"] is None and out["day_cost_usd"] is None
    assert out["cost_known_usd"] == 0 and out["attempts"][0]["cost_usd"] is None
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


def test_a_piped_prompt_needs_no_argument(server, home, netlog):
    server.script("ok", text="piped answer")
    result = playground("ask", "--model", "ok", "--api-base", server.api_base, home=home, netlog=netlog,
                        stdin="a prompt from a pipe\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "piped answer\n"
    assert server.requests[-1]["messages"][-1] == {"role": "user", "content": "a prompt from a pipe\n"}


def test_system_prompt_and_temperature_are_sent_and_kept_for_the_conversation(server, home, netlog):
    server.script("ok", text="terse")
    first = playground("ask", "hi", "--json", "--model", "ok", "--api-base", server.api_base, "--system",
                       "Answer in one word.", "--temperature", "0.3", home=home, netlog=netlog)
    assert first.returncode == 0, first.stderr
    request = server.requests[-1]
    assert request["messages"][0] == {"role": "system", "content": "Answer in one word."}
    assert request["temperature"] == 0.3
    conversation = json.loads(first.stdout)["conversation_id"]
    # A unique prefix of the id continues it, with its system prompt and temperature.
    again = playground("ask", "and now?", "--model", "ok", "--api-base", server.api_base, "-c", conversation[:8],
                       home=home, netlog=netlog)
    assert again.returncode == 0, again.stderr
    request = server.requests[-1]
    assert [m["role"] for m in request["messages"]] == ["system", "user", "assistant", "user"]
    assert request["temperature"] == 0.3
    assert again.stderr.splitlines()[-1].startswith(f"conversation {conversation} · ")


def test_continue_resumes_the_latest_conversation(server, home, netlog):
    store = Store(home / "history.db")
    older, _ = store.start_turn(None, "older question", "default")
    latest, _ = store.start_turn(None, "latest question", "default")
    store.save_reply(store.start_reply(latest), "latest answer", "complete", "ok")
    store.close()
    server.script("ok", text="continued")
    result = playground("ask", "follow-up", "--continue", "--model", "ok", "--api-base", server.api_base,
                        home=home, netlog=netlog)
    assert result.returncode == 0, result.stderr
    assert [m["content"] for m in server.requests[-1]["messages"]] == [
        "latest question", "latest answer", "follow-up"]
    assert older != latest


def test_an_unknown_conversation_is_a_one_line_error(server, home, netlog):
    store = Store(home / "history.db")
    store.start_turn(None, "something", "default")
    store.close()
    result = playground("ask", "hi", "--model", "ok", "--api-base", server.api_base, "-c", "nope",
                        home=home, netlog=netlog)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "playground: error: -c nope: no such conversation (`playground history` lists them)\n"
    assert server.hits == {}
    store = Store(home / "history.db")
    assert store.conversation_count() == 1  # not silently started afresh
    store.close()


def _to_a_closed_pipe(*args: str, home, netlog, **env) -> subprocess.CompletedProcess:
    """Run with stdout a pipe whose reader has already gone, as in `playground … | head -1`."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "playground", *args], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=60, env=guarded_env(netlog, PLAYGROUND_HOME=str(home), **env))
    finally:
        os.close(write_end)


def test_a_reader_that_goes_away_ends_ask_quietly_and_keeps_the_turn(server, home, netlog):
    server.script("ok", text="a reply that nobody reads to the end", words_per_chunk=1)
    result = _to_a_closed_pipe("ask", "hi", "--model", "ok", "--api-base", server.api_base, home=home, netlog=netlog)
    assert result.returncode == 1
    assert result.stderr == ""
    store = Store(home / "history.db")
    [message] = [m for m in store.messages(store.latest_conversation()) if m.role == "assistant"]
    assert message.status in ("cancelled", "complete")
    store.close()


@pytest.mark.parametrize("rows", [2, 400], ids=["output-in-the-buffer", "output-larger-than-the-buffer"])
@pytest.mark.parametrize("command", [["history", "--limit", "1000"], ["export-history"]], ids=lambda c: c[0])
def test_a_reader_that_goes_away_ends_listings_quietly(home, netlog, command, rows):
    store = Store(home / "history.db")
    for n in range(rows):
        store.start_turn(None, f"question {n} " + "padding " * 10, "default")
    store.close()
    result = _to_a_closed_pipe(*command, home=home, netlog=netlog)
    assert (result.returncode, result.stderr) == (1, "")


def test_an_unknown_profile_name_lists_the_bundled_ones_before_any_screen_opens(tmp_path):
    env = guarded_env()
    env["PLAYGROUND_HOME"] = str(tmp_path)
    for argv in (["--profile", "nope"], ["ask", "--profile", "nope", "hi"]):
        result = subprocess.run([sys.executable, "-m", "playground", *argv], capture_output=True, text=True,
                                timeout=60, env=env, stdin=subprocess.DEVNULL)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("playground: error: no profile named 'nope': bundled ones are ")
        assert "default" in result.stderr and "\x1b[?1049h" not in result.stdout  # no alternate screen
