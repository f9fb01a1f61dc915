"""The models panel: every model of the profile, available or not, and why not."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from playground.config.catalog import Catalog
from playground.present.format import dollars


class ModelsPanel(Static):
    def show(self, catalog: Catalog) -> None:
        text = Text()
        text.append("Models\n", style="bold")
        for info in catalog.models.values():
            if info.available:
                text.append("● ", style="green")
                text.append(info.alias)
                price = info.cost(1_000_000, 0)
                text.append(f" · {dollars(price)}/Mtok in\n" if price is not None else " · price unknown\n",
                            style="dim")
            else:
                text.append("○ ", style="red")
                text.append(info.alias, style="dim")
                text.append(f" · {info.unavailable_reason}\n", style="dim italic")
        self.update(text)
