"""What happens during one turn or comparison, in order: the core emits these; the CLI and the TUI render them."""

from __future__ import annotations

from dataclasses import dataclass

from playground.base.records import Attempt, Comparison, Cost, LiveStats, Reply
from playground.router import Decision
from playground.router.checks import Verdict

FLUSH_INTERVAL_S = 0.5
"""How often streamed text is handed to the UI: often enough to look live, rarely enough to stay cheap."""


class EmptyPrompt(ValueError):
    pass


@dataclass(frozen=True)
class TurnStarted:
    conversation_id: str
    prompt_message_id: int


@dataclass(frozen=True)
class Routed:
    decision: Decision


@dataclass(frozen=True)
class AttemptStarted:
    model_alias: str
    hop: int
    reason: str


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class AttemptEnded:
    attempt: Attempt


@dataclass(frozen=True)
class Checked:
    """A cascade checked an answer: it stands, or `next_model` is asked next (None: the cascade has no one left)."""

    attempt: Attempt
    verdict: Verdict
    next_model: str | None
    judged: tuple[Attempt, ...] = ()
    """The judge's call, when one graded the answer."""
    skipped: tuple[str, ...] = ()
    """Steps of the cascade passed over for want of a usable model, each with why."""


@dataclass(frozen=True)
class ReplyDone:
    reply: Reply
    conversation_cost: Cost
    day_cost: Cost


@dataclass(frozen=True)
class TurnFailed:
    """No model could be tried at all (nothing available, nothing fits); the prompt is still saved."""

    conversation_id: str
    message: str


Event = TurnStarted | Routed | AttemptStarted | TextDelta | AttemptEnded | Checked | ReplyDone | TurnFailed


@dataclass(frozen=True)
class CompareStarted:
    """The prompt is saved and every column has an (empty) reply message."""

    comparison: Comparison


@dataclass(frozen=True)
class ColumnDelta:
    column: int
    text: str


@dataclass(frozen=True)
class ColumnProgress:
    column: int
    live: LiveStats


@dataclass(frozen=True)
class ColumnWaiting:
    """The column queues for a model that answers one request at a time (the embedded one)."""

    column: int
    behind: int
    """The column that runs first."""
    waited_s: float


@dataclass(frozen=True)
class ColumnEnded:
    column: int
    attempt: Attempt
    status: str
    waited_s: float = 0.0
    """Time spent queued before the request was sent; the attempt's TTFT does not include it."""


@dataclass(frozen=True)
class CompareDone:
    comparison: Comparison


CompareEvent = CompareStarted | ColumnDelta | ColumnProgress | ColumnWaiting | ColumnEnded | CompareDone
