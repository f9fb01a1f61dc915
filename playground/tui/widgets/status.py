"""The status line: profile, engine state, and the running cost of the conversation and the day."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from playground.present.format import dollars


class StatusBar(Static):
    engine = reactive("loading LiteLLM…")
    profile = reactive("")
    conversation_cost = reactive(0.0)
    day_cost = reactive(0.0)
    tag = reactive("")
    incognito = reactive(False)
    settings = reactive("")
    """The conversation's own settings, when it has any (system prompt, temperature)."""
    streaming = reactive(False)
    """A reply is on its way: the engine is busy, not merely "ready"."""
    budget = reactive("")
    """What the profile's tightest spend limit leaves ("$0.42 left today"), when it has one."""
    problem = reactive("")
    """Shown instead of the usual line until fixed, e.g. a profile edit that does not validate."""

    def render(self) -> Text:
        if self.problem:
            return Text.assemble((" ⚠ ", "bold"), (self.problem, "bold red"))
        return Text.assemble(
            (f" {self.profile} ", "bold"),
            (f"#{self.tag} " if self.tag else "", "bold reverse"),
            (f" {self.settings} " if self.settings else "", "italic"),
            " · ", ("streaming…" if self.streaming and self.engine.startswith("ready") else self.engine), " · ",
            "conversation ", (dollars(self.conversation_cost), "bold"),
            " · today ", (dollars(self.day_cost), "bold"),
            (f" · {self.budget}" if self.budget else "", "bold red" if "reached" in self.budget else ""),
            (" · incognito: text not stored" if self.incognito else "", "bold"),
        )
