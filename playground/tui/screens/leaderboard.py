"""The leaderboard: standings built from every comparison vote, overall or per category."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from playground.base.money import dollars
from playground.base.records import Vote
from playground.present.format import empty_board_note, seconds
from playground.services.leaderboard import categories, standings
from playground.services.session import Session
from playground.tui.widgets.footer import Footer

COLUMNS = ("model", "rating", "95% interval", "wins", "losses", "ties", "all bad", "cost / win", "median latency")


RATING_NOTE = ("Bradley–Terry ratings (Elo scale, 1000 = even); a tie or 'all bad' counts as a draw between every "
               "pair compared.")


class LeaderboardScreen(Screen):
    CSS_PATH = "leaderboard.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="leaderboard.back"),
        Binding("c", "next_category", "Category", id="leaderboard.category"),
        Binding("r", "reload", "Refresh", id="leaderboard.reload"),
    ]

    @dataclass
    class Loaded(Message):
        votes: list[Vote]
        replies: dict[int, tuple[float | None, float | None]]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.category: str | None = None
        self._loaded: LeaderboardScreen.Loaded | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("loading votes…"), id="board-title", markup=False)
        yield DataTable(id="board", cursor_type="row", zebra_stripes=True)
        yield Static(Text(RATING_NOTE), id="board-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.action_reload()

    @work(thread=True, group="leaderboard", exclusive=True, exit_on_error=False)
    def action_reload(self) -> None:
        votes = self.session.store.votes()
        replies = self.session.store.reply_costs(sorted({i for v in votes for i in v.reply_message_ids}))
        self.post_message(self.Loaded(votes, replies))

    @on(Loaded)
    def _loaded_votes(self, message: Loaded) -> None:
        self._loaded = message
        self._show()

    def action_next_category(self) -> None:
        if self._loaded is None:
            return
        cycle = [None, *categories(self._loaded.votes)]
        self.category = cycle[(cycle.index(self.category) + 1) % len(cycle)] if self.category in cycle else None
        self._show()

    def _show(self) -> None:
        votes = self._loaded.votes
        shown = [v for v in votes if self.category is None or v.category == self.category]
        title = f"Leaderboard · {self.category or 'all categories'} · {len(shown)} vote{'' if len(shown) == 1 else 's'}"
        self.query_one("#board-title", Static).update(Text(title, style="bold"))
        self.query_one("#board-note", Static).update(Text(RATING_NOTE if shown else empty_board_note(self.category)))
        table = self.query_one(DataTable)
        table.display = bool(shown)
        table.clear()
        for row in standings(votes, self._loaded.replies, self.category):
            table.add_row(Text(row.model_alias), f"{row.rating:.0f}", f"{row.low:.0f}–{row.high:.0f}",
                          str(row.wins), str(row.losses), str(row.ties), str(row.all_bad),
                          dollars(row.cost_per_win) if row.wins else "–", seconds(row.median_latency_s),
                          key=row.model_alias)
