"""What the history store hands out: stored messages, rows of the history list, its filter, and experiment
outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from playground.base.records import Cost

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
    cost_usd: float | None
    """None when any attempt had no known price; `cost` keeps the priced part."""
    incognito: bool
    snippet: str = ""
    """For a search: the matching passage of a prompt or reply, if the match was not in the title."""
    cost_known_usd: float = 0.0

    @property
    def cost(self) -> Cost:
        return Cost(self.cost_known_usd, 0 if self.cost_usd is not None else 1)


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


@dataclass(frozen=True)
class ArmOutcomes:
    """One experiment arm's judged replies as sums: enough for its success rate, its cost per success and
    that ratio's variance, however many replies there are."""

    judged: int = 0
    successes: int = 0
    unpriced: int = 0
    """Judged replies with no known cost: while any, the cost sums are partial."""
    cost: float = 0.0
    cost_squared: float = 0.0
    cost_of_successes: float = 0.0

    def __add__(self, other: ArmOutcomes) -> ArmOutcomes:
        return ArmOutcomes(self.judged + other.judged, self.successes + other.successes,
                           self.unpriced + other.unpriced, self.cost + other.cost,
                           self.cost_squared + other.cost_squared, self.cost_of_successes + other.cost_of_successes)

    @classmethod
    def one(cls, success: bool, cost: float | None) -> ArmOutcomes:
        c = cost or 0.0
        return cls(1, int(success), int(cost is None), c, c * c, c if success else 0.0)
