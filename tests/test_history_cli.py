"""`playground history`, `stats`, `export-history` and incognito, run through the real entry point."""

from __future__ import annotations

import os

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import asyncio
import csv
import io
import json
from datetime import UTC, datetime

import pytest

from playground.base.dates import parse_since
from playground.base.records import Attempt, Failure
from playground.cli.main import main
from playground.history.store import Store
from playground.services.session import open_session
from tests.support.helpers import STUB_PRICE, write_profile


@pytest.fixture
def db(tmp_path):
    """Two conversations: one about otters on the cheap model, one about tax (incognito in part)."""
    path = tmp_path / "h.db"
    store = Store(path)
    for prompt, reply, alias, cost, incognito in (("tell me about otters", "Otters hold hands.", "cheap", 0.001, False),
                                                  ('tax "AND" NEAR(', "Pay it.", "strong", 0.02, False)):
        conversation, prompt_id = store.start_turn(None, prompt, "default", incognito)
        reply_id = store.start_reply(conversation)
        attempt = Attempt(alias, f"openai/{alias}", "default", "default route", 0,
                          datetime(2025, 3, 1, tzinfo=UTC).timestamp(), text=reply, input_tokens=10,
                          output_tokens=5, cost_usd=cost, ttft_s=0.2, latency_s=1.0)
        store.record_attempt(attempt, conversation, prompt_id, reply_id, None)
        store.save_reply(reply_id, reply, "complete", alias)
    store.close()
    return str(path)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_history_lists_conversations_newest_first(capsys, db):
    code, out, _ = _run(capsys, "history", "--db", db)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert 'tax "AND" NEAR(' in lines[0] and "$0.02 " in lines[0] and "[strong]" in lines[0]
    assert "tell me about otters" in lines[1] and "$0.001" in lines[1]


def test_history_json_and_filters(capsys, db):
    _code, out, _ = _run(capsys, "history", "--db", db, "--json", "--model", "cheap")
    [row] = json.loads(out)
    assert (row["title"], row["models"], row["cost_usd"], row["incognito"]) == (
        "tell me about otters", ["cheap"], 0.001, False)
    assert json.loads(_run(capsys, "history", "--db", db, "--json", "--since", "2000-01-01")[1])
    assert json.loads(_run(capsys, "history", "--db", db, "--json", "--limit", "1")[1])[0]["title"].startswith("tax")


def test_history_search_text_and_json(capsys, db):
    code, out, _ = _run(capsys, "history", "search", "hands", "--db", db)
    assert code == 0 and "tell me about otters" in out and "… Otters hold hands." in out
    for query in ('"AND"', "NEAR(", 'tax "'):
        code, out, _ = _run(capsys, "history", "search", query, "--db", db, "--json")
        assert code == 0 and [r["title"] for r in json.loads(out)] == ['tax "AND" NEAR('], query
    code, out, err = _run(capsys, "history", "search", "nothing-like-this", "--db", db)
    assert (code, out) == (0, "") and "no conversations match" in err


@pytest.mark.parametrize("argv, message", [
    (["history", "--since", "last tuesday"], "playground: error: --since: expected a date like 2025-03-01"),
    (["history", "--limit", "0"], "playground: error: --limit must be at least 1"),
    (["stats", "--baseline", "nope"], "playground: error: --baseline: no model 'nope' in profile default"),
])
def test_bad_arguments_fail_in_one_line(capsys, db, argv, message):
    code, out, err = _run(capsys, *argv, "--db", db)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1


def test_parse_since():
    now = datetime(2025, 3, 10, 15, 30, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2025, 3, 3, tzinfo=UTC)
    assert parse_since("2025-03-01T12:00:00+00:00", now) == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert parse_since("2025-03-01").tzinfo is not None


def test_stats_json_and_text(capsys, db):
    code, out, _ = _run(capsys, "stats", "--db", db, "--json", "--baseline", "gpt-4.1")
    stats = json.loads(out)
    assert code == 0
    assert (stats["turns"], stats["requests"], stats["input_tokens"], stats["output_tokens"]) == (2, 2, 20, 10)
    assert stats["cost_usd"] == pytest.approx(0.021)
    assert [m["model_alias"] for m in stats["by_model"]] == ["strong", "cheap"]
    assert stats["by_model"][0]["latency"] == {"p50_ms": 1000.0, "p95_ms": 1000.0}
    assert stats["savings"]["baseline"] == "gpt-4.1" and "saved_usd" in stats["savings"]
    code, out, _ = _run(capsys, "stats", "--db", db)
    assert "2 prompts, 2 requests, 20 tokens in / 10 out, $0.021" in out
    assert "TTFT p50 200 ms p95 200 ms" in out
    code, out, _ = _run(capsys, "stats", "--db", db, "--json", "--since", "2030-01-01")
    assert json.loads(out)["requests"] == 0


def test_export_jsonl_and_csv(capsys, db, tmp_path):
    code, out, _ = _run(capsys, "export-history", "--db", db, "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(r["role"], r["content"]) for r in rows] == [
        ("user", "tell me about otters"), ("assistant", "Otters hold hands."),
        ("user", 'tax "AND" NEAR('), ("assistant", "Pay it.")]
    assert (rows[1]["model_alias"], rows[1]["cost_usd"], rows[1]["attempts"], rows[1]["latency_ms"]) == (
        "cheap", 0.001, 1, 1000.0)
    target = tmp_path / "out.csv"
    code, _, err = _run(capsys, "export-history", "--db", db, "--format", "csv", "--output", str(target))
    assert code == 0 and "wrote 4 messages" in err
    table = list(csv.DictReader(io.StringIO(target.read_text())))
    assert table[2]["content"] == 'tax "AND" NEAR(' and table[3]["cost_usd"] == "0.02"


