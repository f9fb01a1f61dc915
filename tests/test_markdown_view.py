"""The streamed Markdown widget: what it paints, however the text arrives."""

from __future__ import annotations

import random

from textual.app import App, ComposeResult

from playground.tui.widgets.markdown_view import REDRAW_EVERY_S, SEAL_AFTER_CHARS, MarkdownView
from tests.support.pilot import painted_text


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


async def _stream(text: str, pieces: list[int]) -> tuple[str, MarkdownView, App]:
    app = Holder()
    async with app.run_test(size=(80, 400)) as pilot:
        view = app.query_one(MarkdownView)
        at = 0
        for size in pieces:
            view.append(text[at:at + size])
            at += size
        view.append(text[at:])
        await pilot.pause(REDRAW_EVERY_S * 3)
        return painted_text(view), view, app


async def test_streamed_in_any_pieces_it_paints_what_the_whole_text_paints():
    text = _document(12)
    assert len(text) > 4 * SEAL_AFTER_CHARS  # long enough to be cut into several segments
    whole = Holder(text)
    async with whole.run_test(size=(80, 400)) as pilot:
        await pilot.pause()
        expected = painted_text(whole.query_one(MarkdownView))
    rng = random.Random(7)
    streamed, view, _ = await _stream(text, [rng.randint(1, 9) for _ in range(len(text) // 5)])
    assert streamed == expected
    assert view.source == text
    assert "Step 11" in streamed and "drain_11" in streamed


async def test_a_code_block_with_blank_lines_is_never_cut():
    # Blank lines inside a fence are not block boundaries: cutting there would turn the rest of the code
    # into prose and show the closing fence as text.
    painted, _, _ = await _stream(_document(12), [3] * 3000)
    assert "```" not in painted
    assert "def drain_3(queue):" in painted


async def test_text_appears_within_the_redraw_interval_and_clear_empties_it():
    app = Holder()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(MarkdownView)
        view.append("first **words**")
        await pilot.pause(REDRAW_EVERY_S * 2)
        assert "first words" in painted_text(view)
        view.clear()
        await pilot.pause()
        assert painted_text(view).strip() == ""
        assert view.source == ""


async def test_a_theme_change_redraws_the_text_in_the_new_colours():
    app = Holder("Some **bold** text\n\n```python\nx = 1\n```\n")
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(MarkdownView)
        await pilot.pause()
        app.theme = "textual-dark"
        await pilot.pause()
        before = [segment.style for line in view._drawn_lines(view.size.width)[1] for segment in line]
        app.theme = "textual-light"
        await pilot.pause()
        after = [segment.style for line in view._drawn_lines(view.size.width)[1] for segment in line]
        assert before != after


async def test_a_long_code_block_is_drawn_in_parts_and_still_reads_as_one_block():
    from playground.tui.widgets.markdown_view import SEAL_CODE_AFTER_CHARS

    code = "\n".join(f"def f{i}(x):\n    return x * {i}" for i in range(300))
    text = f"Here:\n\n```python\n{code}\n```\n\nDone.\n"
    assert len(code) > 3 * SEAL_CODE_AFTER_CHARS
    painted, view, _ = await _stream(text, [40] * (len(text) // 40))
    assert view.source == text
    assert len(view._segments) > 3  # cut inside the block, so a redraw never highlights all of it
    assert "```" not in painted  # every part closed and reopened with its own fence: no fence shows as text
    lines = painted.splitlines()
    assert "def f0(x):" in painted and "return x * 299" in painted and lines[-1].strip() == "Done."
    # Every line of code is shown once, in order.
    shown = [line.strip() for line in lines if line.strip().startswith("def f")]
    assert shown == [f"def f{i}(x):" for i in range(300)]
