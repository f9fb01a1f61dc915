"""The compare and leaderboard screens driven with Pilot against the local OpenAI-compatible test server."""

from __future__ import annotations

import os

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import random

import pytest
from textual.geometry import Region
from textual.widgets import SelectionList

from playground.services.session import open_session
from playground.tui.app import PlaygroundApp
from playground.tui.screens.compare import CompareScreen
from playground.tui.screens.leaderboard import LeaderboardScreen
from playground.tui.screens.pick_models import ModelPicker
from playground.tui.widgets.column import CompareColumn
from playground.tui.widgets.prompt_input import PromptInput
from playground.tui.widgets.reply import ReplyView
from tests.support.helpers import compare_profile
from tests.support.pilot import painted_text
from tests.support.pilot import wait_for as _wait_for

SIZE = (140, 40)
SLOW_TEXT = " ".join(f"s{i}" for i in range(20))


@pytest.fixture
def stub(server):
    server.script("slow", text=SLOW_TEXT, chunk_delay=0.03)
    server.script("broken", status=500)
    server.script("endless", text=" ".join(f"e{i}" for i in range(1000)), chunk_delay=0.02)
    return server


@pytest.fixture
def session(tmp_path, stub):
    opened = open_session(compare_profile(tmp_path, stub.api_base, ["slow", "broken", "endless"]), tmp_path / "h.db")
    yield opened
    opened.store.close()


def _shown(widget, selector: str) -> str:
    return str(widget.query_one(selector).render())


def _board(app) -> dict[str, list[str]]:
    table = app.screen.query_one("#board")
    return {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}


async def test_compare_a_slow_and_a_failing_model_vote_and_see_the_leaderboard_change(session):
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"hello", "enter")
        await _wait_for(pilot, lambda: any(r.message_id for r in app.screen.query(ReplyView)))
        chat_reply = app.screen.query_one(ReplyView).message_id

        await pilot.press("f8")
        await _wait_for(pilot, lambda: isinstance(app.screen, LeaderboardScreen)
                        and "0 votes" in _shown(app.screen, "#board-title"))
        assert _board(app) == {}
        await pilot.press("escape")

        # F5 re-asks the last prompt; the picker offers the route's candidates, already selected.
        await pilot.press("f5")
        await _wait_for(pilot, lambda: isinstance(app.screen, ModelPicker))
        assert app.screen.query_one("#picker-models").selected == ["slow", "broken", "endless"]
        await pilot.press("tab", "down", "down", "space")  # to the list; leave out `endless`
        await pilot.press("ctrl+s")
        await _wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        compare = app.screen
        await _wait_for(pilot, lambda: compare._finished)
        slow, broken = compare._columns
        assert slow.text == SLOW_TEXT and "done" in _shown(slow, ".column-state")
        assert "TTFT" in _shown(slow, ".column-live") and "20 out" in _shown(slow, ".column-live")
        assert _shown(broken, ".column-state").startswith("✗ server_error: HTTP 500")
        assert broken.has_class("-failed") and not slow.has_class("-failed")

        await pilot.press("1")
        await _wait_for(pilot, lambda: session.store.votes())
        vote, = session.store.votes()
        assert (vote.outcome, vote.winner_model_alias, vote.models, vote.route, vote.category, vote.blind) == (
            "win", "slow", ("slow", "broken"), "everything", "everything", False)
        await _wait_for(pilot, lambda: slow.has_class("-winner"))

        await pilot.press("f8")
        await _wait_for(pilot, lambda: isinstance(app.screen, LeaderboardScreen) and _board(app))
        board = _board(app)
        assert list(board) == ["slow", "broken"]
        assert board["slow"][3:7] == ["1", "0", "0", "0"] and board["broken"][3:7] == ["0", "1", "0", "0"]
        assert float(board["slow"][1]) > 1000 > float(board["broken"][1])
        await pilot.press("escape")

        # Enter continues the chat with the winner, whose reply replaces the one the chat had.
        await pilot.press("enter")
        await _wait_for(pilot, lambda: not isinstance(app.screen, CompareScreen))
        replies = list(app.screen.query(ReplyView))
        await _wait_for(pilot, lambda: "chosen in a comparison" in _shown(replies[-1], ".reply-head"))
        assert len(replies) == 2 and replies[-1].text == SLOW_TEXT
    statuses = {m.id: m.status for m in session.store.messages(vote.conversation_id)}
    assert statuses[chat_reply] == "compared"
    assert statuses[vote.reply_message_ids[0]] == "complete"
    assert statuses[vote.reply_message_ids[1]] == "failed"


