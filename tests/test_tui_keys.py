"""The chat's keyboard actions, driven as a user would: edit and resend, ask another model, copy,
conversation settings, the profile picker, help, the command palette, and a remembered theme."""

from __future__ import annotations

import json

import pytest
import yaml

from playground.base.paths import preferences_path
from playground.services.session import open_session
from playground.tui.app import PlaygroundApp
from playground.tui.screens.help import HelpScreen
from playground.tui.screens.pick_one import PickOne
from playground.tui.screens.settings import SettingsDialog
from playground.tui.widgets.prompt_input import PromptInput
from playground.tui.widgets.reply import ReplyView
from playground.tui.widgets.status import StatusBar
from tests.support.helpers import profile_data
from tests.support.pilot import painted_text, screen_lines, wait_for

SIZE = (120, 40)
TWO_BLOCKS = "Two ways:\n\n```python\nprint('first')\n```\n\nor\n\n```bash\necho second\n```\n"


@pytest.fixture
def stub(server):
    server.script("a", text=TWO_BLOCKS, words_per_chunk=4)
    server.script("b", text="Answer from b", words_per_chunk=4)
    return server


def _app(tmp_path, stub, name: str = "keys") -> PlaygroundApp:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(profile_data(stub.api_base, ["a", "b"], name=name)))
    return PlaygroundApp(open_session(str(path), tmp_path / "h.db"), load_engine=False)


def _finished(app) -> list[ReplyView]:
    return [r for r in app.screen.query(ReplyView) if r.message_id is not None]


async def _ask(pilot, text: str, replies: int) -> None:
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: len(_finished(pilot.app)) >= replies)


def _statuses(app) -> list[tuple[str, str, str]]:
    return [tuple(row) for row in app.session.store.read(
        lambda cursor: cursor.execute("SELECT role, status, content FROM messages ORDER BY id").fetchall())]


async def test_up_in_an_empty_box_edits_the_last_prompt_and_the_old_turn_leaves_the_context(tmp_path, stub):
    app = _app(tmp_path, stub)
    async with app.run_test(size=SIZE) as pilot:
        await _ask(pilot, "first try", 1)
        await pilot.press("up")
        box = app.screen.query_one(PromptInput)
        assert box.text == "first try"
        await pilot.press("backspace", *"ied", "enter")
        await wait_for(pilot, lambda: len(_finished(app)) == 2)
        assert _statuses(app) == [("user", "replaced", "first try"), ("assistant", "replaced", TWO_BLOCKS),
                                  ("user", "complete", "first tried"), ("assistant", "complete", TWO_BLOCKS)]
        sent = stub.requests[-1]["messages"]
        assert [m["content"] for m in sent] == ["first tried"]  # the replaced turn is not context
        old = app.screen.query(ReplyView).first()
        assert old.has_class("-replaced") and "replaced: the prompt was edited" in " ".join(painted_text(old).split())


async def test_an_edit_emptied_and_retyped_still_replaces_the_turn_and_esc_leaves_edit_mode(tmp_path, stub):
    app = _app(tmp_path, stub)
    async with app.run_test(size=SIZE) as pilot:
        await _ask(pilot, "one", 1)
        await pilot.press("up")
        box = app.screen.query_one(PromptInput)
        assert box.has_class("-editing") and "Esc cancels" in str(box.border_title)
        await pilot.press("backspace", "backspace", "backspace")
        await _ask(pilot, "two", 2)
        assert [s for _, s, _ in _statuses(app)] == ["replaced", "replaced", "complete", "complete"]
        assert [m["content"] for m in stub.requests[-1]["messages"]] == ["two"]  # "one" left the context
        assert not box.has_class("-editing")

        await pilot.press("up")
        assert box.text == "two" and box.has_class("-editing")
        await pilot.press("escape")
        assert box.text == "" and not box.has_class("-editing")
        await _ask(pilot, "three", 3)
        assert [s for _, s, _ in _statuses(app)][2:] == ["complete"] * 4  # a new turn after Esc


