"""One model's column in a comparison: its label, a live line of figures, the streamed reply, its final state."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

from playground.format import figures, live_line
from playground.records import Attempt, LiveStats


class CompareColumn(VerticalScroll):
    """Streams Markdown through MarkdownStream (appends, no re-parse of the whole reply per piece)."""

    def __init__(self, model_alias: str) -> None:
        super().__init__()
        self.model_alias = model_alias
        self.text = ""
        self.ended = False
        self._stream = None

    def compose(self) -> ComposeResult:
        yield Static(Text(self.model_alias), classes="column-label", markup=False)
        yield Static(Text("waiting for the first token…"), classes="column-live", markup=False)
        yield Markdown("", open_links=False, classes="column-body")
        yield Static(Text(""), classes="column-state", markup=False)

    @property
    def body(self) -> Markdown:
        return self.query_one(".column-body", Markdown)

    def label(self, text: str) -> None:
        self.query_one(".column-label", Static).update(Text(text))

    def _state(self, text: str) -> None:
        self.query_one(".column-state", Static).update(Text(text))

    async def append(self, piece: str) -> None:
        self.text += piece
        if self._stream is None:
            self._stream = Markdown.get_stream(self.body)
        await self._stream.write(piece)

    def progress(self, live: LiveStats) -> None:
        self.query_one(".column-live", Static).update(Text(live_line(live)))

    async def _close_stream(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None

    async def finished(self, attempt: Attempt, status: str) -> None:
        await self._close_stream()
        self.ended = True
        self.query_one(".column-live", Static).update(Text(figures(attempt)))
        if attempt.ok:
            self._state("done")
        else:
            self.add_class("-failed")
            self._state(f"✗ {attempt.failure}: {attempt.error or 'no detail'}"
                        + (" · partial answer kept" if attempt.text else ""))

    async def cancelled(self) -> None:
        await self._close_stream()
        if not self.ended:
            self.ended = True
            self.add_class("-failed")
            self._state("cancelled · the partial answer is kept in history")
