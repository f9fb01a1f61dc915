"""A modal to pick the models to compare: every available model, the route's top candidates preselected."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, SelectionList, Static
from textual.widgets.selection_list import Selection

from playground.config.catalog import Catalog
from playground.present.format import model_detail
from playground.services.compare import MAX_MODELS, MIN_MODELS


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
        self._chosen = {alias for alias in selected if catalog[alias].available}
        self._filling = False

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(Text(f"Pick {MIN_MODELS}–{MAX_MODELS} models · type to filter · Tab to the list · "
                              "Space toggles · Ctrl+S compares"), markup=False)
            yield Input(placeholder="filter models", id="picker-filter")
            yield SelectionList[str](*[self._option(alias) for alias in self.catalog.models], id="picker-models")
            yield Static(Text(""), id="picker-note", markup=False)
            with Horizontal(id="picker-buttons"):
                yield Button("Compare", id="confirm", variant="primary")
                yield Button("Cancel", id="cancel")

    def _option(self, alias: str) -> Selection[str]:
        info = self.catalog[alias]
        return Selection(Text(f"{alias} · {model_detail(info)}"), alias, alias in self._chosen,
                         disabled=not info.available)

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        words = event.value.lower().split()
        options = self.query_one(SelectionList)
        self._filling = True  # rebuilding the list must not read as the user unticking models
        options.clear_options()
        options.add_options([self._option(alias) for alias in self.catalog.models
                             if all(word in f"{alias} {model_detail(self.catalog[alias])}".lower() for word in words)])
        self._filling = False

    @on(Input.Submitted, "#picker-filter")
    def _to_list(self) -> None:
        options = self.query_one(SelectionList)
        if options.option_count:
            options.highlighted = 0
        options.focus()

    @on(SelectionList.SelectionToggled)
    def _toggled(self, event: SelectionList.SelectionToggled) -> None:
        if not self._filling:
            self._chosen ^= {event.selection.value}

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        chosen = self._chosen
        if not MIN_MODELS <= len(chosen) <= MAX_MODELS:
            self.query_one("#picker-note", Static).update(
                Text(f"{len(chosen)} selected: pick {MIN_MODELS} to {MAX_MODELS}"))
            return
        self.dismiss([alias for alias in self.catalog.models if alias in chosen])

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
