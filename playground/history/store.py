"""History in SQLite: conversations, messages and every attempt, safe across threads and processes.

The locking rule, for every statement: the store owns one connection and one lock; a read runs
under the lock (`read()`), a write under the lock inside BEGIN IMMEDIATE (`_write()`). A reader on a
worker thread therefore never sees another thread's uncommitted write, and no two threads share the
connection at once. The schema is in `migrations`, the reads in `queries`; this module holds the writes."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from playground.base.records import Attempt, Cost, Failure, Outcome, TurnSettings, Vote
from playground.history import queries
from playground.history.migrations import MIGRATIONS
from playground.history.records import ArmOutcomes, ConversationSummary, HistoryFilter, StoredMessage

T = TypeVar("T")
MIN_PREFIX = 3
EVERYTHING = HistoryFilter()
MMAP_BYTES = 1 << 30


class StoreError(Exception):
    """The history database cannot be used; the message says which file and why."""


INTERRUPTED_ERROR = "the process ended before the attempt finished"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _row_id(cursor: sqlite3.Cursor) -> int:
    """The id an INSERT just gave its row (sqlite3 types it Optional for statements that insert nothing)."""
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


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
        failure=Failure(row["failure"]) if row["failure"] else None, error=row["error"],
        setup_s=None if row["setup_ms"] is None else row["setup_ms"] / 1000, retry_after_s=row["retry_after_s"],
        cached_input_tokens=row["cached_input_tokens"], cache_write_tokens=row["cache_write_tokens"],
        stage=row["stage"], verdict=row["verdict"], check_detail=row["check_detail"], purpose=row["purpose"])


def _summary(row: sqlite3.Row) -> ConversationSummary:
    return ConversationSummary(
        id=row["id"], title=row["title"] or "", profile=row["profile"], created_at=row["created_at"],
        updated_at=row["updated_at"], models=tuple(sorted(row["models"].split("\x1f"))) if row["models"] else (),
        cost_usd=None if row["unpriced"] else row["cost_usd"], incognito=bool(row["incognito"]),
        cost_known_usd=row["cost_usd"])


class Store:
    """Owns one connection and its lock (see the module's locking rule); writes run in BEGIN IMMEDIATE, so
    threads and other processes never hit "database is locked" on a read-then-write."""

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
                # Reads map the file instead of copying pages through read(): a search or the history
                # list touches a few hundred scattered rows, and each copy was most of its cost.
                conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
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
        if str(self.path) != ":memory:":
            # A migration that rebuilds an index writes it all to the write-ahead log; fold it into the
            # file now so that reads do not go through a log the size of the index.
            with self._lock:
                self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _has_history(self) -> bool:
        with self._lock:
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

    def read(self, query: Callable[..., T], *args) -> T:
        """Run one of `queries` (a function of a cursor whose rows read by column name) under the lock."""
        with self._lock:
            cursor = self.db.conn.cursor()
            cursor.row_factory = sqlite3.Row
            try:
                return query(cursor, *args)
            finally:
                cursor.close()

    @property
    def schema_version(self) -> int:
        return self.read(queries.schema_version)

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
            return conversation_id, _row_id(cursor)

    def start_reply(self, conversation_id: str, incognito: bool = False) -> int:
        now = _now()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, status, created_at, updated_at, incognito) "
                "VALUES (?, 'assistant', '', 'streaming', ?, ?, ?)", (conversation_id, now, now, int(incognito)))
            return _row_id(cursor)

    def save_reply(self, message_id: int, content: str, status: str, model_alias: str | None = None) -> None:
        """Called while streaming (status 'streaming') so a crash keeps the partial text, and at the end.
        An incognito message keeps no text, whoever calls this."""
        with self._write() as conn:
            conn.execute("UPDATE messages SET content = CASE WHEN incognito THEN '' ELSE ? END, status = ?, "
                         "model_alias = coalesce(?, model_alias), updated_at = ? WHERE id = ?",
                         (content, status, model_alias, _now(), message_id))

    def start_attempt(self, attempt: Attempt, conversation_id: str, prompt_message_id: int,
                      reply_message_id: int | None, decision: dict | None) -> int:
        """The attempt's row as soon as it starts, marked interrupted until `record_attempt` finishes
        it: a process killed mid-call still leaves a row. The reply is credited to this model now."""
        pending = replace(attempt, failure=Failure.INTERRUPTED, error=INTERRUPTED_ERROR)
        attempt_id = self.record_attempt(pending, conversation_id, prompt_message_id, reply_message_id, decision)
        if reply_message_id is not None:
            with self._write() as conn:
                conn.execute("UPDATE messages SET model_alias = ? WHERE id = ? AND status = 'streaming'",
                             (attempt.model_alias, reply_message_id))
        return attempt_id

    def finish_interrupted(self, older_than_s: float) -> int:
        """Close what a killed process left open (replies still 'streaming' with no write for
        `older_than_s`): its attempts keep the partial text as output, the replies become
        'interrupted'. Returns how many replies were closed."""
        cutoff = _iso(datetime.now(UTC).timestamp() - older_than_s)
        with self._write() as conn:
            stale = [row[0] for row in conn.execute(
                "SELECT id FROM messages WHERE role = 'assistant' AND status = 'streaming' AND updated_at < ?",
                (cutoff,))]
            for message_id in stale:
                conn.execute(
                    "UPDATE attempts SET output = (SELECT content FROM messages WHERE id = ?) "
                    "WHERE id = (SELECT max(id) FROM attempts WHERE reply_message_id = ?) AND failure = ?",
                    (message_id, message_id, Failure.INTERRUPTED.value))
                conn.execute("UPDATE messages SET status = 'interrupted', updated_at = ? WHERE id = ?",
                             (_now(), message_id))
        return len(stale)

    def record_attempt(self, attempt: Attempt, conversation_id: str, prompt_message_id: int,
                       reply_message_id: int | None, decision: dict | None, attempt_id: int | None = None) -> int:
        """Insert the attempt's row, or complete the one `start_attempt` made (`attempt_id`)."""
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
            "output": attempt.text, "setup_ms": None if attempt.setup_s is None else attempt.setup_s * 1000,
            "retry_after_s": attempt.retry_after_s, "cached_input_tokens": attempt.cached_input_tokens,
            "cache_write_tokens": attempt.cache_write_tokens, "stage": attempt.stage, "verdict": attempt.verdict,
            "check_detail": attempt.check_detail, "purpose": attempt.purpose,
        }
        with self._write() as conn:
            incognito = conn.execute("SELECT incognito FROM messages WHERE id = ?", (prompt_message_id,)).fetchone()
            if incognito and incognito[0]:
                # Provider errors can quote the request, so they go with the text.
                row["output"], row["error"] = "", None
            if attempt_id is not None:
                assignments = ", ".join(f"{column} = ?" for column in row if column != "decision")
                values = [value for column, value in row.items() if column != "decision"]
                conn.execute(f"UPDATE attempts SET {assignments} WHERE id = ?", (*values, attempt_id))
                return attempt_id
            # What the stats count: a retry tries a model already tried for this reply; a fallback, a model
            # other than the first of the reply's cascade stage (an escalation is not a fallback). Set once,
            # when the row is made.
            tried = conn.execute("SELECT model_alias, stage FROM attempts WHERE reply_message_id = ? ORDER BY hop, id",
                                 (reply_message_id,)).fetchall()
            in_stage = [alias for alias, stage in tried if stage == attempt.stage]
            row["retry"] = int(any(alias == attempt.model_alias for alias, _ in tried))
            row["fallback"] = int(bool(in_stage) and in_stage[0] != attempt.model_alias)
            cursor = conn.execute(f"INSERT INTO attempts ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                                  tuple(row.values()))
            return _row_id(cursor)

    def record_verdict(self, attempt_id: int, verdict: str, detail: str) -> None:
        """A cascade's checks on an answer already recorded: pass or fail, and why. A detail can quote the
        answer (a schema error names the value), so an incognito turn keeps only the check's name."""
        with self._write() as conn:
            conn.execute("UPDATE attempts SET verdict = ?, check_detail = CASE WHEN (SELECT incognito FROM messages "
                         "WHERE id = attempts.prompt_message_id) THEN ? ELSE ? END WHERE id = ?",
                         (verdict, detail.split(":")[0], detail, attempt_id))

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

    def record_assignment(self, reply_message_id: int, conversation_id: str, prompt_message_id: int,
                          experiment: str, arm: str, route: str, profile: str) -> None:
        """The experiment arm a reply was assigned to (before it was asked: a fallback's answer still counts
        for the arm, as an A/B test counts by assignment)."""
        with self._write() as conn:
            conn.execute("INSERT INTO assignments (reply_message_id, conversation_id, prompt_message_id, experiment, "
                         "arm, route, profile, created_at) VALUES (?,?,?,?,?,?,?,?)",
                         (reply_message_id, conversation_id, prompt_message_id, experiment, arm, route, profile,
                          _now()))

    def record_vote(self, vote: Vote) -> int:
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO votes (created_at, conversation_id, prompt_message_id, outcome, winner_model_alias, "
                "models, reply_message_ids, route, category, blind) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (_now(), vote.conversation_id, vote.prompt_message_id, vote.outcome.value, vote.winner_model_alias,
                 json.dumps(list(vote.models)), json.dumps(list(vote.reply_message_ids)), vote.route,
                 vote.category, int(vote.blind)))
            return _row_id(cursor)

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
        # Children first: foreign keys are enforced.
        for table in ("feedback", "votes", "assignments", "attempts", "messages"):
            conn.execute(f"DELETE FROM {table} {by_conversation}", params)
        conn.execute(f"DELETE FROM conversations {by_id}", params)

    # Reads: each one query, run by read() --------------------------------------------------------

    def settings(self, conversation_id: str) -> TurnSettings:
        row = self.read(queries.settings, conversation_id)
        return TurnSettings(row["system_prompt"], row["temperature"]) if row else TurnSettings()

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        return [StoredMessage(row["id"], row["role"], row["content"], row["status"], row["model_alias"],
                              incognito=bool(row["incognito"])) for row in self.read(queries.messages, conversation_id)]

    def attempts(self, conversation_id: str) -> list[dict]:
        return [dict(row) for row in self.read(queries.attempts, conversation_id)]

    def final_attempts(self, conversation_id: str) -> dict[int, Attempt]:
        """The attempt that produced each reply (the last hop), keyed by the reply's message id."""
        return {row["reply_message_id"]: _attempt(row) for row in self.read(queries.final_attempts, conversation_id)}

    def conversation_cost(self, conversation_id: str) -> Cost:
        return self.read(queries.conversation_cost, conversation_id)

    def cost_since(self, since: datetime) -> Cost:
        return self.read(queries.cost_since, since)

    def today_cost(self) -> Cost:
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        return self.cost_since(midnight)

    def latest_conversation(self) -> str | None:
        return self.read(queries.latest_conversation)

    def conversation_count(self) -> int:
        return self.read(queries.conversation_count)

    def conversation(self, conversation_id: str) -> ConversationSummary | None:
        found = self.read(queries.summaries, ["c.id = ?"], [conversation_id], 1)
        return _summary(found[0]) if found else None

    def conversations_by_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        """Up to `limit` ids that start with `prefix`, in id order: one is a unique match."""
        return self.read(queries.conversations_by_prefix, prefix, limit) if prefix else []

    def conversations(self, wanted: HistoryFilter = EVERYTHING) -> list[ConversationSummary]:
        """The history list, most recently active first; a search matches titles, prompts and replies."""
        where, params = queries.list_filters(wanted.profile, wanted.since, wanted.until, wanted.model)
        query = self._fts_query(wanted.search)
        if not query:
            if wanted.search.strip():
                return []
            return [_summary(row) for row in self.read(queries.summaries, where, params, wanted.limit)]
        found, snippets = self.read(queries.search, query, where, params, wanted.limit)
        return [replace(_summary(row), snippet=snippets.get(row["id"], "")) for row in found]

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

    def filter_choices(self) -> tuple[list[str], list[str]]:
        """The models that have answered and the profiles that have been used, for the list's filters."""
        return self.read(queries.filter_choices)

    def recent_attempts(self, limit: int = 1000) -> list[Attempt]:
        """The newest attempts, oldest first, to seed latency and error estimates at start-up."""
        attempts = []
        for row in reversed(self.read(queries.recent_attempts, limit)):
            ttft, latency, failure = row["ttft_ms"], row["latency_ms"], row["failure"]
            attempts.append(Attempt(
                row["model_alias"], row["model"], row["route"] or "", row["reason"] or "", row["hop"] or 0,
                datetime.fromisoformat(row["started_at"]).timestamp(),
                ttft_s=None if ttft is None else ttft / 1000, latency_s=None if latency is None else latency / 1000,
                output_tokens=row["output_tokens"], failure=Failure(failure) if failure in Failure._value2member_map_
                else (Failure.UNKNOWN if failure else None), retry_after_s=row["retry_after_s"]))
        return attempts

    def feedback(self, message_id: int) -> dict | None:
        row = self.read(queries.feedback, message_id)
        return dict(row) if row else None

    def feedback_marks(self) -> list[tuple[str | None, str | None, bool]]:
        """Every good/bad mark as (route, model alias, good)."""
        return [(row["route"], row["model_alias"], bool(row["good"])) for row in self.read(queries.feedback_marks)]

    def votes(self) -> list[Vote]:
        return [Vote(r["conversation_id"], r["prompt_message_id"], Outcome(r["outcome"]), r["winner_model_alias"],
                     tuple(json.loads(r["models"])), tuple(json.loads(r["reply_message_ids"])), r["route"],
                     r["category"], bool(r["blind"])) for r in self.read(queries.votes)]

    def experiment_assigned(self, experiment: str) -> dict[str, int]:
        """Replies assigned to each arm (by label)."""
        return {row["arm"]: row["replies"] for row in self.read(queries.experiment_assigned, experiment)}

    def experiment_started(self, experiment: str) -> str | None:
        """When its first reply was assigned (stored UTC text); None before any."""
        return self.read(queries.experiment_started, experiment)

    def experiment_marks(self, experiment: str, with_cost: bool = True) -> dict[str, ArmOutcomes]:
        """Each arm's marked replies: a good mark is a success. Without `with_cost` no attempt row is read."""
        return _arm_outcomes(self.read(queries.experiment_marks, experiment, with_cost), with_cost)

    def experiment_checks(self, experiment: str, with_cost: bool = True) -> dict[str, ArmOutcomes]:
        """Each arm's replies whose first answer a cascade checked: a passing check is a success."""
        return _arm_outcomes(self.read(queries.experiment_checks, experiment, with_cost), with_cost)

    def experiment_votes(self, route: str, labels: list[str], since: str) -> list[dict]:
        """Compare votes on the route since `since` (stored UTC text), one row per compared label among
        `labels`: the label, the vote's outcome and winner, and what that label's reply cost."""
        return [dict(row) for row in self.read(queries.experiment_votes, route, labels, since)]

    def reply_costs(self, message_ids: list[int]) -> dict[int, tuple[float | None, float | None]]:
        """message id → (cost of every attempt behind the reply, None if any of theirs is unknown; latency
        of its last attempt in seconds)."""
        if not message_ids:
            return {}
        return {row["reply_message_id"]: (row["cost_usd"], None if row["latency_ms"] is None
                                          else row["latency_ms"] / 1000)
                for row in self.read(queries.reply_costs, message_ids)}


def _arm_outcomes(rows: list, with_cost: bool) -> dict[str, ArmOutcomes]:
    return {row["arm"]: ArmOutcomes(row["judged"], int(row["successes"]), row["unpriced"] if with_cost else 0,
                                    row["cost"], row["cost_squared"], row["cost_of_successes"])
            for row in rows}
