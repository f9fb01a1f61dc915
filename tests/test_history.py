"""History: migrations from an older store, full-text search, stats against hand-computed figures,
export, purge and incognito."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap

import pytest
import sqlite_utils

import playground.store as store_module
from playground.events import ReplyDone
from playground.records import Attempt, Failure
from playground.session import open_session
from playground.stats import compute, percentile
from playground.store import Store
from support.openai_server import OpenAIStubServer


def test_an_older_store_is_backed_up_and_upgraded_in_place(tmp_path):
    db = tmp_path / "h.db"
    # A store as version 1 wrote it: its schema, its migration record, a conversation.
    old = sqlite_utils.Database(db)
    store_module._create_v1(old)
    old.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    old.execute("INSERT INTO _migrations VALUES ('create_v1', '2026-01-01')")
    old["conversations"].insert({"id": "c1", "title": "t", "profile": "p", "created_at": "x", "updated_at": "x"})
    old["messages"].insert({"conversation_id": "c1", "role": "user", "content": "remember the aardvark",
                            "status": "complete"})
    old.conn.commit()
    old.close()
    upgraded = Store(db)
    assert upgraded.schema_version == len(store_module.MIGRATIONS)
    backup = tmp_path / "h.db.bak-v1"
    assert backup.exists() and (backup.stat().st_mode & 0o777) == 0o600
    assert sqlite_utils.Database(backup)["messages"].count == 1  # the copy is the store as it was
    assert "messages_fts" not in sqlite_utils.Database(backup).table_names()
    assert [hit["conversation_id"] for hit in upgraded.search("aardvark")] == ["c1"]
    assert not upgraded.is_incognito("c1")


def test_search_is_safe_for_fts_syntax_and_finds_stems(tmp_path):
    store = Store(tmp_path / "h.db")
    conversation, _ = store.start_turn(None, 'Find "quoted" AND (NEAR stuff* here', "p")
    reply = store.start_reply(conversation)
    store.save_reply(reply, "The routers were routing quickly", "complete", "m")
    for query in ['"', "AND", "(", "NEAR(", "*", "stuff*", '"quoted"']:
        store.search(query)  # never a syntax error
    assert store.search("router")[0]["snippet"] == "The «routers» were routing quickly"  # stemmed: routers → router
    assert store.conversations(query="routing")[0]["id"] == conversation
    assert store.conversations(query="absent") == []


def attempt(alias, *, hop=0, failure=None, cost=0.0, ttft=None, latency=None, tokens=(None, None), started=0.0):
    return Attempt(alias, f"openai/{alias}", "r", "", hop, started, ttft_s=ttft, latency_s=latency,
                   input_tokens=tokens[0], output_tokens=tokens[1], cost_usd=cost, failure=failure)


def test_stats_match_hand_computed_figures(tmp_path):
    store = Store(tmp_path / "h.db")
    day1, day2 = 1_795_000_000.0, 1_795_000_000.0 + 86_400
    c1, p1 = store.start_turn(None, "one", "p")
    r1 = store.start_reply(c1)
    store.record_attempt(attempt("A", failure=Failure.SERVER_ERROR, started=day1), c1, p1, r1, None)
    store.record_attempt(attempt("B", hop=1, cost=0.002, ttft=0.1, latency=1.0, tokens=(10, 20), started=day1),
                         c1, p1, r1, None)
    c2, p2 = store.start_turn(None, "two", "p")
    r2 = store.start_reply(c2)
    store.record_attempt(attempt("A", cost=0.001, ttft=0.2, latency=0.5, tokens=(5, 5), started=day2), c2, p2, r2,
                         None)
    r3 = store.start_reply(c2)
    store.record_attempt(attempt("A", failure=Failure.CANCELLED, started=day2), c2, p2, r3, None)

    result = compute(store, baseline=("big", 1e-6, 2e-6)).to_dict()
    assert (result["turns"], result["answered"], result["attempts"], result["failures"]) == (3, 2, 3, 1)
    assert result["error_rate"] == pytest.approx(1 / 3) and result["fallback_rate"] == 0.5
    assert result["spend_usd"] == pytest.approx(0.003)
    assert (result["input_tokens"], result["output_tokens"]) == (15, 25)
    a, b = result["per_model"]["A"], result["per_model"]["B"]
    assert (a["attempts"], a["failures"], a["ttft_p50_ms"], a["latency_p95_ms"]) == (2, 1, 200.0, 500.0)
    assert (b["spend_usd"], b["ttft_p50_ms"]) == (pytest.approx(0.002), 100.0)
    assert sorted(result["per_day"]) == ["2026-11-18", "2026-11-19"]
    assert result["per_day"]["2026-11-18"] == {"spend_usd": pytest.approx(0.002), "attempts": 2}
    # The answered tokens (15 in, 25 out) priced on the baseline: 15 × $1 + 25 × $2 per million.
    assert result["baseline"]["would_cost_usd"] == pytest.approx(65e-6)
    assert result["baseline"]["saved_usd"] == pytest.approx(65e-6 - 0.003)
    assert compute(store, since="2026-11-19").to_dict()["attempts"] == 1


def test_percentile_is_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile(list(map(float, range(1, 101))), 0.95) == 95.0


async def test_incognito_keeps_metadata_and_context_but_no_text(tmp_path):
    with OpenAIStubServer() as server:
        server.script("m", text="a secret answer")
        profile = tmp_path / "p.yaml"
        profile.write_text(textwrap.dedent(f"""\
            name: p
            models: {{m: {{model: openai/m, api_base: "{server.api_base}", price: {{input_per_mtok: 1, output_per_mtok: 1}}}}}}
            tiers: {{t: [m]}}
            routes: [{{name: r, tier: t}}]
            """))
        session = open_session(str(profile), tmp_path / "h.db")
        conversation = None
        for prompt in ("my secret question", "and a follow-up"):
            async for event in session.chat.send(prompt, conversation_id=conversation, incognito=True):
                if isinstance(event, ReplyDone):
                    conversation = event.reply.conversation_id
        # The model still saw the whole conversation...
        assert [m["content"] for m in server.requests[-1]["messages"]] == [
            "my secret question", "a secret answer", "and a follow-up"]
    # ... but the store keeps none of its words, only what it cost.
    raw = (tmp_path / "h.db").read_bytes() + (tmp_path / "h.db-wal").read_bytes()
    assert b"secret" not in raw and b"follow-up" not in raw
    assert [m.content for m in session.store.messages(conversation)] == ["", "", "", ""]
    rows = session.store.attempts(conversation)
    assert [r["output"] for r in rows] == ["", ""] and all(r["cost_usd"] > 0 for r in rows)
    assert session.store.conversations()[0]["title"] == "(incognito)"


def run_cli(*args, home):
    return subprocess.run([sys.executable, "-m", "playground", *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PLAYGROUND_HOME": str(home)}, stdin=subprocess.DEVNULL)


def test_history_cli_lists_searches_exports_and_purges(tmp_path):
    store = Store(tmp_path / "history.db")
    conversation, prompt = store.start_turn(None, "why is the sky blue", "default")
    reply = store.start_reply(conversation)
    store.save_reply(reply, "Rayleigh scattering", "complete", "m")
    store.record_attempt(attempt("m", cost=0.5, ttft=0.1, latency=0.2, tokens=(3, 4)), conversation, prompt, reply,
                         None)
    store.close()

    listed = json.loads(run_cli("history", "--json", home=tmp_path).stdout)
    assert listed[0]["title"] == "why is the sky blue" and listed[0]["models"] == "m"
    hits = run_cli("history", "search", "scattering", home=tmp_path).stdout
    assert conversation[:8] in hits and "Rayleigh «scattering»" in hits
    jsonl = run_cli("export-history", "--format", "jsonl", home=tmp_path).stdout
    assert json.loads(jsonl)["messages"][1]["content"] == "Rayleigh scattering"
    rows = list(csv.DictReader(io.StringIO(run_cli("export-history", "--format", "csv", home=tmp_path).stdout)))
    assert rows[0]["model_alias"] == "m" and rows[0]["conversation_title"] == "why is the sky blue"
    stats = json.loads(run_cli("stats", "--json", home=tmp_path).stdout)
    assert stats["spend_usd"] == 0.5

    refused = run_cli("history", "purge", home=tmp_path)
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    done = run_cli("history", "purge", "--yes", home=tmp_path)
    assert done.returncode == 0 and "deleted 1 conversations" in done.stdout
    assert b"Rayleigh" not in (tmp_path / "history.db").read_bytes()
    assert run_cli("stats", "--since", "yesterday", home=tmp_path).stderr.startswith(
        "playground: error: --since 'yesterday': expected a date")
