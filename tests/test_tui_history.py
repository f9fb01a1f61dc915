"""The history and stats screens driven with Pilot: what they show, and what opening, renaming,
deleting and incognito do to the store."""

from __future__ import annotations

import os

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from datetime import UTC, datetime

import pytest
from textual.widgets import DataTable, Input, Static

from playground.base.records import Attempt, Failure
from playground.services.session import open_session
from playground.tui.app import PlaygroundApp
from playground.tui.screens.chat import ChatScreen
from playground.tui.screens.history import HistoryScreen
from playground.tui.widgets.reply import PromptView, ReplyView, StoredReplyView
from playground.tui.widgets.status import StatusBar
from tests.support.helpers import STUB_PRICE, write_profile
from tests.support.openai_server import OpenAIStubServer
from tests.support.pilot import wait_for as _wait_for

SIZE = (140, 44)


def _profile(tmp_path, api_base: str = "http://127.0.0.1:9/v1") -> str:
    strong = {"price": {"input_per_mtok": 10.0, "output_per_mtok": 30.0}}
    return str(write_profile(tmp_path, api_base, {"cheap": {"price": STUB_PRICE}, "strong": strong},
                             name="ui-test", fallbacks=[], retries=None, timeouts=None,
                             routes=[{"name": "everything", "tier": "main"}]))


def _turn(store, prompt: str, reply: str, alias: str, cost: float, conversation: str | None = None,
          failure: Failure | None = None) -> str:
    conversation, prompt_id = store.start_turn(conversation, prompt, "ui-test")
    reply_id = store.start_reply(conversation)
    attempt = Attempt(alias, f"openai/{alias}", "everything", "everything (default route)", 0,
                      datetime.now(UTC).timestamp(), text=reply, input_tokens=100, output_tokens=50,
                      cost_usd=cost, ttft_s=0.25, latency_s=1.5, failure=failure)
    store.record_attempt(attempt, conversation, prompt_id, reply_id, None)
    store.save_reply(reply_id, reply, "failed" if failure else "complete", alias)
    return conversation


@pytest.fixture
def session(tmp_path):
    session = open_session(_profile(tmp_path), tmp_path / "h.db")
    store = session.store
    otters = _turn(store, "tell me about otters", "Otters **hold hands** while asleep.", "cheap", 0.001)
    _turn(store, "and beavers?", "Beavers build dams.", "cheap", 0.002, conversation=otters)
    _turn(store, "[bold]markup[/bold] in a title", "a [@click=app.quit]trap[/]", "strong", 0.03)
    yield session
    session.store.close()


def _meta(reply: ReplyView) -> str:
    return str(reply.query_one(".reply-meta").render())


