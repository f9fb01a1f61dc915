"""The chat screen driven with Pilot against the local OpenAI-compatible test server."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from textual.widgets import Static

from playground.services.session import open_session
from playground.tui.app import PlaygroundApp
from playground.tui.widgets.reply import ReplyView
from playground.tui.widgets.status import StatusBar
from tests.support.helpers import STUB_PRICE, write_profile
from tests.support.pilot import painted_text
from tests.support.pilot import wait_for as _wait_for

SIZE = (120, 40)
UI = {"name": "ui-test", "price": STUB_PRICE, "routes": [{"name": "everything", "tier": "main"}], "retries": None}
"""The chat tests' profile: the stub's models at STUB_PRICE, the first one tried, the rest its fallbacks."""


@pytest.fixture
def stub(server):
    return server


def _meta(reply: ReplyView) -> str:
    return str(reply.query_one(".reply-meta").render())


def _head(reply: ReplyView) -> str:
    return str(reply.query_one(".reply-head").render())


async def _ask(pilot, prompt: str) -> ReplyView:
    await pilot.click("#prompt")
    await pilot.press(*prompt)
    await pilot.press("enter")
    await _wait_for(pilot, lambda: bool(pilot.app.screen.query(ReplyView)))
    return pilot.app.screen.query(ReplyView).last()


async def test_prompt_gets_streamed_reply_with_metadata_and_costs(tmp_path, stub):
    stub.script("fast", text="The answer is **forty-two**.", words_per_chunk=1)
    session = open_session(write_profile(tmp_path, stub.api_base, ["fast"], **UI), tmp_path / "h.db")
    app = PlaygroundApp(session)
    async with app.run_test(size=SIZE) as pilot:
        reply = await _ask(pilot, "what is the answer?")
        await _wait_for(pilot, lambda: "TTFT" in _meta(reply))
        meta = _meta(reply)
        assert _head(reply).startswith("→ fast · everything (default route)")
        assert "fast" not in meta  # the metadata line does not repeat the head line
        # The stub reports its own usage (4 prompt words + 7, 4 output words); price $1/$2 per Mtok.
        assert "11 in / 4 out ·" in meta and "est." not in meta
        assert "$0.000019 ·" in meta
        assert reply.text == "The answer is **forty-two**."
        status = str(app.screen.query_one(StatusBar).render())
        assert "conversation $0.000019" in status and "today $0.000019" in status
    stored = session.store.messages(session.store.latest_conversation())
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "complete")]


async def test_failing_model_falls_back_and_shows_why(tmp_path, stub):
    stub.script("broken", status=500)
    stub.script("backup", text="backup answer")
    session = open_session(write_profile(tmp_path, stub.api_base, ["broken", "backup"], **UI), tmp_path / "h.db")
    async with PlaygroundApp(session).run_test(size=SIZE) as pilot:
        reply = await _ask(pilot, "hi")
        await _wait_for(pilot, lambda: "TTFT" in _meta(reply))
        failures = [str(row.render()) for row in reply.query(".failure-row")]
        assert failures and failures[0].startswith("✗ broken: server_error — HTTP 500")
        # A model failed and the next answered: a failover, in the head line and in stats alike. "Fallback"
        # is the route's choice from the fallbacks list when its tier has no model ("fallback (no … available)").
        assert _head(reply).startswith("→ backup · failover after broken failed (server_error)")
        assert reply.text == "backup answer"
    from playground.history import stats
    from playground.present.format import stats_summary

    summary = "\n".join(stats_summary(stats.compute(session.store)))
    assert "failovers 100.0% of replies" in summary and "fallback" not in summary


async def test_escape_cancels_stream_and_keeps_partial(tmp_path, stub):
    stub.script("slow", text=" ".join(f"w{i}" for i in range(200)), chunk_delay=0.05)
    session = open_session(write_profile(tmp_path, stub.api_base, ["slow"], **UI), tmp_path / "h.db")
    async with PlaygroundApp(session).run_test(size=SIZE) as pilot:
        reply = await _ask(pilot, "count")
        await _wait_for(pilot, lambda: len(reply.text.split()) >= 3)
        await pilot.press("escape")
        await _wait_for(pilot, lambda: "cancelled" in _meta(reply))
    conversation = session.store.latest_conversation()
    messages = session.store.messages(conversation)
    assert messages[-1].status == "cancelled"
    assert messages[-1].content.startswith("w0 w1 w2")
    assert len(messages[-1].content.split()) < 200
    assert session.store.attempts(conversation)[-1]["failure"] == "cancelled"


async def test_a_prompt_sent_while_a_reply_streams_is_queued_and_sent_after_it(tmp_path, stub):
    """It was left in the box, so the next prompt was typed onto its end."""
    # Each reply holds after 3 words until the test has done what it must do while that reply streams.
    words = " ".join(f"w{i}" for i in range(40))
    held = stub.script("slow", text=words, hold_after=3)
    session = open_session(write_profile(tmp_path, stub.api_base, ["slow"], **UI), tmp_path / "h.db")
    async with PlaygroundApp(session).run_test(size=SIZE) as pilot:
        first = await _ask(pilot, "count")
        await _wait_for(pilot, lambda: len(first.text.split()) >= 3)
        await pilot.press(*"again", "enter")
        box = pilot.app.screen.query_one("#prompt")
        await _wait_for(pilot, lambda: len(pilot.app.screen.query(ReplyView)) == 2)
        queued = pilot.app.screen.query(ReplyView).last()
        assert box.text == ""
        assert _head(queued).startswith("queued")
        assert "TTFT" not in _meta(first)  # still streaming: the queued prompt waits
        assert stub.hits["slow"] == 1  # and was not sent
        held.resume.set()
        await _wait_for(pilot, lambda: "TTFT" in _meta(queued))
        assert "TTFT" in _meta(first) and first.text.endswith("w39")
        # A third prompt, queued and taken back with Esc, returns to the box; the reply goes on.
        held = stub.script("slow", text=words, hold_after=3)
        await pilot.press(*"again", "enter")
        await _wait_for(pilot, lambda: len(pilot.app.screen.query(ReplyView)) == 3)
        await pilot.press(*"more", "enter")
        await _wait_for(pilot, lambda: len(pilot.app.screen.query(ReplyView)) == 4)
        await pilot.press(*" typed", "escape")
        await _wait_for(pilot, lambda: len(pilot.app.screen.query(ReplyView)) == 3)
        assert box.text == "more\n typed"
        assert "TTFT" not in _meta(pilot.app.screen.query(ReplyView).last())  # it was still streaming
        held.resume.set()
        await _wait_for(pilot, lambda: "TTFT" in _meta(pilot.app.screen.query(ReplyView).last()))
    prompts = [m.content for m in session.store.messages(session.store.latest_conversation()) if m.role == "user"]
    assert prompts == ["count", "again", "again"]


async def test_marking_a_cancelled_reply_says_why_it_cannot_be_marked(tmp_path, stub):
    """The mark went to the finished reply before it, out of sight."""
    words = " ".join(f"w{i}" for i in range(60))
    stub.script("slow", text=words)
    session = open_session(write_profile(tmp_path, stub.api_base, ["slow"], **UI), tmp_path / "h.db")
    async with PlaygroundApp(session).run_test(size=SIZE) as pilot:
        finished = await _ask(pilot, "count")
        await _wait_for(pilot, lambda: "TTFT" in _meta(finished))
        stub.script("slow", text=words, hold_after=3)  # still streaming when Esc is pressed
        reply = await _ask(pilot, "count again")
        await _wait_for(pilot, lambda: len(reply.text.split()) >= 3)
        await pilot.press("escape")
        await _wait_for(pilot, lambda: "cancelled" in _meta(reply))
        await pilot.press("ctrl+g")
        await _wait_for(pilot, lambda: bool(pilot.app._notifications))
        notes = [n.message for n in pilot.app._notifications]
        assert any("cancelled" in note for note in notes), notes
        assert "marked" not in _meta(finished)
    conversation = session.store.latest_conversation()
    reply_ids = [m.id for m in session.store.messages(conversation) if m.role == "assistant"]
    assert all(session.store.feedback(i) is None for i in reply_ids)


async def test_tab_goes_from_the_prompt_to_the_newest_reply_and_why_is_in_the_palette(tmp_path, stub):
    """Tab reached the oldest reply first; "why this model?" had no key and no palette entry."""
    from textual.widgets import Collapsible

    stub.script("fast", text="an answer")
    session = open_session(write_profile(tmp_path, stub.api_base, ["fast"], **UI), tmp_path / "h.db")
    app = PlaygroundApp(session)
    async with app.run_test(size=SIZE) as pilot:
        for prompt in ("one", "two"):
            reply = await _ask(pilot, prompt)
            await _wait_for(pilot, lambda reply=reply: "TTFT" in _meta(reply))
        older, newest = app.screen.query(ReplyView)
        app.screen.query_one("#prompt").focus()
        await pilot.press("tab")
        assert app.focused is newest
        await pilot.press("tab")
        assert newest in app.focused.ancestors  # its "why this model?"
        await pilot.press("tab")
        assert app.focused is older
        await pilot.press("shift+tab", "shift+tab", "shift+tab")
        assert app.focused is app.screen.query_one("#prompt")
        commands = [command.title for command in app.get_system_commands(app.screen)]
        assert any(title.startswith("Why this model? (") for title in commands), str(commands)
        await pilot.press("f7")
        assert not newest.query_one(Collapsible).collapsed and older.query_one(Collapsible).collapsed


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_crowded_status_line_fits_its_row(tmp_path, stub, size):
    """At 80 columns the status line was cut: the day's cost and incognito fell off the end."""
    from playground.base.records import TurnSettings
    from playground.tui.messages import EngineReady
    from tests.support.pilot import painted_text

    session = open_session(write_profile(tmp_path, stub.api_base, ["fast"], **UI), tmp_path / "h.db")
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=size) as pilot:
        app._apply(EngineReady(2, 0.0123, "semantic routes off: the embedding model is not installed"))
        app.screen._set_settings(TurnSettings("Answer briefly.", 0.7))
        await pilot.press("f9")
        status = app.screen.query_one(StatusBar)
        await pilot.pause(0.1)
        line = painted_text(status).strip()
        assert len(line) <= size[0] - 2, line
        assert line.startswith("ui-test · ") and "ready" in line and "incognito" in line, line
        assert "today $0.0123" in line, line
        if size[0] >= 120:
            assert "temperature 0.7" in line and "incognito: text not stored" in line, line


