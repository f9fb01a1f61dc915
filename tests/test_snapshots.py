"""What each screen and dialog looks like at 80x24 and 120x40 (pytest-textual-snapshot SVGs in __snapshots__/).

Pilot tests check the app's model of the screen; these check what is painted, so a stray CSS rule that
hides a widget (the F5 picker's list once was) fails here. Deterministic: a temporary home and store, the
loopback test server, a stopped clock for stream timings, fixed store timestamps, no cursor blink.
Regenerate after an intended change with `pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import os

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import datetime
import re
import sqlite3
import time
import types
from pathlib import Path

import pytest
from textual.widgets import Collapsible, Input, TextArea
from textual.widgets._footer import FooterKey

from playground.base.records import Attempt, Failure, Outcome, Vote
from playground.services.session import open_session
from playground.tui.app import PlaygroundApp
from playground.tui.screens.compare import CompareScreen
from playground.tui.screens.experiments import ExperimentsScreen
from playground.tui.screens.history import HistoryScreen
from playground.tui.screens.leaderboard import LeaderboardScreen
from playground.tui.screens.pick_models import ModelPicker
from tests.support.helpers import compare_profile
from tests.support.pilot import wait_for

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
ANSWER = "Otters hold hands while they sleep.\n\n- so they do not drift apart\n- in rafts of many"
STAMP = "2025-03-01T09:30:00.000+00:00"


@pytest.fixture(autouse=True)
def steady(monkeypatch):
    """No cursor blink, a stopped clock for stream figures (TTFT 0 ms), UTC for any date shown."""
    from playground.providers import engine, stream
    from playground.services import compare

    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setattr(TextArea, "_toggle_cursor_blink_visible", lambda self: None)
    stopped = types.SimpleNamespace(time=lambda: 1_740_821_400.0, perf_counter=lambda: 100.0)
    monkeypatch.setattr(stream, "time", stopped)
    monkeypatch.setattr(engine, "time", stopped)  # the HTTP hooks stamp when bytes go out and come in
    monkeypatch.setattr(compare, "time", stopped)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def stub(server):
    for name in ("fast", "careful"):
        server.script(name, text=ANSWER)
    server.script("broken", status=500)
    return server


@pytest.fixture
def session(tmp_path, stub):
    # Generous limits: on a loaded machine a first token can take seconds, and a fallback would change the picture.
    profile = Path(compare_profile(tmp_path, stub.api_base, ["fast", "careful", "broken"],
                                   timeouts={"first_token": 120, "idle": 120, "total": 300}))
    opened = open_session(str(profile), tmp_path / "h.db")
    yield opened
    opened.store.close()


def _app(session) -> PlaygroundApp:
    return PlaygroundApp(session, load_engine=False)


def _fix_times(session) -> None:
    """Every stored timestamp set to one moment, so lists that show dates paint the same each run."""
    with sqlite3.connect(session.store.path) as db:
        for table in ("conversations", "messages"):
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for column in {"created_at", "updated_at"} & columns:
                db.execute(f"UPDATE {table} SET {column} = ?", (STAMP,))


def _turn(store, prompt: str, reply: str, alias: str, cost: float, conversation: str | None = None) -> tuple:
    conversation, prompt_id = store.start_turn(conversation, prompt, "compare-test")
    reply_id = store.start_reply(conversation)
    attempt = Attempt(alias, f"openai/{alias}", "everything", "everything (default route)", 0, 1_740_821_400.0,
                      text=reply, input_tokens=12, output_tokens=30, cost_usd=cost, ttft_s=0.25, latency_s=1.5)
    store.record_attempt(attempt, conversation, prompt_id, reply_id, None)
    store.save_reply(reply_id, reply, "complete", alias)
    return conversation, prompt_id, reply_id


def _history(session) -> None:
    store = session.store
    otters, _, _ = _turn(store, "tell me about otters", ANSWER, "fast", 0.0012)
    _turn(store, "and beavers?", "Beavers build dams.", "fast", 0.0009, conversation=otters)
    _turn(store, "a haiku about rain", "Soft rain on tin roofs", "careful", 0.0310)
    _fix_times(session)


def _votes(session) -> None:
    store = session.store
    for prompt, winner, outcome in (("sort a list", 0, Outcome.WIN), ("explain monads", 1, Outcome.WIN),
                                    ("name a colour", None, Outcome.TIE), ("fix this bug", 0, Outcome.WIN)):
        conversation, prompt_id, fast_reply = _turn(store, prompt, "an answer", "fast", 0.001)
        careful_reply = store.start_reply(conversation)
        store.record_attempt(Attempt("careful", "openai/careful", "everything", "compared", 0, 1_740_821_400.0,
                                     text="another", cost_usd=0.01, latency_s=3.0),
                             conversation, prompt_id, careful_reply, None)
        models = ("fast", "careful")
        store.record_vote(Vote(conversation, prompt_id, outcome, models[winner] if winner is not None else None,
                               models, (fast_reply, careful_reply), "everything", "everything", False))


async def _settle(pilot) -> None:
    """Wait until two paints 0.2 s apart are the same: a table can re-measure its columns a frame late.
    The first paint is taken as soon as the app is idle, not 0.2 s later."""
    await pilot.pause()
    last = re.sub(r"terminal-\d+", "", pilot.app.export_screenshot())
    for _ in range(50):
        await pilot.pause(0.2)
        shot = re.sub(r"terminal-\d+", "", pilot.app.export_screenshot())
        if shot == last:
            return
        last = shot


def _keys(*keys: str):
    async def press(pilot) -> None:
        await pilot.press(*keys)
        await _settle(pilot)

    return press


async def _screen(pilot, kind) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind))
    await pilot.pause(0.2)


# Chat ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_chat_empty(snap_compare, session, size):
    assert snap_compare(_app(session), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES)
def test_chat_with_a_routed_reply_and_why_open(snap_compare, session, size):
    async def ask(pilot):
        await pilot.press(*"tell me about otters", "enter")
        await wait_for(pilot, lambda: "TTFT" in str(pilot.app.screen.query_one(".reply-meta").render()), 40)
        pilot.app.screen.query_one(".reply-why", Collapsible).collapsed = False
        await _settle(pilot)
        # Opening it scrolls it into view a frame later: end at the bottom, where the newest reply is.
        pilot.app.screen.query_one("#transcript").scroll_end(animate=False)
        await _settle(pilot)

    assert snap_compare(_app(session), terminal_size=size, run_before=ask)


def test_chat_with_an_escalated_reply(snap_compare, tmp_path, stub):
    """The cheap answer failed the route's JSON check: the escalation row, the stronger model's answer, both costs."""
    stub.script("careful", text='{"otters": "hold hands while they sleep"}')
    profile = compare_profile(tmp_path, stub.api_base, ["fast", "careful"], tiers={"cheap": ["fast"],
                              "strong": ["careful"]}, timeouts={"first_token": 120, "idle": 120, "total": 300},
                              routes=[{"name": "everything", "tier": "cheap",
                                       "escalate": {"to": ["strong"], "json": True}}])
    session = open_session(profile, tmp_path / "cascade.db")

    async def ask(pilot):
        await pilot.press(*"otters as json", "enter")
        await wait_for(pilot, lambda: "TTFT" in str(pilot.app.screen.query_one(".reply-meta").render()), 40)
        await _settle(pilot)
        pilot.app.screen.query_one("#transcript").scroll_end(animate=False)
        await _settle(pilot)

    try:
        assert snap_compare(_app(session), terminal_size=(120, 40), run_before=ask)
    finally:
        session.store.close()


@pytest.mark.parametrize("size", SIZES)
def test_chat_with_a_crowded_status_line(snap_compare, session, size):
    """Incognito, own settings, a task tag and an engine note: the least important parts give way first."""
    from playground.base.records import TurnSettings
    from playground.tui.messages import EngineReady

    async def crowd(pilot):
        pilot.app._apply(EngineReady(2, 0.0123, "semantic routes off: the embedding model is not installed"))
        pilot.app.screen._set_settings(TurnSettings("Answer briefly.", 0.7))
        await pilot.press("f9")
        pilot.app.clear_notifications()  # its toast would cover the status line
        await _settle(pilot)

    assert snap_compare(_app(session), terminal_size=size, run_before=crowd)


@pytest.mark.parametrize("size", SIZES)
def test_chat_with_a_drifted_model_and_a_budget(snap_compare, tmp_path, stub, size):
    profile = Path(compare_profile(tmp_path, stub.api_base, ["fast", "careful", "broken"], name="budgeted",
                                   budget={"daily_usd": 5, "models": {"careful": {"daily_usd": 1}}}))
    session = open_session(str(profile), tmp_path / "h.db")
    store, now = session.store, time.time()
    conversation, prompt_id = store.start_turn(None, "how are the models doing?", "budgeted")
    # Today's history: `careful` answered 20 times, then failed 10 times in a row: its errors drifted. The
    # attempts fall inside today even just after midnight, so today's spend is always theirs.
    midnight = datetime.datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    step = min(60.0, (now - midnight) / 31)
    for i in range(30):
        failed = i >= 20
        attempt = Attempt("careful", "openai/careful", "everything", "everything (default route)", 0,
                          now - step * (30 - i), text="" if failed else "fine", input_tokens=12, output_tokens=30,
                          cost_usd=0.0 if failed else 0.02, ttft_s=None if failed else 0.25,
                          latency_s=0.1 if failed else 1.5, failure=Failure.SERVER_ERROR if failed else None)
        store.record_attempt(attempt, conversation, prompt_id, None, None)
    session.state.refresh_monitor(store)
    try:
        assert snap_compare(_app(session), terminal_size=size, run_before=_keys("f2") if size == (80, 24) else _settle)
    finally:
        store.close()


@pytest.mark.parametrize("size", SIZES)
def test_settings_dialog(snap_compare, session, size):
    assert snap_compare(_app(session), terminal_size=size, run_before=_keys("ctrl+s"))


@pytest.mark.parametrize("size", SIZES)
def test_profile_picker(snap_compare, session, size, monkeypatch):
    # Only the current profile: others would show the folder they live in, which differs per checkout.
    from playground.tui.screens import chat

    monkeypatch.setattr(chat, "known_profiles", lambda current: [current])
    assert snap_compare(_app(session), terminal_size=size, run_before=_keys("f10"))


@pytest.mark.parametrize("size", SIZES)
def test_model_picker_to_ask_again(snap_compare, session, size):
    async def ask_then_pick(pilot):
        await pilot.press(*"tell me about otters", "enter")
        await wait_for(pilot, lambda: "TTFT" in str(pilot.app.screen.query_one(".reply-meta").render()), 40)
        await pilot.press("ctrl+r")
        await _settle(pilot)

    assert snap_compare(_app(session), terminal_size=size, run_before=ask_then_pick)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, session, size):
    assert snap_compare(_app(session), terminal_size=size, run_before=_keys("f1"))


# Compare -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_compare_picker_lists_the_models(snap_compare, session, size):
    async def open_picker(pilot):
        await pilot.press("f5")
        await _screen(pilot, ModelPicker)
        # The compare screen beneath fills its footer once it has been laid out: wait for it.
        await wait_for(pilot, lambda: pilot.app.screen_stack[-2].query(FooterKey))
        await _settle(pilot)

    assert snap_compare(_app(session), terminal_size=size, run_before=open_picker)


@pytest.mark.parametrize("size", SIZES)
def test_compare_columns_after_a_vote(snap_compare, session, size):
    async def compare_and_vote(pilot):
        await pilot.app.push_screen(CompareScreen(session, models=["fast", "fast@temperature=1.2", "broken"]))
        await _screen(pilot, CompareScreen)
        await pilot.press(*"tell me about otters", "enter")
        await wait_for(pilot, lambda: pilot.app.screen._finished, 40)
        await pilot.press("1")
        await wait_for(pilot, lambda: pilot.app.screen._vote is not None)
        await _settle(pilot)

    assert snap_compare(_app(session), terminal_size=size, run_before=compare_and_vote)


# History, stats, leaderboard -----------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_history(snap_compare, session, size):
    _history(session)

    async def open_history(pilot):
        await pilot.press("f3")
        await _screen(pilot, HistoryScreen)
        await wait_for(pilot, lambda: "conversation" in str(pilot.app.screen.query_one("#history-status").render()))
        await _settle(pilot)

    assert snap_compare(_app(session), terminal_size=size, run_before=open_history)


@pytest.mark.parametrize("size", SIZES)
def test_history_confirm_delete(snap_compare, session, size):
    _history(session)

    async def ask_to_delete(pilot):
        await pilot.press("f3")
        await _screen(pilot, HistoryScreen)
        await wait_for(pilot, lambda: "conversation" in str(pilot.app.screen.query_one("#history-status").render()))
        pilot.app.screen.query_one("#history-table").focus()
        await pilot.press("d")
        await _settle(pilot)

    assert snap_compare(_app(session), terminal_size=size, run_before=ask_to_delete)


@pytest.mark.parametrize("size", SIZES)
def test_stats_with_nothing_spent(snap_compare, session, size):
    _turn(session.store, "a free question", "a free answer", "fast", 0.0)

    async def open_stats(pilot):
        await pilot.press("f4")
        await wait_for(pilot, lambda: " prompt" in str(pilot.app.screen.query_one("#stats-summary").render()))
        # All time: a window of days would start on a date that changes every day.
        pilot.app.screen.query_one("#stats-window").value = "all"
        summary = pilot.app.screen.query_one("#stats-summary")
        # The thirty-day window's summary also reads "1 prompt, 1 request": wait for the all-time one.
        await wait_for(pilot, lambda: "since the beginning: 1 prompt, 1 request, " in str(summary.render()))
        await _settle(pilot)

    assert snap_compare(_app(session), terminal_size=size, run_before=open_stats)


@pytest.mark.parametrize("filled", [False, True], ids=["empty", "filled"])
@pytest.mark.parametrize("size", SIZES)
def test_leaderboard(snap_compare, session, size, filled):
    if filled:
        _votes(session)

    async def open_board(pilot):
        await pilot.press("f8")
        await _screen(pilot, LeaderboardScreen)
        await wait_for(pilot, lambda: "votes" in str(pilot.app.screen.query_one("#board-title").render()))
        await _settle(pilot)

    assert snap_compare(_app(session), terminal_size=size, run_before=open_board)


def _experiment(store) -> None:
    """Twenty marked replies per arm of experiment `temps`: careful succeeds 18 times, fast 8."""
    for i in range(20):
        for arm, alias, good, cost in (("fast", "fast", i < 8, 0.001), ("careful@temperature=0.2", "careful",
                                                                           i < 18, 0.004)):
            conversation, prompt_id, reply_id = _turn(store, f"question {i}", "an answer", alias, cost)
            store.record_assignment(reply_id, conversation, prompt_id, "temps", arm, "everything", "compare-test")
            store.record_feedback(reply_id, good)


@pytest.mark.parametrize("filled", [False, True], ids=["none", "filled"])
@pytest.mark.parametrize("size", SIZES)
def test_experiments(snap_compare, tmp_path, stub, size, filled):
    routes = [{"name": "everything", "tier": "main",
               "experiment": {"name": "temps", "variants": ["fast", "careful@temperature=0.2"]}}] if filled else None
    profile = compare_profile(tmp_path, stub.api_base, ["fast", "careful"], **({"routes": routes} if routes else {}))
    session = open_session(profile, tmp_path / "h.db")
    if filled:
        _experiment(session.store)

    async def open_experiments(pilot):
        await pilot.press("f12")
        await _screen(pilot, ExperimentsScreen)
        await wait_for(pilot, lambda: "Experiments ·" in str(pilot.app.screen.query_one("#experiments-title").render()))
        await _settle(pilot)

    try:
        assert snap_compare(_app(session), terminal_size=size, run_before=open_experiments)
    finally:
        session.store.close()