def _rows(screen) -> list[list[str]]:
    table = screen.query_one("#history-table", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def _open_history(pilot) -> HistoryScreen:
    await pilot.press("f3")
    await _wait_for(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
    screen = pilot.app.screen
    await _wait_for(pilot, lambda: "conversation" in str(screen.query_one("#history-status", Static).render()))
    return screen


async def test_history_lists_conversations_and_searches_as_you_type(session):
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_history(pilot)
        rows = _rows(screen)
        assert [r[0] for r in rows] == ["[bold]markup[/bold] in a title", "tell me about otters"]
        assert rows[0][2:4] == ["strong", "$0.03"] and rows[1][2:4] == ["cheap", "$0.003"]
        assert "2 conversations" in str(screen.query_one("#history-status", Static).render())
        await pilot.press(*"beav")
        await _wait_for(pilot, lambda: len(_rows(screen)) == 1)
        # The passage is from the conversation's newest matching message.
        assert _rows(screen)[0][0] == "tell me about otters" and _rows(screen)[0][4] == "Beavers build dams."
        await pilot.press(*' "AND NEAR(')  # operators and quotes are text, not syntax errors
        await _wait_for(pilot, lambda: _rows(screen) == [])
        assert app.is_running


async def test_history_filters_by_model(session):
    async with PlaygroundApp(session, load_engine=False).run_test(size=SIZE) as pilot:
        screen = await _open_history(pilot)
        select = screen.query_one("#history-model")
        await _wait_for(pilot, lambda: len(select._options) == 3)  # the blank option, cheap and strong
        select.value = "strong"
        await _wait_for(pilot, lambda: len(_rows(screen)) == 1)
        assert _rows(screen)[0][2] == "strong"


async def test_opening_a_conversation_shows_it_in_the_chat_and_continues_it(tmp_path):
    with OpenAIStubServer() as stub:
        stub.script("cheap", text="They chew trees.")
        session = open_session(_profile(tmp_path, stub.api_base), tmp_path / "h.db")
        conversation = _turn(session.store, "tell me about otters", "Otters **hold hands**.", "cheap", 0.001)
        _turn(session.store, "and beavers?", "", "strong", 0.0, conversation=conversation, failure=Failure.TIMEOUT)
        app = PlaygroundApp(session)
        async with app.run_test(size=SIZE) as pilot:
            await _wait_for(pilot, lambda: "ready" in str(app.screen.query_one(StatusBar).render()), timeout=30)
            screen = await _open_history(pilot)
            screen.query_one("#history-table").focus()
            await pilot.press("enter")
            await _wait_for(pilot, lambda: isinstance(app.screen, ChatScreen) and app.screen.query(StoredReplyView))
            chat = app.screen
            assert chat.conversation_id == conversation
            assert [str(p.render()) for p in chat.query(PromptView)] == ["tell me about otters", "and beavers?"]
            first, second = chat.query(StoredReplyView)
            assert first.text == "Otters **hold hands**."
            assert str(first.query_one(".reply-head").render()).startswith("→ cheap · everything (default route)")
            assert "failed: this is the partial reply" in str(second.query_one(".reply-meta").render())
            assert second.has_class("-failed")
            assert "conversation $0.001" in str(chat.query_one(StatusBar).render())
            # Continuing: the next prompt joins the same conversation, with the history as context.
            await pilot.click("#prompt")
            await pilot.press(*"what do beavers eat?", "enter")
            await _wait_for(pilot, lambda: "TTFT" in _meta(chat.query(ReplyView).last()))
        sent = [m["content"] for m in stub.requests[-1]["messages"]]
        assert sent == ["tell me about otters", "Otters **hold hands**.", "and beavers?", "what do beavers eat?"]
        assert session.store.conversation_count() == 1
        session.store.close()


async def test_rename_and_delete_with_confirmation(session):
    async with PlaygroundApp(session, load_engine=False).run_test(size=SIZE) as pilot:
        screen = await _open_history(pilot)
        assert isinstance(pilot.app.focused, Input)  # the search box, as the screen opens
        await pilot.press("down")  # to the list (it stayed in the search box, and `r` typed an r)
        assert pilot.app.focused is screen.query_one("#history-table")
        await pilot.press("down", "r")  # the otters conversation
        await _wait_for(pilot, lambda: pilot.app.screen.query("#dialog-input"))
        field = pilot.app.screen.query_one("#dialog-input", Input)
        assert field.value == "tell me about otters"
        field.value = "Aquatic mammals"
        await pilot.press("enter")
        await _wait_for(pilot, lambda: pilot.app.screen is screen and _rows(screen)[1][0] == "Aquatic mammals")
        await pilot.press("d")
        await _wait_for(pilot, lambda: pilot.app.screen.query("#yes"))
        question = str(pilot.app.screen.query_one(".dialog-question").render())
        assert "Delete “Aquatic mammals” with its messages" in question
        await pilot.press("n")  # declined: nothing happens
        await _wait_for(pilot, lambda: pilot.app.screen is screen)
        assert len(_rows(screen)) == 2
        await pilot.press("d")
        await _wait_for(pilot, lambda: pilot.app.screen.query("#yes"))
        await pilot.click("#yes")
        await _wait_for(pilot, lambda: len(_rows(screen)) == 1)
        assert _rows(screen)[0][0] == "[bold]markup[/bold] in a title"
    assert session.store.conversation_count() == 1
    assert [c.title for c in session.store.conversations()] == ["[bold]markup[/bold] in a title"]


async def test_stats_screen_shows_figures_per_model(session):
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await _wait_for(pilot, lambda: " prompt" in str(app.screen.query_one("#stats-summary").render()))
        summary = str(app.screen.query_one("#stats-summary").render())
        assert "3 prompts, 3 requests, 300 tokens in / 150 out, $0.033" in summary
        assert "TTFT p50 250 ms p95 250 ms · total p50 1.50 s p95 1.50 s" in summary
        # Baseline: the dearest priced model, strong: 300 × $10/M + 150 × $30/M = $0.0075 against $0.033.
        assert "against strong for everything: $0.0075; the router cost an extra $0.0255" in summary
        models = app.screen.query_one("#stats-models", DataTable)
        rows = {str(models.get_row_at(i)[0]): [str(c) for c in models.get_row_at(i)] for i in range(models.row_count)}
        assert rows["strong"][1:6] == ["1", "0.0%", "100", "50", "$0.03"]
        assert rows["cheap"][1:6] == ["2", "0.0%", "200", "100", "$0.003"]
        await pilot.press("f3")  # straight from stats to history
        await _wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("escape")
        await _wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))


