"""When the app lets the garbage collector walk the whole heap."""

from __future__ import annotations

import gc
import time

from playground.tui import collect


def test_full_collections_wait_for_streams_to_end_and_for_the_user_to_pause(monkeypatch):
    collected = []
    monkeypatch.setattr(gc, "collect", lambda *args: collected.append(args) or 0)
    idle_since = time.monotonic() - collect.IDLE_BEFORE_COLLECTING_S - 1
    with collect.streaming():
        assert not collect.collect_if_idle(idle_since)  # a reply is streaming
    assert not collect.collect_if_idle(time.monotonic())  # a key was just pressed
    assert collect.collect_if_idle(idle_since)
    assert collected == [()]


def test_deferring_keeps_young_collections_and_only_postpones_the_oldest():
    before = gc.get_threshold()
    try:
        collect.defer_full_collections()
        young, middle, oldest = gc.get_threshold()
        assert (young, middle) == before[:2] and oldest >= 100_000
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
