"""One exchange in the transcript: the prompt, the streamed reply, and its metadata line."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.widgets import Collapsible, Static

from playground.base.records import Attempt, Reply
from playground.history.store import StoredMessage
from playground.present.format import cascade_summary, decision_trace, escalation_line, failure_line, figures
from playground.router import Decision
from playground.router.decide import Candidate
from playground.services.events import Checked
from playground.tui.widgets.markdown_view import MarkdownView

STATUS_NOTES = {
    "complete": "",
    # Not "not chosen": a reply that won the vote, where the user left without continuing, is one too.
    "compared": "compared · the chat did not continue with this reply",
    "replaced": "replaced: the prompt was edited or asked of another model",
}


class TraceView(Static):
    """Lines that wrap under their own text: a continuation is indented two cells past the line's own
    indent, so each candidate of "why this model?" stays one block."""

    def __init__(self, lines: list[str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lines = lines or []

    def show(self, lines: list[str]) -> None:
        self.lines = lines
        self.refresh(layout=True)

    def hung(self, width: int) -> Text:
        console = self.app.console
        rows: list[str] = []
        for line in self.lines:
            hang = len(line) - len(line.lstrip(" ")) + 2
            first, *_ = Text(line).wrap(console, width) or [Text("")]
            rows.append(first.plain.rstrip())
            rest = line[len(first.plain):].strip()
            if rest:
                room = width - hang if width - hang >= 10 else width
                rows.extend(" " * (width - room) + row.plain.rstrip() for row in Text(rest).wrap(console, room))
        return Text("\n".join(rows))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.hung(width).plain.splitlines()) if self.lines else 0

    def render(self) -> Text:
        return self.hung(self.content_size.width or 1000)


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
        Binding("plus", "screen.mark(True)", "Good", show=False),
        Binding("minus", "screen.mark(False)", "Bad", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.message_id: int | None = None
        self._meta = ""
        self._head = "routing…"
        self._sent_at: float | None = None
        """When the request left, while no text has come back: the head counts the seconds."""
        self.stopped_as = ""
        """Why the reply stopped before it was finished (cancelled, not sent, an error)."""
        self._trace: list[str] = []

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        # As MarkdownView's: nothing scrolls inside a reply, and Textual's virtual_size reactive asked for a
        # second layout and repaint after every frame that made the streamed reply taller.
        return super()._size_updated(size, virtual_size, container_size, layout=False)

    def compose(self) -> ComposeResult:
        yield Static(Text("routing…"), classes="reply-head", markup=False)
        yield Vertical(classes="reply-failures")
        yield MarkdownView(classes="reply-body")
        yield Static(Text(""), classes="reply-meta", markup=False)
        with Collapsible(title="why this model?", classes="reply-why"):
            yield TraceView(classes="reply-trace")

    @on(Collapsible.Expanded)
    def _show_trace(self) -> None:
        # The explanation opens below the reply, often past the bottom of the transcript: bring it into view.
        self.call_after_refresh(self.query_one(".reply-why").scroll_visible, animate=False)

    @property
    def body(self) -> MarkdownView:
        return self.query_one(".reply-body", MarkdownView)

    def set_head(self, text: str) -> None:
        self._head = text
        self.query_one(".reply-head", Static).update(Text(text))

    def waiting(self) -> None:
        """The request is on its way: until its first token, the head says how long it has waited."""
        self._sent_at = time.monotonic()
        self.set_head("routing…")

    def tick(self) -> None:
        if self._sent_at is not None and not self.text:
            waited = time.monotonic() - self._sent_at
            self.query_one(".reply-head", Static).update(
                Text(f"{self._head} · waiting for the first token, {waited:.0f} s"))

    def show_decision(self, decision: Decision) -> None:
        self.set_head(f"→ {decision.model} · {decision.reason}")
        self._trace = decision_trace(decision)
        self.query_one(".reply-trace", TraceView).show(self._trace)

    def attempt_started(self, model_alias: str, hop: int, reason: str) -> None:
        if hop:
            # The failed attempt's partial text is kept in its failure row and in history.
            self.body.clear()
        self.text = ""
        self.set_head(f"→ {model_alias} · {reason}")

    def append(self, piece: str) -> None:
        if not self.text and piece:
            self._sent_at = None
            self.query_one(".reply-head", Static).update(Text(self._head))
        self.text += piece
        self.body.append(piece)

    async def attempt_ended(self, attempt: Attempt) -> None:
        if not attempt.ok:
            row = Static(Text(failure_line(attempt)), classes="failure-row", markup=False)
            await self.query_one(".reply-failures", Vertical).mount(row)

    async def checked(self, checked: Checked) -> None:
        """A cascade's check failed this answer: it is replaced by the next model's (kept in history)."""
        row = Static(Text(escalation_line(checked)), classes="failure-row escalation-row", markup=False)
        await self.query_one(".reply-failures", Vertical).mount(row)

    def finished(self, reply: Reply) -> None:
        self.message_id = reply.message_id
        self._sent_at = None
        final = reply.final
        if final is None:
            return
        meta = self.query_one(".reply-meta", Static)
        cascade = cascade_summary(reply)
        if cascade:
            self.query_one(".reply-trace", TraceView).show([*self._trace, cascade])
        if reply.status == "complete":
            # The model and the route are in the head line already: the metadata line holds the figures.
            self._meta = meta_text(final) + (f"\n{cascade}" if cascade else "")
            self.set_class(final.finish_reason == "length", "-cut")
        else:
            self._meta = f"{reply.status}: every model failed; the partial reply is kept in history"
            self.add_class("-failed")
        meta.update(Text(self._meta))

    def replaced(self) -> None:
        self.add_class("-replaced")
        self._meta = f"{self._meta} · {STATUS_NOTES['replaced']}" if self._meta else STATUS_NOTES["replaced"]
        self.query_one(".reply-meta", Static).update(Text(self._meta))

    def marked(self, good: bool) -> None:
        self.query_one(".reply-meta", Static).update(Text(with_mark(self._meta, good)))

    def stopped(self, note: str) -> None:
        self.stopped_as = note
        self._sent_at = None
        self.set_head(self._head)
        self.query_one(".reply-meta", Static).update(Text(note))
        self.add_class("-failed")


def stored_trace(decision: dict) -> list[str]:
    """The trace of a decision as history stored it (Decision.to_dict)."""
    fields = {name for name in Decision.__dataclass_fields__}
    data = {key: value for key, value in decision.items() if key in fields}
    data["candidates"] = tuple(Candidate(**c) for c in data.get("candidates", ()))
    data["fallbacks"] = tuple(data.get("fallbacks", ()))
    data["skipped"] = tuple(data.get("skipped", ()))
    try:
        return decision_trace(Decision(**data))
    except TypeError:  # written by another version: show what it says
        return [f"{key}: {value}" for key, value in decision.items() if key != "candidates"]


CUT_NOTE = "cut at the token limit (finish_reason=length)"


def meta_text(attempt: Attempt) -> str:
    """The figures of a finished attempt, and whether the model stopped because it ran out of tokens."""
    cut = f" · ✂ {CUT_NOTE}" if attempt.finish_reason == "length" else ""
    return figures(attempt) + cut


def with_mark(meta: str, good: bool | None) -> str:
    return meta if good is None else f"{meta} · marked {'good' if good else 'bad'}"


class StoredReplyView(ReplyView):
    """A reply loaded from history: the same layout as a live one, filled at once."""

    def __init__(self, message: StoredMessage, attempt: Attempt | None, decision: dict | None = None,
                 good: bool | None = None) -> None:
        super().__init__()
        self._message = message
        self._attempt = attempt
        self._decision = decision
        self._good = good
        self.text = message.content
        self.message_id = message.id

    def compose(self) -> ComposeResult:
        message, attempt = self._message, self._attempt
        head = f"→ {attempt.model_alias} · {attempt.reason}" if attempt else f"→ {message.model_alias or '?'}"
        yield Static(Text(head), classes="reply-head", markup=False)
        yield MarkdownView(message.content, classes="reply-body")
        if message.incognito:
            note = "incognito: the reply was not stored"
        else:
            note = STATUS_NOTES.get(message.status, f"{message.status}: this is the partial reply")
        meta = meta_text(attempt) if attempt and attempt.ok else ""
        # A cascade's answer says how it stood: the head already names the check that sent it up.
        checks = f"{'⤴ escalated,' if attempt.stage else '✓' if attempt.verdict == 'pass' else '✗'} " \
            f"{attempt.check_detail}" if attempt and attempt.verdict else ""
        self._meta = " · ".join(part for part in (meta, checks, note) if part)
        yield Static(Text(with_mark(self._meta, self._good)), classes="reply-meta", markup=False)
        if self._decision:
            with Collapsible(title="why this model?", classes="reply-why"):
                yield TraceView(stored_trace(self._decision), classes="reply-trace")

    def on_mount(self) -> None:
        self.set_class(self._message.status not in STATUS_NOTES, "-failed")
        self.set_class(self._message.status == "replaced", "-replaced")
