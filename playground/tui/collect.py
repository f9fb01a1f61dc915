"""When the garbage collector may walk the whole heap: when nobody is waiting for the screen.

A full collection walks every object the UI keeps, and Textual keeps many (each painted line is a Strip
with its own caches): with four replies on screen it took 300-600 ms, and it came every few seconds while
text streamed, freezing the screen and the keyboard. So full collections do not run on their own: young
generations are collected as usual (most garbage), and the whole heap is collected when no reply is
streaming and the user has not touched a key for a while. Textual pauses collection for smooth scrolling
in the same spirit (App.PAUSE_GC_ON_SCROLL).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager

IDLE_BEFORE_COLLECTING_S = 5.0

_streams = 0


def defer_full_collections() -> None:
    # Objects alive now (LiteLLM's modules and tables, the app) live as long as the process: frozen, no
    # collection walks them again.
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000_000)  # CPython has no "never"; this is days of use


@contextmanager
def streaming() -> Iterator[None]:
    """Marks a reply streaming, so that an idle collection waits for it to end."""
    global _streams
    _streams += 1
    try:
        yield
    finally:
        _streams -= 1


def collect_if_idle(last_input: float) -> bool:
    """Collect the whole heap if nothing streams and the last key or click is a while ago."""
    if _streams or time.monotonic() - last_input < IDLE_BEFORE_COLLECTING_S:
        return False
    gc.collect()
    return True
