"""The streamed Markdown widget: it paints what Rich paints for the whole text, however the text arrives."""

from __future__ import annotations

import random

from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from textual.app import App, ComposeResult

from playground.tui.frames import FRAME_S
from playground.tui.widgets.markdown_view import (
    CUT_CODE_AFTER_CHARS,
    MarkdownView,
    _parse_with_breaks,
)
from tests.support.pilot import painted_text

WIDTH = 60

# Block boundaries a streamed text can be cut at wrongly: lists that go on after a blank line, a table or
# a setext heading that a later line makes (or unmakes), a rule that is only a rule once it has three stars, code
# fences with blank lines and fences inside, a quote's lazy line, a link defined after its use.
VARIED = """\
# Title

Intro with **bold**, *em*, `code`, ~~gone~~ and a [link](https://example.com).
A second line, kept as a line break.

- tight one
- tight two
  - nested

1. loose one

   its second paragraph

2. loose two
3. loose three

Para before a table
| name | cost |
|------|-----:|
| a    | 1.5  |
| bb   | 22   |

Not a table, though its first lines were one
| a | b |
|---|---|x

Setext heading
--------------

> quoted line
lazy continuation

***
after a rule
#not a heading
#
```python
def f(x):

    return x  # a blank line above, inside the fence
```

````markdown
```
a fence inside a fence
```
````

~~~
tilde fence
~~~

    indented code

    with a blank line

<div>html block</div>

See [the docs][docs] and [again][docs].

[docs]: https://example.com/docs "Docs"

Last words with émoji 🚀 and wide 漢字.
"""


def _document(sections: int) -> str:
    parts = []
    for i in range(sections):
        parts.append(f"## Step {i}\n\nThe worker drains **batch {i}** and retries with `backoff={i}`.\n\n"
                     f"- read the table\n- group by *provider*\n\n"
                     f"```python\ndef drain_{i}(queue):\n\n    for item in queue:\n\n        item.retry()\n```\n\n")
    return "".join(parts)


class Holder(App):
    def __init__(self, source: str = "") -> None:
        super().__init__()
        self.source = source

    def compose(self) -> ComposeResult:
        yield MarkdownView(self.source)


def _lines(lines: list[list[Segment]]) -> list[list[tuple[str, object]]]:
    return [[(segment.text, segment.style) for segment in Segment.simplify(line)] for line in lines]


def _whole(view: MarkdownView, text: str) -> list[list[tuple[str, object]]]:
    """What Rich draws for the whole text in one go, as the widget configures it."""
    markdown = RichMarkdown(text, code_theme="monokai" if view.app.current_theme.dark else "default",
                            hyperlinks=False)
    markdown.parsed = _parse_with_breaks(text)
    console = view.app.console
    return _lines(console.render_lines(markdown, console.options.update(width=WIDTH, height=None),
                                       style=view.rich_style, pad=True))


def _drawn(view: MarkdownView) -> list[list[tuple[str, object]]]:
    final, tail = view._drawn_lines(WIDTH)
    return _lines(final + tail)


async def _check_every_step(text: str, pieces: list[int]) -> MarkdownView:
    """Stream `text` in `pieces`, drawing after each: every prefix draws exactly what Rich draws for it."""
    app = Holder()
    async with app.run_test(size=(WIDTH, 30)):
        view = app.query_one(MarkdownView)
        at = 0
        for size in [*pieces, len(text)]:
            view.append(text[at:at + size])
            at = min(len(text), at + size)
            view._draw(WIDTH)
            assert _drawn(view) == _whole(view, text[:at]), f"differs after ...{text[max(0, at - 80):at]!r}"
        assert view.source == text
        return view


async def test_every_prefix_of_a_streamed_text_draws_what_rich_draws_for_it():
    rng = random.Random(7)
    for _ in range(3):
        view = await _check_every_step(VARIED, [rng.randint(1, 12) for _ in range(len(VARIED) // 6)])
        assert len(view._final) > 10  # finished blocks were settled, not drawn again on every redraw


async def test_a_text_streamed_line_by_line_and_char_by_char_draws_what_rich_draws():
    await _check_every_step(VARIED, [len(line) + 1 for line in VARIED.split("\n")])
    await _check_every_step(VARIED[:700], [1] * 700)


async def test_a_link_defined_after_its_use_redraws_the_blocks_above():
    view = await _check_every_step("Read [this][1].\n\nMore.\n\nEven more.\n\n[1]: https://x.org\n", [4] * 20)
    assert "https://x.org" in "".join(text for line in _drawn(view) for text, _ in line)


async def test_streamed_in_timed_pieces_it_paints_what_the_whole_text_paints():
    text = _document(12)
    whole = Holder(text)
    async with whole.run_test(size=(80, 400)) as pilot:
        await pilot.pause()
        expected = painted_text(whole.query_one(MarkdownView))
    app = Holder()
    async with app.run_test(size=(80, 400)) as pilot:
        view = app.query_one(MarkdownView)
        rng, at = random.Random(7), 0
        while at < len(text):
            size = rng.randint(1, 40)
            view.append(text[at:at + size])
            at += size
            if rng.random() < 0.1:
                await pilot.pause(FRAME_S)
        await pilot.pause(FRAME_S * 3)
        assert painted_text(view) == expected
        assert "Step 11" in expected and "drain_11" in expected and "```" not in expected


async def test_text_appears_within_the_redraw_interval_and_clear_empties_it():
    app = Holder()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(MarkdownView)
        view.append("first **words**")
        await pilot.pause(FRAME_S * 2)
        assert "first words" in painted_text(view)
        view.clear()
        await pilot.pause()
        assert painted_text(view).strip() == ""
        assert view.source == ""
        view.append("second")
        await pilot.pause(FRAME_S * 2)
        assert painted_text(view).strip() == "second"


async def test_a_theme_change_redraws_the_text_in_the_new_colours():
    app = Holder("Some **bold** text\n\n```python\nx = 1\n```\n\nend\n")
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(MarkdownView)
        await pilot.pause()
        app.theme = "textual-dark"
        await pilot.pause()
        before = [segment.style for line in view._drawn_lines(view.size.width)[0] for segment in line]
        app.theme = "textual-light"
        await pilot.pause()
        after = [segment.style for line in view._drawn_lines(view.size.width)[0] for segment in line]
        assert before and before != after


async def test_a_long_open_code_block_is_drawn_in_parts_that_read_as_the_whole_block():
    # Blank lines (a cut never ends on one: Rich would strip it) and lines that wrap at WIDTH.
    code = "\n".join(f"def f{i}(x):\n\n\n    return x * {i}  # a comment long enough to wrap at sixty columns"
                     for i in range(150))
    text = f"Here:\n\n~~~~ python\n{code}\n~~~~\n\nDone.\n"
    assert len(code) > 5 * CUT_CODE_AFTER_CHARS
    app = Holder()
    async with app.run_test(size=(WIDTH, 30)):
        view = app.query_one(MarkdownView)
        for at in range(0, len(text), 37):
            view.append(text[at:at + 37])
            view._draw(WIDTH)
            # While it streams, the code drawn again is never much more than the cut size.
            assert len(view._reopen + view.source[view._open_at:]) < CUT_CODE_AFTER_CHARS + 200
        assert sum(final.cut for final in view._final) > 5
        # Line-local highlighting (no string or comment spans a cut): the parts draw what the whole block draws.
        assert _drawn(view) == _whole(view, text)
