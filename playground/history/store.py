"""History in SQLite (sqlite-utils): conversations, messages and every attempt, safe across threads."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from playground.base.records import Attempt, Failure, Outcome, TurnSettings, Vote


class StoreError(Exception):
    """The history database cannot be used; the message says which file and why."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


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


def _add_incognito(db: sqlite_utils.Database) -> None:
    # 1 on a message: its text was never stored; on a conversation: some of its text was withheld.
    db["conversations"].add_column("incognito", int, not_null_default=0)
    db["messages"].add_column("incognito", int, not_null_default=0)


def _create_feedback(db: sqlite_utils.Database) -> None:
    db["feedback"].create({
        "id": int, "message_id": int, "conversation_id": str, "model_alias": str, "route": str,
        "good": int, "created_at": str,
    }, pk="id", foreign_keys=[("message_id", "messages", "id"), ("conversation_id", "conversations", "id")])
    db["feedback"].create_index(["message_id"], unique=True)


def _index_for_stats(db: sqlite_utils.Database) -> None:
    db["conversations"].create_index(["updated_at"])
    db["conversations"].create_index(["profile"])
    db["attempts"].create_index(["model_alias", "conversation_id"])
    db["attempts"].create_index(["prompt_message_id"])
    db["attempts"].create_index(["reply_message_id"])
    # Covers every column the stats read, so they scan this narrow index, not rows that carry
    # whole replies; started_at first makes --since a range.
    db["attempts"].create_index(
        ["started_at", "model_alias", "route", "prompt_message_id", "hop", "failure", "cost_usd", "input_tokens",
         "output_tokens", "ttft_ms", "latency_ms"], index_name="attempts_for_stats")


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


def _add_conversation_settings(db: sqlite_utils.Database) -> None:
    # What the user set for a conversation, so that continuing it from history sends what it sent before.
    db["conversations"].add_column("system_prompt", str, not_null_default="")
    db["conversations"].add_column("temperature", float)


def _index_for_whole_store_stats(db: sqlite_utils.Database) -> None:
    # Over the whole history, sorting 100k attempts to group or rank them was most of the stats' time.
    # These indexes hand the rows over already in order: per model and route for the totals, and by
    # latency within a model (and overall) so that a percentile is one seek to its rank.
    db["attempts"].create_index(
        ["model_alias", "route", "started_at", "failure", "hop", "cost_usd", "input_tokens", "output_tokens"],
        index_name="attempts_by_model_route")
    for column in ("ttft_ms", "latency_ms"):
        db["attempts"].create_index(["model_alias", "failure", column, "started_at"],
                                    index_name=f"attempts_by_model_{column}")
        db["attempts"].create_index(["failure", column, "started_at"], index_name=f"attempts_by_{column}")


def _enable_search(db: sqlite_utils.Database) -> None:
    db["messages"].enable_fts(["content"], create_triggers=True)
    db["conversations"].enable_fts(["title"], create_triggers=True)


# Ordered, named, applied once each when the store opens (the order is the schema version).
MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("create_v1", _create_v1),
    ("add_incognito", _add_incognito),
    ("create_feedback", _create_feedback),
    ("index_for_stats", _index_for_stats),
    ("enable_search", _enable_search),
    ("add_votes", _add_votes),
    ("add_conversation_settings", _add_conversation_settings),
    ("index_for_whole_store_stats", _index_for_whole_store_stats),
]

LIST_LIMIT = 200
RECENT_MATCHES = 5000
MIN_PREFIX = 3


@dataclass(frozen=True)
class StoredMessage:
    id: int
    role: str
    content: str
    status: str
    model_alias: str | None
    incognito: bool = False


@dataclass(frozen=True)
class ConversationSummary:
    """One row of the history list."""

    id: str
    title: str
    profile: str
    created_at: str
    updated_at: str
    models: tuple[str, ...]
    cost_usd: float
    incognito: bool
    snippet: str = ""
    """For a search: the matching passage of a prompt or reply, if the match was not in the title."""


@dataclass(frozen=True)
class HistoryFilter:
    """What the history list shows: a search and filters; empty fields filter nothing."""

    search: str = ""
    model: str | None = None
    profile: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = LIST_LIMIT