async def test_incognito_toggle_stores_no_text_for_the_conversation(tmp_path):
    with OpenAIStubServer() as stub:
        stub.script("cheap", text="a private answer")
        session = open_session(_profile(tmp_path, stub.api_base), tmp_path / "h.db")
        app = PlaygroundApp(session)
        async with app.run_test(size=SIZE) as pilot:
            await _wait_for(pilot, lambda: "ready" in str(app.screen.query_one(StatusBar).render()), timeout=30)
            await pilot.press("f9")
            assert "incognito: text not stored" in str(app.screen.query_one(StatusBar).render())
            for prompt in ("first secret", "second secret"):
                await pilot.click("#prompt")
                await pilot.press(*prompt, "enter")
                await _wait_for(pilot, lambda: app.screen.query(ReplyView) and "TTFT" in _meta(
                    app.screen.query(ReplyView).last()))
            await pilot.press("ctrl+n")  # a new conversation is back to the run's default
            assert "incognito" not in str(app.screen.query_one(StatusBar).render())
        # The model saw the first exchange as context; the store kept none of the text.
        assert [m["content"] for m in stub.requests[-1]["messages"]] == [
            "first secret", "a private answer", "second secret"]
        [summary] = session.store.conversations()
        assert summary.incognito and summary.title == "" and summary.cost_usd > 0
        assert {m.content for m in session.store.messages(summary.id)} == {""}
        session.store.close()


async def test_the_search_box_has_room_at_80x24(session):
    async with PlaygroundApp(session, load_engine=False).run_test(size=(80, 24)) as pilot:
        screen = await _open_history(pilot)
        search = screen.query_one("#history-search", Input)
        assert search.size.width >= 24  # was 4 cells: three 24-cell filters took the rest
        assert all(select.size.width >= 10 for select in screen.query("#history-filters Select"))


@pytest.mark.parametrize(("cost", "says"), [
    ("nothing", "Nothing recorded in this window yet"),
    (0.0, "1 request in this window (local models are free)"),
    (None, "1 request in this window (1 had no known price: not plotted, never counted as $0)")])
async def test_stats_with_nothing_spent_say_what_fills_the_plots(tmp_path, cost, says):
    session = open_session(_profile(tmp_path), tmp_path / "h.db")
    if cost != "nothing":
        _turn(session.store, "a free question", "a free answer", "cheap", cost)
    try:
        async with PlaygroundApp(session, load_engine=False).run_test(size=(80, 24)) as pilot:
            await pilot.press("f4")
            await _wait_for(pilot, lambda: " prompt" in str(pilot.app.screen.query_one("#stats-summary").render()))
            screen = pilot.app.screen
            note = screen.query_one("#stats-plots-empty", Static)
            assert note.display and says in str(note.render()) and "F5" in str(note.render())
            assert not screen.query_one("#stats-plots").display
    finally:
        session.store.close()


async def test_stats_plots_show_when_something_was_spent(session):
    async with PlaygroundApp(session, load_engine=False).run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await _wait_for(pilot, lambda: " prompt" in str(pilot.app.screen.query_one("#stats-summary").render()))
        screen = pilot.app.screen
        assert screen.query_one("#stats-plots").display and not screen.query_one("#stats-plots-empty").display


async def test_an_empty_leaderboard_says_how_to_vote(session):
    async with PlaygroundApp(session, load_engine=False).run_test(size=(80, 24)) as pilot:
        await pilot.press("f8")
        await _wait_for(pilot, lambda: "0 votes" in str(pilot.app.screen.query_one("#board-title").render()))
        note = str(pilot.app.screen.query_one("#board-note").render())
        assert "No votes yet" in note and "F5" in note and "@temperature" in note
        assert not pilot.app.screen.query_one("#board").display


async def test_history_is_built_once_and_reloads_each_time_it_is_shown(session):
    async with PlaygroundApp(session, load_engine=False).run_test(size=SIZE) as pilot:
        first = await _open_history(pilot)
        before = len(_rows(first))
        first.query_one("#history-table").focus()
        await pilot.press("escape")
        await _wait_for(pilot, lambda: not isinstance(pilot.app.screen, HistoryScreen))
        session.store.start_turn(None, "written while history was closed", "default")
        again = await _open_history(pilot)
        assert again is first
        await _wait_for(pilot, lambda: len(_rows(again)) == before + 1)
        assert _rows(again)[0][0] == "written while history was closed"
        assert isinstance(pilot.app.focused, Input)  # opened from the chat: the search box again


async def test_history_reopened_after_a_theme_change_is_in_the_new_theme(session):
    """History skips Textual's restyle on each show (it threw away the table's drawn cells): a theme
    chosen while it was away must still reach it."""
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        async def history_background():
            await pilot.press("f3")
            await _wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen)
                            and "conversations" in str(app.screen.query_one("#history-status").render()))
            await pilot.pause(0.1)
            colour = app.screen.query_one(DataTable).styles.background
            await pilot.press("escape")
            await _wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
            return colour

        dark = await history_background()
        assert await history_background() == dark
        app.theme = "textual-light"
        await pilot.pause(0.1)
        assert await history_background() != dark
