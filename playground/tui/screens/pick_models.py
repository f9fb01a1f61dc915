"""A modal to pick the models to compare: every available model, the route's top candidates preselected."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, SelectionList, Static
from textual.widgets.selection_list import Selection

from playground.catalog import Catalog
from playground.compare import MAX_MODELS, MIN_MODELS
from playground.format import model_detail


class ModelPicker(ModalScreen[list[str] | None]):
    CSS_PATH = "pick_models.tcss"
    BINDINGS = [
        Binding("ctrl+s", "confirm", "Compare", id="pick.confirm"),
        Binding("escape", "dismiss(None)", "Cancel", id="pick.cancel"),
    ]

    def __init__(self, catalog: Catalog, selected: list[str]) -> None:
        super().__init__()
        self.catalog = catalog
        self.selected = selected

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(Text(f"Pick {MIN_MODELS}–{MAX_MODELS} models · Space toggles · Ctrl+S compares"),
                         markup=False)
            yield SelectionList[str](*[self._option(alias) for alias in self.catalog.models], id="models")
            yield Static(Text(""), id="picker-note", markup=False)
            with Horizontal(id="picker-buttons"):
                yield Button("Compare", id="confirm", variant="primary")
                yield Button("Cancel", id="cancel")

    def _option(self, alias: str) -> Selection[str]:
        info = self.catalog[alias]
        return Selection(Text(f"{alias} · {model_detail(info)}"), alias, alias in self.selected and info.available,
                         disabled=not info.available)

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        chosen = self.query_one(SelectionList).selected
        if not MIN_MODELS <= len(chosen) <= MAX_MODELS:
            self.query_one("#picker-note", Static).update(
                Text(f"{len(chosen)} selected: pick {MIN_MODELS} to {MAX_MODELS}"))
            return
        self.dismiss([alias for alias in self.catalog.models if alias in chosen])

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
