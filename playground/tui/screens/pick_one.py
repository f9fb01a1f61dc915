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

from playground.present.format import middle_ellipsis


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    detail: str = ""
    enabled: bool = True


class PickOne(ModalScreen[str | None]):
    """Every word typed must appear in an item's name or detail; Enter picks the highlighted item.

    Each item is one line: a detail too long for it (a profile's folder) loses its middle."""

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

    def on_resize(self) -> None:
        # The list's width is known once it is laid out, and changes with the terminal.
        self.call_after_refresh(lambda: self._fill(self.query_one(Input).value))

    def _fill(self, query: str) -> None:
        words = query.lower().split()
        options = self.query_one(OptionList)
        padding = options.get_component_styles("option-list--option").padding
        width = options.scrollable_content_region.width - options._get_left_gutter_width() - padding.width
        highlighted = options.highlighted_option.id if options.highlighted_option is not None else None
        options.clear_options()
        for choice in self._choices:
            haystack = f"{choice.label} {choice.detail}".lower()
            if all(word in haystack for word in words):
                prompt = Text(choice.label)
                if choice.detail:
                    room = width - prompt.cell_len - 2 if width > 0 else len(choice.detail)
                    prompt.append(f"  {middle_ellipsis(choice.detail, room)}", style="dim")
                options.add_option(Option(prompt, id=choice.value, disabled=not choice.enabled))
        enabled = [i for i, option in enumerate(options.options) if not option.disabled]
        ids = [options.options[i].id for i in enabled]
        options.highlighted = enabled[ids.index(highlighted)] if highlighted in ids else enabled[0] if enabled else None

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
