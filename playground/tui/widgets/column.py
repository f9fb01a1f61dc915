"""One model's column in a comparison: its label, a live line of figures, the streamed reply, its final state."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.widgets import Static

from playground.base.records import Attempt, LiveStats
from playground.present.format import figures, live_line, seconds
from playground.tui.frames import frames
from playground.tui.widgets.markdown_view import MarkdownView


class CompareColumn(VerticalScroll):
    """Scrolls on its own, so one long answer does not push the others out of view."""

    def __init__(self, model_alias: str) -> None:
        """`model_alias` is what was compared: an alias, or a variant such as `smollm2@temperature=1.2`."""
        super().__init__()
        self.model_alias = model_alias
        self.text = ""
        self.ended = False
        self.waited_s = 0.0
        self.body = MarkdownView(classes="column-body", follow=False)

    def compose(self) -> ComposeResult:
        # Docked: the model's name and figures stay in view while a long answer scrolls under them.
        with Vertical(classes="column-head"):
            yield Static(Text(self.model_alias), classes="column-label", markup=False)
            yield Static(Text("waiting for the first token…"), classes="column-live", markup=False)
        yield self.body
        yield Static(Text(""), classes="column-state", markup=False)

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        # Without a second layout and repaint each frame (see MarkdownView._size_updated); the scrollbar
        # still appears by a layout of its own.
        resized = super()._size_updated(size, virtual_size, container_size, layout=False)
        # Follow the stream: anchored, the column is scrolled to its end in the same layout pass that
        # places the new text (scrolling after it cost a second repaint a frame). Only once the column is
        # full: anchored before, Textual would align its text to the bottom. Scrolling up releases the
        # anchor (Textual), scrolling back to the end takes it again.
        if not self.is_anchored and self.max_scroll_y > 0:
            self.anchor()
        return resized

    def label(self, text: str) -> None:
        self.query_one(".column-label", Static).update(Text(text))

    def _state(self, text: str) -> None:
        self.query_one(".column-state", Static).update(Text(text))

    def append(self, piece: str) -> None:
        self.text += piece
        self.body.append(piece)

    def _live(self, text: str) -> None:
        # The queue's wait is the local model's turn-taking, not this model's speed: shown apart from TTFT.
        waited = f" · waited {seconds(self.waited_s)} for its turn" if self.waited_s else ""
        self.query_one(".column-live", Static).update(Text(text + waited))

    def waiting(self, behind: str, waited_s: float) -> None:
        self.waited_s = waited_s
        self.query_one(".column-live", Static).update(
            Text(f"queued: one local model answers one column at a time; {behind} goes first · "
                 f"waiting {seconds(waited_s)}"))

    def progress(self, live: LiveStats) -> None:
        # Shown with the text, at the next frame: its own repaint ten times a second per column cost as
        # much as the text's.
        frames(self.app).request(self, lambda: None if self.ended else self._live(live_line(live)))

    def finished(self, attempt: Attempt, status: str, waited_s: float = 0.0) -> None:
        self.ended = True
        self.waited_s = waited_s
        self._live(figures(attempt))
        if attempt.ok:
            self._state("done")
        else:
            self.add_class("-failed")
            self._state(f"✗ {attempt.failure}: {attempt.error or 'no detail'}"
                        + (" · partial answer kept" if attempt.text else ""))

    def cancelled(self) -> None:
        if not self.ended:
            self.ended = True
            self.add_class("-failed")
            self._state("cancelled · the partial answer is kept in history")