async def test_ask_another_model_resends_the_last_prompt_to_the_one_picked(tmp_path, stub):
    app = _app(tmp_path, stub)
    async with app.run_test(size=SIZE) as pilot:
        await _ask(pilot, "which is better", 1)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, PickOne))
        await pilot.press("b", "enter")
        await wait_for(pilot, lambda: len(_finished(app)) == 2)
        last = _finished(app)[-1]
        assert last.text == "Answer from b"
        assert "chosen by you" in painted_text(last)
        assert stub.requests[-1]["model"] == "b"
        assert [m["content"] for m in stub.requests[-1]["messages"]] == ["which is better"]
        assert [s for _, s, _ in _statuses(app)] == ["replaced", "replaced", "complete", "complete"]


async def test_copy_offers_the_reply_and_each_code_block(tmp_path, stub):
    app = _app(tmp_path, stub)
    async with app.run_test(size=SIZE) as pilot:
        await _ask(pilot, "show me", 1)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PickOne))
        await pilot.press(*"echo", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, PickOne))
        assert app.clipboard == "echo second"
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PickOne))
        await pilot.press("enter")  # the first choice: the whole reply
        await wait_for(pilot, lambda: app.clipboard == TWO_BLOCKS)


async def test_settings_send_a_system_prompt_and_temperature_and_refuse_a_bad_one(tmp_path, stub):
    app = _app(tmp_path, stub)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsDialog))
        await pilot.press(*"Answer in French.", "tab", *"hot", "enter")
        dialog = app.screen
        # Wait for the refusal to be painted (one pause was not always enough under load).
        error = dialog.query_one("#settings-error")
        await wait_for(pilot, lambda: "temperature must be a number" in painted_text(error))
        assert app.screen is dialog and isinstance(dialog, SettingsDialog)  # not saved
        await pilot.press("backspace", "backspace", "backspace", *"0.3", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, SettingsDialog))
        assert "temperature 0.3" in str(app.screen.query_one(StatusBar).render())
        await _ask(pilot, "bonjour", 1)
        request = stub.requests[-1]
        assert request["messages"][0] == {"role": "system", "content": "Answer in French."}
        assert request["temperature"] == 0.3
        await pilot.press("ctrl+n")  # a new conversation starts with none
        await wait_for(pilot, lambda: "temperature" not in str(app.screen.query_one(StatusBar).render()))


async def test_the_profile_picker_switches_routing_profile(tmp_path, stub, monkeypatch):
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(profile_data(stub.api_base, ["b", "a"], name="other")))
    app = _app(tmp_path, stub)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f10")
        await wait_for(pilot, lambda: isinstance(app.screen, PickOne))
        await pilot.press(*"other.yaml", "enter")
        await wait_for(pilot, lambda: app.session.profile.name == "other")
        assert app.screen.query_one(StatusBar).profile == "other"
        await _ask(pilot, "who answers", 1)
        assert _finished(app)[-1].text == "Answer from b"


async def test_the_profile_picker_keeps_each_profile_on_one_line_at_80_columns(tmp_path, stub, monkeypatch):
    """A long folder wrapped onto the next lines; it loses its middle instead, its leaf stays."""
    deep = tmp_path.joinpath(*[f"folder-{i}-of-a-long-checkout-path" for i in range(4)], "leaf-folder")
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    (deep / "deep.yaml").write_text(yaml.safe_dump(profile_data(stub.api_base, ["b", "a"], name="deep")))
    app = _app(tmp_path, stub)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f10")
        await wait_for(pilot, lambda: isinstance(app.screen, PickOne))
        await pilot.press(*"deep")
        await pilot.pause(0.3)
        lines = screen_lines(app)
        row = next((line for line in lines if "deep.yaml" in line), "\n".join(lines))
        assert "…" in row and "leaf-folder" in row, "\n".join(lines)
        assert not any("leaf-folder" in line and "deep.yaml" not in line for line in lines), lines
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.session.profile.name == "deep")


