"""History in SQLite (sqlite-utils): conversations, messages and every attempt, safe across threads."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import sqlite_utils

from playground.records import Attempt, Failure, Outcome, Vote


class StoreError(Exception):
    """The history database cannot be used; the message says which file and why."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


def _create_v1(db: sqlite_utils.Database) -> None:
    db["conversations"].create({
        "id": str, "title": str, "profile": str, "created_at": str, "updated_at": str,
    }, pk="id")
    db["messages"].create({
        "id": int, "conversation_id": str, "role": str, "content": str,
        "status": str,  # complete | streaming | failed | cancelled
        "model_alias": str, "created_at": str, "updated_at": str,
    }, pk="id", foreign_keys=[("conversation_id", "conversations", "id")])
    db["attempts"].create({
        "id": int, "conversation_id": str, "prompt_message_id": int, "reply_message_id": int, "hop": int,
        "model_alias": str, "model": str, "route": str, "reason": str, "decision": str,
        "started_at": str, "ttft_ms": float, "latency_ms": float, "tokens_per_s": float,
        "input_tokens": int, "output_tokens": int, "tokens_estimated": int,
        "cost_usd": float, "price_source": str, "finish_reason": str,
        "failure": str, "error": str, "output": str,
    }, pk="id", foreign_keys=[("conversation_id", "conversations", "id"),
                              ("prompt_message_id", "messages", "id"),
                              ("reply_message_id", "messages", "id")])
    db["messages"].create_index(["conversation_id", "id"])
    db["attempts"].create_index(["conversation_id"])
    db["attempts"].create_index(["started_at"])


def _search_and_privacy(db: sqlite_utils.Database) -> None:
    db["conversations"].add_column("incognito", int, not_null_default=0)
    # Triggers keep the index current on every insert, update and delete.
    db["messages"].enable_fts(["content"], create_triggers=True, tokenize="porter")
    db["attempts"].create_index(["model_alias", "started_at"])
    db["attempts"].create_index(["reply_message_id"])
    db["conversations"].create_index(["updated_at"])
def _add_votes(db: sqlite_utils.Database) -> None:
    # `models` and `reply_message_ids` are parallel JSON lists, so a vote names the exact replies judged
    # even when one prompt was compared more than once.
    db["votes"].create({
        "id": int, "created_at": str, "conversation_id": str, "prompt_message_id": int,
        "outcome": str,  # win | tie | all_bad
        "winner_model_alias": str, "models": str, "reply_message_ids": str,
        "route": str, "category": str, "blind": int,
    }, pk="id", foreign_keys=[("conversation_id", "conversations", "id"),
                              ("prompt_message_id", "messages", "id")])
    db["votes"].create_index(["category"])


def _add_feedback(db: sqlite_utils.Database) -> None:
    # One mark per reply: marking it again replaces the earlier mark.
    db["feedback"].create({
        "message_id": int, "conversation_id": str, "model_alias": str, "route": str, "good": int,
        "created_at": str,
    }, pk="message_id", foreign_keys=[("message_id", "messages", "id"),
                                      ("conversation_id", "conversations", "id")])


# Ordered, named, applied once each when the store opens (the order is the schema version).
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("create_v1", _create_v1),
    ("search_and_privacy", _search_and_privacy),
    ("add_votes", _add_votes),
    ("add_feedback", _add_feedback),
]


@dataclass(frozen=True)
class StoredMessage:
    id: int
    role: str
    content: str
    status: str
    model_alias: str | None