async def test_why_this_model_wraps_each_line_under_its_own_text(tmp_path, stub):
    """Wrapped lines started at the left edge, so a candidate's figures ran into the next candidate's."""
    stub.script("fast", text="an answer")
    session = open_session(write_profile(tmp_path, stub.api_base, ["fast"], **UI), tmp_path / "h.db")
    app = PlaygroundApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        reply = await _ask(pilot, "hello")
        await _wait_for(pilot, lambda: "TTFT" in _meta(reply))
        await pilot.press("f7")
        await pilot.pause(0.2)
        rows = painted_text(reply.query_one(".reply-trace")).splitlines()
        chosen = next(i for i, row in enumerate(rows) if "✓ fast" in row)
        assert rows[chosen].startswith("  ✓ fast") and len(rows) > chosen + 1, rows
        assert rows[chosen + 1].startswith("    ") and rows[chosen + 1].strip(), rows


async def test_model_text_cannot_inject_markup_or_escapes(tmp_path, stub):
    hostile = "[bold]x[/bold] [@click=app.quit]y[/] [link=http://evil]z[/link] \x1b]0;title\x07\x1b[2Jend"
    stub.script("evil", text=hostile, words_per_chunk=50)
    session = open_session(write_profile(tmp_path, stub.api_base, ["evil"], **UI), tmp_path / "h.db")
    app = PlaygroundApp(session)
    async with app.run_test(size=SIZE) as pilot:
        reply = await _ask(pilot, "say it")
        await _wait_for(pilot, lambda: "TTFT" in _meta(reply))
        assert app.is_running  # [@click=app.quit] was not an action
        # Escape sequences are dropped whole; the markup-looking text stays literal, on screen too.
        assert reply.text == "[bold]x[/bold] [@click=app.quit]y[/] [link=http://evil]z[/link] end"
        await _wait_for(pilot, lambda: "[bold]x[/bold] [@click=app.quit]y[/]" in painted_text(reply.body))