async def test_help_and_the_command_palette_list_the_screens_actions(tmp_path, stub):
    app = _app(tmp_path, stub)
    async with app.run_test(size=SIZE) as pilot:
        commands = {command.title for command in app.get_system_commands(app.screen)}
        for title in ("Compare (f5)", "Other model (^r)", "Copy (^o)", "Settings (^s)", "History (f3)"):
            assert title in commands
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = painted_text(app.screen)
        assert "Ask the last prompt again" in shown and "Leaderboard" in shown
        assert "Delete to line end" not in shown  # the text box's editing keys are left out
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_a_palette_command_runs_its_action(tmp_path, stub):
    app = _app(tmp_path, stub)
    async with app.run_test(size=SIZE) as pilot:
        command = next(c for c in app.get_system_commands(app.screen) if c.title.startswith("Settings"))
        app.call_later(command.callback)
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsDialog))


async def test_the_theme_is_remembered_between_runs(tmp_path, stub):
    app = _app(tmp_path, stub)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = "nord"
        await wait_for(pilot, lambda: preferences_path().exists())
    assert json.loads(preferences_path().read_text())["theme"] == "nord"
    again = _app(tmp_path, stub)
    async with again.run_test(size=SIZE):
        assert again.theme == "nord"


async def test_the_compare_picker_filters_as_you_type_and_keeps_what_was_ticked(tmp_path, stub):
    from playground.tui.screens.pick_models import ModelPicker

    app = _app(tmp_path, stub)
    picked = []
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(ModelPicker(app.session.catalog, ["a"]), picked.append)
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPicker))
        await pilot.click("#picker-filter")
        await pilot.press("b")
        options = app.screen.query_one("#picker-models")
        await wait_for(pilot, lambda: [o.value for o in options._options] == ["b"])
        await pilot.press("enter", "space", "ctrl+s")  # to the list, tick b, compare
        await wait_for(pilot, lambda: picked)
    assert picked == [["a", "b"]]


async def test_a_conversation_reopened_from_history_keeps_its_settings(tmp_path, stub):
    app = _app(tmp_path, stub)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsDialog))
        await pilot.press(*"Be brief.", "tab", *"1.5", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, SettingsDialog))
        await _ask(pilot, "hello", 1)
        conversation = app.screen.conversation_id
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen.settings.system == "")
        app.screen.open_conversation(conversation)
        await wait_for(pilot, lambda: app.screen.conversation_id == conversation)
        assert "system prompt · temperature 1.5" in str(app.screen.query_one(StatusBar).render())
        await pilot.press(*"again", "enter")
        await wait_for(pilot, lambda: len(stub.requests) == 2)
        assert stub.requests[-1]["messages"][0] == {"role": "system", "content": "Be brief."}
        assert stub.requests[-1]["temperature"] == 1.5


def test_an_incognito_conversation_keeps_its_temperature_but_not_its_system_prompt(tmp_path):
    from playground.base.records import TurnSettings
    from playground.history.store import Store

    store = Store(tmp_path / "h.db")
    private, _ = store.start_turn(None, "secret", "p", incognito=True)
    public, _ = store.start_turn(None, "hello", "p")
    store.save_settings(private, TurnSettings("You are terse.", 0.2), incognito=True)
    store.save_settings(public, TurnSettings("You are terse.", 0.2))
    assert store.settings(private) == TurnSettings("", 0.2)
    assert store.settings(public) == TurnSettings("You are terse.", 0.2)
    # One incognito turn later (F9), the system prompt stored by the earlier turns is still there.
    store.start_turn(public, "a private question", "p", incognito=True)
    store.save_settings(public, TurnSettings("You are terse.", 0.7), incognito=True)
    assert store.settings(public) == TurnSettings("You are terse.", 0.7)


async def test_a_key_held_behind_one_lost_past_the_time_limit_is_still_handled(tmp_path, stub):
    import time

    from playground.tui.app import KEY_SETTLE_LIMIT_S, KeyHandled

    app = _app(tmp_path, stub)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # The key before it went to a widget that was removed: its probe never comes back, and its time
        # limit has already passed when F1 arrives.
        app._key_in_flight, app._key_sent_at = KeyHandled(), time.monotonic() - 2 * KEY_SETTLE_LIMIT_S
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=5)
