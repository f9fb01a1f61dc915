"""Drift and budget in the chat screen: the models panel flags a drifted model, the status line says what
the budget leaves, within 80 columns; both from history written over real HTTP."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import yaml

from playground.router import drift
from playground.services.session import open_session
from playground.tui import app as tui_app
from playground.tui.app import PlaygroundApp
from playground.tui.widgets.models import ModelsPanel
from playground.tui.widgets.reply import ReplyView
from playground.tui.widgets.status import StatusBar
from tests.support.helpers import STUB_PRICE, guarded_env, profile_data
from tests.support.pilot import painted_text, wait_for


async def test_models_panel_flags_drift_and_the_status_line_shows_the_budget_left(tmp_path, server):
    server.script("steady", text="fine")
    server.script("flaky", text="fine")
    path = tmp_path / "p.yaml"
    data = profile_data(server.api_base, ["steady", "flaky"], name="watch", price=STUB_PRICE,
                        tiers={"main": ["steady", "flaky"]}, fallbacks=[],
                        budget={"daily_usd": 2, "models": {"flaky": {"daily_usd": 1}}})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    session = open_session(str(path), tmp_path / "h.db")
    for _ in range(drift.MIN_BASELINE):
        async for _event in session.chat.send("hello", model="flaky"):
            pass
    server.script("flaky", status=500)
    for _ in range(drift.RECENT):
        async for _event in session.chat.send("hello", model="flaky"):
            pass

    for size in ((120, 40), (80, 24)):
        async with PlaygroundApp(session).run_test(size=size) as pilot:
            status = pilot.app.screen.query_one(StatusBar)
            await wait_for(pilot, lambda status=status: "left today" in painted_text(status))
            line = painted_text(status).rstrip()
            assert line.endswith("· $1.99 left today") and len(line) <= size[0]
            if size[0] >= 120:
                panel = painted_text(pilot.app.screen.query_one(ModelsPanel))
                assert "⚠ drifted: errors 100%, was 0%" in panel
                assert "  $0.9998 left today" in panel  # flaky's own limit: $1 less its 20 replies
                assert panel.count("⚠") == 1  # steady is not flagged


async def test_past_the_budget_the_chat_refuses_in_one_line(tmp_path, server):
    server.script("paid", text="worth it")
    path = tmp_path / "p.yaml"
    data = profile_data(server.api_base, ["paid"], name="spent", price={"input_per_mtok": 10, "output_per_mtok": 20},
                        budget={"daily_usd": 0.0001})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    session = open_session(str(path), tmp_path / "h.db")
    async for _event in session.chat.send("one long enough prompt to spend more than the whole day's limit at once"):
        pass
    async with PlaygroundApp(session).run_test(size=(80, 24)) as pilot:
        status = pilot.app.screen.query_one(StatusBar)
        await wait_for(pilot, lambda: "budget reached today" in painted_text(status))
        await pilot.press(*"and another", "enter")
        await wait_for(pilot, lambda: bool(pilot.app.screen.query(ReplyView)))
        reply = pilot.app.screen.query(ReplyView).last()
        await wait_for(pilot, lambda: "not sent" in str(reply.query_one(".reply-meta").render()))
        note = str(reply.query_one(".reply-meta").render())
        # 21 tokens in at $10/Mtok, 2 out at $20/Mtok: $0.00025 against a $0.0001 limit.
        assert note.startswith("not sent: budget reached: $0.00025 of $0.0001 spent today; no free or local model")
    assert server.hits["paid"] == 1  # only the turn before the app


async def test_spend_from_another_process_reaches_the_running_chat(tmp_path, server, monkeypatch):
    monkeypatch.setattr(tui_app, "SPEND_POLL_S", 0.3)
    server.script("paid", text="worth it")
    path = tmp_path / "p.yaml"
    data = profile_data(server.api_base, ["paid"], name="shared", budget={"daily_usd": 1},
                        price={"input_per_mtok": 1000, "output_per_mtok": 2000})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    session = open_session(str(path), tmp_path / "h.db")
    async with PlaygroundApp(session).run_test(size=(80, 24)) as pilot:
        status = pilot.app.screen.query_one(StatusBar)
        await wait_for(pilot, lambda: "$1.00 left today" in painted_text(status))
        # Another process spends under the same profile: `playground ask` in a terminal beside the app.
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "playground", "ask", "spend a little", "--profile", str(path),
                             "--db", str(tmp_path / "h.db")],
            capture_output=True, text=True, timeout=120, env=guarded_env(PLAYGROUND_HOME=str(tmp_path / "home")))
        assert done.returncode == 0, done.stderr
        await wait_for(pilot, lambda: "$1.00" not in painted_text(status), timeout=10)
        line = painted_text(status)
        assert "$0.986 left today" in line and "today $0.014 ·" in line  # 14 tokens at $1,000/Mtok
    assert server.hits["paid"] == 1


async def test_a_models_list_longer_than_the_screen_scrolls_from_the_keyboard(tmp_path, server):
    # At 80x24 the panel stopped at the screen's edge, and Tab went past it: the last models were unreachable.
    from tests.support.helpers import compare_profile

    many = [f"model-{i:02d}" for i in range(30)]
    session = open_session(compare_profile(tmp_path, server.api_base, many), tmp_path / "h.db")
    try:
        async with PlaygroundApp(session, load_engine=False).run_test(size=(80, 24)) as pilot:
            await pilot.press("f2")
            pane = pilot.app.screen.query_one("#models")
            await wait_for(pilot, lambda: "model-00" in painted_text(pilot.app.screen.query_one(ModelsPanel)))
            assert pane.max_scroll_y > 0
            for _ in range(6):
                if pilot.app.focused is pane:
                    break
                await pilot.press("tab")
            assert pilot.app.focused is pane
            await pilot.press("end")
            await wait_for(pilot, lambda: pane.scroll_y == pane.max_scroll_y)
    finally:
        session.store.close()
