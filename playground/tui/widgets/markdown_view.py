"""A reply's Markdown as one widget whose cost per redraw does not grow with the reply.

Textual's Markdown widget mounts a widget per block (more for list items and code), and every layout pass
walks them all: with four long replies streaming, each frame cost more than the last (2.3 s display lag,
130 ms per key press on two cores). Here one widget holds the lines Rich draws for the text, and layout
sees a single widget with a known height.

Rich draws a document's top-level blocks (paragraphs, lists, code, tables...) one after the other, each
from its own tokens, with a blank line between two (none after a rule). And a block is final once another
block has started after it on a complete line: CommonMark never reopens a closed block. So each block is
parsed and drawn once, when it becomes final; a redraw parses and draws only the open blocks at the end.
The lines are the ones Rich draws for the whole text (tests/test_markdown_view.py holds it to that).
"""

from __future__ import annotations

import copy
import functools
import io
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console
from rich.segment import Segment
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from playground.tui.frames import FRAME_S, frames

if TYPE_CHECKING:
    from markdown_it.token import Token

# An open code block is redrawn whole while it grows, and highlighting 25 kB of code took 300 ms. Past this
# many characters, its lines but the last few are drawn once, as their own block; the rest reopens with
# the same fence line. Where the parts meet, their padding rows are left out, so the block reads as one;
# only a construct that spans the cut (a multi-line string) can be highlighted differently from a whole draw.
CUT_CODE_AFTER_CHARS = 1500
_KEEP_OPEN_LINES = 3  # code lines left open at a cut: the cut falls behind what is still arriving

# Streamed text is drawn at the app's next frame (tui/frames.py). A redraw that took long (a long list or
# table still open) skips frames, so that drawing one reply takes at most this share of a core.
_DRAW_SHARE = 0.1

_CLOSING_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*\n?")

# The Markdown parser and Rich's renderer are imported on first use (a reply), not for the first paint.


@functools.cache
def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt().enable("strikethrough").enable("table")  # the parser Rich's Markdown uses


def _parse_with_breaks(text: str, env: dict | None = None) -> list[Token]:
    """Rich's parse, with every single newline kept as a line break (markdown-it's `breaks` option only
    affects its HTML renderer, so the tokens are changed here)."""
    tokens = _parser().parse(text, env)
    for token in tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"
    return tokens


@functools.cache
def _renderer(code_theme: str):
    from rich.markdown import Markdown as RichMarkdown

    # hyperlinks=False: a model's links are shown as text, never as terminal hyperlinks.
    return RichMarkdown("", code_theme=code_theme, hyperlinks=False)


@functools.cache
def _after_a_block() -> Token:
    """An empty HTML block: Rich draws nothing for it, and puts a blank line before the next block."""
    from markdown_it.token import Token

    return Token("html_block", "", 0)


@functools.cache
def _blank_line_after(token_type: str) -> bool:
    from rich.markdown import Markdown as RichMarkdown
    from rich.markdown import UnknownElement

    return RichMarkdown.elements.get(token_type, UnknownElement).new_line


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
        _renderer(theme)
    _parser()


@dataclass
class _Block:
    """Top-level tokens at the start of a parsed text, from its line `start` on."""

    start: int
    tokens: list[Token]


def _blocks(tokens: list[Token]) -> list[_Block]:
    blocks: list[_Block] = []
    for token in tokens:
        if token.level == 0 and token.nesting >= 0:  # a block opens (or is a single token: code, a rule)
            blocks.append(_Block(token.map[0] if token.map else -1, [token]))
        elif blocks:
            blocks[-1].tokens.append(token)
    return blocks


def _line_starts(text: str) -> list[int]:
    starts, at = [0], text.find("\n")
    while at != -1:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    return starts


@dataclass
class _Final:
    """Blocks that can no longer change: their tokens, and how they join what comes before and after."""

    text: str  # their source, parsed again if a reference definition arrives later
    tokens: list[Token]
    blank_after: bool  # Rich puts a blank line after them
    continues: bool = False  # the rest of a code block cut before them: no top padding row, no blank line
    cut: bool = False  # a code block cut after them: no bottom padding row


