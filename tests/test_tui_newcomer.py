"""Defects a newcomer met in a real terminal (issue 12), driven with Pilot against the loopback test server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from textual import events
from textual.containers import VerticalScroll
from textual.widgets import Static

from playground.history.store import StoreError
from playground.providers import engine
from playground.services.session import open_session
from playground.tui import clipboard
from playground.tui.app import PlaygroundApp
from playground.tui.screens.chat import ChatScreen
from playground.tui.screens.history import HistoryScreen
from playground.tui.screens.pick_one import PickOne
from playground.tui.widgets.markdown_view import MarkdownView
from playground.tui.widgets.prompt_input import PromptInput
from playground.tui.widgets.reply import ReplyView, StoredReplyView
from playground.tui.widgets.status import StatusBar
from tests.support.helpers import write_profile
from tests.support.pilot import painted_text, wait_for

SMALL = (80, 24)


def _status(app) -> str:
    return str(app.screen.query_one(StatusBar).render())


def _head(reply: ReplyView) -> str:
    return str(reply.query_one(".reply-head").render())


def _meta(reply: ReplyView) -> str:
    return str(reply.query_one(".reply-meta").render())


async def _send(pilot, text: str) -> ReplyView:
    before = len(pilot.app.screen.query(ReplyView))
    pilot.app.screen.query_one(PromptInput).focus()
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: len(pilot.app.screen.query(ReplyView)) > before)
    return pilot.app.screen.query(ReplyView).last()


async def test_a_prompt_sent_while_litellm_loads_waits_and_is_sent_when_it_is_ready(tmp_path, server):
    server.script("stub", text="Hello after the wait.")
    session = open_session(str(write_profile(tmp_path, server.api_base, ["stub"])), tmp_path / "h.db")
    app = PlaygroundApp(session)
    # The real loading lock, held: the app's loader waits on it exactly as it waits on a slow import.
    engine._lock.acquire()
    try:
        async with app.run_test(size=SMALL) as pilot:
            reply = await _send(pilot, "Say hello")
            assert "loading LiteLLM" in _status(app)
            await wait_for(pilot, lambda: "waiting for LiteLLM, 1 s" in _head(reply), timeout=5)
            assert server.hits["stub"] == 0 and app.screen.query_one(PromptInput).text == ""
            engine._lock.release()
            await wait_for(pilot, lambda: "TTFT" in _meta(reply), timeout=30)
            assert reply.text == "Hello after the wait." and "ready" in _status(app)
            assert server.hits["stub"] == 1
    finally:
        if engine._lock.locked():
            engine._lock.release()


async def test_status_says_streaming_and_the_head_counts_seconds_until_the_first_token(tmp_path, server):
    # The first token is held back until the head has counted a second (a fixed 2.5 s delay before).
    slow = server.script("slow", text="late words", hold_after=0)
    session = open_session(str(write_profile(tmp_path, server.api_base, ["slow"])), tmp_path / "h.db")
    async with PlaygroundApp(session, load_engine=False).run_test(size=SMALL) as pilot:
        reply = await _send(pilot, "hi")
        await wait_for(pilot, lambda: re.search(r"waiting for the first token, [1-9]\d* s", _head(reply)), timeout=15)
        assert "streaming" in _status(pilot.app) and "ready" not in _status(pilot.app)
        slow.resume.set()
        await wait_for(pilot, lambda: "TTFT" in _meta(reply), timeout=30)
        assert "waiting" not in _head(reply)
        assert "streaming" not in _status(pilot.app)


async def test_a_reply_cut_at_the_token_limit_is_marked(tmp_path, server):
    server.script("short", text="This reply stops in the mid", finish_reason="length")
    session = open_session(str(write_profile(tmp_path, server.api_base, ["short"])), tmp_path / "h.db")
    async with PlaygroundApp(session, load_engine=False).run_test(size=SMALL) as pilot:
        reply = await _send(pilot, "hi")
        await wait_for(pilot, lambda: "TTFT" in _meta(reply), timeout=10)
        assert "cut at the token limit" in _meta(reply) and reply.has_class("-cut")


async def test_the_chat_follows_the_newest_reply_to_its_last_line(tmp_path, server):
    server.script("long", text="\n\n".join(f"Paragraph {i} of a long answer." for i in range(6)))
    session = open_session(str(write_profile(tmp_path, server.api_base, ["long"])), tmp_path / "h.db")
    async with PlaygroundApp(session, load_engine=False).run_test(size=SMALL) as pilot:
        transcript = pilot.app.screen.query_one("#transcript", VerticalScroll)

        def why_in_view(reply: ReplyView) -> bool:
            why, visible = reply.query_one(".reply-why").region, transcript.content_region
            return visible.y <= why.y and why.bottom <= visible.bottom

        for turn in range(5):
            reply = await _send(pilot, f"turn {turn}")
            await wait_for(pilot, lambda reply=reply: "TTFT" in _meta(reply), timeout=20)
            await wait_for(pilot, lambda reply=reply: why_in_view(reply), timeout=10)
            assert "TTFT" in painted_text(transcript)


async def test_a_streamed_frame_lays_the_chat_out_once(tmp_path, server, monkeypatch):
    # Each frame that made the reply taller set the reply's and the transcript's virtual_size reactives, and
    # each of those asked for a second layout and a full repaint (about 20% of the chat's CPU per token).
    from textual.widget import Widget

    server.script("long", text="\n\n".join(f"Paragraph {i} of a long answer." for i in range(40)), chunk_delay=0.01)
    session = open_session(str(write_profile(tmp_path, server.api_base, ["long"])), tmp_path / "h.db")
    second: list[str] = []
    refresh = Widget.refresh

    def counted(self, *args, **kwargs):
        caller = sys._getframe(1)
        if (kwargs.get("layout") and caller.f_code.co_name == "_set" and isinstance(self, (ReplyView, VerticalScroll))
                and caller.f_locals["self"].name == "virtual_size"):  # the scrollbar's showing up lays out once
            second.append(type(self).__name__)
        return refresh(self, *args, **kwargs)

    async with PlaygroundApp(session, load_engine=False).run_test(size=SMALL) as pilot:
        monkeypatch.setattr(Widget, "refresh", counted)
        reply = await _send(pilot, "a long one")
        await wait_for(pilot, lambda: "TTFT" in _meta(reply), timeout=20)
        transcript = pilot.app.screen.query_one("#transcript", VerticalScroll)
        assert transcript.max_scroll_y > 0 and transcript.scroll_y == transcript.max_scroll_y  # it still follows
    assert second == []


async def test_code_without_a_fence_keeps_its_line_breaks():
    from textual.app import App

    class Holder(App):
        def compose(self):
            yield MarkdownView("def f(x):\n    return x\nprint(f(2))")

    app = Holder()
    async with app.run_test(size=(60, 10)) as pilot:
        await pilot.pause()
        lines = [line.strip() for line in painted_text(app.query_one(MarkdownView)).splitlines() if line.strip()]
        assert lines == ["def f(x):", "return x", "print(f(2))"]


async def test_a_profile_change_while_history_is_on_top_is_applied_and_shown(tmp_path, server):
    path = write_profile(tmp_path, server.api_base, ["stub"], name="before")
    session = open_session(str(path), tmp_path / "h.db")
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen))
        path.write_text(path.read_text().replace("name: before", "name: after"))
        os.utime(path, ns=(1, 10**18))
        await wait_for(pilot, lambda: session.profile.name == "after", timeout=5)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        await wait_for(pilot, lambda: _status(app).startswith("after · "), timeout=3)
        # Back on the chat, typing goes to the prompt box.
        assert isinstance(app.focused, PromptInput)


async def test_f10_lists_only_files_that_are_valid_profiles(tmp_path, server, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = write_profile(tmp_path, server.api_base, ["stub"], filename="mine.yaml", name="mine")
    (tmp_path / "docker-compose.yaml").write_text("services:\n  web:\n    image: nginx\n")
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    session = open_session(str(good), tmp_path / "h.db")
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f10")
        await wait_for(pilot, lambda: isinstance(app.screen, PickOne))
        await pilot.pause(0.2)
        offered = painted_text(app.screen)
        assert "mine.yaml" in offered
        assert "docker-compose" not in offered and "broken" not in offered
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        assert isinstance(app.focused, PromptInput)


async def test_a_reopened_reply_keeps_its_explanation_and_its_mark(tmp_path, server):
    server.script("stub", text="An answer worth keeping.")
    session = open_session(str(write_profile(tmp_path, server.api_base, ["stub"])), tmp_path / "h.db")
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        reply = await _send(pilot, "hi")
        await wait_for(pilot, lambda: "TTFT" in _meta(reply), timeout=10)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "marked good" in _meta(reply))
        conversation = app.screen.conversation_id
        await pilot.press("ctrl+n")
        app.screen.open_conversation(conversation)
        await wait_for(pilot, lambda: bool(app.screen.query(StoredReplyView)))
        stored = app.screen.query_one(StoredReplyView)
        assert "marked good" in _meta(stored)
        assert "stub" not in _meta(stored)  # figures only: the head line names the model
        trace = str(stored.query_one(".reply-trace", Static).render())
        assert "route all" in trace and "✓ stub" in trace


def _notes(app) -> str:
    return "\n".join(str(note.message) for note in app._notifications)


async def _copy_reply(tmp_path, server, text: str):
    server.script("stub", text=text)
    session = open_session(str(write_profile(tmp_path, server.api_base, ["stub"])), tmp_path / "h.db")
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        reply = await _send(pilot, "hi")
        await wait_for(pilot, lambda: "TTFT" in _meta(reply), timeout=20)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: "Copied" in _notes(app) or "No clipboard" in _notes(app), timeout=10)
        return _notes(app)


async def test_copy_without_any_clipboard_says_so_and_keeps_the_text_in_a_file(tmp_path, server, monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "TMUX"):
        monkeypatch.delenv(name, raising=False)
    notes = await _copy_reply(tmp_path, server, "Text worth keeping.")
    assert "Copied" not in notes and "No clipboard found" in notes
    saved = clipboard.fallback_path()
    assert str(saved) in notes and saved.read_text() == "Text worth keeping."
    assert saved.stat().st_mode & 0o077 == 0


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
async def test_copy_inside_tmux_goes_to_its_paste_buffer(tmp_path, server, monkeypatch):
    socket = Path(f"/tmp/pg-clip-{uuid.uuid4().hex[:8]}")
    subprocess.run(["tmux", "-S", str(socket), "-f", "/dev/null", "new-session", "-d", "sleep 60"], check=True)
    try:
        for name in ("DISPLAY", "WAYLAND_DISPLAY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("TMUX", f"{socket},0,0")  # what tmux sets for programs in its panes
        notes = await _copy_reply(tmp_path, server, "Into the buffer.")
        assert "Copied the reply" in notes and "tmux" in notes
        shown = subprocess.run(["tmux", "-S", str(socket), "show-buffer"], capture_output=True, text=True)
        assert shown.stdout == "Into the buffer."
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True)
        socket.unlink(missing_ok=True)


TAKEN_BY_THE_TERMINAL = {"ctrl+b": "tmux's prefix", "f11": "full screen in most terminals"}
MENU_KEYS = {"f1", "f10"}  # GNOME Terminal and others open their own menus: another key must do the same


def test_no_key_is_taken_by_tmux_or_the_terminal_and_f1_f10_have_a_second_key():
    from playground.tui.screens.compare import CompareScreen
    from playground.tui.screens.dialogs import Confirm, TextPrompt
    from playground.tui.screens.help import HelpScreen
    from playground.tui.screens.history import HistoryScreen
    from playground.tui.screens.leaderboard import LeaderboardScreen
    from playground.tui.screens.pick_models import ModelPicker
    from playground.tui.screens.pick_one import PickOne
    from playground.tui.screens.settings import SettingsDialog
    from playground.tui.screens.stats import StatsScreen

    for owner in (PlaygroundApp, ChatScreen, HelpScreen, ReplyView, CompareScreen, HistoryScreen, StatsScreen,
                  LeaderboardScreen, ModelPicker, PickOne, SettingsDialog, Confirm, TextPrompt):
        for binding in owner.BINDINGS:
            keys = set(binding.key.split(","))
            assert not keys & set(TAKEN_BY_THE_TERMINAL), f"{owner.__name__}: {binding.key} → {binding.action}"
            if keys & MENU_KEYS:
                assert keys - MENU_KEYS, f"{owner.__name__}: {binding.action} only on {binding.key}"


async def test_a_focused_reply_is_marked_with_plus_and_minus(tmp_path, server):
    server.script("stub", text="Mark me.")
    session = open_session(str(write_profile(tmp_path, server.api_base, ["stub"])), tmp_path / "h.db")
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        reply = await _send(pilot, "hi")
        await wait_for(pilot, lambda: "TTFT" in _meta(reply), timeout=20)
        reply.focus()
        await pilot.press("minus")
        await wait_for(pilot, lambda: "marked bad" in _meta(reply))
        assert session.store.feedback(reply.message_id)["good"] == 0
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "marked good" in _meta(reply))


async def test_a_reopened_conversation_is_not_incognito_and_keeps_its_system_prompt(tmp_path, server):
    from playground.base.records import TurnSettings

    server.script("stub", text="ok")
    session = open_session(str(write_profile(tmp_path, server.api_base, ["stub"])), tmp_path / "h.db")
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        chat = app.screen
        chat._set_settings(TurnSettings("You are terse.", None))
        reply = await _send(pilot, "in the open")
        await wait_for(pilot, lambda: "TTFT" in _meta(reply), timeout=20)
        await pilot.press("f9")
        reply = await _send(pilot, "a secret")
        await wait_for(pilot, lambda: "TTFT" in _meta(reply), timeout=20)
        conversation = chat.conversation_id
        await pilot.press("ctrl+n")
        chat.open_conversation(conversation)
        await wait_for(pilot, lambda: bool(chat.query(StoredReplyView)))
        assert not chat.incognito and "incognito" not in _status(app)
        assert chat.settings.system == "You are terse."
        reply = await _send(pilot, "in the open again")
        await wait_for(pilot, lambda: "TTFT" in _meta(reply), timeout=20)
    stored = [m.content for m in session.store.messages(conversation) if m.role == "user"]
    assert stored == ["in the open", "", "in the open again"]


async def test_a_comparison_from_an_incognito_chat_stores_no_text(tmp_path, server):
    server.script("a", text="first answer")
    server.script("b", text="second answer")
    session = open_session(str(write_profile(tmp_path, server.api_base, ["a", "b"])), tmp_path / "h.db",
                           incognito=True)
    events = [event async for event in session.compare.run("a private comparison", ["a", "b"])]
    conversation = events[0].comparison.conversation_id
    assert {m.content for m in session.store.messages(conversation)} == {""}
    assert session.store.conversation(conversation).title == ""
    assert {a["output"] for a in session.store.attempts(conversation)} == {""}


async def test_the_first_paint_does_not_wait_for_the_session_and_keeps_what_was_typed(tmp_path, server):
    server.script("stub", text="answered")
    path = str(write_profile(tmp_path, server.api_base, ["stub"], name="early"))
    gate = threading.Event()

    def opener():
        gate.wait(10)  # the store and the profile take their time
        return open_session(path, tmp_path / "h.db")

    app = PlaygroundApp(opener=opener, profile_name="early", load_engine=False)
    async with app.run_test(size=SMALL) as pilot:
        assert "Profile early" in painted_text(app.screen) and app.session is None
        await pilot.press(*"typed early", "enter", *"draft")
        gate.set()
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), timeout=10)
        await wait_for(pilot, lambda: bool(app.screen.query(ReplyView)), timeout=10)
        reply = app.screen.query_one(ReplyView)
        await wait_for(pilot, lambda: reply.text == "answered", timeout=30)
        assert app.screen.query_one(PromptInput).text == "draft"


async def test_a_profile_that_does_not_validate_ends_the_start_with_its_error(tmp_path):
    from playground.services.session import open_session as opening

    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: bad\nmodels: {}\ntiers: {}\nroutes: []\nbogus: 1\n")
    app = PlaygroundApp(opener=lambda: opening(str(bad), tmp_path / "h.db"), profile_name="bad")
    async with app.run_test(size=SMALL) as pilot:
        await wait_for(pilot, lambda: not app.is_running or app.return_code == 2, timeout=10)
    assert app.return_code == 2 and app.startup_error.startswith("playground: error: ")
    assert "bad.yaml" in app.startup_error


async def test_keys_typed_while_the_chat_replaces_the_starting_screen_all_arrive(tmp_path, server):
    # Found in tmux on a cold start: a letter (or the Enter) typed just as the session opened went to the
    # starting screen's box after its text had been handed over, and was lost.
    server.script("stub", text="answered")
    path = str(write_profile(tmp_path, server.api_base, ["stub"], name="race"))
    session = open_session(path, tmp_path / "h.db")
    gate = threading.Event()

    def opener():  # the test opens the session itself, at the moment it chooses
        gate.wait(10)
        raise StoreError("the test is over")

    app = PlaygroundApp(opener=opener, profile_name="race", load_engine=False)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press(*"Say")
        # The session opens while a key is still in the starting box's queue, and more keys follow at once.
        await app.on_event(events.Key(" ", " "))
        app._opened(session)
        for key in ("h", "i", "enter"):
            await app.on_event(events.Key(key, key if key != "enter" else "\r"))
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), timeout=10)
        await wait_for(pilot, lambda: bool(app.screen.query(ReplyView)), timeout=10)
        reply = app.screen.query_one(ReplyView)
        await wait_for(pilot, lambda: reply.text == "answered", timeout=30)
        assert session.store.messages(app.screen.conversation_id)[0].content == "Say hi"
        assert app.screen.query_one(PromptInput).text == ""
    gate.set()


def test_a_thread_telling_a_closing_app_raises_nothing(monkeypatch):
    # Seen in CI: the session-open thread's call to exit the app was cancelled as the app closed, and the
    # thread died with a traceback (CancelledError is not a RuntimeError, which alone was suppressed).
    import concurrent.futures

    app = PlaygroundApp(opener=lambda: None, profile_name="x", load_engine=False)
    for error in (RuntimeError("the loop is closed"), concurrent.futures.CancelledError()):
        def closing(*_args, error=error):
            raise error

        monkeypatch.setattr(app, "call_from_thread", closing)
        app._from_thread(app.exit, None, 2)
