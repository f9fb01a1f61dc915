"""A reply's Markdown as one widget whose cost per redraw does not grow with the reply.

Textual's Markdown widget mounts a widget per block (more for list items and code), and every layout pass
walks them all: with four long replies streaming, each frame cost more than the last (2.3 s display lag,
130 ms per key press on two cores). Here the text is cut into segments at block boundaries (a blank line
outside a code fence) once a segment is long enough; Rich draws each segment into lines once, and only
the last, growing segment is drawn again as text arrives. Layout sees a single widget with a known height.
"""

from __future__ import annotations

import functools
import io
import re

from rich.console import Console
from rich.segment import Segment
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

# How long a segment grows before it may be sealed. Redrawing the growing segment is the main cost of a
# frame, so it stays small; sealed segments cost nothing until the width changes.
SEAL_AFTER_CHARS = 400
# A long code block is cut too (highlighting 25 kB of code took 300 ms a redraw): the part drawn so far is
# closed with its fence, and the rest reopened with the same opening line. Cut less often than prose,
# since each cut shows as a taller gap inside the block.
SEAL_CODE_AFTER_CHARS = 2000

# Streamed text is shown at most this often. Each redraw re-lays out and repaints the screen, which costs
# the same whether one token or fifty arrived; at 10 a second the text still reads as a stream.
REDRAW_EVERY_S = 0.1

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")

# The Markdown parser and Rich's renderer are imported on first use (a reply), not for the first paint.


@functools.cache
def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt().enable("strikethrough").enable("table")  # the parser Rich's Markdown uses


def _parse_with_breaks(text: str) -> list:
    """Rich's parse, with every single newline kept as a line break (markdown-it's `breaks` option only
    affects its HTML renderer, so the tokens are changed here)."""
    tokens = _parser().parse(text)
    for token in tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"
    return tokens


def code_blocks(source: str) -> list[tuple[str, str]]:
    """The fenced and indented code blocks of a Markdown text, as (language, code)."""
    from markdown_it import MarkdownIt

    return [(token.info.split(" ")[0] if token.info else "", token.content.rstrip("\n"))
            for token in MarkdownIt("commonmark").parse(source) if token.type in ("fence", "code_block")]


