"""Waiting in Pilot tests for what the screen should come to show."""

from __future__ import annotations


async def wait_for(pilot, condition, timeout: float = 60.0) -> None:
    """Poll `condition` every 50 ms of app time; fail the test if it never holds.

    A deadline, not a measurement: it returns as soon as the condition holds. 60 s because an app that
    loads LiteLLM (load_engine) imports it in a worker first, which alone took over 10 s on a loaded
    2-core machine under pytest -n auto."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


def painted_text(widget) -> str:
    """The text a widget and its descendants paint on screen (their rendered lines, not their source)."""
    from textual.geometry import Region

    parts = []
    for node in [widget, *widget.query("*")]:
        width, height = node.size
        if width and height:
            parts.extend(strip.text.rstrip() for strip in node.render_lines(Region(0, 0, width, height)))
    return "\n".join(parts)


def screen_lines(app) -> list[str]:
    """The terminal's rows as the app paints them now, every layer composed (dialogs over screens)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]