class MarkdownView(Widget):
    """Markdown that can be streamed into (`append`) or given at once (`MarkdownView(text)`)."""

    DEFAULT_CSS = """
    MarkdownView {
        height: auto;
    }
    """

    def __init__(self, source: str = "", *, classes: str | None = None, follow: bool = True) -> None:
        """`follow`: while the end of the scrolling pane around it is in view, scroll it on to the end as text
        arrives (False for a pane that follows by itself)."""
        super().__init__(classes=classes)
        self._source = source
        self._follow = follow
        self._final: list[_Final] = []
        self._open_at = 0  # where the blocks that may still change begin in the source
        self._reopen = ""  # the fence line of a code block cut at _open_at, which the open text continues
        # Link reference definitions ([label]: url "title"): in the final text, and in the whole text.
        self._final_references: dict[str, tuple[str, str]] = {}
        self._references: dict[str, tuple[str, str]] = {}
        self._final_lines: list[list[Segment]] = []
        self._final_drawn = 0  # how many of _final _final_lines holds
        self._final_width = 0
        self._open_lines: list[list[Segment]] = []
        self._width = 0  # the width the open lines were drawn at; 0 when they must be drawn again
        self._rested = 0.0  # when it may draw again, after a slow draw (time.monotonic)
        self.shown_chars = 0  # how much of the source the drawn lines show

    @property
    def source(self) -> str:
        return self._source

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw_all())

    def _redraw_all(self) -> None:
        # Drawn lines carry the theme's colours (text, code highlighting): all of them are drawn again.
        self._final_lines, self._final_drawn, self._final_width = [], 0, 0
        self._redraw()

    def append(self, text: str) -> None:
        """Add streamed text; it is shown at the next frame (later only if drawing it is slow)."""
        if not text:
            return
        self._source += text
        frames(self.app).request(self, self._redraw)

    def clear(self) -> None:
        """Drop everything shown (a new attempt replaces a failed one's text)."""
        self._source, self._final, self._open_at, self._reopen = "", [], 0, ""
        self._final_references, self._references = {}, {}
        self._final_lines, self._final_drawn, self._final_width, self._open_lines = [], 0, 0, []
        self._rested = 0.0
        self._redraw()

    def _redraw(self) -> None:
        if not self.is_attached:  # removed before its frame came
            return
        if time.monotonic() < self._rested:
            frames(self.app).request(self, self._redraw)
            return
        self._width = 0
        # Drawn here rather than in the layout pass, which then only reads the height.
        if width := self.size.width:
            started = time.thread_time()  # CPU time: a draw is not slow because another process ran
            self._draw(width)
            self._rested = time.monotonic() + (time.thread_time() - started) / _DRAW_SHARE - FRAME_S
        self.refresh(layout=True)
        if not self._follow:
            return
        # Follow the stream while its end is in view; once the user scrolls up to read, stay put.
        # (Textual's anchor() would also bottom-align a pane that is not full yet.)
        pane = next((node for node in self.ancestors if isinstance(node, Widget) and node.is_scrollable), None)
        # An anchored pane follows in the layout pass itself; scrolling it as well cost a second repaint a frame.
        if pane is not None and not pane.is_anchored and pane.max_scroll_y - pane.scroll_y <= 1:
            pane.scroll_end(animate=False)

    # Parsing -------------------------------------------------------------------------------------

    def _parse(self, text: str, references: dict[str, tuple[str, str]]) -> tuple[list[Token], dict]:
        """Parse `text` knowing the link `references` defined elsewhere; returns the references it knows then."""
        env: dict = {"references": {label: {"href": href, "title": title, "map": None}
                                    for label, (href, title) in references.items()}}
        tokens = _parse_with_breaks(text, env)
        return tokens, {label: (ref["href"], ref["title"]) for label, ref in env.get("references", {}).items()}

    def _parse_open(self, text: str) -> list[Token]:
        tokens, references = self._parse(text, self._final_references)
        if references != self._references:
            # A link defined below the links that use it (`[docs][1]` ... `[1]: https://...`): the blocks
            # drawn before the definition arrived (or grew) are parsed and drawn again with it.
            self._references = references
            for final in self._final:
                final.tokens = self._parse(final.text, references)[0]
            self._final_lines, self._final_drawn, self._final_width = [], 0, 0
        return tokens

    def _advance(self) -> list[Token]:
        """Parse the open text; move the blocks that became final to _final; return the open tokens."""
        text = self._reopen + self._source[self._open_at:]
        blocks = _blocks(self._parse_open(text))
        # A block is final once the next one has begun with two complete lines: whether a line starts a
        # block can depend on the line after it (a table's header row needs its delimiter row).
        complete = text.count("\n")
        ready = 0
        while ready + 1 < len(blocks) and 0 <= blocks[ready + 1].start < complete - 1:
            ready += 1
        if ready:
            cut = _line_starts(text)[blocks[ready].start]
            self._settle(text[:cut], [t for block in blocks[:ready] for t in block.tokens], cut)
            text, blocks = text[cut:], _blocks(self._parse_open(text[cut:]))
        if len(blocks) == 1 and blocks[0].tokens[0].type == "fence" and len(text) > CUT_CODE_AFTER_CHARS:
            text, blocks = self._cut_code(text, blocks[0])
        return [token for block in blocks for token in block.tokens]

    def _settle(self, text: str, tokens: list[Token], length: int, *, cut: bool = False) -> None:
        """`text` (the first `length` characters of the open text) and its `tokens` are final."""
        last = next(t for t in reversed(tokens) if t.level == 0 and t.nesting >= 0)
        self._final.append(_Final(text, tokens, _blank_line_after(last.type), bool(self._reopen), cut))
        if "]:" in text:  # it may define link references, which no later text can change
            self._final_references = self._parse(text, self._final_references)[1]
        self._open_at += length - len(self._reopen)
        self._reopen = ""

    def _cut_code(self, text: str, block: _Block) -> tuple[str, list[_Block]]:
        """Settle a long open code block's lines but the last few (ending on a line with code)."""
        fence, lines = block.tokens[0], text.splitlines(keepends=True)
        assert fence.map is not None
        last = block.start + fence.map[1] - fence.map[0] - 1
        closing = _CLOSING_FENCE.fullmatch(lines[last]) if last > block.start else None
        if closing is not None and closing.group(1).startswith(fence.markup):
            return text, [block]  # closed: final as soon as a block follows it
        end = text.count("\n") - _KEEP_OPEN_LINES
        while end > block.start + 1 and not lines[end - 1].strip():
            end -= 1
        if end <= block.start + 1:
            return text, [block]
        opening = lines[block.start]
        head = "".join(lines[:end])
        closed = head + opening[:len(opening) - len(opening.lstrip(" "))] + fence.markup + "\n"
        self._settle(closed, self._parse(closed, self._references)[0], len(head), cut=True)
        self._reopen = opening
        rest = opening + text[len(head):]
        return rest, _blocks(self._parse_open(rest))

    # Drawing -------------------------------------------------------------------------------------

    def _render(self, tokens: list[Token], width: int) -> list[list[Segment]]:
        code_theme = "monokai" if self.app.current_theme.dark else "default"
        markdown = copy.copy(_renderer(code_theme))
        markdown.parsed = tokens
        console = self.app.console
        # Plain segments, not Strips: a Strip caches what is derived from it (crops, filters), and kept
        # Strips made every garbage collection longer. Rich's own line rendering is also a third cheaper
        # than going through Textual's Visual.
        return console.render_lines(markdown, console.options.update(width=width, height=None),
                                    style=self.rich_style, pad=True)

    def _joined(self, lines: list[list[Segment]], tokens: list[Token], width: int, *, blank_before: bool,
                continues: bool = False, cut: bool = False) -> None:
        """Draw `tokens` onto the end of `lines`, joined the way Rich joins blocks in one document."""
        if not tokens:
            return
        if blank_before and not continues:
            # Whether Rich puts a blank line before a block depends on the element it closed last: the
            # block before (none after a rule), or one inside this block (a list's last item, an image).
            # An empty HTML block draws nothing and leaves the state the block before left.
            tokens = [_after_a_block(), *tokens]
        drawn = self._render(tokens, width)
        lines.extend(drawn[1 if continues else 0:len(drawn) - 1 if cut else len(drawn)])

    def _draw(self, width: int) -> None:
        open_tokens = self._advance()
        if width != self._final_width:
            self._final_lines, self._final_drawn, self._final_width = [], 0, width
        for index in range(self._final_drawn, len(self._final)):
            final = self._final[index]
            self._joined(self._final_lines, final.tokens, width, continues=final.continues, cut=final.cut,
                         blank_before=index > 0 and self._final[index - 1].blank_after)
        self._final_drawn = len(self._final)
        self._open_lines = []
        self._joined(self._open_lines, open_tokens, width, continues=bool(self._reopen),
                     blank_before=bool(self._final) and self._final[-1].blank_after)
        self._width = width
        self.shown_chars = len(self._source)

    def _drawn_lines(self, width: int) -> tuple[list[list[Segment]], list[list[Segment]]]:
        if width != self._width:
            self._draw(width)
        return self._final_lines, self._open_lines

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        # Textual sets virtual_size as a reactive here, which asks for a second layout and a full repaint
        # after every layout that changed the height: each frame of streamed text was laid out and painted
        # twice. Nothing scrolls inside this widget, so nothing needs it (Textual's ScrollView skips it too).
        return super()._size_updated(size, virtual_size, container_size, layout=False)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not width:
            return 0
        final, tail = self._drawn_lines(width)
        return len(final) + len(tail)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        final, tail = self._drawn_lines(width)
        line = final[y] if y < len(final) else tail[y - len(final)] if y - len(final) < len(tail) else []
        return Strip(line, width) if line else Strip.blank(width, self.visual_style.rich_style)
