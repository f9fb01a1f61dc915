"""Every read of the history store, as functions of a cursor (rows by column name) that
`Store.read()` calls under the store's lock: the store's own reads, stats, export and tuning."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from playground.base.records import Cost
from playground.history.migrations import (
    ATTEMPTS_BY_MODEL_ROUTE,
    ATTEMPTS_BY_TIME,
    ATTEMPTS_CHECKED,
    ATTEMPTS_FOR_DRIFT,
    ATTEMPTS_FOR_SPEND,
    attempts_by,
    attempts_by_model,
)
from playground.history.records import utc_text

Cursor = sqlite3.Cursor
Rows = list[sqlite3.Row]


def _where(conditions: Sequence[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def _marks(values: Sequence) -> str:
    return ", ".join("?" for _ in values)


# The store's own ------------------------------------------------------------------------------

def schema_version(cursor: Cursor) -> int:
    return cursor.execute("SELECT count(*) FROM _migrations").fetchone()[0]


def settings(cursor: Cursor, conversation_id: str) -> sqlite3.Row | None:
    return cursor.execute("SELECT system_prompt, temperature FROM conversations WHERE id = ?",
                          (conversation_id,)).fetchone()


def messages(cursor: Cursor, conversation_id: str) -> Rows:
    return cursor.execute("SELECT id, role, content, status, model_alias, incognito FROM messages "
                          "WHERE conversation_id = ? ORDER BY id", (conversation_id,)).fetchall()


def attempts(cursor: Cursor, conversation_id: str) -> Rows:
    return cursor.execute("SELECT * FROM attempts WHERE conversation_id = ? ORDER BY id", (conversation_id,)).fetchall()


def final_attempts(cursor: Cursor, conversation_id: str) -> Rows:
    """Each reply's attempts in order, so the last one per reply is the one that produced it."""
    return cursor.execute("SELECT * FROM attempts WHERE conversation_id = ? AND reply_message_id IS NOT NULL "
                          "ORDER BY reply_message_id, hop, id", (conversation_id,)).fetchall()


# A sum of costs keeps its unknown part: (priced total, how many calls had no known price).
_COST = "total(cost_usd), count(*) - count(cost_usd)"


def conversation_cost(cursor: Cursor, conversation_id: str) -> Cost:
    return Cost(*cursor.execute(f"SELECT {_COST} FROM attempts WHERE conversation_id = ?",
                                (conversation_id,)).fetchone())


def cost_since(cursor: Cursor, since: datetime) -> Cost:
    return Cost(*cursor.execute(f"SELECT {_COST} FROM attempts WHERE started_at >= ?",
                                (utc_text(since),)).fetchone())


def latest_conversation(cursor: Cursor) -> str | None:
    row = cursor.execute("SELECT id FROM conversations ORDER BY updated_at DESC, rowid DESC LIMIT 1").fetchone()
    return row[0] if row else None


def conversation_count(cursor: Cursor) -> int:
    return cursor.execute("SELECT count(*) FROM conversations").fetchone()[0]


def conversations_by_prefix(cursor: Cursor, prefix: str, limit: int) -> list[str]:
    """Ids starting with `prefix`, as a range on the primary key's index (LIKE would scan every id, and
    would read `_` and `%` in the prefix as wildcards)."""
    return [row[0] for row in cursor.execute(
        "SELECT id FROM conversations WHERE id >= ? AND id <= ? AND substr(id, 1, ?) = ? ORDER BY id LIMIT ?",
        (prefix, prefix + "\U0010ffff", len(prefix), prefix, limit))]


def filter_choices(cursor: Cursor) -> tuple[list[str], list[str]]:
    models = [row[0] for row in cursor.execute("SELECT DISTINCT model_alias FROM attempts ORDER BY model_alias")]
    profiles = [row[0] for row in cursor.execute("SELECT DISTINCT profile FROM conversations ORDER BY profile")]
    return models, profiles


