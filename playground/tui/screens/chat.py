"""The chat screen: a transcript of routed replies, a prompt box, and the running cost."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from playground.events import AttemptEnded, AttemptStarted, ReplyDone, Routed, TextDelta, TurnFailed, TurnStarted
from playground.records import Attempt
from playground.safetext import one_line, redact
from playground.session import Session
from playground.store import ConversationSummary, StoredMessage
from playground.tui.messages import EngineFailed, EngineReady, TurnProgress
from playground.tui.widgets.models import ModelsPanel
from playground.tui.widgets.prompt_input import PromptInput
from playground.tui.widgets.reply import PromptView, ReplyView, StoredReplyView
from playground.tui.widgets.status import StatusBar

WIDE_ENOUGH_FOR_PANEL = 110


class ChatScreen(Screen):
    CSS_PATH = "chat.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel reply", id="chat.cancel"),
        Binding("ctrl+n", "new_conversation", "New chat", id="chat.new"),
        Binding("f2", "toggle_models", "Models", id="chat.models"),
        Binding("f8", "toggle_incognito", "Incognito", id="chat.incognito"),
        Binding("ctrl+q", "app.quit", "Quit", id="app.quit"),
    ]

    @dataclass
    class ConversationLoaded(Message):
        """A conversation from history, ready to be shown and continued."""

        summary: ConversationSummary
        messages: list[StoredMessage]
        replies: dict[int, Attempt]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.conversation_id: str | None = None
        self.incognito = session.incognito
        self._reply: ReplyView | None = None
        self._sending: Worker | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with VerticalScroll(id="transcript"):
                yield Static(self._welcome(), id="welcome", markup=False)
            yield ModelsPanel(id="models")
        yield PromptInput(id="prompt", placeholder="Ask anything · Enter sends · Ctrl+J new line")
        yield StatusBar()
        yield Footer()

    def _welcome(self) -> Text:
        available = [m.alias for m in self.session.catalog.available()]
        cloud = [m for m in self.session.catalog.models.values() if not m.is_local]
        text = Text()
        text.append(f"Profile {self.session.profile.name}", style="bold")
        text.append(f" — {self.session.profile.description}\n" if self.session.profile.description else "\n")
        text.append(f"Available: {', '.join(available) or 'none'}\n")
        if cloud and not any(m.available for m in cloud):
            text.append("No provider key is set, so the embedded local model answers. Export a key "
                        "(OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, …) to add cloud models. F2 lists them.")
        return text

    def on_mount(self) -> None:
        status = self.query_one(StatusBar)
        status.profile = self.session.profile.name
        status.incognito = self.incognito
        self.query_one(ModelsPanel).show(self.session.catalog)
        self.query_one(ModelsPanel).set_class(self.app.size.width >= WIDE_ENOUGH_FOR_PANEL, "-visible")
        self.query_one(PromptInput).focus()

    # Background state ---------------------------------------------------------------------------

    @on(EngineReady)
    def _engine_ready(self, message: EngineReady) -> None:
        status = self.query_one(StatusBar)
        status.engine = "ready" + (f" · {message.local_models_found} Ollama models" if message.local_models_found else "")
        status.day_cost = message.day_cost
        self.query_one(ModelsPanel).show(self.session.catalog)
        self.query_one("#welcome", Static).update(self._welcome())

    @on(EngineFailed)
    def _engine_failed(self, message: EngineFailed) -> None:
        self.query_one(StatusBar).engine = f"engine failed: {message.message}"

    # Sending ------------------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def _submit(self, message: PromptInput.Submitted) -> None:
        if self._sending is not None and self._sending.is_running:
            self.notify("A reply is still streaming: Esc cancels it.", severity="warning")
            return
        prompt_box = self.query_one(PromptInput)
        prompt_box.clear()
        transcript = self.query_one("#transcript", VerticalScroll)
        self._reply = ReplyView()
        await transcript.mount_all([PromptView(message.text), self._reply])
        transcript.scroll_end(animate=False)
        self._sending = self._send(message.text)

    @work(group="send", exit_on_error=False)
    async def _send(self, prompt: str) -> None:
        async for event in self.session.chat.send(prompt, conversation_id=self.conversation_id,
                                                  incognito=self.incognito):
            self.post_message(TurnProgress(event))

    @on(TurnProgress)
    async def _progress(self, message: TurnProgress) -> None:
        event, reply = message.event, self._reply
        if reply is None:
            return
        if isinstance(event, TextDelta):
            await reply.append(event.text)
            self._follow()
        elif isinstance(event, TurnStarted):
            self.conversation_id = event.conversation_id
        elif isinstance(event, Routed):
            reply.set_head(f"→ {event.decision.model} · {event.decision.reason}")
        elif isinstance(event, AttemptStarted):
            await reply.attempt_started(event.model_alias, event.hop, event.reason)
        elif isinstance(event, AttemptEnded):
            await reply.attempt_ended(event.attempt)
        elif isinstance(event, ReplyDone):
            await reply.finished(event.reply)
            status = self.query_one(StatusBar)
            status.conversation_cost = event.conversation_cost
            status.day_cost = event.day_cost
            self._follow()
        elif isinstance(event, TurnFailed):
            await reply.stopped(f"not sent: {event.message}")

    def _follow(self) -> None:
        transcript = self.query_one("#transcript", VerticalScroll)
        if transcript.max_scroll_y - transcript.scroll_y < 4:
            transcript.scroll_end(animate=False)

    @on(Worker.StateChanged)
    async def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._sending or self._reply is None:
            return
        if event.state is WorkerState.CANCELLED:
            await self._reply.stopped("cancelled · the partial reply is kept in history")
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            await self._reply.stopped(one_line(redact(f"error: {type(error).__name__}: {error}")))

    # Actions ------------------------------------------------------------------------------------

    def action_cancel(self) -> None:
        if self._sending is not None and self._sending.is_running:
            self._sending.cancel()

    async def action_new_conversation(self) -> None:
        self.action_cancel()
        self.conversation_id = None
        self.query_one(StatusBar).conversation_cost = 0.0
        self._set_incognito(self.session.incognito)
        transcript = self.query_one("#transcript", VerticalScroll)
        await transcript.remove_children()
        await transcript.mount(Static(self._welcome(), id="welcome", markup=False))

    def action_toggle_models(self) -> None:
        self.query_one(ModelsPanel).toggle_class("-visible")

    def action_toggle_incognito(self) -> None:
        self._set_incognito(not self.incognito)
        self.notify("Incognito: the next prompts and replies of this conversation are not stored, only their "
                    "tokens, cost and timing." if self.incognito else "Incognito off: text is stored again.")

    def _set_incognito(self, on: bool) -> None:
        self.incognito = on
        self.query_one(StatusBar).incognito = on

    # Conversations from history -----------------------------------------------------------------

    def open_conversation(self, conversation_id: str) -> None:
        self.action_cancel()
        self._load_conversation(conversation_id)

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def _load_conversation(self, conversation_id: str) -> None:
        store = self.session.store
        summary = store.conversation(conversation_id)
        if summary is not None:
            self.post_message(self.ConversationLoaded(summary, store.messages(conversation_id),
                                                      store.final_attempts(conversation_id)))

    @on(ConversationLoaded)
    async def _conversation_loaded(self, message: ConversationLoaded) -> None:
        self.conversation_id = message.summary.id
        self._reply = None
        self._set_incognito(message.summary.incognito or self.session.incognito)
        self.query_one(StatusBar).conversation_cost = message.summary.cost_usd
        transcript = self.query_one("#transcript", VerticalScroll)
        await transcript.remove_children()
        shown = []
        for stored in message.messages:
            if stored.role == "user":
                shown.append(PromptView(stored.content or "(incognito: this prompt was not stored)"))
            else:
                shown.append(StoredReplyView(stored, message.replies.get(stored.id)))
        await transcript.mount_all(shown)
        transcript.scroll_end(animate=False)
        self.query_one(PromptInput).focus()
