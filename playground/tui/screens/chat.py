"""The chat screen: a transcript of routed replies, a prompt box, and the running cost."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Collapsible, Static
from textual.worker import Worker, WorkerState

from playground.base.paths import bundled_profiles_dir, known_profiles
from playground.base.records import Attempt, Reply, TurnSettings
from playground.base.safetext import one_line, redact
from playground.history.store import ConversationSummary, StoredMessage
from playground.present.format import model_detail
from playground.services.events import (
    AttemptEnded,
    AttemptStarted,
    Checked,
    ReplyDone,
    Routed,
    TextDelta,
    TurnFailed,
    TurnStarted,
)
from playground.services.session import Session
from playground.tui.collect import streaming
from playground.tui.messages import EngineFailed, EngineReady, ProfileChanged, ProfileInvalid, TurnProgress
from playground.tui.widgets.footer import Footer
from playground.tui.widgets.markdown_view import code_blocks, first_line
from playground.tui.widgets.models import ModelsPanel
from playground.tui.widgets.prompt_input import PromptInput
from playground.tui.widgets.reply import PromptView, ReplyView, StoredReplyView
from playground.tui.widgets.status import StatusBar
from playground.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from playground.tui.screens.compare import Continued

# Dialogs and the compare screen are imported when first opened, so that the first paint does not wait.

WIDE_ENOUGH_FOR_PANEL = 110
QUEUED_NOTE = "queued · sent when the reply above ends · Esc takes it back to the box"


@dataclass
class Queued:
    """A prompt sent while a reply streams: shown in the transcript, sent when that reply ends."""

    text: str
    tags: frozenset[str]
    model: str | None
    replacing: int | None
    prompt: PromptView
    reply: ReplyView


def _reply_of(widget: Widget) -> ReplyView | None:
    """The reply a widget is part of (its "why this model?", a code block), or the reply itself."""
    return next((node for node in widget.ancestors_with_self if isinstance(node, ReplyView)), None)


def profile_label(path: Path) -> str:
    """A bundled profile by its name as typed on the command line ("replay/routellm"), others by file name."""
    try:
        return str(path.relative_to(bundled_profiles_dir().resolve()).with_suffix(""))
    except ValueError:
        return path.name


class ChatScreen(Screen):
    CSS_PATH = "chat.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel reply", id="chat.cancel"),
        Binding("ctrl+n", "new_conversation", "New chat", id="chat.new"),
        Binding("f2", "toggle_models", "Models", id="chat.models"),
        Binding("ctrl+t", "cycle_tag", "Task tag", id="chat.tag"),
        Binding("f9", "toggle_incognito", "Incognito", id="chat.incognito"),
        Binding("ctrl+g", "mark(True)", "Good", id="chat.good"),
        # Not Ctrl+B: it is tmux's prefix key, and never reaches an app running inside tmux.
        Binding("ctrl+f", "mark(False)", "Bad", id="chat.bad"),
        Binding("f5", "compare", "Compare", id="chat.compare"),
        Binding("ctrl+r", "ask_another", "Other model", id="chat.another",
                tooltip="Ask the last prompt again, of a model you pick; the old answer stays in history"),
        Binding("ctrl+l", "edit_last", "Edit last", id="chat.edit", show=False,
                tooltip="Edit the last prompt and send it again (also: ↑ in an empty prompt box)"),
        # Over the prompt box's own F7 (select all): a reply's explanation matters more there.
        Binding("f7", "why", "Why this model?", id="chat.why", show=False, priority=True,
                tooltip="Open or close the routing explanation of the focused or latest reply"),
        Binding("ctrl+o", "copy", "Copy", id="chat.copy", show=False,
                tooltip="Copy the focused or latest reply, or one of its code blocks, to the clipboard"),
        Binding("ctrl+s", "settings", "Settings", id="chat.settings",
                tooltip="System prompt and temperature of this conversation"),
        # GNOME Terminal and others take F10 (and F1) for their menus: Ctrl+\ does the same.
        Binding("f10,ctrl+backslash", "pick_profile", "Profile", id="chat.profile",
                tooltip="Switch to another routing profile"),
        Binding("ctrl+q", "app.quit", "Quit", id="app.quit"),
    ]

    @dataclass
    class ConversationLoaded(Message):
        """A conversation from history, ready to be shown and continued."""

        summary: ConversationSummary
        messages: list[StoredMessage]
        replies: dict[int, Attempt]
        settings: TurnSettings
        decisions: dict[int, dict]
        """The routing decision behind each reply, by the reply's message id."""
        marks: dict[int, bool]

    def __init__(self, session: Session, *, draft: str = "", pending: list[str] | None = None) -> None:
        """`draft` and `pending` come from the starting screen: text typed, and prompts sent, before the
        session was open."""
        super().__init__()
        self.session = session
        self._draft = draft
        self._pending = list(pending or [])
        self.conversation_id: str | None = None
        self.incognito = session.incognito
        """Keep no text of this conversation's next turns in history, only their metadata."""
        self._reply: ReplyView | None = None
        self._sending: Worker | None = None
        self.tag: str | None = None
        """A task tag picked in the UI, applied to every prompt until changed (like a #tag prefix)."""
        self.settings = TurnSettings()
        """The conversation's system prompt and temperature, sent with each turn."""
        self._last_prompt: tuple[int, str] | None = None
        """The conversation's last prompt (message id, text): what edit and 'other model' re-send."""
        self._replacing: int | None = None
        """Set while the box holds the last prompt for editing: sending it replaces that turn."""
        self._waiting: tuple[str, frozenset[str], str | None, int | None] | None = None
        """A prompt sent before LiteLLM was loaded: sent the moment it is."""
        self._waiting_since = 0.0
        self._queued: Queued | None = None
        self._watched: tuple | None = None
        """What the models panel shows, so that the once-a-second check repaints it only when it changed."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Transcript(id="transcript", follows=lambda: self._reply is not None):
                yield Static(self._welcome(), id="welcome", markup=False)
            # A pane of its own: on a short terminal the list is longer than the screen, and Tab then the
            # arrow keys scroll it.
            with VerticalScroll(id="models"):
                yield ModelsPanel()
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
        self._show_watch()
        self.query_one("#models").set_class(self.app.size.width >= WIDE_ENOUGH_FOR_PANEL, "-visible")
        box = self.query_one(PromptInput)
        box.focus()
        if self._pending:
            first, *rest = self._pending
            self.call_after_refresh(self._ask, first)
            self._draft = "\n".join([*rest, self._draft]).strip("\n")
        if self._draft:
            box.load_text(self._draft)
            box.move_cursor(box.document.end)
        release = getattr(self.app, "release_early_input", None)
        if release is not None:  # what was typed while this screen replaced the starting one
            self.call_after_refresh(release)
        self.app.engine_signal.subscribe(self, self._engine_changed)
        self.app.profile_signal.subscribe(self, self._profile_changed)
        self.app.spend_signal.subscribe(self, lambda today: setattr(self.query_one(StatusBar), "day_cost", today))
        if self.app.engine is not None:
            self._engine_changed(self.app.engine)
        self.set_interval(1.0, self._tick)

    @property
    def focus_chain(self) -> list[Widget]:
        """Tab goes from the prompt box to the newest reply and its "why this model?", then to older ones
        (Textual's order is the page's: the oldest reply first, the prompt box last)."""
        chain = super().focus_chain
        by_reply: dict[ReplyView, list[Widget]] = {}
        rest: list[Widget] = []
        for widget in chain:
            reply = _reply_of(widget)
            if reply is None:
                rest.append(widget)
            else:
                by_reply.setdefault(reply, []).append(widget)
        boxes = [widget for widget in rest if isinstance(widget, PromptInput)]
        newest_first = [widget for reply in reversed(by_reply) for widget in by_reply[reply]]
        return boxes + newest_first + [widget for widget in rest if widget not in boxes]

    def on_screen_resume(self) -> None:
        # Back from history, stats or a dialog: typing goes to the prompt box again.
        if not isinstance(self.focused, ReplyView):
            self.query_one(PromptInput).focus()

    # Background state ---------------------------------------------------------------------------

    def _engine_changed(self, state: EngineReady | EngineFailed) -> None:
        if isinstance(state, EngineReady):
            self._engine_ready(state)
        else:
            self.query_one(StatusBar).engine = f"engine failed: {state.message}"
            if self._waiting is not None and self._reply is not None:
                self._reply.stopped(f"not sent: engine failed: {state.message}")
                self._waiting = None
                self._take_back_queued()

    def _engine_ready(self, message: EngineReady) -> None:
        status = self.query_one(StatusBar)
        status.engine = "ready" + (f" · {message.local_models_found} Ollama models" if message.local_models_found
                                   else "") + (f" · {message.note}" if message.note else "")
        status.day_cost = message.day_cost
        self._show_watch()
        if self.query("#welcome"):
            self.query_one("#welcome", Static).update(self._welcome())
        if self._waiting is not None:
            text, tags, model, replacing = self._waiting
            self._waiting = None
            self._start_send(text, tags, model, replacing)

    def _profile_changed(self, state: ProfileChanged | ProfileInvalid) -> None:
        status = self.query_one(StatusBar)
        if isinstance(state, ProfileInvalid):
            status.problem = f"profile not reloaded: {state.error}"
            return
        status.profile = state.profile.name
        status.problem = ""
        self._show_watch()

    def _show_watch(self) -> None:
        """The models panel and the budget left, as the monitor last read them from history (in memory)."""
        monitor, profile = self.session.state.monitor, self.session.profile
        budget, drift = monitor.budget(profile), monitor.drift()
        tightest = budget.tightest()
        self.query_one(StatusBar).budget = tightest.left() if tightest is not None else ""
        shown = (self.session.catalog, tuple(d.summary() for d in drift.values()), budget)
        if shown != self._watched:
            self._watched = shown
            self.query_one(ModelsPanel).show(self.session.catalog, drift, budget)

    def _tick(self) -> None:
        """Once a second: how long a prompt has waited for LiteLLM, or a request for its first token; the
        drift and budget figures, which workers refresh after each turn."""
        self._show_watch()
        if self._waiting is not None and self._reply is not None:
            self._reply.set_head(f"waiting for LiteLLM, {time.monotonic() - self._waiting_since:.0f} s")
        elif self._sending is not None and self._sending.is_running and self._reply is not None:
            self._reply.tick()

    # Sending ------------------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    async def _submit(self, message: PromptInput.Submitted) -> None:
        if await self._ask(message.text, replacing=self._replacing):
            self._replacing = None
            self._show_editing()
            self.query_one(PromptInput).clear()

    def _busy(self) -> bool:
        return (self._sending is not None and self._sending.is_running) or self._waiting is not None

    async def _ask(self, text: str, *, model: str | None = None, replacing: int | None = None) -> bool:
        """Send `text` now, or queue it behind the reply in flight; False (the text stays where it was) if a
        prompt is queued already."""
        tags = frozenset({self.tag}) if self.tag else frozenset()
        if self._busy():
            return await self._queue(text, tags, model, replacing)
        transcript = self.query_one("#transcript", VerticalScroll)
        if replacing is not None:
            self._mark_replaced(transcript)
        self._reply = ReplyView()
        await transcript.mount_all([PromptView(text), self._reply])
        self._follow(transcript)
        self._begin(text, tags, model, replacing)
        return True

    async def _queue(self, text: str, tags: frozenset[str], model: str | None, replacing: int | None) -> bool:
        if self._queued is not None:
            self.notify("A prompt is queued already: it is sent when this reply ends. Esc takes it back.",
                        severity="warning")
            return False
        transcript = self.query_one("#transcript", VerticalScroll)
        queued = Queued(text, tags, model, replacing, PromptView(text), ReplyView())
        await transcript.mount_all([queued.prompt, queued.reply])
        queued.reply.set_head(QUEUED_NOTE)
        self._queued = queued
        self._follow(transcript)
        return True

    def _send_queued(self) -> None:
        queued, self._queued = self._queued, None
        if queued is None:
            return
        if queued.replacing is not None:
            self._mark_replaced(self.query_one("#transcript", VerticalScroll), before=queued.prompt)
        self._reply = queued.reply
        self._begin(queued.text, queued.tags, queued.model, queued.replacing)

    def _take_back_queued(self) -> bool:
        """Put a queued prompt back in the box (before anything typed since): what was typed is never lost."""
        queued, self._queued = self._queued, None
        if queued is None:
            return False
        queued.prompt.remove()
        queued.reply.remove()
        box = self.query_one(PromptInput)
        box.load_text("\n".join(part for part in (queued.text, box.text) if part.strip()))
        box.move_cursor(box.document.end)
        if queued.replacing is not None:
            self._replacing = queued.replacing
            self._show_editing()
        return True

    def _begin(self, text: str, tags: frozenset[str], model: str | None, replacing: int | None) -> None:
        self._last_prompt = None
        if self.app.engine is None:
            self._waiting, self._waiting_since = (text, tags, model, replacing), time.monotonic()
            self._reply.set_head("waiting for LiteLLM, 0 s")
        else:
            self._start_send(text, tags, model, replacing)
        return True

    def _start_send(self, text: str, tags: frozenset[str], model: str | None, replacing: int | None) -> None:
        self.query_one(StatusBar).streaming = True
        if self._reply is not None:
            self._reply.waiting()
        self._sending = self._send(text, tags, model, replacing)

    def _follow(self, transcript: VerticalScroll | None = None, *, new_turn: bool = True) -> None:
        """Keep the newest reply in view, its metadata and explanation included.

        Textual's anchor keeps a pane at its bottom through every layout change until the user scrolls
        up (and again once they scroll back down). It is set only once the transcript overflows: an
        anchored pane that is not full is drawn bottom-aligned.
        """
        transcript = transcript or self.query_one("#transcript", VerticalScroll)

        def anchor() -> None:
            # A new turn always brings the view down; a reply finishing does not if the user scrolled up.
            if transcript.max_scroll_y > 0 and (new_turn or not transcript._anchor_released):
                transcript.anchor()

        self.call_after_refresh(anchor)

    @staticmethod
    def _mark_replaced(transcript: VerticalScroll, before: PromptView | None = None) -> None:
        """Dim the last turn on screen (before a queued prompt): it stays readable, as in history, but is no
        longer context."""
        shown = list(transcript.children)
        shown = shown[:shown.index(before)] if before in shown else shown
        prompts = [i for i, widget in enumerate(shown) if isinstance(widget, PromptView)]
        for widget in shown[prompts[-1]:] if prompts else []:
            if isinstance(widget, ReplyView):
                widget.replaced()
            else:
                widget.add_class("-replaced")

    @work(group="send", exit_on_error=False)
    async def _send(self, prompt: str, tags: frozenset[str], model: str | None, replacing: int | None) -> None:
        with streaming():
            async for event in self.session.chat.send(prompt, conversation_id=self.conversation_id, model=model,
                                                      tags=tags, incognito=self.incognito, replacing=replacing,
                                                      settings=self.settings):
                if isinstance(event, TurnStarted):
                    self._last_prompt = (event.prompt_message_id, prompt)
                self.post_message(TurnProgress(event))

    @on(TurnProgress)
    async def _progress(self, message: TurnProgress) -> None:
        event, reply = message.event, self._reply
        if reply is None:
            return
        if isinstance(event, TextDelta):
            reply.append(event.text)
            return
        if isinstance(event, TurnStarted):
            self.conversation_id = event.conversation_id
        elif isinstance(event, Routed):
            reply.show_decision(event.decision)
        elif isinstance(event, AttemptStarted):
            reply.attempt_started(event.model_alias, event.hop, event.reason)
        elif isinstance(event, AttemptEnded):
            await reply.attempt_ended(event.attempt)
        elif isinstance(event, Checked) and not event.verdict.passed:
            await reply.checked(event)
        elif isinstance(event, ReplyDone):
            reply.finished(event.reply)
            status = self.query_one(StatusBar)
            status.conversation_cost = event.conversation_cost
            status.day_cost = event.day_cost
            status.streaming = False
        elif isinstance(event, TurnFailed):
            reply.stopped(f"not sent: {event.message}")
            self.query_one(StatusBar).streaming = False
        if isinstance(event, (ReplyDone, TurnFailed, AttemptEnded, Checked)):
            self._follow(new_turn=False)

    @on(Worker.StateChanged)
    async def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._sending or self._reply is None:
            return
        if event.state in (WorkerState.CANCELLED, WorkerState.ERROR, WorkerState.SUCCESS):
            self.query_one(StatusBar).streaming = False
        if event.state is WorkerState.CANCELLED:
            self._reply.stopped("cancelled · the partial reply is kept in history")
        elif event.state is WorkerState.ERROR:
            error = event.worker.error
            self._reply.stopped(one_line(redact(f"error: {type(error).__name__}: {error}")))
        if event.state in (WorkerState.CANCELLED, WorkerState.ERROR, WorkerState.SUCCESS):
            self._send_queued()

    # Actions ------------------------------------------------------------------------------------

    def action_cancel(self) -> None:
        """Esc: take back a queued prompt, stop the reply, leave edit mode, or drop a prompt still waiting
        for LiteLLM."""
        if self._take_back_queued():
            return
        if self._waiting is not None:
            self._waiting = None
            if self._reply is not None:
                self._reply.stopped("cancelled before it was sent · the prompt is not in history")
            return
        if self._sending is not None and self._sending.is_running:
            self._sending.cancel()
            return
        if self._replacing is not None:
            self._replacing = None
            self._show_editing()
            self.query_one(PromptInput).clear()

    def _stop_all(self) -> None:
        """Before the transcript changes: a queued prompt goes back to the box, the reply in flight stops."""
        self._take_back_queued()
        self.action_cancel()

    async def action_new_conversation(self) -> None:
        self._stop_all()
        self.conversation_id = None
        self._last_prompt = self._replacing = None
        self._set_settings(TurnSettings())
        self.query_one(StatusBar).conversation_cost = 0.0
        self._set_incognito(self.session.incognito)
        transcript = self.query_one("#transcript", VerticalScroll)
        self._reply = None
        transcript.anchor(False)  # the welcome text starts at the top again
        await transcript.remove_children()
        await transcript.mount(Static(self._welcome(), id="welcome", markup=False))
        self.query_one(PromptInput).focus()

    def action_cycle_tag(self) -> None:
        choices = [None, *sorted(self.session.profile.task_tags)]
        if len(choices) == 1:
            self.notify("This profile routes on no task tags.", timeout=3)
            return
        self.tag = choices[(choices.index(self.tag) + 1) % len(choices)] if self.tag in choices else None
        self.query_one(StatusBar).tag = self.tag or ""

    def action_toggle_models(self) -> None:
        self.query_one("#models").toggle_class("-visible")

    # Editing, asking again, copying ---------------------------------------------------------------

    def action_edit_last(self) -> None:
        if self._last_prompt is None:
            self.notify("No sent prompt to edit in this conversation yet.", severity="warning")
            return
        self._replacing, text = self._last_prompt
        box = self.query_one(PromptInput)
        box.load_text(text)
        box.move_cursor(box.document.end)
        box.focus()
        self._show_editing()

    def _show_editing(self) -> None:
        # Edit mode lasts until the prompt is sent or Esc, even if the box is emptied and retyped.
        box = self.query_one(PromptInput)
        box.border_title = "editing the last prompt · Enter replaces that turn · Esc cancels" \
            if self._replacing is not None else None
        box.set_class(self._replacing is not None, "-editing")

    @on(PromptInput.EditLast)
    def _edit_last_key(self) -> None:
        self.action_edit_last()

    def action_ask_another(self) -> None:
        from playground.tui.screens.pick_one import Choice, PickOne

        if self._last_prompt is None:
            self.notify("No sent prompt to ask again in this conversation yet.", severity="warning")
            return
        prompt_id, text = self._last_prompt
        choices = [Choice(info.alias, info.alias, model_detail(info), info.available)
                   for info in self.session.catalog.models.values()]

        async def picked(alias: str | None) -> None:
            if alias is not None:
                await self._ask(text, model=alias, replacing=prompt_id)

        self.app.push_screen(PickOne("Which model should answer the last prompt again?", choices), picked)

    def action_why(self) -> None:
        reply = _reply_of(self.focused) if self.focused is not None else None
        for candidate in [reply] if reply is not None else reversed(list(self.query(ReplyView))):
            if candidate.query(Collapsible):
                why = candidate.query_one(Collapsible)
                why.collapsed = not why.collapsed
                return
        self.notify("No routed reply to explain yet.", severity="warning")

    def _target_reply(self) -> ReplyView | None:
        focused = self.focused if isinstance(self.focused, ReplyView) else None
        replies = [r for r in self.query(ReplyView) if r.text]
        return focused if focused is not None and focused.text else (replies or [None])[-1]

    def action_copy(self, what: str = "ask") -> None:
        """Copy the target reply ('reply'), one of its code blocks ('code'), or ask which ('ask')."""
        from playground.tui.screens.pick_one import Choice, PickOne

        reply = self._target_reply()
        if reply is None:
            self.notify("No reply to copy yet.", severity="warning")
            return
        blocks = code_blocks(reply.text)
        if what == "code" and not blocks:
            self.notify("No code block in this reply.", severity="warning")
            return
        choices = [] if what == "code" else [Choice("reply", "the whole reply", f"{len(reply.text):,} characters")]
        choices += [Choice(str(i), first_line(code), language or "code") for i, (language, code) in enumerate(blocks)]

        def copy(picked: str | None) -> None:
            if picked == "reply":
                self._copy(reply.text, f"the reply ({len(reply.text):,} characters)")
            elif picked is not None:
                language, code = blocks[int(picked)]
                self._copy(code, f"the {language or 'code'} block ({code.count(chr(10)) + 1} lines)")

        if what == "reply" or len(choices) == 1:
            copy(choices[0].value if what != "reply" else "reply")
            return
        self.app.push_screen(PickOne("Copy what?", choices), copy)

    @work(thread=True, group="copy", exit_on_error=False)
    def _copy(self, text: str, what: str) -> None:
        from playground.tui import clipboard

        copied = clipboard.copy(text)
        if copied.confirmed:
            self.app.call_from_thread(self.notify, f"Copied {what} to {copied.where}.", timeout=3, markup=False)
            return
        # Also offered to the terminal (OSC 52): some terminals take it, but nothing can confirm that.
        self.app.call_from_thread(self.app.copy_to_clipboard, text)
        self.app.call_from_thread(
            self.notify, f"No clipboard found (no wl-copy, xclip, xsel, pbcopy or tmux): {what} is saved "
                         f"in {copied.where}.", severity="warning", timeout=8, markup=False)

    # Conversation settings and profile -------------------------------------------------------------

    def action_settings(self) -> None:
        from playground.tui.screens.settings import SettingsDialog

        def saved(settings: TurnSettings | None) -> None:
            if settings is not None:
                self._set_settings(settings)
                self.notify(f"Next turns: {settings.describe() or 'no system prompt, default temperature'}.",
                            timeout=3)

        self.app.push_screen(SettingsDialog(self.settings), saved)

    def _set_settings(self, settings: TurnSettings) -> None:
        self.settings = settings
        self.query_one(StatusBar).settings = settings.describe()

    @work(thread=True, group="profile-list", exclusive=True, exit_on_error=False)
    def action_pick_profile(self) -> None:
        """Offer the profiles that load: any other *.yaml in the working directory is not a profile."""
        from playground.config.profile import ProfileError, load_profile
        from playground.tui.screens.pick_one import Choice, PickOne

        current = self.session.profile_path.resolve()
        choices = []
        for path in known_profiles(current):
            try:
                profile = load_profile(path)
            except (ProfileError, OSError):
                continue
            where = "current" if path == current else str(path.parent)
            choices.append(Choice(str(path), profile_label(path), f"{profile.name} · {where}"))
        self.app.call_from_thread(self.app.push_screen, PickOne("Route with which profile?", choices),
                                  self._switch_profile)

    def _switch_profile(self, path: str | None) -> None:
        if path is not None:
            self.app.switch_profile(Path(path))

    # Comparing and feedback ----------------------------------------------------------------------

    @dataclass
    class Marked(Message):
        reply: ReplyView
        good: bool

    def action_compare(self) -> None:
        """Re-ask the conversation's last prompt side by side (or start a comparison in a fresh chat)."""
        from playground.tui.screens.compare import CompareScreen

        if self._sending is not None and self._sending.is_running:
            self.notify("A reply is still streaming: Esc cancels it.", severity="warning")
            return
        self.session.compare.incognito = self.incognito
        screen = CompareScreen(self.session, conversation_id=self.conversation_id,
                               reask=self.conversation_id is not None)
        self.app.push_screen(screen, self._continued)

    async def _continued(self, result: Continued | None) -> None:
        if result is None:
            return
        comparison, column = result.comparison, result.comparison.columns[result.column]
        self.conversation_id = comparison.conversation_id
        transcript = self.query_one("#transcript", VerticalScroll)
        reply = ReplyView()
        await transcript.mount_all(([] if result.reasked else [PromptView(comparison.prompt)]) + [reply])
        reply.set_head(f"→ {column.label} · chosen in a comparison")  # with its settings, if a variant
        reply.append(column.attempt.text)
        reply.finished(Reply(comparison.conversation_id, column.message_id, column.attempt.text, "complete",
                                   [column.attempt]))
        transcript.scroll_end(animate=False)

    def action_mark(self, good: bool) -> None:
        """Mark the focused reply, or else the latest one, good or bad; a reply that did not finish cannot be."""
        focused = self.focused if isinstance(self.focused, ReplyView) else None
        target = focused or (list(self.query(ReplyView)) or [None])[-1]
        if target is None:
            self.notify("No reply to mark yet.", severity="warning")
            return
        if target.message_id is None:
            why = target.stopped_as.split(" · ")[0] if target.stopped_as else "not finished yet"
            self.notify(f"This reply can't be marked ({why}): only a finished one can. Tab moves to another.",
                        severity="warning", markup=False)
            return
        self._record_mark(target, target.message_id, good)

    @work(thread=True, group="feedback", exit_on_error=False)
    def _record_mark(self, reply: ReplyView, message_id: int, good: bool) -> None:
        self.session.store.record_feedback(message_id, good)
        self.post_message(self.Marked(reply, good))

    @on(Marked)
    def _marked(self, message: Marked) -> None:
        message.reply.marked(message.good)
    def action_toggle_incognito(self) -> None:
        self._set_incognito(not self.incognito)
        self.notify("Incognito: the next prompts and replies of this conversation are not stored, only their "
                    "tokens, cost and timing." if self.incognito else "Incognito off: text is stored again.")

    def _set_incognito(self, on: bool) -> None:
        self.incognito = on
        self.query_one(StatusBar).incognito = on

    # Conversations from history -----------------------------------------------------------------

    def open_conversation(self, conversation_id: str) -> None:
        self._stop_all()
        self._load_conversation(conversation_id)

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def _load_conversation(self, conversation_id: str) -> None:
        store = self.session.store
        summary = store.conversation(conversation_id)
        if summary is None:
            return
        messages = store.messages(conversation_id)
        decisions = {row["reply_message_id"]: json.loads(row["decision"])
                     for row in store.attempts(conversation_id) if row["decision"] and row["reply_message_id"]}
        marks = {m.id: bool(found["good"]) for m in messages
                 if m.role == "assistant" and (found := store.feedback(m.id)) is not None}
        self.post_message(self.ConversationLoaded(summary, messages, store.final_attempts(conversation_id),
                                                  store.settings(conversation_id), decisions, marks))

    @on(ConversationLoaded)
    async def _conversation_loaded(self, message: ConversationLoaded) -> None:
        self.conversation_id = message.summary.id
        self._reply = None
        # Incognito is a choice for the next turns, not a property of the conversation: a reopened
        # conversation starts as this run does (earlier incognito turns stay textless in history).
        self._set_incognito(self.session.incognito)
        self.query_one(StatusBar).conversation_cost = message.summary.cost
        transcript = self.query_one("#transcript", VerticalScroll)
        transcript.anchor(False)
        await transcript.remove_children()
        shown = []
        self._last_prompt = self._replacing = None
        self._set_settings(message.settings)
        for stored in message.messages:
            if stored.role == "user":
                view = PromptView(stored.content or "(incognito: this prompt was not stored)")
                if stored.status == "replaced":
                    view.add_class("-replaced")
                elif stored.content:
                    self._last_prompt = (stored.id, stored.content)
                shown.append(view)
            else:
                shown.append(StoredReplyView(stored, message.replies.get(stored.id),
                                             message.decisions.get(stored.id), message.marks.get(stored.id)))
        await transcript.mount_all(shown)
        transcript.scroll_end(animate=False)
        self.query_one(PromptInput).focus()
