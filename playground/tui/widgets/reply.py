"""One exchange in the transcript: the prompt, the streamed reply, and its metadata line."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Collapsible, Static

from playground.base.records import Attempt, Reply
from playground.history.store import StoredMessage
from playground.present.format import decision_trace, failure_line, meta_line
from playground.router import Decision
from playground.tui.widgets.markdown_view import MarkdownView

STATUS_NOTES = {
    "complete": "",
    "compared": "not chosen in a comparison",
    "replaced": "replaced: the prompt was edited or asked of another model",
}


class PromptView(Static):
    """The user's prompt, shown as plain text (never parsed as markup)."""

    def __init__(self, prompt: str) -> None:
        super().__init__(Text(prompt), markup=False)


class ReplyView(Vertical):
    """A routed reply as it streams: which model, its Markdown, failed hops, figures and the route's trace."""

    can_focus = True  # so a reply can be picked for a good/bad mark, or copied
    BINDINGS = [
        Binding("c", "screen.copy('reply')", "Copy reply", show=False),
        Binding("k", "screen.copy('code')", "Copy code", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.message_id: int | None = None
        self._meta = ""

    def compose(self) -> ComposeResult:
        yield Static(Text("routing…"), classes="reply-head", markup=False)
        yield Vertical(classes="reply-failures")
        yield MarkdownView(classes="reply-body")
        yield Static(Text(""), classes="reply-meta", markup=False)
        with Collapsible(title="why this model?", classes="reply-why"):
            yield Static(Text(""), classes="reply-trace", markup=False)

    @on(Collapsible.Expanded)
    def _show_trace(self) -> None:
        # The explanation opens below the reply, often past the bottom of the transcript: bring it into view.
        self.call_after_refresh(self.query_one(".reply-why").scroll_visible, animate=False)

    @property
    def body(self) -> MarkdownView:
        return self.query_one(".reply-body", MarkdownView)

    def set_head(self, text: str) -> None:
        self.query_one(".reply-head", Static).update(Text(text))

    def show_decision(self, decision: Decision) -> None:
        self.set_head(f"→ {decision.model} · {decision.reason}")
        self.query_one(".reply-trace", Static).update(Text("\n".join(decision_trace(decision))))

    def attempt_started(self, model_alias: str, hop: int, reason: str) -> None:
        if hop:
            # The failed attempt's partial text is kept in its failure row and in history.
            self.body.clear()
        self.text = ""
        self.set_head(f"→ {model_alias} · {reason}")

    def append(self, piece: str) -> None:
        self.text += piece
        self.body.append(piece)

    async def attempt_ended(self, attempt: Attempt) -> None:
        if not attempt.ok:
            row = Static(Text(failure_line(attempt)), classes="failure-row", markup=False)
            await self.query_one(".reply-failures", Vertical).mount(row)

    def finished(self, reply: Reply) -> None:
        self.message_id = reply.message_id
        final = reply.final
        if final is None:
            return
        meta = self.query_one(".reply-meta", Static)
        if reply.status == "complete":
            self._meta = meta_line(final)
        else:
            self._meta = f"{reply.status}: every model failed; the partial reply is kept in history"
            self.add_class("-failed")
        meta.update(Text(self._meta))

    def replaced(self) -> None:
        self.add_class("-replaced")
        self._meta = f"{self._meta} · {STATUS_NOTES['replaced']}" if self._meta else STATUS_NOTES["replaced"]
        self.query_one(".reply-meta", Static).update(Text(self._meta))

    def marked(self, good: bool) -> None:
        self.query_one(".reply-meta", Static).update(Text(f"{self._meta} · marked {'good' if good else 'bad'}"))

    def stopped(self, note: str) -> None:
        self.query_one(".reply-meta", Static).update(Text(note))
        self.add_class("-failed")


class StoredReplyView(ReplyView):
    """A reply loaded from history: the same layout as a live one, filled at once."""

    def __init__(self, message: StoredMessage, attempt: Attempt | None) -> None:
        super().__init__()
        self._message = message
        self._attempt = attempt
        self.text = message.content

    def compose(self) -> ComposeResult:
        message, attempt = self._message, self._attempt
        head = f"→ {attempt.model_alias} · {attempt.reason}" if attempt else f"→ {message.model_alias or '?'}"
        yield Static(Text(head), classes="reply-head", markup=False)
        yield MarkdownView(message.content, classes="reply-body")
        if message.incognito:
            note = "incognito: the reply was not stored"
        else:
            note = STATUS_NOTES.get(message.status, f"{message.status}: this is the partial reply")
        meta = meta_line(attempt) if attempt and attempt.ok else ""
        self._meta = " · ".join(part for part in (meta, note) if part)
        yield Static(Text(self._meta), classes="reply-meta", markup=False)

    def on_mount(self) -> None:
        self.set_class(self._message.status not in STATUS_NOTES, "-failed")
        self.set_class(self._message.status == "replaced", "-replaced")
