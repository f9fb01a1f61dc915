"""Pick one item from a list by typing part of its name: models, profiles, code blocks."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    detail: str = ""
    enabled: bool = True


class PickOne(ModalScreen[str | None]):
    """Every word typed must appear in an item's name or detail; Enter picks the highlighted item."""

    CSS_PATH = "pick_one.tcss"
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="pick_one.cancel"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self, title: str, choices: list[Choice]) -> None:
        super().__init__()
        self._title = title
        self._choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-one"):
            yield Static(Text(self._title), markup=False, id="pick-one-title")
            yield Input(placeholder="type to filter · ↑↓ move · Enter picks · Esc cancels", id="pick-one-filter")
            yield OptionList(id="pick-one-list")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        words = query.lower().split()
        options = self.query_one(OptionList)
        options.clear_options()
        for choice in self._choices:
            haystack = f"{choice.label} {choice.detail}".lower()
            if all(word in haystack for word in words):
                prompt = Text(choice.label)
                if choice.detail:
                    prompt.append(f"  {choice.detail}", style="dim")
                options.add_option(Option(prompt, id=choice.value, disabled=not choice.enabled))
        enabled = [i for i, option in enumerate(options.options) if not option.disabled]
        options.highlighted = enabled[0] if enabled else None

    @on(Input.Changed)
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if step > 0:
            options.action_cursor_down()
        else:
            options.action_cursor_up()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
