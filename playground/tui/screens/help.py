"""The keys of the screen underneath, read from its bindings so the list cannot drift from the code."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

TIPS = [
    ("#code, #think …",
     "start a prompt with a task tag the profile knows to route it (Ctrl+T picks one for every prompt)"),
    ("↑ in an empty box", "edit the last prompt and send it again; the old turn stays in history"),
    ("Ctrl+P", "the command palette: every action of this screen, by name"),
    ("Tab / click", "focus a reply: C copies it, K copies a code block, + / - (or Ctrl+G / Ctrl+F) mark it"),
]


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,f1,ctrl+underscore,q", "dismiss(None)", "Close", id="help.close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self._under = under

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._keys(), markup=False)
            yield Static(self._tips(), markup=False, id="help-tips")

    def on_mount(self) -> None:
        self.query_one("#help").focus()  # so ↑↓ and PgUp/PgDn scroll it on a small terminal

    def _keys(self) -> Table:
        table = Table(title=f"Keys · {type(self._under).__name__.removesuffix('Screen') or 'app'}",
                      title_justify="left", box=None, padding=(0, 2, 0, 0), show_header=False)
        table.add_column(style="bold")
        table.add_column()
        seen = set()
        for _key, active in self._under.active_bindings.items():
            binding = active.binding
            # The screen's and the app's own keys; a text box's editing keys are the usual ones.
            if active.node not in (self._under, self.app) or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            table.add_row(Text(self.app.get_key_display(binding)), Text(binding.tooltip or binding.description))
        return table

    def _tips(self) -> Table:
        table = Table(title="Tips", title_justify="left", box=None, padding=(0, 2, 0, 0), show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for key, text in TIPS:
            table.add_row(Text(key), Text(text))
        return table
