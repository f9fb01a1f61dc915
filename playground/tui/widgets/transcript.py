"""The chat's conversation pane."""

from __future__ import annotations

from collections.abc import Callable

from textual.containers import VerticalScroll
from textual.geometry import Size


class Transcript(VerticalScroll):
    """Follows a streaming reply with Textual's anchor, taken in the layout pass in which the pane first
    overflows (an anchored pane that is not full would be drawn bottom-aligned)."""

    def __init__(self, *, follows: Callable[[], bool], id: str | None = None) -> None:
        """`follows`: whether there is a turn to follow (a new chat's welcome text is not followed)."""
        super().__init__(id=id)
        self._follows = follows

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        # Textual's virtual_size reactive asks for a second layout and a full repaint after every layout that
        # made the conversation taller: each frame of a streamed reply was laid out and painted twice. The
        # scrollbar still appears by a layout of its own.
        resized = super()._size_updated(size, virtual_size, container_size, layout=False)
        if self.size.height and self.max_scroll_y > 0 and not self.is_anchored and self._follows():
            self.anchor()
        return resized