def test_purge_asks_first(capsys, db, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))
    code, _, err = _run(capsys, "history", "purge", "--db", db)
    assert code == 1 and "Delete all 2 conversations" in err and "nothing deleted" in err
    assert len(json.loads(_run(capsys, "history", "--db", db, "--json")[1])) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert _run(capsys, "history", "purge", "--db", db)[0] == 0
    assert json.loads(_run(capsys, "history", "--db", db, "--json")[1]) == []
    assert _run(capsys, "history", "purge", "--db", db, "--yes")[0] == 0


# Incognito, end to end through LiteLLM and the local test server --------------------------------

@pytest.fixture
def stub(server):
    server.script("fast", text="the private reply", words_per_chunk=1)
    return server


def _profile(tmp_path, api_base: str) -> str:
    return str(write_profile(tmp_path, api_base, ["fast"], name="private", price=STUB_PRICE, retries=None,
                             timeouts=None, routes=[{"name": "everything", "tier": "main"}]))


def test_ask_incognito_stores_metadata_but_no_text(capsys, tmp_path, stub):
    db = str(tmp_path / "h.db")
    code, out, _ = _run(capsys, "ask", "--incognito", "my bank password is hunter2", "--profile",
                        _profile(tmp_path, stub.api_base), "--db", db, "--json")
    assert code == 0 and json.loads(out)["text"] == "the private reply"
    store = Store(db)
    [summary] = store.conversations()
    assert (summary.title, summary.incognito, summary.models) == ("", True, ("fast",))
    assert summary.cost_usd > 0
    [attempt] = store.attempts(summary.id)
    assert attempt["output"] == "" and attempt["output_tokens"] == 3 and attempt["latency_ms"] > 0
    store.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("h.db"))
    assert b"hunter2" not in on_disk and b"private reply" not in on_disk


def test_incognito_conversation_keeps_its_context_in_memory(tmp_path, stub):
    session = open_session(_profile(tmp_path, stub.api_base), tmp_path / "h.db")

    async def turn(prompt: str, conversation: str | None) -> str:
        async for event in session.chat.send(prompt, conversation, incognito=True):
            if hasattr(event, "reply"):
                return event.reply.conversation_id

    conversation = asyncio.run(turn("remember the word aubergine", None))
    asyncio.run(turn("which word?", conversation))
    sent = [m["content"] for m in stub.requests[-1]["messages"]]
    assert sent == ["remember the word aubergine", "the private reply", "which word?"]
    assert [m.content for m in session.store.messages(conversation)] == ["", "", "", ""]
    session.store.close()


def test_csv_cells_that_a_spreadsheet_would_run_open_as_text(capsys, tmp_path):
    from playground.history.store import Store

    store = Store(tmp_path / "h.db")
    conversation, _ = store.start_turn(None, "=1+1", "default")
    reply = store.start_reply(conversation)
    store.save_reply(reply, '=HYPERLINK("http://evil.example","click")', "complete", "m")
    store.close()
    target = tmp_path / "out.csv"
    assert _run(capsys, "export-history", "--db", str(tmp_path / "h.db"), "--format", "csv",
                "--output", str(target))[0] == 0
    table = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [row["content"] for row in table] == ["'=1+1", "'=HYPERLINK(\"http://evil.example\",\"click\")"]
    _, out, _ = _run(capsys, "export-history", "--db", str(tmp_path / "h.db"), "--format", "jsonl")
    assert [json.loads(line)["content"] for line in out.splitlines()][1].startswith("=HYPERLINK")


def test_history_shows_a_partial_reply_instead_of_no_reply(capsys, tmp_path):
    store = Store(tmp_path / "p.db")
    conversation, prompt_id = store.start_turn(None, "write a long poem", "default")
    reply_id = store.start_reply(conversation)
    attempt = Attempt("cheap", "openai/cheap", "default", "default route", 0, 1.7e9, text="Roses are",
                      failure=Failure.CANCELLED, error="cancelled by the user", latency_s=0.5)
    store.record_attempt(attempt, conversation, prompt_id, reply_id, None)
    store.save_reply(reply_id, "Roses are", "cancelled", "cheap")
    store.start_turn(None, "never answered", "default")
    store.close()
    _code, out, _ = _run(capsys, "history", "--db", str(tmp_path / "p.db"))
    lines = {line.split("  ")[-2]: line.split("  ")[-1] for line in out.splitlines()}
    assert lines == {"write a long poem": "[partial reply, cancelled: cheap]", "never answered": "[no reply]"}


def test_list_options_before_search_are_kept(capsys, db):
    # The options of the list may come before `search` as well as after it.
    code, out, _ = _run(capsys, "history", "--json", "search", "hands", "--db", db)
    assert code == 0 and [r["title"] for r in json.loads(out)] == ["tell me about otters"]
    _, out, _ = _run(capsys, "history", "-m", "strong", "--json", "search", "otters", "--db", db)
    assert json.loads(out) == []
    _, out, _ = _run(capsys, "--db", db, "history", "--json", "-m", "cheap", "search", "otters")
    assert [r["models"] for r in json.loads(out)] == [["cheap"]]


def test_history_export_files_are_private(capsys, db, tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("older export\n")
    target.chmod(0o644)
    assert _run(capsys, "export-history", "--db", db, "-o", str(target))[0] == 0
    assert target.stat().st_mode & 0o777 == 0o600
    assert len(target.read_text().splitlines()) == 4
    fresh = tmp_path / "fresh.csv"
    assert _run(capsys, "export-history", "--db", db, "-f", "csv", "-o", str(fresh))[0] == 0
    assert fresh.stat().st_mode & 0o777 == 0o600