async def test_whole_app_answers_with_the_embedded_local_model(tmp_path):
    from playground.config.local_model import runtime_problem

    if runtime_problem():
        pytest.skip(runtime_problem())
    session = open_session("local-only", tmp_path / "h.db")
    app = PlaygroundApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await _wait_for(pilot, lambda: "ready" in str(app.screen.query_one(StatusBar).render()), timeout=60)
        reply = await _ask(pilot, "Say hello.")
        await _wait_for(pilot, lambda: "TTFT" in _meta(reply), timeout=120)
        assert _head(reply).startswith("→ smollm2 · local (default route)")
        assert "est." not in _meta(reply) and "· $0 ·" in _meta(reply)
        assert reply.text.strip()


async def test_route_explanation_lists_every_candidate(tmp_path, stub):
    stub.script("fast", text="ok")
    session = open_session(write_profile(tmp_path, stub.api_base, ["fast", "spare"], **UI), tmp_path / "h.db")
    async with PlaygroundApp(session).run_test(size=SIZE) as pilot:
        reply = await _ask(pilot, "hi")
        await _wait_for(pilot, lambda: "TTFT" in _meta(reply))
        await _wait_for(pilot, lambda: reply.text and reply.body.shown_chars == len(reply.text))
        await pilot.click(".reply-why CollapsibleTitle")
        await _wait_for(pilot, lambda: reply.query_one(".reply-trace").region.height > 0)  # expanded, on screen
        trace = str(reply.query_one(".reply-trace", Static).render())
        assert "route everything · stage default" in trace
        # 7 request tokens ("hi", 3 per message, 3 to open the reply: OpenAI's layout) at $1/Mtok plus
        # 300 expected output tokens at $2/Mtok.
        assert "✓ fast: $0.000607 est." in trace and "[price: profile]" in trace
        assert "· spare:" in trace and "fallback #1" in trace


