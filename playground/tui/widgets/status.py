"""The status line: profile, engine state, and the running cost of the conversation and the day."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from playground.format import dollars


class StatusBar(Static):
    engine = reactive("loading LiteLLM…")
    profile = reactive("")
    conversation_cost = reactive(0.0)
    day_cost = reactive(0.0)
    incognito = reactive(False)

    def render(self) -> Text:
        return Text.assemble(
            (f" {self.profile} ", "bold"),
            " · ", self.engine, " · ",
            "conversation ", (dollars(self.conversation_cost), "bold"),
            " · today ", (dollars(self.day_cost), "bold"),
            (" · incognito: text not stored" if self.incognito else "", "bold"),
        )
