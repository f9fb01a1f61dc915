"""The compare screen: one prompt to several models side by side, all streaming at once, then a vote."""

from __future__ import annotations

import random
from dataclasses import dataclass

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from playground.base.records import Comparison, Outcome, Vote
from playground.base.safetext import one_line, redact
from playground.services.compare import MAX_MODELS
from playground.services.events import (
    ColumnDelta,
    ColumnEnded,
    ColumnProgress,
    ColumnWaiting,
    CompareDone,
    CompareStarted,
)
from playground.services.session import Session
from playground.tui.collect import streaming
from playground.tui.messages import CompareProgress, CompareText
from playground.tui.screens.pick_models import ModelPicker
from playground.tui.widgets.column import CompareColumn
from playground.tui.widgets.footer import Footer
from playground.tui.widgets.prompt_input import PromptInput

OUTCOME_WORDS = {Outcome.TIE: "tie", Outcome.ALL_BAD: "all bad"}


@dataclass(frozen=True)
class Continued:
    """The user goes on with one column's reply; `reasked` says the chat already shows its prompt."""

    comparison: Comparison
    column: int
    reasked: bool


class CompareScreen(Screen[Continued | None]):
    CSS_PATH = "compare.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel / back", id="compare.cancel"),
        Binding("1", "vote_win(0)", "Winner", key_display=f"1…{MAX_MODELS}", id="compare.win"),
        *[Binding(str(n), f"vote_win({n - 1})", show=False) for n in range(2, MAX_MODELS + 1)],
        Binding("t", "vote('tie')", "Tie", id="compare.tie"),
        Binding("b", "vote('all_bad')", "All bad", id="compare.all_bad"),
        Binding("f6", "toggle_blind", "Blind", id="compare.blind"),  # not Ctrl+B: tmux's prefix
        Binding("enter", "continue_chat", "Continue with winner", id="compare.continue"),
        Binding("f3", "pick_models", "Models", id="compare.models"),
        Binding("slash", "focus_prompt", "New prompt", id="compare.prompt"),
    ]

    @dataclass
    class Suggested(Message):
        models: list[str]
        prompt: str | None
        prompt_message_id: int | None

    @dataclass
    class Voted(Message):
        vote: Vote
        column: int | None

    @dataclass
    class Chosen(Message):
        column: int

    def __init__(self, session: Session, *, conversation_id: str | None = None, reask: bool = False,
                 models: list[str] | None = None, blind: bool = False, rng: random.Random | None = None) -> None:
        """`reask` compares the conversation's last prompt again; without `models` a picker opens first."""
        super().__init__()
        self.session = session
        self.conversation_id = conversation_id
        self.models = models
        self.blind = blind
        self._reask = reask
        self._reasked_id: int | None = None
        self._rng = rng or random.Random()
        self._columns: list[CompareColumn] = []
        self._order: list[int] = []  # display position → column index
        self._comparison: Comparison | None = None
        self._comparing: Worker | None = None
        self._finished = False
        self._vote: Vote | None = None
        self._winner: int | None = None

    def compose(self) -> ComposeResult:
        yield Horizontal(id="columns")
        yield Static(Text("Type a prompt: it goes to every model at once."), id="vote-bar", markup=False)
        yield PromptInput(id="compare-prompt", placeholder="Prompt for every model · Enter sends")
        yield Footer()

    def on_mount(self) -> None:
        if self.models is None or self._reask:
            self._suggest()
        else:
            self.query_one(PromptInput).focus()

    # Picking models ------------------------------------------------------------------------------

    @work(thread=True, group="suggest", exit_on_error=False)
    def _suggest(self) -> None:
        prompt = prompt_id = None
        if self._reask and self.conversation_id:
            asked = [m for m in self.session.store.messages(self.conversation_id) if m.role == "user"]
            if asked:
                prompt, prompt_id = asked[-1].content, asked[-1].id
        models = self.models or self.session.compare.suggest(prompt or "")
        self.post_message(self.Suggested(models, prompt, prompt_id))

    @on(Suggested)
    def _suggested(self, message: Suggested) -> None:
        async def picked(models: list[str] | None) -> None:
            if models is None and self.models is None:
                self.dismiss(None)
                return
            self.models = models or self.models
            if message.prompt is not None:
                self._reasked_id = message.prompt_message_id
                await self._start(message.prompt, message.prompt_message_id)
            else:
                self.query_one(PromptInput).focus()

        if self.models is not None and message.prompt is not None:
            self.call_next(picked, self.models)
        else:
            self.app.push_screen(ModelPicker(self.session.catalog, message.models), picked)

    def action_pick_models(self) -> None:
        def picked(models: list[str] | None) -> None:
            self.models = models or self.models

        self.app.push_screen(ModelPicker(self.session.catalog, self.models or []), picked)

    # Running -------------------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def _submit(self, message: PromptInput.Submitted) -> None:
        if self._comparing is not None and self._comparing.is_running:
            self.notify("A comparison is still streaming: Esc cancels it.", severity="warning")
            return
        self.query_one(PromptInput).clear()
        await self._start(message.text, None)

    async def _start(self, prompt: str, prompt_message_id: int | None) -> None:
        models = self.models or []
        self._order = list(range(len(models)))
        if self.blind:
            self._rng.shuffle(self._order)
        self._columns = [CompareColumn(alias) for alias in models]
        self._comparison, self._finished, self._vote, self._winner = None, False, None, None
        holder = self.query_one("#columns", Horizontal)
        await holder.remove_children()
        await holder.mount_all([self._columns[index] for index in self._order])
        self._relabel()
        self._bar("streaming… Esc cancels every column")
        if self._columns:
            # Off the prompt box, so the vote keys reach the screen instead of typing into it.
            self._columns[self._order[0]].focus()
        self._comparing = self._run(prompt, models, prompt_message_id)

    @work(group="compare", exit_on_error=False)
    async def _run(self, prompt: str, models: list[str], prompt_message_id: int | None) -> None:
        text: CompareText | None = None
        with streaming():
            async for event in self.session.compare.run(prompt, models, self.conversation_id, prompt_message_id):
                if isinstance(event, ColumnDelta):
                    if text is None or text.taken:
                        text = CompareText()
                        self.post_message(text)
                    text.add(event.column, event.text)
                else:
                    text = None  # text that comes after this event is shown after it
                    self.post_message(CompareProgress(event))

    @on(CompareText)
    def _text(self, message: CompareText) -> None:
        for column, text in message.take().items():
            self._columns[column].append(text)

    @on(CompareProgress)
    async def _progress(self, message: CompareProgress) -> None:
        event = message.event
        if isinstance(event, ColumnProgress):
            self._columns[event.column].progress(event.live)
        elif isinstance(event, ColumnWaiting):
            self._columns[event.column].waiting(f"column {self._order.index(event.behind) + 1}", event.waited_s)
        elif isinstance(event, ColumnEnded):
            self._columns[event.column].finished(event.attempt, event.status, event.waited_s)
        elif isinstance(event, CompareStarted):
            self._comparison = event.comparison
            self.conversation_id = event.comparison.conversation_id
        elif isinstance(event, CompareDone):
            self._finished = True
            self._hint_vote()

    @on(Worker.StateChanged)
    async def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._comparing:
            return
        if event.state is WorkerState.CANCELLED:
            for column in self._columns:
                column.cancelled()
            self._finished = self._comparison is not None
            self._bar("cancelled · partial answers are kept · you can still vote")
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            self._bar(one_line(redact(f"not compared: {error}")))

    def action_cancel(self) -> None:
        if self._comparing is not None and self._comparing.is_running:
            self._comparing.cancel()
        else:
            self.dismiss(None)

    # Voting --------------------------------------------------------------------------------------

    @on(events.DescendantFocus)
    def _hint_vote(self) -> None:
        """While a vote is due, the bar says how to vote from where the focus is: in the prompt box the
        number keys type, so it says how to get back to the replies."""
        if self._comparison is None or not self._finished or self._vote is not None:
            return
        if isinstance(self.focused, PromptInput):
            self._bar(f"typing a new prompt · Tab back to the replies to vote (1–{len(self._columns)})")
        else:
            self._bar(f"vote: 1–{len(self._columns)} picks the winner · t tie · b all bad")

    def action_vote_win(self, position: int) -> None:
        if position < len(self._order):
            self._cast(Outcome.WIN, self._order[position])

    def action_vote(self, outcome: str) -> None:
        self._cast(Outcome(outcome), None)

    def _cast(self, outcome: Outcome, column: int | None) -> None:
        if self._comparison is None or not self._finished:
            self.notify("Vote once every column has finished (Esc cancels them).", severity="warning")
        elif self._vote is not None:
            self.notify("This comparison already has a vote.", severity="warning")
        else:
            self._record_vote(self._comparison, outcome, column, self._hidden)

    @work(thread=True, group="vote", exit_on_error=False)
    def _record_vote(self, comparison: Comparison, outcome: Outcome, column: int | None, blind: bool) -> None:
        self.post_message(self.Voted(self.session.compare.vote(comparison, outcome, column, blind), column))

    @on(Voted)
    def _voted(self, message: Voted) -> None:
        self._vote, self._winner = message.vote, message.column
        self._relabel()
        if message.column is not None:
            self._columns[message.column].add_class("-winner")
            self._bar(f"{message.vote.winner_model_alias} wins · Enter continues the chat with it")
        else:
            self._bar(f"recorded: {OUTCOME_WORDS[message.vote.outcome]} · type a new prompt with /")

    def action_continue_chat(self) -> None:
        if self._comparison is None or self._winner is None:
            self.notify("Pick a winner first (1–6): the chat continues with its reply.", severity="warning")
            return
        self._choose(self._comparison, self._winner)

    @work(thread=True, group="vote", exit_on_error=False)
    def _choose(self, comparison: Comparison, column: int) -> None:
        self.session.compare.continue_with(comparison, column)
        self.post_message(self.Chosen(column))

    @on(Chosen)
    def _chosen(self, message: Chosen) -> None:
        comparison = self._comparison
        self.dismiss(Continued(comparison, message.column, comparison.prompt_message_id == self._reasked_id))

    # Blind mode ----------------------------------------------------------------------------------

    @property
    def _hidden(self) -> bool:
        return self.blind and self._vote is None

    def action_toggle_blind(self) -> None:
        self.blind = not self.blind
        self._relabel()
        self.notify("Blind mode on: columns are A, B, C… in shuffled order until the vote." if self.blind
                    else "Blind mode off: columns show model names.")

    def _relabel(self) -> None:
        for position, index in enumerate(self._order):
            letter, alias = chr(ord("A") + position), self._columns[index].model_alias
            if self._hidden:
                self._columns[index].label(f"{position + 1} · {letter}")
            elif self._vote is not None and self._vote.blind:
                self._columns[index].label(f"{position + 1} · {letter} = {alias}")
            else:
                self._columns[index].label(f"{position + 1} · {alias}")

    # Helpers -------------------------------------------------------------------------------------

    def _bar(self, text: str) -> None:
        mode = "blind · " if self.blind else ""
        self.query_one("#vote-bar", Static).update(Text(mode + text))

    def action_focus_prompt(self) -> None:
        self.query_one(PromptInput).focus()