async def test_profile_edits_reload_and_a_broken_edit_keeps_the_last_good(tmp_path, stub):
    import os

    stub.script("fast", text="ok")
    path = write_profile(tmp_path, stub.api_base, ["fast"], **UI)
    good = Path(path).read_text()
    session = open_session(path, tmp_path / "h.db")
    app = PlaygroundApp(session, load_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        status = app.screen.query_one(StatusBar)
        lines = good.splitlines()
        at = lines.index("timeouts:") + 1
        Path(path).write_text("\n".join([*lines[:at], "  bogus: 1", *lines[at:]]) + "\n")
        os.utime(path, ns=(1, 10**18))
        await _wait_for(pilot, lambda: "profile not reloaded" in str(status.render()), timeout=5)
        assert f"profile.yaml:{at + 1}:3:" in str(status.render())  # the line the bad key was put on
        assert "timeouts.bogus: unknown key" in str(status.render())
        assert session.profile.name == "ui-test"  # the last good one stays in use

        Path(path).write_text(good.replace("name: ui-test", "name: renamed"))
        os.utime(path, ns=(2, 2 * 10**18))
        await _wait_for(pilot, lambda: "renamed" in str(status.render()), timeout=5)
        assert session.profile.name == "renamed" and session.chat.state.profile.name == "renamed"


async def test_a_task_tag_picked_in_the_ui_routes_the_prompt(tmp_path, stub):
    stub.script("fast", text="cheap answer")
    stub.script("big", text="strong answer")
    path = tmp_path / "tags.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: tags
        models:
          fast: {{model: openai/fast, api_base: "{stub.api_base}"}}
          big: {{model: openai/big, api_base: "{stub.api_base}"}}
        tiers: {{cheap: [fast], strong: [big]}}
        routes:
          - {{name: coding, when: {{tags: [code]}}, tier: strong}}
          - {{name: rest, tier: cheap}}
        """))
    session = open_session(str(path), tmp_path / "h.db")
    async with PlaygroundApp(session, load_engine=False).run_test(size=SIZE) as pilot:
        status = pilot.app.screen.query_one(StatusBar)
        await pilot.press("ctrl+t")
        assert "#code" in str(status.render())
        reply = await _ask(pilot, "write a loop")
        await _wait_for(pilot, lambda: "TTFT" in _meta(reply))
        assert _head(reply).startswith("→ big · coding (tag #code)") and reply.text == "strong answer"
        await pilot.press("ctrl+t")  # back to no tag
        assert "#code" not in str(status.render())
        reply = await _ask(pilot, "write a loop")
        await _wait_for(pilot, lambda: "TTFT" in _meta(reply))
        assert reply.text == "cheap answer"