async def test_in_the_prompt_box_the_bar_says_how_to_get_back_to_voting(session):
    # The bar said "vote: 1–2 picks the winner" with the focus in the prompt box, where 1 types a 1.
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(CompareScreen(session, models=["slow", "broken"]))
        compare = app.screen
        await _wait_for(pilot, lambda: isinstance(app.focused, PromptInput))
        await pilot.press(*"hi", "enter")
        await _wait_for(pilot, lambda: compare._finished)
        assert _shown(compare, "#vote-bar").startswith("vote: 1–2 picks the winner")
        await pilot.press("slash")
        await _wait_for(pilot, lambda: "Tab back to the replies to vote (1–2)" in _shown(compare, "#vote-bar"))
        await pilot.press("tab")
        await _wait_for(pilot, lambda: _shown(compare, "#vote-bar").startswith("vote: 1–2"))
        await pilot.press("1")
        await _wait_for(pilot, lambda: session.store.votes())
        assert compare.query_one(PromptInput).text == ""


async def test_blind_mode_hides_names_in_shuffled_order_until_the_vote(session):
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        # Random(3) puts `broken` first: the displayed order differs from the picked one.
        screen = CompareScreen(session, models=["slow", "broken"], blind=True, rng=random.Random(3))
        await app.push_screen(screen)
        await pilot.press(*"hi", "enter")
        await _wait_for(pilot, lambda: screen._finished)
        labels = [_shown(c, ".column-label") for c in screen.query(CompareColumn)]
        assert labels == ["1 · A", "2 · B"]
        first_shown = screen.query(CompareColumn).first().model_alias
        assert first_shown == "broken"
        await pilot.press("2")
        await _wait_for(pilot, lambda: session.store.votes())
        vote, = session.store.votes()
        assert (vote.winner_model_alias, vote.blind) == ("slow", True)
        await _wait_for(pilot, lambda: "=" in _shown(screen.query(CompareColumn).first(), ".column-label"))
        assert [_shown(c, ".column-label") for c in screen.query(CompareColumn)] == ["1 · A = broken", "2 · B = slow"]


async def test_escape_cancels_every_column_and_keeps_partial_answers(session):
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = CompareScreen(session, models=["endless", "slow"])
        await app.push_screen(screen)
        await pilot.press(*"count", "enter")
        await _wait_for(pilot, lambda: len(screen._columns) == 2 and len(screen._columns[0].text.split()) >= 5)
        await pilot.press("escape")
        await _wait_for(pilot, lambda: screen._finished)
        endless = screen._columns[0]
        assert "cancelled" in _shown(endless, ".column-state")
        await pilot.press("t")
        await _wait_for(pilot, lambda: session.store.votes())
        conversation = session.store.votes()[0].conversation_id
    messages = session.store.messages(conversation)
    endless_reply = next(m for m in messages if m.model_alias == "endless")
    assert endless_reply.status == "cancelled"
    assert endless_reply.content.startswith("e0 e1 e2 e3 e4") and len(endless_reply.content.split()) < 1000


async def test_chat_key_marks_a_reply_bad_and_stores_it(session):
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#prompt")
        await pilot.press(*"judge me", "enter")
        await _wait_for(pilot, lambda: any(r.message_id for r in app.screen.query(ReplyView)))
        reply = app.screen.query_one(ReplyView)
        await pilot.press("ctrl+f")  # Ctrl+B is tmux's prefix
        await _wait_for(pilot, lambda: "marked bad" in _shown(reply, ".reply-meta"))
    row = session.store.feedback(reply.message_id)
    assert (row["model_alias"], row["route"], row["good"]) == ("slow", "everything", 0)


async def test_model_text_in_a_column_is_never_markup(session, stub):
    stub.script("evil", text="[bold]x[/bold] [@click=app.quit]y[/]", words_per_chunk=50)
    stub.script("plain", text="fine")
    session.add_model("openai/evil", stub.api_base)
    session.add_model("openai/plain", stub.api_base)
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = CompareScreen(session, models=[f"openai/evil@{stub.api_base}", f"openai/plain@{stub.api_base}"])
        await app.push_screen(screen)
        await pilot.press(*"go", "enter")
        await _wait_for(pilot, lambda: screen._finished)
        assert app.is_running
        await _wait_for(pilot, lambda: "[bold]x[/bold] [@click=app.quit]y[/]" in painted_text(screen._columns[0].body))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_f5_picker_lists_its_models_on_top_of_the_chat(session, size):
    # The chat's stylesheet is loaded first; no rule of it may hide a widget of another screen.
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=size) as pilot:
        await pilot.press("f5")
        await _wait_for(pilot, lambda: isinstance(app.screen, ModelPicker))
        await pilot.pause()
        listing = app.screen.query_one(SelectionList)
        assert listing.display and listing.size.height >= 3
        shown = "\n".join(strip.text for strip in listing.render_lines(Region(0, 0, *listing.outer_size)))
        assert all(alias in shown for alias in ("slow", "broken", "endless"))


