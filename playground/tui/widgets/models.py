"""The models panel: every model of the profile, available or not, and why not; drift and budget flags."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static

from playground.base.money import dollars
from playground.config.catalog import Catalog
from playground.router.budget import BudgetStatus
from playground.router.drift import ModelDrift


class ModelsPanel(Static):
    def show(self, catalog: Catalog, drift: Mapping[str, ModelDrift] | None = None,
             budget: BudgetStatus | None = None) -> None:
        drift = drift or {}
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
            found = drift.get(info.alias)
            for signal in found.findings if found is not None else ():
                text.append(f"  ⚠ drifted: {signal.short()}\n", style="bold yellow")
            for limit in budget.limits if budget is not None else ():
                if limit.scope == info.alias:
                    text.append(f"  {limit.left()}\n", style="bold red" if limit.reached else "dim")
        self.update(text)