def recent_attempts(cursor: Cursor, limit: int) -> Rows:
    return cursor.execute(
        "SELECT model_alias, model, route, reason, hop, started_at, ttft_ms, latency_ms, output_tokens, failure, "
        "retry_after_s FROM attempts ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def feedback(cursor: Cursor, message_id: int) -> sqlite3.Row | None:
    return cursor.execute("SELECT * FROM feedback WHERE message_id = ?", (message_id,)).fetchone()


def feedback_marks(cursor: Cursor) -> Rows:
    """Every good/bad mark with the model and route of the reply it judged."""
    return cursor.execute("SELECT route, model_alias, good FROM feedback").fetchall()


def votes(cursor: Cursor) -> Rows:
    return cursor.execute("SELECT * FROM votes ORDER BY id").fetchall()


def reply_costs(cursor: Cursor, message_ids: Sequence[int]) -> Rows:
    """A reply's cost is unknown (NULL) when any of its attempts' cost is: never counted as $0."""
    return cursor.execute(
        "SELECT reply_message_id, CASE WHEN count(cost_usd) = count(*) THEN total(cost_usd) END AS cost_usd, "
        "(SELECT latency_ms FROM attempts b WHERE b.reply_message_id = a.reply_message_id "
        "ORDER BY b.id DESC LIMIT 1) AS latency_ms "
        f"FROM attempts a WHERE reply_message_id IN ({_marks(message_ids)}) GROUP BY reply_message_id",
        tuple(message_ids)).fetchall()


def experiment_assigned(cursor: Cursor, experiment: str) -> Rows:
    """Replies assigned per arm, counted on the (experiment, arm) index."""
    return cursor.execute("SELECT arm, count(*) AS replies FROM assignments WHERE experiment = ? GROUP BY arm",
                          (experiment,)).fetchall()


def experiment_started(cursor: Cursor, experiment: str) -> str | None:
    return cursor.execute("SELECT min(created_at) FROM assignments WHERE experiment = ?", (experiment,)).fetchone()[0]


# A reply's cost: every attempt behind it, NULL when any of them had no known price.
_REPLY_COST = ("(SELECT CASE WHEN count(*) = count(cost_usd) THEN total(cost_usd) END FROM attempts x "
               "WHERE x.reply_message_id = {reply})")


def experiment_marks(cursor: Cursor, experiment: str, with_cost: bool) -> Rows:
    """Per arm, the marked replies' count, good ones, and (`with_cost`) sums of their cost, its square and
    the good ones' cost. Walks the marks (a person's clicks, few) rather than every assigned reply."""
    cost = _REPLY_COST.format(reply="f.message_id") if with_cost else "0.0"
    return cursor.execute(
        f"WITH judged AS (SELECT a.arm, f.good AS s, {cost} AS c FROM feedback f "
        "CROSS JOIN assignments a ON a.reply_message_id = f.message_id WHERE a.experiment = ?) "
        "SELECT arm, count(*) AS judged, total(s) AS successes, count(*) - count(c) AS unpriced, total(c) AS cost, "
        "total(c * c) AS cost_squared, total(c * s) AS cost_of_successes FROM judged GROUP BY arm",
        (experiment,)).fetchall()


def experiment_checks(cursor: Cursor, experiment: str, with_cost: bool) -> Rows:
    """Per arm, the assigned replies whose first answer a cascade checked, how many passed, and (`with_cost`)
    the same cost sums as experiment_marks over every call behind the reply (escalations and judges too)."""
    cost = _REPLY_COST.format(reply="a.reply_message_id") if with_cost else "0.0"
    return cursor.execute(
        f"WITH judged AS (SELECT a.arm, x.verdict = 'pass' AS s, {cost} AS c FROM assignments a "
        f"CROSS JOIN attempts x INDEXED BY {ATTEMPTS_CHECKED} ON x.reply_message_id = a.reply_message_id "
        "WHERE a.experiment = ? AND x.stage = 0 AND x.verdict IS NOT NULL AND x.purpose IS NULL) "
        "SELECT arm, count(*) AS judged, total(s) AS successes, count(*) - count(c) AS unpriced, total(c) AS cost, "
        "total(c * c) AS cost_squared, total(c * s) AS cost_of_successes FROM judged GROUP BY arm",
        (experiment,)).fetchall()


def experiment_votes(cursor: Cursor, route: str, labels: Sequence[str], since: str) -> Rows:
    """`models` and `reply_message_ids` are parallel lists: a label's reply sits at the same key."""
    reply = "json_extract(v.reply_message_ids, '$[' || j.key || ']')"
    return cursor.execute(
        f"SELECT j.value AS label, v.outcome, v.winner_model_alias AS winner, {_REPLY_COST.format(reply=reply)} "
        "AS cost_usd FROM votes v, json_each(v.models) j "
        f"WHERE v.route = ? AND v.created_at >= ? AND j.value IN ({_marks(labels)}) ORDER BY v.id",
        (route, since, *labels)).fetchall()


# The history list and search --------------------------------------------------------------------

def summaries(cursor: Cursor, conditions: Sequence[str], params: Sequence, limit: int) -> Rows:
    """The page is chosen first, then only its conversations are aggregated: the list costs the
    same with 50 or 50,000 conversations behind it."""
    return cursor.execute(
        f"WITH page AS (SELECT c.*, c.rowid AS inserted FROM conversations c {_where(conditions)} "
        "ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?) "
        "SELECT page.*, (SELECT group_concat(model_alias, char(31)) FROM "
        "  (SELECT DISTINCT model_alias FROM attempts a WHERE a.conversation_id = page.id AND a.failure IS NULL)"
        ") AS models, (SELECT total(cost_usd) FROM attempts a WHERE a.conversation_id = page.id) AS cost_usd, "
        "(SELECT count(*) - count(cost_usd) FROM attempts a WHERE a.conversation_id = page.id) AS unpriced "
        "FROM page ORDER BY page.updated_at DESC, page.inserted DESC", (*params, limit)).fetchall()


def list_filters(profile: str | None, since: datetime | None, until: datetime | None,
                 model: str | None) -> tuple[list[str], list]:
    """The conditions on `conversations c` for the history list's filters."""
    where: list[str] = []
    params: list = []
    if profile:
        where.append("c.profile = ?")
        params.append(profile)
    if since:
        where.append("c.updated_at >= ?")
        params.append(utc_text(since))
    if until:
        where.append("c.updated_at < ?")
        params.append(utc_text(until))
    if model:
        where.append("EXISTS (SELECT 1 FROM attempts a WHERE a.model_alias = ? AND a.conversation_id = c.id "
                     "AND a.failure IS NULL)")
        params.append(model)
    return where, params


def search(cursor: Cursor, query: str, conditions: Sequence[str], params: Sequence,
           limit: int) -> tuple[Rows, dict[str, str]]:
    """The page of conversations whose messages or title match the FTS5 `query`, most recently
    active first, and for each the passage of its newest matching message.

    Ranked by their newest match: FTS5 hands matches over newest first and lazily (prefixes too,
    through the prefix indexes), so the walk reads a batch at a time, each batch continuing below the
    last rowid seen (nothing is read twice), and stops once the page is full. A common word costs a
    page's worth of matches, not all of them; a rare one costs all of its few."""
    tail = f" AND {' AND '.join(conditions)}" if conditions else ""
    newest: dict[str, int] = {}  # conversation id → rowid of its newest matching message
    below, batch = 1 << 62, limit * 3
    while len(newest) < limit:
        # CROSS JOIN keeps the full-text index as the outer loop, so the walk stays newest first.
        rows = cursor.execute(
            "SELECT f.rowid, m.conversation_id FROM messages_fts f CROSS JOIN messages m ON m.id = f.rowid "
            "CROSS JOIN conversations c ON c.id = m.conversation_id "
            f"WHERE messages_fts MATCH ? AND f.rowid < ?{tail} ORDER BY f.rowid DESC LIMIT ?",
            (query, below, *params, batch)).fetchall()
        for rowid, conversation_id in rows:
            if len(newest) < limit:
                newest.setdefault(conversation_id, rowid)
        if len(rows) < batch:
            break
        below, batch = rows[-1][0], batch * 2
    titled = [row[0] for row in cursor.execute(
        "SELECT c.id FROM conversations_fts f CROSS JOIN conversations c ON c.rowid = f.rowid "
        f"WHERE conversations_fts MATCH ?{tail} ORDER BY f.rowid DESC LIMIT ?", (query, *params, limit))]
    found = [*newest, *(conversation_id for conversation_id in titled if conversation_id not in newest)]
    if not found:
        return [], {}
    return summaries(cursor, [f"c.id IN ({_marks(found)})"], found, limit), _snippets(cursor, query, newest)


def _snippets(cursor: Cursor, query: str, newest: dict[str, int]) -> dict[str, str]:
    """snippet() tokenizes a whole message, so it runs on the chosen messages only: the rowid range is
    walked in the index, and `+rowid` (which FTS5 cannot take as a lookup) drops the others first."""
    if not newest:
        return {}
    rowids = list(newest.values())
    passages = dict(cursor.execute(
        "SELECT rowid, snippet(messages_fts, 0, '', '', '…', 12) FROM messages_fts WHERE messages_fts MATCH ? "
        "AND rowid BETWEEN ? AND ? AND +rowid IN (SELECT value FROM json_each(?))",
        (query, min(rowids), max(rowids), json.dumps(rowids))).fetchall())
    return {conversation_id: passages.get(rowid, "") for conversation_id, rowid in newest.items()}


# Stats ------------------------------------------------------------------------------------------

def _since(since: datetime | None, column: str = "started_at") -> tuple[list[str], list]:
    return ([f"{column} >= ?"], [utc_text(since)]) if since else ([], [])


def totals_by_model_route(cursor: Cursor, since: datetime | None) -> Rows:
    """Attempt totals per (model, route), in one pass over an index already in that order (no sort).

    Besides sums: how many successes have a TTFT and a latency (the percentiles' ranks); retries
    (attempts on a model already tried for the same reply) and fallbacks (replies answered by a model
    other than the one tried first for them)."""
    where, params = _since(since)
    return cursor.execute(
        "SELECT model_alias, route, count(*) AS requests, count(*) FILTER (WHERE failure = 'cancelled') AS cancelled, "
        "count(*) FILTER (WHERE failure != 'cancelled') AS errors, "
        "total(input_tokens) AS input_tokens, total(output_tokens) AS output_tokens, total(cost_usd) AS cost_usd, "
        "count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced, "
        "total(input_tokens) FILTER (WHERE failure IS NULL) AS ok_input, "
        "total(output_tokens) FILTER (WHERE failure IS NULL) AS ok_output, "
        "count(ttft_ms) FILTER (WHERE failure IS NULL) AS timed_ttft, "
        "count(latency_ms) FILTER (WHERE failure IS NULL) AS timed_latency, "
        # A prompt's first attempt is hop 0; a reply is answered by its one successful attempt (per cascade
        # stage). A judge's call grades an answer: a request, but neither a turn nor an answer.
        "count(*) FILTER (WHERE hop = 0 AND purpose IS NULL) AS turns, "
        "count(*) FILTER (WHERE failure IS NULL AND purpose IS NULL) AS answered, "
        # Each attempt was marked a retry or a fallback when it was recorded (see the migrations).
        "count(*) FILTER (WHERE retry) AS retries, count(*) FILTER (WHERE fallback AND failure IS NULL) AS fallbacks "
        f"FROM attempts INDEXED BY {ATTEMPTS_BY_MODEL_ROUTE} {_where(where)} GROUP BY model_alias, route",
        params).fetchall()


def escalations_by_model_route(cursor: Cursor, since: datetime | None) -> Rows:
    """A cascade's checks per (model, route): answers checked and failed (the model was escalated from), and of
    those the route's own first answers (the share of its tasks the first tier could not finish). Read through
    the index of checked answers, so a history without cascades costs nothing here."""
    where, params = _since(since)
    return cursor.execute(
        "SELECT model_alias, route, count(*) AS checked, count(*) FILTER (WHERE verdict = 'fail') AS check_failed, "
        "count(*) FILTER (WHERE stage = 0) AS first_checked, "
        "count(*) FILTER (WHERE verdict = 'fail' AND stage = 0) AS escalated "
        f"FROM attempts INDEXED BY {ATTEMPTS_CHECKED} "
        f"{_where(['verdict IS NOT NULL', 'purpose IS NULL', *where])} GROUP BY model_alias, route",
        params).fetchall()


def spend_by_day(cursor: Cursor, since: datetime | None, utc_offset_minutes: int) -> Rows:
    """Days at the given offset from UTC; the day expression keeps the started_at index's order."""
    where, params = _since(since)
    day = "substr(started_at, 1, 10)" if not utc_offset_minutes else "date(started_at, ?)"
    shift = [f"{utc_offset_minutes:+d} minutes"] if utc_offset_minutes else []
    return cursor.execute(f"SELECT {day} AS day, count(*) AS requests, total(cost_usd) AS cost_usd, "
                          "count(*) - count(cost_usd) AS unpriced "
                          f"FROM attempts INDEXED BY {ATTEMPTS_BY_TIME} {_where(where)} GROUP BY day ORDER BY day",
                          (*shift, *params)).fetchall()


def percentiles(cursor: Cursor, column: str, since: datetime | None, model_alias: str | None, count: int,
                ranks: Sequence[float]) -> list[float]:
    """Nearest-rank percentiles of the `count` successful attempts with a `column` (ttft_ms or
    latency_ms), walking an index in `column` order to each rank from whichever end is nearer."""
    if column not in ("ttft_ms", "latency_ms"):
        raise ValueError(f"no percentile index for {column!r}")
    where = [f"failure IS NULL AND {column} IS NOT NULL"]
    params: list = []
    if model_alias is not None:
        where.insert(0, "model_alias = ?")
        params.append(model_alias)
    window, window_params = _since(since)
    where += window
    params += window_params
    index = attempts_by_model(column) if model_alias is not None else attempts_by(column)
    source = f"FROM attempts INDEXED BY {index} {_where(where)}"
    found = []
    for p in ranks:
        rank = max(0, math.ceil(p * count) - 1)
        order, offset = ("ASC", rank) if rank < count / 2 else ("DESC", count - 1 - rank)
        found.append(cursor.execute(f"SELECT {column} {source} ORDER BY {column} {order} LIMIT 1 OFFSET ?",
                                    (*params, offset)).fetchone()[0])
    return found


# What a task cost: every attempt behind the reply, and the calls that judged its answers (a cascade's judge,
# recorded against the prompt with no reply), with the count of those that had no known price.
_TASK_COST = (
    "(SELECT total(cost_usd) FROM attempts t WHERE t.reply_message_id = {reply}) + "
    "(SELECT total(cost_usd) FROM attempts t WHERE t.prompt_message_id = {prompt} AND t.purpose = 'judge') AS cost, "
    "(SELECT count(*) - count(cost_usd) FROM attempts t WHERE t.reply_message_id = {reply}) + "
    "(SELECT count(*) - count(cost_usd) FROM attempts t WHERE t.prompt_message_id = {prompt} AND t.purpose = 'judge') "
    "AS unpriced")


def feedback_outcomes(cursor: Cursor, since: datetime | None) -> Rows:
    """Each good/bad mark with what its reply cost (fallbacks, escalations and judges included) and how many
    of those calls had no known price."""
    where, params = _since(since, "created_at")
    prompt = "(SELECT prompt_message_id FROM attempts p WHERE p.reply_message_id = f.message_id LIMIT 1)"
    return cursor.execute(
        f"SELECT f.model_alias, f.route, f.good, {_TASK_COST.format(reply='f.message_id', prompt=prompt)} "
        f"FROM (SELECT * FROM feedback {_where(where)}) f", params).fetchall()


def vote_outcomes(cursor: Cursor, since: datetime | None) -> Rows:
    """One row per model per vote, with what that model's replies to the prompt cost and how many of those
    calls had no known price."""
    where, params = _since(since, "created_at")
    return cursor.execute(
        "SELECT v.route, v.outcome, v.winner_model_alias AS winner, j.value AS model, "
        "(SELECT total(cost_usd) FROM attempts a WHERE a.prompt_message_id = v.prompt_message_id "
        " AND a.model_alias = j.value) AS cost, "
        "(SELECT count(*) - count(cost_usd) FROM attempts a WHERE a.prompt_message_id = v.prompt_message_id "
        " AND a.model_alias = j.value) AS unpriced "
        f"FROM (SELECT * FROM votes {_where(where)}) v, json_each(v.models) j", params).fetchall()


def check_outcomes(cursor: Cursor, since: datetime | None) -> Rows:
    """Each reply a cascade checked and nobody marked: whether its last checked answer passed, the model that
    gave it, and what the task cost (see _TASK_COST). Read through the index of checked answers only."""
    where, params = _since(since, "a.started_at")
    return cursor.execute(
        f"SELECT a.model_alias, a.route, a.verdict = 'pass' AS good, "
        f"{_TASK_COST.format(reply='a.reply_message_id', prompt='a.prompt_message_id')} "
        f"FROM attempts a INDEXED BY {ATTEMPTS_CHECKED} "
        f"WHERE a.verdict IS NOT NULL AND a.purpose IS NULL {''.join(' AND ' + w for w in where)} "
        "AND a.id = (SELECT max(c.id) FROM attempts c INDEXED BY "
        f"{ATTEMPTS_CHECKED} WHERE c.reply_message_id = a.reply_message_id AND c.verdict IS NOT NULL "
        "AND c.purpose IS NULL) "
        "AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.message_id = a.reply_message_id)", params).fetchall()


def votes_by_model(cursor: Cursor, since: datetime | None) -> Rows:
    where, params = _since(since, "created_at")
    return cursor.execute(
        "SELECT j.value AS model, count(*) AS shown, "
        "count(*) FILTER (WHERE v.outcome = 'win' AND v.winner_model_alias = j.value) AS wins, "
        "count(*) FILTER (WHERE v.outcome = 'tie') AS ties, count(*) FILTER (WHERE v.outcome = 'all_bad') AS all_bad "
        f"FROM (SELECT * FROM votes {_where(where)}) v, json_each(v.models) j GROUP BY j.value", params).fetchall()


# Drift and budgets ------------------------------------------------------------------------------

def latest_attempts(cursor: Cursor, model_alias: str, excluded_failures: Sequence[str], limit: int) -> Rows:
    """A model's newest attempts, newest first, leaving out failures that were not the model's doing."""
    return cursor.execute(
        "SELECT started_at, failure, ttft_ms, latency_ms, output_tokens "
        f"FROM attempts INDEXED BY {ATTEMPTS_FOR_DRIFT} WHERE model_alias = ? "
        f"AND (failure IS NULL OR failure NOT IN ({_marks(excluded_failures)})) ORDER BY started_at DESC LIMIT ?",
        (model_alias, *excluded_failures, limit)).fetchall()


def latest_judgements(cursor: Cursor, per_model: int) -> Rows:
    """Each model's newest judgements, newest first: good/bad marks, and compare votes (a win is good; a
    loss to another model or "all bad" is bad; a tie says nothing). Written by people, so few rows."""
    return cursor.execute(
        "WITH judged AS (SELECT model_alias AS model, created_at AS at, good FROM feedback "
        "  WHERE model_alias IS NOT NULL "
        "UNION ALL SELECT j.value, v.created_at, v.outcome = 'win' AND v.winner_model_alias = j.value "
        "  FROM votes v, json_each(v.models) j WHERE v.outcome != 'tie'), "
        "ranked AS (SELECT model, at, good, row_number() OVER (PARTITION BY model ORDER BY at DESC) AS n "
        "  FROM judged) "
        "SELECT model, at, good FROM ranked WHERE n <= ? ORDER BY model, at DESC", (per_model,)).fetchall()


def spend_by_model(cursor: Cursor, profile: str | None, month_start: datetime, day_start: datetime) -> Rows:
    """A profile's spend (every profile's, for None) per model since the start of the month and of the day:
    the priced sum, and how many attempts had no known price (left out of the sum, and counted)."""
    day = utc_text(day_start)
    return cursor.execute(
        "SELECT a.model_alias, total(a.cost_usd) AS month_usd, count(*) - count(a.cost_usd) AS month_unpriced, "
        "total(a.cost_usd) FILTER (WHERE a.started_at >= ?) AS day_usd, "
        "count(*) FILTER (WHERE a.started_at >= ? AND a.cost_usd IS NULL) AS day_unpriced "
        f"FROM attempts a INDEXED BY {ATTEMPTS_FOR_SPEND} JOIN conversations c ON c.id = a.conversation_id "
        "WHERE a.started_at >= ? AND (? IS NULL OR c.profile = ?) GROUP BY a.model_alias",
        (day, day, utc_text(min(month_start, day_start)), profile, profile)).fetchall()


# Export -----------------------------------------------------------------------------------------

def export_batch(cursor: Cursor, after_message_id: int, size: int) -> Rows:
    """Messages after the given id, in id order: a reply carries the metadata of the attempt that
    produced it and the cost of every attempt (failed fallbacks, escalations and a cascade's judge
    included, null when any had no known price); a prompt has none."""
    return cursor.execute("""
SELECT m.conversation_id, c.title AS conversation_title, c.profile, m.id AS message_id, m.role, m.status,
       m.created_at, m.incognito, m.content, m.model_alias, a.route,
       (SELECT count(*) FROM attempts x WHERE x.reply_message_id = m.id) AS attempts,
       a.input_tokens, a.output_tokens,
       (SELECT CASE WHEN count(*) = count(cost_usd) THEN sum(cost_usd) END FROM attempts x
        WHERE x.reply_message_id = m.id OR (x.purpose = 'judge' AND x.prompt_message_id = a.prompt_message_id))
       AS cost_usd,
       a.ttft_ms, a.latency_ms, a.failure
FROM messages m
JOIN conversations c ON c.id = m.conversation_id
LEFT JOIN attempts a ON a.id = (SELECT id FROM attempts x WHERE x.reply_message_id = m.id
                                ORDER BY hop DESC, id DESC LIMIT 1)
WHERE m.id > ? ORDER BY m.id LIMIT ?
""", (after_message_id, size)).fetchall()
