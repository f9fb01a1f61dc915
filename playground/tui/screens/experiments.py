"""Experiments: each arm's outcomes with 95% intervals, whether one is better, and stopping one (F12)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from playground.present.experiments import ARM_COLUMNS, INTERVAL_NOTE, arm_cells, heading
from playground.services.experiments import ExperimentError, ExperimentReport, report, stop
from playground.services.session import Session
from playground.tui.screens.dialogs import Confirm

EMPTY_NOTE = ("No experiments in this profile. Add one to a route, for example:\n\n"
              "    experiment:\n"
              "      name: temps\n"
              "      variants: [fast, fast@temperature=1.2]\n"
              "      strategy: thompson\n\n"
              "then mark replies good or bad (Ctrl+G / Ctrl+F) to give the arms outcomes.")


class ExperimentsScreen(Screen):
    CSS_PATH = "experiments.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="experiments.back"),
        Binding("s", "stop", "Stop with this arm", id="experiments.stop"),
        Binding("r", "reload", "Refresh", id="experiments.reload"),
    ]

    @dataclass
    class Loaded(Message):
        reports: list[ExperimentReport]

    @dataclass
    class Stopped(Message):
        experiment: str
        winner: str | None
        """None when stopping failed; `problem` says why."""
        problem: str = ""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.reports: list[ExperimentReport] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("loading experiments…"), id="experiments-title", markup=False)
        yield VerticalScroll(id="experiments-list")
        yield Static(Text(INTERVAL_NOTE), id="experiments-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.app.profile_signal.subscribe(self, lambda _state: self.action_reload())
        self.action_reload()

    @work(thread=True, group="experiments", exclusive=True, exit_on_error=False)
    def action_reload(self) -> None:
        self.post_message(self.Loaded(report(self.session.store, self.session.profile)))

    @on(Loaded)
    async def _show(self, message: Loaded) -> None:
        self.reports = message.reports
        count = len(self.reports)
        self.query_one("#experiments-title", Static).update(
            Text(f"Experiments · profile {self.session.profile.name} · {count} experiment{'' if count == 1 else 's'}",
                 style="bold"))
        listing = self.query_one("#experiments-list", VerticalScroll)
        await listing.remove_children()
        self.query_one("#experiments-note").display = bool(self.reports)
        self.refresh_bindings()
        if not self.reports:
            await listing.mount(Static(Text(EMPTY_NOTE), classes="experiments-empty", markup=False))
            return
        blocks = []
        for result in self.reports:
            table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, classes="experiment-arms")
            table.add_columns(*ARM_COLUMNS)
            for arm in result.arms:
                table.add_row(*(Text(cell) for cell in arm_cells(result, arm)), key=arm.label)
            table.experiment = result.name  # type: ignore[attr-defined]
            blocks.append(Vertical(Static(Text(heading(result), style="bold"), classes="experiment-heading",
                                          markup=False),
                                   table,
                                   Static(Text(result.verdict), classes="experiment-verdict", markup=False),
                                   classes="experiment"))
        await listing.mount_all(blocks)
        blocks[0].query_one(DataTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Stopping needs an experiment: greyed out (None) until one is shown.
        return None if action == "stop" and not self.reports else True

    def _selected(self) -> tuple[str, str] | None:
        """The experiment and arm under the cursor of the focused table (else the first table)."""
        tables = list(self.query(".experiment-arms").results(DataTable))
        if not tables:
            return None
        table = self.focused if isinstance(self.focused, DataTable) and self.focused in tables else tables[0]
        label = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        return table.experiment, label  # type: ignore[attr-defined]

    def action_stop(self) -> None:
        selected = self._selected()
        if selected is None:
            self.notify("No experiment to stop", severity="warning", timeout=3)
            return
        name, label = selected
        question = Text(f"Stop experiment {name} and send every prompt on its route to {label}?\n"
                        f"The winner is written into {self.session.profile_path.name}.")

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._stop(name, label)

        self.app.push_screen(Confirm(question, yes_label="Stop"), confirmed)

    @work(thread=True, group="experiments-stop", exclusive=True, exit_on_error=False)
    def _stop(self, name: str, label: str) -> None:
        from playground.config.profile import ProfileError

        try:
            winner = stop(self.session.profile_path, self.session.profile, self.session.store, name, label)
        except (ExperimentError, ProfileError) as exc:
            self.post_message(self.Stopped(name, None, str(exc)))
            return
        self.post_message(self.Stopped(name, winner))

    @on(Stopped)
    def _stopped(self, message: Stopped) -> None:
        if message.winner is None:
            self.notify(message.problem, severity="error", timeout=8, markup=False)
        else:
            self.notify(f"Experiment {message.experiment} stopped: {message.winner} wins", timeout=4, markup=False)
