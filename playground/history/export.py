"""History as flat rows, one per message, for JSON Lines and CSV exports."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO

from playground.history import queries
from playground.history.store import Store

COLUMNS = ["conversation_id", "conversation_title", "profile", "message_id", "role", "status", "created_at",
           "incognito", "content", "model_alias", "route", "attempts", "input_tokens", "output_tokens",
           "cost_usd", "ttft_ms", "latency_ms", "failure"]
BATCH = 5000

def rows(store: Store) -> Iterator[dict]:
    """In batches, so a large history is never held in memory, nor the store's lock for long."""
    after = 0
    while batch := store.read(queries.export_batch, after, BATCH):
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
