"""The history screen: search as you type, filter, open, rename and delete past conversations."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker

from playground.base.dates import parse_since
from playground.base.money import dollars
from playground.base.safetext import one_line
from playground.history.store import ConversationSummary, HistoryFilter, Store
from playground.present.format import conversation_title, counted, local_time
from playground.tui.screens.dialogs import Confirm, TextPrompt
from playground.tui.widgets.footer import Footer

WHEN = [("Today", "0d"), ("Last 7 days", "7d"), ("Last 30 days", "30d")]


class HistoryTable(DataTable):
    BINDINGS = [
        Binding("r", "screen.rename", "Rename", id="history.rename"),
        Binding("d,delete", "screen.delete", "Delete", id="history.delete"),
    ]


class HistoryScreen(Screen[str | None]):
    """Dismissed with the id of the conversation to open, or None.

    Built once and kept by the app (building and laying it out was most of the time to open it): each
    time it is shown it reloads its list and filter choices, keeping the filters the user left."""

    CSS_PATH = "history.tcss"
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Back to chat", id="history.back"),
        Binding("ctrl+f", "focus_search", "Search", id="history.search"),
        # Down from the search box goes to the list (the table and the pickers take Down themselves).
        Binding("down", "focus_list", show=False),
    ]

    @dataclass
    class Loaded(Message):
        conversations: list[ConversationSummary]

    @dataclass
    class ChoicesLoaded(Message):
        models: list[str]
        profiles: list[str]

    class Changed(Message):
        """A conversation was renamed or deleted."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self._shown: dict[str, ConversationSummary] = {}
        self._opened = True
        self._styled_with = ""
        """The theme the screen was last styled in."""
        self._choices: tuple[list[str], list[str]] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="history-filters"):
            yield Input(placeholder="Search prompts, replies and titles…", id="history-search")
            yield Select([], prompt="Any model", id="history-model")
            yield Select([], prompt="Any profile", id="history-profile")
            yield Select([(Text(label), value) for label, value in WHEN], prompt="Any time", id="history-when")
        yield HistoryTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Static(Text("loading…"), id="history-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(HistoryTable)
        table.add_column("Title", key="title")
        table.add_column("Updated", key="updated")
        table.add_column("Models", key="models")
        table.add_column("Cost", key="cost")
        table.add_column("Match", key="match")

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Textual restyles every widget of a screen each time it is shown, in case the theme changed while
        # it was away; that also throws away every cell the table had drawn, the largest part of the time
        # to open history on a large store. Only a new theme changes this screen's styles.
        # Textual's own handler (Screen's) runs after this one and reads the flag.
        if self._styled_with == self.app.theme:
            event.refresh_styles = False
        self._styled_with = self.app.theme
        # (Textual calls one of `_on_screen_resume` and `on_screen_resume` per class, so all of it is here.)
        # The rows shown are from the last visit until the new list replaces them.
        self.query_one("#history-status", Static).update(Text("loading…"))
        if self._opened:  # from the chat, not back from a dialog of ours, which keeps the focus where it was
            self.query_one("#history-search", Input).focus()
        self._opened = False
        self._load_choices()
        self.reload()

    def on_screen_suspend(self) -> None:
        # Popped (the screen is off the stack), not covered by a dialog.
        self._opened = self not in self.app.screen_stack

    def _filter(self) -> HistoryFilter:
        def chosen(selector: str) -> str | None:
            value = self.query_one(selector, Select).value
            return None if value is Select.NULL else value

        when = chosen("#history-when")
        return HistoryFilter(search=self.query_one("#history-search", Input).value,
                             model=chosen("#history-model"), profile=chosen("#history-profile"),
                             since=parse_since(when) if when else None)

    # Loading ------------------------------------------------------------------------------------

    def reload(self) -> None:
        self._load(self._filter())

    @work(thread=True, exclusive=True, group="history-load", exit_on_error=False)
    def _load(self, wanted: HistoryFilter) -> None:
        found = self.store.conversations(wanted)
        # A newer keystroke has started its own search: this result is stale.
        if not get_current_worker().is_cancelled:
            self.post_message(self.Loaded(found))

    @work(thread=True, group="history-choices", exit_on_error=False)
    def _load_choices(self) -> None:
        self.post_message(self.ChoicesLoaded(*self.store.filter_choices()))

    @on(ChoicesLoaded)
    def _choices_loaded(self, message: ChoicesLoaded) -> None:
        if (message.models, message.profiles) == self._choices:
            return  # setting them again rebuilds both menus
        self._choices = (message.models, message.profiles)
        self.query_one("#history-model", Select).set_options((Text(m), m) for m in message.models)
        self.query_one("#history-profile", Select).set_options((Text(p), p) for p in message.profiles)

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        # The same list as shown (history reopened with nothing new): the table keeps its rows, and with
        # them its measured columns and drawn cells, most of the time a reload takes on a large store.
        if message.conversations != list(self._shown.values()):
            self._fill(message.conversations)
        count = len(message.conversations)
        limit = self._filter().limit
        status = counted(count, "conversation") + (" (the most recent)" if count >= limit else "")
        self.query_one("#history-status", Static).update(
            Text(status + " · Enter opens · r renames · d deletes · Esc returns"))

    def _fill(self, conversations: list[ConversationSummary]) -> None:
        table = self.query_one(HistoryTable)
        # The cursor stays on the conversation it was on, wherever a reload puts it.
        selected = self._selected()
        table.clear()
        self._shown = {summary.id: summary for summary in conversations}
        for summary in conversations:
            table.add_row(
                Text(conversation_title(summary, 60), style="italic" if not summary.title else ""),
                Text(local_time(summary.updated_at)),
                Text(", ".join(summary.models) or "–"),
                Text(dollars(summary.cost), justify="right"),
                Text(one_line(summary.snippet, 60), style="dim"),
                key=summary.id)
        if selected in self._shown:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    @on(Input.Changed, "#history-search")
    @on(Select.Changed)
    @on(Changed)
    def _filters_changed(self) -> None:
        self.reload()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(one_line(f"history: {type(error).__name__}: {error}"), severity="error", markup=False)

    @on(Input.Submitted, "#history-search")
    def _search_submitted(self) -> None:
        self.query_one(HistoryTable).focus()

    # Actions ------------------------------------------------------------------------------------

    def _selected(self) -> str | None:
        table = self.query_one(HistoryTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        self.dismiss(event.row_key.value)

    def action_focus_list(self) -> None:
        self.query_one(HistoryTable).focus()

    def action_focus_search(self) -> None:
        self.query_one("#history-search", Input).focus()

    def action_rename(self) -> None:
        conversation_id = self._selected()
        if conversation_id is None:
            return
        def renamed(title: str | None) -> None:
            if title is not None and title.strip():
                self._write(self.store.rename_conversation, conversation_id, title)

        self.app.push_screen(TextPrompt("New title", self._shown[conversation_id].title), renamed)

    def action_delete(self) -> None:
        conversation_id = self._selected()
        if conversation_id is None:
            return
        title = conversation_title(self._shown[conversation_id], 60)
        question = Text.assemble("Delete “", (title, "bold"), "” with its messages, attempts and feedback? "
                                 "This cannot be undone.")

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._write(self.store.delete_conversation, conversation_id)

        self.app.push_screen(Confirm(question), confirmed)

    @work(thread=True, group="history-write", exit_on_error=False)
    def _write(self, change, *args) -> None:
        change(*args)
        self.post_message(self.Changed())
