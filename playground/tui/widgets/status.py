"""The status line: profile, engine state, and the running cost of the conversation and the day.

It is one row: when the terminal is too narrow for every part, the least important parts are shortened
first, then dropped, and only the profile and the engine state are always shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from playground.base.money import dollars

SEPARATOR = " · "


@dataclass(frozen=True)
class Part:
    """One segment of the status line."""

    full: Text
    short: Text | None = None
    """What it becomes when the line is too narrow; None: kept whole until dropped."""
    rank: int = 1
    """0: always shown; among the others, the highest rank is shortened first, then dropped first."""


def fit(parts: list[Part], width: int) -> Text:
    """The parts on one line of `width` cells: shorten the least important, then drop them, then crop;
    what then has room again (the most important first) is shown whole."""
    shown: list[Text | None] = [part.full for part in parts]

    def line() -> Text:
        return Text(SEPARATOR).join(text for text in shown if text is not None and text.plain)

    by_importance = sorted(range(len(parts)), key=lambda i: -parts[i].rank)  # stable: later parts first on ties
    for i in by_importance:
        if line().cell_len <= width:
            break
        if parts[i].short is not None:
            shown[i] = parts[i].short
    for i in by_importance:
        if line().cell_len <= width:
            break
        if parts[i].rank > 0:
            shown[i] = None
    for i in reversed(by_importance):
        for candidate in (parts[i].full, parts[i].short):
            if candidate is None or shown[i] is candidate:
                break
            before, shown[i] = shown[i], candidate
            if line().cell_len <= width:
                break
            shown[i] = before
    result = line()
    result.truncate(width, overflow="ellipsis")
    return result


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

    def parts(self) -> list[Part]:
        engine = "streaming…" if self.streaming and self.engine.startswith("ready") else self.engine
        # "ready · 2 Ollama models · semantic routes off: …" → "ready"; "engine failed: why" → "engine failed"
        engine_short = engine.split(SEPARATOR)[0].split(":")[0]
        conversation, today = dollars(self.conversation_cost), dollars(self.day_cost)
        return [
            Part(Text(self.profile, "bold"), rank=0),
            Part(Text(f"#{self.tag}", "bold reverse") if self.tag else Text(""), rank=2),
            Part(Text(self.settings, "italic"), Text("own settings", "italic") if self.settings else None, rank=4),
            Part(Text(engine), Text(engine_short) if engine_short != engine else None, rank=0),
            Part(Text.assemble("conversation ", (conversation, "bold")),
                 Text.assemble("conv. ", (conversation, "bold")), rank=3),
            Part(Text.assemble("today ", (today, "bold")), rank=3),
            # Money the profile still lets you spend: dropped only after the costs, "today" and all.
            Part(Text(self.budget, "bold red" if "reached" in self.budget else ""),
                 Text(self.budget.split(" left")[0] + " left") if " left" in self.budget else None, rank=2),
            Part(Text("incognito: text not stored", "bold") if self.incognito else Text(""),
                 Text("incognito", "bold"), rank=1),
        ]

    def watch_problem(self, problem: str) -> None:
        self.set_class(bool(problem), "-problem")  # a problem is shown whole, on as many rows as it takes

    def render(self) -> Text:
        if self.problem:
            return Text.assemble(("⚠ ", "bold"), (self.problem, "bold red"))
        return fit(self.parts(), self.content_size.width or 1000)
