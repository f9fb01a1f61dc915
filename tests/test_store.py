"""The history store: schema, file safety, round trips, costs, refusal of unusable files, threads."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from playground.base.money import dollars
from playground.base.records import Attempt, Cost, Failure
from playground.history.migrations import MIGRATIONS
from playground.history.store import Store, StoreError


def attempt(alias="m", *, hop=0, cost=0.001, failure=None, started_at=None, text="reply") -> Attempt:
    return Attempt(alias, f"openai/{alias}", "route", "because", hop, started_at or time.time(), text=text,
                   ttft_s=0.25, latency_s=1.5, input_tokens=12, output_tokens=30, tokens_estimated=failure is not None,
                   cost_usd=cost, price_source="profile", finish_reason=None if failure else "stop",
                   failure=failure, error="HTTP 500: boom" if failure else None)


def test_schema_is_migrated_once(tmp_path):
    db = tmp_path / "h.db"
    store = Store(db)
    assert store.schema_version == len(MIGRATIONS)
    first = store.db.execute("SELECT name, applied_at FROM _migrations ORDER BY rowid").fetchall()
    assert [name for name, _ in first] == [name for name, _ in MIGRATIONS]
    assert {"conversations", "messages", "attempts", "_migrations"} <= set(store.db.table_names())
    store.close()
    again = Store(db)
    assert again.schema_version == len(MIGRATIONS)
    assert again.db.execute("SELECT name, applied_at FROM _migrations ORDER BY rowid").fetchall() == first


def test_file_is_private_and_in_wal_mode(tmp_path):
    db = tmp_path / "data" / "h.db"
    store = Store(db)
    store.start_turn(None, "secret prompt", "p")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # SQLite gives its side files the database's mode: the WAL holds the prompt too.
    wal = db.with_name("h.db-wal")
    assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_memory_store_works():
    store = Store(":memory:")
    conversation, _prompt = store.start_turn(None, "hi", "p")
    assert [m.content for m in store.messages(conversation)] == ["hi"]


def test_turn_reply_and_attempts_round_trip(tmp_path):
    store = Store(tmp_path / "h.db")
    conversation, prompt_id = store.start_turn(None, "  What   is\n2+2?  ", "default")
    assert store.db.execute("SELECT title, profile FROM conversations").fetchone() == ("What is 2+2?", "default")
    reply_id = store.start_reply(conversation)
    assert store.messages(conversation)[1].status == "streaming"
    store.save_reply(reply_id, "fo", "streaming", "first")
    failed = attempt("first", failure=Failure.SERVER_ERROR, text="fo")
    store.record_attempt(failed, conversation, prompt_id, reply_id, {"route": "all", "model": "first"})
    ok = attempt("second", hop=1, cost=0.002, text="four")
    store.record_attempt(ok, conversation, prompt_id, reply_id, None)
    store.save_reply(reply_id, "four", "complete")  # model alias kept from before when not given

    messages = store.messages(conversation)
    assert [(m.id, m.role, m.content, m.status, m.model_alias) for m in messages] == [
        (prompt_id, "user", "  What   is\n2+2?  ", "complete", None),
        (reply_id, "assistant", "four", "complete", "first"),
    ]
    rows = store.attempts(conversation)
    assert [(r["model_alias"], r["hop"], r["failure"], r["output"]) for r in rows] == [
        ("first", 0, "server_error", "fo"), ("second", 1, None, "four")]
    first = rows[0]
    assert (first["ttft_ms"], first["latency_ms"], first["input_tokens"], first["output_tokens"]) == (250, 1500, 12, 30)
    assert first["tokens_estimated"] == 1 and rows[1]["tokens_estimated"] == 0
    assert first["tokens_per_s"] == pytest.approx(30 / 1.25)
    assert first["decision"] == '{"route": "all", "model": "first"}' and rows[1]["decision"] is None
    assert (first["prompt_message_id"], first["reply_message_id"]) == (prompt_id, reply_id)
    assert first["error"] == "HTTP 500: boom" and first["price_source"] == "profile"
    assert datetime.fromisoformat(first["started_at"]).tzinfo is not None

    # A second turn in the same conversation; the newest conversation is found again.
    same, _ = store.start_turn(conversation, "and 3+3?", "default")
    assert same == conversation and store.latest_conversation() == conversation
    assert len(store.messages(conversation)) == 3

    recent = store.recent_attempts()
    assert [(a.model_alias, a.failure, a.output_tokens) for a in recent] == [
        ("first", Failure.SERVER_ERROR, 30), ("second", None, 30)]
    assert recent[0].ttft_s == pytest.approx(0.25) and recent[0].latency_s == pytest.approx(1.5)


def test_costs_per_conversation_and_today(tmp_path):
    store = Store(tmp_path / "h.db")
    one, p1 = store.start_turn(None, "a", "p")
    two, p2 = store.start_turn(None, "b", "p")
    store.record_attempt(attempt(cost=0.25), one, p1, None, None)
    store.record_attempt(attempt(cost=0.5, hop=1), one, p1, None, None)
    store.record_attempt(attempt(cost=None), one, p1, None, None)  # an unknown price stays unknown
    store.record_attempt(attempt(cost=1.0), two, p2, None, None)
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    store.record_attempt(attempt(cost=8.0, started_at=two_days_ago), two, p2, None, None)
    assert store.conversation_cost(one) == Cost(pytest.approx(0.75), 1)
    assert store.conversation_cost(one).usd is None and dollars(store.conversation_cost(one)) == "$0.75 + unknown"
    assert store.conversation_cost(two).usd == pytest.approx(9.0)
    assert store.conversation_cost("nope") == Cost(0.0, 0)
    assert store.today_cost() == Cost(pytest.approx(1.75), 1)
    assert store.cost_since(datetime.now(UTC) - timedelta(days=3)) == Cost(pytest.approx(9.75), 1)


def test_a_file_that_is_not_sqlite_is_refused_and_untouched(tmp_path):
    db = tmp_path / "h.db"
    junk = b"these are somebody's notes, not a database\n" * 200
    db.write_bytes(junk)
    os.chmod(db, 0o644)
    with pytest.raises(StoreError) as caught:
        Store(db)
    message = str(caught.value)
    assert message == (f"{db}: not a usable history database (file is not a database); it was left untouched — "
                       f"move it aside or pass --db with another path")
    assert db.read_bytes() == junk and stat.S_IMODE(db.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.db"]


def test_another_programs_sqlite_file_is_left_byte_for_byte_untouched(tmp_path):
    db = tmp_path / "other.db"
    other = sqlite3.connect(db)
    other.execute("CREATE TABLE conversations (x)")
    other.execute("INSERT INTO conversations VALUES ('precious')")
    other.commit()
    other.close()
    before = db.read_bytes()
    with pytest.raises(StoreError, match="it was left untouched"):
        Store(db)
    assert sqlite3.connect(db).execute("SELECT x FROM conversations").fetchall() == [("precious",)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]
    assert db.read_bytes() == before


def test_a_folder_in_the_way_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=r"cannot create the history database: Not a directory$"):
        Store(blocker / "data" / "h.db")


def test_read_only_directory_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: a 0555 directory is still writable, nothing to refuse")
        with pytest.raises(StoreError, match="cannot create the history database: Permission denied"):
            Store(folder / "h.db")
        # An existing database in a folder that is not writable (no room for its WAL) is refused too.
        os.chmod(folder, 0o755)
        Store(folder / "h.db").close()
        os.chmod(folder, 0o555)
        with pytest.raises(StoreError, match="history database is not writable"):
            Store(folder / "h.db")
    finally:
        os.chmod(folder, 0o755)


def test_threads_share_one_store_and_each_have_their_own(tmp_path):
    db = tmp_path / "h.db"
    shared = Store(db)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(store: Store, name: str) -> None:
        try:
            start.wait(timeout=10)
            for i in range(40):
                conversation, prompt_id = store.start_turn(None, f"{name} {i}", "p")
                reply = store.start_reply(conversation)
                store.save_reply(reply, "part", "streaming", name)
                store.record_attempt(attempt(name, cost=0.01), conversation, prompt_id, reply, None)
                store.save_reply(reply, f"{name} done {i}", "complete")
                assert store.conversation_cost(conversation).usd == pytest.approx(0.01)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    own = [Store(db), Store(db)]
    threads = [threading.Thread(target=work, args=(shared, "s1")), threading.Thread(target=work, args=(shared, "s2")),
               threading.Thread(target=work, args=(own[0], "o1")), threading.Thread(target=work, args=(own[1], "o2"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    rows = shared.db.execute("SELECT role, status, count(*) FROM messages GROUP BY role, status").fetchall()
    assert sorted(rows) == [("assistant", "complete", 160), ("user", "complete", 160)]
    assert shared.db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 160
    assert shared.today_cost().usd == pytest.approx(1.6)
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_writes_inside_one_transaction_commit_or_roll_back_together(tmp_path):
    """A turn's opening (the prompt, its settings) and an attempt's row (the row, the reply's model) are
    each one transaction: all of it is stored, or none."""
    store = Store(tmp_path / "h.db")
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        conversation, prompt_id = store.start_turn(None, "hi", "p")
        reply_id = store.start_reply(conversation)
        store.start_attempt(attempt(), conversation, prompt_id, reply_id, None)
        raise RuntimeError("boom")
    assert store.conversations() == [] and store.latest_conversation() is None
    with store.transaction():
        conversation, prompt_id = store.start_turn(None, "hi", "p")
        reply_id = store.start_reply(conversation)
        store.start_attempt(attempt(), conversation, prompt_id, reply_id, None)
    other = Store(tmp_path / "h.db")  # another connection sees all of it
    assert [m.role for m in other.messages(conversation)] == ["user", "assistant"]
    assert [a["model_alias"] for a in other.attempts(conversation)] == ["m"]
    other.close()
    store.close()
