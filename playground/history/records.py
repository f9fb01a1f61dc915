"""What the history store hands out: stored messages, rows of the history list, and its filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

LIST_LIMIT = 200


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
