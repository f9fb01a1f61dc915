"""History as flat rows, one per message, for JSON Lines and CSV exports."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO

from playground.history.store import Store

COLUMNS = ["conversation_id", "conversation_title", "profile", "message_id", "role", "status", "created_at",
           "incognito", "content", "model_alias", "route", "attempts", "input_tokens", "output_tokens",
           "cost_usd", "ttft_ms", "latency_ms", "failure"]
BATCH = 5000

# A reply carries the metadata of the attempt that produced it, and the cost of every attempt
# (failed fallbacks included), null when any of them had no known price; a prompt has none.
_ROWS = """
SELECT m.conversation_id, c.title AS conversation_title, c.profile, m.id AS message_id, m.role, m.status,
       m.created_at, m.incognito, m.content, m.model_alias, a.route,
       (SELECT count(*) FROM attempts x WHERE x.reply_message_id = m.id) AS attempts,
       a.input_tokens, a.output_tokens,
       (SELECT CASE WHEN count(*) = count(cost_usd) THEN sum(cost_usd) END FROM attempts x
        WHERE x.reply_message_id = m.id) AS cost_usd,
       a.ttft_ms, a.latency_ms, a.failure
FROM messages m
JOIN conversations c ON c.id = m.conversation_id
LEFT JOIN attempts a ON a.id = (SELECT id FROM attempts x WHERE x.reply_message_id = m.id
                                ORDER BY hop DESC, id DESC LIMIT 1)
WHERE m.id > ? ORDER BY m.id LIMIT ?
"""


def rows(store: Store) -> Iterator[dict]:
    """In batches, so a large history is never held in memory, nor the store's lock for long."""
    after = 0
    while batch := store.query(_ROWS, (after, BATCH)):
        for row in batch:
            yield {column: row[column] for column in COLUMNS} | {"incognito": bool(row["incognito"])}
        after = batch[-1]["message_id"]


def write_jsonl(store: Store, out: IO[str]) -> int:
    count = 0
    for row in rows(store):
        count += 1
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return count


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): text written by a
# model or pasted by a user must open as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(store: Store, out: IO[str]) -> int:
    """Text cells that a spreadsheet would run as formulas get a leading apostrophe; JSON Lines keeps text as is."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    count = 0
    for row in rows(store):
        count += 1
        writer.writerow({column: spreadsheet_safe(value) for column, value in row.items()})
    return count
