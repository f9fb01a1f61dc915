"""One redraw a frame for everything that streams.

Each redraw of streamed text (a reply's Markdown, a column's live figures) asks Textual for a layout and a
repaint. Done on their own clocks, four compare columns and their figure lines made 18 layouts and
repaints a second, each of them 10-70 ms on two busy cores, and a key press waited behind several. Here
they wait for the next frame, and a frame's redraws share one layout and one repaint.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from textual.app import App

FRAME_S = 0.1
"""How often streamed text is shown: at 10 a second it still reads as a stream."""


class Frames:
    def __init__(self, app: App) -> None:
        self._app = app
        self._due: dict[object, Callable[[], None]] = {}

    def request(self, owner: object, redraw: Callable[[], None]) -> None:
        """Run `redraw` at the next frame, once, however often `owner` asks before then (the last ask wins)."""
        if not self._due:
            self._app.set_timer(FRAME_S, self._frame)
        self._due[owner] = redraw

    def _frame(self) -> None:
        due, self._due = self._due, {}
        for redraw in due.values():
            redraw()


_frames: weakref.WeakKeyDictionary[App, Frames] = weakref.WeakKeyDictionary()


def frames(app: App) -> Frames:
    """The app's frame clock."""
    if (clock := _frames.get(app)) is None:
        clock = _frames[app] = Frames(app)
    return clock
