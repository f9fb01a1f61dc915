"""Experiments: each arm's outcomes with 95% intervals, whether one is better, and stopping one (F7)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from playground.present.experiments import ARM_COLUMNS, INTERVAL_NOTE, arm_cells, heading
from playground.services.experiments import ExperimentError, ExperimentReport, report, stop
from playground.services.session import Session
from playground.tui.screens.dialogs import Confirm

EMPTY_NOTE = ("No experiments in this profile. Add one to a route, e.g.\n"
              "  experiment: {name: temps, variants: [fast, fast@temperature=1.2], strategy: thompson}\n"
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
        yield DataTable(id="experiments-table", cursor_type="row", zebra_stripes=True)
        yield Static(Text(""), id="experiments-verdicts", markup=False)
        yield Static(Text(INTERVAL_NOTE), id="experiments-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("experiment", *ARM_COLUMNS)
        self.app.profile_signal.subscribe(self, lambda _state: self.action_reload())
        self.action_reload()

    @work(thread=True, group="experiments", exclusive=True, exit_on_error=False)
    def action_reload(self) -> None:
        self.post_message(self.Loaded(report(self.session.store, self.session.profile)))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        self.reports = message.reports
        count = len(self.reports)
        self.query_one("#experiments-title", Static).update(
            Text(f"Experiments · profile {self.session.profile.name} · {count} experiment{'' if count == 1 else 's'}",
                 style="bold"))
        table = self.query_one(DataTable)
        table.display = bool(self.reports)
        table.clear()
        for result in self.reports:
            for arm in result.arms:
                table.add_row(Text(result.name), *(Text(cell) for cell in arm_cells(result, arm)),
                              key=f"{result.name}\x1f{arm.label}")
        verdicts = [f"{heading(r)}\n  {r.verdict}" for r in self.reports]
        self.query_one("#experiments-verdicts", Static).update(Text("\n".join(verdicts) or EMPTY_NOTE))

    def _selected(self) -> tuple[str, str] | None:
        table = self.query_one(DataTable)
        if not self.reports or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        name, _, label = key.partition("\x1f")
        return name, label

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
