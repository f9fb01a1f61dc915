"""A modal to pick the models to compare: every available model, the route's top candidates preselected;
typing `alias@temperature=1.2` adds a variant, so one local model can be compared with itself."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, SelectionList, Static
from textual.widgets.selection_list import Selection

from playground.config.catalog import Catalog, ModelInfo
from playground.config.variants import VariantError, parse_variant
from playground.present.format import model_detail
from playground.services.compare import MAX_MODELS, MIN_MODELS

LIST_ROWS = 20
"""The most rows the model list takes (its border included), where the terminal has them."""


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
        # The catalog's models, then variants (an alias with its own settings) picked before or typed here.
        self._entries = [*catalog.models,
                         *[s for s in selected if s not in catalog and self._info(s) is not None]]
        self._chosen = {entry for entry in selected if (info := self._info(entry)) is not None and info.available}
        self._filling = False

    def _info(self, entry: str) -> ModelInfo | None:
        try:
            target = parse_variant(entry).target
        except VariantError:
            return None
        return self.catalog.models.get(target)

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(Text(f"Pick {MIN_MODELS}–{MAX_MODELS} models · type to filter · Space toggles · "
                              "Ctrl+S compares · model@temperature=1.2 + Enter adds a variant"), markup=False)
            yield Input(placeholder="filter, or add a variant: smollm2@temperature=1.2", id="picker-filter")
            yield SelectionList[str](*[self._option(entry) for entry in self._entries], id="picker-models")
            yield Static(Text(""), id="picker-note", markup=False)
            with Horizontal(id="picker-buttons"):
                yield Button("Compare", id="confirm", variant="primary")
                yield Button("Cancel", id="cancel")

    def _option(self, entry: str) -> Selection[str]:
        info = self._info(entry)
        assert info is not None  # entries are checked when added
        return Selection(Text(f"{entry} · {model_detail(info)}"), entry, entry in self._chosen,
                         disabled=not info.available)

    def on_mount(self) -> None:
        # Typing filters (or adds a variant) at once, as the dialog says; Tab reaches the list.
        self.query_one("#picker-filter", Input).focus()
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _note(self, text: str) -> None:
        self.query_one("#picker-note", Static).update(Text(text))
        self.call_after_refresh(self._fit)  # a note of two lines takes a row more from the list

    def _fit(self) -> None:
        """The list gives up rows on a short terminal, so that what is below it (a note, the buttons) stays
        on screen: with many models, at 80x24 the dialog ran off the bottom."""
        picker = self.query_one("#picker", Vertical)
        options = self.query_one(SelectionList)
        others = sum(child.outer_size.height for child in picker.children if child is not options)
        note = 0 if str(self.query_one("#picker-note", Static).render()) else 1  # room for a note to come
        room = self.size.height - picker.styles.gutter.height - options.styles.margin.height - others - note
        options.styles.max_height = max(3, min(LIST_ROWS, room))

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, query: str) -> None:
        words = query.partition("@")[0].lower().split()  # a variant being typed filters by its model
        options = self.query_one(SelectionList)
        self._filling = True  # rebuilding the list must not read as the user unticking models
        options.clear_options()
        options.add_options([self._option(entry) for entry in self._entries
                             if all(word in f"{entry} {model_detail(self._info(entry))}".lower() for word in words)])
        self._filling = False

    @on(Input.Submitted, "#picker-filter")
    def _to_list(self, event: Input.Submitted) -> None:
        options = self.query_one(SelectionList)
        if "@" in event.value:
            added = self._add_variant(event.value)
            if added is None:
                return
            options.highlighted = added
        elif options.option_count:
            options.highlighted = 0
        options.focus()

    def _add_variant(self, text: str) -> int | None:
        """Tick the variant, listed after the models; returns its place in the list, None if refused."""
        try:
            variant = parse_variant(text)
        except VariantError as exc:
            self._note(str(exc))
            return None
        info = self._info(variant.label)
        if info is None or variant.api_base:
            self._note(f"{variant.target}: not a model of this profile")
            return None
        if not info.available:
            self._note(f"{variant.target} is unavailable: {info.unavailable_reason}")
            return None
        if variant.label not in self._entries:
            self._entries.append(variant.label)
        self._chosen.add(variant.label)
        self._note("")
        filter_box = self.query_one(Input)
        with filter_box.prevent(Input.Changed):
            filter_box.value = ""
        self._fill("")
        return self._entries.index(variant.label)

    @on(SelectionList.SelectionToggled)
    def _toggled(self, event: SelectionList.SelectionToggled) -> None:
        if not self._filling:
            self._chosen ^= {event.selection.value}

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        chosen = self._chosen
        if not MIN_MODELS <= len(chosen) <= MAX_MODELS:
            self._note(f"{len(chosen)} selected: pick {MIN_MODELS} to {MAX_MODELS}")
            return
        self.dismiss([entry for entry in self._entries if entry in chosen])

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
