"""The history schema as ordered, named migrations, each applied once when the store opens (their
count is the schema version). Every table, index and full-text index the store relies on is made here."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


def _create_v1(db: sqlite_utils.Database) -> None:
    db.table("conversations").create({
        "id": str, "title": str, "profile": str, "created_at": str, "updated_at": str,
    }, pk="id")
    db.table("messages").create({
        "id": int, "conversation_id": str, "role": str, "content": str,
        "status": str,  # complete | streaming | failed | cancelled
        "model_alias": str, "created_at": str, "updated_at": str,
    }, pk="id", foreign_keys=[("conversation_id", "conversations", "id")])
    db.table("attempts").create({
        "id": int, "conversation_id": str, "prompt_message_id": int, "reply_message_id": int, "hop": int,
        "model_alias": str, "model": str, "route": str, "reason": str, "decision": str,
        "started_at": str, "ttft_ms": float, "latency_ms": float, "tokens_per_s": float,
        "input_tokens": int, "output_tokens": int, "tokens_estimated": int,
        "cost_usd": float, "price_source": str, "finish_reason": str,
        "failure": str, "error": str, "output": str,
    }, pk="id", foreign_keys=[("conversation_id", "conversations", "id"),
                              ("prompt_message_id", "messages", "id"),
                              ("reply_message_id", "messages", "id")])
    db.table("messages").create_index(["conversation_id", "id"])
    db.table("attempts").create_index(["conversation_id"])
    db.table("attempts").create_index(["started_at"])


def _add_incognito(db: sqlite_utils.Database) -> None:
    # 1 on a message: its text was never stored; on a conversation: some of its text was withheld.
    db.table("conversations").add_column("incognito", int, not_null_default=0)
    db.table("messages").add_column("incognito", int, not_null_default=0)


def _create_feedback(db: sqlite_utils.Database) -> None:
    db.table("feedback").create({
        "id": int, "message_id": int, "conversation_id": str, "model_alias": str, "route": str,
        "good": int, "created_at": str,
    }, pk="id", foreign_keys=[("message_id", "messages", "id"), ("conversation_id", "conversations", "id")])
    db.table("feedback").create_index(["message_id"], unique=True)


def _index_for_stats(db: sqlite_utils.Database) -> None:
    db.table("conversations").create_index(["updated_at"])
    db.table("conversations").create_index(["profile"])
    db.table("attempts").create_index(["model_alias", "conversation_id"])
    db.table("attempts").create_index(["prompt_message_id"])
    db.table("attempts").create_index(["reply_message_id"])
    # Covers every column the stats read, so they scan this narrow index, not rows that carry
    # whole replies; started_at first makes --since a range.
    db.table("attempts").create_index(
        ["started_at", "model_alias", "route", "prompt_message_id", "hop", "failure", "cost_usd", "input_tokens",
         "output_tokens", "ttft_ms", "latency_ms"], index_name=ATTEMPTS_BY_TIME)


def _add_votes(db: sqlite_utils.Database) -> None:
    # `models` and `reply_message_ids` are parallel JSON lists, so a vote names the exact replies judged
    # even when one prompt was compared more than once.
    db.table("votes").create({
        "id": int, "created_at": str, "conversation_id": str, "prompt_message_id": int,
        "outcome": str,  # win | tie | all_bad
        "winner_model_alias": str, "models": str, "reply_message_ids": str,
        "route": str, "category": str, "blind": int,
    }, pk="id", foreign_keys=[("conversation_id", "conversations", "id"),
                              ("prompt_message_id", "messages", "id")])
    db.table("votes").create_index(["category"])


def _add_conversation_settings(db: sqlite_utils.Database) -> None:
    # What the user set for a conversation, so that continuing it from history sends what it sent before.
    db.table("conversations").add_column("system_prompt", str, not_null_default="")
    db.table("conversations").add_column("temperature", float)


def _index_for_whole_store_stats(db: sqlite_utils.Database) -> None:
    # Over the whole history, sorting 100k attempts to group or rank them was most of the stats' time.
    # These indexes hand the rows over already in order: per model and route for the totals, and by
    # latency within a model (and overall) so that a percentile is one seek to its rank.
    db.table("attempts").create_index(
        ["model_alias", "route", "started_at", "failure", "hop", "cost_usd", "input_tokens", "output_tokens"],
        index_name=ATTEMPTS_BY_MODEL_ROUTE)
    for column in ("ttft_ms", "latency_ms"):
        db.table("attempts").create_index(["model_alias", "failure", column, "started_at"],
                                    index_name=attempts_by_model(column))
        db.table("attempts").create_index(["failure", column, "started_at"], index_name=attempts_by(column))


def _enable_search(db: sqlite_utils.Database) -> None:
    db.table("messages").enable_fts(["content"], create_triggers=True)
    db.table("conversations").enable_fts(["title"], create_triggers=True)


def _index_search_prefixes(db: sqlite_utils.Database) -> None:
    # Search as you type ends in a prefix ("bib*"). Without prefix indexes FTS5 merges the whole
    # posting list of every term that starts with it before it can return the newest match (200 ms for
    # a common prefix on 160k messages); with them, a prefix of 3 to 6 letters is one posting list read
    # lazily, newest first. The triggers sqlite-utils made keep both tables in step, as before.
    for table, column in (("messages", "content"), ("conversations", "title")):
        fts = f"{table}_fts"
        db.execute(f"DROP TABLE [{fts}]")
        db.execute(f"CREATE VIRTUAL TABLE [{fts}] USING fts5 ([{column}], content=[{table}], "
                   f"prefix='{' '.join(str(n) for n in SEARCH_PREFIXES)}')")
        db.execute(f"INSERT INTO [{fts}] ([{fts}]) VALUES ('rebuild')")


def _index_attempts_by_reply_and_conversation(db: sqlite_utils.Database) -> None:
    # Attempt rows carry whole replies, so every row read to aggregate is a page read. These indexes
    # cover what is read per reply (which model answered it, which hops retried a model already
    # tried: the fallback and retry counts) and per conversation (the history list's models and cost,
    # its model filter), and take over from the single-column indexes they start with.
    db.table("attempts").create_index(["reply_message_id", "model_alias", "hop", "failure", "started_at"],
                                index_name=ATTEMPTS_BY_REPLY)
    db.table("attempts").create_index(["conversation_id", "failure", "model_alias", "cost_usd"],
                                index_name="attempts_by_conversation")
    db.execute("DROP INDEX idx_attempts_reply_message_id")
    db.execute("DROP INDEX idx_attempts_conversation_id")
    # The totals' pass also counts each model's timed successes (the percentiles' ranks), so this
    # index gains the columns that reads.
    db.execute(f"DROP INDEX {ATTEMPTS_BY_MODEL_ROUTE}")
    db.table("attempts").create_index(
        ["model_alias", "route", "started_at", "failure", "hop", "cost_usd", "input_tokens", "output_tokens",
         "ttft_ms", "latency_ms"], index_name=ATTEMPTS_BY_MODEL_ROUTE)


def _mark_retries_and_fallbacks(db: sqlite_utils.Database) -> None:
    # Counting retries and fallbacks meant grouping every reply's attempts by model: a second pass over
    # every attempt, most of the stats' time on a large store. Each attempt now says what it was when it
    # is recorded (`Store.record_attempt`), and the totals' index carries both flags. Here, the attempts
    # recorded before: a retry is an attempt on a model already tried (an earlier row) for its reply; a
    # fallback, an attempt on a model other than the reply's first (lowest hop). Only the rows flagged
    # are rewritten: they carry whole replies.
    for column in ("retry", "fallback"):
        db.table("attempts").add_column(column, int, not_null_default=0)
    db.execute("UPDATE attempts AS a SET retry = 1 WHERE reply_message_id IS NOT NULL AND EXISTS (SELECT 1 "
               "FROM attempts b WHERE b.reply_message_id = a.reply_message_id AND b.model_alias = a.model_alias "
               "AND b.id < a.id)")
    db.execute("UPDATE attempts AS a SET fallback = 1 WHERE reply_message_id IS NOT NULL AND (SELECT model_alias "
               "FROM attempts b WHERE b.reply_message_id = a.reply_message_id ORDER BY hop, id LIMIT 1) "
               "!= a.model_alias")
    db.execute(f"DROP INDEX {ATTEMPTS_BY_MODEL_ROUTE}")
    db.table("attempts").create_index(
        ["model_alias", "route", "started_at", "failure", "hop", "cost_usd", "input_tokens", "output_tokens",
         "ttft_ms", "latency_ms", "retry", "fallback"], index_name=ATTEMPTS_BY_MODEL_ROUTE)


# Index names the queries name in INDEXED BY: the planner's choice between these covering indexes
# depends on statistics a fresh store lacks.
ATTEMPTS_BY_TIME = "attempts_for_stats"
ATTEMPTS_BY_MODEL_ROUTE = "attempts_by_model_route"
ATTEMPTS_BY_REPLY = "attempts_by_reply"
ATTEMPTS_CHECKED = "attempts_checked"
SEARCH_PREFIXES = (3, 4, 5, 6)


def attempts_by_model(column: str) -> str:
    return f"attempts_by_model_{column}"


def attempts_by(column: str) -> str:
    return f"attempts_by_{column}"


def _add_measurements(db: sqlite_utils.Database) -> None:
    # Set-up before the request left (not part of TTFT); a 429's Retry-After, so a later run honours
    # it; cached input tokens read and written, priced at the cache rates.
    for column, kind in (("setup_ms", float), ("retry_after_s", float), ("cached_input_tokens", int),
                         ("cache_write_tokens", int)):
        db.table("attempts").add_column(column, kind)


def _index_for_drift_and_budgets(db: sqlite_utils.Database) -> None:
    # Drift reads each model's latest attempts, newest first; a budget sums a profile's spend since the
    # start of the day or month. Both are covered by an index in that order, so neither touches the rows
    # (which carry whole replies) nor grows with the size of the store.
    db.table("attempts").create_index(["model_alias", "started_at", "failure", "ttft_ms", "latency_ms",
                                       "output_tokens"], index_name=ATTEMPTS_FOR_DRIFT)
    db.table("attempts").create_index(["started_at", "conversation_id", "model_alias", "cost_usd"],
                                      index_name=ATTEMPTS_FOR_SPEND)


ATTEMPTS_FOR_DRIFT = "attempts_for_drift"
ATTEMPTS_FOR_SPEND = "attempts_for_spend"
def _add_assignments(db: sqlite_utils.Database) -> None:
    # Which experiment arm each reply was assigned to (chosen before it was asked), so marks, votes and
    # costs can be joined to arms. The arm's label keeps its settings (`fast@temperature=1.2`).
    db.table("assignments").create({
        "reply_message_id": int, "conversation_id": str, "prompt_message_id": int, "experiment": str, "arm": str,
        "route": str, "profile": str, "created_at": str,
    }, pk="reply_message_id", foreign_keys=[("reply_message_id", "messages", "id"),
                                            ("conversation_id", "conversations", "id"),
                                            ("prompt_message_id", "messages", "id")])
    # Each arm's traffic is counted on the first, when the experiment began is read from the second.
    db.table("assignments").create_index(["experiment", "arm"])
    db.table("assignments").create_index(["experiment", "created_at"])
    db.table("assignments").create_index(["conversation_id"])


def _add_escalation(db: sqlite_utils.Database) -> None:
    # A cascade's stage and its checks' verdict on each answer, and which calls graded an answer (a judge)
    # rather than gave one: the totals' index carries `purpose`, since a judge's call is neither a turn nor
    # an answer.
    db.table("attempts").add_column("stage", int, not_null_default=0)
    for column in ("verdict", "check_detail", "purpose"):
        db.table("attempts").add_column(column, str)
    db.execute(f"DROP INDEX {ATTEMPTS_BY_MODEL_ROUTE}")
    db.table("attempts").create_index(
        ["model_alias", "route", "started_at", "failure", "hop", "cost_usd", "input_tokens", "output_tokens",
         "ttft_ms", "latency_ms", "retry", "fallback", "purpose"], index_name=ATTEMPTS_BY_MODEL_ROUTE)
    # The escalation rates and cost per successful task read the checked answers only: a partial index,
    # empty without cascades.
    db.execute(f"CREATE INDEX {ATTEMPTS_CHECKED} ON attempts (reply_message_id, id, started_at, model_alias, route, "
               "stage, verdict, purpose) WHERE verdict IS NOT NULL")


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("create_v1", _create_v1),
    ("add_incognito", _add_incognito),
    ("create_feedback", _create_feedback),
    ("index_for_stats", _index_for_stats),
    ("enable_search", _enable_search),
    ("add_votes", _add_votes),
    ("add_conversation_settings", _add_conversation_settings),
    ("index_for_whole_store_stats", _index_for_whole_store_stats),
    ("index_search_prefixes", _index_search_prefixes),
    ("index_attempts_by_reply_and_conversation", _index_attempts_by_reply_and_conversation),
    ("add_measurements", _add_measurements),
    ("mark_retries_and_fallbacks", _mark_retries_and_fallbacks),
    ("index_for_drift_and_budgets", _index_for_drift_and_budgets),
    ("add_assignments", _add_assignments),
    ("add_escalation", _add_escalation),
]
