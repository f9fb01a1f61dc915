"""The history store: migrations from an older schema, full-text search, filters, incognito, purge."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import sqlite_utils

from playground.base.records import Attempt, Failure
from playground.history.migrations import MIGRATIONS
from playground.history.store import HistoryFilter, Store, StoreError


def _v1_store(path, with_data: bool = True) -> None:
    """A store exactly as the first release left it: only create_v1 applied."""
    db = sqlite_utils.Database(path)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    MIGRATIONS[0][1](db)
    db.execute("INSERT INTO _migrations VALUES ('create_v1', '2025-01-01T00:00:00.000+00:00')")
    if with_data:
        db["conversations"].insert({"id": "old", "title": "tell me about otters", "profile": "default",
                                    "created_at": "2025-01-01T10:00:00.000+00:00",
                                    "updated_at": "2025-01-01T10:00:00.000+00:00"})
        db["messages"].insert_all([
            {"id": 1, "conversation_id": "old", "role": "user", "content": "tell me about otters",
             "status": "complete", "created_at": "2025-01-01T10:00:00.000+00:00"},
            {"id": 2, "conversation_id": "old", "role": "assistant", "content": "Otters hold hands asleep.",
             "status": "complete", "model_alias": "cheap", "created_at": "2025-01-01T10:00:01.000+00:00"},
        ])
        db["attempts"].insert({"conversation_id": "old", "prompt_message_id": 1, "reply_message_id": 2, "hop": 0,
                               "model_alias": "cheap", "model": "openai/cheap", "route": "default",
                               "started_at": "2025-01-01T10:00:00.000+00:00", "cost_usd": 0.5})
    db.conn.close()


def _attempt(alias: str = "cheap", text: str = "", **kwargs) -> Attempt:
    values = dict(model_alias=alias, model=f"openai/{alias}", route="default", reason="default route", hop=0,
                  started_at=datetime(2025, 3, 1, 12, tzinfo=UTC).timestamp(), text=text,
                  input_tokens=10, output_tokens=20, cost_usd=0.001, ttft_s=0.1, latency_s=0.5)
    return Attempt(**(values | kwargs))


def _turn(store: Store, prompt: str, reply: str, alias: str = "cheap", conversation: str | None = None,
          profile: str = "default", incognito: bool = False, **attempt) -> tuple[str, int]:
    conversation, prompt_id = store.start_turn(conversation, prompt, profile, incognito)
    reply_id = store.start_reply(conversation, incognito)
    store.record_attempt(_attempt(alias, reply, **attempt), conversation, prompt_id, reply_id, None)
    store.save_reply(reply_id, reply, "complete", alias)
    return conversation, reply_id


def _titles(store: Store, **wanted) -> list[str]:
    return [c.title for c in store.conversations(HistoryFilter(**wanted))]


# Migrations -------------------------------------------------------------------------------------

def test_new_store_has_every_migration_and_no_backup(tmp_path):
    store = Store(tmp_path / "h.db")
    assert store.schema_version == len(MIGRATIONS)
    assert {"feedback", "messages_fts", "conversations_fts"} <= set(store.db.table_names())
    assert store.backups() == []


def test_v1_store_is_backed_up_then_upgraded_in_place(tmp_path):
    path = tmp_path / "h.db"
    _v1_store(path)
    store = Store(path)
    assert store.schema_version == len(MIGRATIONS)
    # The old rows survive, gain the new columns' defaults, and are searchable at once.
    assert [(m.content, m.incognito) for m in store.messages("old")] == [
        ("tell me about otters", False), ("Otters hold hands asleep.", False)]
    [found] = store.conversations(HistoryFilter(search="hands"))
    assert (found.id, found.models, found.cost_usd, found.snippet) == (
        "old", ("cheap",), 0.5, "Otters hold hands asleep.")
    # The backup is the v1 store as it was, complete and openable.
    assert store.backups() == [tmp_path / "h.db.bak-v1"]
    backup = sqlite3.connect(tmp_path / "h.db.bak-v1")
    assert backup.execute("SELECT name FROM _migrations").fetchall() == [("create_v1",)]
    assert backup.execute("SELECT count(*) FROM messages").fetchone() == (2,)
    assert (tmp_path / "h.db.bak-v1").stat().st_mode & 0o777 == 0o600
    store.close()
    # Reopening migrates nothing more.
    again = Store(path)
    assert again.db.execute("SELECT count(*) FROM _migrations").fetchone() == (len(MIGRATIONS),)


def test_empty_v1_store_is_upgraded_without_a_backup(tmp_path):
    _v1_store(tmp_path / "h.db", with_data=False)
    assert Store(tmp_path / "h.db").backups() == []


def test_a_corrupt_file_is_reported_not_replaced(tmp_path):
    path = tmp_path / "h.db"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="not a usable history database"):
        Store(path)
    assert path.read_bytes() == b"not a database" * 100


# Search and the list --------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "h.db")
    yield store
    store.close()


def test_search_matches_prompts_replies_and_titles_as_you_type(store):
    _turn(store, "how do I sort a list in python", "Use sorted(items).", alias="cheap")
    _turn(store, "write a haiku about rain", "Grey drops on the roof", alias="strong")
    assert _titles(store, search="pyth") == ["how do I sort a list in python"]
    assert _titles(store, search="roof") == ["write a haiku about rain"]
    assert _titles(store, search="sorted roof") == []
    assert _titles(store, search="") == ["write a haiku about rain", "how do I sort a list in python"]
    [hit] = store.conversations(HistoryFilter(search="grey drops"))
    assert hit.snippet == "Grey drops on the roof"


@pytest.mark.parametrize("query", ['"', '"unbalanced', "AND", "OR NOT", "NEAR(", "(", ")", "*", "a:b", "^x",
                                   "col:value", "\x00", "'; DROP TABLE messages; --", "ünïcödé", "-"])
def test_search_treats_operators_and_quotes_as_text(store, query):
    _turn(store, 'quote " AND NEAR( (paren) - ünïcödé', "ok")
    store.conversations(HistoryFilter(search=query))  # never raises
    assert store.db["messages"].count == 2


def test_operator_words_are_searched_literally(store):
    _turn(store, "cats AND dogs", "both")
    _turn(store, "cats only", "one")
    assert _titles(store, search="AND dogs") == ["cats AND dogs"]
    assert _titles(store, search='"cats') == ["cats only", "cats AND dogs"]


def test_filters_by_model_profile_and_date(store):
    first, _ = _turn(store, "first", "a", alias="cheap", profile="default")
    store.db.execute("UPDATE conversations SET updated_at = '2025-01-05T00:00:00.000+00:00' WHERE id = ?", [first])
    _turn(store, "second", "b", alias="strong", profile="local-only")
    # A model that only failed did not answer the conversation.
    conversation, _ = _turn(store, "third", "", alias="broken", failure=Failure.SERVER_ERROR)
    _turn(store, "third again", "c", alias="cheap", conversation=conversation)
    assert _titles(store, model="cheap") == ["third", "first"]
    assert _titles(store, model="broken") == []
    assert _titles(store, profile="local-only") == ["second"]
    assert _titles(store, until=datetime(2025, 1, 6, tzinfo=UTC)) == ["first"]
    assert _titles(store, since=datetime(2025, 1, 6, tzinfo=UTC), model="cheap") == ["third"]
    assert store.filter_choices() == (["broken", "cheap", "strong"], ["default", "local-only"])
    [third] = store.conversations(HistoryFilter(search="third"))
    assert third.models == ("cheap",) and third.cost_usd == pytest.approx(0.002)


def test_rename_is_searchable_and_delete_removes_everything(store):
    conversation, reply_id = _turn(store, "untitled thoughts", "reply text")
    store.rename_conversation(conversation, "  Budget   planning ")
    assert _titles(store, search="budget") == ["Budget planning"]
    store.record_feedback(reply_id, good=True)
    store.db["votes"].insert({"conversation_id": conversation, "prompt_message_id": 1, "outcome": "win"})
    store.delete_conversation(conversation)
    for table in ("conversations", "messages", "attempts", "feedback", "votes"):
        assert store.db[table].count == 0, table
    assert _titles(store, search="reply") == []


def test_a_turn_in_a_deleted_conversation_starts_a_new_one(store):
    conversation, _ = _turn(store, "soon gone", "yes")
    store.delete_conversation(conversation)
    again, _ = store.start_turn(conversation, "still typing", "default")
    assert again != conversation and _titles(store) == ["still typing"]


def test_feedback_keeps_the_latest_verdict_with_model_and_route(store):
    conversation, reply_id = _turn(store, "q", "a", alias="strong")
    store.record_feedback(reply_id, good=False)
    store.record_feedback(reply_id, good=True)
    assert [(r["message_id"], r["conversation_id"], r["model_alias"], r["route"], r["good"])
            for r in store.db["feedback"].rows] == [(reply_id, conversation, "strong", "default", 1)]
    with pytest.raises(StoreError):
        store.record_feedback(reply_id - 1, good=True)  # the prompt, not a reply


def test_final_attempts_rebuild_the_reply_metadata(store):
    conversation, prompt_id = store.start_turn(None, "q", "default")
    reply_id = store.start_reply(conversation)
    store.record_attempt(_attempt("broken", hop=0, failure=Failure.TIMEOUT, error="slow"),
                         conversation, prompt_id, reply_id, None)
    store.record_attempt(_attempt("backup", "fine", hop=1, tokens_estimated=True), conversation, prompt_id,
                         reply_id, None)
    final = store.final_attempts(conversation)[reply_id]
    assert (final.model_alias, final.hop, final.ok, final.tokens_estimated, final.ttft_s) == (
        "backup", 1, True, True, 0.1)


# Privacy ----------------------------------------------------------------------------------------

def test_incognito_turn_keeps_metadata_but_no_text(store):
    conversation, reply_id = _turn(store, "my secret plan", "the secret answer", incognito=True,
                                   failure=Failure.SERVER_ERROR, error="echo: my secret plan")
    [summary] = store.conversations()
    assert (summary.title, summary.incognito, summary.cost_usd) == ("", True, 0.001)
    assert [(m.content, m.incognito) for m in store.messages(conversation)] == [("", True), ("", True)]
    [attempt] = store.attempts(conversation)
    assert (attempt["output"], attempt["error"]) == ("", None)
    assert (attempt["input_tokens"], attempt["output_tokens"], attempt["latency_ms"]) == (10, 20, 500)
    assert _titles(store, search="secret") == []
    # Text the caller passes later, during streaming for example, is not kept either.
    store.save_reply(reply_id, "the secret answer, again", "complete")
    assert store.messages(conversation)[1].content == ""


def test_incognito_for_part_of_a_conversation(store):
    conversation, _ = _turn(store, "public question", "public answer")
    _turn(store, "private follow-up", "private answer", conversation=conversation, incognito=True)
    assert [m.content for m in store.messages(conversation)] == ["public question", "public answer", "", ""]
    assert store.conversation(conversation).incognito and store.conversation(conversation).title == "public question"


def test_reply_cost_is_unknown_when_any_attempt_cost_is_unknown(store):
    conversation, prompt_id = store.start_turn(None, "q", "default")
    priced, unpriced = store.start_reply(conversation), store.start_reply(conversation)
    store.record_attempt(_attempt(hop=0, failure=Failure.SERVER_ERROR), conversation, prompt_id, priced, None)
    store.record_attempt(_attempt(hop=1, cost_usd=0.002, latency_s=0.7), conversation, prompt_id, priced, None)
    store.record_attempt(_attempt(hop=0, cost_usd=None, latency_s=2.0), conversation, prompt_id, unpriced, None)
    store.record_attempt(_attempt(hop=1, cost_usd=0.004), conversation, prompt_id, unpriced, None)
    costs = store.reply_costs([priced, unpriced])
    assert costs[priced] == (pytest.approx(0.003), pytest.approx(0.7))
    assert costs[unpriced] == (None, pytest.approx(0.5))


def test_conversations_by_prefix_finds_ids_by_their_start(store):
    for conversation_id in ("ab_1", "ab%2", "abc3", "b"):
        store.db["conversations"].insert({"id": conversation_id, "title": "", "profile": "default",
                                          "created_at": "2025-01-01", "updated_at": "2025-01-01"})
    assert store.conversations_by_prefix("abc") == ["abc3"]
    assert store.conversations_by_prefix("ab_") == ["ab_1"]  # `_` and `%` are text, not wildcards
    assert store.conversations_by_prefix("ab", limit=5) == ["ab%2", "ab_1", "abc3"]
    assert store.conversations_by_prefix("ab") == ["ab%2", "ab_1"]
    assert store.conversations_by_prefix("zz") == [] and store.conversations_by_prefix("") == []


def test_purge_deletes_all_text_from_the_file_and_backups(tmp_path):
    path = tmp_path / "h.db"
    _v1_store(path)
    store = Store(path)
    _turn(store, "zanzibar-marker prompt", "zanzibar-marker reply")
    assert store.purge() == 2
    for table in ("conversations", "messages", "attempts", "feedback"):
        assert store.db[table].count == 0
    assert _titles(store, search="zanzibar") == []
    assert store.backups() == []
    store.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"zanzibar" not in on_disk and b"otters" not in on_disk


def test_history_core_imports_neither_textual_nor_litellm():
    check = ("import sys; import playground.history.stats, playground.history.store, playground.cli.history, "
             "playground.history.export, playground.present.format; "
             "print(sorted(m for m in ('textual', 'litellm', 'textual_plotext') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