async def test_on_a_short_terminal_a_long_model_list_leaves_the_note_and_buttons_on_screen(tmp_path, stub):
    # Twenty models listed up to twenty rows: at 80x24 the picker ran off the bottom, the buttons and the
    # "1 selected: pick 2 to 6" note with it.
    many = [f"model-{i:02d}" for i in range(20)]
    opened = open_session(compare_profile(tmp_path, stub.api_base, many), tmp_path / "h.db")
    app = PlaygroundApp(opened, load_engine=False)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f5")
            await _wait_for(pilot, lambda: isinstance(app.screen, ModelPicker))
            screen = app.screen
            for selector in ("#confirm", "#cancel"):
                region = screen.query_one(selector).region
                assert region.height and region.bottom <= 24, (selector, region)
            listing = screen.query_one(SelectionList)
            listing.focus()
            for index in range(listing.option_count):  # untick every preselected model but the first
                if index and listing.get_option_at_index(index).value in listing.selected:
                    listing.highlighted = index
                    await pilot.press("space")
            await pilot.press("ctrl+s")
            await _wait_for(pilot, lambda: "selected: pick 2 to 6" in _shown(screen, "#picker-note"))
            await pilot.pause()
            for selector in ("#picker-note", "#confirm", "#cancel"):
                region = screen.query_one(selector).region
                assert region.height and region.bottom <= 24, (selector, region)
            listing = screen.query_one(SelectionList)
            assert listing.size.height >= 3
    finally:
        opened.store.close()


async def test_a_variant_typed_in_the_picker_compares_one_model_with_itself(session):
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await _wait_for(pilot, lambda: isinstance(app.screen, ModelPicker))
        picker = app.screen
        await pilot.pause()
        assert app.focused is picker.query_one("#picker-filter")  # typing filters at once, as the dialog says
        await pilot.press(*"slow@temp=1", "enter")
        assert "unknown setting 'temp'" in _shown(picker, "#picker-note")
        await pilot.press(*["backspace"] * 6, *"temperature=1", "enter")
        listing = picker.query_one(SelectionList)
        await _wait_for(pilot, lambda: listing.option_count == 4)
        assert listing.selected == ["slow", "broken", "endless", "slow@temperature=1"]
        assert listing.highlighted == 3  # on the variant just added
        await pilot.press("up", "space", "up", "space", "ctrl+s")  # untick endless and broken
        await _wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        compare = app.screen
        assert compare.models == ["slow", "slow@temperature=1"]
        await pilot.press(*"hi", "enter")
        await _wait_for(pilot, lambda: compare._finished)
        first, second = compare._columns
        assert "slow@temperature=1" in _shown(second, ".column-label")
        assert first.text == second.text == SLOW_TEXT
        assert "waited" not in _shown(first, ".column-live")
        assert "TTFT" in _shown(second, ".column-live") and "for its turn" in _shown(second, ".column-live")
        await pilot.press("2", "enter")  # the variant wins; the chat goes on with it, named with its settings
        await _wait_for(pilot, lambda: not isinstance(app.screen, CompareScreen))
        reply = list(app.screen.query(ReplyView))[-1]
        await _wait_for(pilot, lambda: "slow@temperature=1 · chosen in a comparison" in _shown(reply, ".reply-head"))


async def test_a_full_column_follows_its_stream_until_scrolled_up_and_again_from_its_end(session, stub):
    stub.script("lines", text=" ".join(f"line\n\n{i}" for i in range(5000)), words_per_chunk=2, chunk_delay=0.02)
    session.add_model("openai/lines", stub.api_base)
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = CompareScreen(session, models=[f"openai/lines@{stub.api_base}", "slow"])
        await app.push_screen(screen)
        await pilot.press(*"go", "enter")
        await _wait_for(pilot, lambda: len(screen._columns) == 2 and screen._columns[0].max_scroll_y > 10)
        column = screen._columns[0]
        await _wait_for(pilot, lambda: column.scroll_y == column.max_scroll_y > 20)  # it follows
        for head in (".column-label", ".column-live"):  # under a name and figures that stay in view
            region = column.query_one(head).region
            assert region.height >= 1 and column.region.contains_region(region), head
        await pilot.press("home")  # the focused column, scrolled up by the user: it stays where it was put
        height = column.max_scroll_y
        await _wait_for(pilot, lambda: column.max_scroll_y > height + 20)
        assert column.scroll_y == 0
        await pilot.press("end")  # back at its end, it follows again
        height = column.max_scroll_y
        await _wait_for(pilot, lambda: column.max_scroll_y > height + 20 and column.scroll_y == column.max_scroll_y)
        await pilot.press("escape")
        await _wait_for(pilot, lambda: screen._finished)
        await pilot.pause()
        assert column.scroll_y == column.max_scroll_y
        assert painted_text(column).rstrip().endswith("cancelled · the partial answer is kept in history")
