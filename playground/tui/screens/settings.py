"""A conversation's system prompt and temperature."""

from __future__ import annotations

import math

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static, TextArea

from playground.base.records import TurnSettings

MAX_TEMPERATURE = 2.0


def parse_temperature(value: str) -> float | None:
    """'' means the provider's default; raises ValueError with a one-line reason."""
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"temperature must be a number from 0 to {MAX_TEMPERATURE:g}, not {value!r}") from None
    if not math.isfinite(number) or not 0 <= number <= MAX_TEMPERATURE:
        raise ValueError(f"temperature must be from 0 to {MAX_TEMPERATURE:g}, not {value}")
    return number


class SettingsDialog(ModalScreen[TurnSettings | None]):
    CSS_PATH = "settings.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="settings.save"),
        Binding("escape", "dismiss(None)", "Cancel", id="settings.cancel"),
    ]

    def __init__(self, settings: TurnSettings) -> None:
        super().__init__()
        self._settings = settings

    def compose(self) -> ComposeResult:
        with Vertical(id="settings"):
            yield Static(Text("This conversation's next turns · Ctrl+S saves · Esc cancels"), markup=False)
            yield Static(Text("System prompt (empty: none)"), markup=False, classes="settings-label")
            yield TextArea(self._settings.system, id="settings-system")
            yield Static(Text(f"Temperature, 0 to {MAX_TEMPERATURE:g} (empty: the model's default)"), markup=False,
                         classes="settings-label")
            temperature = "" if self._settings.temperature is None else f"{self._settings.temperature:g}"
            yield Input(temperature, id="settings-temperature")
            yield Static(Text(""), markup=False, id="settings-error")
            with Horizontal(id="settings-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        try:
            temperature = parse_temperature(self.query_one("#settings-temperature", Input).value)
        except ValueError as exc:
            self.query_one("#settings-error", Static).update(Text(str(exc)))
            return
        self.dismiss(TurnSettings(self.query_one(TextArea).text.strip(), temperature))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