class Store:
    """Owns one connection; every write runs in BEGIN IMMEDIATE under a lock, so threads and other
    processes never hit "database is locked" on a read-then-write."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        memory = str(path) == ":memory:"
        if not memory:
            self._prepare_file()
        conn = None
        try:
            conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10)
            conn.execute("PRAGMA busy_timeout = 10000")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "_migrations" not in tables:
                # Someone else's database: touch nothing, not even its journal mode.
                raise sqlite3.DatabaseError(f"it holds other tables ({', '.join(sorted(tables)[:3])}…)")
            if not memory:
                conn.execute("PRAGMA journal_mode = WAL")
                # In WAL mode NORMAL never corrupts the file and survives an app crash; only an OS crash
                # or power cut can drop the last commits. It saves an fsync per write on the hot path.
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self.db = sqlite_utils.Database(conn)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise StoreError(f"{self.path}: not a usable history database ({exc}); it was left untouched — "
                             f"move it aside or pass --db with another path") from None

    def _prepare_file(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                # Created 0600: history holds prompts and replies.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create the history database: {exc.strerror}") from None
        if not os.access(self.path, os.W_OK) or not os.access(self.path.parent, os.W_OK):
            raise StoreError(f"{self.path}: history database is not writable (check the file and its folder)")

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _applied(self) -> set[str]:
        with self._lock:
            if not self.db["_migrations"].exists():
                return set()
            return {row[0] for row in self.db.execute("SELECT name FROM _migrations")}

    def _migrate(self) -> None:
        done = self._applied()
        if done and len(done) < len(MIGRATIONS) and str(self.path) != ":memory:":
            # Taken outside the upgrade's write transaction, which the backup would wait on.
            self._backup(f"bak-v{len(done)}")
        with self._write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
            # Read again inside the lock: another process may have upgraded the store meanwhile.
            done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
            for name, apply in MIGRATIONS:
                if name not in done:
                    apply(self.db)
                    conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, _now()))

    def _backup(self, suffix: str) -> Path:
        """A consistent copy (SQLite's backup API) beside the store, taken before it is upgraded."""
        target = self.path.with_name(f"{self.path.name}.{suffix}")
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
        copy = sqlite3.connect(str(target))
        try:
            self.db.conn.backup(copy)
        finally:
            copy.close()
        return target

    @property
    def schema_version(self) -> int:
        return self.db.execute("SELECT count(*) FROM _migrations").fetchone()[0]

    # Writes -----------------------------------------------------------------------------------

    def start_turn(self, conversation_id: str | None, prompt: str, profile: str,
                   incognito: bool = False) -> tuple[str, int]:
        """Save the user's prompt before any call is made; returns (conversation id, message id).

        An incognito conversation keeps its metadata (tokens, cost, latency, models) but no text.
        """
        now = _now()
        with self._write() as conn:
            if conversation_id is None:
                conversation_id = uuid.uuid4().hex
                title = "(incognito)" if incognito else " ".join(prompt.split())[:80]
                conn.execute("INSERT INTO conversations (id, title, profile, created_at, updated_at, incognito) "
                             "VALUES (?,?,?,?,?,?)", (conversation_id, title, profile, now, now, int(incognito)))
            else:
                conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
                incognito = bool(conn.execute("SELECT incognito FROM conversations WHERE id = ?",
                                              (conversation_id,)).fetchone()[0])
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, status, created_at, updated_at) "
                "VALUES (?, 'user', ?, 'complete', ?, ?)", (conversation_id, "" if incognito else prompt, now, now))
            return conversation_id, cursor.lastrowid

    def set_incognito(self, conversation_id: str, on: bool) -> None:
        with self._write() as conn:
            conn.execute("UPDATE conversations SET incognito = ? WHERE id = ?", (int(on), conversation_id))

    def is_incognito(self, conversation_id: str) -> bool:
        with self._lock:
            row = self.db.execute("SELECT incognito FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return bool(row and row[0])

    def start_reply(self, conversation_id: str) -> int:
        now = _now()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, status, created_at, updated_at) "
                "VALUES (?, 'assistant', '', 'streaming', ?, ?)", (conversation_id, now, now))
            return cursor.lastrowid

    def save_reply(self, message_id: int, content: str, status: str, model_alias: str | None = None) -> None:
        """Called while streaming (status 'streaming') so a crash keeps the partial text, and at the end."""
        with self._write() as conn:
            conn.execute("UPDATE messages SET content = CASE WHEN (SELECT incognito FROM conversations c WHERE "
                         "c.id = messages.conversation_id) THEN '' ELSE ? END, status = ?, "
                         "model_alias = coalesce(?, model_alias), updated_at = ? WHERE id = ?",
                         (content, status, model_alias, _now(), message_id))

    def record_attempt(self, attempt: Attempt, conversation_id: str, prompt_message_id: int,
                       reply_message_id: int | None, decision: dict | None) -> int:
        row = {
            "conversation_id": conversation_id, "prompt_message_id": prompt_message_id,
            "reply_message_id": reply_message_id, "hop": attempt.hop,
            "model_alias": attempt.model_alias, "model": attempt.model, "route": attempt.route,
            "reason": attempt.reason, "decision": json.dumps(decision) if decision else None,
            "started_at": _iso(attempt.started_at),
            "ttft_ms": None if attempt.ttft_s is None else attempt.ttft_s * 1000,
            "latency_ms": None if attempt.latency_s is None else attempt.latency_s * 1000,
            "tokens_per_s": attempt.tokens_per_s,
            "input_tokens": attempt.input_tokens, "output_tokens": attempt.output_tokens,
            "tokens_estimated": int(attempt.tokens_estimated), "cost_usd": attempt.cost_usd,
            "price_source": attempt.price_source, "finish_reason": attempt.finish_reason,
            "failure": attempt.failure.value if attempt.failure else None, "error": attempt.error,
            "output": attempt.text,
        }
        if self.is_incognito(conversation_id):
            row["output"] = ""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._write() as conn:
            cursor = conn.execute(f"INSERT INTO attempts ({columns}) VALUES ({marks})", tuple(row.values()))
            return cursor.lastrowid

    def record_vote(self, vote: Vote) -> int:
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO votes (created_at, conversation_id, prompt_message_id, outcome, winner_model_alias, "
                "models, reply_message_ids, route, category, blind) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (_now(), vote.conversation_id, vote.prompt_message_id, vote.outcome.value, vote.winner_model_alias,
                 json.dumps(list(vote.models)), json.dumps(list(vote.reply_message_ids)), vote.route,
                 vote.category, int(vote.blind)))
            return cursor.lastrowid

    def record_feedback(self, message_id: int, good: bool) -> None:
        """Mark a reply good or bad, with the model that gave it and the route its prompt took."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT m.conversation_id, coalesce(m.model_alias, a.model_alias), a.route FROM messages m "
                "LEFT JOIN attempts a ON a.reply_message_id = m.id WHERE m.id = ? AND m.role = 'assistant' "
                "ORDER BY a.id DESC LIMIT 1", (message_id,)).fetchone()
            if row is None:
                raise KeyError(f"no reply with id {message_id}")
            conn.execute("INSERT OR REPLACE INTO feedback (message_id, conversation_id, model_alias, route, good, "
                         "created_at) VALUES (?,?,?,?,?,?)", (message_id, *row, int(good), _now()))

    def choose_reply(self, prompt_message_id: int, message_id: int) -> None:
        """Make one reply the prompt's answer in the conversation; its other finished replies become
        'compared', which keeps them in history but out of later turns' context."""
        with self._write() as conn:
            conn.execute(
                "UPDATE messages SET status = 'compared', updated_at = ? WHERE status = 'complete' AND id IN "
                "(SELECT reply_message_id FROM attempts WHERE prompt_message_id = ?)", (_now(), prompt_message_id))
            conn.execute("UPDATE messages SET status = 'complete', updated_at = ? WHERE id = ?", (_now(), message_id))

    # Reads ------------------------------------------------------------------------------------

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        with self._lock:
            rows = self.db.execute("SELECT id, role, content, status, model_alias FROM messages "
                                   "WHERE conversation_id = ? ORDER BY id", (conversation_id,)).fetchall()
        return [StoredMessage(*row) for row in rows]

    def attempts(self, conversation_id: str) -> list[dict]:
        with self._lock:
            return list(self.db.query("SELECT * FROM attempts WHERE conversation_id = ? ORDER BY id",
                                      (conversation_id,)))

    def recent_attempts(self, limit: int = 1000) -> list[Attempt]:
        """The newest attempts, oldest first, to seed latency and error estimates at start-up."""
        with self._lock:
            rows = self.db.execute(
                "SELECT model_alias, model, route, reason, hop, started_at, ttft_ms, latency_ms, output_tokens, "
                "failure FROM attempts ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        attempts = []
        for alias, model, route, reason, hop, started, ttft, latency, output, failure in reversed(rows):
            attempts.append(Attempt(
                alias, model, route or "", reason or "", hop or 0, datetime.fromisoformat(started).timestamp(),
                ttft_s=None if ttft is None else ttft / 1000, latency_s=None if latency is None else latency / 1000,
                output_tokens=output, failure=Failure(failure) if failure in Failure._value2member_map_ else
                (Failure.UNKNOWN if failure else None)))
        return attempts

    def conversation_cost(self, conversation_id: str) -> float:
        with self._lock:
            row = self.db.execute("SELECT coalesce(sum(cost_usd), 0) FROM attempts WHERE conversation_id = ?",
                                  (conversation_id,)).fetchone()
        return row[0]

    def cost_since(self, since: datetime) -> float:
        with self._lock:
            row = self.db.execute("SELECT coalesce(sum(cost_usd), 0) FROM attempts WHERE started_at >= ?",
                                  (since.astimezone(timezone.utc).isoformat(timespec="milliseconds"),)).fetchone()
        return row[0]

    def today_cost(self) -> float:
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        return self.cost_since(midnight)

    def conversations(self, *, limit: int = 50, model: str | None = None, profile: str | None = None,
                      since: str | None = None, query: str | None = None) -> list[dict]:
        """Newest first, each with its models, cost and number of turns; filters combine."""
        where, params = [], []
        if model:
            where.append("EXISTS (SELECT 1 FROM attempts a WHERE a.conversation_id = c.id AND a.model_alias = ?)")
            params.append(model)
        if profile:
            where.append("c.profile = ?")
            params.append(profile)
        if since:
            where.append("c.updated_at >= ?")
            params.append(since)
        if query and query.strip():
            match = self._fts_query(query)
            if match is None:
                return []
            where.append("c.id IN (SELECT m.conversation_id FROM messages_fts JOIN messages m "
                         "ON m.id = messages_fts.rowid WHERE messages_fts MATCH ?)")
            params.append(match)
        sql = ("SELECT c.id, c.title, c.profile, c.created_at, c.updated_at, c.incognito, "
               "(SELECT group_concat(DISTINCT a.model_alias) FROM attempts a WHERE a.conversation_id = c.id "
               " AND a.failure IS NULL) AS models, "
               "(SELECT coalesce(sum(a.cost_usd), 0) FROM attempts a WHERE a.conversation_id = c.id) AS cost_usd, "
               "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'user') AS turns "
               "FROM conversations c" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY c.updated_at DESC LIMIT ?")
        with self._lock:
            return list(self.db.query(sql, (*params, limit)))

    def _fts_query(self, text: str) -> str | None:
        """The user's words as FTS5 phrases, so `AND`, `NEAR(`, quotes and `*` are searched for, not obeyed."""
        quoted = self.db.quote_fts(text)
        return quoted if any(c.isalnum() for c in quoted) else None

    def search(self, text: str, limit: int = 20) -> list[dict]:
        """Messages matching `text`, best first."""
        match = self._fts_query(text)
        if match is None:
            return []
        sql = ("SELECT m.conversation_id, c.title, m.id AS message_id, m.role, m.created_at, "
               "snippet(messages_fts, 0, '«', '»', '…', 12) AS snippet "
               "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
               "JOIN conversations c ON c.id = m.conversation_id "
               "WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?")
        with self._lock:
            return list(self.db.query(sql, (match, limit)))

    def rename(self, conversation_id: str, title: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (title.strip()[:200], conversation_id))

    def delete_conversation(self, conversation_id: str) -> None:
        with self._write() as conn:
            for table in ("attempts", "messages"):
                conn.execute(f"DELETE FROM {table} WHERE conversation_id = ?", (conversation_id,))
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def purge(self) -> int:
        """Delete every conversation, message and attempt; returns how many conversations went."""
        with self._write() as conn:
            count = conn.execute("SELECT count(*) FROM conversations").fetchone()[0]
            for table in ("attempts", "messages", "conversations"):
                conn.execute(f"DELETE FROM {table}")
        with self._lock:
            # Deleted text would otherwise linger in free pages of the file.
            self.db.execute("INSERT INTO messages_fts(messages_fts) VALUES('rebuild')")
            self.db.execute("VACUUM")
        return count

    def export(self) -> Iterator[dict]:
        """Every conversation with its messages and attempts, oldest first."""
        with self._lock:
            ids = [row[0] for row in self.db.execute("SELECT id FROM conversations ORDER BY created_at")]
        for conversation_id in ids:
            with self._lock:
                conversation = next(self.db.query("SELECT * FROM conversations WHERE id = ?", (conversation_id,)))
                messages = list(self.db.query("SELECT id, role, content, status, model_alias, created_at "
                                              "FROM messages WHERE conversation_id = ? ORDER BY id",
                                              (conversation_id,)))
            yield conversation | {"messages": messages, "attempts": self.attempts(conversation_id)}

    def latest_conversation(self) -> str | None:
        with self._lock:
            row = self.db.execute("SELECT id FROM conversations ORDER BY updated_at DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def feedback(self, message_id: int) -> dict | None:
        with self._lock:
            rows = list(self.db.query("SELECT * FROM feedback WHERE message_id = ?", (message_id,)))
        return rows[0] if rows else None

    def votes(self) -> list[Vote]:
        with self._lock:
            rows = list(self.db.query("SELECT * FROM votes ORDER BY id"))
        return [Vote(r["conversation_id"], r["prompt_message_id"], Outcome(r["outcome"]), r["winner_model_alias"],
                     tuple(json.loads(r["models"])), tuple(json.loads(r["reply_message_ids"])), r["route"],
                     r["category"], bool(r["blind"])) for r in rows]

    def reply_costs(self, message_ids: list[int]) -> dict[int, tuple[float, float | None]]:
        """message id → (cost of every attempt behind the reply, latency of its last attempt in seconds)."""
        if not message_ids:
            return {}
        marks = ",".join("?" for _ in message_ids)
        with self._lock:
            rows = self.db.execute(
                f"SELECT reply_message_id, sum(coalesce(cost_usd, 0)), "
                f"(SELECT latency_ms FROM attempts b WHERE b.reply_message_id = a.reply_message_id "
                f"ORDER BY b.id DESC LIMIT 1) FROM attempts a WHERE reply_message_id IN ({marks}) "
                f"GROUP BY reply_message_id", tuple(message_ids)).fetchall()
        return {row[0]: (row[1], None if row[2] is None else row[2] / 1000) for row in rows}