def first_line(code: str, limit: int = 60) -> str:
    line = next((line.strip() for line in code.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[:limit - 1] + "…"


def warm_up() -> None:
    """Pay the first-use costs (the Markdown parser's setup, Pygments' lexers and styles: 100+ ms) off the
    event loop, before the first reply streams."""
    from rich.markdown import Markdown as RichMarkdown

    console = Console(file=io.StringIO(), width=40)
    for theme in ("monokai", "default"):
        sample = "# a\n\n- b\n\n```python\nx = 1\n```\n\n```bash\nls\n```\n\n```json\n{}\n```\n"
        console.render_lines(RichMarkdown(sample, code_theme=theme, hyperlinks=False))


class MarkdownView(Widget):
    """Markdown that can be streamed into (`append`) or given at once (`MarkdownView(text)`)."""

    DEFAULT_CSS = """
    MarkdownView {
        height: auto;
    }
    """

    def __init__(self, source: str = "", *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._segments: list[str] = [""]
        # Text drawn before and after each segment, not part of the source: a code block cut in two is
        # closed at the end of one segment and reopened at the start of the next.
        self._wraps: list[tuple[str, str]] = [("", "")]
        self._sealed_lines: list[list[Segment]] = []  # every sealed segment, drawn, with a blank line between
        self._sealed_drawn = 0  # how many sealed segments _sealed_lines holds
        self._sealed_width = 0
        self._tail_lines: list[list[Segment]] = []
        self._width = 0  # the width the lines were drawn at; 0 when the growing segment must be redrawn
        self._partial_line = ""
        self._fence: str | None = None  # the opening fence while inside a code block
        self._fence_line = ""  # the line that opened it, info string included
        self._redraw_pending = False
        self.shown_chars = 0  # how much of the source the drawn lines show
        self._cut(source)

    @property
    def source(self) -> str:
        return "".join(self._segments)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw_all())

    def _redraw_all(self) -> None:
        # Drawn lines carry the theme's colours (text, code highlighting): all of them are drawn again.
        self._sealed_lines, self._sealed_drawn, self._sealed_width = [], 0, 0
        self._redraw()

    def append(self, text: str) -> None:
        """Add streamed text; it is shown within REDRAW_EVERY_S."""
        if not text:
            return
        self._cut(text)
        if not self._redraw_pending:
            self._redraw_pending = True
            self.set_timer(REDRAW_EVERY_S, self._redraw)

    def clear(self) -> None:
        """Drop everything shown (a new attempt replaces a failed one's text)."""
        self._segments, self._wraps = [""], [("", "")]
        self._sealed_lines, self._sealed_drawn, self._sealed_width, self._tail_lines = [], 0, 0, []
        self._partial_line, self._fence, self._fence_line = "", None, ""
        self._redraw()

    def _cut(self, text: str) -> None:
        *lines, rest = text.split("\n")
        for part in lines:
            self._segments[-1] += part + "\n"
            line, self._partial_line = self._partial_line + part, ""
            was_in_code = self._fence is not None
            self._track_fence(line)
            grown = len(self._segments[-1])
            if self._fence is None:
                if line.strip() == "" and grown >= SEAL_AFTER_CHARS:
                    self._seal("", "")
            elif was_in_code and grown >= SEAL_CODE_AFTER_CHARS:
                self._seal(self._fence + "\n", self._fence_line + "\n")
        self._segments[-1] += rest
        self._partial_line += rest

    def _seal(self, close: str, reopen: str) -> None:
        self._wraps[-1] = (self._wraps[-1][0], close)
        self._segments.append("")
        self._wraps.append((reopen, ""))

    def _track_fence(self, line: str) -> None:
        match = _FENCE.match(line)
        if match is None:
            return
        fence = match.group(1)
        if self._fence is None:
            self._fence, self._fence_line = fence, line.rstrip("\n")
        elif fence[0] == self._fence[0] and len(fence) >= len(self._fence) and line.strip() == fence:
            self._fence = None

    def _redraw(self) -> None:
        self._redraw_pending = False
        self._width = 0
        self.refresh(layout=True)
        # Follow the stream while its end is in view; once the user scrolls up to read, stay put.
        # (Textual's anchor() would also bottom-align a pane that is not full yet.)
        pane = next((node for node in self.ancestors if isinstance(node, Widget) and node.is_scrollable), None)
        if pane is not None and pane.max_scroll_y - pane.scroll_y <= 1:
            pane.scroll_end(animate=False)

    def _draw_segment(self, text: str, width: int) -> list[list[Segment]]:
        from rich.markdown import Markdown as RichMarkdown

        code_theme = "monokai" if self.app.current_theme.dark else "default"
        # hyperlinks=False: a model's links are shown as text, never as terminal hyperlinks.
        markdown = RichMarkdown(text, code_theme=code_theme, hyperlinks=False)
        # Line breaks kept, as chat UIs do: code a model wrote without a fence stays on its lines.
        markdown.parsed = _parse_with_breaks(text)
        console = self.app.console
        # Plain segments, not Strips: a Strip caches what is derived from it (crops, filters), and kept
        # Strips made every garbage collection longer. Rich's own line rendering is also a third cheaper
        # than going through Textual's Visual.
        return console.render_lines(markdown, console.options.update(width=width, height=None),
                                    style=self.rich_style, pad=True)

    def _drawn_lines(self, width: int) -> tuple[list[list[Segment]], list[list[Segment]]]:
        if width != self._width:
            sealed = self._segments[:-1]
            if width != self._sealed_width:
                self._sealed_lines, self._sealed_drawn, self._sealed_width = [], 0, width
            for index in range(self._sealed_drawn, len(sealed)):
                before, after = self._wraps[index]
                if self._sealed_lines and not before:  # blocks apart; the two halves of a code block are not
                    self._sealed_lines.append([])
                self._sealed_lines.extend(self._draw_segment(before + sealed[index] + after, width))
            self._sealed_drawn = len(sealed)
            tail, (before, _) = self._segments[-1], self._wraps[-1]
            self._tail_lines = self._draw_segment(before + tail, width) if tail.strip() else []
            if self._tail_lines and self._sealed_lines and not before:
                self._tail_lines.insert(0, [])
            self._width = width
            self.shown_chars = sum(map(len, self._segments))
        return self._sealed_lines, self._tail_lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not width:
            return 0
        sealed, tail = self._drawn_lines(width)
        return len(sealed) + len(tail)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        sealed, tail = self._drawn_lines(width)
        line = sealed[y] if y < len(sealed) else tail[y - len(sealed)] if y - len(sealed) < len(tail) else []
        return Strip(line, width) if line else Strip.blank(width, self.visual_style.rich_style)