def utc_text(moment: datetime) -> str:
    """A moment in the form the store keeps timestamps, so comparing the text orders them."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _backup_path(path: Path, version: int) -> Path:
    return path.with_name(f"{path.name}.bak-v{version}")


def _attempt(row: sqlite3.Row) -> Attempt:
    """An attempt as the providers produced it, rebuilt from its stored row."""
    return Attempt(
        model_alias=row["model_alias"], model=row["model"], route=row["route"], reason=row["reason"],
        hop=row["hop"], started_at=datetime.fromisoformat(row["started_at"]).timestamp(),
        text=row["output"] or "",
        ttft_s=None if row["ttft_ms"] is None else row["ttft_ms"] / 1000,
        latency_s=None if row["latency_ms"] is None else row["latency_ms"] / 1000,
        input_tokens=row["input_tokens"], output_tokens=row["output_tokens"],
        tokens_estimated=bool(row["tokens_estimated"]), cost_usd=row["cost_usd"],
        price_source=row["price_source"], finish_reason=row["finish_reason"],
        failure=Failure(row["failure"]) if row["failure"] else None, error=row["error"])


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

    def _migrate(self) -> None:
        with self._write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
            done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        pending = [(name, apply) for name, apply in MIGRATIONS if name not in done]
        if not pending:
            return
        if done and str(self.path) != ":memory:" and self._has_history():
            self._backup(_backup_path(self.path, len(done)))
        with self._write() as conn:
            # Another process may have migrated between the two transactions.
            done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
            for name, apply in pending:
                if name not in done:
                    apply(self.db)
                    conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, _now()))

    def _has_history(self) -> bool:
        return self.db["conversations"].exists() and \
            self.db.execute("SELECT EXISTS (SELECT 1 FROM conversations)").fetchone()[0] == 1

    def _backup(self, target: Path) -> None:
        """A consistent copy of the store as it was, taken before a migration changes it."""
        if target.exists():
            return
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
        copy = sqlite3.connect(str(target))
        try:
            with self._lock:
                self.db.conn.backup(copy)
        finally:
            copy.close()

    @property
    def schema_version(self) -> int:
        return self.db.execute("SELECT count(*) FROM _migrations").fetchone()[0]

    # Writes -----------------------------------------------------------------------------------

    def start_turn(self, conversation_id: str | None, prompt: str, profile: str,
                   incognito: bool = False) -> tuple[str, int]:
        """Save the user's prompt before any call is made; returns (conversation id, message id).

        Incognito keeps the row (so costs and counts add up) but not the text, nor a title made from it.
        """
        now = _now()
        with self._write() as conn:
            if conversation_id is not None and not conn.execute(
                    "UPDATE conversations SET updated_at = ?, incognito = max(incognito, ?) WHERE id = ?",
                    (now, int(incognito), conversation_id)).rowcount:
                # Deleted from the history screen while open in the chat: carry on in a new one.
                conversation_id = None
            if conversation_id is None:
                conversation_id = uuid.uuid4().hex
                title = "" if incognito else " ".join(prompt.split())[:80]
                conn.execute("INSERT INTO conversations (id, title, profile, created_at, updated_at, incognito) "
                             "VALUES (?,?,?,?,?,?)", (conversation_id, title, profile, now, now, int(incognito)))
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, status, created_at, updated_at, incognito) "
                "VALUES (?, 'user', ?, 'complete', ?, ?, ?)",
                (conversation_id, "" if incognito else prompt, now, now, int(incognito)))
            return conversation_id, cursor.lastrowid

    def start_reply(self, conversation_id: str, incognito: bool = False) -> int:
        now = _now()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, status, created_at, updated_at, incognito) "
                "VALUES (?, 'assistant', '', 'streaming', ?, ?, ?)", (conversation_id, now, now, int(incognito)))
            return cursor.lastrowid

    def save_reply(self, message_id: int, content: str, status: str, model_alias: str | None = None) -> None:
        """Called while streaming (status 'streaming') so a crash keeps the partial text, and at the end.
        An incognito message keeps no text, whoever calls this."""
        with self._write() as conn:
            conn.execute("UPDATE messages SET content = CASE WHEN incognito THEN '' ELSE ? END, status = ?, "
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
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._write() as conn:
            incognito = conn.execute("SELECT incognito FROM messages WHERE id = ?", (prompt_message_id,)).fetchone()
            if incognito and incognito[0]:
                # Provider errors can quote the request, so they go with the text.
                row["output"], row["error"] = "", None
            cursor = conn.execute(f"INSERT INTO attempts ({columns}) VALUES ({marks})", tuple(row.values()))
            return cursor.lastrowid

    def record_feedback(self, message_id: int, good: bool) -> None:
        """The user's verdict on a reply; a second verdict on the same reply replaces the first."""
        with self._write() as conn:
            found = conn.execute(
                "SELECT m.conversation_id, m.model_alias, "
                "(SELECT route FROM attempts WHERE reply_message_id = m.id ORDER BY hop DESC LIMIT 1) "
                "FROM messages m WHERE m.id = ? AND m.role = 'assistant'", (message_id,)).fetchone()
            if found is None:
                raise StoreError(f"message {message_id} is not a reply in this history")
            conn.execute("INSERT INTO feedback (message_id, conversation_id, model_alias, route, good, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO UPDATE SET good = excluded.good, "
                         "created_at = excluded.created_at", (message_id, *found, int(good), _now()))

    def record_vote(self, vote: Vote) -> int:
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO votes (created_at, conversation_id, prompt_message_id, outcome, winner_model_alias, "
                "models, reply_message_ids, route, category, blind) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (_now(), vote.conversation_id, vote.prompt_message_id, vote.outcome.value, vote.winner_model_alias,
                 json.dumps(list(vote.models)), json.dumps(list(vote.reply_message_ids)), vote.route,
                 vote.category, int(vote.blind)))
            return cursor.lastrowid

    def choose_reply(self, prompt_message_id: int, message_id: int) -> None:
        """Make one reply the prompt's answer in the conversation; its other finished replies become
        'compared', which keeps them in history but out of later turns' context."""
        with self._write() as conn:
            conn.execute(
                "UPDATE messages SET status = 'compared', updated_at = ? WHERE status = 'complete' AND id IN "
                "(SELECT reply_message_id FROM attempts WHERE prompt_message_id = ?)", (_now(), prompt_message_id))
            conn.execute("UPDATE messages SET status = 'complete', updated_at = ? WHERE id = ?", (_now(), message_id))

    def save_settings(self, conversation_id: str, settings: TurnSettings, incognito: bool = False) -> None:
        """An incognito turn keeps the temperature but not its system prompt (it is text); the one stored
        by earlier turns stays, so a conversation with one incognito turn keeps its system prompt."""
        with self._write() as conn:
            conn.execute("UPDATE conversations SET system_prompt = CASE ? WHEN 0 THEN ? ELSE system_prompt END, "
                         "temperature = ? WHERE id = ?",
                         (int(incognito), settings.system, settings.temperature, conversation_id))

    def settings(self, conversation_id: str) -> TurnSettings:
        row = self.db.execute("SELECT system_prompt, temperature FROM conversations WHERE id = ?",
                              (conversation_id,)).fetchone()
        return TurnSettings(row[0], row[1]) if row else TurnSettings()

    def replace_turn(self, conversation_id: str, prompt_message_id: int) -> None:
        """Take a conversation's last turn (the prompt and its replies) out of its context, keeping it in
        history as 'replaced': the user edited the prompt or asked another model."""
        with self._write() as conn:
            conn.execute("UPDATE messages SET status = 'replaced', updated_at = ? WHERE conversation_id = ? "
                         "AND id >= ?", (_now(), conversation_id, prompt_message_id))

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (" ".join(title.split()), conversation_id))

    def delete_conversation(self, conversation_id: str) -> None:
        with self._write() as conn:
            self._delete(conn, "WHERE conversation_id = ?", "WHERE id = ?", (conversation_id,))

    def purge(self) -> int:
        """Delete every conversation and the pre-migration backups, then compact the file so deleted
        text does not linger in free pages or the write-ahead log; returns how many there were."""
        with self._write() as conn:
            count = conn.execute("SELECT count(*) FROM conversations").fetchone()[0]
            self._delete(conn, "", "", ())
            # Deleting from an FTS5 index only records the deletion; a rebuild drops the old terms.
            for table in ("messages_fts", "conversations_fts"):
                conn.execute(f"INSERT INTO {table} ({table}) VALUES ('rebuild')")
        with self._lock:
            self.db.conn.execute("VACUUM")
            self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for backup in self.backups():
            backup.unlink(missing_ok=True)
        return count

    def backups(self) -> list[Path]:
        """Copies taken before migrations, holding history as it was."""
        return sorted(self.path.parent.glob(f"{self.path.name}.bak-v*")) if str(self.path) != ":memory:" else []

    def _delete(self, conn: sqlite3.Connection, by_conversation: str, by_id: str, params: tuple) -> None:
        # Children first: foreign keys are enforced. The side-by-side `votes` table is another
        # feature's and may not exist yet.
        children = ["feedback"] + (["votes"] if self.db["votes"].exists() else []) + ["attempts", "messages"]
        for table in children:
            conn.execute(f"DELETE FROM {table} {by_conversation}", params)
        conn.execute(f"DELETE FROM conversations {by_id}", params)

    # Reads ------------------------------------------------------------------------------------

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        """Read-only SQL for the stats and export modules, under the store's lock."""
        with self._lock:
            cursor = self.db.conn.cursor()
            cursor.row_factory = sqlite3.Row
            return cursor.execute(sql, params).fetchall()

    def has_table(self, name: str) -> bool:
        return self.db[name].exists()

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        with self._lock:
            rows = self.db.execute("SELECT id, role, content, status, model_alias, incognito FROM messages "
                                   "WHERE conversation_id = ? ORDER BY id", (conversation_id,)).fetchall()
        return [StoredMessage(*row[:5], incognito=bool(row[5])) for row in rows]

    def attempts(self, conversation_id: str) -> list[dict]:
        with self._lock:
            return list(self.db.query("SELECT * FROM attempts WHERE conversation_id = ? ORDER BY id",
                                      (conversation_id,)))

    def final_attempts(self, conversation_id: str) -> dict[int, Attempt]:
        """The attempt that produced each reply (the last hop), keyed by the reply's message id."""
        rows = self.query("SELECT * FROM attempts WHERE conversation_id = ? AND reply_message_id IS NOT NULL "
                          "ORDER BY reply_message_id, hop, id", (conversation_id,))
        return {row["reply_message_id"]: _attempt(row) for row in rows}

    def conversation_cost(self, conversation_id: str) -> float:
        with self._lock:
            row = self.db.execute("SELECT coalesce(sum(cost_usd), 0) FROM attempts WHERE conversation_id = ?",
                                  (conversation_id,)).fetchone()
        return row[0]

    def cost_since(self, since: datetime) -> float:
        with self._lock:
            row = self.db.execute("SELECT coalesce(sum(cost_usd), 0) FROM attempts WHERE started_at >= ?",
                                  (utc_text(since),)).fetchone()
        return row[0]

    def today_cost(self) -> float:
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        return self.cost_since(midnight)

    def latest_conversation(self) -> str | None:
        with self._lock:
            row = self.db.execute("SELECT id FROM conversations ORDER BY updated_at DESC, rowid DESC LIMIT 1")\
                .fetchone()
        return row[0] if row else None

    def conversation_count(self) -> int:
        return self.query("SELECT count(*) FROM conversations")[0][0]

    def conversation(self, conversation_id: str) -> ConversationSummary | None:
        found = self._summaries("WHERE c.id = ?", [conversation_id], 1)
        return found[0] if found else None

    def conversations(self, wanted: HistoryFilter = HistoryFilter()) -> list[ConversationSummary]:
        """The history list, most recently active first; a search matches titles, prompts and replies."""
        where, params = [], []
        if wanted.profile:
            where.append("c.profile = ?")
            params.append(wanted.profile)
        if wanted.since:
            where.append("c.updated_at >= ?")
            params.append(utc_text(wanted.since))
        if wanted.until:
            where.append("c.updated_at < ?")
            params.append(utc_text(wanted.until))
        if wanted.model:
            where.append("EXISTS (SELECT 1 FROM attempts a WHERE a.model_alias = ? AND a.conversation_id = c.id "
                         "AND a.failure IS NULL)")
            params.append(wanted.model)
        query = self._fts_query(wanted.search)
        if not query:
            return [] if wanted.search.strip() else self._summaries(self._where(where), params, wanted.limit)
        matching = ("(c.rowid IN (SELECT rowid FROM conversations_fts WHERE conversations_fts MATCH ?) "
                    "OR c.id IN (SELECT m.conversation_id FROM messages m WHERE m.id IN "
                    "(SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid DESC {cap})))")
        # A common word matches most messages: first look among the most recent matches only, and
        # search them all when that does not fill the page.
        summaries = self._summaries(self._where(where + [matching.format(cap=f"LIMIT {RECENT_MATCHES}")]),
                                    params + [query, query], wanted.limit)
        if len(summaries) < wanted.limit:
            summaries = self._summaries(self._where(where + [matching.format(cap="")]), params + [query, query],
                                        wanted.limit)
        return self._with_snippets(summaries, query)

    @staticmethod
    def _where(conditions: list[str]) -> str:
        return f"WHERE {' AND '.join(conditions)}" if conditions else ""

    def _fts_query(self, text: str) -> str:
        """User text as an FTS5 query of quoted terms, so quotes, AND, NEAR( and parentheses are
        just text; the last term (3 letters or more) matches as a prefix, so results follow the
        user as they type."""
        if not any(character.isalnum() for character in text):
            return ""  # only punctuation: FTS5 would read it as an empty phrase, matching everything
        quoted = self.db.quote_fts(text.replace("\x00", ""))
        # A prefix of one or two letters matches thousands of terms and costs seconds on a large store.
        last = text.split()[-1] if text.split() else ""
        if quoted and not text[-1:].isspace() and sum(c.isalnum() for c in last) >= MIN_PREFIX:
            quoted += "*"
        return quoted

    def _summaries(self, where: str, params: list, limit: int) -> list[ConversationSummary]:
        # The page is chosen first, then only its conversations are aggregated: the list costs the
        # same with 50 or 50,000 conversations behind it.
        rows = self.query(
            f"WITH page AS (SELECT c.*, c.rowid AS inserted FROM conversations c {where} "
            "ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?) "
            "SELECT page.*, (SELECT group_concat(model_alias, char(31)) FROM "
            "  (SELECT DISTINCT model_alias FROM attempts a WHERE a.conversation_id = page.id AND a.failure IS NULL)"
            ") AS models, (SELECT coalesce(sum(cost_usd), 0) FROM attempts a WHERE a.conversation_id = page.id) "
            "AS cost_usd FROM page ORDER BY page.updated_at DESC, page.inserted DESC", (*params, limit))
        return [ConversationSummary(
            id=row["id"], title=row["title"] or "", profile=row["profile"], created_at=row["created_at"],
            updated_at=row["updated_at"], models=tuple(sorted((row["models"] or "").split("\x1f"))) if row["models"]
            else (), cost_usd=row["cost_usd"], incognito=bool(row["incognito"])) for row in rows]

    def _with_snippets(self, summaries: list[ConversationSummary], query: str) -> list[ConversationSummary]:
        if not summaries:
            return summaries
        marks = ", ".join("?" for _ in summaries)
        rows = self.query(
            "SELECT m.conversation_id, snippet(messages_fts, 0, '', '', '…', 12) AS snippet "
            "FROM messages m JOIN messages_fts ON messages_fts.rowid = m.id "
            f"WHERE m.conversation_id IN ({marks}) AND messages_fts MATCH ? ORDER BY m.id",
            (*[s.id for s in summaries], query))
        snippets: dict[str, str] = {}
        for row in rows:
            snippets.setdefault(row["conversation_id"], row["snippet"])
        return [replace(s, snippet=snippets.get(s.id, "")) for s in summaries]

    def filter_choices(self) -> tuple[list[str], list[str]]:
        """The models that have answered and the profiles that have been used, for the list's filters."""
        models = [row[0] for row in self.query("SELECT DISTINCT model_alias FROM attempts ORDER BY model_alias")]
        profiles = [row[0] for row in self.query("SELECT DISTINCT profile FROM conversations ORDER BY profile")]
        return models, profiles

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
