"""The stats screen: spend per day and per model as plots, then the figures per model and per route."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker
from textual_plotext import PlotextPlot

from playground.base.dates import parse_since
from playground.base.money import dollars
from playground.base.safetext import one_line
from playground.config.catalog import ModelInfo
from playground.history.stats import Stats, compute
from playground.present.format import (
    empty_spend_note,
    escalated,
    milliseconds,
    per_success,
    percent,
    stats_summary,
    unpriced_note,
)
from playground.services.session import Session
from playground.tui.widgets.footer import Footer

WINDOWS = [("Last 7 days", "7d"), ("Last 30 days", "30d"), ("All time", "all")]
MODEL_COLUMNS = ["Model", "Requests", "Errors", "Tokens in", "Tokens out", "Cost", "TTFT p50", "TTFT p95",
                 "Total p50", "Total p95", "Votes won", "$/success"]
ROUTE_COLUMNS = ["Route", "Prompts", "Cost", "Escalated", "Judged", "Succeeded", "$/success"]


def _priced(session: Session) -> list[ModelInfo]:
    """Models a baseline can be priced on, dearest first: the natural 'what if I always used the best'."""
    priced = [m for m in session.catalog.models.values() if m.input_price is not None and m.output_price is not None]
    return sorted(priced, key=lambda m: (-(m.input_price + m.output_price), m.alias))


class StatsScreen(Screen):
    CSS_PATH = "stats.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back to chat", id="stats.back")]

    @dataclass
    class Loaded(Message):
        stats: Stats

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        priced = _priced(self.session)
        with Horizontal(id="stats-controls"):
            yield Select([(Text(label), value) for label, value in WINDOWS], value="30d", allow_blank=False,
                         id="stats-window")
            yield Select([(Text(f"baseline: {m.alias}"), m.alias) for m in priced], prompt="No baseline",
                         value=priced[0].alias if priced else Select.NULL, id="stats-baseline")
        with VerticalScroll(id="stats-body"):
            yield Static(Text("loading…"), id="stats-summary", markup=False)
            yield Static(Text(""), id="stats-plots-empty", markup=False)
            with Horizontal(id="stats-plots"):
                yield PlotextPlot(id="spend-by-day")
                yield PlotextPlot(id="spend-by-model")
            yield DataTable(id="stats-models", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="stats-routes", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#stats-models", DataTable).add_columns(*MODEL_COLUMNS)
        self.query_one("#stats-routes", DataTable).add_columns(*ROUTE_COLUMNS)
        self.reload()

    @on(Select.Changed)
    def reload(self) -> None:
        window = self.query_one("#stats-window", Select).value
        baseline = self.query_one("#stats-baseline", Select).value
        self._load(None if window == "all" else window,
                   None if baseline is Select.NULL else self.session.catalog[baseline])

    @work(thread=True, exclusive=True, group="stats-load", exit_on_error=False)
    def _load(self, window: str | None, baseline: ModelInfo | None) -> None:
        stats = compute(self.session.store, since=parse_since(window) if window else None, baseline=baseline)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(stats))

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.query_one("#stats-summary", Static).update(Text(one_line(f"stats failed: {error}")))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        stats = message.stats
        self.query_one("#stats-summary", Static).update(Text("\n".join(stats_summary(stats))))
        # Two empty $0 charts say nothing: a sentence says why they are empty and how to fill them.
        note = empty_spend_note(stats)
        self.query_one("#stats-plots-empty", Static).update(Text(note or ""))
        self.query_one("#stats-plots-empty").display = note is not None
        self.query_one("#stats-plots").display = note is None
        self._plot_days(stats)
        self._plot_models(stats)
        models = self.query_one("#stats-models", DataTable)
        models.clear()
        for m in stats.by_model:
            models.add_row(
                Text(m.model_alias), m.requests, percent(m.error_rate), f"{m.input_tokens:,}", f"{m.output_tokens:,}",
                dollars(m.cost), milliseconds(m.ttft.p50_ms), milliseconds(m.ttft.p95_ms),
                milliseconds(m.latency.p50_ms), milliseconds(m.latency.p95_ms),
                f"{m.votes.wins}/{m.votes.shown}" if m.votes.shown else "–", per_success(m.outcomes),
                key=m.model_alias)
        routes = self.query_one("#stats-routes", DataTable)
        routes.clear()
        for r in stats.by_route:
            routes.add_row(Text(r.route or "–"), r.turns, dollars(r.cost), escalated(r.escalations),
                           r.outcomes.judged, r.outcomes.successes, per_success(r.outcomes), key=r.route or "–")

    def _plot_days(self, stats: Stats) -> None:
        widget = self.query_one("#spend-by-day", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.title(f"Spend per day ($){unpriced_note(stats.unpriced_requests)}")
        if stats.by_day:
            # Month-day labels: the year repeats on every bar and crowds the axis.
            plt.bar([d.day[5:] for d in stats.by_day], [d.cost_usd for d in stats.by_day])
        widget.refresh()

    def _plot_models(self, stats: Stats) -> None:
        widget = self.query_one("#spend-by-model", PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.title(f"Spend per model ($){unpriced_note(stats.unpriced_requests)}")
        top = stats.by_model[:8]
        if top:
            plt.bar([one_line(m.model_alias, 16) for m in top], [m.cost_usd for m in top], orientation="horizontal")
        widget.refresh()
