"""App-wide messages: what happened in the background, posted by workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # not imported at start: the first paint does not wait for pydantic
    from playground.config.profile import Profile
    from playground.services.events import CompareEvent, Event


@dataclass
class EngineReady(Message):
    """LiteLLM is imported, local models are discovered: prompts can be sent."""

    local_models_found: int
    day_cost: float
    note: str = ""


@dataclass
class EngineFailed(Message):
    message: str


@dataclass
class TurnProgress(Message):
    """One core event of the turn in flight."""

    event: Event


@dataclass
class ProfileChanged(Message):
    """The profile file changed and is valid: use it from the next prompt on."""

    profile: Profile


@dataclass
class ProfileInvalid(Message):
    """The profile file changed but does not validate; the last good profile stays in use."""

    error: str


@dataclass
class CompareProgress(Message):
    """One core event of the comparison in flight."""

    event: CompareEvent


@dataclass
class CompareText(Message):
    """Streamed text for the columns, gathered while the screen had not yet read it: four columns at 300
    tokens a second are 400 pieces a second, and a message each kept the screen busy dispatching them.
    The worker adds to it until the screen takes it, then posts a new one."""

    texts: dict[int, list[str]] = field(default_factory=dict)
    taken: bool = False

    def add(self, column: int, text: str) -> None:
        self.texts.setdefault(column, []).append(text)

    def take(self) -> dict[int, str]:
        self.taken = True
        return {column: "".join(pieces) for column, pieces in self.texts.items()}
